/* Unit tests for lib/json: parsing (valid and every error class with its
 * position), UTF-8 and \u handling, limits, emission and the tree API. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/util.h"

/* ---- helpers ---- */

static qj *parse_ok_n(const char *s, size_t len, const qj_limits *lim)
{
    qj_error e;
    memset(&e, 0, sizeof e);
    qj *v = qj_parse(s, len, lim, &e);
    if (!v)
        fail_msg("parse of '%.*s' failed at %zu (%zu:%zu): %s", (int)len, s, e.offset,
                 e.line, e.column, e.msg);
    return v;
}

static qj *parse_ok(const char *s) { return parse_ok_n(s, strlen(s), NULL); }

/* Parses s[0..len) expecting failure at offset/line/column with a message
 * containing msg. */
static void expect_err_n(const char *s, size_t len, const qj_limits *lim, size_t off,
                         size_t line, size_t col, const char *msg)
{
    qj_error e;
    memset(&e, 0xAB, sizeof e);
    qj *v = qj_parse(s, len, lim, &e);
    if (v) {
        qj_free(v);
        fail_msg("'%.*s' parsed but should fail with '%s'", (int)len, s, msg);
    }
    if (e.offset != off || e.line != line || e.column != col || !strstr(e.msg, msg))
        fail_msg("'%.*s': got %zu (%zu:%zu) '%s', want %zu (%zu:%zu) '%s'", (int)len, s,
                 e.offset, e.line, e.column, e.msg, off, line, col, msg);
}

static void expect_err(const char *s, size_t off, const char *msg)
{
    expect_err_n(s, strlen(s), NULL, off, 1, off + 1, msg);
}

static char *emit(const qj *v, bool pretty)
{
    qbuf b;
    qbuf_init(&b, 0);
    assert_true(qj_emit(v, &b, pretty));
    char *s = qbuf_steal(&b, NULL);
    qbuf_free(&b);
    return s;
}

static void assert_emits(const qj *v, bool pretty, const char *want)
{
    char *got = emit(v, pretty);
    assert_string_equal(got, want);
    free(got);
}

/* Parses in, checks the compact emission, and that the emission re-parses
 * into an equal tree that emits identically. */
static void roundtrip(const char *in, const char *want)
{
    qj *v = parse_ok(in);
    char *out = emit(v, false);
    assert_string_equal(out, want);
    qj *w = parse_ok(out);
    assert_true(qj_equal(v, w));
    char *out2 = emit(w, false);
    assert_string_equal(out, out2);
    free(out2);
    /* Pretty output must parse to the same tree too. */
    char *pr = emit(v, true);
    qj *x = parse_ok(pr);
    assert_true(qj_equal(v, x));
    qj_free(x);
    free(pr);
    free(out);
    qj_free(w);
    qj_free(v);
}

/* ---- valid documents ---- */

static void test_roundtrip_valid(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"null", "null"},
        {"true", "true"},
        {"false", "false"},
        {"0", "0"},
        {"-0", "0"},
        {"123", "123"},
        {"-123", "-123"},
        {"1.5", "1.5"},
        {"1.0", "1.0"},
        {"-0.0", "-0.0"},
        {"1e2", "100.0"},
        {"1E+2", "100.0"},
        {"25e-1", "2.5"},
        {"0.1", "0.1"},
        {"0.30000000000000004", "0.30000000000000004"},
        {"1e300", "1e+300"},
        {"1.7976931348623157e308", "1.7976931348623157e+308"},
        {"1e-400", "0.0"},
        {"\"\"", "\"\""},
        {"\"hello\"", "\"hello\""},
        {"\"a\\/b\"", "\"a/b\""},
        {"\"\\b\\f\\n\\r\\t\\\"\\\\\"", "\"\\b\\f\\n\\r\\t\\\"\\\\\""},
        {"\"\\u001f\\u0001\"", "\"\\u001f\\u0001\""},
        {"\"\\u00e9\"", "\"\xC3\xA9\""},
        {"\"\x7f\"", "\"\x7f\""},
        {"[]", "[]"},
        {"{}", "{}"},
        {" \t\r\n[ 1 , 2 ]\n ", "[1,2]"},
        {"[[],{},[[]],{\"a\":{}}]", "[[],{},[[]],{\"a\":{}}]"},
        {"{\"a\":1,\"b\":[true,null],\"c\":{\"d\":\"e\"}}",
         "{\"a\":1,\"b\":[true,null],\"c\":{\"d\":\"e\"}}"},
        {"{ \"z\" : 1 , \"a\" : 2 }", "{\"z\":1,\"a\":2}"},
        {"{\"\":0}", "{\"\":0}"},
        {"[-1,0.5,-2.5e-3,1E3]", "[-1,0.5,-0.0025,1000.0]"},
    };
    for (size_t i = 0; i < QHV_ARRAY_SIZE(cases); i++)
        roundtrip(cases[i][0], cases[i][1]);
}

