/* qalloc_pick: random probes then the first gap, exhaustion reported only
 * when every value is taken. qalloc_claim: the same, each value recorded
 * by the claim, which is the probe. The taken set is a sorted array. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "model/alloc.h"

typedef struct taken_set {
    qhv_u128 v[4096];
    size_t n;
    int calls;
    int claims;
    bool fail;
    bool claim_fail;
} taken_set;

static int next_taken(void *ctx, qhv_u128 from, qhv_u128 *ret)
{
    taken_set *t = ctx;
    t->calls++;
    if (t->fail)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i] >= from) {
            *ret = t->v[i];
            return 1;
        }
    }
    return 0;
}

static void take(taken_set *t, qhv_u128 v)
{
    size_t i = t->n;
    while (i && t->v[i - 1] > v) {
        t->v[i] = t->v[i - 1];
        i--;
    }
    t->v[i] = v;
    t->n++;
}

static bool is_taken(const taken_set *t, qhv_u128 v)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i] == v)
            return true;
    return false;
}

/* Records v when free, as the ipallocs INSERT OR IGNORE … RETURNING does. */
static int claim(void *ctx, qhv_u128 v)
{
    taken_set *t = ctx;
    t->claims++;
    if (t->claim_fail)
        return -1;
    if (is_taken(t, v))
        return 0;
    take(t, v);
    return 1;
}

static void test_empty_space_picks_in_range(void **state)
{
    taken_set t = {0};
    qrange r = {100, 199};
    for (int i = 0; i < 200; i++) {
        qhv_u128 v;
        assert_int_equal(qalloc_pick(&r, 1, next_taken, &t, &v), 1);
        assert_true(v >= 100 && v <= 199);
    }
}

static void test_fills_every_value_then_exhausts(void **state)
{
    static taken_set t;
    memset(&t, 0, sizeof t);
    qrange r[2] = {{10, 19}, {40, 44}};
    for (int i = 0; i < 15; i++) {
        qhv_u128 v;
        assert_int_equal(qalloc_pick(r, 2, next_taken, &t, &v), 1);
        assert_true((v >= 10 && v <= 19) || (v >= 40 && v <= 44));
        for (size_t j = 0; j < t.n; j++)
            assert_true(t.v[j] != v);      /* never a taken value */
        take(&t, v);
    }
    qhv_u128 v;
    assert_int_equal(qalloc_pick(r, 2, next_taken, &t, &v), 0);
}

/* 1..1000 all taken but 777. */
static void all_taken_but_777(taken_set *t)
{
    memset(t, 0, sizeof *t);
    for (qhv_u128 i = 1; i <= 1000; i++)
        if (i != 777)
            take(t, i);
}

static void test_last_free_value_found_by_scan(void **state)
{
    static taken_set t;
    qrange r = {1, 1000};
    all_taken_but_777(&t);
    qhv_u128 v = 0;
    assert_int_equal(qalloc_pick(&r, 1, next_taken, &t, &v), 1);
    assert_true(v == 777);
}

static void test_error_propagates(void **state)
{
    taken_set t = {.fail = true};
    qrange r = {1, 10};
    qhv_u128 v;
    assert_int_equal(qalloc_pick(&r, 1, next_taken, &t, &v), -1);
}

static void test_full_ipv6_width(void **state)
{
    taken_set t = {0};
    qrange r = {0, ~(qhv_u128)0};
    qhv_u128 v;
    assert_int_equal(qalloc_pick(&r, 1, next_taken, &t, &v), 1);
    assert_int_equal(t.calls, 1);   /* one probe in an empty space */
}

static void test_claim_fills_every_value_then_exhausts(void **state)
{
    static taken_set t;
    memset(&t, 0, sizeof t);
    qrange r[2] = {{10, 19}, {40, 44}};
    for (int i = 0; i < 15; i++) {
        qhv_u128 v;
        size_t before = t.n;
        assert_int_equal(qalloc_claim(r, 2, next_taken, claim, &t, &v), 1);
        assert_true((v >= 10 && v <= 19) || (v >= 40 && v <= 44));
        assert_int_equal(t.n, before + 1);    /* recorded once, by the claim */
        assert_true(is_taken(&t, v));
    }
    qhv_u128 v;
    assert_int_equal(qalloc_claim(r, 2, next_taken, claim, &t, &v), 0);
    assert_int_equal(t.n, 15);
}

static void test_claim_last_free_value_found_by_scan(void **state)
{
    static taken_set t;
    qrange r = {1, 1000};
    all_taken_but_777(&t);
    qhv_u128 v = 0;
    assert_int_equal(qalloc_claim(&r, 1, next_taken, claim, &t, &v), 1);
    assert_true(v == 777);
    assert_int_equal(t.n, 1000);
}

static void test_claim_is_the_probe(void **state)
{
    taken_set t = {0};
    qrange r = {0, ~(qhv_u128)0};
    qhv_u128 v;
    assert_int_equal(qalloc_claim(&r, 1, next_taken, claim, &t, &v), 1);
    assert_int_equal(t.calls, 0);   /* no lookup before the claim in an empty space */
    assert_int_equal(t.claims, 1);
    assert_true(is_taken(&t, v));
}

static void test_claim_error_propagates(void **state)
{
    taken_set t = {.claim_fail = true};
    qrange r = {1, 10};
    qhv_u128 v;
    assert_int_equal(qalloc_claim(&r, 1, next_taken, claim, &t, &v), -1);
    assert_int_equal(t.claims, 1);
    taken_set u = {.fail = true};
    for (qhv_u128 i = 1; i <= 10; i++)
        take(&u, i);     /* probes all find values taken; the scan's lookup fails */
    assert_int_equal(qalloc_claim(&r, 1, next_taken, claim, &u, &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_space_picks_in_range),
        cmocka_unit_test(test_fills_every_value_then_exhausts),
        cmocka_unit_test(test_last_free_value_found_by_scan),
        cmocka_unit_test(test_error_propagates),
        cmocka_unit_test(test_full_ipv6_width),
        cmocka_unit_test(test_claim_fills_every_value_then_exhausts),
        cmocka_unit_test(test_claim_last_free_value_found_by_scan),
        cmocka_unit_test(test_claim_is_the_probe),
        cmocka_unit_test(test_claim_error_propagates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
