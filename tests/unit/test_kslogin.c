/* lib/kslogin: the Keystone login request and the reading of its answer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lib/json.h"
#include "lib/kslogin.h"
#include "lib/util.h"

static void test_tokens_url(void **state)
{
    (void)state;
    const char *in[] = {"http://k:5000", "http://k:5000/", "http://k:5000/v3",
                        "http://k:5000/v3/", "https://h/identity/v3//"};
    const char *want[] = {"http://k:5000/v3/auth/tokens", "http://k:5000/v3/auth/tokens",
                          "http://k:5000/v3/auth/tokens", "http://k:5000/v3/auth/tokens",
                          "https://h/identity/v3/auth/tokens"};
    for (size_t i = 0; i < 5; i++) {
        char *u = qkl_tokens_url(in[i]);
        assert_string_equal(u, want[i]);
        free(u);
    }
}

static void test_login_body(void **state)
{
    (void)state;
    qkl_creds c = {"http://k:5000/v3", "qhv-agent-hv1", "pa\"ss", "service", NULL, "dom2"};
    qkl_login *l = qkl_login_new(&c);
    assert_string_equal(l->url, "http://k:5000/v3/auth/tokens");
    qj *doc = qj_parse(l->body, strlen(l->body), NULL, NULL);
    assert_non_null(doc);
    qj *auth = qj_get(doc, "auth");
    qj *user = qj_get(qj_get(qj_get(auth, "identity"), "password"), "user");
    assert_string_equal(qj_get_str(user, "name"), "qhv-agent-hv1");
    assert_string_equal(qj_get_str(user, "password"), "pa\"ss");
    assert_string_equal(qj_get_str(qj_get(user, "domain"), "name"), "Default");
    const qj *m = qj_at(qj_get(qj_get(auth, "identity"), "methods"), 0);
    assert_string_equal(qj_as_str(m), "password");
    qj *proj = qj_get(qj_get(auth, "scope"), "project");
    assert_string_equal(qj_get_str(proj, "name"), "service");
    assert_string_equal(qj_get_str(qj_get(proj, "domain"), "name"), "dom2");
    qj_free(doc);
    qkl_login_free(l);
    qkl_login_free(NULL);
}

static void test_parse_time(void **state)
{
    (void)state;
    assert_int_equal(qkl_parse_time("1970-01-01T00:00:10Z"), 10);
    assert_int_equal(qkl_parse_time("2026-11-24T00:40:04.000000Z"), 1795480804);
    assert_int_equal(qkl_parse_time("2026-11-24T00:40:04+00:00"), 1795480804);
    assert_int_equal(qkl_parse_time("2026-11-24T00:40:04"), 1795480804);
    assert_int_equal(qkl_parse_time("2026-11-24T00:40:04+02:00"), -1);
    assert_int_equal(qkl_parse_time("2026-11-24"), -1);
    assert_int_equal(qkl_parse_time(NULL), -1);
}

/* "YYYY-MM-DDTHH:MM:SS.000000Z" of now + delta seconds. */
static void iso(char *out, size_t n, int64_t delta)
{
    time_t t = (time_t)(qhv_wall_seconds() + delta);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
}

static int answer(long status, const char *subject, int64_t issued, int64_t expires,
                  qkl_token *t, char *why, size_t n)
{
    char iss[40], exp[40], body[200];
    iso(iss, sizeof iss, issued);
    iso(exp, sizeof exp, expires);
    snprintf(body, sizeof body, "{\"token\": {\"issued_at\": \"%s\", \"expires_at\": \"%s\"}}",
             iss, exp);
    return qkl_parse_answer(status, subject, body, strlen(body), t, why, n);
}

static void test_parse_answer(void **state)
{
    (void)state;
    qkl_token *t = xcalloc(1, sizeof *t);
    char why[256];
    /* An hour: renewed 120 s before the end. */
    assert_int_equal(answer(201, "tok1", 0, 3600, t, why, sizeof why), 0);
    assert_string_equal(t->token, "tok1");
    assert_in_range(t->lifetime, 3599, 3600);
    assert_in_range(t->renew_after, 3479, 3480);
    /* Short-lived: renewed at half its life. */
    assert_int_equal(answer(201, "tok2", 0, 6, t, why, sizeof why), 0);
    assert_in_range(t->lifetime, 5, 6);
    assert_in_range(t->renew_after, 2, 3);
    /* Keystone's clock an hour ahead: the lifetime counts from issued_at. */
    assert_int_equal(answer(201, "tok3", 3600, 7200, t, why, sizeof why), 0);
    assert_int_equal(t->lifetime, 3600);
    assert_int_equal(t->renew_after, 3480);
    /* Refusals and malformed answers say why. */
    assert_int_equal(answer(401, "x", 0, 60, t, why, sizeof why), -1);
    assert_non_null(strstr(why, "refused the credentials (401)"));
    assert_int_equal(answer(500, "x", 0, 60, t, why, sizeof why), -1);
    assert_non_null(strstr(why, "answered 500"));
    assert_int_equal(answer(201, NULL, 0, 60, t, why, sizeof why), -1);
    assert_non_null(strstr(why, "X-Subject-Token"));
    assert_int_equal(qkl_parse_answer(201, "x", "{}", 2, t, why, sizeof why), -1);
    assert_non_null(strstr(why, "expires_at"));
    assert_int_equal(qkl_parse_answer(201, "x", "not json", 8, t, why, sizeof why), -1);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_url),
        cmocka_unit_test(test_login_body),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_parse_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
