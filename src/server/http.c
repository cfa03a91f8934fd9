/* The listener: a socket, one epoll loop per thread of the pool, accept
 * with the connection limits, and the timer. A connection stays on the
 * loop that accepted it (server/http_conn.c). */
#include "server/http_conn.h"
#include "lib/log.h"
#include "lib/util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define QHTTP_TICK_MS 200       /* resolution of the header timeout */
#define QHTTP_FD_SPARE 256      /* open files kept for the database, logs, Keystone */
#define QHTTP_ACCEPT_BATCH 16   /* accepts per wake-up: the other loops get their turn */

/* epoll tags of the loop's own descriptors (connections carry their own). */
static char qhttp_tag_listen, qhttp_tag_wake, qhttp_tag_timer;

void qhttp_set_slot_free(qhttp *s, void (*fn)(void *slot)) { s->slot_free = fn; }

void qhttp_set_slot_gone(qhttp *s, void (*fn)(void *slot)) { s->slot_gone = fn; }

int qhttp_port(const qhttp *s) { return s->port; }

/* Counts a new connection from addr; false if it is beyond even the
 * reserve (closed unanswered); *over if it is to be answered 503. */
static bool qhttp_admit(qhttp *s, const char *addr, bool *over)
{
    pthread_mutex_lock(&s->lock);
    size_t len;
    const char *v = qtm_get(s->per_addr, addr, &len);
    uint32_t n = 0;
    if (v && len == sizeof n)
        memcpy(&n, v, sizeof n);
    /* One address gets a few answers beyond its share, not the whole reserve. */
    bool ok = s->nconns < s->hard_limit &&
              (s->max_per_address < 0 || n < (uint32_t)s->max_per_address + 8);
    if (ok) {
        n++;
        qtm_put(s->per_addr, addr, (const char *)&n, sizeof n);
        *over = ++s->nconns > s->max_connections ||
                (s->max_per_address >= 0 && n > (uint32_t)s->max_per_address);
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* The loop a new connection goes to: the one serving the fewest (w itself
 * among equals), counted for it at once. A loop serves its connections'
 * requests one at a time, and a request may wait on the database: the loop
 * that wakes first must not take a whole burst of new connections (a
 * client's 16 at once all on one loop ran them one after another while the
 * other loops idled). */
static qhttp_worker *qhttp_least_loaded(qhttp_worker *w)
{
    qhttp *s = w->s;
    qhttp_worker *best = w;
    unsigned least = atomic_load(&w->load);
    unsigned ready = atomic_load(&s->ready);
    for (unsigned i = 0; i < ready && least; i++) {
        unsigned n = atomic_load(&s->workers[i].load);
        if (n < least) {
            least = n;
            best = &s->workers[i];
        }
    }
    atomic_fetch_add(&best->load, 1);
    return best;
}

static void qhttp_accept(qhttp_worker *w)
{
    qhttp *s = w->s;
    for (int i = 0; i < QHTTP_ACCEPT_BATCH; i++) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                QLOG_W("http", "accept: %s", strerror(errno));
            return;
        }
        char addr[QADDR_STRLEN] = "?";
        if (sa.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, addr, sizeof addr);
        else if (sa.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, addr, sizeof addr);
        bool over = false;
        if (!qhttp_admit(s, addr, &over)) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        qhttp_worker *t = qhttp_least_loaded(w);
        qhttp_conn *c = qhttp_conn_new(t, fd, addr, over);
        if (t == w) {
            qhttp_conn_adopt(c);
            continue;
        }
        pthread_mutex_lock(&t->lock);
        c->resume_next = t->arrivals;
        t->arrivals = c;
        pthread_mutex_unlock(&t->lock);
        qhttp_worker_wake(t);
    }
}

/* Adopts the connections other loops accepted for w. */
static void qhttp_run_arrivals(qhttp_worker *w)
{
    pthread_mutex_lock(&w->lock);
    qhttp_conn *c = w->arrivals;
    w->arrivals = NULL;
    pthread_mutex_unlock(&w->lock);
    while (c) {
        qhttp_conn *next = c->resume_next;
        c->resume_next = NULL;
        qhttp_conn_adopt(c);
        c = next;
    }
}

/* Runs the resumes queued by qhttp_resume. */
static void qhttp_run_resumes(qhttp_worker *w)
{
    for (;;) {
        pthread_mutex_lock(&w->lock);
        qhttp_conn *c = w->resumes;
        if (c) {
            w->resumes = c->resume_next;
            c->queued = false;
            c->suspended = false;
        }
        pthread_mutex_unlock(&w->lock);
        if (!c)
            return;
        qhttp_conn_resume(c);
    }
}

static void qhttp_tick(qhttp_worker *w)
{
    uint64_t v;
    ssize_t n = read(w->timer, &v, sizeof v);
    (void)n;
    uint64_t now = qhv_now_us();
    for (qhttp_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        qhttp_conn_tick(c, now);
    }
}

