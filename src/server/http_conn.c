#include "server/http_conn.h"
#include "lib/log.h"
#include "lib/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QHTTP_READ_CHUNK 16384                 /* the most read at once */
#define QHTTP_READ_MIN 1024                    /* the least room a read gets */
#define QHTTP_BODY_IDLE_US (120ull * 1000000u) /* a body that stops coming */
#define QHTTP_LINGER_US (2ull * 1000000u)      /* reading what follows a refusal */
#define QHTTP_OUT_HIGH (1u << 20)              /* pipelined answers a client has not read */

qhttp_conn *qhttp_conn_new(qhttp_worker *w, int fd, const char *addr, bool over)
{
    qhttp_conn *c = xcalloc(1, sizeof *c);
    c->w = w;
    c->fd = fd;
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    c->over = over;
    c->phase = QHTTP_HEAD;
    c->since_us = qhv_now_us();
    c->head.max_target = w->s->max_header_size;
    c->head.max_fields = w->s->max_header_size;
    c->handshaken = !w->s->tls;
    if (w->s->tls)
        c->tls = qhttp_tls_session(w->s->tls, fd);
    qbuf_init(&c->body, w->s->max_body);
    qbuf_init(&c->out, 0);
    return c;
}

void qhttp_conn_adopt(qhttp_conn *c)
{
    qhttp_worker *w = c->w;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    c->adopted = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if ((w->s->tls && !c->tls) || epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        qhttp_conn_close(c);
        return;
    }
    qhttp_conn_run(c, 0);
}

/* Frees the current request's strings. */
static void qhttp_conn_end_request(qhttp_conn *c)
{
    free(c->text);
    free(c->fields);
    free(c->query);
    c->text = NULL;
    c->fields = NULL;
    c->query = NULL;
    c->nquery = 0;
    c->method = c->path = NULL;
    c->who[0] = '\0';
    qbuf_reset(&c->body);
}

void qhttp_conn_close(qhttp_conn *c)
{
    qhttp_worker *w = c->w;
    qhttp *s = w->s;
    pthread_mutex_lock(&w->lock);
    if (c->queued) {
        for (qhttp_conn **p = &w->resumes; *p; p = &(*p)->resume_next)
            if (*p == c) {
                *p = c->resume_next;
                break;
            }
    }
    pthread_mutex_unlock(&w->lock);
    if (c->slot && s->slot_free)
        s->slot_free(c->slot);
    if (c->adopted) {
        if (c->prev)
            c->prev->next = c->next;
        else
            w->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    }
    atomic_fetch_sub(&w->load, 1);
    qhttp_tls_session_free(c->tls);
    close(c->fd);
    pthread_mutex_lock(&s->lock);
    s->nconns--;
    size_t len;
    const char *v = qtm_get(s->per_addr, c->addr, &len);
    uint32_t n = 0;
    if (v && len == sizeof n)
        memcpy(&n, v, sizeof n);
    if (n > 1) {
        n--;
        qtm_put(s->per_addr, c->addr, (const char *)&n, sizeof n);
    } else {
        qtm_del(s->per_addr, c->addr);
    }
    pthread_mutex_unlock(&s->lock);
    qhttp_conn_end_request(c);
    qhp_head_free(&c->head);
    qbuf_free(&c->body);
    qbuf_free(&c->out);
    free(c->in);
    free(c);
}

/* ---- socket I/O: bytes, 0 = end of stream, -1 = would block, -2 = failed ---- */

static ssize_t qhttp_conn_recv(qhttp_conn *c, char *buf, size_t len)
{
    if (c->tls)
        return qhttp_tls_recv(c->tls, buf, len);
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
    }
}

static ssize_t qhttp_conn_send(qhttp_conn *c, const char *buf, size_t len)
{
    if (c->tls)
        return qhttp_tls_send(c->tls, buf, len);
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : -2;
    }
}

/* Writes what it can of the answers; -1 would block, -2 failed, 0 all out. */
static int qhttp_conn_flush(qhttp_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = qhttp_conn_send(c, c->out.data + c->out_off, c->out.len - c->out_off);
        if (n < 0)
            return (int)n;
        c->out_off += (size_t)n;
    }
    qbuf_reset(&c->out);
    c->out_off = 0;
    return 0;
}

/* Reads once into in; what qhttp_conn_recv returns. The buffer holds at most
 * a request head within the limits and a read beyond it. */
