/* network: the network resource — provider attributes, MTU, sharing, and
 * Neutron's delete semantics (DHCP ports and subnets go with the network;
 * any other port keeps it in use). */
#include "model/resources.h"
#include "model/segment.h"
#include "model/rbac.h"
#include "model/az.h"
#include "lib/util.h"
#include <string.h>

int qnet_usable(qop *op, const qj *net, qerr *e)
{
    if (qres_is_owner(op, net))
        return 0;
    const qj *shared = qj_get(net, "shared"), *ext = qj_get(net, "router:external");
    if (qj_is(shared, QJ_BOOL) && shared->u.b)
        return 1;
    int with = qrbac_shared_with(op->m->store, qj_get_str(net, "id"), op->ctx->project_id, e);
    if (with != 0)
        return with;
    /* A project sees an external network but may not use it: Neutron hides
     * it the way _validate_network_tenant_ownership does. */
    if (qj_is(ext, QJ_BOOL) && ext->u.b)
        return qerr_set(e, QE_NOT_FOUND, "The resource could not be found.");
    return qres_notfound(&qres_network, qj_get_str(net, "id"), e);
}

static const char *const qnet_types[] = {"local", "flat", "vlan", "nvgre", "ip_rewrite", NULL};

static const char *const qnet_provider_attrs[] = {
    "provider:network_type", "provider:physical_network", "provider:segmentation_id"};

/* multi-provider's segments: a list of provider attribute sets, each
 * converted as the network's own. qhv networks have one segment, which is
 * how Neutron presents a network of one: with the provider attributes. */
static int qnet_check_segments(qop *op, const qattr *a, qj **v, qerr *e)
{
    size_t n = qj_len(*v);
    for (size_t i = 0; i < n; i++) {
        qj *seg = qj_at(*v, i);
        if (!qj_is(seg, QJ_OBJECT))
            return qerr_set(e, QE_BAD_REQUEST, "Invalid input for segments. Reason: each "
                                               "segment must be a dictionary.");
        for (size_t k = 0; k < seg->u.obj.n; k++) {
            const char *key = seg->u.obj.m[k].key;
            bool known = false;
            for (size_t j = 0; j < QHV_ARRAY_SIZE(qnet_provider_attrs) && !known; j++)
                known = !strcmp(key, qnet_provider_attrs[j]);
            if (!known)
                return qerr_set(e, QE_BAD_REQUEST, "Unrecognized attribute(s) '%s'", key);
            if (qres_convert_attr(op, &qres_network, key, &seg->u.obj.m[k].val, e) < 0)
                return -1;
        }
    }
    if (n > 1)
        return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: qhv networks have "
                                             "one segment; %zu were requested.", n);
    return 0;
}

/* Neutron's _process_provider_create: segments or provider attributes. */
static int qnet_take_segments(qj *net, qerr *e)
{
    const qj *segs = qj_get(net, "segments");
    int rc = 0;
    if (qj_len(segs)) {
        const qj *seg = qj_at(segs, 0);
        for (size_t j = 0; j < QHV_ARRAY_SIZE(qnet_provider_attrs) && rc == 0; j++)
            if (!qj_is(qj_get(net, qnet_provider_attrs[j]), QJ_NULL))
                rc = qerr_set(e, QE_SEGMENTS_AND_PROVIDER, "Segments and provider values "
                                                           "cannot both be set.");
        if (rc == 0 && !qj_get_str(seg, "provider:network_type"))
            rc = qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: network_type "
                                               "required");
        for (size_t j = 0; j < QHV_ARRAY_SIZE(qnet_provider_attrs) && rc == 0; j++) {
            const qj *v = qj_get(seg, qnet_provider_attrs[j]);
            if (v)
                qj_set(net, qnet_provider_attrs[j], qj_clone(v));
        }
    }
    qj_remove(net, "segments");     /* never stored: the provider attributes say it */
    return rc;
}

static int qnet_on_create(qop *op, qj *net, qerr *e)
{
    if (qnet_take_segments(net, e) < 0)
        return -1;
    return qseg_allocate(op, net, e);
}

static int qnet_on_update(qop *op, const qj *old, qj *net, const qj *changes, qerr *e)
{
    const qj *mtu = qj_get(changes, "mtu");
    if (mtu) {
        int64_t max = qseg_max_mtu(op->m->conf, qj_get_str(net, "provider:network_type"));
        if (mtu->u.i > max)
            return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: Requested MTU is "
                                                 "too big, maximum is %lld", (long long)max);
    }
    return qrbac_network_updated(op, old, net, e);
}

