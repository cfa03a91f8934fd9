#include "server/http.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/addr.h"
#include "server/tls.h"
#include "lib/textmap.h"
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define QHTTP_SWEEP_MS 200      /* resolution of the header timeout and of closed long-polls */
#define QHTTP_FD_SPARE 256      /* open files kept for the database, logs, Keystone */

/* Where a connection is, for the watch thread. */
typedef enum {
    QHTTP_WAITING,              /* for a request's headers, since since_us */
    QHTTP_ACTIVE,               /* a request read: the handler or MHD's idle timeout govern */
    QHTTP_SUSPENDED,            /* a long-poll: watched for its peer's closing */
} qhttp_phase;

/* Per connection (socket context), from MHD's STARTED to its CLOSED
 * notification, linked in the server's list under its lock. */
typedef struct qhttp_sock_state {
    int verified;               /* client certificate: 0 = unchecked, 1 = good, -1 = refused */
    int fd;
    char addr[QADDR_STRLEN];
    bool over;                  /* beyond a limit: its request is answered 503 */
    bool cut;                   /* shut down by the watch thread */
    qhttp_phase phase;
    uint64_t since_us;
    void *slot;                 /* QHTTP_SUSPENDED: the handler's slot */
    struct qhttp_sock_state *prev, *next;
} qhttp_sock_state;

