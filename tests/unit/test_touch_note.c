/* model/touch notes and qmodel_heard: what one server tells the others of a
 * commit comes back as the same touched sets, and a commit heard from
 * another server reaches the plan feed (on_commit) and the Nova sender as
 * ours do; a missed or unreadable one counts as "everything changed". */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/util.h"
#include "model/model.h"

static bool has(const qtouch_set *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], v))
            return true;
    return false;
}

static void test_round_trip(void **state)
{
    (void)state;
    qtouch t = {0};
    qtouch_add(&t.networks, "n1");
    qtouch_add(&t.port_networks, "n2");
    qtouch_add(&t.hosts, "hv1");
    qtouch_add(&t.hosts, "hv \"2\"");
    qtouch_add(&t.groups, "g1");
    char *note = qtouch_to_note(&t, true);
    qtouch back = {0};
    bool nova = false;
    assert_int_equal(qtouch_from_note(note, &back, &nova), 0);
    assert_true(nova);
    assert_false(back.all);
    assert_int_equal(back.networks.n, 1);
    assert_true(has(&back.networks, "n1"));
    assert_true(has(&back.port_networks, "n2"));
    assert_int_equal(back.hosts.n, 2);
    assert_true(has(&back.hosts, "hv \"2\""));
    assert_true(has(&back.groups, "g1"));
    free(note);
    qtouch_clear(&back);
    qtouch_clear(&t);

    /* Nothing touched, no events: an empty note that reads back empty. */
    note = qtouch_to_note(&t, false);
    assert_string_equal(note, "{}");
    assert_int_equal(qtouch_from_note(note, &back, &nova), 0);
    assert_true(qtouch_empty(&back));
    assert_false(nova);
    free(note);

    t.all = true;
    note = qtouch_to_note(&t, false);
    assert_int_equal(qtouch_from_note(note, &back, &nova), 0);
    assert_true(back.all);
    free(note);
    qtouch_clear(&back);
}

static void test_unreadable(void **state)
{
    (void)state;
    qtouch t = {0};
    bool nova;
    assert_int_equal(qtouch_from_note("[1]", &t, &nova), -1);
    assert_int_equal(qtouch_from_note("{\"n\":", &t, &nova), -1);
    assert_int_equal(qtouch_from_note(NULL, &t, &nova), -1);
}

typedef struct heard {
    int commits, wakes;
    int64_t rev;
    bool all, has_host;
} heard;

static void on_commit(void *ctx, const qtouch *t, int64_t rev)
{
    heard *h = ctx;
    h->commits++;
    h->rev = rev;
    h->all = t->all;
    h->has_host = has(&t->hosts, "hv1");
}

static void on_nova(void *ctx)
{
    ((heard *)ctx)->wakes++;
}

static void test_heard(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/qhv-unit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/db.sqlite", dir);
    qerr e;
    qstore_opts so = {.sqlite_path = path, .sqlite_synchronous = "NORMAL", .migrate = true};
    qstore *s = qstore_open(&so, &e);
    assert_non_null(s);
    qconf conf = {0};
    qmodel *m = qmodel_new(s, &conf);
    heard h = {0};
    m->commit_ctx = &h;
    m->nova_ctx = &h;
    atomic_store(&m->on_commit, on_commit);
    atomic_store(&m->on_nova_events, on_nova);

    /* A commit that touched nothing a plan reads: not passed to the feed. */
    qmodel_heard(m, 5, "{}");
    assert_int_equal(h.commits, 0);
    assert_int_equal(h.wakes, 0);
    /* One that did, with events for Nova. */
    qmodel_heard(m, 6, "{\"h\":[\"hv1\"],\"nova\":true}");
    assert_int_equal(h.commits, 1);
    assert_int_equal(h.rev, 6);
    assert_true(h.has_host);
    assert_false(h.all);
    assert_int_equal(h.wakes, 1);
    assert_true(atomic_load(&m->planned_rev) >= 6);
    /* Missed revisions: every plan, and the outbox may have grown. */
    qmodel_heard(m, 9, NULL);
    assert_int_equal(h.commits, 2);
    assert_true(h.all);
    assert_int_equal(h.wakes, 2);
    /* Heard out of order (a newer commit of ours went first): the planned
     * revision never goes back. */
    qmodel_heard(m, 7, "{\"n\":[\"x\"]}");
    assert_int_equal(atomic_load(&m->planned_rev), 9);

    qmodel_free(m);
    qstore_close(s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_heard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