static void test_types_and_values(void **state)
{
    (void)state;
    qj *v = parse_ok("{\"i\":42,\"d\":2.5,\"s\":\"x\",\"b\":false,\"n\":null,"
                     "\"a\":[1,\"two\"],\"o\":{\"k\":\"v\"},\"e\":1e0}");
    assert_true(qj_is(v, QJ_OBJECT));
    assert_int_equal(qj_len(v), 8);
    assert_int_equal(qj_get(v, "i")->type, QJ_INT);
    assert_true(qj_get(v, "i")->u.i == 42);
    assert_int_equal(qj_get(v, "d")->type, QJ_DOUBLE);
    assert_true(qj_get(v, "d")->u.d == 2.5);
    assert_int_equal(qj_get(v, "e")->type, QJ_DOUBLE);   /* exponent -> double */
    assert_true(qj_get(v, "e")->u.d == 1.0);
    assert_string_equal(qj_get_str(v, "s"), "x");
    assert_true(qj_is(qj_get(v, "b"), QJ_BOOL));
    assert_false(qj_get(v, "b")->u.b);
    assert_true(qj_is(qj_get(v, "n"), QJ_NULL));
    assert_int_equal(qj_len(qj_get(v, "a")), 2);
    assert_string_equal(qj_as_str(qj_at(qj_get(v, "a"), 1)), "two");
    assert_string_equal(qj_get_str(qj_get(v, "o"), "k"), "v");
    /* Insertion order is kept. */
    assert_string_equal(v->u.obj.m[0].key, "i");
    assert_string_equal(v->u.obj.m[7].key, "e");
    qj_free(v);
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    /* strtod must not read past len: the '9' lies beyond the input. */
    const char buf[] = {'1', '.', '5', '9'};
    qj *v = parse_ok_n(buf, 3, NULL);
    assert_int_equal(v->type, QJ_DOUBLE);
    assert_true(v->u.d == 1.5);
    qj_free(v);
    const char ebuf[] = {'2', 'e', '1', '0'};
    v = parse_ok_n(ebuf, 3, NULL);
    assert_true(v->u.d == 20.0);
    qj_free(v);
    v = parse_ok_n("123", 2, NULL);
    assert_true(v->u.i == 12);
    qj_free(v);
    v = parse_ok_n("truex", 4, NULL);
    assert_true(v->u.b);
    qj_free(v);
    expect_err_n("\"abc\"", 4, NULL, 4, 1, 5, "unterminated string");
}

/* ---- numbers ---- */

static void test_int64_bounds(void **state)
{
    (void)state;
    qj *v = parse_ok("9223372036854775807");
    assert_int_equal(v->type, QJ_INT);
    assert_true(v->u.i == INT64_MAX);
    assert_emits(v, false, "9223372036854775807");
    qj_free(v);
    v = parse_ok("-9223372036854775808");
    assert_int_equal(v->type, QJ_INT);
    assert_true(v->u.i == INT64_MIN);
    assert_emits(v, false, "-9223372036854775808");
    qj_free(v);
    v = parse_ok("[9007199254740993]");   /* 2^53+1: not representable as double */
    assert_true(qj_at(v, 0)->u.i == 9007199254740993LL);
    assert_emits(v, false, "[9007199254740993]");
    qj_free(v);

    expect_err("9223372036854775808", 0, "integer out of range");
    expect_err("-9223372036854775809", 0, "integer out of range");
    expect_err("18446744073709551616", 0, "integer out of range");
    expect_err("[1, 123456789012345678901234567890]", 4, "integer out of range");
    const char *big = "{\n \"n\": -99999999999999999999\n}";
    expect_err_n(big, strlen(big), NULL, 8, 2, 7, "integer out of range");

    /* Same magnitude with a fraction or exponent is a double, not an error. */
    v = parse_ok("9223372036854775808.0");
    assert_int_equal(v->type, QJ_DOUBLE);
    assert_true(v->u.d == 9223372036854775808.0);
    qj_free(v);
    v = parse_ok("1e19");
    assert_int_equal(v->type, QJ_DOUBLE);
    qj_free(v);
}

static void test_numbers_invalid(void **state)
{
    (void)state;
    expect_err("01", 0, "leading zero");
    expect_err("-01", 0, "leading zero");
    expect_err("[00]", 1, "leading zero");
    expect_err("1.", 2, "expected digit after '.'");
    expect_err("1.e5", 2, "expected digit after '.'");
    expect_err("1e", 2, "expected digit in exponent");
    expect_err("1e+", 3, "expected digit in exponent");
    expect_err("-", 1, "expected digit");
    expect_err("-a", 1, "expected digit");
    expect_err(".5", 0, "expected a JSON value");
    expect_err("+1", 0, "expected a JSON value");
    expect_err("0x10", 1, "trailing characters");
    expect_err("1ee5", 2, "expected digit in exponent");
    expect_err("1.5.2", 3, "trailing characters");
    expect_err("Infinity", 0, "expected a JSON value");
    expect_err("NaN", 0, "expected a JSON value");
    expect_err("-Infinity", 1, "expected digit");
    expect_err("1e400", 0, "number out of range");
    expect_err("[0,-1e400]", 3, "number out of range");
}

/* ---- syntax errors with positions ---- */

