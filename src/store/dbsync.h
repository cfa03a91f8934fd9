/* dbsync: qhv-server --db-sync, as neutron-db-manage upgrade heads: the
 * configured database brought to this build's schema, then nothing else
 * (qhv-server also migrates at start; --db-sync lets an operator do it as a
 * step of its own, before starting several servers on one database). */
#ifndef QHV_STORE_DBSYNC_H
#define QHV_STORE_DBSYNC_H
#include "store/store.h"
#include <stdio.h>

/* Migrates the database o names, printing to out its schema version before
 * and after. 0, or -1 with e saying why (cannot be reached, newer than this
 * build, a migration failed). */
int qdbsync_run(const qstore_opts *o, FILE *out, qerr *e);

#endif
