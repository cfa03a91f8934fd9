#include "vswitch/hyperv/hyperv.h"
#include "vswitch/hyperv/hv_acl.h"
#include "vswitch/hyperv/hv_file.h"
#include "vswitch/hyperv/hv_job.h"
#include "vswitch/hyperv/hv_wnv.h"
#include "vswitch/hyperv/wmi.h"
#include "vswitch/hyperv/wmi_model.h"
#include "lib/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define C_SWITCH "Msvm_VirtualEthernetSwitch"
#define C_NIC "Msvm_SyntheticEthernetPortSettingData"
#define C_ALLOC "Msvm_EthernetPortAllocationSettingData"
#define C_VLAN "Msvm_EthernetSwitchPortVlanSettingData"
#define C_SEC "Msvm_EthernetSwitchPortSecuritySettingData"
#define C_VSMS "Msvm_VirtualSystemManagementService"
#define MARK "qhv"                      /* ElementName of qhv's feature settings */
#define RESCAN_US 2000000u              /* look at Hyper-V every 2 s (as WITHIN 2) */

enum { V_SW, V_NIC, V_ALLOC, V_VLAN, V_SEC, V_ACL, V_LR, V_CR, V_PA, V_PR, V_N };

struct qvs {
    qwmi_transport t;
    bool own_transport;
    char *state_file;           /* NULL: intents in memory only */
    qvs_map *intent;            /* id → the value qhv asked for */
    char version[32];
    int major, minor;
    long build;
    bool extended;              /* extended ACLs (6.3+) */
    bool wnv;                   /* HNV v1 present (build < 17763) */
    bool has_type;              /* lookup record Type (6.3+) */
    char *pa_addr, *pa_next_hop;
    qhyv_pa_conf pa;
    int job_wait_ms;
    char *vsms;                 /* the management service's path */
    qvs_map *pending;           /* port id → a job still running */
    uint64_t last_look_us;
    struct hv_view *cache;      /* the last dump's view, for the operate that
                                 * follows it (none of qhv's writes since) */
};

#define CACHE_US 2000000u       /* a dump's view serves an operate this long */

/* ---------- small helpers ---------- */

static void hv_result(qvs_op *op, int error, const char *why)
{
    op->error = error;
    snprintf(op->why, sizeof op->why, "%s", why ? why : "");
}

static int64_t hv_int(const qj *o, const char *k, int64_t def)
{
    const qj *v = qj_get(o, k);
    return qj_is(v, QJ_INT) ? v->u.i : def;
}

static bool hv_bool(const qj *o, const char *k)
{
    const qj *v = qj_get(o, k);
    return qj_is(v, QJ_BOOL) && v->u.b;
}

static bool hv_streq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

/* Every member of want (but __CLASS and __PATH) equal in have. */
static bool hv_props_match(const qj *want, const qj *have)
{
    if (!want || !have)
        return false;
    for (size_t i = 0; i < want->u.obj.n; i++) {
        const char *k = want->u.obj.m[i].key;
        if (!strcmp(k, "__CLASS") || !strcmp(k, "__PATH"))
            continue;
        if (!qj_equal(want->u.obj.m[i].val, qj_get(have, k)))
            return false;
    }
    return true;
}

static qj *hv_idx(size_t i) { return qj_int((int64_t)i); }

static const qj *hv_row(const qj *rows, const qvs_map *m, const char *key)
{
    const qj *i = key ? qvs_map_get(m, key) : NULL;
    return qj_is(i, QJ_INT) ? qj_at(rows, (size_t)i->u.i) : NULL;
}

/* ---------- intents ---------- */

static void hv_intent_load(qvs *vs)
{
    vs->intent = qvs_map_new();
    size_t len;
    char *text = vs->state_file ? qhyv_read_file(vs->state_file, &len) : NULL;
    qj *o = text ? qj_parse(text, len, NULL, NULL) : NULL;
    free(text);
    if (qj_is(o, QJ_OBJECT)) {
        qvs_map_free(vs->intent);
        vs->intent = qvs_map_from_object(o);
    }
    qj_free(o);
}

static void hv_intent_save(qvs *vs)
{
    if (!vs->state_file)
        return;
    qj *o = qvs_map_to_object(vs->intent);
    char *text = qj_to_string(o);
    qj_free(o);
    qhyv_write_file(vs->state_file, text);
    free(text);
}

/* address_set/<key> intents as key → value (clones). */
static qvs_map *hv_sets(const qvs_map *intent)
{
    qvs_map *m = qvs_map_new();
    const char *k;
    qj *v;
    for (size_t i = 0; i < qvs_map_end(intent); i++)
        if (qvs_map_at(intent, i, &k, &v) && !strncmp(k, "address_set/", 12))
            qvs_map_put(m, k + 12, qj_clone(v));
    return m;
}

/* ---------- what Hyper-V holds ---------- */

typedef struct hv_view hv_view;
struct hv_view {
    qj *rows[V_N];
    qvs_map *sw;        /* switch name → index */
    qvs_map *nic;       /* port id → index */
    qvs_map *alloc;     /* NIC path → index */
    qvs_map *feat;      /* allocation InstanceID → {"vlan": i, "sec": i, "acl": [i...]} */
    qvs_map *lr;        /* "<vsid>/<ca>/<MAC12>" → index */
    qvs_map *cr;        /* "<vsid>/<prefix>" → index */
    qvs_map *pa;        /* address → index */
    qvs_map *pr;        /* "<ifindex>/<prefix>" → index */
    uint64_t loaded_us;
};

static void hv_view_free(hv_view *v)
{
    for (int i = 0; i < V_N; i++)
        qj_free(v->rows[i]);
    qvs_map_free(v->sw);
    qvs_map_free(v->nic);
    qvs_map_free(v->alloc);
    qvs_map_free(v->feat);
    qvs_map_free(v->lr);
    qvs_map_free(v->cr);
    qvs_map_free(v->pa);
    qvs_map_free(v->pr);
    memset(v, 0, sizeof *v);
}

static const char *hv_class(const qvs *vs, int k)
{
    static const char *const names[V_N] = {C_SWITCH, C_NIC, C_ALLOC, C_VLAN, C_SEC, NULL,
                                           QHYV_LR_CLASS, QHYV_CR_CLASS, QHYV_PA_CLASS,
                                           QHYV_PR_CLASS};
    if (k == V_ACL)
        return vs->extended ? QHYV_XACL_CLASS : QHYV_ACL_CLASS;
    return names[k];
}

/* The allocation a feature belongs to: the longest prefix of its InstanceID
 * ending before a '\' that is an allocation's InstanceID (os-win finds a
 * port's features by InstanceID LIKE '<allocation>%'). */
static qj *hv_feat_slot(hv_view *v, const char *iid)
{
    if (!iid)
        return NULL;
    char *copy = xstrdup(iid);
    qj *slot = NULL;
    for (char *p = strrchr(copy, '\\'); p && !slot; p = strrchr(copy, '\\')) {
        *p = '\0';
        slot = qvs_map_get(v->feat, copy);
    }
    free(copy);
    return slot;
}