static void test_error_positions(void **state)
{
    (void)state;
    const char *doc = "{\n  \"a\": 1,\n  \"b\": tru\n}";
    expect_err_n(doc, strlen(doc), NULL, 19, 3, 8, "invalid literal");
    const char *doc2 = "[\n1,\n2\n,]";
    expect_err_n(doc2, strlen(doc2), NULL, 8, 4, 2, "expected a JSON value");
    const char *doc3 = "{\"a\":\"x\ny\"}";   /* raw newline inside a string */
    expect_err_n(doc3, strlen(doc3), NULL, 7, 1, 8, "control character");

    expect_err("", 0, "unexpected end of input");
    expect_err("   ", 3, "unexpected end of input");
    expect_err("[", 1, "unexpected end of input");
    expect_err("[1", 2, "unexpected end of input");
    expect_err("{\"a\"", 4, "unexpected end of input");
    expect_err("{\"a\":", 5, "unexpected end of input");
    expect_err("{\"a\":1", 6, "unexpected end of input");
    expect_err("{", 1, "unexpected end of input");
    expect_err("\"abc", 4, "unterminated string");
    expect_err("\"abc\\", 5, "unterminated string");
    expect_err("[1] x", 4, "trailing characters");
    expect_err("{} {}", 3, "trailing characters");
    expect_err("1 2", 2, "trailing characters");
    expect_err("[1,]", 3, "expected a JSON value");
    expect_err("[,1]", 1, "expected a JSON value");
    expect_err("[1 2]", 3, "expected ',' or ']'");
    expect_err("[1:2]", 2, "expected ',' or ']'");
    expect_err("{\"a\":1,}", 7, "expected string key");
    expect_err("{'a':1}", 1, "expected string key");
    expect_err("{a:1}", 1, "expected string key");
    expect_err("{1:1}", 1, "expected string key");
    expect_err("{\"a\" 1}", 5, "expected ':'");
    expect_err("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'");
    expect_err("{\"a\":1]", 6, "expected ',' or '}'");
    expect_err("[1}", 2, "expected ',' or ']'");
    expect_err("tru", 0, "invalid literal");
    expect_err("nul", 0, "invalid literal");
    expect_err("True", 0, "expected a JSON value");
    expect_err("falsey", 5, "trailing characters");
    expect_err("[nulll]", 5, "expected ',' or ']'");
    expect_err("\xEF\xBB\xBF{}", 0, "expected a JSON value");   /* BOM is not JSON */
    expect_err("\f1", 0, "expected a JSON value");              /* not JSON whitespace */
    expect_err("1\v", 1, "trailing characters");
    expect_err_n("1\0", 2, NULL, 1, 1, 2, "trailing characters");
    expect_err_n("\"a\0b\"", 5, NULL, 2, 1, 3, "control character");
    expect_err("\"a\tb\"", 2, "unescaped control character");
    expect_err("\"\x1f\"", 1, "unescaped control character");

    /* NULL err is allowed; NULL text is an empty input. */
    assert_null(qj_parse("[", 1, NULL, NULL));
    qj_error e;
    assert_null(qj_parse(NULL, 0, NULL, &e));
    assert_int_equal(e.offset, 0);
    assert_int_equal(e.line, 1);
    assert_int_equal(e.column, 1);
    assert_string_equal(e.msg, "unexpected end of input");
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    expect_err("{\"a\":1,\"b\":2,\"a\":3}", 13, "duplicate object key");
    expect_err("{\"a\":1,\"a\":1}", 7, "duplicate object key");
    expect_err("[{},{\"x\":{\"y\":1,\"y\":2}}]", 16, "duplicate object key");
    /* Same key in sibling and nested objects is fine. */
    qj *v = parse_ok("{\"a\":{\"a\":1},\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}");
    qj_free(v);
    /* Escaped and raw forms of the same key are duplicates. */
    expect_err("{\"ab\":1,\"a\\u0062\":2}", 8, "duplicate object key");
    /* Keys that differ after a common prefix or only in length are distinct. */
    v = parse_ok("{\"a\":1,\"ab\":2,\"abc\":3,\"b\":4}");
    assert_int_equal(qj_len(v), 4);
    qj_free(v);

    /* Large objects use a hash set: check both acceptance and detection. */
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_putc(&b, '{');
    for (int i = 0; i < 1000; i++)
        qbuf_printf(&b, "%s\"key%d\":%d", i ? "," : "", i, i);
    qbuf_putc(&b, '}');
    v = parse_ok_n(b.data, b.len, NULL);
    assert_int_equal(qj_len(v), 1000);
    assert_true(qj_get(v, "key999")->u.i == 999);
    assert_true(qj_get(v, "key17")->u.i == 17);
    qj_free(v);
    b.len--;   /* drop '}' and add a duplicate of an early key */
    size_t dup_off = b.len + 1;
    qbuf_puts(&b, ",\"key7\":0}");
    expect_err_n(b.data, b.len, NULL, dup_off, 1, dup_off + 1, "duplicate object key");
    b.len = dup_off - 1;
    qbuf_puts(&b, ",\"key1000\":0,\"key999\":0}");
    expect_err_n(b.data, b.len, NULL, dup_off + 12, 1, dup_off + 13, "duplicate object key");
    qbuf_free(&b);

    /* Around the switch from linear scan to hash set, and its regrowth. */
    static const int sizes[] = {1, 2, 15, 16, 17, 31, 32, 33, 34, 63, 64, 65, 66, 129};
    for (size_t s = 0; s < QHV_ARRAY_SIZE(sizes); s++) {
        for (int dup = -1; dup < 3; dup++) {
            int n = sizes[s];
            qbuf_init(&b, 0);
            qbuf_putc(&b, '{');
            for (int i = 0; i < n; i++)
                qbuf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
            size_t off = b.len + 1;
            /* dup -1: a fresh key; 0: the first key; 1: the last; 2: the middle */
            int k = dup < 0 ? n : dup == 0 ? 0 : dup == 1 ? n - 1 : n / 2;
            qbuf_printf(&b, ",\"k%d\":0}", k);
            if (dup < 0) {
                v = parse_ok_n(b.data, b.len, NULL);
                assert_int_equal(qj_len(v), n + 1);
                qj_free(v);
            } else {
                expect_err_n(b.data, b.len, NULL, off, 1, off + 1, "duplicate object key");
            }
            qbuf_free(&b);
        }
    }
}

static void test_key_nul(void **state)
{
    (void)state;
    expect_err("{\"a\\u0000b\":1}", 1, "object key contains NUL");
    expect_err("{\"ok\":1,\"\\u0000\":1}", 8, "object key contains NUL");
    /* NUL is fine in values. */
    qj *v = parse_ok("{\"k\":\"a\\u0000b\"}");
    const qj *s = qj_get(v, "k");
    assert_int_equal(qj_len(s), 3);
    assert_memory_equal(s->u.str.s, "a\0b", 4);
    qj_free(v);
}

