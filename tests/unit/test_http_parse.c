/* http_parse: the strict request-head parser and the chunked decoder, whole
 * and fed a byte at a time (the same answer either way). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/http_parse.h"

/* Parses text whole, then a byte at a time; both must agree. Returns the
 * result, with *h holding the whole parse (caller frees) and err filled. */
static qhp_result parse(const char *text, size_t max, qhp_head *h, qhp_error *err)
{
    size_t len = strlen(text);
    memset(h, 0, sizeof *h);
    h->max_target = h->max_fields = max;
    qhp_result whole = qhp_head_feed(h, text, len, err);
    qhp_head b = {.max_target = max, .max_fields = max};
    qhp_error berr = {0};
    qhp_result r = QHP_MORE;
    for (size_t i = 1; i <= len && r == QHP_MORE; i++)
        r = qhp_head_feed(&b, text, i, &berr);
    assert_int_equal(r, whole);
    if (whole == QHP_ERROR)
        assert_int_equal(berr.status, err->status);
    if (whole == QHP_DONE)
        assert_int_equal(b.pos, h->pos);
    qhp_head_free(&b);
    return whole;
}

static int status_of(const char *text)
{
    qhp_head h;
    qhp_error err = {0};
    qhp_result r = parse(text, 256, &h, &err);
    qhp_head_free(&h);
    return r == QHP_ERROR ? err.status : r == QHP_DONE ? 200 : 0;
}

static void test_good_head(void **state)
{
    (void)state;
    const char *t = "\r\nPOST /v2.0/networks?a=b HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length:  12 \r\nX-Auth-Token:\tabc def\t\r\n\r\nbody...";
    qhp_head h;
    qhp_error err;
    assert_int_equal(parse(t, 256, &h, &err), QHP_DONE);
    assert_int_equal(h.pos, strstr(t, "body") - t);
    assert_memory_equal(t + h.method.off, "POST", h.method.len);
    assert_int_equal(h.target.len, strlen("/v2.0/networks?a=b"));
    assert_memory_equal(t + h.target.off, "/v2.0/networks?a=b", h.target.len);
    assert_int_equal(h.minor, 1);
    assert_int_equal(h.nfields, 3);
    assert_true(h.has_length);
    assert_int_equal(h.length, 12);
    assert_false(h.chunked);
    assert_false(h.close);
    size_t vl;
    const char *v = qhp_head_field(&h, t, "x-auth-token", &vl);
    assert_non_null(v);
    assert_int_equal(vl, 7);
    assert_memory_equal(v, "abc def", 7);
    assert_null(qhp_head_field(&h, t, "Nope", NULL));
    qhp_head_free(&h);
    /* HTTP/1.0 needs no Host and closes unless asked to keep alive. */
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", 256, &h, &err), QHP_DONE);
    assert_true(h.close);
    qhp_head_free(&h);
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 256, &h, &err),
                     QHP_DONE);
    assert_false(h.close);
    qhp_head_free(&h);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n", 256,
                           &h, &err), QHP_DONE);
    assert_true(h.close);
    qhp_head_free(&h);
    assert_int_equal(parse("PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n"
                           "Expect: 100-continue\r\n\r\n", 256, &h, &err), QHP_DONE);
    assert_true(h.chunked);
    assert_true(h.expect_continue);
    qhp_head_free(&h);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\n", 256, &h, &err), QHP_MORE);
    qhp_head_free(&h);
}

