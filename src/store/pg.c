/* pg: the PostgreSQL engine of the store (store.h), through libpq. Each
 * thread has its own connection, counted against max_pool_size +
 * max_overflow (the listener's own session is not) and given back when the
 * thread ends; statements are rewritten once (pg_sql.h) and prepared
 * server-side once per connection; writes are serialised by a process mutex
 * and, across every server on the database, by a transaction-scoped
 * advisory lock taken with BEGIN (writes never wait on each other's rows,
 * so READ COMMITTED under that lock is exact and never fails to serialise).
 * The lock is held through a COMMIT that does not wait for the disk; each
 * write then waits for its WAL to be flushed outside the lock, so that
 * concurrent writes share flushes and none is acknowledged before it is
 * durable (qpg_durable).
 * A lost connection is reconnected at its thread's next use outside a
 * transaction (a BEGIN that finds its session gone reconnects and retries
 * at once), so the server recovers by itself when the database is back.
 * Schema: pg_schema.c; other servers' commits: pg_listen.c. */
#include "store/pg_int.h"
#include "store/pg_sql.h"
#include "lib/log.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QPG_OID_TEXT 25

typedef struct qpg_param {
    const char *v;      /* NULL: SQL NULL */
    int len;
    int fmt;            /* 0 text, 1 binary (blobs, bytea) */
    qstore_dtor dtor;   /* called at reset (copies: free) */
    char num[24];       /* an integer's decimal text */
} qpg_param;

struct qpg_st {
    qstmt base;
    qpg_conn *c;
    char name[16];      /* server-side name; "" for one-offs (PQexecParams) */
    unsigned gen;       /* c->gen it was prepared in (0: not yet) */
    char *sql;
    int np;
    Oid *types;
    qpg_param *p;
    const char **vals;
    int *lens;
    int *fmts;
    PGresult *res;
    int row;
    int nrows;
    /* Decoded bytea values of the current row, per column. */
    unsigned char **blobs;
    size_t *bloblens;
    int nblobs;
};

static const qstore_engine qpg_engine;

static const char qpg_sql_rev[] = "SELECT value FROM meta WHERE key='revision'";

/* ---------- connections ---------- */

static void qpg_notice(void *arg, const char *msg)
{
    (void)arg;
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        n--;
    QLOG_D("store", "PostgreSQL: %.*s", (int)n, msg);
}

void qpg_message(PGconn *pg, const PGresult *r, char *out, size_t n)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m && r)
        m = PQresultErrorMessage(r);
    if ((!m || !*m) && pg)
        m = PQerrorMessage(pg);
    snprintf(out, n, "%s", m && *m ? m : "unknown failure");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    size_t l = strlen(out);
    while (l && out[l - 1] == ' ')
        out[--l] = '\0';
}

PGconn *qpg_connect(const qpg *s, char *why, size_t n)
{
    /* Defaults the URI may override (it comes last): a database host that
     * vanished is noticed in seconds, not after the system's TCP timeouts
     * (minutes to hours); a server that hangs or is cut off inside a
     * transaction loses its session after a minute, and with it the write
     * lock every other server waits for (our transactions take
     * milliseconds); the sessions say who they are in pg_stat_activity. */
    static const char *const keys[] = {"connect_timeout", "keepalives_idle",
                                       "keepalives_interval", "keepalives_count",
                                       "tcp_user_timeout", "options",
                                       "fallback_application_name", "dbname", NULL};
    const char *vals[] = {"10", "10", "5", "3", "30000",
                          "-c idle_in_transaction_session_timeout=60000", "qhv-server",
                          s->conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        qpg_message(pg, NULL, why, n);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, qpg_notice, NULL);
    return pg;
}

/* The SQLSTATEs of a database that cannot be reached: connection
 * exceptions, shutdown, too many connections. */
static bool qpg_state_lost(const char *st)
{
    return !strncmp(st, "08", 2) || !strcmp(st, "57P01") || !strcmp(st, "57P02") ||
           !strcmp(st, "57P03") || !strcmp(st, "53300");
}

/* Remembers the failure r (NULL: the connection's) on c for qstore_fail;
 * the QSTORE_ code it is. */
static int qpg_note(qpg_conn *c, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!st)
        st = !c->pg || PQstatus(c->pg) != CONNECTION_OK ? "08006" : "XX000";
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", st);
    qpg_message(c->pg, r, c->msg, sizeof c->msg);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK || qpg_state_lost(c->sqlstate))
        c->broken = true;
    return !strncmp(c->sqlstate, "23", 2) ? QSTORE_CONSTRAINT : QSTORE_ERROR;
}

