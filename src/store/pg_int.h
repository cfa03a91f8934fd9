/* pg_int: what the PostgreSQL engine's files (pg.c, pg_schema.c,
 * pg_listen.c) share. Private to src/store. */
#ifndef QHV_STORE_PG_INT_H
#define QHV_STORE_PG_INT_H
#include "store/engine.h"
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#define QPG_STMT_CACHE 128
#define QPG_MAX_LEADS 8
/* Advisory lock keys (two int4s: a class for qhv, then what). */
#define QPG_LOCK_CLASS 7432310      /* writes (1) and migrations (2) */
#define QPG_LOCK_WRITE 1
#define QPG_LOCK_MIGRATE 2
#define QPG_LOCK_DUTY_CLASS 7432311 /* duties: hashtext(name) */
#define QPG_CHANNEL "qhv_changes"
#define QPG_STR_(x) #x
#define QPG_STR(x) QPG_STR_(x)

typedef struct qpg qpg;
typedef struct qpg_st qpg_st;
typedef struct qpg_listener qpg_listener;

/* One thread's connection. */
typedef struct qpg_conn {
    qpg *s;
    PGconn *pg;
    time_t born;
    bool broken;      /* lost: reconnected at its next use outside a transaction */
    bool in_tx;
    bool commit_unknown;  /* its last COMMIT was sent but not answered */
    bool down_said;       /* the failure to reconnect is logged */
    /* SQL left for the COMMIT to send, in its round trip: the revision's
     * bump and the change record (qstore_bump_revision, qstore_publish). */
    char *at_commit;
    int64_t rev;          /* in a write: the revision read at BEGIN, plus its bumps */
    bool bumped;          /* rev was bumped: its UPDATE waits in at_commit */
    unsigned gen;     /* bumped at every (re)connect: cached statements re-prepare */
    unsigned nextname;
    struct { const char *sql; qpg_st *st; } cache[QPG_STMT_CACHE];
    size_t ncache;
    char *leads[QPG_MAX_LEADS];   /* duties whose session lock this connection holds */
    int nleads;
    /* The last failure on it, for qstore_fail. */
    char sqlstate[6];
    char msg[512];
    struct qpg_conn *next;
} qpg_conn;

struct qpg {
    qstore base;
    char *conninfo;        /* a postgresql:// URI libpq parses */
    char *where;           /* host:port/dbname */
    int max_conns;         /* max_pool_size + max_overflow */
    int recycle;           /* seconds; 0: never */
    pthread_key_t key;
    pthread_mutex_t write_lock;
    pthread_mutex_t list_lock;
    qpg_conn *conns;
    int nconns;
    int schema_version;
    char server[33];       /* this process, in the table of changes */
    qpg_listener *listener;
};

/* A new connection to s's database, NULL with why (size n) when it fails.
 * Owned by the caller (PQfinish). Notices go to the log, not stderr. */
PGconn *qpg_connect(const qpg *s, char *why, size_t n);
/* PostgreSQL's message of r (or of pg when r is NULL) on one line. */
void qpg_message(PGconn *pg, const PGresult *r, char *out, size_t n);

/* Schema (pg_schema.c): migrates (with migrate) or checks the database on
 * pg under a session advisory lock; *version is the version it ends at. */
int qpg_schema_sync(PGconn *pg, bool migrate, int *version, qerr *e);
int qpg_schema_target(void);

/* The listener (pg_listen.c). */
int qpg_listen_start(qpg *s, void (*fn)(void *, int64_t, const char *), void *arg, qerr *e);
void qpg_listen_stop(qpg *s);

#endif