struct qhttp {
    struct MHD_Daemon *d;
    qhttp_handler handler;
    void *ctx;
    size_t max_body;
    int port;
    void (*slot_free)(void *slot);
    const char *www_authenticate;
    bool tls;
    bool client_certs;          /* every connection must present a verified certificate */
    char *tls_pem[3];           /* cert, key, CA: libmicrohttpd keeps pointers to them */
    void (*slot_gone)(void *slot);
    uint64_t header_timeout_us;
    unsigned max_connections;
    int max_per_address;        /* -1 = no limit */
    size_t max_header_size;
    /* Connections and their count per address (4-byte counts), under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    qhttp_sock_state *conns;
    unsigned nconns;
    qtm *per_addr;
    bool stopping;
    bool watching;
    pthread_t watch;
};

/* Per-request state across MHD's calls of the access handler. */
typedef struct qhttp_conn_state {
    uint64_t start_us;
    bool seen;                  /* the access handler has had its first call */
    size_t uri_len;             /* the raw URI, as sent (before MHD unescapes it) */
    bool uri_nul, uri_slash;    /* it holds %00 / %2F */
    qbuf body;
    int status;
    bool too_large;
    char method[16];
    char path[512];
    void *slot;
    bool suspended;
    qhttp *server;
    char who[QHTTP_WHO_LEN];
} qhttp_conn_state;

void qhttp_suspend(void *conn) { MHD_suspend_connection(conn); }

void qhttp_resume(void *conn) { MHD_resume_connection(conn); }

void qhttp_set_slot_free(qhttp *s, void (*fn)(void *slot)) { s->slot_free = fn; }

void qhttp_set_slot_gone(qhttp *s, void (*fn)(void *slot))
{
    pthread_mutex_lock(&s->lock);
    s->slot_gone = fn;
    pthread_mutex_unlock(&s->lock);
}

const char *qhttp_header(const qhttp_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* A NeutronError body with any status (some of the listener's own have no qerr code). */
static void qhttp_error_body(qhttp_resp *resp, int status, const char *type, const char *msg,
                             const char *detail)
{
    resp->status = status;
    qbuf_reset(&resp->body);
    qbuf_puts(&resp->body, "{\"NeutronError\":{\"type\":");
    qj_emit_string(&resp->body, type, strlen(type));
    qbuf_puts(&resp->body, ",\"message\":");
    qj_emit_string(&resp->body, msg, strlen(msg));
    qbuf_puts(&resp->body, ",\"detail\":");
    qj_emit_string(&resp->body, detail, strlen(detail));
    qbuf_puts(&resp->body, "}}");
}

void qhttp_error(qhttp_resp *resp, const qerr *e)
{
    qhttp_error_body(resp, qerr_status(e->code), qerr_type(e->code), e->msg, e->detail);
}

void qhttp_fail(qhttp_resp *resp, qerr_code code, const char *msg)
{
    qerr e;
    qerr_set(&e, code, "%s", msg);
    qhttp_error(resp, &e);
}

void qhttp_json(qhttp_resp *resp, int status, qj *body)
{
    resp->status = status;
    qbuf_reset(&resp->body);
    qj_emit(body, &resp->body, false);
    qj_free(body);
}

typedef struct qhttp_query_collect {
    size_t n, cap;
    struct { const char *key, *value; } *kv;
} qhttp_query_collect;

static enum MHD_Result qhttp_query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    qhttp_query_collect *q = cls;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 8;
        q->kv = xrealloc(q->kv, q->cap * sizeof *q->kv);
    }
    q->kv[q->n].key = key;
    q->kv[q->n].value = value ? value : "";
    q->n++;
    return MHD_YES;
}

static enum MHD_Result qhttp_send(struct MHD_Connection *c, qhttp_conn_state *st, qhttp_resp *r,
                                  const char *request_id)
{
    struct MHD_Response *mr;
    if (r->status == 204) {
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        size_t len;
        char *data = qbuf_steal(&r->body, &len);
        mr = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(mr, "Content-Type", "application/json");
    }
    MHD_add_response_header(mr, "X-Openstack-Request-Id", request_id);
    if (r->allow)
        MHD_add_response_header(mr, "Allow", r->allow);
    if (r->close)
        MHD_add_response_header(mr, "Connection", "close");
    const char *challenge = r->www_authenticate;
    if (!challenge && r->status == 401)
        challenge = st->server->www_authenticate;
    if (challenge)
        MHD_add_response_header(mr, "WWW-Authenticate", challenge);
    st->status = r->status;
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static bool qhttp_client_cert_ok(struct MHD_Connection *c);
static void qhttp_peer_name(struct MHD_Connection *c, char *out, size_t len);

/* "req-<uuid>", as Neutron's X-Openstack-Request-Id. */
static void qhttp_request_id(char *out, size_t len)
{
    char uuid[37];
    qhv_uuid4(uuid);
    snprintf(out, len, "req-%s", uuid);
}

static qhttp_sock_state *qhttp_sock(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Moves c's connection to phase (with the slot of a suspended request). */
static void qhttp_set_phase(qhttp *s, struct MHD_Connection *c, qhttp_phase phase, void *slot)
{
    qhttp_sock_state *ss = qhttp_sock(c);
    if (!ss)
        return;
    pthread_mutex_lock(&s->lock);
    ss->phase = phase;
    ss->since_us = qhv_now_us();
    ss->slot = slot;
    pthread_mutex_unlock(&s->lock);
}

/* The request line has come: its raw URI is seen here, before MHD unescapes
 * it in place (after which %00 would cut the path and %2F split it unseen).
 * What this returns is the request's state (*con_cls). */
static void *qhttp_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)c;
    qhttp *s = cls;
    qhttp_conn_state *st = xcalloc(1, sizeof *st);
    st->start_us = qhv_now_us();
    st->server = s;
    qbuf_init(&st->body, s->max_body);
    st->uri_len = strlen(uri);
    const char *query = strchr(uri, '?');      /* %2F is harmless in a query value */
    for (const char *p = strchr(uri, '%'); p; p = strchr(p + 1, '%')) {
        st->uri_nul |= p[1] == '0' && p[2] == '0';
        st->uri_slash |= p[1] == '2' && (p[2] == 'f' || p[2] == 'F') && (!query || p < query);
    }
    return st;
}

typedef struct qhttp_framing {
    size_t header_bytes;
    unsigned ncl, nte, nhost;
    bool cl_conflict;
    const char *cl, *te;
} qhttp_framing;

static enum MHD_Result qhttp_framing_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    (void)kind;
    qhttp_framing *f = cls;
    value = value ? value : "";
    f->header_bytes += strlen(key) + strlen(value) + 4;
    if (!strcasecmp(key, "Content-Length")) {
        f->cl_conflict |= f->cl && strcmp(f->cl, value);
        f->cl = value;
        f->ncl++;
    } else if (!strcasecmp(key, "Transfer-Encoding")) {
        f->te = value;
        f->nte++;
    } else if (!strcasecmp(key, "Host")) {
        f->nhost++;
    }
    return MHD_YES;
}

