#include "lib/log.h"
#include "lib/plat.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static qlog_level qlog_min = QLOG_INFO;
static int qlog_fd = 2;
static const char *const qlog_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void qlog_set_level(qlog_level l) { qlog_min = l; }

int qlog_parse_level(const char *s, qlog_level *ret)
{
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, qlog_names[i]) || (i == 2 && !strcasecmp(s, "warn"))) {
            *ret = (qlog_level)i;
            return 0;
        }
    }
    return -1;
}

int qlog_set_file(const char *path)
{
    int fd = qplat_log_open(path);
    if (fd < 0)
        return -1;
    qlog_fd = fd;
    return 0;
}

void qlog(qlog_level l, const char *module, const char *fmt, ...)
{
    if (l < qlog_min)
        return;
    char line[2048];
    int64_t us = qplat_wall_us();
    struct tm tm;
    qplat_gmtime(us / 1000000, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03d %s %s: ",
                          (int)(us % 1000000 / 1000), qlog_names[l], module);
    if (n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
        va_end(ap);
        n = (m < 0) ? n : n + (size_t)m;
    }
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    qplat_log_write(qlog_fd, line, n);
}