/* ---- strings: UTF-8 and escapes ---- */

static void test_utf8_valid(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "\"\xC3\xA9\"",             /* U+00E9, 2 bytes */
        "\"\xC2\x80\"",             /* U+0080, smallest 2-byte */
        "\"\xDF\xBF\"",             /* U+07FF */
        "\"\xE0\xA0\x80\"",         /* U+0800, smallest 3-byte */
        "\"\xE2\x82\xAC\"",         /* U+20AC euro */
        "\"\xED\x9F\xBF\"",         /* U+D7FF, just below surrogates */
        "\"\xEE\x80\x80\"",         /* U+E000, just above surrogates */
        "\"\xEF\xBF\xBF\"",         /* U+FFFF */
        "\"\xF0\x90\x80\x80\"",     /* U+10000, smallest 4-byte */
        "\"\xF0\x9F\x98\x80\"",     /* U+1F600 */
        "\"\xF4\x8F\xBF\xBF\"",     /* U+10FFFF, largest */
        "\"a\xC3\xA9z\xE2\x82\xAC\xF0\x9F\x98\x80!\"",
    };
    for (size_t i = 0; i < QHV_ARRAY_SIZE(ok); i++) {
        qj *v = parse_ok(ok[i]);
        size_t n = strlen(ok[i]) - 2;
        assert_int_equal(qj_len(v), n);
        assert_memory_equal(v->u.str.s, ok[i] + 1, n);
        roundtrip(ok[i], ok[i]);   /* non-ASCII is emitted as-is */
        qj_free(v);
    }
}

static void test_utf8_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\"ab\xC0\x80\"",           /* overlong NUL */
        "\"ab\xC1\xBF\"",           /* overlong 2-byte */
        "\"ab\xE0\x80\x80\"",       /* overlong 3-byte */
        "\"ab\xE0\x9F\xBF\"",       /* overlong U+07FF */
        "\"ab\xF0\x8F\xBF\xBF\"",   /* overlong 4-byte */
        "\"ab\xED\xA0\x80\"",       /* U+D800 encoded in UTF-8 */
        "\"ab\xED\xBF\xBF\"",       /* U+DFFF encoded in UTF-8 */
        "\"ab\xF4\x90\x80\x80\"",   /* U+110000 */
        "\"ab\xF5\x80\x80\x80\"",   /* lead beyond F4 */
        "\"ab\xFF\"",
        "\"ab\xFE\"",
        "\"ab\x80\"",               /* stray continuation */
        "\"ab\xBF\"",
        "\"ab\xC3\"",               /* truncated by the closing quote */
        "\"ab\xE2\x82\"",
        "\"ab\xF0\x9F\x98\"",
        "\"ab\xC3\x41\"",           /* continuation missing */
        "\"ab\xE2\x28\xA1\"",
        "\"ab\xF0\x9F\x98\x41\"",
    };
    for (size_t i = 0; i < QHV_ARRAY_SIZE(bad); i++)
        expect_err(bad[i], 3, "invalid UTF-8 in string");
    /* Truncated by the end of input. */
    expect_err_n("\"\xE2\x82", 3, NULL, 1, 1, 2, "invalid UTF-8 in string");
    expect_err_n("\"\xF0\x9F\x98", 4, NULL, 1, 1, 2, "invalid UTF-8 in string");
    expect_err_n("\"\xC3", 2, NULL, 1, 1, 2, "invalid UTF-8 in string");
    /* Non-ASCII outside strings is never valid. */
    expect_err("\xC3\xA9", 0, "expected a JSON value");
    expect_err("[1]\xC3\xA9", 3, "trailing characters");
    /* Invalid UTF-8 in keys too. */
    expect_err("{\"k\xED\xA0\x80\":1}", 3, "invalid UTF-8 in string");
}

static void test_unicode_escapes(void **state)
{
    (void)state;
    static const struct { const char *in; const char *out; size_t len; } cases[] = {
        {"\"\\u0041\"", "A", 1},
        {"\"\\u00e9\"", "\xC3\xA9", 2},
        {"\"\\u00E9\"", "\xC3\xA9", 2},
        {"\"\\u07FF\"", "\xDF\xBF", 2},
        {"\"\\u0800\"", "\xE0\xA0\x80", 3},
        {"\"\\u20aC\"", "\xE2\x82\xAC", 3},
        {"\"\\uFFFF\"", "\xEF\xBF\xBF", 3},
        {"\"\\uD83D\\uDE00\"", "\xF0\x9F\x98\x80", 4},
        {"\"\\ud800\\udc00\"", "\xF0\x90\x80\x80", 4},
        {"\"\\uDBFF\\uDFFF\"", "\xF4\x8F\xBF\xBF", 4},
        {"\"\\u0000\"", "\0", 1},
        {"\"a\\u0000b\\u0000\"", "a\0b\0", 4},
        {"\"x\\uD83D\\uDE00y\\n\"", "x\xF0\x9F\x98\x80y\n", 7},
    };
    for (size_t i = 0; i < QHV_ARRAY_SIZE(cases); i++) {
        qj *v = parse_ok(cases[i].in);
        assert_int_equal(v->type, QJ_STRING);
        assert_int_equal(qj_len(v), cases[i].len);
        assert_memory_equal(v->u.str.s, cases[i].out, cases[i].len);
        assert_int_equal(v->u.str.s[cases[i].len], '\0');
        qj_free(v);
    }
    /* NUL survives a round trip with its length. */
    roundtrip("\"a\\u0000b\"", "\"a\\u0000b\"");
    roundtrip("\"\\uD83D\\uDE00\"", "\"\xF0\x9F\x98\x80\"");

    expect_err("\"\\u12\"", 1, "invalid \\u escape");
    expect_err("\"\\u12G4\"", 1, "invalid \\u escape");
    expect_err("\"ab\\u\"", 3, "invalid \\u escape");
    expect_err("\"\\U0041\"", 1, "invalid escape");
    expect_err("\"\\x41\"", 1, "invalid escape");
    expect_err("\"\\a\"", 1, "invalid escape");
    expect_err("\"\\'\"", 1, "invalid escape");
    expect_err("\"\\uD800\"", 1, "unpaired surrogate");
    expect_err("\"\\uDBFF\"", 1, "unpaired surrogate");
    expect_err("\"\\uDC00\"", 1, "unpaired surrogate");
    expect_err("\"\\uDFFF\\uD800\"", 1, "unpaired surrogate");
    expect_err("\"\\uD800\\u0041\"", 1, "unpaired surrogate");
    expect_err("\"\\uD800\\uD800\"", 1, "unpaired surrogate");
    expect_err("\"\\uD800x\"", 1, "unpaired surrogate");
    expect_err("\"\\uD800\\n\"", 1, "unpaired surrogate");
    expect_err("\"ab\\uD800\\uZZZZ\"", 9, "invalid \\u escape");
    expect_err_n("\"\\uD800", 7, NULL, 1, 1, 2, "unpaired surrogate");
    expect_err_n("\"\\u00", 5, NULL, 1, 1, 2, "invalid \\u escape");
}

