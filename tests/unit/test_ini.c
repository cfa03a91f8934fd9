#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/ini.h"
#include "lib/util.h"

static void assert_value(const qini *ini, const char *section, const char *key, const char *want)
{
    const qini_entry *e = qini_find(ini, section, key);
    if (!e)
        fail_msg("[%s] %s not found", section, key);
    assert_string_equal(e->value, want);
}

/* Loads text expecting success and returns the object. */
static qini *load(const char *text)
{
    char err[256] = "";
    qini *ini = qini_new();
    if (qini_load_string(ini, "t.conf", text, err, sizeof err) != 0)
        fail_msg("load failed: %s", err);
    return ini;
}

/* Loads text expecting failure with exactly this message. */
static void assert_load_error(const char *text, const char *want)
{
    char err[256] = "";
    qini *ini = qini_new();
    assert_int_equal(qini_load_string(ini, "t.conf", text, err, sizeof err), -1);
    assert_string_equal(err, want);
    qini_free(ini);
}

/* Writes text to a fresh temporary file; caller unlinks and frees the path. */
static char *write_temp(const char *text, size_t len)
{
    char *path = xstrdup("/tmp/qhv_test_ini_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_sections(void **state)
{
    qini *ini = load("[DEFAULT]\n"
                     "debug = true\n"
                     "[database]\n"
                     "connection = sqlite:///var/lib/qhv/qhv.sqlite\n"
                     "[  ml2  ]\n"
                     "type_drivers=flat,vlan\n"
                     "  mechanism_drivers   =   qhv  \n"
                     "\t[ml2_type_vlan]\t\n"
                     "network_vlan_ranges = physnet1:100:200\n");
    assert_value(ini, "DEFAULT", "debug", "true");
    assert_value(ini, "database", "connection", "sqlite:///var/lib/qhv/qhv.sqlite");
    assert_value(ini, "ml2", "type_drivers", "flat,vlan");
    assert_value(ini, "ml2", "mechanism_drivers", "qhv");
    assert_value(ini, "ml2_type_vlan", "network_vlan_ranges", "physnet1:100:200");
    assert_null(qini_find(ini, "ml2", "debug"));
    assert_null(qini_find(ini, "ML2", "type_drivers")); /* case-sensitive */
    assert_null(qini_find(ini, "nosuch", "x"));
    assert_int_equal(qini_count(ini), 5);

    const qini_entry *e = qini_at(ini, 2);
    assert_non_null(e);
    assert_string_equal(e->section, "ml2");
    assert_string_equal(e->key, "type_drivers");
    assert_string_equal(e->file, "t.conf");
    assert_int_equal(e->line, 6);
    assert_null(qini_at(ini, 5));
    qini_free(ini);
}

static void test_default_and_values(void **state)
{
    qini *ini = load("top = 1\n"
                     "empty =\n"
                     "empty2=   \n"
                     "quoted = \"a b\"\n"
                     "eq = a=b=c\n"
                     "inline = x # not a comment\n"
                     "spaced key = v\n"
                     "[s]\n"
                     "k = v\n");
    assert_value(ini, "DEFAULT", "top", "1");
    assert_value(ini, "DEFAULT", "empty", "");
    assert_value(ini, "DEFAULT", "empty2", "");
    assert_value(ini, "DEFAULT", "quoted", "\"a b\"");
    assert_value(ini, "DEFAULT", "eq", "a=b=c");
    assert_value(ini, "DEFAULT", "inline", "x # not a comment");
    assert_value(ini, "DEFAULT", "spaced key", "v");
    assert_value(ini, "s", "k", "v");
    assert_int_equal(qini_find(ini, "DEFAULT", "top")->line, 1);
    qini_free(ini);
}

static void test_comments_blank(void **state)
{
    qini *ini = load("# comment\n"
                     "; another\n"
                     "   # indented comment = not a key\n"
                     "\t; tab comment\n"
                     "\n"
                     "   \n"
                     "[a]\n"
                     "#k = commented out\n"
                     "k = real\n"
                     "last = no newline at end");
    assert_int_equal(qini_count(ini), 2);
    assert_value(ini, "a", "k", "real");
    assert_value(ini, "a", "last", "no newline at end");
    assert_int_equal(qini_find(ini, "a", "k")->line, 9);
    assert_null(qini_find(ini, "DEFAULT", "# indented comment"));
    qini_free(ini);

    ini = load("");
    assert_int_equal(qini_count(ini), 0);
    assert_null(qini_find(ini, "DEFAULT", "x"));
    qini_free(ini);
}

static void test_crlf(void **state)
{
    qini *ini = load("[DEFAULT]\r\n"
                     "a = 1\r\n"
                     "\r\n"
                     "# c\r\n"
                     "[s]\r\n"
                     "b =\r\n"
                     "c = x y\r\n");
    assert_value(ini, "DEFAULT", "a", "1");
    assert_value(ini, "s", "b", "");
    assert_value(ini, "s", "c", "x y");
    assert_int_equal(qini_find(ini, "s", "c")->line, 7);
    qini_free(ini);
}

static void test_errors(void **state)
{
    assert_load_error("a = 1\njunk\n", "t.conf:2: expected 'key = value' or '[section]'");
    assert_load_error("\r\n\r\nno equals here\r\n",
                      "t.conf:3: expected 'key = value' or '[section]'");
    assert_load_error("[s]\n= v\n", "t.conf:2: empty key before '='");
    assert_load_error("[]\n", "t.conf:1: empty section name");
    assert_load_error("[   ]\n", "t.conf:1: empty section name");
    assert_load_error("a=1\n[s\n", "t.conf:2: missing ']' in section header");
    assert_load_error("[s] x\n", "t.conf:1: unexpected text after section header");
    assert_load_error("[s]]\n", "t.conf:1: unexpected text after section header");
    assert_load_error("[s] # comment\n", "t.conf:1: unexpected text after section header");

    /* A 64 KiB line is fine, one byte more is not. */
    size_t n = 64 * 1024;
    char *big = xmalloc(n + 16);
    memset(big, 'x', n + 1);
    memcpy(big, "k=", 2);
    big[n] = '\n';
    big[n + 1] = '\0';
    qini *ini = load(big);
    assert_int_equal(strlen(qini_find(ini, "DEFAULT", "k")->value), n - 2);
    qini_free(ini);
    memset(big, 'x', n + 1);
    memcpy(big, "k=", 2);
    memcpy(big + n + 1, "\nz=1\n", 6);
    assert_load_error(big, "t.conf:1: line longer than 65536 bytes");
    free(big);

    /* A short error buffer truncates but stays NUL-terminated; NULL is allowed. */
    char small[8];
    ini = qini_new();
    assert_int_equal(qini_load_string(ini, "t.conf", "bad\n", small, sizeof small), -1);
    assert_string_equal(small, "t.conf:");
    assert_int_equal(qini_load_string(ini, "t.conf", "bad\n", NULL, 0), -1);
    qini_free(ini);
    qini_free(NULL);
}

static void test_failed_load_changes_nothing(void **state)
{
    char err[256];
    qini *ini = load("[s]\na = 1\n");
    assert_int_equal(qini_load_string(ini, "u.conf", "[s]\na = 2\nb = 3\noops\n", err, sizeof err),
                     -1);
    assert_string_equal(err, "u.conf:4: expected 'key = value' or '[section]'");
    assert_int_equal(qini_count(ini), 1);
    assert_value(ini, "s", "a", "1");
    qini_free(ini);
}

static void test_last_wins_in_file(void **state)
{
    qini *ini = load("[s]\n"
                     "a = 1\n"
                     "b = x\n"
                     "a = 2\n"
                     "[t]\n"
                     "a = other\n"
                     "[s]\n"
                     "a = 3\n");
    assert_int_equal(qini_count(ini), 3);
    const qini_entry *e = qini_find(ini, "s", "a");
    assert_string_equal(e->value, "3");
    assert_int_equal(e->line, 8);
    /* The entry keeps its first position. */
    assert_ptr_equal(qini_at(ini, 0), e);
    assert_string_equal(qini_at(ini, 1)->key, "b");
    assert_string_equal(qini_at(ini, 2)->section, "t");
    assert_value(ini, "t", "a", "other");
    qini_free(ini);
}

static void test_override_across_loads(void **state)
{
    char err[256];
    qini *ini = qini_new();
    assert_int_equal(qini_load_string(ini, "neutron.conf",
                                      "[DEFAULT]\n"
                                      "debug = false\n"
                                      "bind_port = 9696\n"
                                      "[database]\n"
                                      "connection = sqlite:///a\n",
                                      err, sizeof err),
                     0);
    assert_int_equal(qini_load_string(ini, "ml2.conf",
                                      "\n"
                                      "[database]\n"
                                      "connection = sqlite:///b\n"
                                      "[DEFAULT]\n"
                                      "debug = true\n"
                                      "new = 1\n",
                                      err, sizeof err),
                     0);
    assert_int_equal(qini_count(ini), 4);
    const qini_entry *e = qini_find(ini, "DEFAULT", "debug");
    assert_string_equal(e->value, "true");
    assert_string_equal(e->file, "ml2.conf");
    assert_int_equal(e->line, 5);
    e = qini_find(ini, "database", "connection");
    assert_string_equal(e->value, "sqlite:///b");
    assert_string_equal(e->file, "ml2.conf");
    assert_int_equal(e->line, 3);
    e = qini_find(ini, "DEFAULT", "bind_port");
    assert_string_equal(e->value, "9696");
    assert_string_equal(e->file, "neutron.conf");
    assert_int_equal(e->line, 3);
    /* Load order: first file's keys in place, then keys new in the second. */
    assert_string_equal(qini_at(ini, 0)->key, "debug");
    assert_string_equal(qini_at(ini, 1)->key, "bind_port");
    assert_string_equal(qini_at(ini, 2)->key, "connection");
    assert_string_equal(qini_at(ini, 3)->key, "new");
    qini_free(ini);
}

static void test_many_keys(void **state)
{
    /* Enough keys to force several hash-table growths. */
    qini *ini = qini_new();
    char err[256];
    for (int i = 0; i < 5000; i++) {
        char line[64];
        snprintf(line, sizeof line, "[s%d]\nk%d = %d\n", i % 7, i, i);
        assert_int_equal(qini_load_string(ini, "m.conf", line, err, sizeof err), 0);
    }
    assert_int_equal(qini_count(ini), 5000);
    for (int i = 0; i < 5000; i += 97) {
        char sec[16], key[16], val[16];
        snprintf(sec, sizeof sec, "s%d", i % 7);
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "%d", i);
        assert_value(ini, sec, key, val);
        assert_string_equal(qini_at(ini, (size_t)i)->key, key);
    }
    assert_null(qini_find(ini, "s0", "k1"));
    qini_free(ini);
}

static void test_load_file(void **state)
{
    static const char text1[] = "\xef\xbb\xbf[DEFAULT]\r\nhost = a\r\nport = 1\r\n";
    static const char text2[] = "[DEFAULT]\nport = 2\n[x]\nbad line\n";
    static const char text3[] = "[DEFAULT]\nhost = b\n";
    char *p1 = write_temp(text1, sizeof text1 - 1);
    char *p2 = write_temp(text2, sizeof text2 - 1);
    char *p3 = write_temp(text3, sizeof text3 - 1);
    char err[512], want[512];
    qini *ini = qini_new();
    assert_int_equal(qini_load_file(ini, p1, err, sizeof err), 0);
    assert_value(ini, "DEFAULT", "host", "a"); /* UTF-8 BOM skipped */
    assert_value(ini, "DEFAULT", "port", "1");

    assert_int_equal(qini_load_file(ini, p2, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:4: expected 'key = value' or '[section]'", p2);
    assert_string_equal(err, want);
    assert_value(ini, "DEFAULT", "port", "1");

    assert_int_equal(qini_load_file(ini, p3, err, sizeof err), 0);
    const qini_entry *e = qini_find(ini, "DEFAULT", "host");
    assert_string_equal(e->value, "b");
    assert_string_equal(e->file, p3);
    assert_int_equal(e->line, 2);

    /* NUL bytes cannot be represented in the returned strings. */
    static const char text4[] = "a = 1\nb = x\0y\n";
    char *p4 = write_temp(text4, sizeof text4 - 1);
    assert_int_equal(qini_load_file(ini, p4, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2: NUL byte in line", p4);
    assert_string_equal(err, want);

    assert_int_equal(qini_load_file(ini, "/nonexistent/qhv.conf", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/qhv.conf"));
    qini_free(ini);
    unlink(p1);
    unlink(p2);
    unlink(p3);
    unlink(p4);
    free(p1);
    free(p2);
    free(p3);
    free(p4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_default_and_values),
        cmocka_unit_test(test_comments_blank),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_failed_load_changes_nothing),
        cmocka_unit_test(test_last_wins_in_file),
        cmocka_unit_test(test_override_across_loads),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