static void qpg_lost(qpg_conn *c, const char *why)
{
    snprintf(c->sqlstate, sizeof c->sqlstate, "08006");
    snprintf(c->msg, sizeof c->msg, "%s", why);
    c->broken = true;
}

static void qpg_st_free(qpg_st *st);

static void qpg_drop_leads(qpg_conn *c)
{
    for (int i = 0; i < c->nleads; i++)
        free(c->leads[i]);
    c->nleads = 0;
}

static void qpg_conn_free(qpg_conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ncache; i++)
        qpg_st_free(c->cache[i].st);
    qpg_drop_leads(c);
    if (c->pg)
        PQfinish(c->pg);
    free(c->at_commit);
    free(c);
}

/* A thread ends: its connection frees its place in the pool. */
static void qpg_thread_exit(void *p)
{
    qpg_conn *c = p;
    qpg *s = c->s;
    pthread_mutex_lock(&s->list_lock);
    for (qpg_conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            s->nconns--;
            break;
        }
    }
    pthread_mutex_unlock(&s->list_lock);
    qpg_conn_free(c);
}

/* Replaces c's session (lost, or older than connection_recycle_time): its
 * prepared statements and advisory locks went with it. */
static int qpg_reconnect(qpg *s, qpg_conn *c, qerr *e)
{
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    qpg_drop_leads(c);
    c->gen++;
    char why[512];
    c->pg = qpg_connect(s, why, sizeof why);
    if (!c->pg) {
        qpg_lost(c, why);
        /* Once per outage and thread, not at every request while it lasts. */
        if (!c->down_said)
            QLOG_W("store", "PostgreSQL at %s: cannot connect: %s", s->where, why);
        c->down_said = true;
        qerr_set(e, QE_STORAGE, "The database is unavailable (%s). The request changed "
                                "nothing; retry.", why);
        return -1;
    }
    if (c->down_said)
        QLOG_I("store", "PostgreSQL at %s: connected again", s->where);
    c->down_said = false;
    c->born = time(NULL);
    c->broken = false;
    return 0;
}

/* This thread's connection, made, replaced or reconnected as needed (never
 * inside a transaction). NULL with e set. */
static qpg_conn *qpg_conn_get(qpg *s, qerr *e)
{
    qpg_conn *c = pthread_getspecific(s->key);
    if (c) {
        if (c->in_tx)
            return c;
        bool old = s->recycle > 0 && time(NULL) - c->born >= s->recycle;
        if ((c->broken || old || !c->pg || PQstatus(c->pg) != CONNECTION_OK) &&
            qpg_reconnect(s, c, e) < 0)
            return NULL;
        return c;
    }
    pthread_mutex_lock(&s->list_lock);
    bool full = s->max_conns > 0 && s->nconns >= s->max_conns;
    if (!full)
        s->nconns++;
    int n = s->nconns;
    pthread_mutex_unlock(&s->list_lock);
    if (full) {
        QLOG_E("store", "PostgreSQL: %d connections open, no more allowed", n);
        qerr_set(e, QE_STORAGE, "The database is unavailable (this server may hold only %d "
                                "connections: [database] max_pool_size + max_overflow; raise "
                                "them). The request changed nothing; retry.", s->max_conns);
        return NULL;
    }
    c = xcalloc(1, sizeof *c);
    c->s = s;
    c->gen = 1;
    if (qpg_reconnect(s, c, e) < 0) {
        pthread_mutex_lock(&s->list_lock);
        s->nconns--;
        pthread_mutex_unlock(&s->list_lock);
        qpg_conn_free(c);
        return NULL;
    }
    pthread_mutex_lock(&s->list_lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->list_lock);
    pthread_setspecific(s->key, c);
    return c;
}

/* ---------- statements ---------- */

static void qpg_param_clear(qpg_param *p)
{
    if (p->v && p->dtor && p->dtor != QSTORE_TRANSIENT)
        p->dtor((void *)p->v);
    memset(p, 0, sizeof *p);
}

static void qpg_blobs_clear(qpg_st *st)
{
    for (int i = 0; i < st->nblobs; i++) {
        free(st->blobs[i]);
        st->blobs[i] = NULL;
    }
}

static void qpg_reset(qstmt *b)
{
    qpg_st *st = (qpg_st *)b;
    PQclear(st->res);
    st->res = NULL;
    st->row = st->nrows = 0;
    qpg_blobs_clear(st);
    for (int i = 0; i < st->np; i++)
        qpg_param_clear(&st->p[i]);
}

static void qpg_st_free(qpg_st *st)
{
    if (!st)
        return;
    qpg_reset(&st->base);
    free(st->blobs);
    free(st->bloblens);
    free(st->sql);
    free(st->types);
    free(st->p);
    free(st->vals);
    free(st->lens);
    free(st->fmts);
    free(st);
}