static int hv_view_load(qvs *vs, hv_view *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    v->loaded_us = qhv_now_us();
    v->sw = qvs_map_new();
    v->nic = qvs_map_new();
    v->alloc = qvs_map_new();
    v->feat = qvs_map_new();
    v->lr = qvs_map_new();
    v->cr = qvs_map_new();
    v->pa = qvs_map_new();
    v->pr = qvs_map_new();
    for (int k = 0; k < V_N; k++) {
        bool wnv = k >= V_LR;
        if (wnv && !vs->wnv) {
            v->rows[k] = qj_array();
            continue;
        }
        char *wql = xasprintf("SELECT * FROM %s", hv_class(vs, k));
        char e[256] = "";
        int rc = vs->t.cls->query(vs->t.w, wnv ? QWMI_NS_CIMV2 : QWMI_NS_VIRT, wql, &v->rows[k], e,
                                  sizeof e);
        free(wql);
        if (rc < 0) {
            snprintf(err, errlen, "enumerating %s: %s", hv_class(vs, k), e);
            return -1;
        }
    }
    for (size_t i = 0; i < qj_len(v->rows[V_SW]); i++) {
        const char *n = qj_get_str(qj_at(v->rows[V_SW], i), "ElementName");
        if (n)
            qvs_map_put(v->sw, n, hv_idx(i));
    }
    for (size_t i = 0; i < qj_len(v->rows[V_NIC]); i++) {
        /* A VM NIC is qhv's to wire when its name is a port id. */
        const char *n = qj_get_str(qj_at(v->rows[V_NIC], i), "ElementName");
        if (n && qhv_is_uuid(n))
            qvs_map_put(v->nic, n, hv_idx(i));
    }
    for (size_t i = 0; i < qj_len(v->rows[V_ALLOC]); i++) {
        const qj *a = qj_at(v->rows[V_ALLOC], i);
        const char *p = qj_get_str(a, "Parent"), *iid = qj_get_str(a, "InstanceID");
        if (p)
            qvs_map_put(v->alloc, p, hv_idx(i));
        if (iid)
            qvs_map_put(v->feat, iid, qj_object());
    }
    static const int fk[] = {V_VLAN, V_SEC, V_ACL};
    static const char *const fname[] = {"vlan", "sec", "acl"};
    for (int f = 0; f < 3; f++) {
        for (size_t i = 0; i < qj_len(v->rows[fk[f]]); i++) {
            qj *slot = hv_feat_slot(v, qj_get_str(qj_at(v->rows[fk[f]], i), "InstanceID"));
            if (!slot)
                continue;
            if (f < 2) {
                qj_set(slot, fname[f], hv_idx(i));
            } else {
                if (!qj_get(slot, "acl"))
                    qj_set(slot, "acl", qj_array());
                qj_append(qj_get(slot, "acl"), hv_idx(i));
            }
        }
    }
    char key[512];
    for (size_t i = 0; i < qj_len(v->rows[V_LR]); i++) {
        const qj *r = qj_at(v->rows[V_LR], i);
        snprintf(key, sizeof key, "%lld/%s/%s", (long long)hv_int(r, "VirtualSubnetID", 0),
                 qj_get_str(r, "CustomerAddress") ? qj_get_str(r, "CustomerAddress") : "",
                 qj_get_str(r, "MACAddress") ? qj_get_str(r, "MACAddress") : "");
        qvs_map_put(v->lr, key, hv_idx(i));
    }
    for (size_t i = 0; i < qj_len(v->rows[V_CR]); i++) {
        const qj *r = qj_at(v->rows[V_CR], i);
        snprintf(key, sizeof key, "%lld/%s", (long long)hv_int(r, "VirtualSubnetID", 0),
                 qj_get_str(r, "DestinationPrefix") ? qj_get_str(r, "DestinationPrefix") : "");
        qvs_map_put(v->cr, key, hv_idx(i));
    }
    for (size_t i = 0; i < qj_len(v->rows[V_PA]); i++) {
        const char *a = qj_get_str(qj_at(v->rows[V_PA], i), "ProviderAddress");
        if (a)
            qvs_map_put(v->pa, a, hv_idx(i));
    }
    for (size_t i = 0; i < qj_len(v->rows[V_PR]); i++) {
        const qj *r = qj_at(v->rows[V_PR], i);
        snprintf(key, sizeof key, "%lld/%s", (long long)hv_int(r, "InterfaceIndex", 0),
                 qj_get_str(r, "DestinationPrefix") ? qj_get_str(r, "DestinationPrefix") : "");
        qvs_map_put(v->pr, key, hv_idx(i));
    }
    return 0;
}

static void hv_view_drop_cache(qvs *vs)
{
    if (vs->cache)
        hv_view_free(vs->cache);
    free(vs->cache);
    vs->cache = NULL;
}

/* A port's state in the view. */
typedef struct hv_pf {
    const qj *nic, *alloc, *vlan, *sec;
    const char *foreign;        /* why the port is someone else's, or NULL */
    qj *acl[3];                 /* qhv's entries by Direction (1, 2): borrowed rows */
    qvs_map *taken[3];          /* weights of everyone's entries by Direction */
} hv_pf;

static void hv_pf_free(hv_pf *pf)
{
    for (int d = 1; d < 3; d++) {
        /* The arrays hold borrowed rows: detach before freeing. */
        if (pf->acl[d])
            pf->acl[d]->u.arr.n = 0;
        qj_free(pf->acl[d]);
        qvs_map_free(pf->taken[d]);
    }
    memset(pf, 0, sizeof *pf);
}

static void hv_pf_get(const hv_view *v, const char *port, hv_pf *pf)
{
    memset(pf, 0, sizeof *pf);
    for (int d = 1; d < 3; d++) {
        pf->acl[d] = qj_array();
        pf->taken[d] = qvs_map_new();
    }
    pf->nic = hv_row(v->rows[V_NIC], v->nic, port);
    if (!pf->nic)
        return;
    pf->alloc = hv_row(v->rows[V_ALLOC], v->alloc, qj_get_str(pf->nic, "__PATH"));
    if (!pf->alloc)
        return;
    if (!hv_streq(qj_get_str(pf->alloc, "ElementName"), port))
        pf->foreign = "its switch port was connected by someone else";
    const qj *slot = qvs_map_get(v->feat, qj_get_str(pf->alloc, "InstanceID"));
    const qj *vi = qj_get(slot, "vlan"), *si = qj_get(slot, "sec"), *ai = qj_get(slot, "acl");
    if (vi)
        pf->vlan = qj_at(v->rows[V_VLAN], (size_t)vi->u.i);
    if (si)
        pf->sec = qj_at(v->rows[V_SEC], (size_t)si->u.i);
    if (pf->vlan && !hv_streq(qj_get_str(pf->vlan, "ElementName"), MARK))
        pf->foreign = "its VLAN setting is someone else's";
    if (pf->sec && !hv_streq(qj_get_str(pf->sec, "ElementName"), MARK))
        pf->foreign = "its security setting (VSID, guards) is someone else's";
    for (size_t i = 0; i < qj_len(ai); i++) {
        qj *e = qj_at(v->rows[V_ACL], (size_t)qj_at(ai, i)->u.i);
        int64_t d = hv_int(e, "Direction", 0);
        if (d != 1 && d != 2)
            continue;
        char w[16];
        snprintf(w, sizeof w, "%lld", (long long)hv_int(e, "Weight", -1));
        qvs_map_put(pf->taken[d], w, qj_null());
        if (hv_streq(qj_get_str(e, "ElementName"), MARK))
            qj_append(pf->acl[d], e);   /* borrowed: see hv_pf_free */
    }
}

/* ---------- port/ ---------- */

static qj *hv_want_vlan(const qj *port)
{
    const qj *vlan = qj_get(port, "vlan");
    if (!qj_is(vlan, QJ_INT))
        return NULL;
    qj *f = qj_object();
    qj_set(f, "__CLASS", qj_str(C_VLAN));
    qj_set(f, "ElementName", qj_str(MARK));
    qj_set(f, "OperationMode", qj_int(1));
    qj_set(f, "AccessVlanId", qj_int(vlan->u.i));
    return f;
}

static qj *hv_want_sec(const qj *port)
{
    qj *f = qj_object();
    qj_set(f, "__CLASS", qj_str(C_SEC));
    qj_set(f, "ElementName", qj_str(MARK));
    qj_set(f, "AllowMacSpoofing", qj_bool(hv_bool(port, "mac_spoofing")));
    qj_set(f, "EnableDhcpGuard", qj_bool(hv_bool(port, "dhcp_guard")));
    qj_set(f, "EnableRouterGuard", qj_bool(hv_bool(port, "router_guard")));
    qj_set(f, "VirtualSubnetId", qj_int(hv_int(port, "vsid", 0)));
    return f;
}

static bool hv_is_nvgre(const qj *port) { return hv_streq(qj_get_str(port, "network_type"), "nvgre"); }

