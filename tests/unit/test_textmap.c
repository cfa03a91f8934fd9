/* textmap: against a plain reference model, and its memory bound under churn. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/textmap.h"

static void test_basics(void **state)
{
    (void)state;
    qtm *m = qtm_new();
    size_t len;
    assert_null(qtm_get(m, "a", &len));
    assert_true(qtm_put(m, "a", "1", 1));
    assert_true(qtm_put(m, "b", "22", 2));
    assert_true(qtm_put(m, "", "", 0));             /* empty key and value */
    assert_true(qtm_put(m, "nul", "x\0y", 3));      /* a value holding NUL */
    assert_false(qtm_put(m, "a", "1", 1));          /* the same value: no change */
    assert_true(qtm_put(m, "a", "111", 3));         /* replaced, keeps its place */
    assert_int_equal(qtm_size(m), 4);
    assert_string_equal(qtm_get(m, "a", &len), "111");
    assert_int_equal(len, 3);
    assert_string_equal(qtm_get(m, "", &len), "");
    assert_int_equal(len, 0);
    assert_memory_equal(qtm_get(m, "nul", &len), "x\0y", 4);
    assert_int_equal(len, 3);
    const char *want[] = {"a", "b", "", "nul"}, *k, *v;
    size_t seen = 0;
    for (size_t i = 0; i < qtm_end(m); i++)
        if (qtm_at(m, i, &k, &v, NULL))
            assert_string_equal(k, want[seen++]);
    assert_int_equal(seen, 4);
    assert_true(qtm_del(m, "b"));
    assert_false(qtm_del(m, "b"));
    assert_null(qtm_get(m, "b", NULL));
    assert_int_equal(qtm_size(m), 3);
    /* Equal regardless of order; a different value or key is not equal. */
    qtm *o = qtm_new();
    qtm_put(o, "nul", "x\0y", 3);
    qtm_put(o, "", "", 0);
    qtm_put(o, "a", "111", 3);
    assert_true(qtm_equal(m, o));
    qtm_put(o, "a", "112", 3);
    assert_false(qtm_equal(m, o));
    qtm_del(o, "a");
    qtm_put(o, "c", "111", 3);
    assert_false(qtm_equal(m, o));
    qtm_clear(o);
    assert_int_equal(qtm_size(o), 0);
    assert_null(qtm_get(o, "c", NULL));
    qtm_put(o, "c", "1", 1);
    assert_string_equal(qtm_get(o, "c", NULL), "1");
    qtm_free(o);
    qtm_free(m);
    qtm_free(NULL);
    assert_int_equal(qtm_size(NULL), 0);
}

/* The reference: keys k0..kN-1, each absent or with a value, plus an
 * insertion sequence number giving the expected order. */
#define NKEYS 3000
typedef struct ref {
    char val[64];
    size_t len;
    bool present;
    unsigned long seq;
} ref;

static void check_against(const qtm *m, const ref *r)
{
    size_t live = 0;
    char key[16];
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        size_t len;
        const char *v = qtm_get(m, key, &len);
        if (!r[i].present) {
            assert_null(v);
            continue;
        }
        live++;
        assert_non_null(v);
        assert_int_equal(len, r[i].len);
        assert_memory_equal(v, r[i].val, len);
        assert_int_equal(v[len], '\0');
    }
    assert_int_equal(qtm_size(m), live);
    /* Iteration: every live key once, in insertion order. */
    unsigned long last = 0;
    size_t seen = 0;
    const char *k;
    for (size_t i = 0; i < qtm_end(m); i++) {
        if (!qtm_at(m, i, &k, NULL, NULL))
            continue;
        int n = atoi(k + 1);
        assert_true(r[n].present);
        assert_true(r[n].seq > last);
        last = r[n].seq;
        seen++;
    }
    assert_int_equal(seen, live);
}

