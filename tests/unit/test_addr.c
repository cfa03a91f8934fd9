#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "lib/addr.h"

#define U128_MAX (~(qhv_u128)0)

/* cmocka's integer asserts are 64-bit; compare u128 halves for readable failures. */
#define assert_u128_equal(a, b)                                                              \
    do {                                                                                     \
        qhv_u128 x_ = (a), y_ = (b);                                                         \
        assert_int_equal((uint64_t)(x_ >> 64), (uint64_t)(y_ >> 64));                        \
        assert_int_equal((uint64_t)x_, (uint64_t)y_);                                        \
    } while (0)

static qhv_u128 u128(uint64_t hi, uint64_t lo) { return (qhv_u128)hi << 64 | lo; }

static qaddr addr(const char *s)
{
    qaddr a;
    assert_int_equal(qaddr_parse(s, &a), 0);
    return a;
}

static qcidr cidr(const char *s)
{
    qcidr c;
    assert_int_equal(qcidr_parse(s, &c), 0);
    return c;
}

static void assert_addr_fmt(const qaddr *a, const char *want)
{
    char out[QADDR_STRLEN];
    qaddr_format(a, out);
    assert_string_equal(out, want);
}

/* Parses s and checks its canonical form. */
static void roundtrip(const char *s, const char *want)
{
    qaddr a = addr(s);
    assert_addr_fmt(&a, want);
}

static void test_v4_good(void **state)
{
    qaddr a = addr("10.1.2.3");
    assert_int_equal(a.family, 4);
    assert_u128_equal(a.v, 0x0a010203);
    a = addr("0.0.0.0");
    assert_u128_equal(a.v, 0);
    a = addr("255.255.255.255");
    assert_u128_equal(a.v, 0xffffffffu);
    roundtrip("192.168.0.1", "192.168.0.1");
    roundtrip("100.64.10.200", "100.64.10.200");
    assert_int_equal(qaddr_parse_family("1.2.3.4", 4, &a), 0);
    assert_int_equal(qaddr_parse_family("1.2.3.4", 0, &a), 0);
}

static void test_v4_bad(void **state)
{
    static const char *bad[] = {
        "", "01.2.3.4", "1.2.3.04", "1.2.3.00", "00.0.0.0", "256.1.1.1", "1.2.3.256",
        "1000.1.1.1", "1.2.3", "1.2.3.4.5", "1..3.4", ".1.2.3", "1.2.3.", "1.2.3.4.",
        " 1.2.3.4", "1.2.3.4 ", "1.2 .3.4", "1.2.3.-4", "+1.2.3.4", "0x1.2.3.4", "a.b.c.d",
        "1.2.3.4/24", "4294967295", "1.2.3.4\n",
    };
    qaddr a;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (qaddr_parse(bad[i], &a) == 0)
            fail_msg("accepted bad IPv4 '%s'", bad[i]);
    }
    assert_int_equal(qaddr_parse_family("1.2.3.4", 6, &a), -1);
    assert_int_equal(qaddr_parse_family("1.2.3.4", 5, &a), -1);
    assert_int_equal(qaddr_parse(NULL, &a), -1);
}

static void test_v6_good(void **state)
{
    qaddr a = addr("::");
    assert_int_equal(a.family, 6);
    assert_u128_equal(a.v, 0);
    a = addr("::1");
    assert_u128_equal(a.v, 1);
    a = addr("1::");
    assert_u128_equal(a.v, u128(0x0001000000000000ull, 0));
    a = addr("2001:db8:1:2:3:4:5:6");
    assert_u128_equal(a.v, u128(0x20010db800010002ull, 0x0003000400050006ull));
    a = addr("FFFF:ffff:FfFf:ffff:ffff:ffff:ffff:ffff");
    assert_u128_equal(a.v, U128_MAX);
    a = addr("0000:0000:0000:0000:0000:0000:0000:0001");
    assert_u128_equal(a.v, 1);
    a = addr("::ffff:192.0.2.1");
    assert_u128_equal(a.v, u128(0, 0x0000ffffc0000201ull));
    a = addr("1:2:3:4:5:6:1.2.3.4");
    assert_u128_equal(a.v, u128(0x0001000200030004ull, 0x0005000601020304ull));
    a = addr("::1.2.3.4");
    assert_u128_equal(a.v, 0x01020304);
    a = addr("1::1.2.3.4");
    assert_u128_equal(a.v, u128(0x0001000000000000ull, 0x01020304));
    /* "::" may stand for a single group when parsing. */
    a = addr("1:2:3:4:5:6:7::");
    assert_u128_equal(a.v, u128(0x0001000200030004ull, 0x0005000600070000ull));
    a = addr("::2:3:4:5:6:7:8");
    assert_u128_equal(a.v, u128(0x0000000200030004ull, 0x0005000600070008ull));
    a = addr("1:2:3::5:6:7:8");
    assert_u128_equal(a.v, u128(0x0001000200030000ull, 0x0005000600070008ull));
    assert_int_equal(qaddr_parse_family("::1", 6, &a), 0);
    assert_int_equal(qaddr_parse_family("::1", 4, &a), -1);
}

