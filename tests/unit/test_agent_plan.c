/* The agent's plan: full plans replace it, deltas patch it (set/removed),
 * answers that do not apply change nothing; and the hash map it lives in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit_json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/plan.h"
#include "lib/util.h"

/* Applies an answer given as text; returns qag_plan_apply's result. */
static int apply(qag_plan *p, const char *text)
{
    qj *a = J(text);
    char err[256] = "";
    int rc = qag_plan_apply(p, a, err, sizeof err);
    if (rc < 0)
        assert_true(err[0] != '\0');
    qj_free(a);
    return rc;
}

static void assert_section(const qag_plan *p, qag_section s, const char *want)
{
    qvs_map *m = qag_plan_section(p, s);
    qj *o = qvs_map_to_object(m);
    qvs_map_free(m);
    char *text = qj_to_string(o);
    assert_string_equal(text, want);
    free(text);
    qj_free(o);
}

static const char full[] =
    "{\"host\": \"hv1\", \"revision\": 10, \"plan\": {"
    " \"ports\": {\"p1\": {\"id\": \"p1\", \"network_id\": \"n1\"},"
    "             \"p2\": {\"id\": \"p2\", \"network_id\": \"n1\"}},"
    " \"networks\": {\"n1\": {\"id\": \"n1\", \"network_type\": \"vlan\"}},"
    " \"security_groups\": {}, \"address_sets\": {},"
    " \"lookup_records\": {}, \"customer_routes\": {}, \"provider_addresses\": {}}}";

static void test_full(void **state)
{
    qag_plan p;
    qag_plan_init(&p);
    assert_int_equal(p.revision, -1);
    assert_int_equal(apply(&p, full), 1);
    assert_int_equal(p.revision, 10);
    assert_int_equal(qtm_size(p.sec[QAG_SEC_PORTS]), 2);
    qj *p2 = qag_plan_get(&p, QAG_SEC_PORTS, "p2");
    assert_string_equal(qj_get_str(p2, "network_id"), "n1");
    qj_free(p2);
    assert_null(qag_plan_get(&p, QAG_SEC_PORTS, "p3"));
    /* The same plan again: only the revision moves. */
    char *again = xstrdup(full);
    memcpy(strstr(again, "10"), "12", 2);
    assert_int_equal(apply(&p, again), 0);
    assert_int_equal(p.revision, 12);
    free(again);
    /* A full plan replaces: what it lacks is gone (missing sections are empty). */
    assert_int_equal(apply(&p, "{\"revision\": 13, \"plan\": {\"ports\": {\"p3\": {}}}}"), 1);
    assert_section(&p, QAG_SEC_PORTS, "{\"p3\":{}}");
    assert_section(&p, QAG_SEC_NETWORKS, "{}");
    qag_plan_free(&p);
    qag_plan_free(&p);
    qag_plan_free(NULL);
}

static void test_delta(void **state)
{
    qag_plan p;
    qag_plan_init(&p);
    assert_int_equal(apply(&p, full), 1);
    /* set: added and changed objects, whole; removed: keys. */
    assert_int_equal(apply(&p, "{\"revision\": 15, \"since\": 10, \"delta\": {"
                               " \"ports\": {\"set\": {\"p2\": {\"id\": \"p2\", \"x\": 1},"
                               "                      \"p9\": {\"id\": \"p9\"}},"
                               "           \"removed\": [\"p1\", \"nope\"]},"
                               " \"lookup_records\": {\"set\": {\"5/a/m\": {\"vsid\": 5}},"
                               "                     \"removed\": []},"
                               " \"someday\": {\"set\": {\"k\": 1}}}}"),
                     1);
    assert_int_equal(p.revision, 15);
    assert_section(&p, QAG_SEC_PORTS, "{\"p2\":{\"id\":\"p2\",\"x\":1},\"p9\":{\"id\":\"p9\"}}");
    /* kept as compact text */
    assert_string_equal(qtm_get(p.sec[QAG_SEC_LOOKUP], "5/a/m", NULL), "{\"vsid\":5}");
    assert_section(&p, QAG_SEC_LOOKUP, "{\"5/a/m\":{\"vsid\":5}}");
    assert_section(&p, QAG_SEC_NETWORKS, "{\"n1\":{\"id\":\"n1\",\"network_type\":\"vlan\"}}");
    /* An empty delta: unchanged up to a newer revision. */
    assert_int_equal(apply(&p, "{\"revision\": 20, \"since\": 15, \"delta\": {}}"), 0);
    assert_int_equal(p.revision, 20);
    /* Setting an equal value or removing an absent key is no change. */
    assert_int_equal(apply(&p, "{\"revision\": 21, \"since\": 20, \"delta\": {\"ports\":"
                               " {\"set\": {\"p9\": {\"id\": \"p9\"}}, \"removed\": [\"zz\"]}}}"),
                     0);
    assert_int_equal(p.revision, 21);
    qag_plan_free(&p);
}