static qj *hv_want_l2only(const qvs *vs, const char *id, const qj *port)
{
    return qhyv_wnv_l2only(hv_int(port, "vsid", 0), qj_get_str(port, "mac_address"), vs->pa_addr,
                           id, vs->has_type);
}

static const qj *hv_lr_of(const hv_view *v, const qj *want)
{
    char key[512];
    snprintf(key, sizeof key, "%lld/%s/%s", (long long)hv_int(want, "VirtualSubnetID", 0),
             qj_get_str(want, "CustomerAddress"), qj_get_str(want, "MACAddress"));
    return hv_row(v->rows[V_LR], v->lr, key);
}

static bool hv_port_ok(const qvs *vs, const hv_view *v, const hv_pf *pf, const char *id,
                       const qj *port)
{
    if (!pf->alloc || pf->foreign)
        return false;
    const qj *sw = hv_row(v->rows[V_SW], v->sw, qj_get_str(port, "vswitch"));
    if (!sw || !hv_streq(qj_as_str(qj_at(qj_get(pf->alloc, "HostResource"), 0)),
                         qj_get_str(sw, "__PATH")))
        return false;
    bool up = !qj_is(qj_get(port, "admin_state_up"), QJ_BOOL) || hv_bool(port, "admin_state_up");
    if (hv_int(pf->alloc, "EnabledState", 2) != (up ? 2 : 3))
        return false;
    qj *wv = hv_want_vlan(port), *ws = hv_want_sec(port);
    bool ok = (wv ? hv_props_match(wv, pf->vlan) : !pf->vlan) && hv_props_match(ws, pf->sec);
    qj_free(wv);
    qj_free(ws);
    if (ok && hv_is_nvgre(port)) {
        qj *l2 = hv_want_l2only(vs, id, port);
        ok = l2 && hv_props_match(l2, hv_lr_of(v, l2));
        qj_free(l2);
    }
    return ok;
}

/* ---------- acl/ ---------- */

static int hv_dir(const char *id)
{
    size_t l = strlen(id);
    return l > 7 && !strcmp(id + l - 7, "/egress") ? 2 : 1;
}

/* The port id of a port/ or acl/ id, in buf. */
static const char *hv_port_of(const char *id, char *buf, size_t n)
{
    const char *k = strchr(id, '/') + 1, *slash = strchr(k, '/');
    snprintf(buf, n, "%.*s", slash ? (int)(slash - k) : (int)strlen(k), k);
    return buf;
}

static bool hv_acl_ok(const qvs *vs, const hv_pf *pf, int dir, const qj *acl, const qvs_map *sets)
{
    if (!pf->alloc || pf->foreign)
        return false;
    char problem[256];
    qj *want = qhyv_acl_entries(acl, sets, vs->extended, problem, sizeof problem);
    bool ok = qj_len(want) == qj_len(pf->acl[dir]);
    qvs_map *have = qvs_map_new();
    for (size_t i = 0; ok && i < qj_len(pf->acl[dir]); i++) {
        char *id = qhyv_acl_identity(qj_at(pf->acl[dir], i));
        qvs_map_put(have, id, qj_null());
        free(id);
    }
    for (size_t i = 0; ok && i < qj_len(want); i++) {
        char *id = qhyv_acl_identity(qj_at(want, i));
        ok = qvs_map_get(have, id) != NULL;
        free(id);
    }
    qvs_map_free(have);
    qj_free(want);
    return ok;
}

/* ---------- NetWNV objects ---------- */

static qj *hv_wnv_want(const qvs *vs, const char *id, const qj *value)
{
    if (!strncmp(id, "lookup_record/", 14))
        return qhyv_wnv_lookup(value, vs->has_type);
    if (!strncmp(id, "customer_route/", 15))
        return qhyv_wnv_route(value);
    if (!strncmp(id, "provider_address/", 17) && qj_get_str(value, "address")) {
        /* This host's PA, or one of its IP-rewrite PAs (one per customer
         * address): all on the provider interface. */
        qhyv_pa_conf c = vs->pa;
        c.address = qj_get_str(value, "address");
        return qhyv_wnv_pa(&c);
    }
    return NULL;
}

static const qj *hv_wnv_have(const hv_view *v, const char *id, const qj *want)
{
    char key[512];
    if (!strncmp(id, "lookup_record/", 14))
        return hv_lr_of(v, want);
    if (!strncmp(id, "customer_route/", 15)) {
        snprintf(key, sizeof key, "%lld/%s", (long long)hv_int(want, "VirtualSubnetID", 0),
                 qj_get_str(want, "DestinationPrefix"));
        return hv_row(v->rows[V_CR], v->cr, key);
    }
    return hv_row(v->rows[V_PA], v->pa, qj_get_str(want, "ProviderAddress"));
}

static bool hv_wnv_ours(const qvs *vs, const char *id, const qj *have)
{
    if (!strncmp(id, "lookup_record/", 14))
        return hv_streq(qj_get_str(have, "Context"), QHYV_CONTEXT);
    if (!strncmp(id, "customer_route/", 15))
        return hv_streq(qj_get_str(have, "CustomerID"), QHYV_CUSTOMER_ID);
    /* The provider interface is delegated to qhv ([hyperv]
     * provider_interface_index): its PAs are qhv's, others are foreign. */
    return hv_int(have, "InterfaceIndex", -1) == vs->pa.ifindex;
}

static const qj *hv_provider_route(const qvs *vs, const hv_view *v)
{
    qj *want = qhyv_wnv_provider_route(&vs->pa);
    char key[512];
    snprintf(key, sizeof key, "%lld/%s", (long long)vs->pa.ifindex,
             want ? qj_get_str(want, "DestinationPrefix") : "");
    const qj *have = want ? hv_row(v->rows[V_PR], v->pr, key) : NULL;
    qj_free(want);
    return have;
}

static bool hv_wnv_ok(const qvs *vs, const hv_view *v, const char *id, const qj *value)
{
    qj *want = hv_wnv_want(vs, id, value);
    const qj *have = want ? hv_wnv_have(v, id, want) : NULL;
    bool ok = have && hv_wnv_ours(vs, id, have) && hv_props_match(want, have);
    qj_free(want);
    if (ok && !strncmp(id, "provider_address/", 17) && vs->pa_next_hop && *vs->pa_next_hop) {
        qj *pr = qhyv_wnv_provider_route(&vs->pa);
        ok = hv_props_match(pr, hv_provider_route(vs, v));
        qj_free(pr);
    }
    return ok;
}

/* ---------- dump ---------- */

static qj *hv_orphan(void)
{
    qj *o = qj_object();
    qj_set(o, "orphan", qj_bool(true));
    return o;
}

static void hv_put_orphan(qvs *vs, qvs_observed *ret, const char *id)
{
    if (!qvs_map_get(vs->intent, id) && !qvs_map_get(ret->objects, id))
        qvs_map_put(ret->objects, id, hv_orphan());
}

