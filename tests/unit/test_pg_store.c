/* store/pg: the PostgreSQL engine against a real database, QHV_TEST_PG_URL
 * (a fresh, empty database; tests/api/test_pg_engine.py starts a throwaway
 * cluster and runs this with it; without it every test skips). Values in
 * and out (bytea, NULL, integers as booleans, parameters bound but unused),
 * the rewritten json_extract on real documents, constraint and SQL errors
 * and the write lock after them, two stores on one database as two servers:
 * revisions, what one publishes heard by the other (and a gap as one),
 * leadership, a killed session recovered, the pool limit, a schema newer
 * than the build (and Neutron's spellings of the URL), an empty database
 * migrated by several at once, recycled sessions, pruning. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lib/util.h"
#include "store/store.h"

static const char *url(void)
{
    const char *u = getenv("QHV_TEST_PG_URL");
    if (!u || !*u)
        skip();
    return u;
}

static qstore *open_store(int pool, int overflow)
{
    qerr e = {0};
    qstore_opts o = {.connection = url(), .max_pool_size = pool, .max_overflow = overflow,
                     .pool_timeout = 5, .migrate = true};
    qstore *s = qstore_open(&o, &e);
    if (!s)
        fail_msg("open: %s", e.msg);
    return s;
}

/* Runs sql (no parameters) to completion, expecting success. */
static void run(qstore *s, const char *sql)
{
    qerr e = {0};
    qstmt *st = qstore_prepare(s, sql, &e);
    assert_non_null(st);
    int rc;
    while ((rc = qstmt_step(st)) == QSTORE_ROW)
        ;
    if (rc != QSTORE_DONE) {
        qstore_fail(s, &e, sql);
        fail_msg("%s: %s", sql, e.msg);
    }
    qstmt_finalize(st);
}

static int64_t i64(qstore *s, const char *sql)
{
    qerr e = {0};
    qstmt *st = qstore_prepare(s, sql, &e);
    assert_non_null(st);
    assert_int_equal(qstmt_step(st), QSTORE_ROW);
    int64_t v = qstmt_column_int64(st, 0);
    qstmt_finalize(st);
    return v;
}