/* A statement for sql on c; NULL with e set when sql cannot be rewritten. */
static qpg_st *qpg_st_new(qpg_conn *c, const char *sql, bool named, qerr *e)
{
    qpg_sql r;
    if (qpg_sql_rewrite(sql, &r) < 0) {
        QLOG_E("store", "cannot rewrite for PostgreSQL: %s", sql);
        qerr_set(e, QE_INTERNAL, "Request Failed: internal server error while processing your "
                                 "request.");
        return NULL;
    }
    qpg_st *st = xcalloc(1, sizeof *st);
    st->base.eng = &qpg_engine;
    st->c = c;
    st->sql = r.sql;
    st->np = r.nparams;
    size_t np = st->np ? (size_t)st->np : 1;
    st->types = xcalloc(np, sizeof *st->types);
    st->p = xcalloc(np, sizeof *st->p);
    st->vals = xcalloc(np, sizeof *st->vals);
    st->lens = xcalloc(np, sizeof *st->lens);
    st->fmts = xcalloc(np, sizeof *st->fmts);
    /* Used ones: PostgreSQL infers their types; an unused one cannot be
     * inferred and is declared text (the model binds some it skips). */
    for (int i = 0; i < st->np; i++)
        st->types[i] = r.used & (UINT64_C(1) << i) ? 0 : QPG_OID_TEXT;
    if (named)
        snprintf(st->name, sizeof st->name, "q%u", ++c->nextname);
    return st;
}

static qstmt *qpg_stmt(qstore *base, const char *sql, qerr *e)
{
    qpg *s = (qpg *)base;
    qpg_conn *c = qpg_conn_get(s, e);
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->ncache; i++) {
        if (c->cache[i].sql == sql) {
            qpg_reset(&c->cache[i].st->base);
            return &c->cache[i].st->base;
        }
    }
    if (c->ncache == QPG_STMT_CACHE) {
        /* A programming error (too many distinct statements). */
        QLOG_E("store", "statement cache full; raise QPG_STMT_CACHE");
        abort();
    }
    qpg_st *st = qpg_st_new(c, sql, true, e);
    if (!st)
        return NULL;
    c->cache[c->ncache].sql = sql;
    c->cache[c->ncache++].st = st;
    return &st->base;
}

static qstmt *qpg_prepare(qstore *base, const char *sql, qerr *e)
{
    qpg_conn *c = qpg_conn_get((qpg *)base, e);
    if (!c)
        return NULL;
    qpg_st *st = qpg_st_new(c, sql, false, e);
    return st ? &st->base : NULL;
}

static void qpg_finalize(qstmt *st) { qpg_st_free((qpg_st *)st); }

/* The parameter i (from 1) to bind, or NULL when the statement does not
 * have it (then the value's destructor runs now). */
static qpg_param *qpg_param_at(qstmt *b, int i, const void *v, qstore_dtor how)
{
    qpg_st *st = (qpg_st *)b;
    if (i < 1 || i > st->np) {
        if (v && how && how != QSTORE_TRANSIENT)
            how((void *)v);
        return NULL;
    }
    qpg_param *p = &st->p[i - 1];
    qpg_param_clear(p);
    return p;
}

static void qpg_bind_text(qstmt *b, int i, const char *v, int n, qstore_dtor how)
{
    qpg_param *p = qpg_param_at(b, i, v, how);
    if (!p || !v)
        return;
    if (n < 0 && how != QSTORE_TRANSIENT) {
        p->v = v;
        p->dtor = how;
        return;
    }
    /* Copied: transient, or a length (libpq wants text NUL-terminated). */
    size_t len = n < 0 ? strlen(v) : (size_t)n;
    char *copy = xmalloc(len + 1);
    memcpy(copy, v, len);
    copy[len] = '\0';
    if (how && how != QSTORE_TRANSIENT)
        how((void *)v);
    p->v = copy;
    p->dtor = free;
}

static void qpg_bind_blob(qstmt *b, int i, const void *v, int n, qstore_dtor how)
{
    qpg_param *p = qpg_param_at(b, i, v, how);
    if (!p || !v)
        return;
    if (how == QSTORE_TRANSIENT) {
        char *copy = xmalloc(n > 0 ? (size_t)n : 1);
        memcpy(copy, v, n > 0 ? (size_t)n : 0);
        p->v = copy;
        p->dtor = free;
    } else {
        p->v = v;
        p->dtor = how;
    }
    p->len = n > 0 ? n : 0;
    p->fmt = 1;
}

static void qpg_bind_int64(qstmt *b, int i, int64_t v)
{
    qpg_param *p = qpg_param_at(b, i, NULL, QSTORE_STATIC);
    if (!p)
        return;
    snprintf(p->num, sizeof p->num, "%lld", (long long)v);
    p->v = p->num;
}

