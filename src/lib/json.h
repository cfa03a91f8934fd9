/* json: the project's own JSON module (parse, build, emit), shared by the
 * server, the agent (also on Windows) and the tools.
 *
 * Ownership: every qj returned by a constructor, qj_parse or qj_clone is owned
 * by the caller and freed with qj_free (which accepts NULL). Adding a value
 * to an array or object transfers its ownership to the container. Getters
 * return borrowed pointers, valid while the container lives and is unchanged.
 *
 * Numbers: an integer literal (no fraction, no exponent) that fits int64_t is
 * kept exactly as QJ_INT; a literal with fraction or exponent is QJ_DOUBLE;
 * an integer literal outside int64_t is a parse error (no silent rounding).
 * Strings are strict UTF-8 (no overlongs, no surrogates, no code points above
 * U+10FFFF, \u escapes with paired surrogates only) and may contain NUL via
 * \u0000, so every string carries its length.
 * Objects keep insertion order; duplicate keys are a parse error. */
#ifndef QHV_JSON_H
#define QHV_JSON_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "lib/buf.h"

typedef enum {
    QJ_NULL, QJ_BOOL, QJ_INT, QJ_DOUBLE, QJ_STRING, QJ_ARRAY, QJ_OBJECT
} qj_type;

typedef struct qj qj;
typedef struct qj_member {
    char *key;          /* NUL-terminated (keys with embedded NUL are rejected) */
    qj *val;
} qj_member;

struct qj {
    qj_type type;
    union {
        bool b;
        int64_t i;
        double d;
        struct { char *s; size_t len; } str;       /* s NUL-terminated too */
        struct { qj **v; size_t n, cap; } arr;
        struct { qj_member *m; size_t n, cap; } obj;
    } u;
};

typedef struct qj_limits {
    size_t max_depth;   /* nesting of arrays/objects; 0 = default 64 */
    size_t max_size;    /* input bytes; 0 = unlimited */
} qj_limits;

typedef struct qj_error {
    size_t offset;      /* byte offset of the error in the input */
    size_t line, column;/* 1-based */
    char msg[128];      /* e.g. "invalid UTF-8 in string" */
} qj_error;

/* Parses exactly one JSON value (surrounding whitespace allowed).
 * Returns NULL and fills *err (if non-NULL) on any error. lim may be NULL. */
qj *qj_parse(const char *text, size_t len, const qj_limits *lim, qj_error *err);

void qj_free(qj *v);
qj *qj_clone(const qj *v);
bool qj_equal(const qj *a, const qj *b);

qj *qj_null(void);
qj *qj_bool(bool b);
qj *qj_int(int64_t i);
qj *qj_double(double d);
qj *qj_str(const char *s);                  /* copies */
qj *qj_strn(const char *s, size_t len);     /* copies */
qj *qj_str_take(char *s);                   /* takes ownership of malloc'd s */
qj *qj_array(void);
qj *qj_object(void);

/* Containers. Take ownership of v (also on failure paths, none today). */
void qj_append(qj *arr, qj *v);
void qj_set(qj *obj, const char *key, qj *v);        /* replaces an existing key in place */
/* Appends key without looking for it: only for a key the caller knows is
 * absent (building large objects; qj_set searches linearly). */
void qj_set_new(qj *obj, const char *key, qj *v);
bool qj_remove(qj *obj, const char *key);            /* frees the value; false if absent */
qj *qj_take(qj *obj, const char *key);               /* detaches and returns the value, or NULL */

/* Borrowed lookups; NULL when absent or when the container has another type. */
qj *qj_get(const qj *obj, const char *key);
qj *qj_at(const qj *arr, size_t i);
size_t qj_len(const qj *v);                          /* array items, object members, string bytes */

/* Typed getters: NULL / default when v is NULL or of another type. */
const char *qj_as_str(const qj *v);                  /* NULL unless QJ_STRING */
bool qj_is(const qj *v, qj_type t);
/* Convenience: obj[key] as string, or NULL. */
const char *qj_get_str(const qj *obj, const char *key);
/* obj[key] as an integer or a boolean, or def when absent or of another type. */
int64_t qj_get_int(const qj *obj, const char *key, int64_t def);
bool qj_get_bool(const qj *obj, const char *key, bool def);

/* Emit compact JSON (no spaces) or pretty (2-space indent). Doubles are
 * written with the shortest form that round-trips; NaN/Inf are written as
 * null. Returns false only if b hit its maximum size. */
bool qj_emit(const qj *v, qbuf *b, bool pretty);
/* Convenience: newly allocated compact text; caller frees. */
char *qj_to_string(const qj *v);
/* Writes a JSON string literal (with quotes) for s[0..len). */
bool qj_emit_string(qbuf *b, const char *s, size_t len);

#endif
