/* copy: qhv-server --db-copy (copy.h). Dynamic SQL built from the table list
 * below, in the subset both engines accept. */
#include "store/copy.h"
#include "lib/buf.h"
#include "lib/util.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The schema version the table list describes: a migration that adds a
 * table or a column must update the list, and until it does --db-copy
 * refuses rather than copy part of a database. */
#define QCOPY_SCHEMA 12

/* A table: its columns, one type letter per column (t text, i integer,
 * b blob), the first npk of them its primary key, and which rows are the
 * model's (meta: only the revision; an engine may keep its own keys there). */
typedef struct qcopy_table {
    const char *name;
    const char *cols[10];
    const char *types;
    int npk;
    const char *where;
} qcopy_table;

static const qcopy_table qcopy_tables[] = {
    {"meta", {"key", "value"}, "ti", 1, "key = 'revision'"},
    {"resources", {"kind", "id", "project_id", "parent_id", "body", "host"}, "tttttt", 2, NULL},
    {"ipallocs", {"subnet_id", "ip", "port_id", "network_id"}, "tbtt", 2, NULL},
    {"macs", {"network_id", "mac", "port_id"}, "ttt", 2, NULL},
    {"segments", {"pool", "physnet", "seg_id", "network_id"}, "ttit", 3, NULL},
    {"port_sgs", {"port_id", "sg_id"}, "tt", 2, NULL},
    {"default_sgs", {"project_id", "sg_id"}, "tt", 1, NULL},
    {"quotas", {"project_id", "resource", "hard_limit"}, "tti", 2, NULL},
    {"rewrite_pas", {"host", "pa", "port_id", "ca", "pa_text"}, "tbttt", 2, NULL},
    {"nova_outbox", {"id", "created", "name", "server_uuid", "tag", "status", "attempts",
                     "last_attempt", "last_error"}, "iittttiit", 1, NULL},
};

/* How many differences are described before the rest are only counted. */
#define QCOPY_SHOWN 10

/* Puts what (where it happened) before e's message. */
static void qcopy_context(qerr *e, const char *what)
{
    char m[sizeof e->msg];
    memcpy(m, e->msg, sizeof m);
    qerr_set(e, e->code, "%s: %s", what, m);
}

/* b's text, b freed (qbuf_steal leaves b a fresh buffer). */
static char *qcopy_take(qbuf *b)
{
    char *s = qbuf_steal(b, NULL);
    qbuf_free(b);
    return s;
}

static int qcopy_ncols(const qcopy_table *t) { return (int)strlen(t->types); }

/* "a, b, c" of columns [from, to). */
static void qcopy_list(qbuf *b, const qcopy_table *t, int from, int to, const char *sep,
                       const char *suffix)
{
    for (int i = from; i < to; i++)
        qbuf_printf(b, "%s%s%s", i > from ? sep : "", t->cols[i], suffix);
}

static char *qcopy_sql_select(const qcopy_table *t)
{
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_puts(&b, "SELECT ");
    qcopy_list(&b, t, 0, qcopy_ncols(t), ", ", "");
    qbuf_printf(&b, " FROM %s", t->name);
    if (t->where)
        qbuf_printf(&b, " WHERE %s", t->where);
    qbuf_puts(&b, " ORDER BY ");
    qcopy_list(&b, t, 0, t->npk, ", ", "");
    return qcopy_take(&b);
}

/* Rows an INSERT carries: as many as the fewest parameters an engine takes
 * per statement allow (pg_sql.h: 64), to save round trips to a server. */
#define QCOPY_MAX_PARAMS 64

static int qcopy_batch(const qcopy_table *t) { return QCOPY_MAX_PARAMS / qcopy_ncols(t); }