static void qpg_bind_null(qstmt *b, int i) { qpg_param_at(b, i, NULL, QSTORE_STATIC); }

/* Runs the statement (preparing it on its connection first if needed);
 * QSTORE_DONE when it ran. */
static int qpg_execute(qpg_st *st)
{
    qpg_conn *c = st->c;
    if (c->broken || !c->pg) {
        if (!c->sqlstate[0])
            qpg_lost(c, "the connection to the database was lost");
        return QSTORE_ERROR;
    }
    for (int i = 0; i < st->np; i++) {
        st->vals[i] = st->p[i].v;
        st->lens[i] = st->p[i].len;
        st->fmts[i] = st->p[i].fmt;
    }
    PGresult *r;
    if (st->name[0]) {
        if (st->gen != c->gen) {
            r = PQprepare(c->pg, st->name, st->sql, st->np, st->types);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                int rc = qpg_note(c, r);
                QLOG_D("store", "prepare failed: %s", st->sql);
                PQclear(r);
                return rc;
            }
            PQclear(r);
            st->gen = c->gen;
        }
        r = PQexecPrepared(c->pg, st->name, st->np, st->vals, st->lens, st->fmts, 0);
    } else {
        r = PQexecParams(c->pg, st->sql, st->np, st->types, st->vals, st->lens, st->fmts, 0);
    }
    ExecStatusType x = PQresultStatus(r);
    if (x != PGRES_TUPLES_OK && x != PGRES_COMMAND_OK) {
        int rc = qpg_note(c, r);
        PQclear(r);
        return rc;
    }
    st->res = r;
    st->row = -1;
    st->nrows = PQntuples(r);
    int nf = PQnfields(r);
    if (nf > st->nblobs) {
        qpg_blobs_clear(st);
        free(st->blobs);
        free(st->bloblens);
        st->blobs = xcalloc((size_t)nf, sizeof *st->blobs);
        st->bloblens = xcalloc((size_t)nf, sizeof *st->bloblens);
        st->nblobs = nf;
    }
    return QSTORE_DONE;
}

static int qpg_step(qstmt *b)
{
    qpg_st *st = (qpg_st *)b;
    if (!st->res) {
        int rc = qpg_execute(st);
        if (rc != QSTORE_DONE)
            return rc;
    }
    qpg_blobs_clear(st);
    if (st->row + 1 < st->nrows) {
        st->row++;
        return QSTORE_ROW;
    }
    st->row = st->nrows;
    return QSTORE_DONE;
}

static bool qpg_has(qpg_st *st, int col)
{
    return st->res && st->row >= 0 && st->row < st->nrows && col >= 0 &&
           col < PQnfields(st->res) && !PQgetisnull(st->res, st->row, col);
}

static bool qpg_column_null(qstmt *b, int col) { return !qpg_has((qpg_st *)b, col); }

static const char *qpg_column_text(qstmt *b, int col)
{
    qpg_st *st = (qpg_st *)b;
    return qpg_has(st, col) ? PQgetvalue(st->res, st->row, col) : NULL;
}

static int64_t qpg_column_int64(qstmt *b, int col)
{
    const char *v = qpg_column_text(b, col);
    if (!v)
        return 0;
    if (*v == 't')    /* a boolean: t (true) */
        return 1;
    if (*v == 'f')
        return 0;
    return strtoll(v, NULL, 10);
}

/* Decodes column col of a bytea into the statement's buffer of that column
 * (kept until the next step or reset). */
static const unsigned char *qpg_bytea(qpg_st *st, int col, size_t *len)
{
    *len = 0;
    if (!qpg_has(st, col))
        return NULL;
    if (st->blobs[col]) {
        *len = st->bloblens[col];
        return st->blobs[col];
    }
    size_t n = 0;
    unsigned char *v = PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->row, col),
                                       &n);
    if (!v)
        return NULL;
    /* Ours, to free with free(): libpq's is freed with PQfreemem. */
    unsigned char *copy = xmalloc(n ? n : 1);
    memcpy(copy, v, n);
    PQfreemem(v);
    st->blobs[col] = copy;
    st->bloblens[col] = n;
    *len = n;
    return copy;
}

static const void *qpg_column_blob(qstmt *b, int col)
{
    qpg_st *st = (qpg_st *)b;
    size_t n;
    if (st->res && col >= 0 && col < PQnfields(st->res) && PQftype(st->res, col) != 17)
        return qpg_column_text(b, col);
    return qpg_bytea(st, col, &n);
}

static int qpg_column_bytes(qstmt *b, int col)
{
    qpg_st *st = (qpg_st *)b;
    if (!qpg_has(st, col))
        return 0;
    if (PQftype(st->res, col) != 17)
        return PQgetlength(st->res, st->row, col);
    size_t n;
    qpg_bytea(st, col, &n);
    return (int)n;
}

