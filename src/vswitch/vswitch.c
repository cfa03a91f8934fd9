#include "vswitch/vswitch.h"
#include "vswitch/dummy.h"
#include "vswitch/hyperv/hyperv.h"
#ifndef _WIN32
#include "vswitch/ovs.h"
#endif
#include <stdio.h>
#include <string.h>

const char *const qvs_kinds[] = {"provider_address", "customer_route", "lookup_record",
                                 "address_set", "port", "acl"};
const size_t qvs_n_kinds = sizeof qvs_kinds / sizeof qvs_kinds[0];

void qvs_observed_init(qvs_observed *o)
{
    o->nics = qvs_map_new();
    o->objects = qvs_map_new();
    o->foreign = qvs_map_new();
}

void qvs_observed_free(qvs_observed *o)
{
    if (!o)
        return;
    qvs_map_free(o->nics);
    qvs_map_free(o->objects);
    qvs_map_free(o->foreign);
    o->nics = o->objects = o->foreign = NULL;
}

#ifdef _WIN32
/* The ovs backend forks ovs-vsctl: Linux only. */
#define QVS_AVAILABLE "dummy, hyperv"
static const qvs_class *const qvs_classes[] = {&qvs_dummy_class, &qvs_hyperv_class};
#else
#define QVS_AVAILABLE "dummy, hyperv, ovs"
static const qvs_class *const qvs_classes[] = {&qvs_dummy_class, &qvs_hyperv_class,
                                               &qvs_ovs_class};
#endif

const qvs_class *qvs_class_find(const char *name, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof qvs_classes / sizeof qvs_classes[0]; i++)
        if (!strcmp(name, qvs_classes[i]->name))
            return qvs_classes[i];
    snprintf(err, errlen, "unknown backend '%s' (known: dummy, hyperv, ovs; available here: "
                          QVS_AVAILABLE ")", name);
    return NULL;
}

bool qvs_id_kind(const char *id, char *out, size_t outlen)
{
    const char *slash = strchr(id, '/');
    if (!slash || slash == id || (size_t)(slash - id) >= outlen)
        return false;
    memcpy(out, id, (size_t)(slash - id));
    out[slash - id] = '\0';
    return true;
}

const char *qvs_id_key(const char *id)
{
    const char *slash = strchr(id, '/');
    return slash ? slash + 1 : NULL;
}

int qvs_kind_rank(const char *id)
{
    char kind[32];
    if (!qvs_id_kind(id, kind, sizeof kind))
        return -1;
    for (size_t i = 0; i < qvs_n_kinds; i++)
        if (!strcmp(kind, qvs_kinds[i]))
            return (int)i;
    return -1;
}