static void test_values(void **state)
{
    (void)state;
    qstore *s = open_store(5, 5);
    qerr e = {0};
    run(s, "DELETE FROM ipallocs WHERE subnet_id = 'vals'");
    static const unsigned char ip[] = {0x00, 0xff, 0x5c, 0x78, 0x00, 0x01};
    static const char ins[] =
        "INSERT INTO ipallocs(subnet_id, ip, port_id, network_id) VALUES(?1, ?2, ?3, ?4)";
    assert_int_equal(qstore_begin_write(s, &e), 0);
    qstmt *st = qstore_stmt(s, ins, &e);
    assert_non_null(st);
    qstmt_bind_text(st, 1, "valsXX", 4, QSTORE_TRANSIENT);   /* a length: "vals" */
    qstmt_bind_blob(st, 2, ip, sizeof ip, QSTORE_STATIC);
    qstmt_bind_text(st, 3, xstrdup("port"), -1, free);
    qstmt_bind_text(st, 4, "net", -1, QSTORE_STATIC);
    qstmt_bind_int64(st, 9, 1);   /* beyond the statement's: ignored */
    assert_int_equal(qstmt_step(st), QSTORE_DONE);
    qstmt_reset(st);
    /* The same key again: a constraint, a conflict. */
    st = qstore_stmt(s, ins, &e);
    qstmt_bind_text(st, 1, "vals", -1, QSTORE_STATIC);
    qstmt_bind_blob(st, 2, ip, sizeof ip, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 3, "port2", -1, QSTORE_STATIC);
    qstmt_bind_text(st, 4, "net", -1, QSTORE_STATIC);
    assert_int_equal(qstmt_step(st), QSTORE_CONSTRAINT);
    qstmt_reset(st);
    assert_int_equal(qstore_fail(s, &e, "test"), -1);
    assert_int_equal(e.code, QE_CONFLICT);
    /* The transaction is aborted: COMMIT fails, and the write lock is free. */
    assert_int_equal(qstore_commit(s, &e), -1);
    assert_int_equal(qstore_begin_write(s, &e), 0);
    st = qstore_stmt(s, ins, &e);
    qstmt_bind_text(st, 1, "vals", -1, QSTORE_STATIC);
    qstmt_bind_blob(st, 2, ip, sizeof ip, QSTORE_STATIC);
    qstmt_bind_text(st, 3, "port", -1, QSTORE_STATIC);
    qstmt_bind_text(st, 4, "net", -1, QSTORE_STATIC);
    assert_int_equal(qstmt_step(st), QSTORE_DONE);
    qstmt_reset(st);
    assert_int_equal(qstore_commit(s, &e), 0);

    /* Out again: the blob byte for byte; ?2 bound but unused; ?3 an
     * integer taken as a boolean. */
    st = qstore_prepare(s, "SELECT ip, port_id, NULL, 42 FROM ipallocs WHERE subnet_id=?1 AND "
                           "ip>=?4 AND (?3 OR FALSE)", &e);
    assert_non_null(st);
    qstmt_bind_text(st, 1, "vals", -1, QSTORE_STATIC);
    qstmt_bind_text(st, 2, "unused", -1, QSTORE_STATIC);
    qstmt_bind_int64(st, 3, 1);
    static const unsigned char low[] = {0x00};
    qstmt_bind_blob(st, 4, low, 1, QSTORE_STATIC);
    assert_int_equal(qstmt_step(st), QSTORE_ROW);
    assert_int_equal(qstmt_column_bytes(st, 0), (int)sizeof ip);
    assert_memory_equal(qstmt_column_blob(st, 0), ip, sizeof ip);
    assert_string_equal(qstmt_column_text(st, 1), "port");
    assert_int_equal(qstmt_column_bytes(st, 1), 4);
    assert_true(qstmt_column_null(st, 2));
    assert_null(qstmt_column_text(st, 2));
    assert_int_equal(qstmt_column_bytes(st, 2), 0);
    assert_int_equal(qstmt_column_int64(st, 2), 0);
    assert_int_equal(qstmt_column_int64(st, 3), 42);
    assert_int_equal(qstmt_step(st), QSTORE_DONE);
    qstmt_finalize(st);
    st = qstore_prepare(s, "SELECT 1 FROM ipallocs WHERE subnet_id=?1 AND (?2 OR FALSE)", &e);
    qstmt_bind_text(st, 1, "vals", -1, QSTORE_STATIC);
    qstmt_bind_int64(st, 2, 0);
    assert_int_equal(qstmt_step(st), QSTORE_DONE);
    qstmt_finalize(st);

    /* A SQL error is an internal one, and leaves the next write working. */
    st = qstore_prepare(s, "SELECT no_such_column FROM meta", &e);
    assert_non_null(st);
    assert_int_equal(qstmt_step(st), QSTORE_ERROR);
    qstmt_finalize(st);
    qstore_fail(s, &e, "test");
    assert_int_equal(e.code, QE_INTERNAL);
    assert_int_equal(qstore_begin_write(s, &e), 0);
    qstore_rollback(s);
    /* A session idle inside a transaction for a minute ends (and frees the
     * write lock of every server). */
    assert_int_equal(i64(s, "SELECT setting::bigint FROM pg_settings "
                            "WHERE name = 'idle_in_transaction_session_timeout'"), 60000);
    qstore_close(s);
}