static int hv_dump(qvs *vs, qvs_observed *ret, char *err, size_t errlen)
{
    qvs_observed_init(ret);
    vs->last_look_us = qhv_now_us();
    hv_view v;
    if (hv_view_load(vs, &v, err, errlen) < 0) {
        hv_view_free(&v);
        return -1;
    }
    qvs_map *sets = hv_sets(vs->intent);
    qvs_map *pfs = qvs_map_new();   /* port id → index into pf */
    hv_pf *pf = xcalloc(qvs_map_size(v.nic) + 1, sizeof *pf);
    size_t npf = 0;
    const char *key;
    qj *val;
    char id[512];
    for (size_t i = 0; i < qvs_map_end(v.nic); i++) {
        if (!qvs_map_at(v.nic, i, &key, &val))
            continue;
        const qj *nic = qj_at(v.rows[V_NIC], (size_t)val->u.i);
        const char *iid = qj_get_str(nic, "InstanceID");
        const char *bs = iid ? strchr(iid, '\\') : NULL;
        qj *d = qj_object();
        qj_set(d, "mac", qj_clone(qj_get(nic, "Address")));
        if (iid && !strncmp(iid, "Microsoft:", 10) && bs)
            qj_set(d, "vm_id", qj_strn(iid + 10, (size_t)(bs - iid - 10)));
        qvs_map_put(ret->nics, key, d);
        hv_pf_get(&v, key, &pf[npf]);
        if (pf[npf].foreign) {
            qj *f = qj_object();
            qj_set(f, "why", qj_str(pf[npf].foreign));
            snprintf(id, sizeof id, "port/%s", key);
            qvs_map_put(ret->foreign, id, f);
        }
        qvs_map_put(pfs, key, hv_idx(npf++));
    }
    for (size_t i = 0; i < qvs_map_end(vs->intent); i++) {
        if (!qvs_map_at(vs->intent, i, &key, &val))
            continue;
        bool ok = false;
        if (!strncmp(key, "port/", 5) || !strncmp(key, "acl/", 4)) {
            char port[256];
            const qj *pi = qvs_map_get(pfs, hv_port_of(key, port, sizeof port));
            if (pi && key[0] == 'p')
                ok = hv_port_ok(vs, &v, &pf[pi->u.i], port, val);
            else if (pi)
                ok = hv_acl_ok(vs, &pf[pi->u.i], hv_dir(key), val, sets);
        } else if (!strncmp(key, "address_set/", 12)) {
            ok = true;  /* in force through the acl/ objects that name it */
        } else {
            ok = vs->wnv && hv_wnv_ok(vs, &v, key, val);
        }
        if (ok)
            qvs_map_put(ret->objects, key, qj_clone(val));
    }
    /* qhv's marks without an intent: orphans, for the agent to delete or
     * rewrite. Foreign NetWNV objects under ids qhv might want. */
    for (size_t i = 0; i < qvs_map_end(pfs); i++) {
        if (!qvs_map_at(pfs, i, &key, &val))
            continue;
        const hv_pf *p = &pf[val->u.i];
        if (p->foreign || !p->alloc)
            continue;
        snprintf(id, sizeof id, "port/%s", key);
        hv_put_orphan(vs, ret, id);
        for (int d = 1; d < 3; d++) {
            snprintf(id, sizeof id, "acl/%s/%s", key, d == 1 ? "ingress" : "egress");
            if (qj_len(p->acl[d]))
                hv_put_orphan(vs, ret, id);
        }
    }
    for (size_t i = 0; i < qj_len(v.rows[V_LR]); i++) {
        const qj *r = qj_at(v.rows[V_LR], i);
        bool ours = hv_streq(qj_get_str(r, "Context"), QHYV_CONTEXT);
        const char *ca = qj_get_str(r, "CustomerAddress");
        if (hv_streq(ca, "0.0.0.0") || hv_streq(ca, "::")) {
            /* An L2Only record belongs to its port (VMName), also once the
             * NIC is gone (the record is then deleted with the port). */
            const char *port = qj_get_str(r, "VMName");
            snprintf(id, sizeof id, "port/%s", port ? port : "");
            if (!ours || !port || (qvs_map_get(pfs, port) && pf[qvs_map_get(pfs, port)->u.i].foreign))
                continue;
            if (!qvs_map_get(v.nic, port))
                qvs_map_put(ret->objects, id, hv_orphan());
            else
                hv_put_orphan(vs, ret, id);
            continue;
        }
        char *mac = qhyv_mac_colon(qj_get_str(r, "MACAddress"));
        snprintf(id, sizeof id, "lookup_record/%lld/%s/%s",
                 (long long)hv_int(r, "VirtualSubnetID", 0), ca ? ca : "", mac);
        free(mac);
        if (ours)
            hv_put_orphan(vs, ret, id);
        else
            qvs_map_put(ret->foreign, id, qj_clone(r));
    }
    for (size_t i = 0; i < qj_len(v.rows[V_CR]); i++) {
        const qj *r = qj_at(v.rows[V_CR], i);
        snprintf(id, sizeof id, "customer_route/%lld/%s",
                 (long long)hv_int(r, "VirtualSubnetID", 0),
                 qj_get_str(r, "DestinationPrefix") ? qj_get_str(r, "DestinationPrefix") : "");
        if (hv_streq(qj_get_str(r, "CustomerID"), QHYV_CUSTOMER_ID))
            hv_put_orphan(vs, ret, id);
        else
            qvs_map_put(ret->foreign, id, qj_clone(r));
    }
    for (size_t i = 0; i < qj_len(v.rows[V_PA]); i++) {
        const qj *r = qj_at(v.rows[V_PA], i);
        snprintf(id, sizeof id, "provider_address/%s",
                 qj_get_str(r, "ProviderAddress") ? qj_get_str(r, "ProviderAddress") : "");
        if (hv_wnv_ours(vs, id, r))
            hv_put_orphan(vs, ret, id);
        else
            qvs_map_put(ret->foreign, id, qj_clone(r));
    }
    for (size_t i = 0; i < npf; i++)
        hv_pf_free(&pf[i]);
    free(pf);
    qvs_map_free(pfs);
    qvs_map_free(sets);
    hv_view_drop_cache(vs);
    vs->cache = xmalloc(sizeof *vs->cache);
    *vs->cache = v;     /* the operate that follows needs no enumeration */
    return 0;
}

static bool hv_changed(qvs *vs) { return qhv_now_us() - vs->last_look_us >= RESCAN_US; }

/* ---------- operate: NetWNV ---------- */

/* The key properties of a NetWNV object from its id (deletes of orphans,
 * which have no intent). */
static qj *hv_wnv_key(const char *id)
{
    qj *k = qj_object();
    const char *s = strchr(id, '/') + 1;
    if (!strncmp(id, "provider_address/", 17)) {
        qj_set(k, "ProviderAddress", qj_str(s));
        return k;
    }
    char *end;
    qj_set(k, "VirtualSubnetID", qj_int(strtoll(s, &end, 10)));
    const char *rest = *end == '/' ? end + 1 : end;
    if (!strncmp(id, "customer_route/", 15)) {
        qj_set(k, "DestinationPrefix", qj_str(rest));
    } else {
        const char *mac = strrchr(rest, '/');
        qj_set(k, "CustomerAddress", qj_strn(rest, mac ? (size_t)(mac - rest) : strlen(rest)));
        char *m12 = qhyv_mac12(mac ? mac + 1 : "");
        qj_set(k, "MACAddress", m12 ? qj_str_take(m12) : qj_str(""));
    }
    return k;
}

static bool hv_has_pa(const qvs_map *intents)
{
    const char *k;
    for (size_t i = 0; i < qvs_map_end(intents); i++)
        if (qvs_map_at(intents, i, &k, NULL) && !strncmp(k, "provider_address/", 17))
            return true;
    return false;
}

/* next: the intents after this batch (the provider route goes with the
 * last provider address). */