/* ---- limits ---- */

static char *nested(size_t depth)
{
    char *s = xmalloc(2 * depth + 2);
    memset(s, '[', depth);
    s[depth] = '1';
    memset(s + depth + 1, ']', depth);
    s[2 * depth + 1] = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *s = nested(64);
    qj *v = parse_ok(s);
    qj_free(v);
    free(s);
    s = nested(65);
    expect_err(s, 64, "nesting too deep");
    free(s);
    /* A very deep document fails cleanly rather than exhausting the stack. */
    s = nested(100000);
    expect_err(s, 64, "nesting too deep");
    free(s);

    qj_limits lim = {.max_depth = 3};
    v = parse_ok_n("[[[1]]]", 7, &lim);
    qj_free(v);
    expect_err_n("[[[[1]]]]", 9, &lim, 3, 1, 4, "nesting too deep");
    v = parse_ok_n("{\"a\":{\"b\":[1]}}", 15, &lim);
    qj_free(v);
    lim.max_depth = 2;
    expect_err_n("{\"a\":{\"b\":[1]}}", 15, &lim, 10, 1, 11, "nesting too deep");
    /* Depth counts nesting, not the number of containers. */
    v = parse_ok_n("[[1],[2],{\"a\":3}]", 17, &lim);
    qj_free(v);
    lim.max_depth = 1;
    v = parse_ok_n("[1,2,3]", 7, &lim);
    qj_free(v);
    v = parse_ok_n("\"scalar\"", 8, &lim);
    qj_free(v);
    expect_err_n("[[]]", 4, &lim, 1, 1, 2, "nesting too deep");

    lim.max_depth = 1000;
    s = nested(1000);
    v = parse_ok_n(s, strlen(s), &lim);
    qj_free(v);
    free(s);
}

static void test_size_limit(void **state)
{
    (void)state;
    qj_limits lim = {.max_size = 10};
    qj *v = parse_ok_n("[1,2,3,45]", 10, &lim);   /* exactly at the limit */
    assert_int_equal(qj_len(v), 4);
    qj_free(v);
    expect_err_n("[1,2,3,4,5]", 11, &lim, 10, 1, 11, "exceeds maximum size");
    expect_err_n("[1,2,\n3,4,5]", 12, &lim, 10, 2, 5, "exceeds maximum size");
    lim.max_size = 0;   /* unlimited */
    v = parse_ok_n("[1,2,3,4,5]", 11, &lim);
    qj_free(v);
}

/* ---- emission ---- */

static qj *sample(void)
{
    qj *o = qj_object();
    qj_set(o, "a", qj_int(1));
    qj *arr = qj_array();
    qj_append(arr, qj_bool(true));
    qj_append(arr, qj_null());
    qj_set(o, "b", arr);
    qj_set(o, "c", qj_str("x\"y"));
    qj_set(o, "d", qj_double(1.5));
    qj_set(o, "e", qj_object());
    qj_set(o, "f", qj_array());
    qj *inner = qj_object();
    qj_set(inner, "g", qj_double(-2.0));
    qj *deep = qj_array();
    qj_append(deep, qj_int(-7));
    qj_append(deep, qj_array());
    qj_set(inner, "h", deep);
    qj_set(o, "i", inner);
    return o;
}

static void test_emit_compact(void **state)
{
    (void)state;
    qj *o = sample();
    assert_emits(o, false,
                 "{\"a\":1,\"b\":[true,null],\"c\":\"x\\\"y\",\"d\":1.5,\"e\":{},\"f\":[],"
                 "\"i\":{\"g\":-2.0,\"h\":[-7,[]]}}");
    char *s = qj_to_string(o);
    assert_string_equal(s, "{\"a\":1,\"b\":[true,null],\"c\":\"x\\\"y\",\"d\":1.5,\"e\":{},"
                           "\"f\":[],\"i\":{\"g\":-2.0,\"h\":[-7,[]]}}");
    free(s);
    qj_free(o);

    qj *v = parse_ok("{\"a\":1,\"b\":[true,null]}");
    assert_emits(v, false, "{\"a\":1,\"b\":[true,null]}");
    qj_free(v);
    assert_emits(NULL, false, "null");
}