static void test_model(void **state)
{
    (void)state;
    ref *r = calloc(NKEYS, sizeof *r);
    qtm *m = qtm_new();
    unsigned long seq = 0;
    unsigned s = 12345;
    char key[16];
    for (int step = 0; step < 300000; step++) {
        s = s * 1103515245u + 12345u;
        int k = (int)((s >> 8) % NKEYS), what = (int)((s >> 20) % 10);
        snprintf(key, sizeof key, "k%d", k);
        if (what < 3) {
            assert_int_equal(qtm_del(m, key), r[k].present);
            r[k].present = false;
        } else {
            char v[64];
            size_t len = (size_t)((s >> 4) % 60);
            for (size_t i = 0; i < len; i++)
                v[i] = (char)('a' + (s >> (i % 24)) % 26);
            bool same = r[k].present && r[k].len == len && !memcmp(r[k].val, v, len);
            assert_int_equal(qtm_put(m, key, v, len), !same);
            if (!r[k].present)
                r[k].seq = ++seq;
            r[k].present = true;
            memcpy(r[k].val, v, len);
            r[k].len = len;
        }
        if (step % 50000 == 0)
            check_against(m, r);
    }
    check_against(m, r);
    free(r);
    qtm_free(m);
}

/* Replacing and removing leaves garbage that compaction bounds: a thousand
 * 200-byte values rewritten a hundred times (20 MB written) hold at most
 * 2.5 times their size: garbage up to a quarter of the text, capacity up to
 * half as much again, and the bookkeeping. */
static void test_memory_bound(void **state)
{
    (void)state;
    qtm *m = qtm_new();
    char key[16], val[200];
    for (int round = 0; round < 100; round++) {
        for (int i = round % 3; i < 1000; i += 3) {     /* churn: some leave, come back */
            snprintf(key, sizeof key, "k%d", i);
            qtm_del(m, key);
        }
        for (int i = 0; i < 1000; i++) {
            snprintf(key, sizeof key, "k%d", i);
            memset(val, 'a' + round % 26, sizeof val);
            snprintf(val, 12, "%d-%d", round, i);
            qtm_put(m, key, val, sizeof val);
        }
    }
    size_t live = 0;
    size_t len;
    const char *k;
    for (size_t i = 0; i < qtm_end(m); i++)
        if (qtm_at(m, i, &k, NULL, &len))
            live += strlen(k) + len + 2;
    size_t bytes = qtm_bytes(m);
    printf("textmap: %zu live bytes in %zu entries hold %zu bytes\n", live, qtm_size(m), bytes);
    assert_true(bytes < live * 5 / 2);
    qtm_free(m);
}

/* The digest: the same for the same entries in any order and on any
 * platform (the values were worked out apart from this code, in Python,
 * from qtm_digest's description); any change of a key, a value or the
 * name changes it; maps' digests add up. */
static void test_digest(void **state)
{
    (void)state;
    qtm *a = qtm_new(), *b = qtm_new(), *c = qtm_new();
    assert_true(qtm_digest(a, "ports") == 0);
    qtm_put(a, "a", "1", 1);
    qtm_put(a, "b", "{\"x\":[1,2]}", 11);
    qtm_put(b, "b", "{\"x\":[1,2]}", 11);
    qtm_put(b, "a", "1", 1);
    assert_true(qtm_digest(a, "ports") == 0xbf51ea14b23d9fb4ULL);
    assert_true(qtm_digest(b, "ports") == qtm_digest(a, "ports"));
    qtm_put(c, "a", "1", 1);
    assert_true(qtm_digest(c, "ports") == 0x5f8f48e61494aad7ULL);
    assert_true(qtm_digest(a, "networks") != qtm_digest(a, "ports"));
    qtm_put(b, "a", "2", 1);
    assert_true(qtm_digest(b, "ports") != qtm_digest(a, "ports"));
    qtm_put(b, "a", "1", 1);
    qtm_del(b, "b");
    qtm_put(b, "c", "{\"x\":[1,2]}", 11);
    assert_true(qtm_digest(b, "ports") != qtm_digest(a, "ports"));
    qtm_del(b, "c");
    assert_true(qtm_digest(b, "ports") == qtm_digest(c, "ports"));
    qtm_free(a);
    qtm_free(b);
    qtm_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_memory_bound),
        cmocka_unit_test(test_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
