#include "model/model.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

qmodel *qmodel_new(qstore *store, const qconf *conf)
{
    qmodel *m = xcalloc(1, sizeof *m);
    m->store = store;
    m->conf = conf;
    return m;
}

void qmodel_free(qmodel *m) { free(m); }

int qmodel_finish(qop *op, int rc, qerr *e)
{
    qmodel *m = op->m;
    if (rc == 0 && qstore_bump_revision(m->store, e) < 0)
        rc = -1;
    if (rc == 0)
        rc = qstore_commit(m->store, e);
    else
        qstore_rollback(m->store);
    if (rc == 0 && m->on_commit && !qtouch_empty(&op->touched))
        m->on_commit(m->commit_ctx, &op->touched);
    qtouch_clear(&op->touched);
    qtouch tmp = {.hosts = op->created};
    qtouch_clear(&tmp);
    memset(&op->created, 0, sizeof op->created);
    return rc < 0 ? -1 : 0;
}