static void hv_wnv_apply(qvs *vs, const hv_view *v, const qvs_map *next, qvs_op *op)
{
    char err[256] = "";
    bool pa = !strncmp(op->id, "provider_address/", 17);
    const qj *cur = op->value;
    qj *want = cur ? hv_wnv_want(vs, op->id, cur) : hv_wnv_key(op->id);
    const qj *have = want ? hv_wnv_have(v, op->id, want) : NULL;
    if (op->type == QVS_DELETE) {
        if (have && hv_wnv_ours(vs, op->id, have)) {
            int rc = vs->t.cls->delete_instance(vs->t.w, QWMI_NS_CIMV2, qj_get_str(have, "__PATH"),
                                                err, sizeof err);
            if (rc < 0 && rc != -ENOENT)
                hv_result(op, rc, err);
        }
        if (pa && !op->error && !hv_has_pa(next) && hv_provider_route(vs, v)) {
            int rc = vs->t.cls->delete_instance(vs->t.w, QWMI_NS_CIMV2,
                                                qj_get_str(hv_provider_route(vs, v), "__PATH"),
                                                err, sizeof err);
            if (rc < 0 && rc != -ENOENT)
                hv_result(op, rc, err);
        }
        qj_free(want);
        return;
    }
    if (!want) {
        hv_result(op, -EINVAL, "the value lacks a field NetWNV needs");
        return;
    }
    if (have && !hv_wnv_ours(vs, op->id, have)) {
        hv_result(op, -EPERM, "a NetWNV object someone else made has this key");
        qj_free(want);
        return;
    }
    /* RO properties (the key, Type, a route's NextHop) cannot change in
     * place: remove and create. */
    if (have && !hv_props_match(want, have)) {
        static const char *const ro[] = {"Type", "NextHop", "InterfaceIndex", NULL};
        for (size_t i = 0; ro[i]; i++)
            if (qj_get(want, ro[i]) && !qj_equal(qj_get(want, ro[i]), qj_get(have, ro[i]))) {
                vs->t.cls->delete_instance(vs->t.w, QWMI_NS_CIMV2, qj_get_str(have, "__PATH"),
                                           err, sizeof err);
                break;
            }
    }
    if (!hv_props_match(want, have)) {
        int rc = vs->t.cls->put_instance(vs->t.w, QWMI_NS_CIMV2, want, NULL, err, sizeof err);
        if (rc < 0)
            hv_result(op, rc, err);
    }
    if (pa && !op->error) {
        qj *pr = qhyv_wnv_provider_route(&vs->pa);
        if (pr && !hv_props_match(pr, hv_provider_route(vs, v))) {
            int rc = vs->t.cls->put_instance(vs->t.w, QWMI_NS_CIMV2, pr, NULL, err, sizeof err);
            if (rc < 0)
                hv_result(op, rc, err);
        }
        qj_free(pr);
    }
    qj_free(want);
}

/* ---------- operate: ports ---------- */

typedef struct hv_pw {
    char *id;
    hv_pf pf;
    const qj *port;             /* port/ intent after this batch, or NULL */
    const qj *acl[3];           /* acl/ intents by Direction */
    int error;
    char why[256];
    char problem[3][256];
    char *alloc_path;
    qj *removes, *mods, *adds;
    long vlan_at, sec_at;       /* index in adds, or -1 */
    bool sec_mod, drop;
    bool acl_gone[3];           /* this batch deletes acl/<id>/<direction> */
} hv_pw;

static void hv_pw_fail(hv_pw *w, int error, const char *why)
{
    if (w->error)
        return;
    w->error = error;
    snprintf(w->why, sizeof w->why, "%s", why);
}

static qj *hv_in(const char *k1, qj *v1, const char *k2, qj *v2)
{
    qj *in = qj_object();
    qj_set(in, k1, v1);
    if (k2)
        qj_set(in, k2, v2);
    return in;
}

/* Starts one call per work item that has something for it; polls together. */
typedef qj *(*hv_in_fn)(qvs *vs, hv_pw *w);

static void hv_phase(qvs *vs, hv_pw *pw, size_t n, const char *method, hv_in_fn fn,
                     void (*done)(hv_pw *w, const qhyv_call *c))
{
    qhyv_call *calls = xcalloc(n + 1, sizeof *calls);
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        if (pw[i].error)
            continue;
        qj *in = fn(vs, &pw[i]);
        if (!in)
            continue;
        qhyv_call_start(&vs->t, vs->vsms, method, in, i, &calls[nc++]);
        qj_free(in);
    }
    qhyv_calls_wait(&vs->t, calls, nc, vs->job_wait_ms);
    for (size_t k = 0; k < nc; k++) {
        hv_pw *w = &pw[calls[k].owner];
        if (calls[k].error) {
            if (calls[k].job)   /* still running: look at it first next time */
                qvs_map_put(vs->pending, w->id, qj_str(calls[k].job));
            hv_pw_fail(w, calls[k].error, calls[k].why);
        } else if (done) {
            done(w, &calls[k]);
        }
        qhyv_call_clear(&calls[k]);
    }
    free(calls);
}

/* The allocation a port needs (NULL: nothing to do); mod: for
 * ModifyResourceSettings (an existing one), else AddResourceSettings. */
static qj *hv_in_connect(hv_pw *w, bool mod)
{
    if (!w->port || !w->pf.nic || mod != (w->pf.alloc != NULL))
        return NULL;
    bool up = !qj_is(qj_get(w->port, "admin_state_up"), QJ_BOOL) ||
              hv_bool(w->port, "admin_state_up");
    const qj *sw = qj_get(w->port, "__switch");
    if (mod && qj_equal(qj_at(qj_get(w->pf.alloc, "HostResource"), 0), qj_at(sw, 0)) &&
        hv_int(w->pf.alloc, "EnabledState", 2) == (up ? 2 : 3))
        return NULL;
    qj *a = qj_object();
    qj_set(a, "__CLASS", qj_str(C_ALLOC));
    if (mod) {
        qj_set(a, "__PATH", qj_clone(qj_get(w->pf.alloc, "__PATH")));
    } else {
        qj_set(a, "ElementName", qj_str(w->id));
        qj_set(a, "Parent", qj_clone(qj_get(w->pf.nic, "__PATH")));
    }
    qj_set(a, "HostResource", qj_clone(sw));
    qj_set(a, "EnabledState", qj_int(up ? 2 : 3));
    qj *list = qj_array();
    qj_append(list, a);
    if (mod)
        return hv_in("ResourceSettings", list, NULL, NULL);
    /* The VM's settings (Msvm_VirtualSystemSettingData): the NIC's
     * InstanceID up to its first '\' ("Microsoft:<VM GUID>"). */
    const char *iid = qj_get_str(w->pf.nic, "InstanceID");
    const char *bs = iid ? strchr(iid, '\\') : NULL;
    char *vm = xasprintf("Msvm_VirtualSystemSettingData.InstanceID=\"%.*s\"",
                         bs ? (int)(bs - iid) : 0, iid ? iid : "");
    return hv_in("AffectedConfiguration", qj_str_take(vm), "ResourceSettings", list);
}

static qj *hv_in_connect_new(qvs *vs, hv_pw *w) { return hv_in_connect(w, false); }

static qj *hv_in_connect_mod(qvs *vs, hv_pw *w) { return hv_in_connect(w, true); }

static void hv_done_connect(hv_pw *w, const qhyv_call *c)
{
    const char *p = qj_as_str(qj_at(qj_get(c->out, "ResultingResourceSettings"), 0));
    if (p && !w->alloc_path)
        w->alloc_path = xstrdup(p);
}

static qj *hv_in_remove(qvs *vs, hv_pw *w)
{
    if (!qj_len(w->removes))
        return NULL;
    return hv_in("FeatureSettings", qj_clone(w->removes), NULL, NULL);
}

static qj *hv_in_modify(qvs *vs, hv_pw *w)
{
    if (!qj_len(w->mods))
        return NULL;
    return hv_in("FeatureSettings", qj_clone(w->mods), NULL, NULL);
}

static qj *hv_in_add(qvs *vs, hv_pw *w)
{
    if (!qj_len(w->adds))
        return NULL;
    return hv_in("AffectedConfiguration", qj_str(w->alloc_path), "FeatureSettings",
                 qj_clone(w->adds));
}

static qj *hv_in_drop(qvs *vs, hv_pw *w)
{
    if (!w->drop || !w->alloc_path)
        return NULL;
    qj *list = qj_array();
    qj_append(list, qj_str(w->alloc_path));
    return hv_in("ResourceSettings", list, NULL, NULL);
}

/* Reads back what was added (VLAN, VSID): Hyper-V has reported success
 * without applying them (prior art bug 1536742). */
static void hv_verify(qvs *vs, hv_pw *w, const qj *paths, long at, const char *what)
{
    if (at < 0 || w->error)
        return;
    const char *p = qj_as_str(qj_at(paths, (size_t)at));
    qj *got = NULL;
    char err[256] = "";
    int rc = p ? vs->t.cls->get(vs->t.w, QWMI_NS_VIRT, p, &got, err, sizeof err) : -ENOENT;
    if (rc < 0 || !hv_props_match(qj_at(w->adds, (size_t)at), got)) {
        char why[256];
        snprintf(why, sizeof why, "Hyper-V reported success but the %s is not as written "
                                  "(read back: %.100s); it is written again next time", what,
                 rc < 0 ? err : "different values");
        hv_pw_fail(w, -EIO, why);
    }
    qj_free(got);
}

