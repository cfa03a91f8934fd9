/* kslogin: logging in to Keystone with a password (v3, POST /v3/auth/tokens,
 * "password" method, project scope), shared by qhv-server's service login
 * (server/keystone.c), qhv-agent's login in keystone mode and qhvctl. It
 * builds the request and reads the answer; the caller sends it with its own
 * HTTP client (the server's pooled libcurl handles, httpc elsewhere), so
 * this module needs no HTTP library.
 *
 * When to renew: a token is renewed once less than min(120 s, half its
 * lifetime) is left. Keystone's clock decides the lifetime: when ours
 * differs from it by more than 60 s, the lifetime is counted from the
 * token's issued_at (and a warning is logged).
 *
 * Ownership: qkl_login_new returns a login the caller frees with
 * qkl_login_free (accepts NULL; wipes the password held in the body). */
#ifndef QHV_LIB_KSLOGIN_H
#define QHV_LIB_KSLOGIN_H
#include <stddef.h>
#include <stdint.h>

/* Longest token accepted (Fernet tokens are about 200 bytes, JWS ~ 800). */
#define QKL_MAX_TOKEN 8192

typedef struct qkl_creds {
    const char *auth_url;              /* http(s)://host:port[/prefix][/v3] */
    const char *username;
    const char *password;
    const char *project_name;
    const char *user_domain_name;      /* NULL or "" = Default */
    const char *project_domain_name;   /* NULL or "" = Default */
} qkl_creds;

typedef struct qkl_login {
    char *url;                         /* .../v3/auth/tokens */
    char *body;                        /* the JSON request (holds the password) */
} qkl_login;

typedef struct qkl_token {
    char token[QKL_MAX_TOKEN + 1];     /* X-Subject-Token of the answer */
    int64_t lifetime;                  /* seconds it is valid from now (Keystone's view) */
    int64_t renew_after;               /* seconds from now when to log in again */
} qkl_token;

/* The URL of tokens under auth_url: "http://h:5000", ".../", ".../v3" and
 * "http://h/identity/v3/" all give ".../v3/auth/tokens" (caller frees). */
char *qkl_tokens_url(const char *auth_url);
qkl_login *qkl_login_new(const qkl_creds *c);
void qkl_login_free(qkl_login *l);

/* "2026-11-24T00:40:04.000000Z" (UTC) → seconds; -1 if not in that form. */
int64_t qkl_parse_time(const char *s);

/* Reads the answer to a login: status (201 expected), its X-Subject-Token
 * header (may be NULL) and body. 0 with *ret filled, or -1 with why (a
 * sentence for the log: credentials refused, unexpected status, no
 * expires_at). A status of 0 (no answer) is the caller's to describe. */
int qkl_parse_answer(long status, const char *subject_token, const char *body, size_t len,
                     qkl_token *ret, char *why, size_t whylen);

/* From a login answer's body (with its catalogue): the URL of the first
 * endpoint of service type (e.g. "compute") with interface ("public",
 * "internal", "admin") in region (NULL or "" = any), as keystoneauth picks
 * it; trailing slashes dropped. NULL with why (a sentence for the log) when
 * there is none. The caller frees the URL. */
char *qkl_catalog_url(const char *body, size_t len, const char *type, const char *interface,
                      const char *region, char *why, size_t whylen);

#endif