/* Refuses what must not reach the handler: a connection beyond the limits,
 * a URI or headers too large, a path MHD's unescaping would change the
 * meaning of, ambiguous framing (RFC 7230 3.3.3: a request with both
 * Transfer-Encoding and Content-Length, or differing Content-Lengths, could
 * be read two ways by two parsers on its path), and an HTTP/1.1 request
 * without exactly one Host (RFC 7230 5.4; libmicrohttpd 0.9.75 lets it
 * through). Returns true if resp is filled. */
static bool qhttp_refuse(qhttp *s, struct MHD_Connection *c, qhttp_conn_state *st,
                         const char *version, qhttp_resp *resp)
{
    qhttp_sock_state *ss = qhttp_sock(c);
    qhttp_framing f = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, qhttp_framing_iter, &f);
    char msg[160];
    resp->close = true;         /* the body, if any, is not read */
    if (ss && ss->over) {
        qhttp_error_body(resp, 503, "HTTPServiceUnavailable",
                         "The server has too many connections (or too many from this address); "
                         "try again later.", "");
    } else if (st->uri_len > s->max_header_size) {
        snprintf(msg, sizeof msg, "Request URI is too long: it exceeds %zu bytes.",
                 s->max_header_size);
        qhttp_error_body(resp, 414, "HTTPRequestURITooLong", msg, "");
    } else if (f.header_bytes > s->max_header_size) {
        snprintf(msg, sizeof msg, "Request headers are too large: they exceed %zu bytes.",
                 s->max_header_size);
        qhttp_error_body(resp, 431, "HTTPRequestHeaderFieldsTooLarge", msg, "");
    } else if (st->uri_nul || st->uri_slash) {
        qhttp_fail(resp, QE_BAD_REQUEST, st->uri_nul ? "The request URI holds %00."
                                                     : "The request path holds %2F.");
    } else if (f.cl_conflict || (f.ncl && f.nte) || f.nte > 1) {
        qhttp_fail(resp, QE_BAD_REQUEST,
                   f.cl_conflict ? "The request has conflicting Content-Length headers."
                   : f.nte > 1 ? "The request has more than one Transfer-Encoding header."
                               : "The request has both Transfer-Encoding and Content-Length.");
    } else if (f.nhost != 1 && !strcmp(version, MHD_HTTP_VERSION_1_1)) {
        qhttp_fail(resp, QE_BAD_REQUEST, f.nhost ? "The request has more than one Host header."
                                                 : "The request is HTTP/1.1 without a Host "
                                                   "header.");
    } else if (f.te && strcasecmp(f.te, "chunked")) {
        /* RFC 7230 3.3.1: a server answers 501 to a transfer coding it does
         * not understand; the API takes bodies plain or chunked. */
        snprintf(msg, sizeof msg, "Transfer-Encoding '%.64s' is not supported: send the body "
                                  "plain (with Content-Length) or chunked.", f.te);
        qhttp_error_body(resp, 501, "HTTPNotImplemented", msg, "");
    } else {
        resp->close = false;
        return false;
    }
    return true;
}