static void test_delta_rejected(void **state)
{
    qag_plan p;
    qag_plan_init(&p);
    /* No plan yet: a delta cannot apply. */
    assert_int_equal(apply(&p, "{\"revision\": 3, \"since\": 2, \"delta\": {}}"), -1);
    assert_int_equal(p.revision, -1);
    assert_int_equal(apply(&p, full), 1);
    /* Since another revision than ours. */
    assert_int_equal(apply(&p, "{\"revision\": 30, \"since\": 9, \"delta\": {\"ports\":"
                               " {\"removed\": [\"p1\"]}}}"), -1);
    /* Malformed: the first section is fine, the second is not → nothing applied. */
    assert_int_equal(apply(&p, "{\"revision\": 30, \"since\": 10, \"delta\": {"
                               " \"ports\": {\"removed\": [\"p1\"]},"
                               " \"networks\": {\"removed\": \"n1\"}}}"), -1);
    assert_int_equal(apply(&p, "{\"revision\": 30, \"since\": 10, \"delta\": {"
                               " \"ports\": {\"removed\": [1]}}}"), -1);
    assert_int_equal(apply(&p, "{\"revision\": 30, \"since\": 10, \"delta\": {"
                               " \"ports\": {\"set\": []}}}"), -1);
    assert_int_equal(apply(&p, "{\"revision\": 30, \"plan\": {\"ports\": []}}"), -1);
    assert_int_equal(apply(&p, "{\"since\": 10, \"delta\": {}}"), -1);
    assert_int_equal(apply(&p, "{\"revision\": 30}"), -1);
    assert_int_equal(p.revision, 10);
    assert_int_equal(qtm_size(p.sec[QAG_SEC_PORTS]), 2);
    qag_plan_free(&p);
}

static void test_objmap(void **state)
{
    qvs_map *m = qvs_map_new();
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        qvs_map_put(m, key, qj_int(i));
    }
    assert_int_equal(qvs_map_size(m), 10000);
    for (int i = 0; i < 10000; i += 2) {
        snprintf(key, sizeof key, "k%d", i);
        assert_true(qvs_map_del(m, key));
        assert_false(qvs_map_del(m, key));
    }
    assert_int_equal(qvs_map_size(m), 5000);
    qvs_map_put(m, "k1", qj_str("replaced"));   /* keeps its place */
    for (int i = 10000; i < 12000; i++) {       /* inserting compacts */
        snprintf(key, sizeof key, "k%d", i);
        qvs_map_put(m, key, qj_int(i));
    }
    /* Insertion order, deleted skipped. */
    const char *k;
    qj *v;
    int seen = 0, last = -1;
    for (size_t i = 0; i < qvs_map_end(m); i++) {
        if (!qvs_map_at(m, i, &k, &v))
            continue;
        int n = (int)strtol(k + 1, NULL, 10);
        assert_true(n % 2 == 1 || n >= 10000);
        assert_true(n > last);
        last = n;
        seen++;
    }
    assert_int_equal(seen, 7000);
    assert_string_equal(qj_as_str(qvs_map_get(m, "k1")), "replaced");
    assert_null(qvs_map_get(m, "k2"));
    qj *t = qvs_map_take(m, "k3");
    assert_int_equal(t->u.i, 3);
    qj_free(t);
    assert_null(qvs_map_take(m, "k3"));
    /* Round trip through a JSON object. */
    qj *o = qvs_map_to_object(m);
    assert_int_equal(qj_len(o), 6999);
    qvs_map *m2 = qvs_map_from_object(o);
    assert_int_equal(qj_len(o), 0);
    assert_true(qvs_map_equal(m, m2));
    qvs_map_put(m2, "k5", qj_int(6));
    assert_false(qvs_map_equal(m, m2));
    qvs_map_clear(m2);
    assert_int_equal(qvs_map_size(m2), 0);
    assert_null(qvs_map_get(m2, "k7"));
    qj_free(o);
    qvs_map_free(m);
    qvs_map_free(m2);
    qvs_map_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_delta_rejected),
        cmocka_unit_test(test_objmap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