static void test_json(void **state)
{
    (void)state;
    qstore *s = open_store(5, 5);
    qerr e = {0};
    run(s, "DELETE FROM resources WHERE kind = 'jtest'");
    run(s, "INSERT INTO resources(kind, id, project_id, body) VALUES"
           "('jtest', 'a', 'p', '{\"shared\": true, \"n\": 4, "
           "\"provider:network_type\": \"vlan\"}'),"
           "('jtest', 'b', 'p', '{\"shared\": false, \"n\": 6}'),"
           "('jtest', 'c', 'p', '{\"n\": 1}')");
    assert_int_equal(i64(s, "SELECT count(*) FROM resources WHERE kind = 'jtest' AND "
                            "json_extract(body, '$.shared') = 1"), 1);
    assert_int_equal(i64(s, "SELECT count(*) FROM resources WHERE kind = 'jtest' AND "
                            "json_extract(body, '$.shared') = 0"), 1);
    /* Missing is NULL: neither equal nor unequal, as on SQLite. */
    assert_int_equal(i64(s, "SELECT count(*) FROM resources WHERE kind = 'jtest' AND "
                            "json_extract(body, '$.shared') != 1"), 1);
    assert_int_equal(i64(s, "SELECT count(*) FROM resources WHERE kind = 'jtest' AND "
                            "json_extract(body, '$.n') = 4"), 1);
    assert_int_equal(i64(s, "SELECT count(*) FROM resources WHERE kind = 'jtest' AND "
                            "json_extract(body, '$.n') = 1"), 1);
    qstmt *st = qstore_prepare(s, "SELECT json_extract(body, '$.\"provider:network_type\"'), "
                                  "json_extract(body, '$.shared') FROM resources INDEXED BY "
                                  "resources_parent WHERE kind = 'jtest' AND id = ?1", &e);
    assert_non_null(st);
    qstmt_bind_text(st, 1, "a", -1, QSTORE_STATIC);
    assert_int_equal(qstmt_step(st), QSTORE_ROW);
    assert_string_equal(qstmt_column_text(st, 0), "vlan");
    assert_int_equal(qstmt_column_int64(st, 1), 1);   /* true, as SQLite's 1 */
    qstmt_finalize(st);
    run(s, "DELETE FROM resources WHERE kind = 'jtest'");
    qstore_close(s);
}

/* What a listener heard. */
typedef struct heard {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n;
    int64_t rev[64];
    char note[64][32];
    bool null[64];
} heard;

