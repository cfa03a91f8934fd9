/* store: the SQLite store. One database file in WAL mode; each thread gets
 * its own connection (readers never block each other or the writer); writes
 * are serialised by a process mutex around BEGIN IMMEDIATE ... COMMIT, so
 * they never spin on SQLITE_BUSY. Every committed write bumps one global
 * revision (meta.revision). The schema is versioned; migrations run at open.
 *
 * Ownership: qstore_open returns a store freed by qstore_close (accepts NULL).
 * Statements from qstore_stmt are cached per connection and owned by it: the
 * caller must sqlite3_reset them (qstore_stmt resets before returning). */
#ifndef QHV_STORE_H
#define QHV_STORE_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include "lib/err.h"

typedef struct qstore qstore;

/* synchronous: "NORMAL" or "FULL". Creates the parent directory if needed. */
qstore *qstore_open(const char *path, const char *synchronous, qerr *e);
void qstore_close(qstore *s);
int qstore_schema_version(qstore *s);

/* This thread's connection (opened on first use). NULL only on failure. */
sqlite3 *qstore_db(qstore *s, qerr *e);
/* A cached prepared statement for sql (a string literal: cached by pointer). */
sqlite3_stmt *qstore_stmt(qstore *s, const char *sql, qerr *e);

/* Write transaction: takes the write lock, BEGIN IMMEDIATE. On success the
 * caller must end it with qstore_commit or qstore_rollback. */
int qstore_begin_write(qstore *s, qerr *e);
/* Bumps and returns the global revision inside the current write txn. */
int64_t qstore_bump_revision(qstore *s, qerr *e);
int qstore_commit(qstore *s, qerr *e);
/* The same; after a successful COMMIT and before the write lock is released,
 * calls after(arg): hooks so called see the commits in their order. */
int qstore_commit_then(qstore *s, void (*after)(void *arg), void *arg, qerr *e);
void qstore_rollback(qstore *s);
/* Read transaction (a consistent snapshot across several statements). */
int qstore_begin_read(qstore *s, qerr *e);
void qstore_end_read(qstore *s);
int64_t qstore_revision(qstore *s);

/* Runs a cached statement with up to three text parameters (NULL = not
 * bound) to completion. For writes and for queries whose rows don't matter. */
int qstore_run(qstore *s, const char *sql, const char *a, const char *b, const char *c, qerr *e);
/* First column of the first row as text into out (size n): 1 found, 0 none,
 * -1 on error. */
int qstore_query_text(qstore *s, const char *sql, const char *a, char *out, size_t n, qerr *e);

/* First column of the first row of a cached statement without parameters,
 * as a non-negative integer (a count, a revision); -1 with e set when it
 * fails or gives no such value. */
int64_t qstore_query_i64(qstore *s, const char *sql, qerr *e);

/* Maps the last SQLite error on this thread's connection into e: the
 * storage's failures (SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR,
 * SQLITE_CANTOPEN: disk full, filesystem read-only) are QE_STORAGE (503, a
 * message saying why the database cannot be written), anything else
 * QE_INTERNAL (500). A write that fails so is rolled back: it changes
 * nothing, and reads keep working. */
int qstore_fail(qstore *s, qerr *e, const char *what);

#endif