/* What a port's features must lose, change and gain. */
static void hv_plan_features(qvs *vs, hv_pw *w, const qvs_map *sets)
{
    w->removes = qj_array();
    w->mods = qj_array();
    w->adds = qj_array();
    w->vlan_at = w->sec_at = -1;
    if (w->error || !w->alloc_path || w->drop)
        return;
    if (w->port) {
        qj *wv = hv_want_vlan(w->port), *ws = hv_want_sec(w->port);
        if (w->pf.vlan && !(wv && hv_props_match(wv, w->pf.vlan)))
            qj_append(w->removes, qj_clone(qj_get(w->pf.vlan, "__PATH")));
        if (wv && !hv_props_match(wv, w->pf.vlan)) {
            w->vlan_at = (long)qj_len(w->adds);
            qj_append(w->adds, wv);
        } else {
            qj_free(wv);
        }
        if (w->pf.sec && !hv_props_match(ws, w->pf.sec)) {
            qj_set(ws, "__PATH", qj_clone(qj_get(w->pf.sec, "__PATH")));
            qj_append(w->mods, ws);
            w->sec_mod = true;
        } else if (!w->pf.sec) {
            w->sec_at = (long)qj_len(w->adds);
            qj_append(w->adds, ws);
        } else {
            qj_free(ws);
        }
    }
    for (int d = 1; d < 3; d++) {
        /* A direction without an intent is left as it is unless its acl/
         * object is being deleted: a port/ op alone never opens a port. */
        if (!w->acl[d] && !w->acl_gone[d])
            continue;
        qj *want = w->acl[d] ? qhyv_acl_entries(w->acl[d], sets, vs->extended, w->problem[d],
                                                sizeof w->problem[d])
                             : qj_array();
        qvs_map *keep = qvs_map_new();      /* identity → present */
        qvs_map *used = qvs_map_new();      /* weights not free */
        const char *k;
        for (size_t i = 0; i < qvs_map_end(w->pf.taken[d]); i++)
            if (qvs_map_at(w->pf.taken[d], i, &k, NULL))
                qvs_map_put(used, k, qj_null());
        qvs_map *wanted = qvs_map_new();
        for (size_t i = 0; i < qj_len(want); i++) {
            char *id = qhyv_acl_identity(qj_at(want, i));
            qvs_map_put(wanted, id, qj_null());
            free(id);
        }
        for (size_t i = 0; i < qj_len(w->pf.acl[d]); i++) {
            const qj *e = qj_at(w->pf.acl[d], i);
            char *id = qhyv_acl_identity(e);
            if (qvs_map_get(wanted, id) && !qvs_map_get(keep, id))
                qvs_map_put(keep, id, qj_null());
            else
                qj_append(w->removes, qj_clone(qj_get(e, "__PATH")));
            free(id);
        }
        qj *add = qj_array();
        for (size_t i = 0; i < qj_len(want); i++) {
            char *id = qhyv_acl_identity(qj_at(want, i));
            if (!qvs_map_get(keep, id)) {
                qj *e = qj_clone(qj_at(want, i));
                qj_set(e, "ElementName", qj_str(MARK));
                qj_append(add, e);
            }
            free(id);
        }
        if (vs->extended && !qhyv_acl_weigh(add, used))
            hv_pw_fail(w, -ENOSPC, "no free ACL weights left on the port");
        for (size_t i = 0; i < qj_len(add); i++)
            qj_append(w->adds, qj_clone(qj_at(add, i)));
        qj_free(add);
        qvs_map_free(wanted);
        qvs_map_free(keep);
        qvs_map_free(used);
        qj_free(want);
    }
}

/* L2Only record of an nvgre port (DHCP): made, changed or removed. */
static void hv_l2only(qvs *vs, const hv_view *v, hv_pw *w)
{
    char err[256] = "";
    qj *want = w->port && !w->drop && hv_is_nvgre(w->port) ? hv_want_l2only(vs, w->id, w->port)
                                                            : NULL;
    if (w->port && !w->drop && hv_is_nvgre(w->port) && !want) {
        hv_pw_fail(w, -EINVAL, "an nvgre port needs [agent] provider_address (its L2Only "
                               "lookup record for DHCP)");
        return;
    }
    for (size_t i = 0; vs->wnv && i < qj_len(v->rows[V_LR]); i++) {
        const qj *r = qj_at(v->rows[V_LR], i);
        const char *ca = qj_get_str(r, "CustomerAddress");
        if (!hv_streq(qj_get_str(r, "VMName"), w->id) ||
            !hv_streq(qj_get_str(r, "Context"), QHYV_CONTEXT) ||
            !(hv_streq(ca, "0.0.0.0") || hv_streq(ca, "::")) || hv_props_match(want, r))
            continue;
        vs->t.cls->delete_instance(vs->t.w, QWMI_NS_CIMV2, qj_get_str(r, "__PATH"), err,
                                   sizeof err);
    }
    if (want && !hv_props_match(want, hv_lr_of(v, want))) {
        int rc = vs->wnv ? vs->t.cls->put_instance(vs->t.w, QWMI_NS_CIMV2, want, NULL, err,
                                                   sizeof err)
                         : -EOPNOTSUPP;
        if (rc < 0)
            hv_pw_fail(w, rc, vs->wnv ? err : "HNV v1 (NVGRE) is not available on this host");
    }
    qj_free(want);
}

