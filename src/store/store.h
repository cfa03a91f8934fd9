/* store: the model's database, whatever the engine. Two engines implement
 * it: SQLite (sqlite.c: one file in WAL mode, the embedded default) and
 * PostgreSQL (pg.c, through libpq: several qhv-servers on one database).
 *
 * What both guarantee:
 * - each thread has its own connection (readers never block each other);
 * - write transactions are serialised: one at a time across the process
 *   (a mutex) and, on PostgreSQL, across every server on the database (a
 *   transaction-scoped advisory lock taken at BEGIN). So a write sees the
 *   latest committed state, allocation and quota checks made inside it are
 *   exact, and the global revision (meta.revision) grows in commit order;
 * - read transactions see one consistent snapshot.
 *
 * SQL. The model writes its statements once, in the subset both engines
 * accept, with SQLite's spelling of the few things that differ; the
 * PostgreSQL engine rewrites them once, when it prepares them (pg_sql.h
 * says exactly what it rewrites: ?N parameters, json_extract, INDEXED BY,
 * INSERT OR IGNORE). Booleans in SQL are TRUE/FALSE or comparisons, never
 * bare integers.
 *
 * Ownership: qstore_open returns a store freed by qstore_close (accepts
 * NULL). Statements from qstore_stmt are cached per connection and owned
 * by it (qstore_stmt resets them and clears their bindings before
 * returning); statements from qstore_prepare belong to the caller and are
 * freed by qstmt_finalize (accepts NULL). Column values stay valid until the
 * next step, reset or finalize of their statement. */
#ifndef QHV_STORE_H
#define QHV_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/err.h"

typedef struct qstore qstore;
typedef struct qstmt qstmt;

/* What a bound value's memory is to the store: QSTORE_STATIC, valid until
 * the statement is reset; QSTORE_TRANSIENT, copied now; or a function the
 * store calls to free it once done with it. */
typedef void (*qstore_dtor)(void *);
#define QSTORE_STATIC ((qstore_dtor)0)
#define QSTORE_TRANSIENT ((qstore_dtor)-1)

/* What qstmt_step returns. */
enum {
    QSTORE_DONE = 0,         /* no (more) rows */
    QSTORE_ROW = 1,          /* a row is ready to read */
    QSTORE_CONSTRAINT = 2,   /* a unique or other constraint refused the write */
    QSTORE_ERROR = 3,        /* anything else: qstore_fail says what */
};

typedef struct qstore_opts {
    /* "" (then sqlite_path), sqlite:///path, postgresql://user:pw@host:port/db
     * (also postgresql+psycopg2://, Neutron's spelling). */
    const char *connection;
    const char *sqlite_path;        /* the default file */
    const char *sqlite_synchronous; /* NORMAL or FULL */
    /* PostgreSQL: connections this process may hold (one per thread that
     * uses the database), seconds to wait for the database at start, and
     * how old (seconds) a connection may get before it is replaced at the
     * start of its next transaction (0: never). */
    int max_pool_size;
    int max_overflow;
    int pool_timeout;
    int connection_recycle_time;
    /* Schema: migrate at open (the server's default) or only check that the
     * database is at this build's version (--db-sync did it). */
    bool migrate;
} qstore_opts;

/* Opens (and migrates, with o->migrate) the database o names. */
qstore *qstore_open(const qstore_opts *o, qerr *e);
void qstore_close(qstore *s);
/* "sqlite" or "postgresql". */
const char *qstore_engine_name(const qstore *s);
/* Other servers may share this database (PostgreSQL): commits are then
 * published for them (qstore_publish) and theirs heard (qstore_listen). */
bool qstore_is_shared(const qstore *s);
/* Where the database is, for logs: the file, or host:port/db (no password). */
const char *qstore_where(const qstore *s);
int qstore_schema_version(qstore *s);
/* The schema version this build writes. */
int qstore_schema_target(const qstore *s);

/* A cached prepared statement for sql (a string literal: cached by pointer). */
qstmt *qstore_stmt(qstore *s, const char *sql, qerr *e);
/* A statement built at run time (dynamic SQL), owned by the caller. */
qstmt *qstore_prepare(qstore *s, const char *sql, qerr *e);
void qstmt_finalize(qstmt *st);