static void *qhttp_loop(void *arg)
{
    qhttp_worker *w = arg;
    struct epoll_event evs[64];
    while (!atomic_load(&w->s->stopping)) {
        int n = epoll_wait(w->ep, evs, 64, -1);
        bool wake = false, tick = false;
        for (int i = 0; i < n && !atomic_load(&w->s->stopping); i++) {
            void *p = evs[i].data.ptr;
            if (p == &qhttp_tag_listen)
                qhttp_accept(w);
            else if (p == &qhttp_tag_wake)
                wake = true;
            else if (p == &qhttp_tag_timer)
                tick = true;
            else
                qhttp_conn_run(p, evs[i].events);
        }
        /* After the batch: resumes and the timer close connections that may
         * have events further on in it. */
        if (wake && !atomic_load(&w->s->stopping)) {
            /* Read before the queues are: what is queued after it wakes
             * the loop again. */
            uint64_t v;
            ssize_t r = read(w->wake, &v, sizeof v);
            (void)r;
            qhttp_run_arrivals(w);
            qhttp_run_resumes(w);
        }
        if (tick && !atomic_load(&w->s->stopping))
            qhttp_tick(w);
    }
    return NULL;
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
 * sixteenth of the limit (16 to 256); connections are closed unanswered only
 * beyond it. */
static void qhttp_set_limits(qhttp *s, const qhttp_config *cfg)
{
    s->header_timeout_us = (uint64_t)(cfg->header_timeout_s ? cfg->header_timeout_s : 10) *
                           1000000u;
    s->max_header_size = cfg->max_header_size ? cfg->max_header_size : 32768;
    s->max_per_address = cfg->max_per_address ? cfg->max_per_address : 512;
    unsigned want = cfg->max_connections ? cfg->max_connections : 8192;
    unsigned reserve = want / 16 < 16 ? 16 : want / 16 > 256 ? 256 : want / 16;
    unsigned fit = qhttp_fit_connections(want + reserve);
    s->max_connections = fit >= want + reserve ? want : fit - fit / 17;
    s->hard_limit = fit >= want + reserve ? want + reserve : fit;
}

/* A listening socket on cfg's address; -1 with e. */
static int qhttp_listen(const qhttp_config *cfg, int *port, qerr *e)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (inet_pton(AF_INET, cfg->host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)cfg->port);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, cfg->host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)cfg->port);
        sl = sizeof(struct sockaddr_in6);
    } else {
        qerr_set(e, QE_INTERNAL, "bind_host '%s' is not a numeric IPv4 or IPv6 address",
                 cfg->host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ss.ss_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        qerr_set(e, QE_INTERNAL, "cannot listen on %s:%d: %s", cfg->host, cfg->port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static bool qhttp_worker_init(qhttp *s, qhttp_worker *w)
{
    w->s = s;
    pthread_mutex_init(&w->lock, NULL);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->ep < 0 || w->wake < 0 || w->timer < 0)
        return false;
    struct itimerspec its = {{0, QHTTP_TICK_MS * 1000000L}, {0, QHTTP_TICK_MS * 1000000L}};
    timerfd_settime(w->timer, 0, &its, NULL);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &qhttp_tag_listen};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0)
        return false;
    ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &qhttp_tag_wake};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake, &ev) < 0)
        return false;
    ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &qhttp_tag_timer};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->timer, &ev) < 0)
        return false;
    w->started = pthread_create(&w->thread, NULL, qhttp_loop, w) == 0;
    return w->started;
}

qhttp *qhttp_start(const qhttp_config *cfg, qhttp_handler h, void *ctx, qerr *e)
{
    qhttp *s = xcalloc(1, sizeof *s);
    s->handler = h;
    s->ctx = ctx;
    s->max_body = cfg->max_body;
    s->www_authenticate = cfg->www_authenticate;
    s->listen_fd = -1;
    qhttp_set_limits(s, cfg);
    pthread_mutex_init(&s->lock, NULL);
    s->per_addr = qtm_new();
    if (cfg->tls_cert_pem) {
        s->tls = qhttp_tls_new(cfg->tls_cert_pem, cfg->tls_key_pem, cfg->tls_ca_pem, e);
        if (!s->tls) {
            qhttp_stop(s);
            return NULL;
        }
    }
    s->listen_fd = qhttp_listen(cfg, &s->port, e);
    if (s->listen_fd < 0) {
        qhttp_stop(s);
        return NULL;
    }
    s->nworkers = cfg->threads ? cfg->threads : 1;
    s->workers = xcalloc(s->nworkers, sizeof *s->workers);
    for (unsigned i = 0; i < s->nworkers; i++) {
        if (!qhttp_worker_init(s, &s->workers[i])) {
            qerr_set(e, QE_INTERNAL, "cannot start the listener's threads: %s",
                     strerror(errno));
            qhttp_stop(s);
            return NULL;
        }
        atomic_fetch_add(&s->ready, 1);
    }
    return s;
}

void qhttp_stop(qhttp *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    for (unsigned i = 0; i < s->nworkers; i++) {
        qhttp_worker *w = &s->workers[i];
        if (w->started) {
            qhttp_worker_wake(w);
            pthread_join(w->thread, NULL);
        }
    }
    for (unsigned i = 0; i < s->nworkers; i++) {
        qhttp_worker *w = &s->workers[i];
        if (!w->s)
            continue;   /* never set up */
        while (w->conns)
            qhttp_conn_close(w->conns);
        while (w->arrivals) {
            qhttp_conn *c = w->arrivals;
            w->arrivals = c->resume_next;
            qhttp_conn_close(c);
        }
        if (w->ep >= 0)
            close(w->ep);
        if (w->wake >= 0)
            close(w->wake);
        if (w->timer >= 0)
            close(w->timer);
        pthread_mutex_destroy(&w->lock);
    }
    free(s->workers);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    qhttp_tls_free(s->tls);
    qtm_free(s->per_addr);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
