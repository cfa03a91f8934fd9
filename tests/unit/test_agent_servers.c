/* agent/servers: the order in which an agent moves between servers and its
 * backoff between full rounds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "agent/servers.h"

static void parse(qurls *u, const char *text)
{
    char err[256];
    if (qurls_parse(u, text, "test", err, sizeof err) != 0)
        fail_msg("%s", err);
}

static void test_moves_in_order_and_wraps(void **state)
{
    (void)state;
    qurls u;
    parse(&u, "http://a:1,http://b:2,http://c:3");
    qag_servers s;
    qag_servers_init(&s, &u);
    assert_string_equal(qag_servers_url(&s), "http://a:1");
    bool round;
    /* Within a round: the next server at once. */
    assert_int_equal(qag_servers_failed(&s, &round), 0);
    assert_false(round);
    assert_string_equal(qag_servers_url(&s), "http://b:2");
    assert_int_equal(qag_servers_failed(&s, &round), 0);
    assert_string_equal(qag_servers_url(&s), "http://c:3");
    /* Every server failed: back to the first after 1 s, then 2 s, ... */
    assert_int_equal(qag_servers_failed(&s, &round), 1000000);
    assert_true(round);
    assert_string_equal(qag_servers_url(&s), "http://a:1");
    assert_int_equal(qag_servers_failed(&s, &round), 0);
    assert_int_equal(qag_servers_failed(&s, &round), 0);
    assert_int_equal(qag_servers_failed(&s, &round), 2000000);
    for (int i = 0; i < 30; i++)
        qag_servers_failed(&s, &round);
    assert_int_equal(qag_servers_failed(&s, &round), 0);
    assert_int_equal(qag_servers_failed(&s, &round), 0);
    assert_int_equal(qag_servers_failed(&s, &round), QAG_SERVERS_CAP_US);
    qurls_free(&u);
}

static void test_an_answer_resets_and_stays(void **state)
{
    (void)state;
    qurls u;
    parse(&u, "http://a:1,http://b:2");
    qag_servers s;
    qag_servers_init(&s, &u);
    bool round;
    assert_false(qag_servers_answered(&s));        /* no move yet: nothing to say */
    qag_servers_failed(&s, &round);
    assert_int_equal(qag_servers_failed(&s, &round), 1000000);
    assert_int_equal(qag_servers_failed(&s, &round), 0);
    assert_string_equal(qag_servers_url(&s), "http://b:2");
    assert_true(qag_servers_answered(&s));         /* first answer after the move */
    assert_false(qag_servers_answered(&s));
    assert_string_equal(qag_servers_url(&s), "http://b:2");      /* no going back */
    /* The backoff starts over: a new round within the list. */
    assert_int_equal(qag_servers_failed(&s, &round), 0);
    assert_int_equal(qag_servers_failed(&s, &round), 1000000);
    qurls_free(&u);
}

static void test_one_server(void **state)
{
    (void)state;
    qurls u;
    parse(&u, "http://a:1");
    qag_servers s;
    qag_servers_init(&s, &u);
    bool round;
    assert_int_equal(qag_servers_failed(&s, &round), 1000000);
    assert_true(round);
    assert_string_equal(qag_servers_url(&s), "http://a:1");
    qurls_free(&u);
}

static void test_what_moves_on(void **state)
{
    (void)state;
    assert_true(qag_servers_unavailable(-1));
    assert_true(qag_servers_unavailable(503));
    assert_true(qag_servers_unavailable(500));
    assert_true(qag_servers_unavailable(504));
    assert_false(qag_servers_unavailable(200));
    assert_false(qag_servers_unavailable(401));
    assert_false(qag_servers_unavailable(404));
    assert_false(qag_servers_unavailable(413));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moves_in_order_and_wraps),
        cmocka_unit_test(test_an_answer_resets_and_stays),
        cmocka_unit_test(test_one_server),
        cmocka_unit_test(test_what_moves_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
