/* The agent's reconcile: desired vs observed → ops (foreign objects never
 * touched), op order, backoff and retry bookkeeping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit_json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/reconcile.h"
#include "lib/util.h"

static qvs_map *M(const char *text)
{
    qj *o = J(text);
    qvs_map *m = qvs_map_from_object(o);
    qj_free(o);
    return m;
}

static void observed(qvs_observed *o, const char *objects, const char *foreign)
{
    o->nics = qvs_map_new();
    o->objects = M(objects);
    o->foreign = M(foreign);
}

/* "D:id U:id C:id ..." for the ops. */
static void ops_text(const qag_diff *d, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d->nops; i++) {
        char t = d->ops[i].type == QVS_CREATE ? 'C' : d->ops[i].type == QVS_UPDATE ? 'U' : 'D';
        used += (size_t)snprintf(out + used, n - used, "%s%c:%s", i ? " " : "", t,
                                 d->ops[i].id);
    }
}

static void test_diff_basic(void **state)
{
    qvs_map *desired = M("{\"port/a\": {\"x\": 1}, \"port/b\": {\"x\": 2},"
                         " \"acl/a/ingress\": {\"rules\": []}, \"port/c\": {\"x\": 4}}");
    qvs_observed o;
    observed(&o, "{\"port/a\": {\"x\": 1}, \"port/b\": {\"x\": 3}, \"lookup_record/old\": {}}",
             "{\"provider_address/f\": {}, \"acl/a/ingress\": {\"rules\": [1]}}");
    qag_diff d;
    qag_diff_compute(desired, &o, &d);
    char text[512];
    ops_text(&d, text, sizeof text);
    /* equal: nothing; differs: update; missing: create; not wanted: delete;
     * foreign: neither deleted (provider_address/f) nor overwritten (acl). */
    assert_string_equal(text, "D:lookup_record/old U:port/b C:port/c");
    assert_int_equal(d.nconflicts, 1);
    assert_string_equal(d.conflicts[0], "acl/a/ingress");
    for (size_t i = 0; i < d.nops; i++) {
        assert_true(strcmp(d.ops[i].id, "provider_address/f") != 0);
        if (d.ops[i].type != QVS_DELETE)
            assert_ptr_equal(d.ops[i].value, qvs_map_get(desired, d.ops[i].id));
        else
            assert_null(d.ops[i].value);
    }
    qag_diff_free(&d);
    qag_diff_free(&d);      /* idempotent */
    qag_diff_free(NULL);
    qvs_observed_free(&o);
    qvs_map_free(desired);
}

static void test_diff_order(void **state)
{
    qvs_map *desired = M("{\"acl/p/egress\": 1, \"port/p\": 1, \"lookup_record/5/a/m\": 1,"
                         " \"customer_route/5/0.0.0.0/0\": 1, \"provider_address/1.2.3.4\": 1}");
    qvs_observed o;
    observed(&o, "{\"provider_address/9.9.9.9\": 1, \"port/q\": 1, \"acl/q/ingress\": 1,"
                 " \"customer_route/6/x\": 1, \"lookup_record/6/b/m\": 1, \"weird/z\": 1}",
             "{}");
    qag_diff d;
    qag_diff_compute(desired, &o, &d);
    char text[1024];
    ops_text(&d, text, sizeof text);
    /* Deletes first, dependents before what they depend on (unknown kinds
     * first of all); then creates, what is depended on first. */
    assert_string_equal(text, "D:weird/z D:acl/q/ingress D:port/q D:lookup_record/6/b/m "
                              "D:customer_route/6/x D:provider_address/9.9.9.9 "
                              "C:provider_address/1.2.3.4 C:customer_route/5/0.0.0.0/0 "
                              "C:lookup_record/5/a/m C:port/p C:acl/p/egress");
    qag_diff_free(&d);
    qvs_observed_free(&o);
    qvs_map_free(desired);
}