static void hv_ports(qvs *vs, const hv_view *v, qvs_map *next, hv_pw *pw, size_t n)
{
    qvs_map *sets = hv_sets(next);
    char id[512];
    for (size_t i = 0; i < n; i++) {
        hv_pw *w = &pw[i];
        hv_pf_get(v, w->id, &w->pf);
        snprintf(id, sizeof id, "port/%s", w->id);
        w->port = qvs_map_get(next, id);
        snprintf(id, sizeof id, "acl/%s/ingress", w->id);
        w->acl[1] = qvs_map_get(next, id);
        snprintf(id, sizeof id, "acl/%s/egress", w->id);
        w->acl[2] = qvs_map_get(next, id);
        const qj *job = qvs_map_get(vs->pending, w->id);
        if (job) {
            char why[200] = "";
            int rc = qhyv_job_poll(&vs->t, qj_as_str(job), why, sizeof why);
            if (rc == 1) {
                hv_pw_fail(w, -EINPROGRESS, "an earlier job on this port is still running");
                continue;
            }
            qvs_map_del(vs->pending, w->id);
        }
        if (w->pf.foreign) {
            hv_pw_fail(w, -EPERM, w->pf.foreign);
            continue;
        }
        if (w->pf.alloc)
            w->alloc_path = xstrdup(qj_get_str(w->pf.alloc, "__PATH"));
        if (!w->port) {
            w->drop = w->pf.alloc != NULL;
            continue;
        }
        if (!w->pf.nic) {
            hv_pw_fail(w, -ENOENT, "no such VM NIC");
            continue;
        }
        const qj *sw = hv_row(v->rows[V_SW], v->sw, qj_get_str(w->port, "vswitch"));
        if (!sw) {
            snprintf(id, sizeof id, "no vSwitch named '%s'", qj_get_str(w->port, "vswitch")
                                                                 ? qj_get_str(w->port, "vswitch")
                                                                 : "");
            hv_pw_fail(w, -ENOENT, id);
            continue;
        }
        /* The switch path, where hv_in_connect finds it. */
        qj *hr = qj_array();
        qj_append(hr, qj_clone(qj_get(sw, "__PATH")));
        qj_set((qj *)w->port, "__switch", hr);
    }
    hv_phase(vs, pw, n, "AddResourceSettings", hv_in_connect_new, hv_done_connect);
    hv_phase(vs, pw, n, "ModifyResourceSettings", hv_in_connect_mod, NULL);
    for (size_t i = 0; i < n; i++)
        hv_plan_features(vs, &pw[i], sets);
    hv_phase(vs, pw, n, "RemoveFeatureSettings", hv_in_remove, NULL);
    hv_phase(vs, pw, n, "ModifyFeatureSettings", hv_in_modify, NULL);
    /* AddFeatureSettings, then read back VLAN and VSID. */
    qhyv_call *calls = xcalloc(n + 1, sizeof *calls);
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        qj *in = pw[i].error ? NULL : hv_in_add(vs, &pw[i]);
        if (!in)
            continue;
        qhyv_call_start(&vs->t, vs->vsms, "AddFeatureSettings", in, i, &calls[nc++]);
        qj_free(in);
    }
    qhyv_calls_wait(&vs->t, calls, nc, vs->job_wait_ms);
    for (size_t k = 0; k < nc; k++) {
        hv_pw *w = &pw[calls[k].owner];
        if (calls[k].error) {
            if (calls[k].job)
                qvs_map_put(vs->pending, w->id, qj_str(calls[k].job));
            hv_pw_fail(w, calls[k].error, calls[k].why);
        } else {
            const qj *paths = qj_get(calls[k].out, "ResultingFeatureSettings");
            hv_verify(vs, w, paths, w->vlan_at, "VLAN setting");
            hv_verify(vs, w, paths, w->sec_at, "security setting (VSID, guards)");
        }
        qhyv_call_clear(&calls[k]);
    }
    free(calls);
    for (size_t i = 0; i < n; i++)
        if (pw[i].sec_mod && !pw[i].error && pw[i].pf.sec) {
            qj *got = NULL;
            char err[256] = "";
            qj *ws = hv_want_sec(pw[i].port);
            if (vs->t.cls->get(vs->t.w, QWMI_NS_VIRT, qj_get_str(pw[i].pf.sec, "__PATH"), &got,
                               err, sizeof err) < 0 ||
                !hv_props_match(ws, got))
                hv_pw_fail(&pw[i], -EIO, "Hyper-V reported success but the security setting "
                                         "(VSID, guards) is not as written");
            qj_free(ws);
            qj_free(got);
        }
    hv_phase(vs, pw, n, "RemoveResourceSettings", hv_in_drop, NULL);
    for (size_t i = 0; i < n; i++)
        if (!pw[i].error)
            hv_l2only(vs, v, &pw[i]);
    for (size_t i = 0; i < n; i++)
        if (pw[i].port)
            qj_remove((qj *)pw[i].port, "__switch");
    qvs_map_free(sets);
}

/* ---------- operate ---------- */

static bool hv_port_kind(const char *id) { return !strncmp(id, "port/", 5) || !strncmp(id, "acl/", 4); }

static bool hv_names_set(const qj *acl, const char *set)
{
    const qj *rules = qj_get(acl, "rules");
    for (size_t i = 0; i < qj_len(rules); i++) {
        const qj *names = qj_get(qj_at(rules, i), "remote_address_sets");
        for (size_t k = 0; k < qj_len(names); k++)
            if (hv_streq(qj_as_str(qj_at(names, k)), set))
                return true;
    }
    return false;
}

static size_t hv_operate(qvs *vs, qvs_op *ops, size_t n)
{
    char err[512] = "";
    hv_view v;
    if (vs->cache && qhv_now_us() - vs->cache->loaded_us < CACHE_US) {
        v = *vs->cache;
        free(vs->cache);
        vs->cache = NULL;
    } else if (hv_view_drop_cache(vs), hv_view_load(vs, &v, err, sizeof err) < 0) {
        for (size_t i = 0; i < n; i++)
            hv_result(&ops[i], -EIO, err);
        hv_view_free(&v);
        return n;
    }
    qvs_map *next = qvs_map_new();
    const char *key;
    qj *val;
    for (size_t i = 0; i < qvs_map_end(vs->intent); i++)
        if (qvs_map_at(vs->intent, i, &key, &val))
            qvs_map_put(next, key, qj_clone(val));
    for (size_t i = 0; i < n; i++) {
        qvs_op *op = &ops[i];
        hv_result(op, 0, "");
        char port[256];
        if (qvs_kind_rank(op->id) < 0) {
            hv_result(op, -EINVAL, "unknown object kind");
        } else if (op->type != QVS_DELETE && !op->value) {
            hv_result(op, -EINVAL, "no value");
        } else if (!vs->wnv && (!strncmp(op->id, "lookup_record/", 14) ||
                                !strncmp(op->id, "customer_route/", 15) ||
                                !strncmp(op->id, "provider_address/", 17))) {
            if (op->type != QVS_DELETE)
                hv_result(op, -EOPNOTSUPP, "HNV v1 (NetWNV) is not available on this host "
                                           "(Windows Server 2019 and later)");
        } else if (hv_port_kind(op->id) && op->type != QVS_DELETE &&
                   !qvs_map_get(v.nic, hv_port_of(op->id, port, sizeof port))) {
            hv_result(op, -ENOENT, "no such VM NIC");
        }
        if (op->error)
            continue;
        if (op->type == QVS_DELETE)
            qvs_map_del(next, op->id);
        else
            qvs_map_put(next, op->id, qj_clone(op->value));
    }
    /* NetWNV objects first (what ports refer to), in the batch's order. */
    for (size_t i = 0; i < n; i++)
        if (!ops[i].error && !hv_port_kind(ops[i].id) && strncmp(ops[i].id, "address_set/", 12))
            hv_wnv_apply(vs, &v, next, &ops[i]);
    /* The ports touched: by their own ops, and by the address sets their
     * rules name. */
    qvs_map *touched = qvs_map_new();
    for (size_t i = 0; i < n; i++) {
        char port[256];
        if (ops[i].error)
            continue;
        if (hv_port_kind(ops[i].id)) {
            hv_port_of(ops[i].id, port, sizeof port);
            if (!qvs_map_get(touched, port))
                qvs_map_put(touched, port, hv_idx(qvs_map_size(touched)));
        } else if (!strncmp(ops[i].id, "address_set/", 12)) {
            for (size_t k = 0; k < qvs_map_end(next); k++)
                if (qvs_map_at(next, k, &key, &val) && !strncmp(key, "acl/", 4) &&
                    hv_names_set(val, ops[i].id + 12) &&
                    qvs_map_get(v.nic, hv_port_of(key, port, sizeof port)) &&
                    !qvs_map_get(touched, port))
                    qvs_map_put(touched, port, hv_idx(qvs_map_size(touched)));
        }
    }
    size_t np = qvs_map_size(touched);
    hv_pw *pw = xcalloc(np + 1, sizeof *pw);
    for (size_t i = 0; i < qvs_map_end(touched); i++)
        if (qvs_map_at(touched, i, &key, &val))
            pw[val->u.i].id = xstrdup(key);
    for (size_t i = 0; i < n; i++) {
        char port[256];
        if (!ops[i].error && ops[i].type == QVS_DELETE && !strncmp(ops[i].id, "acl/", 4)) {
            const qj *pi = qvs_map_get(touched, hv_port_of(ops[i].id, port, sizeof port));
            if (pi)
                pw[pi->u.i].acl_gone[hv_dir(ops[i].id)] = true;
        }
    }
    if (np)
        hv_ports(vs, &v, next, pw, np);
    /* Results. */
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        qvs_op *op = &ops[i];
        char port[256];
        if (!op->error && hv_port_kind(op->id)) {
            const qj *pi = qvs_map_get(touched, hv_port_of(op->id, port, sizeof port));
            hv_pw *w = pi ? &pw[pi->u.i] : NULL;
            if (w && w->error)
                hv_result(op, w->error, w->why);
            else if (w && op->id[0] == 'a' && op->type != QVS_DELETE &&
                     w->problem[hv_dir(op->id)][0])
                hv_result(op, -EOPNOTSUPP, w->problem[hv_dir(op->id)]);
        } else if (!op->error && !strncmp(op->id, "address_set/", 12)) {
            for (size_t k = 0; k < np && !op->error; k++)
                if (pw[k].error && pw[k].error != -EOPNOTSUPP &&
                    (hv_names_set(pw[k].acl[1], op->id + 12) ||
                     hv_names_set(pw[k].acl[2], op->id + 12))) {
                    char why[256];
                    snprintf(why, sizeof why, "port %.40s: %.200s", pw[k].id, pw[k].why);
                    hv_result(op, pw[k].error, why);
                }
        }
        /* The intent follows every op Hyper-V was asked to carry out: the
         * next dump compares it with what Hyper-V holds. */
        if (!op->error || op->error == -EOPNOTSUPP || op->error == -EINPROGRESS ||
            op->error == -EIO || op->error == -EAGAIN || op->error == -EBUSY ||
            op->error == -ETIMEDOUT) {
            if (op->type == QVS_DELETE)
                qvs_map_del(vs->intent, op->id);
            else if (op->value)
                qvs_map_put(vs->intent, op->id, qj_clone(op->value));
        }
        if (op->error)
            failed++;
    }
    /* Intents of NICs that are gone: nothing of theirs is left in Hyper-V. */
    for (size_t i = 0; i < qvs_map_end(vs->intent); i++) {
        char port[256];
        if (qvs_map_at(vs->intent, i, &key, NULL) && hv_port_kind(key) &&
            !qvs_map_get(v.nic, hv_port_of(key, port, sizeof port)))
            qvs_map_del(vs->intent, key);
    }
    hv_intent_save(vs);
    for (size_t i = 0; i < np; i++) {
        hv_pf_free(&pw[i].pf);
        free(pw[i].id);
        free(pw[i].alloc_path);
        qj_free(pw[i].removes);
        qj_free(pw[i].mods);
        qj_free(pw[i].adds);
    }
    free(pw);
    qvs_map_free(touched);
    qvs_map_free(next);
    hv_view_free(&v);
    vs->last_look_us = 0;   /* look again soon: confirm what was done */
    return failed;
}