static void on_change(void *arg, int64_t rev, const char *note)
{
    heard *h = arg;
    pthread_mutex_lock(&h->lock);
    if (h->n < 64) {
        h->rev[h->n] = rev;
        h->null[h->n] = !note;
        snprintf(h->note[h->n], sizeof h->note[0], "%s", note ? note : "");
        h->n++;
    }
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

/* Waits (bounded generously: the machine is busy) until h has n entries. */
static void wait_heard(heard *h, int n)
{
    pthread_mutex_lock(&h->lock);
    time_t end = time(NULL) + 60;
    while (h->n < n && time(NULL) < end) {
        struct timespec ts;
        qhv_deadline(&ts, 200);
        pthread_cond_timedwait(&h->cond, &h->lock, &ts);
    }
    int got = h->n;
    pthread_mutex_unlock(&h->lock);
    assert_true(got >= n);
}

/* One write transaction on s: bumps the revision, publishes note (unless
 * NULL), commits; the revision. */
static int64_t commit_one(qstore *s, const char *note)
{
    qerr e = {0};
    assert_int_equal(qstore_begin_write(s, &e), 0);
    int64_t rev = qstore_bump_revision(s, &e);
    assert_true(rev > 0);
    if (note)
        assert_int_equal(qstore_publish(s, rev, note, &e), 0);
    assert_int_equal(qstore_commit(s, &e), 0);
    return rev;
}

/* The revision is read at BEGIN and its bump sent with the COMMIT: inside
 * the write it is the bumped one; a write rolled back, or one that commits
 * without a bump, leaves it as it was; another server's next write takes the
 * next number. */
static void test_revision_at_commit(void **state)
{
    (void)state;
    qstore *a = open_store(5, 5), *b = open_store(5, 5);
    qerr e = {0};
    int64_t r0 = qstore_revision(a);
    assert_true(r0 >= 0);
    assert_int_equal(qstore_begin_write(a, &e), 0);
    int64_t r1 = qstore_bump_revision(a, &e);
    assert_int_equal(r1, r0 + 1);
    assert_int_equal(qstore_revision(a), r1);
    assert_int_equal(qstore_bump_revision(a, &e), r0 + 2);   /* each bump counts */
    qstore_rollback(a);
    assert_int_equal(qstore_revision(a), r0);
    assert_int_equal(qstore_begin_write(a, &e), 0);
    assert_int_equal(qstore_revision(a), r0);
    assert_int_equal(qstore_commit(a, &e), 0);
    assert_int_equal(qstore_revision(b), r0);
    assert_int_equal(commit_one(b, "b"), r0 + 1);
    assert_int_equal(qstore_revision(a), r0 + 1);
    assert_int_equal(commit_one(a, "a"), r0 + 2);
    assert_int_equal(qstore_revision(b), r0 + 2);
    /* Outside a write there is nothing to bump. */
    assert_int_equal(qstore_bump_revision(a, &e), -1);
    qstore_close(a);
    qstore_close(b);
}

static void test_two_servers(void **state)
{
    (void)state;
    qstore *a = open_store(5, 5), *b = open_store(5, 5);
    qerr e = {0};
    heard h = {.n = 0};
    pthread_mutex_init(&h.lock, NULL);
    pthread_cond_init(&h.cond, NULL);
    assert_int_equal(qstore_listen(b, on_change, &h, &e), 0);
    /* Notes go into SQL text: quotes and backslashes come back as sent. */
    static const char odd[] = "a'1 \\' \"q\"\n$1 ?1";
    int64_t r1 = commit_one(a, odd);
    assert_int_equal(qstore_revision(b), r1);
    int64_t r2 = commit_one(b, "from-b");      /* its own: not heard */
    int64_t r3 = commit_one(a, "from-a-2");
    assert_true(r1 < r2 && r2 < r3);
    wait_heard(&h, 2);
    assert_int_equal(h.rev[0], r1);
    assert_string_equal(h.note[0], odd);
    assert_int_equal(h.rev[1], r3);
    assert_string_equal(h.note[1], "from-a-2");
    /* A revision missing from the table (pruned) is a gap: told once, with
     * the newest revision the listener saw (r4 when it read between the two
     * commits, else r5), then it goes on with what follows. */
    int64_t r4 = commit_one(a, NULL);
    int64_t r5 = commit_one(a, "after-gap");
    wait_heard(&h, 3);
    assert_true(h.null[2]);
    assert_true(h.rev[2] == r4 || h.rev[2] == r5);
    int next = 3;
    if (h.rev[2] == r4) {      /* r5 then heard as any change */
        wait_heard(&h, 4);
        assert_int_equal(h.rev[3], r5);
        assert_false(h.null[3]);
        next = 4;
    }
    int64_t r6 = commit_one(a, "next");
    wait_heard(&h, next + 1);
    assert_int_equal(h.rev[next], r6);
    assert_false(h.null[next]);
    qstore_unlisten(b);
    qstore_unlisten(b);   /* safe twice */

    /* Leadership: one holder at a time; freed with its session. */
    assert_true(qstore_lead(a, "duty-x"));
    assert_true(qstore_lead(a, "duty-x"));
    assert_false(qstore_lead(b, "duty-x"));
    assert_true(qstore_lead(b, "duty-y"));
    qstore_close(a);
    bool got = false;
    for (int i = 0; i < 600 && !(got = qstore_lead(b, "duty-x")); i++)
        usleep(100000);
    assert_true(got);
    qstore_close(b);
    pthread_mutex_destroy(&h.lock);
    pthread_cond_destroy(&h.cond);
}

static void test_session_killed(void **state)
{
    (void)state;
    qstore *a = open_store(5, 5), *b = open_store(5, 5);
    qerr e = {0};
    char kill[96];
    /* Killed between uses: the next BEGIN finds out and reconnects. */
    snprintf(kill, sizeof kill, "SELECT pg_terminate_backend(%lld)",
             (long long)i64(a, "SELECT pg_backend_pid()"));
    run(b, kill);
    usleep(200000);
    commit_one(a, "after-kill");
    /* Killed and then used: that statement fails as unavailable (503), the
     * next use reconnects. */
    snprintf(kill, sizeof kill, "SELECT pg_terminate_backend(%lld)",
             (long long)i64(a, "SELECT pg_backend_pid()"));
    run(b, kill);
    usleep(200000);
    static const char rev[] = "SELECT value FROM meta WHERE key='revision'";
    qstmt *st = qstore_stmt(a, rev, &e);
    assert_non_null(st);
    assert_int_equal(qstmt_step(st), QSTORE_ERROR);
    qstmt_reset(st);
    qstore_fail(a, &e, "test");
    assert_int_equal(e.code, QE_STORAGE);
    assert_non_null(strstr(e.msg, "The database is unavailable"));
    assert_true(qstore_query_i64(a, rev, &e) > 0);   /* prepared again on the new session */
    qstore_close(a);
    qstore_close(b);
}

static void *other_thread(void *arg)
{
    qstore *s = arg;
    qerr *e = xcalloc(1, sizeof *e);
    qstmt *st = qstore_stmt(s, "SELECT 1", e);
    if (st)
        e->code = QE_OK;
    return e;
}

static void test_pool_limit(void **state)
{
    (void)state;
    qstore *s = open_store(1, 0);   /* this thread's connection is the one */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, s), 0);
    qerr *e;
    pthread_join(t, (void **)&e);
    assert_int_equal(e->code, QE_STORAGE);
    assert_non_null(strstr(e->msg, "max_pool_size + max_overflow"));
    free(e);
    qstore_close(s);
    /* A thread's end gives its place back. */
    s = open_store(2, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&t, NULL, other_thread, s), 0);
        pthread_join(t, (void **)&e);
        assert_int_equal(e->code, QE_OK);
        free(e);
    }
    qstore_close(s);
}

