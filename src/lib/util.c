#include "lib/util.h"
#include "lib/plat.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ctype.h>

static void oom(void)
{
    fputs("qhv: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        oom();
    return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int qhv_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *ret = v;
    return 0;
}

uint64_t qhv_now_us(void) { return qplat_monotonic_us(); }

int64_t qhv_wall_seconds(void) { return (int64_t)time(NULL); }

void qhv_format_time(int64_t t, char out[static 21])
{
    struct tm tm;
    qplat_gmtime(t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void qhv_deadline(struct timespec *ts, long ms)
{
    int64_t us = qplat_wall_us() + (int64_t)ms * 1000;
    ts->tv_sec = (time_t)(us / 1000000);
    ts->tv_nsec = (long)(us % 1000000) * 1000L;
}

void qhv_random_bytes(void *buf, size_t n) { qplat_random_bytes(buf, n); }

void qhv_uuid4(char out[static 37])
{
    unsigned char b[16];
    qhv_random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}

bool qhv_is_uuid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    size_t di = 0;
    for (int i = 0; i < 36; i++) {
        if (di < 4 && i == dash[di]) {
            if (s[i] != '-')
                return false;
            di++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return s[36] == '\0';
}

void qhv_strlcpy(char *dst, const char *src, size_t n)
{
    size_t len = src ? strnlen(src, n - 1) : 0;
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

bool qhv_text_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        if (c < 0x80)
            continue;
        size_t more = c >= 0xF0 && c < 0xF5 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c < 0xE0 ? 1 : 9;
        if (more == 9 || i + more >= n)
            return false;
        for (size_t k = 1; k <= more; k++)
            if (((unsigned char)s[i + k] & 0xC0) != 0x80)
                return false;
        i += more;
    }
    return true;
}

bool qhv_ifalias_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (!qhv_text_ok(s, 255) || s[0] == ' ' || s[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            /* PowerShell also reads U+2018..U+201F (E2 80 98..9F) as quotes. */
            if (c == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
                (unsigned char)s[i + 2] >= 0x98 && (unsigned char)s[i + 2] <= 0x9F)
                return false;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(" ._-()#,+", c)))
            return false;
    }
    return true;
}
