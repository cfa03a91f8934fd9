/* qaddrset: union, difference, containment and the fewest prefixes, as
 * netaddr's IPSet gives them to Neutron's subnet pools, including the edges
 * of both families' address spaces. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/addrset.h"

static qcidr C(const char *s)
{
    qcidr c;
    assert_int_equal(qcidr_parse(s, &c), 0);
    return c;
}

/* The set's prefixes as "a b c". */
static void text(const qaddrset *s, char *out, size_t len)
{
    qcidr *cs;
    size_t n = qaddrset_cidrs(s, &cs);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char t[QCIDR_STRLEN];
        qcidr_format(&cs[i], t);
        snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", t);
    }
    free(cs);
}

static void test_union_compacts(void **state)
{
    qaddrset s;
    qaddrset_init(&s, 4);
    const char *in[] = {"10.0.1.0/24", "10.0.0.0/24", "10.0.2.0/23", "10.0.0.128/25",
                        "10.0.8.0/24", "192.168.0.0/32"};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        qcidr c = C(in[i]);
        qaddrset_add(&s, &c);
    }
    char out[2048];
    text(&s, out, sizeof out);
    assert_string_equal(out, "10.0.0.0/22 10.0.8.0/24 192.168.0.0/32");
    /* Adjacent but unaligned: two prefixes, one range. */
    qaddrset_free(&s);
    qaddrset_init(&s, 4);
    qcidr a = C("10.0.1.0/24"), b = C("10.0.2.0/24");
    qaddrset_add(&s, &a);
    qaddrset_add(&s, &b);
    assert_int_equal(s.n, 1);
    text(&s, out, sizeof out);
    assert_string_equal(out, "10.0.1.0/24 10.0.2.0/24");
    qcidr v6 = C("2001:db8::/64");
    qaddrset_add(&s, &v6);     /* another family: ignored */
    assert_int_equal(s.n, 1);
    qaddrset_free(&s);
    qaddrset_free(NULL);
}

static void test_difference_and_containment(void **state)
{
    qaddrset s;
    qaddrset_init(&s, 4);
    qcidr pool = C("10.40.0.0/16"), used = C("10.40.0.0/24"), used2 = C("10.40.4.0/22");
    qaddrset_add(&s, &pool);
    qaddrset_remove(&s, &used);
    qaddrset_remove(&s, &used2);
    char out[2048];
    text(&s, out, sizeof out);
    assert_string_equal(out, "10.40.1.0/24 10.40.2.0/23 10.40.8.0/21 10.40.16.0/20 "
                             "10.40.32.0/19 10.40.64.0/18 10.40.128.0/17");
    qcidr in = C("10.40.2.0/24"), out1 = C("10.40.0.0/23"), far = C("10.41.0.0/24");
    assert_true(qaddrset_contains(&s, &in));
    assert_false(qaddrset_contains(&s, &out1));
    assert_true(qaddrset_overlaps(&s, &out1));
    assert_false(qaddrset_overlaps(&s, &far));
    qaddrset whole;
    qaddrset_init(&whole, 4);
    qaddrset_add(&whole, &pool);
    assert_true(qaddrset_subset(&s, &whole));
    assert_false(qaddrset_subset(&whole, &s));
    qaddrset_free(&whole);
    qaddrset_free(&s);
}

static void test_whole_spaces(void **state)
{
    char out[2048];
    qaddrset s;
    qaddrset_init(&s, 4);
    qcidr all4 = C("0.0.0.0/0"), top = C("255.255.255.255/32"), zero = C("0.0.0.0/32");
    qaddrset_add(&s, &all4);
    text(&s, out, sizeof out);
    assert_string_equal(out, "0.0.0.0/0");
    qaddrset_remove(&s, &top);
    qaddrset_remove(&s, &zero);
    text(&s, out, sizeof out);
    assert_string_equal(out, "0.0.0.1/32 0.0.0.2/31 0.0.0.4/30 0.0.0.8/29 0.0.0.16/28 "
                             "0.0.0.32/27 0.0.0.64/26 0.0.0.128/25 0.0.1.0/24 0.0.2.0/23 "
                             "0.0.4.0/22 0.0.8.0/21 0.0.16.0/20 0.0.32.0/19 0.0.64.0/18 "
                             "0.0.128.0/17 0.1.0.0/16 0.2.0.0/15 0.4.0.0/14 0.8.0.0/13 "
                             "0.16.0.0/12 0.32.0.0/11 0.64.0.0/10 0.128.0.0/9 1.0.0.0/8 "
                             "2.0.0.0/7 4.0.0.0/6 8.0.0.0/5 16.0.0.0/4 32.0.0.0/3 64.0.0.0/2 "
                             "128.0.0.0/2 192.0.0.0/3 224.0.0.0/4 240.0.0.0/5 248.0.0.0/6 "
                             "252.0.0.0/7 254.0.0.0/8 255.0.0.0/9 255.128.0.0/10 "
                             "255.192.0.0/11 255.224.0.0/12 255.240.0.0/13 255.248.0.0/14 "
                             "255.252.0.0/15 255.254.0.0/16 255.255.0.0/17 255.255.128.0/18 "
                             "255.255.192.0/19 255.255.224.0/20 255.255.240.0/21 "
                             "255.255.248.0/22 255.255.252.0/23 255.255.254.0/24 "
                             "255.255.255.0/25 255.255.255.128/26 255.255.255.192/27 "
                             "255.255.255.224/28 255.255.255.240/29 255.255.255.248/30 "
                             "255.255.255.252/31 255.255.255.254/32");
    qaddrset_add(&s, &top);
    qaddrset_add(&s, &zero);
    text(&s, out, sizeof out);
    assert_string_equal(out, "0.0.0.0/0");
    qaddrset_free(&s);

    qaddrset_init(&s, 6);
    qcidr all6 = C("::/0"), last = C("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
    qaddrset_add(&s, &all6);
    text(&s, out, sizeof out);
    assert_string_equal(out, "::/0");
    assert_true(qaddrset_contains(&s, &last));
    qcidr low = C("::/1");
    qaddrset_remove(&s, &low);
    text(&s, out, sizeof out);
    assert_string_equal(out, "8000::/1");
    qaddrset_add(&s, &low);
    text(&s, out, sizeof out);
    assert_string_equal(out, "::/0");
    qaddrset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_union_compacts),
        cmocka_unit_test(test_difference_and_containment),
        cmocka_unit_test(test_whole_spaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