static void test_emit_pretty(void **state)
{
    (void)state;
    qj *o = sample();
    assert_emits(o, true,
                 "{\n"
                 "  \"a\": 1,\n"
                 "  \"b\": [\n"
                 "    true,\n"
                 "    null\n"
                 "  ],\n"
                 "  \"c\": \"x\\\"y\",\n"
                 "  \"d\": 1.5,\n"
                 "  \"e\": {},\n"
                 "  \"f\": [],\n"
                 "  \"i\": {\n"
                 "    \"g\": -2.0,\n"
                 "    \"h\": [\n"
                 "      -7,\n"
                 "      []\n"
                 "    ]\n"
                 "  }\n"
                 "}");
    qj_free(o);
    qj *v = qj_int(5);
    assert_emits(v, true, "5");
    qj_free(v);
    v = qj_array();
    assert_emits(v, true, "[]");
    qj_free(v);
    /* Indentation deeper than one chunk of spaces. */
    char *s = nested(20);
    v = parse_ok(s);
    char *p = emit(v, true);
    /* The 1 sits in the 20th array: exactly 20 levels of 2 spaces after a newline. */
    char want[64];
    want[0] = '\n';
    memset(want + 1, ' ', 40);
    memcpy(want + 41, "1\n", 3);
    assert_non_null(strstr(p, want));
    /* 40 bracket lines of 2k spaces + bracket (k < 20), the 1 line, 40 newlines */
    assert_int_equal(strlen(p), 2 * (2 * 190 + 20) + 41 + 40);
    qj *w = parse_ok(p);
    assert_true(qj_equal(v, w));
    qj_free(w);
    free(p);
    qj_free(v);
    free(s);
}

static void test_emit_strings(void **state)
{
    (void)state;
    qbuf b;
    qbuf_init(&b, 0);
    const char in[] = "\x01\b\f\n\r\t\x1f\"\\/\x7f\xC3\xA9\0z";
    assert_true(qj_emit_string(&b, in, sizeof in - 1));
    assert_string_equal(b.data, "\"\\u0001\\b\\f\\n\\r\\t\\u001f\\\"\\\\/\x7f\xC3\xA9\\u0000z\"");
    qbuf_reset(&b);
    /* Invalid UTF-8 from the API is replaced so the output stays valid. */
    assert_true(qj_emit_string(&b, "a\xFF" "b\xED\xA0\x80" "c\xC3", 8));
    assert_string_equal(b.data, "\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                                "c\xEF\xBF\xBD\"");
    qbuf_reset(&b);
    assert_true(qj_emit_string(&b, "", 0));
    assert_string_equal(b.data, "\"\"");
    qbuf_free(&b);

    qj *v = qj_strn("a\0b", 3);
    assert_int_equal(qj_len(v), 3);
    assert_emits(v, false, "\"a\\u0000b\"");
    qj_free(v);
}

static void assert_double_emits(double d, const char *want)
{
    qj *v = qj_double(d);
    assert_emits(v, false, want);
    qj_free(v);
}

static void test_emit_doubles(void **state)
{
    (void)state;
    assert_double_emits(0.1, "0.1");
    assert_double_emits(1.0, "1.0");
    assert_double_emits(100.0, "100.0");
    assert_double_emits(-0.0, "-0.0");
    assert_double_emits(0.0, "0.0");
    assert_double_emits(123456789.0, "123456789.0");
    assert_double_emits(1e15, "1e+15");
    assert_double_emits(1e21, "1e+21");
    assert_double_emits(1.5e-7, "1.5e-07");
    assert_double_emits(0.30000000000000004, "0.30000000000000004");
    assert_double_emits(1.0 / 3.0, "0.3333333333333333");
    assert_double_emits(DBL_MAX, "1.7976931348623157e+308");
    assert_double_emits(NAN, "null");
    assert_double_emits(INFINITY, "null");
    assert_double_emits(-INFINITY, "null");

    /* Every emitted double re-parses as a bit-identical double. */
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        if (!isfinite(d))
            continue;
        qj *v = qj_double(d);
        char *s = qj_to_string(v);
        qj *w = parse_ok(s);
        assert_int_equal(w->type, QJ_DOUBLE);
        assert_memory_equal(&w->u.d, &d, sizeof d);
        free(s);
        qj_free(w);
        qj_free(v);
    }
    qj *v = qj_double(5e-324);
    char *s = qj_to_string(v);
    qj *w = parse_ok(s);
    assert_true(w->u.d == 5e-324);
    qj_free(w);
    free(s);
    qj_free(v);
}

static void test_emit_overflow(void **state)
{
    (void)state;
    qbuf b;
    qbuf_init(&b, 10);
    qj *v = parse_ok("[1,2,3,4,5,6,7,8,9,10]");
    assert_false(qj_emit(v, &b, false));
    assert_true(b.overflow);
    qbuf_free(&b);
    qbuf_init(&b, 10);
    qj_free(v);
    v = parse_ok("[1,2,3,4]");
    assert_true(qj_emit(v, &b, false));
    assert_string_equal(b.data, "[1,2,3,4]");
    qbuf_free(&b);
    qbuf_init(&b, 5);
    assert_false(qj_emit_string(&b, "abcdef", 6));
    qbuf_free(&b);
    qj_free(v);
}

/* ---- tree API ---- */

