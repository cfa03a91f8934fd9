/* printf: QHV_PRINTF(fmt, first) marks a printf-like function so that the
 * compiler checks its calls. On mingw-w64 the plain "printf" archetype means
 * Microsoft's msvcrt dialect (no %zu, %lld), while qhv builds with the
 * C99-conforming stdio (__USE_MINGW_ANSI_STDIO): checking is by GNU rules. */
#ifndef QHV_PRINTF_H
#define QHV_PRINTF_H

#ifdef __MINGW32__
#define QHV_PRINTF(fmt, first) __attribute__((format(gnu_printf, fmt, first)))
#else
#define QHV_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#endif

#endif
