/* The platform layer (src/lib/plat.h), one program for both implementations:
 * plain C (no cmocka, which has no Windows package), so that the same checks
 * run natively on Linux (unit.test_plat) and as test_plat.exe under Wine
 * (api.test_windows_agent). usage: test_plat DIR (a scratch directory). */
#include "lib/plat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                             \
        }                                                                           \
    } while (0)

static void test_fnmatch(void)
{
    /* Expected values are glibc fnmatch(3)'s with flags 0. */
    static const struct {
        const char *pattern, *s;
        bool match;
    } cases[] = {
        {"physnet*", "physnet1", true}, {"physnet*", "phys", false}, {"*", "", true},
        {"a?c", "abc", true},          {"a?c", "ac", false},        {"[a-c]x", "bx", true},
        {"[!a-c]x", "bx", false},      {"[^a]", "b", true},         {"\\*", "*", true},
        {"\\*", "a", false},           {"*a*b", "xxaxxb", true},    {"*a*b", "xxaxxc", false},
        {"[]a]", "]", true},           {"[", "[", true},            {"a[", "a[", true},
        {"*.*", "a/b.c", true},        {"", "", true},              {"physnet1", "physnet2", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (qplat_fnmatch(cases[i].pattern, cases[i].s) != cases[i].match) {
            fprintf(stderr, "fnmatch(\"%s\", \"%s\") is not %s\n", cases[i].pattern,
                    cases[i].s, cases[i].match ? "a match" : "a mismatch");
            failures++;
        }
    }
}

static void test_time(void)
{
    struct tm tm;
    qplat_gmtime(0, &tm);
    CHECK(tm.tm_year == 70 && tm.tm_mon == 0 && tm.tm_mday == 1 && tm.tm_hour == 0);
    qplat_gmtime(4102444800LL, &tm);   /* 2100-01-01: past 32-bit time_t */
    CHECK(tm.tm_year == 200 && tm.tm_mon == 0 && tm.tm_mday == 1);
    struct tm t = {.tm_year = 123, .tm_mon = 10, .tm_mday = 14, .tm_hour = 22, .tm_min = 13,
                   .tm_sec = 20};
    CHECK(qplat_timegm(&t) == 1700000000);
    int64_t wall = qplat_wall_us();
    int64_t now = (int64_t)time(NULL) * 1000000;
    CHECK(wall > now - 2000000 && wall < now + 2000000);
    uint64_t a = qplat_monotonic_us();
    qplat_sleep_ms(50);
    uint64_t b = qplat_monotonic_us();
    CHECK(b - a >= 45000 && b - a < 2000000);
}

static void test_misc(void)
{
    unsigned char x[32], y[32];
    qplat_random_bytes(x, sizeof x);
    qplat_random_bytes(y, sizeof y);
    CHECK(memcmp(x, y, sizeof x) != 0);
    qplat_wipe(x, sizeof x);
    static const unsigned char zero[32];
    CHECK(memcmp(x, zero, sizeof x) == 0);
    char host[256];
    CHECK(qplat_hostname(host, sizeof host) == 0 && host[0]);
    CHECK(qplat_pid() > 0);
}

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static void test_files(const char *dir)
{
    char path[1024], tmp[1024], lock[1024], log[1024];
    snprintf(path, sizeof path, "%s/state.json", dir);
    snprintf(tmp, sizeof tmp, "%s/state.json.tmp", dir);
    snprintf(lock, sizeof lock, "%s/state.json.lock", dir);
    snprintf(log, sizeof log, "%s/test.log", dir);
    remove(path);
    qplat_fileid missing, first, again, replaced;
    CHECK(qplat_file_id(path, &missing) == 0 && !missing.exists);
    CHECK(write_file(path, "{}\n"));
    CHECK(qplat_file_id(path, &first) == 0 && first.exists && first.size == 3);
    CHECK(qplat_file_id(path, &again) == 0 && qplat_fileid_same(&first, &again));
    CHECK(!qplat_fileid_same(&first, &missing));
    /* A rewrite by replace is seen, even at the same size. */
    CHECK(write_file(tmp, "[]\n"));
    CHECK(qplat_replace_file(tmp, path) == 0);
    CHECK(qplat_file_id(path, &replaced) == 0 && replaced.exists && replaced.size == 3);
    CHECK(!qplat_fileid_same(&first, &replaced));
    FILE *f = fopen(path, "rb");
    char buf[8] = "";
    CHECK(f && fgets(buf, sizeof buf, f) && !strcmp(buf, "[]\n"));
    if (f)
        fclose(f);
    CHECK(fopen(tmp, "rb") == NULL);
    char err[256] = "";
    qplat_lock *l = qplat_lock_file(lock, err, sizeof err);
    CHECK(l != NULL);
    qplat_unlock_file(l);
    qplat_unlock_file(NULL);
    l = qplat_lock_file(lock, err, sizeof err);     /* released: can be taken again */
    CHECK(l != NULL);
    qplat_unlock_file(l);
    remove(log);
    int fd = qplat_log_open(log);
    CHECK(fd >= 0);
    if (fd >= 0) {
        qplat_log_write(fd, "one\n", 4);
        qplat_log_write(fd, "two\n", 4);
    }
    f = fopen(log, "rb");
    char text[32] = "";
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    CHECK(!strcmp(text, "one\ntwo\n"));   /* appended, no "\r\n" on Windows */
    if (f)
        fclose(f);
    remove(path);
    remove(lock);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_plat DIR\n");
        return 2;
    }
    test_fnmatch();
    test_time();
    test_misc();
    test_files(argv[1]);
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    else
        printf("test_plat: all checks passed\n");
    return failures ? 1 : 0;
}
