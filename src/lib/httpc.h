/* httpc: a small HTTP client for the agent and the tools. A request is
 * (method, url, headers, body) → (status, body), with timeouts and a bound on
 * the response size. Calls run asynchronously so that one single-threaded
 * loop can hold a long-poll open while it does other work; qhttpc_request()
 * is the blocking convenience.
 *
 * Implementations: libcurl on Linux (httpc.c: one curl multi handle per
 * client, whose connection cache gives keep-alive reuse across calls),
 * WinHTTP on Windows (httpc_winhttp.c: a worker thread per call; no client
 * certificates, see docs/windows.md), behind this same interface.
 *
 * Ownership: qhttpc_new() returns a client freed with qhttpc_free(); calls
 * returned by qhttpc_start() belong to the caller, who frees them with
 * qhttpc_call_free() (which cancels a running call) before freeing the
 * client. A qhttpc_resp's body is owned by the resp: qhttpc_resp_free().
 * All destructors accept NULL. A client is not thread-safe: use it from one
 * thread.
 *
 * TLS (https:// URLs): by default the server's certificate is verified
 * against the system's CAs and its name against the URL's host.
 * A request's tls settings change that: trust one CA file instead, skip
 * verification (labs only: the caller logs a warning), present a client
 * certificate. An implementation that cannot
 * honour a setting fails those calls (status 0) with an error saying so. */
#ifndef QHV_HTTPC_H
#define QHV_HTTPC_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/buf.h"

typedef struct qhttpc qhttpc;
typedef struct qhttpc_call qhttpc_call;

typedef struct qhttpc_tls {
    const char *ca_file;            /* PEM CA certificates to trust instead of the system's;
                                       NULL or "" = the system's */
    bool insecure;                  /* do not verify the server's certificate nor its name */
    const char *cert_file;          /* PEM client certificate (with key_file); NULL or "" = none */
    const char *key_file;           /* its PEM private key (unencrypted) */
} qhttpc_tls;

typedef struct qhttpc_req {
    const char *method;             /* "GET", "POST", "PUT", "DELETE", ... */
    const char *url;                /* http://host:port/path?query */
    const char *const *headers;     /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *body;               /* may be NULL (then no body) */
    size_t body_len;
    long timeout_ms;                /* the whole exchange; 0 = 30 s */
    long connect_timeout_ms;        /* 0 = 5 s */
    size_t max_body;                /* response bytes accepted; 0 = 64 MiB */
    const qhttpc_tls *tls;          /* NULL = verify with the system's CAs, no client cert */
    const char *capture_header;     /* name of one response header to return in resp.header
                                       (e.g. "X-Subject-Token"); NULL = none */
} qhttpc_req;

typedef struct qhttpc_resp {
    int status;                     /* HTTP status; 0 when there was no response */
    qbuf body;                      /* the response body (NUL-terminated) */
    char error[256];                /* transport error when status == 0, else "" */
    bool tls_failed;                /* status == 0 over https once connected: the TLS handshake
                                       or certificate check failed, or the server dropped the
                                       connection without an answer (how TLS 1.3 servers refuse
                                       a client certificate, after the handshake) */
    char *header;                   /* req.capture_header's value (trimmed), NULL if absent;
                                       owned by the resp */
} qhttpc_resp;

qhttpc *qhttpc_new(void);
void qhttpc_free(qhttpc *c);


/* Starts a call; everything in req is copied. Never NULL (a call that cannot
 * start completes at once with status 0 and an error). */
qhttpc_call *qhttpc_start(qhttpc *c, const qhttpc_req *req);
/* Drives c's calls for up to timeout_ms (returns early when a call
 * completes). Returns the number of calls that completed. */
int qhttpc_wait(qhttpc *c, int timeout_ms);
bool qhttpc_done(const qhttpc_call *call);
/* Moves a done call's result into *ret (initialised here; the caller frees
 * it with qhttpc_resp_free). Returns the HTTP status, or -1 on a transport
 * error (ret->error says why) or if the call is not done. */
int qhttpc_result(qhttpc_call *call, qhttpc_resp *ret);
void qhttpc_call_free(qhttpc_call *call);

/* Blocking: start, wait, result. Returns the status or -1 (see ret->error). */
int qhttpc_request(qhttpc *c, const qhttpc_req *req, qhttpc_resp *ret);
void qhttpc_resp_free(qhttpc_resp *r);

#endif