static enum MHD_Result qhttp_access(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_size, void **con_cls)
{
    qhttp *s = cls;
    qhttp_conn_state *st = *con_cls;
    if (!st)
        return MHD_NO;          /* MHD always logs the URI first: cannot happen */
    if (!st->seen && s->client_certs && !qhttp_client_cert_ok(c))
        return MHD_NO;          /* closes the connection (the handshake should have failed) */
    if (!st->seen) {
        st->seen = true;
        snprintf(st->method, sizeof st->method, "%s", method);
        snprintf(st->path, sizeof st->path, "%s", url);
        qhttp_set_phase(s, c, QHTTP_ACTIVE, NULL);
        qhttp_resp resp = {.status = 500};
        qbuf_init(&resp.body, 0);
        if (qhttp_refuse(s, c, st, version, &resp)) {
            char rid[48];
            qhttp_request_id(rid, sizeof rid);
            enum MHD_Result ret = qhttp_send(c, st, &resp, rid);
            qbuf_free(&resp.body);
            return ret;
        }
        qbuf_free(&resp.body);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        int64_t n;
        if (cl && qhv_parse_i64(cl, 0, INT64_MAX, &n) == 0 && (uint64_t)n > s->max_body)
            st->too_large = true;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_large && !qbuf_append(&st->body, upload_data, *upload_size))
            st->too_large = true;
        *upload_size = 0;     /* consumed (or discarded once too large) */
        return MHD_YES;
    }
    bool resumed = st->suspended;
    st->suspended = false;
    if (resumed)
        qhttp_set_phase(s, c, QHTTP_ACTIVE, NULL);
    char rid[48];
    qhttp_request_id(rid, sizeof rid);
    qhttp_resp resp = {.status = 500};
    qbuf_init(&resp.body, 0);
    if (st->too_large) {
        qerr e;
        qerr_set(&e, QE_TOO_LARGE, "Request is too large: the body exceeds %zu bytes.",
                 s->max_body);
        qhttp_error(&resp, &e);
    } else {
        qhttp_query_collect q = {0};
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, qhttp_query_iter, &q);
        qhttp_req req = {
            .method = method,
            .path = url,
            .nquery = q.n,
            .query = (void *)q.kv,
            .body = st->body.data,
            .body_len = st->body.len,
            .conn = c,
            .slot = &st->slot,
            .resumed = resumed,
            .tls = s->tls,
            .who = st->who,
        };
        snprintf(req.request_id, sizeof req.request_id, "%s", rid);
        s->handler(s->ctx, &req, &resp);
        free(q.kv);
        if (resp.suspend) {
            /* The handler registered a waker that holds its own lock until
             * this suspend is done (see qhttp_resp.suspend). */
            st->suspended = true;
            qhttp_set_phase(s, c, QHTTP_SUSPENDED, st->slot);
            qbuf_free(&resp.body);
            return MHD_YES;
        }
    }
    enum MHD_Result ret = qhttp_send(c, st, &resp, rid);
    qbuf_free(&resp.body);
    return ret;
}

static void qhttp_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    qhttp_conn_state *st = *con_cls;
    if (!st)
        return;
    qhttp_set_phase(st->server, c, QHTTP_WAITING, NULL);   /* the next request's headers */
    uint64_t us = qhv_now_us() - st->start_us;
    char peer[QADDR_STRLEN];
    qhttp_peer_name(c, peer, sizeof peer);
    QLOG_I("api", "%s \"%s %s\" status: %d body: %zu time: %.4f%s%s%s", peer, st->method,
           st->path, st->status, st->body.len, (double)us / 1e6, st->who[0] ? " " : "", st->who,
           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
    if (st->slot && st->server->slot_free)
        st->server->slot_free(st->slot);
    qbuf_free(&st->body);
    free(st);
    *con_cls = NULL;
}

/* Adds delta to the count of connections from addr; returns the new count.
 * Lock held. */
static unsigned qhttp_addr_count(qhttp *s, const char *addr, int delta)
{
    size_t len;
    const char *v = qtm_get(s->per_addr, addr, &len);
    uint32_t n = 0;
    if (v && len == sizeof n)
        memcpy(&n, v, sizeof n);
    n = (uint32_t)((int64_t)n + delta);
    if (n)
        qtm_put(s->per_addr, addr, (const char *)&n, sizeof n);
    else
        qtm_del(s->per_addr, addr);
    return n;
}

static void qhttp_peer_name(struct MHD_Connection *c, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, len, "?");
    if (ci && ci->client_addr) {
        if (ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
                      (socklen_t)len);
        else if (ci->client_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out,
                      (socklen_t)len);
    }
}

/* Every connection is registered for the watch thread and counted (overall
 * and per address): those beyond the limits are still accepted, from MHD's
 * reserve, so that their request can be answered 503 instead of the silence
 * of a closed socket. Client certificates: demanded and verified in the
 * handshake (set up when the connection starts); checked again once per
 * connection before its first request, in case the session could not be set
 * up that way. */