static ssize_t qhttp_conn_fill(qhttp_conn *c)
{
    size_t limit = 2 * c->w->s->max_header_size + 4096 + QHTTP_READ_CHUNK;
    if (c->in_cap - c->in_len < QHTTP_READ_MIN) {
        /* Small at first: most connections send a few hundred bytes. */
        size_t cap = c->in_cap ? 2 * c->in_cap : QHTTP_READ_MIN * 4;
        if (cap - c->in_len > QHTTP_READ_CHUNK)
            cap = c->in_len + QHTTP_READ_CHUNK;
        if (cap > limit)
            return -2;  /* cannot happen: the parser refuses a head before this */
        c->in_cap = cap;
        c->in = xrealloc(c->in, c->in_cap);
    }
    ssize_t n = qhttp_conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
    if (n > 0)
        c->in_len += (size_t)n;
    return n;
}

/* ---- answers ---- */

static const char *qhttp_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* Queues the answer to the current request and logs it. */
static void qhttp_conn_answer(qhttp_conn *c, qhttp_resp *r, const char *rid)
{
    qhttp *s = c->w->s;
    bool head = c->method && !strcmp(c->method, "HEAD");
    if (r->close || c->head.close)
        c->closing = true;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    qbuf_printf(&c->out, "HTTP/1.1 %d %s\r\nDate: %s\r\nX-Openstack-Request-Id: %s\r\n",
                r->status, qhttp_reason(r->status), date, rid);
    if (r->status != 204) {
        qbuf_printf(&c->out, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                    r->body.len);
    }
    if (r->allow)
        qbuf_printf(&c->out, "Allow: %s\r\n", r->allow);
    const char *challenge = r->www_authenticate;
    if (!challenge && r->status == 401)
        challenge = s->www_authenticate;
    if (challenge)
        qbuf_printf(&c->out, "WWW-Authenticate: %s\r\n", challenge);
    if (c->closing)
        qbuf_puts(&c->out, "Connection: close\r\n");
    else if (c->head.minor == 0)
        qbuf_puts(&c->out, "Connection: Keep-Alive\r\n");
    qbuf_puts(&c->out, "\r\n");
    if (r->status != 204 && !head)
        qbuf_append(&c->out, r->body.data, r->body.len);
    uint64_t us = qhv_now_us() - c->start_us;
    QLOG_I("api", "%s \"%s %s\" status: %d body: %zu time: %.4f%s%s", c->addr,
           c->method ? c->method : "-", c->path ? c->path : "-", r->status, c->body.len,
           (double)us / 1e6, c->who[0] ? " " : "", c->who);
}

/* The request is answered: the next one's bytes move to the front. */
static void qhttp_conn_next(qhttp_conn *c)
{
    qhttp *s = c->w->s;
    if (c->slot && s->slot_free)
        s->slot_free(c->slot);
    c->slot = NULL;
    qhttp_conn_end_request(c);
    memmove(c->in, c->in + c->body_at, c->in_len - c->body_at);
    c->in_len -= c->body_at;
    c->body_at = 0;
    qhp_head_reset(&c->head);
    c->phase = QHTTP_HEAD;
    c->since_us = qhv_now_us();
}

/* Refuses the request: a NeutronError, then the connection closes. */
static void qhttp_conn_refuse(qhttp_conn *c, int status, const char *type, const char *msg)
{
    char rid[48], uuid[37];
    qhv_uuid4(uuid);
    snprintf(rid, sizeof rid, "req-%s", uuid);
    if (!c->method)             /* refused in the head: timed from now */
        c->start_us = qhv_now_us();
    qhttp_resp r = {.close = true};
    qbuf_init(&r.body, 0);
    qhttp_error_body(&r, status, type, msg, "");
    qhttp_conn_answer(c, &r, rid);
    qbuf_free(&r.body);
    c->closing = true;
}

/* Calls the handler (again, when resumed) and queues its answer. */
static void qhttp_conn_dispatch(qhttp_conn *c, bool resumed)
{
    qhttp *s = c->w->s;
    char rid[48], uuid[37];
    qhv_uuid4(uuid);
    snprintf(rid, sizeof rid, "req-%s", uuid);
    qhttp_req req = {
        .method = c->method,
        .path = c->path,
        .nquery = c->nquery,
        .query = (void *)c->query,
        .nheaders = c->head.nfields,
        .headers = c->fields,
        .body = c->body.data,
        .body_len = c->body.len,
        .conn = c,
        .slot = &c->slot,
        .resumed = resumed,
        .tls = s->tls != NULL,
        .who = c->who,
    };
    snprintf(req.request_id, sizeof req.request_id, "%s", rid);
    qhttp_resp resp = {.status = 500};
    qbuf_init(&resp.body, 0);
    s->handler(s->ctx, &req, &resp);
    if (resp.suspend) {
        /* qhttp_suspend has set c->suspended under the waker's lock: a
         * resume that came already is queued, and runs after this. */
        qbuf_free(&resp.body);
        return;
    }
    qhttp_conn_answer(c, &resp, rid);
    qbuf_free(&resp.body);
    qhttp_conn_next(c);
}

/* The head is parsed: its strings (a copy with NULs after each span: every
 * span is followed by a separator, which it replaces), then the checks
 * before the handler. false if refused. */