static void test_equal(void **state)
{
    (void)state;
    qj *a = parse_ok("{\"x\":1,\"y\":[1,2,{\"z\":null}],\"s\":\"q\"}");
    qj *b = parse_ok("{\"s\":\"q\",\"y\":[1,2,{\"z\":null}],\"x\":1}");
    assert_true(qj_equal(a, b));
    assert_true(qj_equal(b, a));
    assert_true(qj_equal(a, a));
    qj_free(b);
    b = parse_ok("{\"s\":\"q\",\"y\":[2,1,{\"z\":null}],\"x\":1}");   /* arrays keep order */
    assert_false(qj_equal(a, b));
    qj_free(b);
    b = parse_ok("{\"x\":1,\"y\":[1,2,{\"z\":null}]}");              /* missing member */
    assert_false(qj_equal(a, b));
    assert_false(qj_equal(b, a));
    qj_free(b);
    b = parse_ok("{\"x\":1,\"y\":[1,2,{\"z\":null}],\"t\":\"q\"}");  /* other key */
    assert_false(qj_equal(a, b));
    qj_free(b);
    qj_free(a);

    a = qj_int(1);
    b = qj_double(1.0);
    assert_false(qj_equal(a, b));   /* int and double never compare equal */
    qj_free(b);
    b = qj_int(2);
    assert_false(qj_equal(a, b));
    qj_free(b);
    qj_free(a);

    a = qj_strn("a\0b", 3);
    b = qj_strn("a\0c", 3);
    assert_false(qj_equal(a, b));   /* bytes after NUL count */
    qj_free(b);
    b = qj_strn("a", 1);
    assert_false(qj_equal(a, b));
    qj_free(b);
    qj_free(a);

    a = qj_bool(true);
    b = qj_bool(false);
    assert_false(qj_equal(a, b));
    qj_free(b);
    b = qj_null();
    assert_false(qj_equal(a, b));
    assert_false(qj_equal(a, NULL));
    assert_true(qj_equal(NULL, NULL));
    qj_free(b);
    qj_free(a);

    a = qj_double(1.5);
    b = qj_double(2.5);
    assert_false(qj_equal(a, b));
    qj_free(b);
    b = qj_double(1.5);
    assert_true(qj_equal(a, b));
    qj_free(b);
    qj_free(a);

    a = qj_double(NAN);
    b = qj_clone(a);
    assert_true(qj_equal(a, b));
    qj_free(b);
    qj_free(a);

    a = parse_ok("[[],{}]");
    b = parse_ok("[{},[]]");
    assert_false(qj_equal(a, b));
    qj_free(b);
    qj_free(a);
}

static void test_clone(void **state)
{
    (void)state;
    const char *doc = "{\"id\":\"p1\",\"n\":[1,2.5,\"x\\u0000y\",null,true,{\"k\":[]}],\"m\":{}}";
    qj *a = parse_ok(doc);
    qj *c = qj_clone(a);
    assert_ptr_not_equal(a, c);
    assert_true(qj_equal(a, c));
    char *sa = qj_to_string(a), *sc = qj_to_string(c);
    assert_string_equal(sa, sc);
    free(sa);
    free(sc);
    /* The clone is deep: changing it leaves the original alone. */
    assert_ptr_not_equal(qj_get(a, "n"), qj_get(c, "n"));
    qj_append(qj_get(c, "n"), qj_int(9));
    qj_set(c, "id", qj_str("p2"));
    assert_false(qj_equal(a, c));
    assert_int_equal(qj_len(qj_get(a, "n")), 6);
    assert_string_equal(qj_get_str(a, "id"), "p1");
    assert_int_equal(qj_len(qj_at(qj_get(a, "n"), 2)), 3);
    qj_free(c);
    qj_free(a);
    assert_null(qj_clone(NULL));
}

static void test_set_replace(void **state)
{
    (void)state;
    qj *o = parse_ok("{\"a\":1,\"b\":2,\"c\":3}");
    qj_set(o, "b", qj_str("two"));
    assert_int_equal(qj_len(o), 3);
    assert_emits(o, false, "{\"a\":1,\"b\":\"two\",\"c\":3}");   /* position kept */
    qj_set(o, "d", qj_int(4));
    assert_emits(o, false, "{\"a\":1,\"b\":\"two\",\"c\":3,\"d\":4}");
    qj_set(o, "a", qj_array());
    assert_emits(o, false, "{\"a\":[],\"b\":\"two\",\"c\":3,\"d\":4}");
    /* NULL value means JSON null; set on a non-object frees the value. */
    qj_set(o, "e", NULL);
    assert_true(qj_is(qj_get(o, "e"), QJ_NULL));
    qj *arr = qj_array();
    qj_set(arr, "x", qj_str("leak?"));   /* must not leak (ASan checks) */
    assert_int_equal(qj_len(arr), 0);
    qj_append(o, qj_int(1));             /* append to an object: freed, no-op */
    assert_int_equal(qj_len(o), 5);
    qj_free(arr);
    qj_free(o);

    /* Many members: growth keeps order and lookup works. */
    o = qj_object();
    char key[16];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        qj_set(o, key, qj_int(i));
    }
    qj_set(o, "k150", qj_int(-1));
    assert_int_equal(qj_len(o), 200);
    assert_true(qj_get(o, "k150")->u.i == -1);
    assert_string_equal(o->u.obj.m[150].key, "k150");
    assert_true(qj_get(o, "k199")->u.i == 199);
    qj_free(o);
}

