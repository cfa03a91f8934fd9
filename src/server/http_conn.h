/* http_conn: the listener's insides shared by server/http.c (listener,
 * loops, limits) and http_conn.c (one connection: TLS, reading, parsing,
 * calling the handler, writing answers in order). Private to the listener.
 *
 * Ownership: a connection belongs to the loop (worker) it was given to at
 * accept (the one serving the fewest connections, not always the one that
 * accepted it) and is touched only by that loop's thread, except for
 * suspended/resume_next, which the worker's lock guards (qhttp_resume and
 * the hand-over at accept come from other threads). */
#ifndef QHV_SERVER_HTTP_CONN_H
#define QHV_SERVER_HTTP_CONN_H
#include <pthread.h>
#include <stdatomic.h>
#include "lib/addr.h"
#include "lib/textmap.h"
#include "server/http.h"
#include "server/http_parse.h"
#include "server/http_tls.h"

typedef struct qhttp_conn qhttp_conn;

typedef struct qhttp_worker {
    qhttp *s;
    int ep;                     /* epoll: the listening socket, wake, timer, connections */
    int wake;                   /* eventfd: resumes are queued, or the server stops */
    int timer;                  /* timerfd: header timeouts and lingering closes */
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;       /* resumes, and every connection's suspended flag */
    qhttp_conn *resumes;        /* queued by qhttp_resume */
    qhttp_conn *arrivals;       /* accepted by another loop for this one, under lock */
    qhttp_conn *conns;          /* all of the worker's (worker thread only) */
    atomic_uint load;           /* connections given to it and not yet closed */
} qhttp_worker;

struct qhttp {
    qhttp_handler handler;
    void *ctx;
    size_t max_body;
    int port;
    int listen_fd;
    void (*slot_free)(void *slot);
    void (*slot_gone)(void *slot);
    const char *www_authenticate;
    qhttp_tls *tls;
    uint64_t header_timeout_us;
    unsigned max_connections;   /* served; up to hard_limit more are answered 503 */
    unsigned hard_limit;        /* beyond it connections are closed unanswered */
    int max_per_address;        /* -1 = no limit */
    size_t max_header_size;
    atomic_bool stopping;
    /* Connections and their count per address (4-byte counts), under lock. */
    pthread_mutex_t lock;
    unsigned nconns;
    qtm *per_addr;
    qhttp_worker *workers;
    unsigned nworkers;
    atomic_uint ready;          /* workers[0, ready) run: a connection may go to them */
};

typedef enum {
    QHTTP_HEAD,                 /* reading a request head, since since_us */
    QHTTP_BODY,                 /* reading its body */
    QHTTP_LINGER,               /* answered and closing: reading what is left */
} qhttp_phase;

struct qhttp_conn {
    qhttp_worker *w;
    int fd;
    char addr[QADDR_STRLEN];
    void *tls;                  /* GnuTLS session, or NULL */
    bool handshaken;
    bool over;                  /* beyond a limit: its request is answered 503 */
    qhttp_phase phase;
    uint64_t since_us;          /* start of the phase (header timeout, linger) */
    /* Bytes read and not yet consumed: the current request's head at
     * in[0, head.pos), then its unread body and later requests from body_at. */
    char *in;
    size_t in_len, in_cap, body_at;
    qhp_head head;
    qhp_chunked chunk;
    uint64_t body_left;
    qbuf body;
    /* The current request, once its head is parsed. */
    char *text;                 /* a copy of the head with NULs: its strings */
    qhttp_field *fields;
    struct { const char *key, *value; } *query;
    size_t nquery;
    const char *method, *path;
    uint64_t start_us;
    char who[QHTTP_WHO_LEN];
    void *slot;
    bool suspended;             /* under w->lock */
    bool queued;                /* on w->resumes, under w->lock */
    bool hup;                   /* epoll has reported the client's close (or an error) */
    bool gone;                  /* its client closed while it was suspended */
    bool closing;               /* close once the answers are out */
    bool adopted;               /* on w->conns and registered with w->ep */
    /* Answers not yet written. */
    qbuf out;
    size_t out_off;
    qhttp_conn *prev, *next;
    qhttp_conn *resume_next;    /* on w->resumes, or on w->arrivals before adoption */
};

/* A NeutronError body with any status (some of the listener's own have no
 * qerr code). */
void qhttp_error_body(qhttp_resp *resp, int status, const char *type, const char *msg,
                      const char *detail);

/* Wakes w's loop (its eventfd): queued resumes or arrivals, or stopping. */
void qhttp_worker_wake(qhttp_worker *w);
/* A connection accepted on fd (already counted) for w, not yet adopted:
 * may be called from another loop's thread. */
qhttp_conn *qhttp_conn_new(qhttp_worker *w, int fd, const char *addr, bool over);
/* On w's thread: c joins w's connections and epoll set, and runs (or is
 * closed if it cannot be registered). */
void qhttp_conn_adopt(qhttp_conn *c);
/* Runs the connection as far as it can go without blocking (epoll events
 * on its socket, or a resume). May close it. */
void qhttp_conn_run(qhttp_conn *c, uint32_t events);
/* A queued resume: calls the handler again. */
void qhttp_conn_resume(qhttp_conn *c);
/* The timer: header timeout, lingering close. May close it. */
void qhttp_conn_tick(qhttp_conn *c, uint64_t now_us);
/* Closes and frees (the slot goes to slot_free; the count is released). */
void qhttp_conn_close(qhttp_conn *c);

#endif
