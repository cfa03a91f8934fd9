#include "model/resources.h"
#include "lib/util.h"
#include <string.h>

static const qresource *const qres_all[] = {&qres_network, &qres_subnet, &qres_port};

const qresource *qres_by_collection(const char *collection)
{
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qres_all); i++)
        if (!strcmp(qres_all[i]->collection, collection))
            return qres_all[i];
    return NULL;
}

size_t qres_count(void) { return QHV_ARRAY_SIZE(qres_all); }
const qresource *qres_at(size_t i) { return qres_all[i]; }
