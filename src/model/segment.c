#include "model/segment.h"
#include "model/alloc.h"
#include "lib/util.h"
#include <string.h>

static const char qseg_sql_next[] =
    "SELECT seg_id FROM segments WHERE pool=?1 AND physnet=?2 AND seg_id>=?3 "
    "ORDER BY seg_id LIMIT 1";
static const char qseg_sql_insert[] =
    "INSERT INTO segments(pool, physnet, seg_id, network_id) VALUES(?1, ?2, ?3, ?4)";
static const char qseg_sql_delete[] = "DELETE FROM segments WHERE network_id=?1";

typedef struct qseg_scan {
    qop *op;
    const char *pool, *physnet;
    qerr *e;
} qseg_scan;

static int qseg_next_taken(void *ctx, qhv_u128 from, qhv_u128 *ret)
{
    qseg_scan *s = ctx;
    qstmt *st = qstore_stmt(s->op->m->store, qseg_sql_next, s->e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, s->pool, -1, QSTORE_STATIC);
    qstmt_bind_text(st, 2, s->physnet, -1, QSTORE_TRANSIENT);
    qstmt_bind_int64(st, 3, (int64_t)from);
    int rc = qstmt_step(st);
    if (rc == QSTORE_ROW)
        *ret = (qhv_u128)qstmt_column_int64(st, 0);
    qstmt_reset(st);
    if (rc == QSTORE_ROW)
        return 1;
    return rc == QSTORE_DONE ? 0 : qstore_fail(s->op->m->store, s->e, "segment scan");
}

/* Inserts the segment row; 0, 1 if already taken, -1 on error. */
static int qseg_take(qop *op, const char *pool, const char *physnet, int64_t id,
                     const char *network_id, qerr *e)
{
    qseg_scan s = {op, pool, physnet, e};
    qhv_u128 t;
    int rc = qseg_next_taken(&s, (qhv_u128)id, &t);
    if (rc < 0)
        return -1;
    if (rc == 1 && t == (qhv_u128)id)
        return 1;
    qstmt *st = qstore_stmt(op->m->store, qseg_sql_insert, e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, pool, -1, QSTORE_STATIC);
    qstmt_bind_text(st, 2, physnet, -1, QSTORE_TRANSIENT);
    qstmt_bind_int64(st, 3, id);
    qstmt_bind_text(st, 4, network_id, -1, QSTORE_TRANSIENT);
    rc = qstmt_step(st);
    qstmt_reset(st);
    return rc == QSTORE_DONE ? 0 : qstore_fail(op->m->store, e, "segment insert");
}

static const char *qseg_pool(const char *type)
{
    if (!strcmp(type, "nvgre") || !strcmp(type, "ip_rewrite"))
        return "vsid";     /* one VSID space: Hyper-V cannot tell them apart on a host */
    return type;
}

/* Picks a free id for type from the configured ranges. 1 found, 0 none, -1 error. */
static int qseg_pick(qop *op, const char *type, const char *want_physnet, char *physnet_out,
                     int64_t *id_out, qerr *e)
{
    const qconf *c = op->m->conf;
    qrange ranges[64];
    if (!strcmp(type, "vlan")) {
        for (size_t i = 0; i < c->n_vlan_ranges; i++) {
            const qvlan_range *v = &c->vlan_ranges[i];
            if (!v->min || (want_physnet && strcmp(want_physnet, v->physnet)))
                continue;
            ranges[0] = (qrange){(qhv_u128)v->min, (qhv_u128)v->max};
            qseg_scan s = {op, "vlan", v->physnet, e};
            qhv_u128 got;
            int rc = qalloc_pick(ranges, 1, qseg_next_taken, &s, &got);
            if (rc < 0)
                return -1;
            if (rc == 1) {
                snprintf(physnet_out, 65, "%s", v->physnet);
                *id_out = (int64_t)got;
                return 1;
            }
        }
        return 0;
    }
    for (size_t i = 0; i < c->n_vsid; i++)
        ranges[i] = (qrange){(qhv_u128)c->vsid[i].min, (qhv_u128)c->vsid[i].max};
    qseg_scan s = {op, "vsid", "", e};
    qhv_u128 got;
    int rc = qalloc_pick(ranges, c->n_vsid, qseg_next_taken, &s, &got);
    if (rc == 1) {
        physnet_out[0] = '\0';
        *id_out = (int64_t)got;
    }
    return rc;
}

int64_t qseg_max_mtu(const qconf *c, const char *type)
{
    if (type && !strcmp(type, "nvgre"))
        return c->global_physnet_mtu - QSEG_NVGRE_OVERHEAD;
    return c->global_physnet_mtu;
}

static int qseg_invalid(qerr *e, const char *msg)
{
    return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: %s", msg);
}

