/* copy: one database's contents into another, through the store interface
 * only, so that one piece of code copies SQLite -> PostgreSQL, back, or
 * between two of the same engine (qhv-server --db-copy FROM TO).
 *
 * Both databases are opened (and migrated) to this build's schema; TO must
 * hold nothing yet (revision 0, every table empty), else nothing is done.
 * Every table, meta.revision included, is copied in one write transaction on
 * TO (the table of changes is not: it only tells running servers what they
 * missed), reading FROM in one read transaction; then, before COMMIT,
 * every row of every table is compared, FROM's rows in primary-key order
 * each looked up in TO by its key, and the row counts, so that a difference
 * in content, a missing or an extra row is found, and rolls the copy back:
 * TO gets all of FROM or nothing. The tables and their keys are listed
 * once, in copy.c. */
#ifndef QHV_STORE_COPY_H
#define QHV_STORE_COPY_H
#include "store/store.h"
#include <stdio.h>

/* Copies the database `from` into `to` (connection strings as [database]
 * connection takes them; the other fields of o apply to both) and verifies
 * the copy, printing per table the rows copied, then a summary, to out.
 * 0 when copied and verified; -1 with e saying why otherwise (TO not empty,
 * a database that cannot be opened, a difference found). */
int qcopy_run(const qstore_opts *o, const char *from, const char *to, FILE *out, qerr *e);

/* A connection string fit to print: its password replaced by "***".
 * Returns a string the caller frees. */
char *qcopy_redact(const char *connection);

#endif
