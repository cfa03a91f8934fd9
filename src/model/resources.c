#include "model/resources.h"
#include "model/secgroup.h"
#include "model/subnetpool.h"
#include "model/rbac.h"
#include "lib/util.h"
#include <string.h>

static const qresource *const qres_all[] = {
    &qres_network, &qres_subnet, &qres_subnetpool, &qres_port, &qres_security_group,
    &qres_security_group_rule, &qres_agent, &qres_rbac_policy,
};

const char *qres_path(const qresource *r) { return r->path ? r->path : r->collection; }

const qresource *qres_by_path(const char *segment)
{
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qres_all); i++)
        if (!strcmp(qres_path(qres_all[i]), segment))
            return qres_all[i];
    return NULL;
}

size_t qres_count(void) { return QHV_ARRAY_SIZE(qres_all); }
const qresource *qres_at(size_t i) { return qres_all[i]; }