/* ---------- transactions ---------- */

/* Runs sql (no parameters) on c; 0, or -1 with the failure noted on c.
 * With v, the result (of sql's last statement) must be one non-negative
 * bigint, stored there. */
static int qpg_exec_value(qpg_conn *c, const char *sql, ExecStatusType want, int64_t *v)
{
    if (!c->pg || c->broken) {
        qpg_lost(c, "the connection to the database was lost");
        return -1;
    }
    PGresult *r = PQexec(c->pg, sql);
    int rc = PQresultStatus(r) == want ? 0 : -1;
    if (rc < 0) {
        qpg_note(c, r);
    } else if (v) {
        char *end = NULL;
        const char *t = PQntuples(r) == 1 && PQnfields(r) == 1 ? PQgetvalue(r, 0, 0) : "";
        long long n = strtoll(t, &end, 10);
        if (!*t || *end || n < 0) {
            snprintf(c->sqlstate, sizeof c->sqlstate, "XX000");
            snprintf(c->msg, sizeof c->msg, "no revision in the database (table meta)");
            rc = -1;
        }
        *v = n;
    }
    PQclear(r);
    return rc;
}

static int qpg_exec(qpg_conn *c, const char *sql, ExecStatusType want)
{
    return qpg_exec_value(c, sql, want, NULL);
}

static int qpg_fail(qstore *base, qerr *e, const char *what);

/* Ends whatever transaction c's session is in (after a failure). */
static void qpg_abandon(qpg_conn *c)
{
    if (c->pg && !c->broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->pg, "ROLLBACK");
        PQclear(r);
    }
    c->in_tx = false;
    c->rev = -1;
    c->bumped = false;
    free(c->at_commit);
    c->at_commit = NULL;
}

/* BEGIN (sql) on this thread's connection; a session found lost at BEGIN
 * is replaced once, since nothing was done in it yet. With rev, sql's last
 * statement gives one bigint, stored there. */
static int qpg_begin(qpg *s, const char *sql, ExecStatusType want, int64_t *rev, qerr *e)
{
    qpg_conn *c = qpg_conn_get(s, e);
    if (!c)
        return -1;
    if (c->in_tx) {
        QLOG_E("store", "BEGIN inside a transaction");
        return qerr_set(e, QE_INTERNAL, "Request Failed: internal server error while "
                                        "processing your request.");
    }
    for (int attempt = 0;; attempt++) {
        if (qpg_exec_value(c, sql, want, rev) == 0) {
            c->in_tx = true;
            c->rev = rev ? *rev : -1;
            c->bumped = false;
            c->sqlstate[0] = c->msg[0] = '\0';
            return 0;
        }
        qpg_abandon(c);
        if (!c->broken || attempt)
            return qpg_fail(&s->base, e, "BEGIN");
        if (qpg_reconnect(s, c, e) < 0)
            return -1;
    }
}

static int qpg_begin_write(qstore *base, qerr *e)
{
    qpg *s = (qpg *)base;
    /* Connected first: no connect attempt holds up the other writers. */
    if (!qpg_conn_get(s, e))
        return -1;
    pthread_mutex_lock(&s->write_lock);
    /* synchronous_commit off for the write itself: its COMMIT returns, and
     * releases the lock the next writer waits for, without waiting for the
     * WAL to reach the disk; qpg_commit_then then waits for that outside
     * the lock, so concurrent writes share one flush (group commit) and
     * nothing is acknowledged before it is durable.
     * The revision is read in the same round trip, once the lock is held
     * (a statement of its own: READ COMMITTED gives it a snapshot taken
     * after the lock was granted), so that qpg_bump_revision needs none:
     * under the lock nobody else changes it. */
    static const char sql[] = "BEGIN; SET LOCAL synchronous_commit = off; "
                              "SELECT pg_advisory_xact_lock(" QPG_STR(QPG_LOCK_CLASS)
                              ", " QPG_STR(QPG_LOCK_WRITE) "); "
                              "SELECT value FROM meta WHERE key='revision'";
    int64_t rev = -1;
    if (qpg_begin(s, sql, PGRES_TUPLES_OK, &rev, e) < 0) {
        pthread_mutex_unlock(&s->write_lock);
        return -1;
    }
    return 0;
}

/* Waits until the WAL of the write just committed (without waiting: see
 * qpg_begin_write) is on disk: a transaction that has an id and wrote WAL
 * (a one-record logical message: no table, no lock) commits synchronously,
 * and PostgreSQL flushes the WAL up to its commit record, ours included;
 * writers waiting at once are flushed together. (An id alone is not
 * enough: a transaction that wrote no WAL commits without a flush.) On failure
 * the write is visible but may not survive a crash of the database: said
 * as such (commit_unknown), never as "changed nothing". */