static void test_refusals(void **state)
{
    (void)state;
    char big[600];
    assert_int_equal(status_of("GET /\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTX/1.1\r\nHost: x\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.10\r\nHost: x\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/0.9\r\n\r\n"), 505);
    assert_int_equal(status_of("GET / HTTP/2.0\r\n\r\n"), 505);
    assert_int_equal(status_of("\x01\x02garbage\r\n\r\n"), 400);
    assert_int_equal(status_of("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\nHost: x\n\n"), 400);            /* bare LF */
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nA : b\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nA: b\x01\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\n\r\n"), 400);                 /* no Host */
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    assert_int_equal(status_of("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n"), 400);
#define CL "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n"
    const char *bad_cl[] = {"5, 6", "abc", "+5", "-1", "0x10", "", "1 2"};
    for (size_t i = 0; i < sizeof bad_cl / sizeof *bad_cl; i++) {
        snprintf(big, sizeof big, CL, bad_cl[i]);
        assert_int_equal(status_of(big), 400);
    }
    snprintf(big, sizeof big, CL, "99999999999999999999999");
    assert_int_equal(status_of(big), 413);
    snprintf(big, sizeof big, CL, "18446744073709551615");       /* 2^64 - 1 fits */
    assert_int_equal(status_of(big), 200);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                               "Content-Length: 2\r\n\r\n"), 400);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                               "Content-Length: 2\r\n\r\n"), 200);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n"), 400);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n"), 400);
    assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
                               "chunked\r\n\r\n"), 501);
    assert_int_equal(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n"), 417);
    /* Limits, counted in bytes, before the line is complete. */
    memset(big, 0, sizeof big);
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', 300);
    assert_int_equal(status_of(big), 414);
    strcpy(big + 305, " HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(status_of(big), 414);
    memset(big, 0, sizeof big);
    strcpy(big, "GET / HTTP/1.1\r\nHost: x\r\nX: ");
    memset(big + strlen(big), 'b', 300);
    assert_int_equal(status_of(big), 431);
    memset(big, 0, sizeof big);
    strcpy(big, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 60; i++)
        strcat(big, "a:1\r\n");
    strcat(big, "\r\n");
    assert_int_equal(status_of(big), 431);      /* 62 lines of 256 bytes at most */
}

static qhp_result chunks(const char *in, size_t max_body, qbuf *body, qhp_error *err,
                         size_t *used)
{
    size_t len = strlen(in);
    qhp_chunked c;
    qhp_chunked_init(&c, 64);
    qbuf_init(body, max_body);
    qhp_result whole = qhp_chunked_feed(&c, in, len, used, body, err);
    /* A byte at a time: the same result and body. */
    qhp_chunked b;
    qhp_chunked_init(&b, 64);
    qbuf bb;
    qbuf_init(&bb, max_body);
    qhp_error berr;
    qhp_result r = QHP_MORE;
    size_t total = 0, u;
    for (size_t i = 0; i < len && r == QHP_MORE; i++) {
        r = qhp_chunked_feed(&b, in + i, 1, &u, &bb, &berr);
        total += u;
    }
    assert_int_equal(r, whole);
    if (r == QHP_DONE) {
        assert_int_equal(total, *used);
        assert_int_equal(bb.len, body->len);
        assert_memory_equal(bb.data, body->data, bb.len);
    }
    qbuf_free(&bb);
    return whole;
}

static void test_chunked(void **state)
{
    (void)state;
    qbuf body;
    qhp_error err;
    size_t used;
    const char *ok = "2\r\n{}\r\nA;ext=1\r\n0123456789\r\n0\r\nX-T: v\r\n\r\nNEXT";
    assert_int_equal(chunks(ok, 100, &body, &err, &used), QHP_DONE);
    assert_int_equal(used, strlen(ok) - 4);
    assert_string_equal(body.data, "{}0123456789");
    qbuf_free(&body);
    assert_int_equal(chunks("2\r\n{}\r\n", 100, &body, &err, &used), QHP_MORE);
    qbuf_free(&body);
    const char *bad[] = {"ZZ\r\n", "\r\n", "2\r\n{}X\r\n", "2\n{}\r\n", "0\r\nNoColon\r\n\r\n",
                         "0\r\n:v\r\n\r\n", "2;\x01\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(chunks(bad[i], 100, &body, &err, &used), QHP_ERROR);
        assert_int_equal(err.status, 400);
        qbuf_free(&body);
    }
    assert_int_equal(chunks("FFFFFFFFFFFFFFFFFFFF\r\n", 100, &body, &err, &used), QHP_ERROR);
    assert_int_equal(err.status, 413);
    qbuf_free(&body);
    assert_int_equal(chunks("5\r\n12345\r\n0\r\n\r\n", 4, &body, &err, &used), QHP_ERROR);
    assert_int_equal(err.status, 413);
    qbuf_free(&body);
    /* A size line longer than the bound (leading zeros). */
    char zeros[200];
    memset(zeros, '0', 100);
    strcpy(zeros + 100, "1\r\nx\r\n0\r\n\r\n");
    assert_int_equal(chunks(zeros, 100, &body, &err, &used), QHP_ERROR);
    assert_int_equal(err.status, 400);
    qbuf_free(&body);
}

static void test_unescape(void **state)
{
    (void)state;
    char s[] = "a%20b+c%2f%zz%4";
    assert_true(qhp_unescape(s, false));
    assert_string_equal(s, "a b+c/%zz%4");
    char q[] = "a+b%2B";
    assert_true(qhp_unescape(q, true));
    assert_string_equal(q, "a b+");
    char n[] = "x%00y";
    assert_false(qhp_unescape(n, false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_head),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_unescape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