static void qhttp_notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                                    enum MHD_ConnectionNotificationCode code)
{
    qhttp *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        qhttp_sock_state *ss = xcalloc(1, sizeof *ss);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        ss->fd = ci ? ci->connect_fd : -1;
        qhttp_peer_name(c, ss->addr, sizeof ss->addr);
        ss->phase = QHTTP_WAITING;
        ss->since_us = qhv_now_us();
        pthread_mutex_lock(&s->lock);
        ss->next = s->conns;
        if (s->conns)
            s->conns->prev = ss;
        s->conns = ss;
        unsigned from_addr = qhttp_addr_count(s, ss->addr, 1);
        ss->over = ++s->nconns > s->max_connections ||
                   (s->max_per_address >= 0 && from_addr > (unsigned)s->max_per_address);
        pthread_mutex_unlock(&s->lock);
        *socket_context = ss;
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (s->client_certs && ci && ci->tls_session)
            qtls_require_client_cert(ci->tls_session);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        qhttp_sock_state *ss = *socket_context;
        if (!ss)
            return;
        /* Unlinked before MHD closes the socket: the watch thread never
         * shuts down a descriptor number that has been reused. */
        pthread_mutex_lock(&s->lock);
        if (ss->prev)
            ss->prev->next = ss->next;
        else
            s->conns = ss->next;
        if (ss->next)
            ss->next->prev = ss->prev;
        s->nconns--;
        qhttp_addr_count(s, ss->addr, -1);
        pthread_mutex_unlock(&s->lock);
        free(ss);
        *socket_context = NULL;
    }
}

/* A suspended connection's peer has closed it (or reset it). With TLS, a
 * peer that closes properly first sends an alert record (type 21). */
static bool qhttp_peer_gone(const qhttp *s, int fd)
{
    unsigned char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return true;
    if (n < 0)
        return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    return s->tls && b == 21;
}

/* Every QHTTP_SWEEP_MS: closes connections whose headers are overdue (idle
 * and slow clients; MHD's own timeout restarts at every byte) and releases
 * long-polls whose clients have gone (MHD does not watch a suspended
 * connection's socket, so it would hold it until the wait ran out). */
static void qhttp_sweep(qhttp *s)
{
    uint64_t now = qhv_now_us();
    for (qhttp_sock_state *ss = s->conns; ss; ss = ss->next) {
        if (ss->fd < 0 || ss->cut)
            continue;
        if (ss->phase == QHTTP_WAITING && now - ss->since_us > s->header_timeout_us) {
            shutdown(ss->fd, SHUT_RDWR);    /* MHD sees the end and closes it */
            ss->cut = true;
        } else if (ss->phase == QHTTP_SUSPENDED && ss->slot && s->slot_gone &&
                   qhttp_peer_gone(s, ss->fd)) {
            s->slot_gone(ss->slot);         /* resumed: its answer meets the closed socket */
            ss->slot = NULL;
        }
    }
}

static void *qhttp_watch_main(void *arg)
{
    qhttp *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        struct timespec ts;
        qhv_deadline(&ts, QHTTP_SWEEP_MS);
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        if (!s->stopping)
            qhttp_sweep(s);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static bool qhttp_client_cert_ok(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    qhttp_sock_state *ss = ci ? ci->socket_context : NULL;
    if (ss && ss->verified)
        return ss->verified > 0;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    bool ok = ci && ci->tls_session && qtls_peer_verified(ci->tls_session);
    if (ss)
        ss->verified = ok ? 1 : -1;
    if (!ok)
        QLOG_W("http", "request without a verified client certificate refused");
    return ok;
}

__attribute__((format(printf, 2, 0)))
static void qhttp_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    QLOG_W("http", "%s", msg);
}

static void qhttp_free_pem(qhttp *s)
{
    for (size_t i = 0; i < QHV_ARRAY_SIZE(s->tls_pem); i++) {
        if (s->tls_pem[i])
            explicit_bzero(s->tls_pem[i], strlen(s->tls_pem[i]));
        free(s->tls_pem[i]);
        s->tls_pem[i] = NULL;
    }
}

/* Raises the open-file limit to its hard limit for the connections (each is
 * a descriptor); returns how many connections then fit beside the spare. */
static unsigned qhttp_fit_connections(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return want;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)want + QHTTP_FD_SPARE)
        return want;
    unsigned fit = rl.rlim_cur > 2 * QHTTP_FD_SPARE ? (unsigned)rl.rlim_cur - QHTTP_FD_SPARE
                                                    : QHTTP_FD_SPARE;
    QLOG_W("http", "open-file limit %llu: serving %u connections, not %u",
           (unsigned long long)rl.rlim_cur, fit, want);
    return fit;
}

/* The listener's limits from cfg (0 = default). The reserve answered 503 is a
 * sixteenth of the limit (16 to 256); MHD closes silently only beyond it. */
