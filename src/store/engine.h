/* engine: what a store engine implements (sqlite.c, pg.c); store.c
 * dispatches the public functions of store.h to it. Private to src/store.
 *
 * Every engine's store begins with a qstore and every statement with a
 * qstmt, so that the public handles are the engines' own. */
#ifndef QHV_STORE_ENGINE_H
#define QHV_STORE_ENGINE_H
#include "store/store.h"

typedef struct qstore_engine {
    const char *name;
    bool shared;             /* other servers may use the same database */
    void (*close)(qstore *s);
    const char *(*where)(const qstore *s);
    int (*schema_version)(qstore *s);
    int (*schema_target)(const qstore *s);
    qstmt *(*stmt)(qstore *s, const char *sql, qerr *e);
    qstmt *(*prepare)(qstore *s, const char *sql, qerr *e);
    void (*finalize)(qstmt *st);
    void (*bind_text)(qstmt *st, int i, const char *v, int n, qstore_dtor how);
    void (*bind_blob)(qstmt *st, int i, const void *v, int n, qstore_dtor how);
    void (*bind_int64)(qstmt *st, int i, int64_t v);
    void (*bind_null)(qstmt *st, int i);
    int (*step)(qstmt *st);
    void (*reset)(qstmt *st);
    const char *(*column_text)(qstmt *st, int col);
    const void *(*column_blob)(qstmt *st, int col);
    int (*column_bytes)(qstmt *st, int col);
    int64_t (*column_int64)(qstmt *st, int col);
    bool (*column_null)(qstmt *st, int col);
    int (*begin_write)(qstore *s, qerr *e);
    int64_t (*bump_revision)(qstore *s, qerr *e);
    int (*publish)(qstore *s, int64_t revision, const char *note, qerr *e);
    int (*commit_then)(qstore *s, void (*after)(void *), void *arg, qerr *e);
    void (*rollback)(qstore *s);
    int (*begin_read)(qstore *s, qerr *e);
    void (*end_read)(qstore *s);
    int64_t (*revision)(qstore *s);
    int (*listen)(qstore *s, void (*fn)(void *, int64_t, const char *), void *arg, qerr *e);
    void (*unlisten)(qstore *s);
    bool (*lead)(qstore *s, const char *duty);
    int (*fail)(qstore *s, qerr *e, const char *what);
} qstore_engine;

struct qstore {
    const qstore_engine *eng;
};

struct qstmt {
    const qstore_engine *eng;
};

/* The engines' openers (o->connection already told which one applies). */
qstore *qstore_sqlite_open(const qstore_opts *o, const char *path, qerr *e);
qstore *qstore_pg_open(const qstore_opts *o, qerr *e);

#endif
