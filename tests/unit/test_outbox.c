/* store/outbox: the Nova outbox on a real SQLite store: order, the bound
 * (the oldest dropped, counted exactly when ids have gaps), removal and
 * failed attempts, and that an event added in a rolled back transaction
 * does not exist. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/util.h"
#include "store/outbox.h"

typedef struct fixture {
    char dir[64];
    qstore *store;
} fixture;

static int setup(void **state)
{
    fixture *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/qhv-unit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128];
    snprintf(path, sizeof path, "%s/db.sqlite", f->dir);
    qerr e;
    qstore_opts so = {.sqlite_path = path, .sqlite_synchronous = "NORMAL", .migrate = true};
    f->store = qstore_open(&so, &e);
    assert_non_null(f->store);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    qstore_close(f->store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Adds event tag in its own transaction; returns the id dropped (0: none). */
static int64_t add(fixture *f, const char *tag, int64_t max)
{
    qerr e;
    qoutbox_event ev = {.created = 100}, dropped;
    snprintf(ev.name, sizeof ev.name, "network-vif-plugged");
    snprintf(ev.server_uuid, sizeof ev.server_uuid, "vm");
    snprintf(ev.tag, sizeof ev.tag, "%s", tag);
    snprintf(ev.status, sizeof ev.status, "completed");
    assert_int_equal(qstore_begin_write(f->store, &e), 0);
    assert_int_equal(qoutbox_add(f->store, &ev, max, &dropped, &e), 0);
    assert_int_equal(qstore_commit(f->store, &e), 0);
    return dropped.id;
}

/* The pending tags, oldest first, joined by ",". */
static void tags(fixture *f, char *out, size_t n)
{
    qoutbox_event evs[16];
    qerr e;
    int k = qoutbox_list(f->store, evs, 16, &e);
    assert_true(k >= 0);
    assert_int_equal(qoutbox_count(f->store, &e), k);
    out[0] = '\0';
    for (int i = 0; i < k; i++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s%s", i ? "," : "", evs[i].tag);
    }
}

static void test_order_and_bound(void **state)
{
    fixture *f = *state;
    char got[256];
    assert_int_equal(add(f, "a", 3), 0);
    assert_int_equal(add(f, "b", 3), 0);
    assert_int_equal(add(f, "c", 3), 0);
    tags(f, got, sizeof got);
    assert_string_equal(got, "a,b,c");
    assert_int_equal(add(f, "d", 3), 1);                  /* full: a (id 1) goes */
    tags(f, got, sizeof got);
    assert_string_equal(got, "b,c,d");
    /* A gap (c answered) leaves room although the ids span 3. */
    qerr e;
    qoutbox_event evs[4];
    assert_int_equal(qoutbox_list(f->store, evs, 4, &e), 3);
    assert_int_equal(qoutbox_remove(f->store, &evs[1].id, 1, &e), 0);
    assert_int_equal(add(f, "e", 3), 0);
    tags(f, got, sizeof got);
    assert_string_equal(got, "b,d,e");
    assert_int_equal(add(f, "f", 3), evs[0].id);          /* b */
    tags(f, got, sizeof got);
    assert_string_equal(got, "d,e,f");
}

static void test_attempts_and_removal(void **state)
{
    fixture *f = *state;
    add(f, "a", 10);
    add(f, "b", 10);
    qerr e;
    qoutbox_event evs[4];
    assert_int_equal(qoutbox_list(f->store, evs, 4, &e), 2);
    int64_t ids[] = {evs[0].id, evs[1].id, 999};          /* 999: gone already */
    assert_int_equal(qoutbox_note_failure(f->store, ids, 2, 1234, "Nova answered 500", &e), 0);
    assert_int_equal(qoutbox_note_failure(f->store, ids, 1, 1240, "unreachable", &e), 0);
    assert_int_equal(qoutbox_list(f->store, evs, 4, &e), 2);
    assert_int_equal(evs[0].attempts, 2);
    assert_int_equal(evs[0].last_attempt, 1240);
    assert_string_equal(evs[0].last_error, "unreachable");
    assert_int_equal(evs[1].attempts, 1);
    assert_string_equal(evs[1].last_error, "Nova answered 500");
    assert_string_equal(evs[1].status, "completed");
    assert_int_equal(evs[1].created, 100);
    assert_int_equal(qoutbox_remove(f->store, ids, 3, &e), 0);
    assert_int_equal(qoutbox_count(f->store, &e), 0);
}

static void test_rollback_leaves_nothing(void **state)
{
    fixture *f = *state;
    qerr e;
    qoutbox_event ev = {.created = 1}, dropped;
    snprintf(ev.name, sizeof ev.name, "network-vif-deleted");
    assert_int_equal(qstore_begin_write(f->store, &e), 0);
    assert_int_equal(qoutbox_add(f->store, &ev, 10, &dropped, &e), 0);
    qstore_rollback(f->store);
    assert_int_equal(qoutbox_count(f->store, &e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts_and_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