static void test_schema_newer(void **state)
{
    (void)state;
    qstore *s = open_store(5, 5);
    int target = qstore_schema_target(s);
    assert_int_equal(qstore_schema_version(s), target);
    assert_string_equal(qstore_engine_name(s), "postgresql");
    assert_null(strchr(qstore_where(s), '@'));
    run(s, "UPDATE meta SET value = 99 WHERE key = 'schema_version'");
    qerr e = {0};
    qstore_opts o = {.connection = url(), .pool_timeout = 5, .migrate = true};
    assert_null(qstore_open(&o, &e));
    char want[128];
    snprintf(want, sizeof want, "database schema version 99 is newer than this qhv-server (%d)",
             target);
    assert_string_equal(e.msg, want);
    char back[96];
    snprintf(back, sizeof back, "UPDATE meta SET value = %d WHERE key = 'schema_version'", target);
    run(s, back);
    /* Neutron's spellings of the scheme work too. */
    const char *u = url();
    const char *rest = strstr(u, "://");
    assert_non_null(rest);
    char *alt[2] = {xasprintf("postgresql+psycopg2%s", rest), xasprintf("postgres%s", rest)};
    for (int i = 0; i < 2; i++) {
        qstore_opts ao = {.connection = alt[i], .pool_timeout = 5, .migrate = false};
        qerr ae = {0};
        qstore *as = qstore_open(&ao, &ae);
        if (!as)
            fail_msg("%s: %s", alt[i], ae.msg);
        assert_string_equal(qstore_where(as), qstore_where(s));
        qstore_close(as);
        free(alt[i]);
    }
    qstore_close(s);
}

static void *open_thread(void *arg)
{
    (void)arg;
    qerr *e = xcalloc(1, sizeof *e);
    qstore_opts o = {.connection = getenv("QHV_TEST_PG_URL"), .pool_timeout = 5,
                     .migrate = true};
    qstore *s = qstore_open(&o, e);
    if (s) {
        e->code = qstore_schema_version(s) == qstore_schema_target(s) ? QE_OK : QE_INTERNAL;
        qstore_close(s);
    }
    return e;
}

