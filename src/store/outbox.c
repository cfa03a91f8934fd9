#include "store/outbox.h"
#include <stdio.h>
#include <string.h>

static const char qoutbox_sql_insert[] =
    "INSERT INTO nova_outbox(created, name, server_uuid, tag, status) VALUES(?1, ?2, ?3, ?4, ?5)";
/* Ids only grow, so max - min + 1 bounds the count from above: the exact
 * count (a scan) is needed only when that bound reaches the limit. */
static const char qoutbox_sql_span[] =
    "SELECT COALESCE(MAX(id) - MIN(id) + 1, 0) FROM nova_outbox";
static const char qoutbox_sql_count[] = "SELECT count(*) FROM nova_outbox";
static const char qoutbox_sql_list[] =
    "SELECT id, created, name, server_uuid, tag, status, attempts, last_attempt, last_error "
    "FROM nova_outbox ORDER BY id LIMIT ?1";
static const char qoutbox_sql_delete[] = "DELETE FROM nova_outbox WHERE id = ?1";
static const char qoutbox_sql_failure[] =
    "UPDATE nova_outbox SET attempts = attempts + 1, last_attempt = ?2, last_error = ?3 "
    "WHERE id = ?1";

/* Runs sql with one integer parameter to completion. */
static int qoutbox_run_id(qstore *s, const char *sql, int64_t id, qerr *e)
{
    qstmt *st = qstore_stmt(s, sql, e);
    if (!st)
        return -1;
    qstmt_bind_int64(st, 1, id);
    int rc = qstmt_step(st);
    qstmt_reset(st);
    return rc == QSTORE_DONE ? 0 : qstore_fail(s, e, "nova outbox");
}

int64_t qoutbox_count(qstore *s, qerr *e) { return qstore_query_i64(s, qoutbox_sql_count, e); }

static void qoutbox_text(char *out, size_t n, qstmt *st, int col)
{
    const char *t = qstmt_column_text(st, col);
    snprintf(out, n, "%s", t ? (const char *)t : "");
}

int qoutbox_list(qstore *s, qoutbox_event *out, size_t n, qerr *e)
{
    qstmt *st = qstore_stmt(s, qoutbox_sql_list, e);
    if (!st)
        return -1;
    qstmt_bind_int64(st, 1, (int64_t)n);
    size_t got = 0;
    int rc;
    while (got < n && (rc = qstmt_step(st)) == QSTORE_ROW) {
        qoutbox_event *ev = &out[got++];
        ev->id = qstmt_column_int64(st, 0);
        ev->created = qstmt_column_int64(st, 1);
        qoutbox_text(ev->name, sizeof ev->name, st, 2);
        qoutbox_text(ev->server_uuid, sizeof ev->server_uuid, st, 3);
        qoutbox_text(ev->tag, sizeof ev->tag, st, 4);
        qoutbox_text(ev->status, sizeof ev->status, st, 5);
        ev->attempts = qstmt_column_int64(st, 6);
        ev->last_attempt = qstmt_column_int64(st, 7);
        qoutbox_text(ev->last_error, sizeof ev->last_error, st, 8);
    }
    if (got < n && rc != QSTORE_DONE) {
        qstmt_reset(st);
        return qstore_fail(s, e, "nova outbox list");
    }
    qstmt_reset(st);
    return (int)got;
}

int qoutbox_add(qstore *s, const qoutbox_event *ev, int64_t max, qoutbox_event *dropped, qerr *e)
{
    memset(dropped, 0, sizeof *dropped);
    int64_t span = qstore_query_i64(s, qoutbox_sql_span, e);
    if (span < 0)
        return -1;
    if (span >= max) {
        int64_t n = qoutbox_count(s, e);
        if (n < 0)
            return -1;
        if (n >= max) {
            if (qoutbox_list(s, dropped, 1, e) < 0 ||
                qoutbox_run_id(s, qoutbox_sql_delete, dropped->id, e) < 0)
                return -1;
        }
    }
    qstmt *st = qstore_stmt(s, qoutbox_sql_insert, e);
    if (!st)
        return -1;
    qstmt_bind_int64(st, 1, ev->created);
    qstmt_bind_text(st, 2, ev->name, -1, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 3, ev->server_uuid, -1, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 4, ev->tag, -1, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 5, ev->status, -1, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    qstmt_reset(st);
    return rc == QSTORE_DONE ? 0 : qstore_fail(s, e, "nova outbox add");
}

int qoutbox_remove(qstore *s, const int64_t *ids, size_t n, qerr *e)
{
    if (qstore_begin_write(s, e) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (qoutbox_run_id(s, qoutbox_sql_delete, ids[i], e) < 0) {
            qstore_rollback(s);
            return -1;
        }
    return qstore_commit(s, e);
}

int qoutbox_note_failure(qstore *s, const int64_t *ids, size_t n, int64_t now, const char *why,
                         qerr *e)
{
    if (qstore_begin_write(s, e) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        qstmt *st = qstore_stmt(s, qoutbox_sql_failure, e);
        if (!st) {
            qstore_rollback(s);
            return -1;
        }
        qstmt_bind_int64(st, 1, ids[i]);
        qstmt_bind_int64(st, 2, now);
        qstmt_bind_text(st, 3, why, -1, QSTORE_TRANSIENT);
        int rc = qstmt_step(st);
        qstmt_reset(st);
        if (rc != QSTORE_DONE) {
            qstore_fail(s, e, "nova outbox attempt");
            qstore_rollback(s);
            return -1;
        }
    }
    return qstore_commit(s, e);
}
