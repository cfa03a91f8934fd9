/* lib/urls: the server URL lists of [agent] server_url and qhvctl --url. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "lib/urls.h"

/* Parses text expecting success with exactly these URLs (NULL-terminated). */
static void assert_urls(const char *text, ...)
{
    char err[512] = "";
    qurls u;
    if (qurls_parse(&u, text, "[agent] server_url", err, sizeof err) != 0)
        fail_msg("'%s' refused: %s", text, err);
    va_list ap;
    va_start(ap, text);
    size_t i = 0;
    for (const char *want; (want = va_arg(ap, const char *)); i++) {
        if (i >= u.n)
            fail_msg("'%s': %zu URLs, more expected", text, u.n);
        assert_string_equal(u.v[i], want);
    }
    va_end(ap);
    assert_int_equal(u.n, i);
    qurls_free(&u);
}

/* Parses text expecting failure with exactly this message, and nothing kept. */
static void assert_refused(const char *text, const char *want)
{
    char err[512] = "";
    qurls u;
    assert_int_equal(qurls_parse(&u, text, "[agent] server_url", err, sizeof err), -1);
    assert_string_equal(err, want);
    assert_null(u.v);
    assert_int_equal(u.n, 0);
}

static void test_one_url_as_before(void **state)
{
    (void)state;
    assert_urls("http://127.0.0.1:9696", "http://127.0.0.1:9696", NULL);
    assert_urls("https://qhv.example:9696/", "https://qhv.example:9696", NULL);
    assert_urls("http://a:1//", "http://a:1", NULL);
    assert_urls("  http://a:1\t", "http://a:1", NULL);
    assert_urls("http://a:1/neutron/", "http://a:1/neutron", NULL);
    assert_urls("http://[::1]:9696", "http://[::1]:9696", NULL);
}

static void test_lists_in_order(void **state)
{
    (void)state;
    assert_urls("http://a:1,http://b:2", "http://a:1", "http://b:2", NULL);
    assert_urls("http://a:1 , https://b:2/ ,\thttp://c:3", "http://a:1", "https://b:2",
                "http://c:3", NULL);
    assert_urls("http://c:3,http://a:1,http://b:2", "http://c:3", "http://a:1", "http://b:2",
                NULL);
    /* The same host on another port, another path: other servers. */
    assert_urls("http://a:1,http://a:2,http://a:1/x", "http://a:1", "http://a:2", "http://a:1/x",
                NULL);
}

static void test_bad_items(void **state)
{
    (void)state;
    assert_refused("", "[agent] server_url is empty: give one URL or several separated by "
                       "commas");
    assert_refused("  ", "[agent] server_url is empty: give one URL or several separated by "
                         "commas");
    assert_refused("127.0.0.1:9696",
                   "[agent] server_url: item 1 ('127.0.0.1:9696') must start with http:// or "
                   "https://");
    assert_refused("http://a:1, ftp://b",
                   "[agent] server_url: item 2 ('ftp://b') must start with http:// or https://");
    assert_refused("http://a:1,,http://b:2",
                   "[agent] server_url: item 2 is empty (URLs are separated by single commas)");
    assert_refused("http://a:1,",
                   "[agent] server_url: item 2 is empty (URLs are separated by single commas)");
    assert_refused(",http://a:1",
                   "[agent] server_url: item 1 is empty (URLs are separated by single commas)");
    assert_refused("http://", "[agent] server_url: item 1 ('http://') has no host");
    assert_refused("https:///x", "[agent] server_url: item 1 ('https:///x') has no host");
    assert_refused("http://a:1 http://b:2",
                   "[agent] server_url: item 1 ('http://a:1 http://b:2') has whitespace or a "
                   "control character");
    assert_refused("http://a:1/?x=1", "[agent] server_url: item 1 ('http://a:1/?x=1') has a "
                                      "query or fragment (give the API's base URL)");
    assert_refused("HTTP://a:1", "[agent] server_url: item 1 ('HTTP://a:1') must start with "
                                 "http:// or https://");
}

static void test_duplicates_refused(void **state)
{
    (void)state;
    assert_refused("http://a:1,http://b:2,http://a:1",
                   "[agent] server_url: item 3 ('http://a:1') repeats item 1 (list each server "
                   "once)");
    /* A trailing '/' and the host's case do not make another server. */
    assert_refused("http://qhv-a:1/, http://QHV-A:1",
                   "[agent] server_url: item 2 ('http://QHV-A:1') repeats item 1 (list each "
                   "server once)");
    /* Nor a trailing '/' after a path. */
    assert_refused("http://a:1/X,http://a:1/X/",
                   "[agent] server_url: item 2 ('http://a:1/X/') repeats item 1 (list each "
                   "server once)");
}

static void test_any_https(void **state)
{
    (void)state;
    qurls u;
    char err[256];
    assert_int_equal(qurls_parse(&u, "http://a:1,https://b:2", "x", err, sizeof err), 0);
    assert_true(qurls_any_https(&u));
    qurls_free(&u);
    assert_int_equal(qurls_parse(&u, "http://a:1,http://b:2", "x", err, sizeof err), 0);
    assert_false(qurls_any_https(&u));
    qurls_free(&u);
    qurls_free(&u);     /* twice, and NULL: destructors accept both */
    qurls_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_url_as_before),
        cmocka_unit_test(test_lists_in_order),
        cmocka_unit_test(test_bad_items),
        cmocka_unit_test(test_duplicates_refused),
        cmocka_unit_test(test_any_https),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