static void test_remove_take(void **state)
{
    (void)state;
    qj *o = parse_ok("{\"a\":1,\"b\":{\"x\":[1]},\"c\":3,\"d\":4}");
    assert_true(qj_remove(o, "c"));
    assert_emits(o, false, "{\"a\":1,\"b\":{\"x\":[1]},\"d\":4}");
    assert_false(qj_remove(o, "c"));
    assert_false(qj_remove(o, "zz"));
    qj *b = qj_take(o, "b");
    assert_non_null(b);
    assert_emits(b, false, "{\"x\":[1]}");
    assert_emits(o, false, "{\"a\":1,\"d\":4}");
    assert_null(qj_get(o, "b"));
    assert_null(qj_take(o, "b"));
    qj_set(o, "b", b);   /* a taken value can be re-inserted */
    assert_emits(o, false, "{\"a\":1,\"d\":4,\"b\":{\"x\":[1]}}");
    assert_true(qj_remove(o, "a"));
    assert_true(qj_remove(o, "b"));
    assert_true(qj_remove(o, "d"));
    assert_int_equal(qj_len(o), 0);
    assert_emits(o, false, "{}");
    qj_set(o, "new", qj_bool(false));
    assert_emits(o, false, "{\"new\":false}");
    qj_free(o);

    qj *arr = parse_ok("[1]");
    assert_false(qj_remove(arr, "a"));
    assert_null(qj_take(arr, "a"));
    assert_false(qj_remove(NULL, "a"));
    qj_free(arr);
}

static void test_getters(void **state)
{
    (void)state;
    qj *v = parse_ok("{\"s\":\"str\",\"a\":[10,20],\"i\":5}");
    assert_null(qj_get(v, "missing"));
    assert_null(qj_get(NULL, "s"));
    assert_null(qj_get(qj_get(v, "a"), "s"));   /* not an object */
    assert_null(qj_at(qj_get(v, "a"), 2));
    assert_null(qj_at(v, 0));                   /* not an array */
    assert_null(qj_at(NULL, 0));
    assert_true(qj_at(qj_get(v, "a"), 1)->u.i == 20);
    assert_int_equal(qj_len(qj_get(v, "s")), 3);
    assert_int_equal(qj_len(qj_get(v, "i")), 0);
    assert_int_equal(qj_len(NULL), 0);
    assert_null(qj_as_str(qj_get(v, "i")));
    assert_null(qj_as_str(NULL));
    assert_null(qj_get_str(v, "i"));
    assert_null(qj_get_str(v, "missing"));
    assert_string_equal(qj_get_str(v, "s"), "str");
    assert_false(qj_is(NULL, QJ_NULL));
    assert_true(qj_is(v, QJ_OBJECT));
    assert_false(qj_is(v, QJ_ARRAY));
    qj_free(v);
    qj_free(NULL);
}

static void test_constructors(void **state)
{
    (void)state;
    qj *v = qj_str_take(xstrdup("owned"));
    assert_string_equal(qj_as_str(v), "owned");
    assert_int_equal(qj_len(v), 5);
    qj_free(v);
    v = qj_str(NULL);
    assert_true(qj_is(v, QJ_NULL));
    qj_free(v);
    v = qj_strn(NULL, 0);
    assert_int_equal(qj_len(v), 0);
    assert_string_equal(qj_as_str(v), "");
    qj_free(v);
    v = qj_array();
    for (int i = 0; i < 1000; i++)
        qj_append(v, qj_int(i));
    qj_append(v, NULL);
    assert_int_equal(qj_len(v), 1001);
    assert_true(qj_at(v, 999)->u.i == 999);
    assert_true(qj_is(qj_at(v, 1000), QJ_NULL));
    qj_free(v);
    v = qj_int(INT64_MIN);
    assert_emits(v, false, "-9223372036854775808");
    qj_free(v);
}

/* A Neutron-style port, parsed, modified, re-emitted. */
static void test_port_document(void **state)
{
    (void)state;
    const char *doc =
        "{\"port\": {\"id\": \"3f7c2d0e-8b1a-4c55-9e61-2a9d5b7c4e10\", \"name\": \"vm-1\","
        " \"admin_state_up\": true, \"mac_address\": \"fa:16:3e:12:34:56\","
        " \"fixed_ips\": [{\"subnet_id\": \"a1\", \"ip_address\": \"10.0.0.5\"}],"
        " \"security_groups\": [], \"binding:profile\": {}, \"mtu\": 1450,"
        " \"description\": \"caf\\u00e9 \\\"main\\\"\", \"revision_number\": 3}}";
    qj *v = parse_ok(doc);
    qj *port = qj_get(v, "port");
    assert_string_equal(qj_get_str(port, "mac_address"), "fa:16:3e:12:34:56");
    assert_true(qj_get(port, "mtu")->u.i == 1450);
    assert_string_equal(qj_get_str(port, "description"), "caf\xC3\xA9 \"main\"");
    qj_set(port, "revision_number", qj_int(4));
    qj_free(qj_take(port, "binding:profile"));
    char *s = qj_to_string(v);
    assert_string_equal(s,
        "{\"port\":{\"id\":\"3f7c2d0e-8b1a-4c55-9e61-2a9d5b7c4e10\",\"name\":\"vm-1\","
        "\"admin_state_up\":true,\"mac_address\":\"fa:16:3e:12:34:56\","
        "\"fixed_ips\":[{\"subnet_id\":\"a1\",\"ip_address\":\"10.0.0.5\"}],"
        "\"security_groups\":[],\"mtu\":1450,"
        "\"description\":\"caf\xC3\xA9 \\\"main\\\"\",\"revision_number\":4}}");
    free(s);
    qj_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_valid),
        cmocka_unit_test(test_types_and_values),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_int64_bounds),
        cmocka_unit_test(test_numbers_invalid),
        cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_key_nul),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_unicode_escapes),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_emit_compact),
        cmocka_unit_test(test_emit_pretty),
        cmocka_unit_test(test_emit_strings),
        cmocka_unit_test(test_emit_doubles),
        cmocka_unit_test(test_emit_overflow),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_clone),
        cmocka_unit_test(test_set_replace),
        cmocka_unit_test(test_remove_take),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_constructors),
        cmocka_unit_test(test_port_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