/* Admin-chosen segment: validate, then take it. */
static int qseg_provider(qop *op, const char *type, const char *physnet, const qj *segv,
                         const char *nid, char *phys_out, int64_t *id_out, qerr *e)
{
    const qconf *c = op->m->conf;
    char msg[512];
    bool has_seg = segv && !qj_is(segv, QJ_NULL);
    int64_t seg = has_seg ? segv->u.i : 0;
    if (!qconf_type_enabled(c, type)) {
        snprintf(msg, sizeof msg, "network_type value '%s' not supported.", type);
        return qseg_invalid(e, msg);
    }
    *id_out = -1;
    phys_out[0] = '\0';
    if (!strcmp(type, "local")) {
        if (physnet)
            return qseg_invalid(e, "physical_network prohibited for local provider network.");
        if (has_seg)
            return qseg_invalid(e, "segmentation_id prohibited for local provider network.");
        return 0;
    }
    if (!strcmp(type, "flat")) {
        if (!physnet)
            return qseg_invalid(e, "physical_network required for flat provider network.");
        if (has_seg)
            return qseg_invalid(e, "segmentation_id prohibited for flat provider network.");
        if (!qconf_flat_allowed(c, physnet)) {
            snprintf(msg, sizeof msg, "physical_network '%s' unknown for flat provider network.",
                     physnet);
            return qseg_invalid(e, msg);
        }
        snprintf(phys_out, 65, "%s", physnet);
        int rc = qseg_take(op, "flat", physnet, 0, nid, e);
        if (rc == 1)
            return qerr_set(e, QE_FLAT_IN_USE, "Unable to create the flat network. Physical "
                                               "network %s is in use.", physnet);
        return rc;
    }
    if (!strcmp(type, "vlan")) {
        if (physnet && !qconf_vlan_physnet_known(c, physnet)) {
            snprintf(msg, sizeof msg, "physical_network '%s' unknown for VLAN provider network.",
                     physnet);
            return qseg_invalid(e, msg);
        }
        if (has_seg && (seg < 1 || seg > 4094))
            return qseg_invalid(e, "segmentation_id out of range (1 through 4094).");
        if (!physnet && has_seg)
            return qseg_invalid(e, "segmentation_id requires physical_network for VLAN provider "
                                   "network.");
        if (!has_seg) {
            int rc = qseg_pick(op, "vlan", physnet, phys_out, id_out, e);
            if (rc < 0)
                return -1;
            if (rc == 0)
                return qerr_set(e, QE_NO_NETWORK_AVAILABLE, "Unable to create the network. No "
                                                            "tenant network is available for "
                                                            "allocation.");
            return qseg_take(op, "vlan", phys_out, *id_out, nid, e) == 0 ? 0 : -1;
        }
        snprintf(phys_out, 65, "%s", physnet);
        *id_out = seg;
        int rc = qseg_take(op, "vlan", physnet, seg, nid, e);
        if (rc == 1)
            return qerr_set(e, QE_VLAN_IN_USE, "Unable to create the network. The VLAN %lld on "
                                               "physical network %s is in use.",
                            (long long)seg, physnet);
        return rc;
    }
    /* nvgre / ip_rewrite */
    if (physnet) {
        snprintf(msg, sizeof msg, "provider:physical_network specified for %s network", type);
        return qseg_invalid(e, msg);
    }
    if (has_seg && (seg < 4096 || seg > 16777214))
        return qseg_invalid(e, "segmentation_id out of range (4096 through 16777214).");
    if (!has_seg) {
        int rc = qseg_pick(op, type, NULL, phys_out, id_out, e);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return qerr_set(e, QE_NO_NETWORK_AVAILABLE, "Unable to create the network. No tenant "
                                                        "network is available for allocation.");
        return qseg_take(op, "vsid", "", *id_out, nid, e) == 0 ? 0 : -1;
    }
    *id_out = seg;
    int rc = qseg_take(op, "vsid", "", seg, nid, e);
    if (rc == 1)
        return qerr_set(e, QE_TUNNEL_IN_USE, "Unable to create the network. The tunnel ID %lld "
                                             "is in use.", (long long)seg);
    return rc;
}

int qseg_allocate(qop *op, qj *net, qerr *e)
{
    const qconf *c = op->m->conf;
    const char *nid = qj_get_str(net, "id");
    const char *type = qj_get_str(net, "provider:network_type");
    const char *physnet = qj_get_str(net, "provider:physical_network");
    const qj *segv = qj_get(net, "provider:segmentation_id");
    bool given = type || physnet || (segv && !qj_is(segv, QJ_NULL));
    char phys[65] = "";
    int64_t id = -1;
    const char *chosen = NULL;
    if (given) {
        if (!type)
            return qseg_invalid(e, "network_type required");
        if (qseg_provider(op, type, physnet, segv, nid, phys, &id, e) < 0)
            return -1;
        chosen = type;
    } else {
        for (size_t i = 0; i < c->n_tenant_types && !chosen; i++) {
            const char *t = c->tenant_types[i];
            if (!strcmp(t, "local")) {
                chosen = t;
                break;
            }
            int rc = qseg_pick(op, t, NULL, phys, &id, e);
            if (rc < 0)
                return -1;
            if (rc == 1) {
                if (qseg_take(op, qseg_pool(t), phys, id, nid, e) != 0)
                    return -1;
                chosen = t;
            }
        }
        if (!chosen)
            return qerr_set(e, QE_NO_NETWORK_AVAILABLE, "Unable to create the network. No "
                                                        "tenant network is available for "
                                                        "allocation.");
    }
    char type_buf[16];
    snprintf(type_buf, sizeof type_buf, "%s", chosen);   /* chosen may point into net */
    chosen = type_buf;
    qj_set(net, "provider:network_type", qj_str(chosen));
    qj_set(net, "provider:physical_network", phys[0] ? qj_str(phys) : qj_null());
    qj_set(net, "provider:segmentation_id", id >= 0 ? qj_int(id) : qj_null());
    int64_t max = qseg_max_mtu(c, chosen);
    qj *mtu = qj_get(net, "mtu");
    if (!mtu || mtu->u.i == 0) {
        qj_set(net, "mtu", qj_int(max));
    } else if (mtu->u.i > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "Requested MTU is too big, maximum is %lld", (long long)max);
        return qseg_invalid(e, msg);
    }
    return 0;
}

int qseg_release(qop *op, const char *network_id, qerr *e)
{
    return qstore_run(op->m->store, qseg_sql_delete, network_id, NULL, NULL, e);
}