static bool qhttp_conn_begin(qhttp_conn *c)
{
    qhttp *s = c->w->s;
    qhp_head *h = &c->head;
    c->start_us = qhv_now_us();
    c->text = xmalloc(h->pos + 1);
    memcpy(c->text, c->in, h->pos);
    c->text[h->pos] = '\0';
    char *t = c->text;
    t[h->method.off + h->method.len] = '\0';
    t[h->target.off + h->target.len] = '\0';
    c->method = t + h->method.off;
    c->fields = xcalloc(h->nfields + 1, sizeof *c->fields);
    for (size_t i = 0; i < h->nfields; i++) {
        t[h->fields[i].name.off + h->fields[i].name.len] = '\0';
        t[h->fields[i].value.off + h->fields[i].value.len] = '\0';
        c->fields[i].name = t + h->fields[i].name.off;
        c->fields[i].value = t + h->fields[i].value.off;
    }
    char *target = t + h->target.off;
    c->path = target;   /* for the log line, until decoded */
    if (c->over) {
        qhttp_conn_refuse(c, 503, "HTTPServiceUnavailable",
                          "The server has too many connections (or too many from this "
                          "address); try again later.");
        return false;
    }
    /* Absolute form (RFC 9112 3.2.2): the path is what follows the authority. */
    if (!strncasecmp(target, "http://", 7) || !strncasecmp(target, "https://", 8)) {
        char *p = strchr(strstr(target, "//") + 2, '/');
        target = p ? p : (char *)"/";
    }
    if (target[0] != '/') {
        qhttp_conn_refuse(c, 400, "HTTPBadRequest", "The request target is not a path.");
        return false;
    }
    char *query = strchr(target, '?');
    if (query)
        *query++ = '\0';
    bool slash = false;
    for (const char *p = strchr(target, '%'); p; p = strchr(p + 1, '%'))
        slash |= p[1] == '2' && (p[2] == 'f' || p[2] == 'F');
    bool nul = !qhp_unescape(target, false);
    c->path = target;
    size_t cap = 0;
    for (char *q = query; q && *q;) {
        char *amp = strchr(q, '&');
        if (amp)
            *amp = '\0';
        char *eq = strchr(q, '=');
        if (eq)
            *eq = '\0';
        nul |= !qhp_unescape(q, true);
        if (eq)
            nul |= !qhp_unescape(eq + 1, true);
        if (c->nquery == cap) {
            cap = cap ? cap * 2 : 8;
            c->query = xrealloc(c->query, cap * sizeof *c->query);
        }
        c->query[c->nquery].key = q;
        c->query[c->nquery].value = eq ? eq + 1 : "";
        c->nquery++;
        q = amp ? amp + 1 : NULL;
    }
    if (nul || slash) {
        qhttp_conn_refuse(c, 400, "HTTPBadRequest",
                          nul ? "The request URI holds %00." : "The request path holds %2F.");
        return false;
    }
    if (h->has_length && h->length > s->max_body) {
        char msg[96];
        snprintf(msg, sizeof msg, "Request is too large: the body exceeds %zu bytes.",
                 s->max_body);
        qhttp_conn_refuse(c, 413, "HTTPRequestEntityTooLarge", msg);
        return false;
    }
    c->body_at = h->pos;
    c->body_left = h->has_length ? h->length : 0;
    if (h->chunked)
        qhp_chunked_init(&c->chunk, s->max_header_size);
    if ((h->chunked || c->body_left) && h->expect_continue)
        qbuf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    return true;
}

/* Moves body bytes from in to body; true once the body is complete. */
static bool qhttp_conn_body(qhttp_conn *c)
{
    char *at = c->in + c->body_at;
    size_t avail = c->in_len - c->body_at, used;
    if (c->head.chunked) {
        qhp_error err;
        qhp_result r = qhp_chunked_feed(&c->chunk, at, avail, &used, &c->body, &err);
        if (r == QHP_ERROR) {
            qhttp_conn_refuse(c, err.status, err.type, err.msg);
            return false;
        }
        memmove(at, at + used, avail - used);
        c->in_len -= used;
        return r == QHP_DONE;
    }
    used = avail < c->body_left ? avail : (size_t)c->body_left;
    qbuf_append(&c->body, at, used);
    memmove(at, at + used, avail - used);
    c->in_len -= used;
    c->body_left -= used;
    return c->body_left == 0;
}

/* Advances the current request with the bytes in hand: true if it did
 * something, false if it needs more input. */