static int qpg_durable(qpg_conn *c)
{
    PGresult *r = PQexec(c->pg, "BEGIN; SELECT txid_current(), "
                                "pg_logical_emit_message(false, 'qhv-flush', ''); COMMIT");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT") ? 0 : -1;
    if (rc < 0) {
        qpg_note(c, r);
        c->commit_unknown = true;
        qpg_abandon(c);
    }
    PQclear(r);
    return rc;
}

static int qpg_commit_then(qstore *base, void (*after)(void *arg), void *arg, qerr *e)
{
    qpg *s = (qpg *)base;
    qpg_conn *c = pthread_getspecific(s->key);
    int rc = -1;
    if (c && c->pg && !c->broken) {
        char *sql = c->at_commit ? xasprintf("%sCOMMIT", c->at_commit) : NULL;
        PGresult *r = PQexec(c->pg, sql ? sql : "COMMIT");
        free(sql);
        if (PQresultStatus(r) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(r), "COMMIT")) {
            rc = 0;
        } else if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            /* COMMIT of a failed transaction says ROLLBACK. */
            if (!c->sqlstate[0] || !strcmp(c->sqlstate, "00000"))
                snprintf(c->sqlstate, sizeof c->sqlstate, "25P02");
            snprintf(c->msg, sizeof c->msg, "the transaction was rolled back");
        } else {
            qpg_note(c, r);
            /* Sent, and the session lost before the answer: PostgreSQL may
             * have committed it. Said so, not "changed nothing". */
            c->commit_unknown = c->broken;
        }
        PQclear(r);
    } else if (c) {
        qpg_lost(c, "the connection to the database was lost");
    }
    if (c) {
        if (rc < 0)
            qpg_abandon(c);
        c->in_tx = false;
        c->rev = -1;
        c->bumped = false;
        free(c->at_commit);
        c->at_commit = NULL;
    }
    if (rc == 0 && after)
        after(arg);
    pthread_mutex_unlock(&s->write_lock);
    if (rc == 0 && qpg_durable(c) < 0)
        rc = -1;
    return rc == 0 ? 0 : qpg_fail(base, e, "COMMIT");
}

static void qpg_rollback(qstore *base)
{
    qpg *s = (qpg *)base;
    qpg_conn *c = pthread_getspecific(s->key);
    if (c)
        qpg_abandon(c);
    pthread_mutex_unlock(&s->write_lock);
}

static int qpg_begin_read(qstore *base, qerr *e)
{
    return qpg_begin((qpg *)base, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                     PGRES_COMMAND_OK, NULL, e);
}

static void qpg_end_read(qstore *base)
{
    qpg_conn *c = pthread_getspecific(((qpg *)base)->key);
    if (!c)
        return;
    if (c->pg && !c->broken && qpg_exec(c, "COMMIT", PGRES_COMMAND_OK) < 0)
        qpg_abandon(c);
    c->in_tx = false;
}

/* The UPDATE goes with the COMMIT, in its round trip (one fewer while the
 * write lock is held): the write read the revision at BEGIN, under the
 * lock, and holds the lock until that COMMIT. */
static int64_t qpg_bump_revision(qstore *base, qerr *e)
{
    qpg *s = (qpg *)base;
    qpg_conn *c = pthread_getspecific(s->key);
    if (!c || !c->in_tx || c->rev < 0) {
        QLOG_E("store", "revision bump outside a write transaction");
        qerr_set(e, QE_INTERNAL, "Request Failed: internal server error while processing your "
                                 "request.");
        return -1;
    }
    char *sql = xasprintf("%sUPDATE meta SET value=value+1 WHERE key='revision'; ",
                          c->at_commit ? c->at_commit : "");
    free(c->at_commit);
    c->at_commit = sql;
    c->bumped = true;
    return ++c->rev;
}

static int64_t qpg_revision(qstore *base)
{
    qpg *s = (qpg *)base;
    qpg_conn *c = pthread_getspecific(s->key);
    /* Inside a write that bumped it, the revision as it will commit (the
     * bump is not sent yet). */
    if (c && c->in_tx && c->bumped)
        return c->rev;
    qerr e;
    return qstore_query_i64(base, qpg_sql_rev, &e);
}

/* The row and the NOTIFY go with the COMMIT, in its round trip (the write
 * lock is held for as few as possible). NOTIFY is delivered at commit; the
 * listeners read the row itself; its payload names the server, so that a
 * listener need not read for its own commits. */