/* INSERT of nrows rows (parameters row by row). */
static char *qcopy_sql_insert(const qcopy_table *t, int nrows)
{
    qbuf b;
    qbuf_init(&b, 0);
    int n = qcopy_ncols(t);
    qbuf_printf(&b, "INSERT INTO %s(", t->name);
    qcopy_list(&b, t, 0, n, ", ", "");
    qbuf_puts(&b, ") VALUES");
    for (int r = 0; r < nrows; r++) {
        qbuf_printf(&b, "%s(", r ? ", " : "");
        for (int i = 0; i < n; i++)
            qbuf_printf(&b, "%s?%d", i ? ", " : "", r * n + i + 1);
        qbuf_puts(&b, ")");
    }
    /* The migrations already wrote meta's revision (0) in TO. */
    if (!strcmp(t->name, "meta"))
        qbuf_puts(&b, " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    return qcopy_take(&b);
}

static char *qcopy_sql_count(const qcopy_table *t)
{
    return t->where ? xasprintf("SELECT count(*) FROM %s WHERE %s", t->name, t->where)
                    : xasprintf("SELECT count(*) FROM %s", t->name);
}

/* A value read from FROM, kept until its batch is written (a statement's
 * column values last only until its next step). */
typedef struct qcopy_val {
    bool null;
    int64_t i;
    char *p;      /* text or blob bytes, owned */
    int n;
} qcopy_val;

static void qcopy_val_read(qcopy_val *v, qstmt *row, int col, char type)
{
    memset(v, 0, sizeof *v);
    v->null = qstmt_column_null(row, col);
    if (v->null)
        return;
    if (type == 'i') {
        v->i = qstmt_column_int64(row, col);
        return;
    }
    const void *src = type == 'b' ? qstmt_column_blob(row, col)
                                  : (const void *)qstmt_column_text(row, col);
    v->n = qstmt_column_bytes(row, col);
    v->p = xmalloc((size_t)v->n + 1);
    if (v->n)
        memcpy(v->p, src, (size_t)v->n);
    v->p[v->n] = '\0';
}

/* Binds v as parameter i; the statement takes v's bytes (freed by it). */
static void qcopy_val_bind(qstmt *dst, int i, qcopy_val *v, char type)
{
    if (v->null)
        qstmt_bind_null(dst, i);
    else if (type == 'i')
        qstmt_bind_int64(dst, i, v->i);
    else if (type == 'b')
        qstmt_bind_blob(dst, i, v->p, v->n, free);     /* empty, not NULL: p is never NULL */
    else
        qstmt_bind_text(dst, i, v->p, v->n, free);
    v->p = NULL;
}

static bool qcopy_same(qstmt *a, qstmt *b, int col, char type)
{
    bool na = qstmt_column_null(a, col), nb = qstmt_column_null(b, col);
    if (na || nb)
        return na == nb;
    if (type == 'i')
        return qstmt_column_int64(a, col) == qstmt_column_int64(b, col);
    const void *va = type == 'b' ? qstmt_column_blob(a, col) : (const void *)qstmt_column_text(a, col);
    int la = qstmt_column_bytes(a, col);
    const void *vb = type == 'b' ? qstmt_column_blob(b, col) : (const void *)qstmt_column_text(b, col);
    int lb = qstmt_column_bytes(b, col);
    return la == lb && (la == 0 || !memcmp(va, vb, (size_t)la));
}

/* Orders the keys of two rows as both engines' ORDER BY does: integers by
 * value, text and blobs bytewise (PostgreSQL's keys are COLLATE "C",
 * pg_schema.c), a shorter prefix first. */
static int qcopy_keycmp(const qcopy_table *t, qstmt *a, qstmt *b)
{
    for (int c = 0; c < t->npk; c++) {
        if (t->types[c] == 'i') {
            int64_t x = qstmt_column_int64(a, c), y = qstmt_column_int64(b, c);
            if (x != y)
                return x < y ? -1 : 1;
            continue;
        }
        const void *x = t->types[c] == 'b' ? qstmt_column_blob(a, c)
                                           : (const void *)qstmt_column_text(a, c);
        int lx = qstmt_column_bytes(a, c);
        const void *y = t->types[c] == 'b' ? qstmt_column_blob(b, c)
                                           : (const void *)qstmt_column_text(b, c);
        int ly = qstmt_column_bytes(b, c);
        int m = lx < ly ? lx : ly;
        int r = m ? memcmp(x, y, (size_t)m) : 0;
        if (r || lx != ly)
            return r ? r : lx < ly ? -1 : 1;
    }
    return 0;
}

/* The key of the current row, for messages: "(a, b)", blobs in hex. */
static void qcopy_key(qbuf *b, const qcopy_table *t, qstmt *row)
{
    qbuf_puts(b, "(");
    for (int i = 0; i < t->npk; i++) {
        if (i)
            qbuf_puts(b, ", ");
        if (t->types[i] == 'i') {
            qbuf_printf(b, "%" PRId64, qstmt_column_int64(row, i));
        } else if (t->types[i] == 'b') {
            const unsigned char *v = qstmt_column_blob(row, i);
            for (int k = 0; k < qstmt_column_bytes(row, i); k++)
                qbuf_printf(b, "%02x", v[k]);
        } else {
            qbuf_puts(b, qstmt_column_text(row, i));
        }
    }
    qbuf_puts(b, ")");
}

static int64_t qcopy_count(qstore *s, const qcopy_table *t, qerr *e)
{
    char *sql = qcopy_sql_count(t);
    qstmt *st = qstore_prepare(s, sql, e);
    int64_t n = -1;
    if (st && qstmt_step(st) == QSTORE_ROW)
        n = qstmt_column_int64(st, 0);
    else if (st)
        qstore_fail(s, e, sql);
    qstmt_finalize(st);
    free(sql);
    return n;
}

/* TO holds nothing the model wrote: revision 0 and every table empty.
 * Inside TO's write transaction, so that nobody fills it meanwhile. */
static int qcopy_check_empty(qstore *to, qerr *e)
{
    int64_t rev = qstore_revision(to);
    if (rev < 0)
        return qstore_fail(to, e, "revision of TO");
    qbuf full;
    qbuf_init(&full, 0);
    for (size_t i = 1; i < QHV_ARRAY_SIZE(qcopy_tables); i++) {
        int64_t n = qcopy_count(to, &qcopy_tables[i], e);
        if (n < 0) {
            qbuf_free(&full);
            return -1;
        }
        if (n)
            qbuf_printf(&full, "%s%s %" PRId64, full.len ? ", " : "", qcopy_tables[i].name, n);
    }
    if (rev || full.len) {
        qerr_set(e, QE_CONFLICT, "TO (%s) is not empty (revision %" PRId64 "%s%s): --db-copy "
                                 "copies only into a database that holds nothing yet; nothing "
                                 "was copied",
                 qstore_where(to), rev, full.len ? ", rows: " : "", full.data);
        qbuf_free(&full);
        return -1;
    }
    qbuf_free(&full);
    return 0;
}

/* Writes the nrows rows held in vals into TO with one INSERT; 0 or -1. */
static int qcopy_write(qstore *to, const qcopy_table *t, qcopy_val *vals, int nrows,
                       qstmt **full, qerr *e)
{
    int ncols = qcopy_ncols(t);
    char *sql = NULL;
    qstmt *st = nrows == qcopy_batch(t) ? *full : NULL;
    if (!st) {
        sql = qcopy_sql_insert(t, nrows);
        st = qstore_prepare(to, sql, e);
        if (st && nrows == qcopy_batch(t))
            *full = st;     /* kept for the next batches */
    }
    int rc = -1;
    if (st) {
        for (int k = 0; k < nrows * ncols; k++)
            qcopy_val_bind(st, k + 1, &vals[k], t->types[k % ncols]);
        rc = qstmt_step(st) == QSTORE_DONE ? 0 : -1;
        qstmt_reset(st);
        if (rc < 0) {
            qstore_fail(to, e, "INSERT");
            char *what = xasprintf("writing %s into TO", t->name);
            qcopy_context(e, what);
            free(what);
        }
        if (st != *full)
            qstmt_finalize(st);
    }
    for (int k = 0; k < nrows * ncols; k++)
        free(vals[k].p);    /* those not handed to a statement */
    free(sql);
    return rc;
}

/* Copies table t, qcopy_batch(t) rows per INSERT; the rows copied or -1. */
static int64_t qcopy_table_rows(qstore *from, qstore *to, const qcopy_table *t, qerr *e)
{
    int ncols = qcopy_ncols(t), batch = qcopy_batch(t);
    qcopy_val vals[QCOPY_MAX_PARAMS];
    char *sel = qcopy_sql_select(t);
    qstmt *src = qstore_prepare(from, sel, e), *full = NULL;
    int64_t n = src ? 0 : -1;
    int pending = 0, rc = QSTORE_DONE;
    while (n >= 0 && (rc = qstmt_step(src)) == QSTORE_ROW) {
        for (int c = 0; c < ncols; c++)
            qcopy_val_read(&vals[pending * ncols + c], src, c, t->types[c]);
        if (++pending == batch) {
            if (qcopy_write(to, t, vals, pending, &full, e) < 0)
                n = -1;
            else
                n += pending;
            pending = 0;
        }
    }
    if (n >= 0 && rc != QSTORE_DONE) {
        qstore_fail(from, e, sel);
        char *what = xasprintf("reading %s from FROM", t->name);
        qcopy_context(e, what);
        free(what);
        n = -1;
    }
    if (n >= 0 && pending) {
        if (qcopy_write(to, t, vals, pending, &full, e) < 0)
            n = -1;
        else
            n += pending;
    } else {
        for (int k = 0; k < pending * ncols; k++)
            free(vals[k].p);
    }
    qstmt_finalize(full);
    qstmt_finalize(src);
    free(sel);
    return n;
}

/* One difference of table t at row (of a side), described if among the
 * first QCOPY_SHOWN. */
static void qcopy_diff(qbuf *diffs, int64_t *shown, const qcopy_table *t, qstmt *row,
                       const char *what)
{
    if ((*shown)++ >= QCOPY_SHOWN)
        return;
    qbuf_printf(diffs, "\n  %s ", t->name);
    qcopy_key(diffs, t, row);
    qbuf_printf(diffs, ": %s", what);
}

/* Compares table t: both sides read in key order and merged, so that one
 * query per side reads it all; returns the differences found (described in
 * diffs, the first QCOPY_SHOWN of them) or -1 when the comparison failed. */
static int64_t qcopy_compare(qstore *from, qstore *to, const qcopy_table *t, qbuf *diffs,
                             int64_t *shown, qerr *e)
{
    char *sel = qcopy_sql_select(t);
    qstmt *a = qstore_prepare(from, sel, e);
    qstmt *b = a ? qstore_prepare(to, sel, e) : NULL;
    int64_t bad = 0, na = 0, nb = 0;
    int ra = b ? qstmt_step(a) : QSTORE_ERROR, rb = b ? qstmt_step(b) : QSTORE_ERROR;
    while (ra == QSTORE_ROW || rb == QSTORE_ROW) {
        int cmp = ra != QSTORE_ROW ? 1 : rb != QSTORE_ROW ? -1 : qcopy_keycmp(t, a, b);
        if (cmp < 0) {
            bad++;
            qcopy_diff(diffs, shown, t, a, "missing in TO");
        } else if (cmp > 0) {
            bad++;
            qcopy_diff(diffs, shown, t, b, "in TO, not in FROM");
        } else {
            for (int c = t->npk; c < qcopy_ncols(t); c++) {
                if (!qcopy_same(a, b, c, t->types[c])) {
                    char *what = xasprintf("%s differs", t->cols[c]);
                    bad++;
                    qcopy_diff(diffs, shown, t, a, what);
                    free(what);
                    break;
                }
            }
        }
        if (cmp <= 0)
            na++, ra = qstmt_step(a);
        if (cmp >= 0)
            nb++, rb = qstmt_step(b);
        if (ra == QSTORE_ERROR || rb == QSTORE_ERROR)
            break;
    }
    if (b && ra == QSTORE_ERROR)
        qstore_fail(from, e, sel);
    else if (b && rb == QSTORE_ERROR)
        qstore_fail(to, e, sel);
    bool failed = !b || ra == QSTORE_ERROR || rb == QSTORE_ERROR;
    if (!failed && na != nb) {
        bad++;
        if ((*shown)++ < QCOPY_SHOWN)
            qbuf_printf(diffs, "\n  %s: %" PRId64 " rows in FROM, %" PRId64 " in TO", t->name,
                        na, nb);
    }
    qstmt_finalize(a);
    qstmt_finalize(b);
    free(sel);
    return failed ? -1 : bad;
}

/* PostgreSQL hands out nova_outbox ids from a sequence that rows inserted
 * with their ids do not advance: set it past them (SQLite's AUTOINCREMENT
 * follows explicit ids by itself). */
static int qcopy_fix_sequences(qstore *to, qerr *e)
{
    if (strcmp(qstore_engine_name(to), "postgresql"))
        return 0;
    static const char sql[] =
        "SELECT setval(pg_get_serial_sequence('nova_outbox', 'id'), max(id)) "
        "FROM nova_outbox HAVING max(id) IS NOT NULL";
    qstmt *st = qstore_prepare(to, sql, e);
    if (!st)
        return -1;
    int rc;
    while ((rc = qstmt_step(st)) == QSTORE_ROW)
        ;
    qstmt_finalize(st);
    return rc == QSTORE_DONE ? 0 : qstore_fail(to, e, sql);
}

static qstore *qcopy_open(const qstore_opts *o, const char *which, const char *conn, qerr *e)
{
    qstore_opts so = *o;
    so.connection = conn;
    so.migrate = true;
    /* SQLite would make an empty FROM where there is none: say so instead. */
    if (!*conn || (!strcmp(which, "FROM") && !strncmp(conn, "sqlite:///", 10) &&
                   access(conn + 10, F_OK) != 0)) {
        qerr_set(e, QE_INVALID_INPUT, "%s (%s): %s", which, conn,
                 *conn ? "no such database file" : "a connection string is needed");
        return NULL;
    }
    qstore *s = qstore_open(&so, e);
    if (!s) {
        char *shown = qcopy_redact(conn);
        char *what = xasprintf("%s (%s)", which, shown);
        qcopy_context(e, what);
        free(what);
        free(shown);
        return NULL;
    }
    if (qstore_schema_target(s) != QCOPY_SCHEMA) {
        qerr_set(e, QE_INTERNAL, "this build writes schema %d but --db-copy knows the tables "
                                 "of schema %d (src/store/copy.c): nothing was copied",
                 qstore_schema_target(s), QCOPY_SCHEMA);
        qstore_close(s);
        return NULL;
    }
    return s;
}

/* Compares every table (TO: inside the copy's transaction, which sees its
 * own writes); 0 when all are the same, -1 with e otherwise. */
static int qcopy_verify(qstore *from, qstore *to, qerr *e)
{
    qbuf diffs;
    qbuf_init(&diffs, 0);
    int64_t bad = 0, shown = 0;
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qcopy_tables) && bad >= 0; i++) {
        int64_t n = qcopy_compare(from, to, &qcopy_tables[i], &diffs, &shown, e);
        bad = n < 0 ? -1 : bad + n;
    }
    if (bad > 0)
        qerr_set(e, QE_INTERNAL, "verification failed: %" PRId64 " difference(s) between FROM "
                                 "and TO after the copy%s%s\nTO was left as it was (the copy was "
                                 "rolled back)",
                 bad, diffs.data, shown > QCOPY_SHOWN ? "\n  ..." : "");
    else if (bad < 0)
        qcopy_context(e, "verification failed");
    qbuf_free(&diffs);
    return bad ? -1 : 0;
}