static int qnet_on_delete(qop *op, const qj *net, qerr *e)
{
    const char *nid = qj_get_str(net, "id");
    qj *ports;
    if (qres_children(op, &qres_port, nid, &ports, e) < 0)
        return -1;
    qbuf inuse;
    qbuf_init(&inuse, 0);
    size_t n = 0;
    for (size_t i = 0; i < qj_len(ports); i++) {
        const char *owner = qj_get_str(qj_at(ports, i), "device_owner");
        if (!owner || strcmp(owner, QHV_DEVICE_OWNER_DHCP))
            qbuf_printf(&inuse, "%s%s", n++ ? "," : "", qj_get_str(qj_at(ports, i), "id"));
    }
    int rc = 0;
    if (n)
        rc = qerr_set(e, QE_NETWORK_IN_USE, "Unable to complete operation on network %s. There "
                                            "are one or more ports still in use on the network, "
                                            "id for these ports is: %s.", nid, inuse.data);
    /* Nothing in use: the DHCP ports, the subnets and the segment go. */
    for (size_t i = 0; rc == 0 && i < qj_len(ports); i++) {
        rc = qres_port.on_delete(op, qj_at(ports, i), e);
        if (rc == 0)
            rc = qres_delete_row(op, &qres_port, qj_get_str(qj_at(ports, i), "id"), e);
    }
    qbuf_free(&inuse);
    qj_free(ports);
    qj *subnets = NULL;
    if (rc == 0)
        rc = qres_children(op, &qres_subnet, nid, &subnets, e);
    for (size_t i = 0; rc == 0 && i < qj_len(subnets); i++)
        rc = qres_delete_row(op, &qres_subnet, qj_get_str(qj_at(subnets, i), "id"), e);
    qj_free(subnets);
    if (rc == 0)
        rc = qseg_release(op, nid, e);
    if (rc == 0)
        rc = qrbac_network_deleted(op, net, e);
    return rc;
}

static const qattr qnet_attrs[] = {
    QATTR_ID,
    QATTR_NAME,
    QATTR_PROJECT,
    {"admin_state_up", QA_BOOL, QA_POST | QA_PUT, "true", 0, 0, NULL, NULL, NULL},
    {"mtu", QA_INT, QA_POST | QA_PUT | QA_STRCONV, "0", 68, 65535, NULL, NULL, NULL},
    {"status", QA_STR, 0, "\"ACTIVE\"", 0, 0, NULL, NULL, NULL},
    {"subnets", QA_LIST, 0, "[]", 0, 0, NULL, NULL, NULL},
    {"shared", QA_BOOL, QA_POST | QA_PUT | QA_ADMIN_W, "false", 0, 0, NULL, NULL, NULL},
    {"port_security_enabled", QA_BOOL, QA_POST | QA_PUT, "true", 0, 0, NULL, NULL, NULL},
    {"router:external", QA_BOOL, QA_POST | QA_PUT | QA_ADMIN_W, "false", 0, 0, NULL, NULL, NULL},
    {"provider:network_type", QA_STR, QA_POST | QA_ADMIN_W | QA_ADMIN_R | QA_NULL, "null", 0, 0,
     qnet_types, NULL, NULL},
    {"provider:physical_network", QA_STR, QA_POST | QA_ADMIN_W | QA_ADMIN_R | QA_NULL, "null", 0,
     64, NULL, NULL, NULL},
    {"provider:segmentation_id", QA_INT,
     QA_POST | QA_ADMIN_W | QA_ADMIN_R | QA_NULL | QA_STRCONV, "null", 0, 0, NULL, NULL, NULL},
    {"segments", QA_LIST, QA_POST | QA_ADMIN_W | QA_ADMIN_R | QA_NOFILTER | QA_NOSORT, NULL, 0,
     0, NULL, qnet_check_segments, NULL},
    {"availability_zone_hints", QA_LIST, QA_POST | QA_NOFILTER | QA_NULL_EMPTY, "[]", 0, 0,
     NULL, qaz_check_hints, NULL},
    {"availability_zones", QA_LIST, QA_NOFILTER, NULL, 0, 0, NULL, NULL, NULL},
    QATTR_DESCRIPTION,
    QATTR_STD,
};

const qresource qres_network = {
    .name = "network",
    .collection = "networks",
    .label = "Network",
    .notfound = QE_NETWORK_NOT_FOUND,
    .attrs = qnet_attrs,
    .nattrs = QHV_ARRAY_SIZE(qnet_attrs),
    .initial_revision = 1,
    .has_tags = true,
    .core = true,
    /* Shared networks, and those a policy shows the caller (Neutron's
     * access_as_shared and external_net query hooks). */
    .shared_sql = "(json_extract(r.body, '$.shared') = 1 OR " QRBAC_NETWORK_VISIBLE_SQL ")",
    .on_create = qnet_on_create,
    .on_update = qnet_on_update,
    .on_delete = qnet_on_delete,
    .after_create = qrbac_network_created,
    .on_show = qrbac_shared_show,
    .sql_filters = qrbac_shared_sql_filters,
    .on_view = qaz_network_view,
};
