/* buf: a growable byte buffer, always NUL-terminated, with an optional
 * maximum size so that untrusted input can never grow memory without bound.
 * The buffer owns its bytes; qbuf_steal() hands them to the caller. */
#ifndef QHV_BUF_H
#define QHV_BUF_H
#include "lib/printf.h"
#include <stddef.h>
#include <stdbool.h>

typedef struct qbuf {
    char *data;     /* NUL-terminated, never NULL after qbuf_init */
    size_t len;
    size_t cap;
    size_t max;     /* 0 = unlimited */
    bool overflow;  /* set once an append would exceed max; appends then stop */
} qbuf;

void qbuf_init(qbuf *b, size_t max);
void qbuf_free(qbuf *b);             /* accepts NULL; leaves b empty */
void qbuf_reset(qbuf *b);            /* len = 0, keeps capacity */
bool qbuf_append(qbuf *b, const void *p, size_t n);   /* false on overflow */
bool qbuf_puts(qbuf *b, const char *s);
bool qbuf_putc(qbuf *b, char c);
bool qbuf_printf(qbuf *b, const char *fmt, ...) QHV_PRINTF(2, 3);
char *qbuf_steal(qbuf *b, size_t *len);  /* caller frees; b becomes empty (still qbuf_free it) */

#endif