/* Copies every table into TO in one write transaction and verifies the
 * copy before committing it, so that TO gets all of FROM or nothing; rows
 * copied or -1. */
static int64_t qcopy_all(qstore *from, qstore *to, FILE *out, qerr *e)
{
    if (qstore_begin_write(to, e) < 0)
        return -1;
    int64_t total = 0;
    if (qcopy_check_empty(to, e) < 0)
        total = -1;
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qcopy_tables) && total >= 0; i++) {
        int64_t n = qcopy_table_rows(from, to, &qcopy_tables[i], e);
        if (n < 0)
            total = -1;
        else
            fprintf(out, "  %-12s %10" PRId64 " rows\n", qcopy_tables[i].name, n), total += n;
    }
    if (total >= 0 && qcopy_fix_sequences(to, e) < 0)
        total = -1;
    if (total >= 0 && qcopy_verify(from, to, e) < 0)
        total = -1;
    if (total < 0) {
        qstore_rollback(to);
        return -1;
    }
    return qstore_commit(to, e) < 0 ? -1 : total;
}

int qcopy_run(const qstore_opts *o, const char *from_conn, const char *to_conn, FILE *out,
              qerr *e)
{
    e->msg[0] = '\0';
    qstore *from = qcopy_open(o, "FROM", from_conn, e);
    if (!from)
        return -1;
    qstore *to = qcopy_open(o, "TO", to_conn, e);
    if (!to) {
        qstore_close(from);
        return -1;
    }
    fprintf(out, "copying %s (%s, schema %d) into %s (%s, schema %d)\n", qstore_where(from),
            qstore_engine_name(from), qstore_schema_version(from), qstore_where(to),
            qstore_engine_name(to), qstore_schema_version(to));
    /* FROM is read in one snapshot for the copy and its verification. */
    int rc = qstore_begin_read(from, e);
    if (rc == 0) {
        int64_t rows = qcopy_all(from, to, out, e);
        rc = rows < 0 ? -1 : 0;
        qstore_end_read(from);
        if (rc == 0)
            fprintf(out, "copied %zu tables, %" PRId64 " rows, revision %" PRId64 "; verified: "
                         "every row of every table is the same in FROM and TO\n",
                    QHV_ARRAY_SIZE(qcopy_tables), rows, qstore_revision(to));
    }
    qstore_close(to);
    qstore_close(from);
    return rc;
}

char *qcopy_redact(const char *connection)
{
    const char *scheme = strstr(connection, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (!colon)
        return xstrdup(connection);
    return xasprintf("%.*s:***%s", (int)(colon - connection), connection, at);
}