static bool qhttp_conn_step(qhttp_conn *c)
{
    if (c->phase == QHTTP_HEAD) {
        qhp_error err;
        qhp_result r = qhp_head_feed(&c->head, c->in, c->in_len, &err);
        if (r == QHP_MORE)
            return false;
        if (r == QHP_ERROR) {
            qhttp_conn_refuse(c, err.status, err.type, err.msg);
            return true;
        }
        if (!qhttp_conn_begin(c))
            return true;
        c->phase = QHTTP_BODY;
        c->since_us = qhv_now_us();
    }
    bool done = qhttp_conn_body(c);
    if (c->closing)
        return true;    /* refused in the body */
    if (!done)
        return false;
    qhttp_conn_dispatch(c, false);
    return true;
}

static void qhttp_conn_linger(qhttp_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->phase = QHTTP_LINGER;
    c->since_us = qhv_now_us();
}

static bool qhttp_conn_suspended(qhttp_conn *c)
{
    pthread_mutex_lock(&c->w->lock);
    bool suspended = c->suspended;
    pthread_mutex_unlock(&c->w->lock);
    return suspended;
}

/* A suspended request (a long-poll): if its client has closed, the
 * handler's slot_gone resumes it, and the resume closes the connection. */
static void qhttp_conn_check_gone(qhttp_conn *c)
{
    if (!c->hup || c->gone)
        return;
    c->gone = true;
    if (c->slot && c->w->s->slot_gone)
        c->w->s->slot_gone(c->slot);
    else
        qhttp_conn_close(c);
}

void qhttp_conn_run(qhttp_conn *c, uint32_t events)
{
    /* Edge-triggered: a close seen while the request was read is kept for
     * when it is suspended. */
    c->hup |= (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    if (qhttp_conn_suspended(c)) {
        qhttp_conn_check_gone(c);
        return;
    }
    for (;;) {
        if (!c->handshaken) {
            int r = qhttp_tls_handshake(c->w->s->tls, c->tls);
            if (r < 0) {
                qhttp_conn_close(c);
                return;
            }
            if (r == 0)
                return;
            c->handshaken = true;
        }
        int f = qhttp_conn_flush(c);
        if (f == -2) {
            qhttp_conn_close(c);
            return;
        }
        if (c->phase == QHTTP_LINGER) {
            char buf[4096];
            ssize_t n;
            while ((n = qhttp_conn_recv(c, buf, sizeof buf)) > 0)
                ;
            if (n != -1)
                qhttp_conn_close(c);
            return;
        }
        if (f == -1 && (c->closing || c->out.len > QHTTP_OUT_HIGH))
            return;     /* EPOLLOUT comes back */
        if (c->closing) {
            if (f == 0) {
                if (c->tls)
                    qhttp_tls_bye(c->tls);
                qhttp_conn_linger(c);
                continue;
            }
            return;
        }
        if (qhttp_conn_suspended(c)) {
            qhttp_conn_check_gone(c);
            return;
        }
        if (qhttp_conn_step(c))
            continue;
        if (c->out.len && qhttp_conn_flush(c) == -2) {   /* 100 Continue, say */
            qhttp_conn_close(c);
            return;
        }
        ssize_t n = qhttp_conn_fill(c);
        if (n == -1)
            return;
        if (n == 0 && c->out.len) {
            c->closing = true;  /* half-closed: its answers go out first */
            continue;
        }
        if (n <= 0) {
            qhttp_conn_close(c);
            return;
        }
    }
}

void qhttp_conn_resume(qhttp_conn *c)
{
    if (c->gone) {
        qhttp_conn_close(c);
        return;
    }
    qhttp_conn_dispatch(c, true);
    qhttp_conn_run(c, 0);
}

void qhttp_conn_tick(qhttp_conn *c, uint64_t now_us)
{
    qhttp *s = c->w->s;
    if (qhttp_conn_suspended(c))
        return;
    if ((c->phase == QHTTP_HEAD && now_us - c->since_us > s->header_timeout_us) ||
        (c->phase == QHTTP_BODY && now_us - c->since_us > QHTTP_BODY_IDLE_US) ||
        (c->phase == QHTTP_LINGER && now_us - c->since_us > QHTTP_LINGER_US))
        qhttp_conn_close(c);
}

void qhttp_suspend(void *conn)
{
    qhttp_conn *c = conn;
    pthread_mutex_lock(&c->w->lock);
    c->suspended = true;
    pthread_mutex_unlock(&c->w->lock);
}

void qhttp_resume(void *conn)
{
    qhttp_conn *c = conn;
    qhttp_worker *w = c->w;
    bool wake = false;
    pthread_mutex_lock(&w->lock);
    if (c->suspended && !c->queued) {
        c->queued = true;
        c->resume_next = w->resumes;
        w->resumes = c;
        wake = true;
    }
    pthread_mutex_unlock(&w->lock);
    if (wake)
        qhttp_worker_wake(w);
}

void qhttp_worker_wake(qhttp_worker *w)
{
    uint64_t one = 1;
    ssize_t n = write(w->wake, &one, sizeof one);
    (void)n;
}