/* An empty database: not served without migrating; several servers
 * starting at once migrate it once (one waits for the other). */
static void test_schema_fresh(void **state)
{
    (void)state;
    qstore *s = open_store(5, 5);
    run(s, "DROP TABLE meta, resources, ipallocs, macs, segments, port_sgs, default_sgs, "
           "quotas, rewrite_pas, nova_outbox, changes");
    qstore_close(s);
    qerr e = {0};
    qstore_opts o = {.connection = url(), .pool_timeout = 5, .migrate = false};
    assert_null(qstore_open(&o, &e));
    assert_non_null(strstr(e.msg, "version 0 is older"));
    assert_non_null(strstr(e.msg, "run qhv-server --db-sync"));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, open_thread, NULL), 0);
    for (int i = 0; i < 4; i++) {
        qerr *te;
        pthread_join(t[i], (void **)&te);
        if (te->code != QE_OK)
            fail_msg("open %d: %s", i, te->msg);
        free(te);
    }
    s = open_store(5, 5);
    assert_int_equal(i64(s, "SELECT count(*) FROM meta"), 2);
    qstore_close(s);
}

/* connection_recycle_time: an older session is replaced before its next
 * transaction, never inside one. */
static void test_recycle(void **state)
{
    (void)state;
    qerr e = {0};
    qstore_opts o = {.connection = url(), .pool_timeout = 5, .connection_recycle_time = 1,
                     .migrate = true};
    qstore *s = qstore_open(&o, &e);
    assert_non_null(s);
    assert_int_equal(qstore_begin_read(s, &e), 0);
    int64_t pid = i64(s, "SELECT pg_backend_pid()");
    sleep(2);
    assert_int_equal(i64(s, "SELECT pg_backend_pid()"), pid);   /* inside: kept */
    qstore_end_read(s);
    assert_int_equal(qstore_begin_write(s, &e), 0);
    assert_true(i64(s, "SELECT pg_backend_pid()") != pid);
    qstore_rollback(s);
    qstore_close(s);
}

static void ignore_change(void *arg, int64_t rev, const char *note)
{
    (void)arg, (void)rev, (void)note;
}

/* The listener that leads "prune-changes" deletes, every minute, what is
 * older than ten minutes and not among the newest 10,000 (old rows made up
 * here below the real revisions, which it never reads). */
static void test_prune(void **state)
{
    (void)state;
    qstore *s = open_store(5, 5);
    qerr e = {0};
    int64_t top = commit_one(s, "top");
    run(s, "INSERT INTO changes(revision, server, note, created) "
           "SELECT -g, 'old', '', 0 FROM generate_series(1, 10050) AS g");
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM changes WHERE revision <= %lld",
             (long long)(top - 10000));
    assert_true(i64(s, sql) > 0);
    char kept[160];
    snprintf(kept, sizeof kept, "SELECT count(*) FROM changes WHERE revision > %lld",
             (long long)(top - 10000));
    int64_t newest = i64(s, kept);
    assert_int_equal(qstore_listen(s, ignore_change, NULL, &e), 0);
    int64_t left = -1;
    for (int i = 0; i < 1800 && (left = i64(s, sql)) > 0; i++)
        usleep(100000);
    assert_int_equal(left, 0);
    /* The newest 10,000 revisions stay. */
    assert_int_equal(i64(s, kept), newest);
    qstore_unlisten(s);
    run(s, "DELETE FROM changes WHERE revision < 0");
    qstore_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_two_servers),
        cmocka_unit_test(test_revision_at_commit),
        cmocka_unit_test(test_session_killed),
        cmocka_unit_test(test_pool_limit),
        cmocka_unit_test(test_schema_newer),
        cmocka_unit_test(test_schema_fresh),
        cmocka_unit_test(test_recycle),
        cmocka_unit_test(test_prune),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
