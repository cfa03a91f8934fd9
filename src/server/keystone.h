/* keystone: validates the X-Auth-Token of API requests with Keystone's v3
 * API, as keystonemiddleware does in front of Neutron (auth_strategy =
 * keystone).
 *
 * - The server authenticates itself with its service credentials
 *   ([keystone_authtoken] username/password/project, password method,
 *   POST /v3/auth/tokens) and renews that service token before it expires
 *   (when less than min(120 s, half its lifetime) is left: lib/kslogin.h) and
 *   when Keystone answers 401 to it.
 * - A user token is validated with GET /v3/auth/tokens?nocatalog
 *   (X-Auth-Token: service token, X-Subject-Token: user token). The result is
 *   cached under the token's SHA-256 (the token itself is neither kept nor
 *   logged) for at most token_cache_time seconds and never past the token's
 *   expires_at; a token Keystone refused is remembered for at most 30 s. The
 *   cache holds at most token_cache_size entries, least recently used go
 *   first.
 * - Keystone unreachable, failing or refusing the service credentials is
 *   QE_UNAVAILABLE (503): a request is never accepted without a validation.
 *
 * Thread-safe: any API thread may call qks_validate concurrently (one lock
 * for the cache, one for the service token, a small pool of libcurl handles
 * so that connections to Keystone are reused).
 *
 * Ownership: qks_new returns a validator the caller frees with qks_free
 * (accepts NULL); it copies everything in its config. qks_new and qks_free
 * initialise and clean up libcurl globally: call them while no other thread
 * uses libcurl (at start and after the listener stopped). */
#ifndef QHV_SERVER_KEYSTONE_H
#define QHV_SERVER_KEYSTONE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"
#include "lib/kslogin.h"

/* Longest token accepted (Fernet tokens are about 200 bytes, JWS ~ 800). */
#define QKS_MAX_TOKEN QKL_MAX_TOKEN

typedef struct qks qks;

typedef struct qks_config {
    const char *auth_url;              /* http(s)://host:port[/prefix][/v3] */
    const char *username;
    const char *password;
    const char *project_name;
    const char *user_domain_name;
    const char *project_domain_name;
    size_t cache_size;                 /* entries; 0 = no cache */
    int64_t cache_time;                /* seconds */
    long connect_timeout_ms;
    long request_timeout_ms;
    const char *cafile;                /* "" or NULL = the system's CAs */
    bool insecure;                     /* do not verify Keystone's certificate */
    const char *agent_role;            /* role that sets QKS_ROLE_AGENT; NULL or "" = none */
} qks_config;

/* Roles the policy looks at (Keystone's implied roles are expanded in tokens:
 * admin implies member implies reader). */
enum { QKS_ROLE_ADMIN = 1, QKS_ROLE_MEMBER = 2, QKS_ROLE_READER = 4,
       QKS_ROLE_AGENT = 8,  /* the configured agent role (host channel only) */
       QKS_ROLE_OTHER = 16  /* any other role */ };

typedef struct qks_token {
    bool project_scoped;               /* false: domain, system or unscoped token */
    char project_id[256];
    char user_id[256];
    char user_name[256];               /* "" if Keystone's name does not fit */
    char user_domain_name[65];         /* the user's domain (64 at most in Keystone); "" likewise */
    unsigned roles;                    /* QKS_ROLE_* bits */
    int64_t expires_at;                /* wall clock seconds */
} qks_token;

typedef struct qks_stats {
    uint64_t cache_hits;               /* answered from the cache (valid or refused) */
    uint64_t validations;              /* GET /v3/auth/tokens sent */
    uint64_t service_auths;            /* POST /v3/auth/tokens sent (service token) */
    uint64_t failures;                 /* requests answered 503 */
} qks_stats;

qks *qks_new(const qks_config *cfg, qerr *e);
void qks_free(qks *k);

/* Validates token. 0 with *ret filled; -1 with e->code QE_UNAUTHORIZED
 * (missing, malformed, invalid, expired or revoked) or QE_UNAVAILABLE
 * (Keystone could not say). */
int qks_validate(qks *k, const char *token, qks_token *ret, qerr *e);

void qks_get_stats(qks *k, qks_stats *ret);

#endif
