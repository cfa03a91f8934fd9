#include "model/model.h"
#include "lib/util.h"
#include <stdlib.h>

qmodel *qmodel_new(qstore *store, const qconf *conf)
{
    qmodel *m = xcalloc(1, sizeof *m);
    m->store = store;
    m->conf = conf;
    return m;
}

void qmodel_free(qmodel *m) { free(m); }
