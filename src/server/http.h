/* http: the API listener, qhv's own HTTP/1.1 server — epoll loops on a
 * thread pool, keep-alive and pipelining, a bounded request body (413
 * beyond [oslo_middleware] max_request_body_size), and one log line per
 * request with status and duration. Limits against crowds of connections: a
 * header timeout, a connection limit with a 503 reserve, a per-address
 * limit, and long-polls of closed peers released (see qhttp_config).
 * Requests are parsed strictly (server/http_parse.h); every refusal,
 * including the parser's, has a NeutronError body. Requests are refused
 * before the handler when their raw URI holds %00 or %2F (400). It hands
 * complete requests to a handler and sends what the handler fills in.
 * Optionally HTTPS (GnuTLS, server/http_tls.h), with client certificates
 * required and verified in the handshake when a client CA is given.
 * server/http.c holds the listener and its loops, http_conn.c a
 * connection, http_msg.c the helpers handlers call.
 *
 * Ownership: qhttp_start returns a server stopped and freed by qhttp_stop
 * (accepts NULL). Strings in a qhttp_req are borrowed for the handler call. */
#ifndef QHV_SERVER_HTTP_H
#define QHV_SERVER_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/err.h"

typedef struct qhttp_field { const char *name, *value; } qhttp_field;

typedef struct qhttp_req {
    const char *method;
    const char *path;           /* without the query string */
    size_t nquery;
    struct { const char *key, *value; } *query;
    size_t nheaders;
    const qhttp_field *headers; /* as sent, in order (see qhttp_header) */
    const char *body;
    size_t body_len;
    void *conn;                 /* for qhttp_header and qhttp_resume */
    char request_id[48];        /* "req-<uuid>" */
    void **slot;                /* the handler's per-request pointer, kept across resumes;
                                   freed by the handler (or by slot_free on close) */
    bool resumed;               /* this call follows a qhttp_resume */
    bool tls;                   /* arrived over HTTPS */
    char *who;                  /* QHTTP_WHO_LEN bytes the handler may fill with who the
                                   caller is ("user U project P"): added to the log line */
} qhttp_req;

#define QHTTP_WHO_LEN 160

typedef struct qhttp_resp {
    int status;
    qbuf body;                  /* JSON text; empty for 204 */
    const char *allow;          /* Allow header for 405, or NULL */
    const char *www_authenticate; /* for a 401; NULL = the listener's default (see
                                     qhttp_config.www_authenticate) */
    bool close;                 /* close the connection after this answer */
    bool suspend;               /* answer later: the handler will call qhttp_resume(conn),
                                   and is then called again with resumed = true */
} qhttp_resp;

typedef void (*qhttp_handler)(void *ctx, const qhttp_req *req, qhttp_resp *resp);

typedef struct qhttp qhttp;

typedef struct qhttp_config {
    const char *host;           /* numeric IPv4 or IPv6 address */
    int port;                   /* 0 = any free port */
    unsigned threads;
    size_t max_body;
    /* WWW-Authenticate of 401 answers that name none (Keystone's challenge),
     * or NULL. Borrowed: must outlive the server. */
    const char *www_authenticate;
    /* HTTPS when tls_cert_pem is set: PEM certificate (chain) and key; with
     * tls_ca_pem, clients must present a certificate it signed. Borrowed
     * for the call (GnuTLS copies them at start). */
    const char *tls_cert_pem;
    const char *tls_key_pem;
    const char *tls_ca_pem;
    /* Limits (0 = the default named). A connection whose request headers
     * have not all come header_timeout_s after it opened or after its last
     * answer is closed (10). max_connections are served (8192; the process's
     * open-file limit is raised for them, or they are lowered to fit); a
     * reserve beyond them, and connections beyond max_per_address from one
     * address (512; -1 = no limit), are answered 503 and closed. A URI longer
     * than max_header_size gets 414, headers larger 431 (32768). */
    unsigned header_timeout_s;
    unsigned max_connections;
    int max_per_address;
    size_t max_header_size;
} qhttp_config;

qhttp *qhttp_start(const qhttp_config *cfg, qhttp_handler h, void *ctx, qerr *e);
int qhttp_port(const qhttp *s);   /* the bound port */
void qhttp_stop(qhttp *s);
/* Suspends the request (call from the handler, then set resp->suspend).
 * Call it under the same lock as the waker's qhttp_resume, so that a resume
 * can never come before the suspend. */
void qhttp_suspend(void *conn);
/* Wakes a suspended request (from any thread). */
void qhttp_resume(void *conn);
/* Called with a request's slot when its connection ends, if the slot is
 * still set (a client that went away while suspended). */
void qhttp_set_slot_free(qhttp *s, void (*fn)(void *slot));
/* Called with a suspended request's slot once its client has closed the
 * connection: fn must resume the request (the connection is then closed,
 * without calling the handler again, and the slot goes to slot_free).
 * Called from the loop thread that owns the connection, on its EPOLLRDHUP;
 * fn must not call back into the listener except for qhttp_resume. */
void qhttp_set_slot_gone(qhttp *s, void (*fn)(void *slot));

/* A request header, or NULL. */
const char *qhttp_header(const qhttp_req *req, const char *name);
/* Fills resp with a NeutronError body for e. */
void qhttp_error(qhttp_resp *resp, const qerr *e);
/* The same from a code and a message. */
void qhttp_fail(qhttp_resp *resp, qerr_code code, const char *msg);
/* A JSON answer; takes body. */
struct qj;
void qhttp_json(qhttp_resp *resp, int status, struct qj *body);

#endif