static int qpg_publish(qstore *base, int64_t revision, const char *note, qerr *e)
{
    qpg *s = (qpg *)base;
    qpg_conn *c = pthread_getspecific(s->key);
    if (!c || !c->in_tx || !c->pg) {
        QLOG_E("store", "publish outside a write transaction");
        return qerr_set(e, QE_INTERNAL, "Request Failed: internal server error while "
                                        "processing your request.");
    }
    note = note ? note : "";
    char *lit = PQescapeLiteral(c->pg, note, strlen(note));
    if (!lit) {
        qpg_note(c, NULL);
        return qpg_fail(base, e, "publish");
    }
    char *sql = xasprintf("%sINSERT INTO changes(revision, server, note, created) "
                          "VALUES(%lld, '%s', %s, %lld); SELECT pg_notify('" QPG_CHANNEL
                          "', '%s %lld'); ", c->at_commit ? c->at_commit : "",
                          (long long)revision, s->server, lit,
                          (long long)qhv_wall_seconds(), s->server, (long long)revision);
    PQfreemem(lit);
    free(c->at_commit);
    c->at_commit = sql;
    return 0;
}

/* ---------- leadership, errors ---------- */

static bool qpg_lead(qstore *base, const char *duty)
{
    qpg_conn *c = qpg_conn_get((qpg *)base, NULL);
    if (!c || c->broken || !c->pg)
        return false;
    for (int i = 0; i < c->nleads; i++)
        if (!strcmp(c->leads[i], duty))
            return true;
    if (c->nleads == QPG_MAX_LEADS)
        return false;
    const char *v[1] = {duty};
    PGresult *r = PQexecParams(c->pg,
                               "SELECT pg_try_advisory_lock(" QPG_STR(QPG_LOCK_DUTY_CLASS)
                               ", hashtext($1::text))",
                               1, NULL, v, NULL, NULL, 0);
    bool got = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
               PQgetvalue(r, 0, 0)[0] == 't';
    if (PQstatus(c->pg) != CONNECTION_OK)
        c->broken = true;
    PQclear(r);
    if (got)
        c->leads[c->nleads++] = xstrdup(duty);
    return got;
}

static int qpg_fail(qstore *base, qerr *e, const char *what)
{
    qpg *s = (qpg *)base;
    qpg_conn *c = pthread_getspecific(s->key);
    if (!c)
        return qerr_set(e, QE_STORAGE, "The database is unavailable (no connection to it). The "
                                       "request changed nothing; retry.");
    const char *st = c->sqlstate[0] ? c->sqlstate : "XX000";
    QLOG_E("store", "%s: %s (SQLSTATE %s)", what, c->msg[0] ? c->msg : "unknown failure", st);
    if (c->commit_unknown) {
        c->commit_unknown = false;
        return qerr_set(e, QE_STORAGE, "The database became unavailable while committing this "
                                       "request (%s): it may or may not have been applied. Check "
                                       "before retrying.", c->msg);
    }
    if (c->broken || qpg_state_lost(st))
        return qerr_set(e, QE_STORAGE, "The database is unavailable (%s). The request changed "
                                       "nothing; retry.", c->msg);
    if (!strncmp(st, "23", 2))
        return qerr_set(e, QE_CONFLICT, "The request conflicts with a concurrent change; retry.");
    if (!strcmp(st, "40001") || !strcmp(st, "40P01"))
        return qerr_set(e, QE_STORAGE, "The database could not order this request with a "
                                       "concurrent one. The request changed nothing; retry.");
    return qerr_set(e, QE_INTERNAL, "Request Failed: internal server error while processing "
                                    "your request.");
}

/* ---------- open, close ---------- */

static void qpg_close(qstore *base)
{
    qpg *s = (qpg *)base;
    qpg_listen_stop(s);
    qpg_conn *c = s->conns;
    while (c) {
        qpg_conn *n = c->next;
        qpg_conn_free(c);
        c = n;
    }
    pthread_setspecific(s->key, NULL);
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->write_lock);
    pthread_mutex_destroy(&s->list_lock);
    free(s->conninfo);
    free(s->where);
    free(s);
}

static const char *qpg_where(const qstore *s) { return ((const qpg *)s)->where; }
static int qpg_schema_version(qstore *s) { return ((qpg *)s)->schema_version; }

static int qpg_target(const qstore *s)
{
    (void)s;
    return qpg_schema_target();
}

/* host:port/dbname of the URI (no password), for logs; NULL with e set
 * when libpq cannot parse it. */