static void test_diff_converged(void **state)
{
    const char *objs = "{\"port/a\": {\"vlan\": 5, \"flags\": [true, false]},"
                       " \"acl/a/egress\": {\"rules\": [{\"protocol\": null}]}}";
    qvs_map *desired = M(objs);
    qvs_observed o;
    observed(&o, objs, "{\"port/zz\": {}}");
    qag_diff d;
    qag_diff_compute(desired, &o, &d);
    assert_int_equal(d.nops, 0);
    assert_int_equal(d.nconflicts, 0);
    qag_diff_free(&d);
    qvs_observed_free(&o);
    qvs_map_free(desired);
    /* Nothing desired, nothing owned: nothing to do, even with foreign objects. */
    desired = M("{}");
    observed(&o, "{}", "{\"port/a\": 1, \"acl/a/ingress\": 2}");
    qag_diff_compute(desired, &o, &d);
    assert_int_equal(d.nops, 0);
    qag_diff_free(&d);
    qvs_observed_free(&o);
    qvs_map_free(desired);
}

static void test_backoff(void **state)
{
    const uint64_t ms = 1000;
    assert_int_equal(qag_backoff_us(0, 100 * ms, 10000 * ms), 0);
    assert_int_equal(qag_backoff_us(1, 100 * ms, 10000 * ms), 100 * ms);
    assert_int_equal(qag_backoff_us(2, 100 * ms, 10000 * ms), 200 * ms);
    assert_int_equal(qag_backoff_us(3, 100 * ms, 10000 * ms), 400 * ms);
    assert_int_equal(qag_backoff_us(7, 100 * ms, 10000 * ms), 6400 * ms);
    assert_int_equal(qag_backoff_us(8, 100 * ms, 10000 * ms), 10000 * ms);
    assert_int_equal(qag_backoff_us(1000000, 100 * ms, 10000 * ms), 10000 * ms);
    assert_int_equal(qag_backoff_us(3, 1000 * ms, 30000 * ms), 4000 * ms);
}

static void test_retry(void **state)
{
    qag_retry r;
    qag_retry_init(&r);
    qj *v1 = J("{\"x\": 1}"), *v2 = J("{\"x\": 2}");
    qvs_op op = {.type = QVS_CREATE, .id = "port/a", .value = v1};
    qvs_op other = {.type = QVS_CREATE, .id = "port/b", .value = v1};
    uint64_t t = 1000000000;
    assert_true(qag_retry_ready(&r, &op, t));
    assert_int_equal(qag_retry_next(&r), UINT64_MAX);
    assert_int_equal(qag_retry_failed(&r, &op, t), 1);
    assert_false(qag_retry_ready(&r, &op, t + 99999));
    assert_true(qag_retry_ready(&r, &op, t + 100000));
    assert_true(qag_retry_ready(&r, &other, t));    /* other objects are not held up */
    assert_int_equal(qag_retry_next(&r), t + 100000);
    assert_int_equal(qag_retry_failed(&r, &op, t + 100000), 2);
    assert_false(qag_retry_ready(&r, &op, t + 100000 + 199999));
    assert_true(qag_retry_ready(&r, &op, t + 100000 + 200000));
    /* The intent changed: the new op may run at once, and counts afresh. */
    qvs_op changed = {.type = QVS_CREATE, .id = "port/a", .value = v2};
    assert_true(qag_retry_ready(&r, &changed, t + 100001));
    assert_int_equal(qag_retry_failed(&r, &changed, t), 1);
    /* Same value as an update is a different op too. */
    qvs_op upd = {.type = QVS_UPDATE, .id = "port/a", .value = v2};
    assert_true(qag_retry_ready(&r, &upd, t + 1));
    /* Success clears. */
    qag_retry_clear(&r, "port/a");
    assert_true(qag_retry_ready(&r, &changed, t));
    assert_int_equal(qag_retry_count(&r), 0);
    /* Prune: only ids still needing an op keep their entry. */
    qag_retry_failed(&r, &op, t);
    qag_retry_failed(&r, &other, t);
    qvs_op keep_ops[] = {{.type = QVS_CREATE, .id = "port/b", .value = v1}};
    qag_diff d = {.ops = keep_ops, .nops = 1};
    qag_retry_prune(&r, &d);
    assert_int_equal(qag_retry_count(&r), 1);
    assert_true(qag_retry_ready(&r, &op, t));
    assert_false(qag_retry_ready(&r, &other, t));
    qag_retry_free(&r);
    qag_retry_free(&r);
    qag_retry_free(NULL);
    qj_free(v1);
    qj_free(v2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_basic),
        cmocka_unit_test(test_diff_order),
        cmocka_unit_test(test_diff_converged),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_retry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
