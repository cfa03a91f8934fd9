/* store: picks the engine a connection string names and dispatches to it;
 * the helpers every engine shares (qstore_run, qstore_query_*) are written
 * once here on top of the statement interface. */
#include "store/engine.h"
#include "lib/util.h"
#include <stdio.h>
#include <string.h>

qstore *qstore_open(const qstore_opts *o, qerr *e)
{
    const char *c = o->connection ? o->connection : "";
    if (!*c)
        return qstore_sqlite_open(o, o->sqlite_path, e);
    if (!strncmp(c, "sqlite:///", 10) && c[10])
        return qstore_sqlite_open(o, c + 10, e);
    if (!strncmp(c, "postgresql://", 13) || !strncmp(c, "postgresql+psycopg2://", 22) ||
        !strncmp(c, "postgres://", 11))
        return qstore_pg_open(o, e);
    qerr_set(e, QE_INVALID_INPUT, "[database] connection: '%s' is neither sqlite:///path nor "
                                  "postgresql://user:password@host:port/dbname", c);
    return NULL;
}

void qstore_close(qstore *s)
{
    if (s)
        s->eng->close(s);
}

const char *qstore_engine_name(const qstore *s) { return s->eng->name; }
bool qstore_is_shared(const qstore *s) { return s->eng->shared; }
const char *qstore_where(const qstore *s) { return s->eng->where(s); }
int qstore_schema_version(qstore *s) { return s->eng->schema_version(s); }
int qstore_schema_target(const qstore *s) { return s->eng->schema_target(s); }
qstmt *qstore_stmt(qstore *s, const char *sql, qerr *e) { return s->eng->stmt(s, sql, e); }
qstmt *qstore_prepare(qstore *s, const char *sql, qerr *e) { return s->eng->prepare(s, sql, e); }

void qstmt_finalize(qstmt *st)
{
    if (st)
        st->eng->finalize(st);
}

void qstmt_bind_text(qstmt *st, int i, const char *v, int n, qstore_dtor how)
{
    st->eng->bind_text(st, i, v, n, how);
}

void qstmt_bind_blob(qstmt *st, int i, const void *v, int n, qstore_dtor how)
{
    st->eng->bind_blob(st, i, v, n, how);
}

void qstmt_bind_int64(qstmt *st, int i, int64_t v) { st->eng->bind_int64(st, i, v); }
void qstmt_bind_null(qstmt *st, int i) { st->eng->bind_null(st, i); }
int qstmt_step(qstmt *st) { return st->eng->step(st); }
void qstmt_reset(qstmt *st) { st->eng->reset(st); }
const char *qstmt_column_text(qstmt *st, int col) { return st->eng->column_text(st, col); }
const void *qstmt_column_blob(qstmt *st, int col) { return st->eng->column_blob(st, col); }
int qstmt_column_bytes(qstmt *st, int col) { return st->eng->column_bytes(st, col); }
int64_t qstmt_column_int64(qstmt *st, int col) { return st->eng->column_int64(st, col); }
bool qstmt_column_null(qstmt *st, int col) { return st->eng->column_null(st, col); }
int qstore_begin_write(qstore *s, qerr *e) { return s->eng->begin_write(s, e); }
int64_t qstore_bump_revision(qstore *s, qerr *e) { return s->eng->bump_revision(s, e); }

int qstore_publish(qstore *s, int64_t revision, const char *note, qerr *e)
{
    return s->eng->publish(s, revision, note, e);
}

int qstore_commit(qstore *s, qerr *e) { return s->eng->commit_then(s, NULL, NULL, e); }

int qstore_commit_then(qstore *s, void (*after)(void *arg), void *arg, qerr *e)
{
    return s->eng->commit_then(s, after, arg, e);
}

void qstore_rollback(qstore *s) { s->eng->rollback(s); }
int qstore_begin_read(qstore *s, qerr *e) { return s->eng->begin_read(s, e); }
void qstore_end_read(qstore *s) { s->eng->end_read(s); }
int64_t qstore_revision(qstore *s) { return s->eng->revision(s); }

int qstore_listen(qstore *s, void (*fn)(void *, int64_t, const char *), void *arg, qerr *e)
{
    return s->eng->listen(s, fn, arg, e);
}

void qstore_unlisten(qstore *s)
{
    if (s)
        s->eng->unlisten(s);
}

bool qstore_lead(qstore *s, const char *duty) { return s->eng->lead(s, duty); }
int qstore_fail(qstore *s, qerr *e, const char *what) { return s->eng->fail(s, e, what); }

int64_t qstore_query_i64(qstore *s, const char *sql, qerr *e)
{
    qstmt *st = qstore_stmt(s, sql, e);
    if (!st)
        return -1;
    int64_t v = -1;
    if (qstmt_step(st) == QSTORE_ROW && !qstmt_column_null(st, 0))
        v = qstmt_column_int64(st, 0);
    qstmt_reset(st);
    if (v < 0)
        return qstore_fail(s, e, sql);
    return v;
}

/* A cached statement with up to three text parameters bound (NULL: not). */
static qstmt *qstore_bound(qstore *s, const char *sql, const char *a, const char *b,
                           const char *c, qerr *e)
{
    qstmt *st = qstore_stmt(s, sql, e);
    const char *args[3] = {a, b, c};
    for (int i = 0; st && i < 3; i++)
        if (args[i])
            qstmt_bind_text(st, i + 1, args[i], -1, QSTORE_TRANSIENT);
    return st;
}

int qstore_run(qstore *s, const char *sql, const char *a, const char *b, const char *c, qerr *e)
{
    qstmt *st = qstore_bound(s, sql, a, b, c, e);
    if (!st)
        return -1;
    int rc;
    while ((rc = qstmt_step(st)) == QSTORE_ROW)
        ;
    qstmt_reset(st);
    return rc == QSTORE_DONE ? 0 : qstore_fail(s, e, sql);
}

int qstore_query_row(qstore *s, const char *sql, const char *a, const char *b, const char *c,
                     char *out, size_t n, qerr *e)
{
    qstmt *st = qstore_bound(s, sql, a, b, c, e);
    if (!st)
        return -1;
    int rc = qstmt_step(st);
    if (rc == QSTORE_ROW && out) {
        const char *v = qstmt_column_text(st, 0);
        snprintf(out, n, "%s", v ? v : "");
    }
    qstmt_reset(st);
    if (rc == QSTORE_ROW)
        return 1;
    return rc == QSTORE_DONE ? 0 : qstore_fail(s, e, sql);
}

int qstore_query_text(qstore *s, const char *sql, const char *a, char *out, size_t n, qerr *e)
{
    return qstore_query_row(s, sql, a, NULL, NULL, out, n, e);
}
