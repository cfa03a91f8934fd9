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
#define QCOPY_SCHEMA 11

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
    return qbuf_steal(&b, NULL);
}

/* The row of TO with the key of the bound parameters ?1..?npk. */
static char *qcopy_sql_lookup(const qcopy_table *t)
{
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_puts(&b, "SELECT ");
    qcopy_list(&b, t, 0, qcopy_ncols(t), ", ", "");
    qbuf_printf(&b, " FROM %s WHERE ", t->name);
    for (int i = 0; i < t->npk; i++)
        qbuf_printf(&b, "%s%s = ?%d", i ? " AND " : "", t->cols[i], i + 1);
    return qbuf_steal(&b, NULL);
}

static char *qcopy_sql_insert(const qcopy_table *t)
{
    qbuf b;
    qbuf_init(&b, 0);
    int n = qcopy_ncols(t);
    qbuf_printf(&b, "INSERT INTO %s(", t->name);
    qcopy_list(&b, t, 0, n, ", ", "");
    qbuf_puts(&b, ") VALUES(");
    for (int i = 0; i < n; i++)
        qbuf_printf(&b, "%s?%d", i ? ", " : "", i + 1);
    qbuf_puts(&b, ")");
    /* The migrations already wrote meta's revision (0) in TO. */
    if (!strcmp(t->name, "meta"))
        qbuf_puts(&b, " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    return qbuf_steal(&b, NULL);
}

static char *qcopy_sql_count(const qcopy_table *t)
{
    return t->where ? xasprintf("SELECT count(*) FROM %s WHERE %s", t->name, t->where)
                    : xasprintf("SELECT count(*) FROM %s", t->name);
}

/* Binds column col of row (a statement on another store) as parameter i. */
static void qcopy_bind(qstmt *dst, int i, qstmt *row, int col, char type)
{
    if (qstmt_column_null(row, col)) {
        qstmt_bind_null(dst, i);
    } else if (type == 'i') {
        qstmt_bind_int64(dst, i, qstmt_column_int64(row, col));
    } else if (type == 'b') {
        const void *v = qstmt_column_blob(row, col);
        int n = qstmt_column_bytes(row, col);
        qstmt_bind_blob(dst, i, n ? v : "", n, QSTORE_TRANSIENT);   /* empty, not NULL */
    } else {
        const char *v = qstmt_column_text(row, col);
        qstmt_bind_text(dst, i, v, qstmt_column_bytes(row, col), QSTORE_TRANSIENT);
    }
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

/* Copies table t; returns the rows copied or -1. */
static int64_t qcopy_table_rows(qstore *from, qstore *to, const qcopy_table *t, qerr *e)
{
    char *sel = qcopy_sql_select(t), *ins = qcopy_sql_insert(t);
    qstmt *src = qstore_prepare(from, sel, e);
    qstmt *dst = src ? qstore_prepare(to, ins, e) : NULL;
    int64_t n = dst ? 0 : -1;
    int rc = QSTORE_DONE;
    while (dst && (rc = qstmt_step(src)) == QSTORE_ROW) {
        for (int c = 0; c < qcopy_ncols(t); c++)
            qcopy_bind(dst, c + 1, src, c, t->types[c]);
        int w = qstmt_step(dst);
        qstmt_reset(dst);
        if (w != QSTORE_DONE) {
            qstore_fail(to, e, ins);
            qcopy_context(e, "writing into TO");
            n = -1;
            break;
        }
        n++;
    }
    if (dst && rc == QSTORE_ERROR) {
        qstore_fail(from, e, sel);
        qcopy_context(e, "reading FROM");
        n = -1;
    }
    qstmt_finalize(src);
    qstmt_finalize(dst);
    free(sel);
    free(ins);
    return n;
}

/* Compares table t row by row; returns the differences found (described in
 * diffs, the first QCOPY_SHOWN of them) or -1 when the comparison failed. */
static int64_t qcopy_compare(qstore *from, qstore *to, const qcopy_table *t, qbuf *diffs,
                             int64_t *shown, qerr *e)
{
    int64_t nfrom = qcopy_count(from, t, e), nto = nfrom < 0 ? -1 : qcopy_count(to, t, e);
    if (nto < 0)
        return -1;
    int64_t bad = 0;
    if (nfrom != nto) {
        bad++;
        if ((*shown)++ < QCOPY_SHOWN)
            qbuf_printf(diffs, "\n  %s: %" PRId64 " rows in FROM, %" PRId64 " in TO", t->name,
                        nfrom, nto);
    }
    char *sel = qcopy_sql_select(t), *look = qcopy_sql_lookup(t);
    qstmt *src = qstore_prepare(from, sel, e);
    qstmt *dst = src ? qstore_prepare(to, look, e) : NULL;
    int rc = QSTORE_DONE;
    bool lookup_failed = false;
    while (dst && (rc = qstmt_step(src)) == QSTORE_ROW) {
        for (int c = 0; c < t->npk; c++)
            qcopy_bind(dst, c + 1, src, c, t->types[c]);
        int r = qstmt_step(dst);
        const char *col = NULL;
        if (r == QSTORE_ROW) {
            for (int c = t->npk; c < qcopy_ncols(t) && !col; c++)
                if (!qcopy_same(src, dst, c, t->types[c]))
                    col = t->cols[c];
        } else if (r == QSTORE_DONE) {
            col = "";
        } else {
            qstore_fail(to, e, look);
            qstmt_reset(dst);
            lookup_failed = true;
            break;
        }
        if (col) {
            bad++;
            if ((*shown)++ < QCOPY_SHOWN) {
                qbuf_printf(diffs, "\n  %s ", t->name);
                qcopy_key(diffs, t, src);
                if (*col)
                    qbuf_printf(diffs, ": %s differs", col);
                else
                    qbuf_puts(diffs, ": missing in TO");
            }
        }
        qstmt_reset(dst);
    }
    if (dst && !lookup_failed && rc == QSTORE_ERROR)
        qstore_fail(from, e, sel);
    qstmt_finalize(src);
    qstmt_finalize(dst);
    free(sel);
    free(look);
    return rc == QSTORE_ERROR || lookup_failed || !dst ? -1 : bad;
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
