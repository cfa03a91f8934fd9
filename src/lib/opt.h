/* opt: configuration options as a table of (section, key, type, offset,
 * default, help), applied to a caller's struct from a qini. One generic loop,
 * every default in one place, --help generated from the same table.
 *
 * Strings stored into the struct are malloc'd and owned by the struct;
 * qopt_free_values() frees them. */
#ifndef QHV_OPT_H
#define QHV_OPT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lib/ini.h"

typedef enum { QOPT_STR, QOPT_INT, QOPT_BOOL } qopt_type;

typedef struct qopt {
    const char *section;
    const char *key;
    qopt_type type;
    size_t offset;          /* of a char *, int64_t or bool in the struct */
    const char *def;        /* default, as it would be written in the file */
    int64_t min, max;       /* for QOPT_INT */
    const char *help;
} qopt;

/* Sets every option to its default, then to the ini's value where present.
 * Returns -1 with "file:line: [section] key: reason" in err on a bad value.
 * Keys the table does not know are reported through warn (may be NULL). */
int qopt_apply(const qopt *opts, size_t n, void *conf, const qini *ini,
               void (*warn)(const char *msg), char *err, size_t errlen);
/* Loads files (in order, later ones win) into one qini and applies it, as
 * qopt_apply. The one config loader of the server and the agent. */
int qopt_load_files(const qopt *opts, size_t n, void *conf, const char *const *files,
                    size_t nfiles, void (*warn)(const char *msg), char *err, size_t errlen);
void qopt_free_values(const qopt *opts, size_t n, void *conf);
void qopt_print_help(FILE *f, const qopt *opts, size_t n);
/* "true"/"false"/"yes"/"no"/"on"/"off"/"1"/"0", any case. */
int qopt_parse_bool(const char *s, int *ret);

#endif