static void qhttp_set_limits(qhttp *s, const qhttp_config *cfg, unsigned *mhd_limit,
                             unsigned *mhd_per_ip, size_t *pool)
{
    s->header_timeout_us = (uint64_t)(cfg->header_timeout_s ? cfg->header_timeout_s : 10) *
                           1000000u;
    s->max_header_size = cfg->max_header_size ? cfg->max_header_size : 32768;
    s->max_per_address = cfg->max_per_address ? cfg->max_per_address : 512;
    unsigned want = cfg->max_connections ? cfg->max_connections : 8192;
    unsigned reserve = want / 16 < 16 ? 16 : want / 16 > 256 ? 256 : want / 16;
    unsigned fit = qhttp_fit_connections(want + reserve);
    s->max_connections = fit >= want + reserve ? want : fit - fit / 17;
    *mhd_limit = fit >= want + reserve ? want + reserve : fit;
    /* One address gets a few answers beyond its share, not the whole reserve. */
    *mhd_per_ip = s->max_per_address < 0 ? 0 : (unsigned)s->max_per_address + 8;
    /* The request line and headers stay in the connection's memory pool with
     * MHD's record of each header and query argument (about 48 bytes, for
     * as little as 3 bytes of a query string: "a=&"). Pages are touched only
     * as used. */
    *pool = s->max_header_size * 8 + 16384;
}

qhttp *qhttp_start(const qhttp_config *cfg, qhttp_handler h, void *ctx, qerr *e)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_EPOLL |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (inet_pton(AF_INET, cfg->host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, cfg->host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        qerr_set(e, QE_INTERNAL, "bind_host '%s' is not a numeric IPv4 or IPv6 address",
                 cfg->host);
        return NULL;
    }
    if (cfg->tls_cert_pem && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        qerr_set(e, QE_INTERNAL, "[ssl]: this libmicrohttpd is built without TLS support");
        return NULL;
    }
    qhttp *s = xcalloc(1, sizeof *s);
    s->handler = h;
    s->ctx = ctx;
    s->max_body = cfg->max_body;
    s->www_authenticate = cfg->www_authenticate;
    unsigned mhd_limit, mhd_per_ip;
    size_t pool;
    qhttp_set_limits(s, cfg, &mhd_limit, &mhd_per_ip, &pool);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->per_addr = qtm_new();
    struct MHD_OptionItem tls_opts[7];
    size_t nt = 0;
    if (cfg->tls_cert_pem) {
        flags |= MHD_USE_TLS;
        s->tls = true;
        s->tls_pem[0] = xstrdup(cfg->tls_cert_pem);
        s->tls_pem[1] = xstrdup(cfg->tls_key_pem ? cfg->tls_key_pem : "");
        tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_pem[0]};
        tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_pem[1]};
        tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                                 (void *)QTLS_PRIORITIES};
        if (cfg->tls_ca_pem) {
            s->client_certs = true;
            s->tls_pem[2] = xstrdup(cfg->tls_ca_pem);
            tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->tls_pem[2]};
        }
    }
    tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, qhttp_access, s,
                            MHD_OPTION_EXTERNAL_LOGGER, qhttp_mhd_log, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
                            MHD_OPTION_NOTIFY_COMPLETED, qhttp_completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, qhttp_notify_connection, s,
                            MHD_OPTION_URI_LOG_CALLBACK, qhttp_uri_log, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                            MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, mhd_per_ip,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                            MHD_OPTION_ARRAY, tls_opts,
                            MHD_OPTION_END);
    if (s->d && pthread_create(&s->watch, NULL, qhttp_watch_main, s) == 0)
        s->watching = true;
    else if (s->d) {
        MHD_stop_daemon(s->d);
        s->d = NULL;
    }
    if (!s->d) {
        qhttp_free_pem(s);
        qtm_free(s->per_addr);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        qerr_set(e, QE_INTERNAL, "cannot listen on %s:%d", cfg->host, cfg->port);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    return s;
}

int qhttp_port(const qhttp *s) { return s->port; }

void qhttp_stop(qhttp *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (s->watching)
        pthread_join(s->watch, NULL);
    MHD_stop_daemon(s->d);
    qtm_free(s->per_addr);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    qhttp_free_pem(s);
    free(s);
}