static char *qpg_parse_where(const char *uri, qerr *e)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri, &err);
    if (!opts) {
        qerr_set(e, QE_INVALID_INPUT, "[database] connection: %s",
                 err ? err : "cannot be parsed");
        if (err)
            PQfreemem(err);
        return NULL;
    }
    const char *host = NULL, *port = NULL, *db = NULL, *user = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
        else if (!strcmp(o->keyword, "user"))
            user = o->val;
    }
    char *w = xasprintf("%s:%s/%s", host ? host : "localhost", port ? port : "5432",
                        db ? db : user ? user : "");
    PQconninfoFree(opts);
    return w;
}

qstore *qstore_pg_open(const qstore_opts *o, qerr *e)
{
    const char *c = o->connection;
    /* Neutron's postgresql+psycopg2:// names a Python driver: libpq wants
     * the plain scheme. */
    char *uri = !strncmp(c, "postgresql+", 11) && strstr(c, "://")
                    ? xasprintf("postgresql%s", strstr(c, "://"))
                    : xstrdup(c);
    char *where = qpg_parse_where(uri, e);
    if (!where) {
        free(uri);
        return NULL;
    }
    qpg *s = xcalloc(1, sizeof *s);
    s->base.eng = &qpg_engine;
    s->conninfo = uri;
    s->where = where;
    /* 0: no limit (the options say at least 1 when they come from a file). */
    s->max_conns = o->max_pool_size > 0
                       ? o->max_pool_size + (o->max_overflow > 0 ? o->max_overflow : 0)
                       : 0;
    s->recycle = o->connection_recycle_time > 0 ? o->connection_recycle_time : 0;
    unsigned char id[16];
    qhv_random_bytes(id, sizeof id);
    for (size_t i = 0; i < sizeof id; i++)
        snprintf(s->server + 2 * i, 3, "%02x", id[i]);
    pthread_key_create(&s->key, qpg_thread_exit);
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->list_lock, NULL);
    /* The database may still be starting: pool_timeout seconds to appear. */
    int64_t deadline = qhv_wall_seconds() + (o->pool_timeout > 0 ? o->pool_timeout : 0);
    char why[512];
    PGconn *pg;
    bool said = false;
    while (!(pg = qpg_connect(s, why, sizeof why))) {
        if (qhv_wall_seconds() >= deadline) {
            qerr_set(e, QE_STORAGE, "cannot connect to PostgreSQL at %s within pool_timeout "
                                    "(%d s): %s", s->where, o->pool_timeout, why);
            qpg_close(&s->base);
            return NULL;
        }
        if (!said)
            QLOG_W("store", "PostgreSQL at %s: %s; retrying for up to %d s", s->where, why,
                   o->pool_timeout);
        said = true;
        sleep(1);
    }
    if (qpg_schema_sync(pg, o->migrate, &s->schema_version, e) < 0) {
        PQfinish(pg);
        qpg_close(&s->base);
        return NULL;
    }
    /* That session becomes the opening thread's connection. */
    qpg_conn *conn = xcalloc(1, sizeof *conn);
    conn->s = s;
    conn->pg = pg;
    conn->gen = 1;
    conn->born = time(NULL);
    conn->next = NULL;
    s->conns = conn;
    s->nconns = 1;
    pthread_setspecific(s->key, conn);
    QLOG_I("store", "PostgreSQL at %s, schema version %d", s->where, s->schema_version);
    return &s->base;
}

static int qpg_listen(qstore *s, void (*fn)(void *, int64_t, const char *), void *arg, qerr *e)
{
    return qpg_listen_start((qpg *)s, fn, arg, e);
}

static void qpg_unlisten(qstore *s) { qpg_listen_stop((qpg *)s); }

static const qstore_engine qpg_engine = {
    .name = "postgresql",
    /* Other servers share the database: commits are published, theirs heard. */
    .shared = true,
    .close = qpg_close,
    .where = qpg_where,
    .schema_version = qpg_schema_version,
    .schema_target = qpg_target,
    .stmt = qpg_stmt,
    .prepare = qpg_prepare,
    .finalize = qpg_finalize,
    .bind_text = qpg_bind_text,
    .bind_blob = qpg_bind_blob,
    .bind_int64 = qpg_bind_int64,
    .bind_null = qpg_bind_null,
    .step = qpg_step,
    .reset = qpg_reset,
    .column_text = qpg_column_text,
    .column_blob = qpg_column_blob,
    .column_bytes = qpg_column_bytes,
    .column_int64 = qpg_column_int64,
    .column_null = qpg_column_null,
    .begin_write = qpg_begin_write,
    .bump_revision = qpg_bump_revision,
    .publish = qpg_publish,
    .commit_then = qpg_commit_then,
    .rollback = qpg_rollback,
    .begin_read = qpg_begin_read,
    .end_read = qpg_end_read,
    .revision = qpg_revision,
    .listen = qpg_listen,
    .unlisten = qpg_unlisten,
    .lead = qpg_lead,
    .fail = qpg_fail,
};