/* Parameters are numbered from 1 (?1 in the SQL). n < 0: text up to NUL. */
void qstmt_bind_text(qstmt *st, int i, const char *v, int n, qstore_dtor how);
void qstmt_bind_blob(qstmt *st, int i, const void *v, int n, qstore_dtor how);
void qstmt_bind_int64(qstmt *st, int i, int64_t v);
void qstmt_bind_null(qstmt *st, int i);
/* One of the QSTORE_ codes above. */
int qstmt_step(qstmt *st);
void qstmt_reset(qstmt *st);
/* Columns from 0. A NULL is text NULL, 0 bytes, integer 0. */
const char *qstmt_column_text(qstmt *st, int col);
const void *qstmt_column_blob(qstmt *st, int col);
int qstmt_column_bytes(qstmt *st, int col);
int64_t qstmt_column_int64(qstmt *st, int col);
bool qstmt_column_null(qstmt *st, int col);

/* Write transaction: takes the write lock(s), BEGIN. On success the caller
 * must end it with qstore_commit or qstore_rollback. */
int qstore_begin_write(qstore *s, qerr *e);
/* Bumps and returns the global revision inside the current write txn. */
int64_t qstore_bump_revision(qstore *s, qerr *e);
/* Records, inside the current write txn (after qstore_bump_revision), what
 * it changed (note: text, the model's own format) so that the other servers
 * on the database hear of it (qstore_listen). SQLite: nothing to do. */
int qstore_publish(qstore *s, int64_t revision, const char *note, qerr *e);
int qstore_commit(qstore *s, qerr *e);
/* The same; after a successful COMMIT and before the write lock is released,
 * calls after(arg): hooks so called see the commits in their order. */
int qstore_commit_then(qstore *s, void (*after)(void *arg), void *arg, qerr *e);
void qstore_rollback(qstore *s);
/* Read transaction (a consistent snapshot across several statements). */
int qstore_begin_read(qstore *s, qerr *e);
void qstore_end_read(qstore *s);
/* The committed global revision (inside a read transaction: its snapshot's);
 * -1 when it cannot be read. */
int64_t qstore_revision(qstore *s);

/* Commits of other servers on the same database, each once and in revision
 * order: a thread of the store calls fn(arg, revision, note) for every
 * revision another server published (qstore_publish), within milliseconds
 * (PostgreSQL LISTEN/NOTIFY), catching up by revision from the table of
 * changes after a lost connection or a missed notification, and
 * fn(arg, revision, NULL) when it had to skip revisions no longer kept (the
 * listener must then assume everything changed). Never called on SQLite
 * (one server per file). Returns 0, or -1 when it cannot start. */
int qstore_listen(qstore *s, void (*fn)(void *arg, int64_t revision, const char *note),
                  void *arg, qerr *e);
/* Stops the listener (before qstore_close; safe when none runs). */
void qstore_unlisten(qstore *s);

/* Leadership of a named duty among the servers on one database (PostgreSQL:
 * a session advisory lock on this thread's connection, lost with it). True
 * when this thread holds it now (it takes it when free). SQLite: always. */
bool qstore_lead(qstore *s, const char *duty);

/* Runs a cached statement with up to three text parameters (NULL = not
 * bound) to completion. For writes and for queries whose rows don't matter. */
int qstore_run(qstore *s, const char *sql, const char *a, const char *b, const char *c, qerr *e);
/* First column of the first row as text into out (size n): 1 found, 0 none,
 * -1 on error. */
int qstore_query_text(qstore *s, const char *sql, const char *a, char *out, size_t n, qerr *e);
/* The same with up to three text parameters (NULL: not bound; as
 * qstore_run), out may be NULL: whether sql gives a row (an INSERT ...
 * RETURNING: whether it inserted). Only the first row is read. */
int qstore_query_row(qstore *s, const char *sql, const char *a, const char *b, const char *c,
                     char *out, size_t n, qerr *e);
/* First column of the first row of a cached statement without parameters,
 * as a non-negative integer (a count, a revision); -1 with e set when it
 * fails or gives no such value. */
int64_t qstore_query_i64(qstore *s, const char *sql, qerr *e);

/* Maps the last error on this thread's connection into e: storage failures
 * (SQLite: disk full, read-only filesystem, I/O error) and a database that
 * cannot be reached (PostgreSQL: connection lost, shutting down, too many
 * connections) are QE_STORAGE (503, a message saying why; the request changed
 * nothing, and the store reconnects by itself); a unique-key conflict
 * QE_CONFLICT (409); anything else QE_INTERNAL (500). A write that fails so
 * is rolled back. Returns -1. */
int qstore_fail(qstore *s, qerr *e, const char *what);

#endif