static void test_v6_bad(void **state)
{
    static const char *bad[] = {
        ":", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", "::1::", "12345::",
        "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1:2:3:4::5:6:7:8", "fe80::1%eth0",
        "fe80::%1", "1:", ":1", "1:2:3:4:5:6:7:", ":1:2:3:4:5:6:7", "g::", "::1 ", " ::1",
        "1:2:3:4:5:6:7:1.2.3.4", "1:2:3:4:5:6:1.2.3", "::1.2.3.04", "::256.1.1.1",
        "1.2.3.4::", "::1.2.3.4:1", "1::2:1.2.3.4.5", "[::1]", "::/0", "1:2:3:4:5:6:7:8:",
        "::-1", "::+1", "1:::2", "0x1::",
    };
    qaddr a;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (qaddr_parse(bad[i], &a) == 0)
            fail_msg("accepted bad IPv6 '%s'", bad[i]);
    }
}

static void test_v6_format(void **state)
{
    roundtrip("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
    roundtrip("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
    roundtrip("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1");
    roundtrip("2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0");   /* longest run wins */
    roundtrip("2001:0:0:1:0:0:0:1", "2001:0:0:1::1");
    roundtrip("0:0:1:0:0:1:0:0", "::1:0:0:1:0:0");          /* tie: first run */
    roundtrip("1:0:0:2:0:0:3:4", "1::2:0:0:3:4");
    roundtrip("0:0:0:0:0:0:0:0", "::");
    roundtrip("0:0:0:0:0:0:0:1", "::1");
    roundtrip("1:0:0:0:0:0:0:0", "1::");
    roundtrip("1:0:0:0:0:0:0:1", "1::1");
    roundtrip("0:1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7");       /* single 0 not compressed */
    roundtrip("1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0");
    roundtrip("1:2:3:4:5:6:0:0", "1:2:3:4:5:6::");
    roundtrip("0:0:3:4:5:6:7:8", "::3:4:5:6:7:8");
    roundtrip("ABCD:EF01:2345:6789:ABCD:EF01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789");
    roundtrip("fe80::0001", "fe80::1");
    roundtrip("::ffff:1.2.3.4", "::ffff:102:304");
    roundtrip("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0");
    roundtrip("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
              "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    /* The longest possible output fits QADDR_STRLEN. */
    char out[QADDR_STRLEN];
    qaddr a = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    qaddr_format(&a, out);
    assert_int_equal(strlen(out), 39);
}

static void test_cmp_eq(void **state)
{
    qaddr a = addr("10.0.0.1"), b = addr("10.0.0.2"), c = addr("::1"), d = addr("::1");
    assert_true(qaddr_cmp(&a, &b) < 0);
    assert_true(qaddr_cmp(&b, &a) > 0);
    assert_int_equal(qaddr_cmp(&c, &d), 0);
    assert_true(qaddr_eq(&c, &d));
    assert_false(qaddr_eq(&a, &b));
    /* Family first: any IPv4 sorts before any IPv6, even with a larger value. */
    qaddr big4 = addr("255.255.255.255"), small6 = addr("::");
    assert_true(qaddr_cmp(&big4, &small6) < 0);
    qaddr v4one = addr("0.0.0.1");
    assert_false(qaddr_eq(&v4one, &c));
    assert_int_equal(qaddr_bits(4), 32);
    assert_int_equal(qaddr_bits(6), 128);
}

static void test_add_sub(void **state)
{
    qaddr a = addr("10.0.0.255"), r;
    assert_true(qaddr_add(&a, 1, &r));
    assert_addr_fmt(&r, "10.0.1.0");
    assert_true(qaddr_sub(&r, 256, &r)); /* ret may alias the input */
    assert_addr_fmt(&r, "10.0.0.0");

    qaddr top4 = addr("255.255.255.254");
    assert_true(qaddr_add(&top4, 1, &r));
    assert_addr_fmt(&r, "255.255.255.255");
    r = a;
    assert_false(qaddr_add(&top4, 2, &r));
    assert_addr_fmt(&r, "10.0.0.255"); /* untouched on failure */
    assert_false(qaddr_add(&top4, U128_MAX, &r));
    qaddr zero4 = addr("0.0.0.0");
    assert_true(qaddr_add(&zero4, 0xffffffffu, &r));
    assert_addr_fmt(&r, "255.255.255.255");
    assert_false(qaddr_add(&zero4, (qhv_u128)0x100000000ull, &r));
    assert_false(qaddr_sub(&zero4, 1, &r));
    assert_true(qaddr_sub(&zero4, 0, &r));
    assert_addr_fmt(&r, "0.0.0.0");
    qaddr one4 = addr("0.0.0.1");
    assert_true(qaddr_sub(&one4, 1, &r));
    assert_int_equal(r.family, 4);

    qaddr six = addr("2001:db8::ffff:ffff:ffff:ffff");
    assert_true(qaddr_add(&six, 1, &r));
    assert_addr_fmt(&r, "2001:db8:0:1::");
    assert_true(qaddr_sub(&r, 1, &r));
    assert_addr_fmt(&r, "2001:db8::ffff:ffff:ffff:ffff");
    qaddr max6 = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert_false(qaddr_add(&max6, 1, &r));
    assert_true(qaddr_add(&max6, 0, &r));
    qaddr zero6 = addr("::");
    assert_true(qaddr_add(&zero6, U128_MAX, &r));
    assert_true(qaddr_eq(&r, &max6));
    assert_false(qaddr_sub(&zero6, 1, &r));
    assert_true(qaddr_sub(&max6, U128_MAX, &r));
    assert_addr_fmt(&r, "::");
    qaddr one6 = addr("::1");
    assert_false(qaddr_sub(&one6, 2, &r));
}

static void test_bytes(void **state)
{
    uint8_t b[16];
    qaddr a = addr("192.0.2.1"), r;
    assert_int_equal(qaddr_to_bytes(&a, b), 4);
    static const uint8_t want4[] = {192, 0, 2, 1};
    assert_memory_equal(b, want4, 4);
    assert_int_equal(qaddr_from_bytes(b, 4, &r), 0);
    assert_true(qaddr_eq(&a, &r));

    a = addr("2001:db8::1");
    assert_int_equal(qaddr_to_bytes(&a, b), 16);
    static const uint8_t want6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    assert_memory_equal(b, want6, 16);
    assert_int_equal(qaddr_from_bytes(b, 16, &r), 0);
    assert_int_equal(r.family, 6);
    assert_true(qaddr_eq(&a, &r));

    assert_int_equal(qaddr_from_bytes(b, 0, &r), -1);
    assert_int_equal(qaddr_from_bytes(b, 5, &r), -1);
    assert_int_equal(qaddr_from_bytes(b, 15, &r), -1);

    /* memcmp on the bytes must order like qaddr_cmp within a family. */
    static const char *v4[] = {"0.0.0.0", "0.0.0.255", "0.0.1.0", "9.255.255.255", "10.0.0.0",
                               "128.0.0.0", "255.255.255.255"};
    static const char *v6[] = {"::", "::1", "::ff00", "::1:0", "0:0:0:1::", "1::",
                               "2001:db8::", "2001:db8::1", "ff00::", "ffff::1"};
    for (size_t i = 0; i + 1 < sizeof v4 / sizeof v4[0]; i++) {
        uint8_t x[16], y[16];
        qaddr p = addr(v4[i]), q = addr(v4[i + 1]);
        assert_int_equal(qaddr_to_bytes(&p, x), 4);
        assert_int_equal(qaddr_to_bytes(&q, y), 4);
        assert_true(memcmp(x, y, 4) < 0);
        assert_true(qaddr_cmp(&p, &q) < 0);
    }
    for (size_t i = 0; i + 1 < sizeof v6 / sizeof v6[0]; i++) {
        uint8_t x[16], y[16];
        qaddr p = addr(v6[i]), q = addr(v6[i + 1]);
        qaddr_to_bytes(&p, x);
        qaddr_to_bytes(&q, y);
        assert_true(memcmp(x, y, 16) < 0);
        assert_true(qaddr_cmp(&p, &q) < 0);
    }
}

static void assert_cidr_fmt(const qcidr *c, const char *want)
{
    char out[QCIDR_STRLEN];
    qcidr_format(c, out);
    assert_string_equal(out, want);
}

static void test_cidr_parse(void **state)
{
    qcidr c = cidr("10.0.0.0/24");
    assert_int_equal(c.addr.family, 4);
    assert_int_equal(c.prefixlen, 24);
    assert_cidr_fmt(&c, "10.0.0.0/24");
    c = cidr("10.1.2.3/8"); /* host bits kept as written */
    assert_cidr_fmt(&c, "10.1.2.3/8");
    c = cidr("0.0.0.0/0");
    assert_int_equal(c.prefixlen, 0);
    c = cidr("1.2.3.4/32");
    assert_int_equal(c.prefixlen, 32);
    c = cidr("2001:DB8:0:0::/64");
    assert_int_equal(c.addr.family, 6);
    assert_cidr_fmt(&c, "2001:db8::/64");
    c = cidr("::/0");
    assert_cidr_fmt(&c, "::/0");
    c = cidr("::1/128");
    assert_cidr_fmt(&c, "::1/128");
    c = cidr("::ffff:1.2.3.4/96");
    assert_cidr_fmt(&c, "::ffff:102:304/96");

    static const char *bad[] = {
        "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/024", "10.0.0.0/00", "10.0.0.0/-1",
        "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0 /8", "10.0.0.0/8 ", "10.0.0.0/8/8",
        "/8", "01.0.0.0/8", "::/129", "::/1280", "::/0128", "::1", "fe80::1%eth0/64",
        "10.0.0.0/a", "10.0.0.0/99999999999999999999", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (qcidr_parse(bad[i], &c) == 0)
            fail_msg("accepted bad CIDR '%s'", bad[i]);
    }

    assert_int_equal(qcidr_parse_or_host("10.0.0.5", &c), 0);
    assert_int_equal(c.prefixlen, 32);
    assert_cidr_fmt(&c, "10.0.0.5/32");
    assert_int_equal(qcidr_parse_or_host("2001:db8::5", &c), 0);
    assert_int_equal(c.prefixlen, 128);
    assert_int_equal(qcidr_parse_or_host("10.0.0.0/8", &c), 0);
    assert_int_equal(c.prefixlen, 8);
    assert_int_equal(qcidr_parse_or_host("10.0.0.0/", &c), -1);
    assert_int_equal(qcidr_parse_or_host("10.0.0.256", &c), -1);
}

static void test_cidr_v4_math(void **state)
{
    qcidr c = cidr("192.168.1.77/24");
    qaddr n = qcidr_network(&c), l = qcidr_last(&c);
    assert_addr_fmt(&n, "192.168.1.0");
    assert_addr_fmt(&l, "192.168.1.255");
    assert_u128_equal(qcidr_size(&c), 256);
    assert_false(qcidr_is_network(&c));
    qcidr net = cidr("192.168.1.0/24");
    assert_true(qcidr_is_network(&net));

    c = cidr("10.1.2.3/32");
    n = qcidr_network(&c);
    l = qcidr_last(&c);
    assert_addr_fmt(&n, "10.1.2.3");
    assert_addr_fmt(&l, "10.1.2.3");
    assert_u128_equal(qcidr_size(&c), 1);
    assert_true(qcidr_is_network(&c));

    c = cidr("10.1.2.3/0");
    n = qcidr_network(&c);
    l = qcidr_last(&c);
    assert_addr_fmt(&n, "0.0.0.0");
    assert_addr_fmt(&l, "255.255.255.255");
    assert_int_equal(l.family, 4);
    assert_u128_equal(qcidr_size(&c), (qhv_u128)1 << 32);
    assert_false(qcidr_is_network(&c));

    c = cidr("10.0.0.0/31");
    assert_u128_equal(qcidr_size(&c), 2);
    c = cidr("172.16.0.0/12");
    l = qcidr_last(&c);
    assert_addr_fmt(&l, "172.31.255.255");
}

static void test_cidr_v6_math(void **state)
{
    qcidr c = cidr("2001:db8::1234/64");
    qaddr n = qcidr_network(&c), l = qcidr_last(&c);
    assert_addr_fmt(&n, "2001:db8::");
    assert_addr_fmt(&l, "2001:db8::ffff:ffff:ffff:ffff");
    assert_u128_equal(qcidr_size(&c), (qhv_u128)1 << 64);
    assert_false(qcidr_is_network(&c));

    c = cidr("::/0");
    n = qcidr_network(&c);
    l = qcidr_last(&c);
    assert_addr_fmt(&n, "::");
    assert_addr_fmt(&l, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert_u128_equal(qcidr_size(&c), U128_MAX);
    assert_true(qcidr_is_network(&c));

    c = cidr("2001:db8::1/128");
    n = qcidr_network(&c);
    l = qcidr_last(&c);
    assert_addr_fmt(&n, "2001:db8::1");
    assert_addr_fmt(&l, "2001:db8::1");
    assert_u128_equal(qcidr_size(&c), 1);
    assert_true(qcidr_is_network(&c));

    c = cidr("2001:db8::/1");
    assert_u128_equal(qcidr_size(&c), (qhv_u128)1 << 127);
    l = qcidr_last(&c);
    assert_addr_fmt(&l, "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    c = cidr("2001:db8::/127");
    assert_u128_equal(qcidr_size(&c), 2);
}

static void test_cidr_contains_overlaps(void **state)
{
    qcidr c = cidr("10.0.0.0/24");
    qaddr in1 = addr("10.0.0.0"), in2 = addr("10.0.0.255"), out1 = addr("10.0.1.0"),
          out2 = addr("9.255.255.255"), six = addr("::a00:1");
    assert_true(qcidr_contains(&c, &in1));
    assert_true(qcidr_contains(&c, &in2));
    assert_false(qcidr_contains(&c, &out1));
    assert_false(qcidr_contains(&c, &out2));
    assert_false(qcidr_contains(&c, &six)); /* other family never matches */

    qcidr all4 = cidr("0.0.0.0/0"), host = cidr("10.0.0.7/32");
    qaddr any = addr("203.0.113.9"), h = addr("10.0.0.7"), h2 = addr("10.0.0.8");
    assert_true(qcidr_contains(&all4, &any));
    assert_false(qcidr_contains(&all4, &six));
    assert_true(qcidr_contains(&host, &h));
    assert_false(qcidr_contains(&host, &h2));
    qcidr with_host_bits = cidr("10.0.0.77/24");
    assert_true(qcidr_contains(&with_host_bits, &in1));

    qcidr all6 = cidr("::/0"), p64 = cidr("2001:db8::/64"), h128 = cidr("2001:db8::5/128");
    qaddr x = addr("2001:db8::ffff:ffff:ffff:ffff"), y = addr("2001:db8:0:1::");
    assert_true(qcidr_contains(&all6, &x));
    assert_false(qcidr_contains(&all6, &any));
    assert_true(qcidr_contains(&p64, &x));
    assert_false(qcidr_contains(&p64, &y));
    qaddr h5 = addr("2001:db8::5"), h6 = addr("2001:db8::6");
    assert_true(qcidr_contains(&h128, &h5));
    assert_false(qcidr_contains(&h128, &h6));

    qcidr a = cidr("10.0.0.0/8"), b = cidr("10.20.0.0/16"), d = cidr("11.0.0.0/8"),
          e = cidr("10.0.0.128/25"), f = cidr("10.0.0.0/25");
    assert_true(qcidr_overlaps(&a, &b));
    assert_true(qcidr_overlaps(&b, &a));
    assert_false(qcidr_overlaps(&a, &d));
    assert_false(qcidr_overlaps(&e, &f));
    assert_true(qcidr_overlaps(&c, &e));
    assert_true(qcidr_overlaps(&all4, &d));
    assert_true(qcidr_overlaps(&host, &c));
    assert_true(qcidr_overlaps(&host, &host));
    assert_false(qcidr_overlaps(&all4, &all6)); /* families never overlap */
    assert_true(qcidr_overlaps(&all6, &h128));
    assert_true(qcidr_overlaps(&p64, &h128));
    qcidr other64 = cidr("2001:db8:0:1::/64");
    assert_false(qcidr_overlaps(&p64, &other64));
}

static void test_mac(void **state)
{
    qmac m;
    char out[QMAC_STRLEN];
    assert_int_equal(qmac_parse("fa:16:3e:00:11:22", &m), 0);
    static const uint8_t want[6] = {0xfa, 0x16, 0x3e, 0x00, 0x11, 0x22};
    assert_memory_equal(m.b, want, 6);
    qmac_format(&m, out);
    assert_string_equal(out, "fa:16:3e:00:11:22");
    assert_int_equal(qmac_parse("FA-16-3E-00-11-22", &m), 0);
    assert_memory_equal(m.b, want, 6);
    qmac_format(&m, out);
    assert_string_equal(out, "fa:16:3e:00:11:22");
    assert_false(qmac_is_multicast(&m));
    assert_false(qmac_is_zero(&m));

    assert_int_equal(qmac_parse("01:00:5e:00:00:01", &m), 0);
    assert_true(qmac_is_multicast(&m));
    assert_int_equal(qmac_parse("ff:ff:ff:ff:ff:ff", &m), 0);
    assert_true(qmac_is_multicast(&m));
    assert_int_equal(qmac_parse("00:00:00:00:00:00", &m), 0);
    assert_true(qmac_is_zero(&m));
    assert_false(qmac_is_multicast(&m));
    qmac_format(&m, out);
    assert_string_equal(out, "00:00:00:00:00:00");
    assert_int_equal(qmac_parse("00:00:00:00:00:01", &m), 0);
    assert_false(qmac_is_zero(&m));

    static const char *bad[] = {
        "", "fa:16:3e:00:11", "fa:16:3e:00:11:22:33", "fa:16:3e-00:11:22", "fa-16-3e-00-11:22",
        "fa:16:3e:0:11:22", "fa:16:3e:000:11:22", "fa16.3e00.1122", "fa163e001122",
        "fa:16:3e:00:11:2g", " fa:16:3e:00:11:22", "fa:16:3e:00:11:22 ", "fa.16.3e.00.11.22",
        "fa::16:3e:00:11:22", "fa:16:3e:00:11:22:", "+a:16:3e:00:11:22",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (qmac_parse(bad[i], &m) == 0)
            fail_msg("accepted bad MAC '%s'", bad[i]);
    }
    assert_int_equal(qmac_parse(NULL, &m), -1);
}

static void test_eui64(void **state)
{
    qcidr p = cidr("2001:db8::/64");
    qmac m;
    assert_int_equal(qmac_parse("00:11:22:33:44:55", &m), 0);
    qaddr a = qaddr_eui64(&p, &m);
    assert_int_equal(a.family, 6);
    assert_addr_fmt(&a, "2001:db8::211:22ff:fe33:4455");

    /* U/L bit flips both ways; host bits written in the prefix are ignored. */
    p = cidr("fe80::1234/64");
    assert_int_equal(qmac_parse("fa:16:3e:aa:bb:cc", &m), 0);
    a = qaddr_eui64(&p, &m);
    assert_addr_fmt(&a, "fe80::f816:3eff:feaa:bbcc");
    p = cidr("2001:db8:1:2::/64");
    assert_int_equal(qmac_parse("02:00:00:00:00:01", &m), 0);
    a = qaddr_eui64(&p, &m);
    assert_addr_fmt(&a, "2001:db8:1:2:0:ff:fe00:1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_good),
        cmocka_unit_test(test_v4_bad),
        cmocka_unit_test(test_v6_good),
        cmocka_unit_test(test_v6_bad),
        cmocka_unit_test(test_v6_format),
        cmocka_unit_test(test_cmp_eq),
        cmocka_unit_test(test_add_sub),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_cidr_parse),
        cmocka_unit_test(test_cidr_v4_math),
        cmocka_unit_test(test_cidr_v6_math),
        cmocka_unit_test(test_cidr_contains_overlaps),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_eui64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