/* ---------- open, close, capabilities ---------- */

static void hv_close(qvs *vs)
{
    if (!vs)
        return;
    if (vs->own_transport && vs->t.cls)
        vs->t.cls->close(vs->t.w);
    hv_view_drop_cache(vs);
    qvs_map_free(vs->intent);
    qvs_map_free(vs->pending);
    free(vs->state_file);
    free(vs->pa_addr);
    free(vs->pa_next_hop);
    free(vs->vsms);
    free(vs);
}

static void hv_set_version(qvs *vs, const char *ver)
{
    snprintf(vs->version, sizeof vs->version, "%s", ver);
    vs->major = vs->minor = 0;
    vs->build = 0;
    sscanf(ver, "%d.%d.%ld", &vs->major, &vs->minor, &vs->build);
    bool r2 = vs->major > 6 || (vs->major == 6 && vs->minor >= 3);
    vs->extended = r2;
    vs->has_type = r2;
    vs->wnv = !(vs->major >= 10 && vs->build >= 17763);
}

#ifdef _WIN32
int qwmi_com_open(qwmi_transport *ret, char *err, size_t errlen);
#endif

static int hv_open(const qvs_options *opt, qvs **ret, char *err, size_t errlen)
{
    *ret = NULL;
    qvs *vs = xcalloc(1, sizeof *vs);
    const char *name = opt->hyperv_transport_name && *opt->hyperv_transport_name
                           ? opt->hyperv_transport_name : "com";
    const char *over = opt->hyperv_windows_version ? opt->hyperv_windows_version : "";
    int rc = 0;
    if (opt->hyperv_transport) {
        vs->t = *opt->hyperv_transport;
    } else if (!strcmp(name, "model")) {
        rc = qwmi_model_open(opt->hyperv_model_file, *over ? over : NULL, &vs->t, err, errlen);
        vs->own_transport = rc == 0;
    } else if (!strcmp(name, "com")) {
#ifdef _WIN32
        rc = qwmi_com_open(&vs->t, err, errlen);
        vs->own_transport = rc == 0;
#else
        snprintf(err, errlen, "[hyperv] transport = com needs Windows (use transport = model "
                              "for the in-memory model)");
        rc = -1;
#endif
    } else {
        snprintf(err, errlen, "[hyperv] transport '%s': com or model", name);
        rc = -1;
    }
    if (rc < 0) {
        free(vs);
        return -1;
    }
    vs->pending = qvs_map_new();
    vs->job_wait_ms = opt->hyperv_job_wait_ms > 0 ? opt->hyperv_job_wait_ms : 0;
    if (*over) {
        hv_set_version(vs, over);
    } else {
        qj *rows = NULL;
        char e[256] = "";
        if (vs->t.cls->query(vs->t.w, "root\\cimv2", "SELECT * FROM Win32_OperatingSystem", &rows,
                             e, sizeof e) < 0 ||
            !qj_get_str(qj_at(rows, 0), "Version")) {
            snprintf(err, errlen, "cannot read the Windows version (Win32_OperatingSystem): %s; "
                                  "set [hyperv] windows_version", e);
            qj_free(rows);
            hv_close(vs);
            return -1;
        }
        hv_set_version(vs, qj_get_str(qj_at(rows, 0), "Version"));
        qj_free(rows);
    }
    qj *rows = NULL;
    char e[256] = "";
    if (vs->t.cls->query(vs->t.w, QWMI_NS_VIRT, "SELECT * FROM " C_VSMS, &rows, e, sizeof e) < 0 ||
        !qj_get_str(qj_at(rows, 0), "__PATH")) {
        snprintf(err, errlen, "no %s (is Hyper-V installed?): %s", C_VSMS, e);
        qj_free(rows);
        hv_close(vs);
        return -1;
    }
    vs->vsms = xstrdup(qj_get_str(qj_at(rows, 0), "__PATH"));
    qj_free(rows);
    if (opt->hyperv_state_file && *opt->hyperv_state_file)
        vs->state_file = xstrdup(opt->hyperv_state_file);
    hv_intent_load(vs);
    vs->pa_addr = xstrdup(opt->provider_address ? opt->provider_address : "");
    vs->pa_next_hop = xstrdup(opt->hyperv_pa_next_hop ? opt->hyperv_pa_next_hop : "");
    vs->pa.address = vs->pa_addr;
    vs->pa.ifindex = opt->hyperv_pa_ifindex;
    vs->pa.prefix_len = opt->hyperv_pa_prefix_len;
    vs->pa.vlan = opt->hyperv_pa_vlan;
    vs->pa.next_hop = vs->pa_next_hop;
    *ret = vs;
    return 0;
}

static qj *hv_capabilities(qvs *vs)
{
    qj *c = qj_object();
    qj_set(c, "windows_version", qj_str(vs->version));
    qj *types = qj_array();
    static const char *const base[] = {"local", "flat", "vlan"};
    for (size_t i = 0; i < 3; i++)
        qj_append(types, qj_str(base[i]));
    if (vs->wnv) {
        qj_append(types, qj_str("nvgre"));
        qj_append(types, qj_str("ip_rewrite"));
    }
    qj_set(c, "network_types", types);
    /* Exact where extended ACLs are (approximations are reported per port);
     * 2012's address-only port ACLs are not. */
    qj_set(c, "port_filter", qj_bool(vs->extended));
    qj_set(c, "acl", qj_str(vs->extended ? "extended" : "port"));
    if (!vs->extended)
        qj_set(c, "port_filter_reason",
               qj_str("Windows Server 2012 port ACLs match remote addresses only (no protocol, "
                      "port or state)"));
    qj_set(c, "hnv_v1", qj_bool(vs->wnv));
    return c;
}

const qvs_class qvs_hyperv_class = {
    .name = "hyperv",
    .port_filter = true,
    .open = hv_open,
    .close = hv_close,
    .dump = hv_dump,
    .changed = hv_changed,
    .operate = hv_operate,
    .capabilities = hv_capabilities,
};
