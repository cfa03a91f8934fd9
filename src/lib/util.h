/* util: allocation that never returns NULL, small string helpers, time.
 * Allocation failure aborts: a network service that cannot allocate 100 bytes
 * cannot do anything useful, and checking every call hides real errors. */
#ifndef QHV_UTIL_H
#define QHV_UTIL_H
#include "lib/printf.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>

#define QHV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; caller frees. */
char *xasprintf(const char *fmt, ...) QHV_PRINTF(1, 2);

/* Copies src into dst[n] (n > 0), truncated if need be, always terminated
 * (a reason into a fixed-size field). */
void qhv_strlcpy(char *dst, const char *src, size_t n);

/* Strict decimal parse of the whole string into [min,max]; 0 or -1. */
int qhv_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);

/* Monotonic clock in microseconds; wall clock in seconds. */
uint64_t qhv_now_us(void);
int64_t qhv_wall_seconds(void);
/* "2026-11-23T21:27:30Z" into out (at least 21 bytes). */
void qhv_format_time(int64_t t, char out[static 21]);

/* *ts = now + ms on CLOCK_REALTIME (for pthread_cond_timedwait). */
void qhv_deadline(struct timespec *ts, long ms);

/* Fills buf with cryptographically random bytes (the system's: lib/plat.h). */
void qhv_random_bytes(void *buf, size_t n);
/* A random version-4 UUID in canonical lower-case form (37 bytes with NUL). */
void qhv_uuid4(char out[static 37]);
/* true if s is a canonical 8-4-4-4-12 hex UUID (any case). */
bool qhv_is_uuid(const char *s);
/* 1..max bytes of valid UTF-8 without control characters. */
bool qhv_text_ok(const char *s, size_t max);
/* A Windows interface alias qhv accepts, safe inside a single-quoted
 * PowerShell string: 1 to 255 bytes of letters, digits, space and ._-()#,+
 * or UTF-8 beyond ASCII other than PowerShell's quote characters
 * U+2018..U+201F, neither starting nor ending with a space. */
bool qhv_ifalias_ok(const char *s);

#endif
