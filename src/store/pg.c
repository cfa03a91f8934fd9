/* pg: the PostgreSQL engine of the store (being written). */
#include "store/engine.h"

qstore *qstore_pg_open(const qstore_opts *o, qerr *e)
{
    (void)o;
    qerr_set(e, QE_INTERNAL, "PostgreSQL is not supported by this build yet");
    return NULL;
}
