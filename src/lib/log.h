/* log: one line per event, "<time> <LEVEL> <module>: message", to stderr
 * (or a file). Thread-safe: each line is one write(). */
#ifndef QHV_LOG_H
#define QHV_LOG_H
#include "lib/printf.h"

typedef enum { QLOG_DEBUG, QLOG_INFO, QLOG_WARN, QLOG_ERROR } qlog_level;

void qlog_set_level(qlog_level l);
int qlog_parse_level(const char *s, qlog_level *ret);
/* Redirects output to path (appending); returns -1 if it cannot be opened. */
int qlog_set_file(const char *path);
void qlog(qlog_level l, const char *module, const char *fmt, ...) QHV_PRINTF(3, 4);

#define QLOG_D(mod, ...) qlog(QLOG_DEBUG, mod, __VA_ARGS__)
#define QLOG_I(mod, ...) qlog(QLOG_INFO, mod, __VA_ARGS__)
#define QLOG_W(mod, ...) qlog(QLOG_WARN, mod, __VA_ARGS__)
#define QLOG_E(mod, ...) qlog(QLOG_ERROR, mod, __VA_ARGS__)

#endif
