#include "server/http.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/addr.h"
#include "server/tls.h"
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
};

/* Per connection (HTTPS with client certificates only). */
typedef struct qhttp_sock_state {
    int verified;               /* 0 = not checked yet, 1 = good, -1 = refused */
} qhttp_sock_state;

/* Per-request state across MHD's calls of the access handler. */
typedef struct qhttp_conn_state {
    uint64_t start_us;
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

const char *qhttp_header(const qhttp_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void qhttp_error(qhttp_resp *resp, const qerr *e)
{
    resp->status = qerr_status(e->code);
    qbuf_reset(&resp->body);
    qbuf_puts(&resp->body, "{\"NeutronError\":{\"type\":");
    const char *type = qerr_type(e->code);
    qj_emit_string(&resp->body, type, strlen(type));
    qbuf_puts(&resp->body, ",\"message\":");
    qj_emit_string(&resp->body, e->msg, strlen(e->msg));
    qbuf_puts(&resp->body, ",\"detail\":");
    qj_emit_string(&resp->body, e->detail, strlen(e->detail));
    qbuf_puts(&resp->body, "}}");
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

static enum MHD_Result qhttp_access(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_size, void **con_cls)
{
    qhttp *s = cls;
    qhttp_conn_state *st = *con_cls;
    if (!st && s->client_certs && !qhttp_client_cert_ok(c))
        return MHD_NO;          /* closes the connection (the handshake should have failed) */
    if (!st) {
        st = xcalloc(1, sizeof *st);
        st->start_us = qhv_now_us();
        qbuf_init(&st->body, s->max_body);
        snprintf(st->method, sizeof st->method, "%s", method);
        snprintf(st->path, sizeof st->path, "%s", url);
        st->server = s;
        *con_cls = st;
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
    char uuid[37], rid[48];
    qhv_uuid4(uuid);
    snprintf(rid, sizeof rid, "req-%s", uuid);
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
    uint64_t us = qhv_now_us() - st->start_us;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char peer[QADDR_STRLEN] = "?";
    if (ci && ci->client_addr) {
        if (ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, peer,
                      sizeof peer);
        else if (ci->client_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, peer,
                      sizeof peer);
    }
    QLOG_I("api", "%s \"%s %s\" status: %d body: %zu time: %.4f%s%s%s", peer, st->method,
           st->path, st->status, st->body.len, (double)us / 1e6, st->who[0] ? " " : "", st->who,
           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
    if (st->slot && st->server->slot_free)
        st->server->slot_free(st->slot);
    qbuf_free(&st->body);
    free(st);
    *con_cls = NULL;
}

/* Client certificates: demanded and verified in the handshake (set up when
 * the connection starts); checked again once per connection before its first
 * request, in case the session could not be set up that way. */
static void qhttp_notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                                    enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = xcalloc(1, sizeof(qhttp_sock_state));
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (ci && ci->tls_session)
            qtls_require_client_cert(ci->tls_session);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        free(*socket_context);
        *socket_context = NULL;
    }
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
            tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION,
                                                     (intptr_t)qhttp_notify_connection, NULL};
        }
    }
    tls_opts[nt++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, qhttp_access, s,
                            MHD_OPTION_EXTERNAL_LOGGER, qhttp_mhd_log, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
                            MHD_OPTION_NOTIFY_COMPLETED, qhttp_completed, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
                            MHD_OPTION_ARRAY, tls_opts,
                            MHD_OPTION_END);
    if (!s->d) {
        qhttp_free_pem(s);
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
    MHD_stop_daemon(s->d);
    qhttp_free_pem(s);
    free(s);
}
