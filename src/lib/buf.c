#include "lib/buf.h"
#include "lib/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

void qbuf_init(qbuf *b, size_t max)
{
    b->cap = 64;
    b->data = xmalloc(b->cap);
    b->data[0] = '\0';
    b->len = 0;
    b->max = max;
    b->overflow = false;
}

void qbuf_free(qbuf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void qbuf_reset(qbuf *b)
{
    b->len = 0;
    b->data[0] = '\0';
    b->overflow = false;
}

static bool qbuf_reserve(qbuf *b, size_t n)
{
    if (b->overflow)
        return false;
    if (b->max && b->len + n > b->max) {
        b->overflow = true;
        return false;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap * 2;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    return true;
}

bool qbuf_append(qbuf *b, const void *p, size_t n)
{
    if (!qbuf_reserve(b, n))
        return false;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool qbuf_puts(qbuf *b, const char *s) { return qbuf_append(b, s, strlen(s)); }
bool qbuf_putc(qbuf *b, char c) { return qbuf_append(b, &c, 1); }

bool qbuf_printf(qbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    if ((size_t)n < sizeof tmp)
        return qbuf_append(b, tmp, (size_t)n);
    if (!qbuf_reserve(b, (size_t)n))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

char *qbuf_steal(qbuf *b, size_t *len)
{
    char *d = b->data;
    if (len)
        *len = b->len;
    qbuf_init(b, b->max);
    return d;
}
