/* hv_ports: port/ and acl/ objects: what Hyper-V must hold for them, and
 * the calls that make it so, batched per port (hv_backend.h). */
#include "vswitch/hyperv/hv_backend.h"
#include "vswitch/hyperv/hv_acl.h"
#include "vswitch/hyperv/hv_job.h"
#include "vswitch/hyperv/wmi_path.h"
#include <errno.h>
#include <stdlib.h>

/* ---------- port/ ---------- */

static qj *hv_want_vlan(const qj *port)
{
    const qj *vlan = qj_get(port, "vlan");
    if (!qj_is(vlan, QJ_INT))
        return NULL;
    qj *f = qj_object();
    qj_set(f, "__CLASS", qj_str(HV_C_VLAN));
    qj_set(f, "OperationMode", qj_int(1));
    qj_set(f, "AccessVlanId", qj_int(vlan->u.i));
    return f;
}

static qj *hv_want_sec(const qj *port)
{
    qj *f = qj_object();
    qj_set(f, "__CLASS", qj_str(HV_C_SEC));
    qj_set(f, "AllowMacSpoofing", qj_bool(qj_get_bool(port, "mac_spoofing", false)));
    qj_set(f, "EnableDhcpGuard", qj_bool(qj_get_bool(port, "dhcp_guard", false)));
    qj_set(f, "EnableRouterGuard", qj_bool(qj_get_bool(port, "router_guard", false)));
    qj_set(f, "VirtualSubnetId", qj_int(qj_get_int(port, "vsid", 0)));
    return f;
}

static bool hv_is_nvgre(const qj *port) { return hv_streq(qj_get_str(port, "network_type"), "nvgre"); }

static qj *hv_want_l2only(const qvs *vs, const char *id, const qj *port)
{
    return qhyv_wnv_l2only(qj_get_int(port, "vsid", 0), qj_get_str(port, "mac_address"),
                           vs->pa_addr, id, vs->has_type);
}

const qj *hv_lr_of(const hv_view *v, const qj *want)
{
    char key[512];
    snprintf(key, sizeof key, "%lld/%s/%s", (long long)qj_get_int(want, "VirtualSubnetID", 0),
             qj_get_str(want, "CustomerAddress"), qj_get_str(want, "MACAddress"));
    return hv_row(v->rows[V_LR], v->lr, key);
}

bool hv_port_ok(const qvs *vs, const hv_view *v, const hv_pf *pf, const char *id,
                       const qj *port)
{
    if (!pf->alloc || pf->foreign)
        return false;
    const qj *sw = hv_row(v->rows[V_SW], v->sw, qj_get_str(port, "vswitch"));
    if (!sw || !qwmi_path_same(qj_as_str(qj_at(qj_get(pf->alloc, "HostResource"), 0)),
                               qj_get_str(sw, "__PATH")))
        return false;
    bool up = qj_get_bool(port, "admin_state_up", true);
    if (qj_get_int(pf->alloc, "EnabledState", 2) != (up ? 2 : 3))
        return false;
    qj *wv = hv_want_vlan(port), *ws = hv_want_sec(port);
    bool ok = (wv ? hv_props_match(wv, pf->vlan) : !pf->vlan) && hv_props_match(ws, pf->sec);
    qj_free(wv);
    qj_free(ws);
    if (ok && hv_is_nvgre(port) && vs->has_type) {
        qj *l2 = hv_want_l2only(vs, id, port);
        ok = l2 && hv_props_match(l2, hv_lr_of(v, l2));
        qj_free(l2);
    }
    return ok;
}

/* ---------- acl/ ---------- */

int hv_dir(const char *id)
{
    size_t l = strlen(id);
    return l > 7 && !strcmp(id + l - 7, "/egress") ? 2 : 1;
}

/* The port id of a port/ or acl/ id, in buf. */
const char *hv_port_of(const char *id, char *buf, size_t n)
{
    const char *k = strchr(id, '/') + 1, *slash = strchr(k, '/');
    snprintf(buf, n, "%.*s", slash ? (int)(slash - k) : (int)strlen(k), k);
    return buf;
}

bool hv_acl_ok(const qvs *vs, const hv_pf *pf, int dir, const qj *acl, const qvs_map *sets)
{
    if (!pf->alloc || pf->foreign)
        return false;
    char problem[256];
    qj *want = qhyv_acl_entries(acl, sets, vs->acl_dialect, problem, sizeof problem);
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

/* ---------- operate: ports ----------
 *
 * Fail closed (docs/hyperv.md, "A port's life"): a new connection is made
 * disabled; VLAN and security settings go in one call, ACL entries in a
 * second; both are read back; only then is the connection enabled. A
 * change that would leave an enabled port half-configured (another VLAN,
 * another switch) disables it first. Any failure leaves it disabled. */

static void hv_pw_fail(hv_pw *w, int error, const char *why)
{
    if (w->error)
        return;
    w->error = error;
    qhv_strlcpy(w->why, why, sizeof w->why);
}

static qj *hv_in(const char *k1, qj *v1, const char *k2, qj *v2)
{
    qj *in = qj_object();
    qj_set(in, k1, v1);
    if (k2)
        qj_set(in, k2, v2);
    return in;
}

/* An instance to send to Modify*Settings: the one read (its InstanceID and
 * every property: what is left out is reset by Hyper-V), without the
 * transport's own members. */
static qj *hv_as_read(const qj *row)
{
    qj *o = qj_clone(row);
    qj_remove(o, "__PATH");
    return o;
}

typedef qj *(*hv_in_fn)(qvs *vs, hv_pw *w);

/* Starts one call per work item that has something for it; polls together. */
static void hv_phase(qvs *vs, hv_pw *pw, size_t n, const char *method, hv_in_fn fn,
                     void (*done)(qvs *vs, hv_pw *w, const qhyv_call *c))
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
            done(vs, w, &calls[k]);
        }
        qhyv_call_clear(&calls[k]);
    }
    free(calls);
}

static bool hv_port_up(const hv_pw *w) { return qj_get_bool(w->port, "admin_state_up", true); }

/* A new connection: Hyper-V's default connection settings with the NIC,
 * the switch and qhv's name, disabled until configured. */
static qj *hv_in_connect(qvs *vs, hv_pw *w)
{
    if (!w->port || !w->pf.nic || w->pf.alloc)
        return NULL;
    qj *a = hv_as_read(vs->conn_default);
    qj_set(a, "__CLASS", qj_str(HV_C_ALLOC));
    qj_set(a, "ElementName", qj_str(w->id));
    qj_set(a, "Parent", qj_clone(qj_get(w->pf.nic, "__PATH")));
    qj_set(a, "HostResource", qj_clone(qj_get(w->port, "__switch")));
    qj_set(a, "EnabledState", qj_int(3));
    qj *list = qj_array();
    qj_append(list, a);
    return hv_in("AffectedConfiguration", qj_clone(qj_get(w->pf.vssd, "__PATH")),
                 "ResourceSettings", list);
}

static void hv_done_connect(qvs *vs, hv_pw *w, const qhyv_call *c)
{
    const char *p = qj_as_str(qj_at(qj_get(c->out, "ResultingResourceSettings"), 0));
    qj *row = NULL;
    char err[256] = "";
    if (p && vs->t.cls->get(vs->t.w, QWMI_NS_VIRT, p, &row, err, sizeof err) == 0) {
        w->alloc_row = row;
        free(w->alloc_path);
        w->alloc_path = xstrdup(p);
        hv_own_alloc(vs, w->id, qj_get_str(row, "InstanceID"));
    }
    /* Else a job ran and gave no path: hv_refind_connections looks. */
}

/* Connections made by jobs that gave no path: found by their Parent. */
static void hv_refind_connections(qvs *vs, hv_pw *pw, size_t n)
{
    bool need = false;
    for (size_t i = 0; i < n && !need; i++)
        need = !pw[i].error && pw[i].port && pw[i].pf.nic && !pw[i].alloc_row;
    if (!need)
        return;
    qj *rows = NULL;
    char err[256] = "";
    if (vs->t.cls->query(vs->t.w, QWMI_NS_VIRT, "SELECT * FROM " HV_C_ALLOC, &rows, err,
                         sizeof err) < 0) {
        for (size_t i = 0; i < n; i++)
            if (!pw[i].error && pw[i].port && pw[i].pf.nic && !pw[i].alloc_row)
                hv_pw_fail(&pw[i], -EIO, err);
        qj_free(rows);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        hv_pw *w = &pw[i];
        if (w->error || !w->port || !w->pf.nic || w->alloc_row)
            continue;
        for (size_t k = 0; k < qj_len(rows) && !w->alloc_row; k++) {
            const qj *r = qj_at(rows, k);
            if (qwmi_path_same(qj_get_str(r, "Parent"), qj_get_str(w->pf.nic, "__PATH"))) {
                w->alloc_row = qj_clone(r);
                free(w->alloc_path);
                w->alloc_path = xstrdup(qj_get_str(r, "__PATH"));
                hv_own_alloc(vs, w->id, qj_get_str(r, "InstanceID"));
            }
        }
        if (!w->alloc_row)
            hv_pw_fail(w, -EIO, "Hyper-V reported success but the NIC has no connection");
    }
    qj_free(rows);
}

/* Before the features change: the connection on the right switch, disabled
 * when down or when it must be reconfigured while enabled. */
static qj *hv_in_connect_pre(qvs *vs, hv_pw *w)
{
    if (!w->port || !w->pf.alloc || !w->alloc_row)
        return NULL;
    const qj *sw = qj_get(w->port, "__switch");
    bool same_sw = qwmi_path_same(qj_as_str(qj_at(qj_get(w->alloc_row, "HostResource"), 0)),
                                  qj_as_str(qj_at(sw, 0)));
    int64_t state = qj_get_int(w->alloc_row, "EnabledState", 2);
    /* A VLAN replaced or removed, or a connection adopted enabled (New-VM
     * -SwitchName) that is about to be configured: no traffic meanwhile. */
    bool disable = state == 2 && (!hv_port_up(w) || !same_sw || w->vlan_add ||
                                  qj_len(w->removes) ||
                                  (w->pf.adopt && (qj_len(w->adds) || qj_len(w->acl_adds))));
    if (same_sw && !disable)
        return NULL;
    qj *a = hv_as_read(w->alloc_row);
    qj_set(a, "HostResource", qj_clone(sw));
    qj_set(a, "ElementName", qj_str(w->id));
    if (disable)
        qj_set(a, "EnabledState", qj_int(3));
    qj *list = qj_array();
    qj_append(list, qj_clone(a));
    qj_free(w->alloc_row);
    w->alloc_row = a;       /* what Hyper-V holds once it succeeded */
    return hv_in("ResourceSettings", list, NULL, NULL);
}

/* ModifyResourceSettings of the connection as read with EnabledState
 * state, if want and it is not in that state already. */
static qj *hv_in_set_state(const hv_pw *w, bool want, int64_t state)
{
    if (!want || !w->alloc_row || qj_get_int(w->alloc_row, "EnabledState", 2) == state)
        return NULL;
    qj *a = hv_as_read(w->alloc_row);
    qj_set(a, "EnabledState", qj_int(state));
    qj *list = qj_array();
    qj_append(list, a);
    return hv_in("ResourceSettings", list, NULL, NULL);
}

/* After: enabled once everything is in place and read back. */
static qj *hv_in_connect_enable(qvs *vs, hv_pw *w) { return hv_in_set_state(w, w->enable, 2); }

/* Fail closed: a port that failed in this batch (but for a job still
 * running, or someone else's object, which qhv does not touch) is not left
 * enabled half-configured. */
static qj *hv_in_disable_failed(qvs *vs, hv_pw *w)
{
    return hv_in_set_state(w, w->disable_failed, 3);
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
    if (!qj_len(w->adds) || !w->alloc_path)
        return NULL;
    w->wrote_features = true;
    /* Until their InstanceIDs are recorded, the port's VLAN and security
     * settings are claimed as qhv's (hv_pf_get). */
    qj *rec = qvs_map_get(vs->own, w->id);
    if (rec)
        qj_set(rec, "claim", qj_bool(true));
    return hv_in("AffectedConfiguration", qj_str(w->alloc_path), "FeatureSettings",
                 qj_clone(w->adds));
}

static void hv_done_add(qvs *vs, hv_pw *w, const qhyv_call *c)
{
    /* Known by the InstanceIDs Hyper-V gives them; after a job that gave no
     * paths, hv_verify finds them on the connection. */
    const qj *paths = qj_get(c->out, "ResultingFeatureSettings");
    for (size_t i = 0; i < qj_len(paths); i++) {
        char *cls = qwmi_path_class(qj_as_str(qj_at(paths, i)));
        char *iid = qwmi_path_value(qj_as_str(qj_at(paths, i)), "InstanceID");
        if (cls && iid && (!strcasecmp(cls, HV_C_VLAN) || !strcasecmp(cls, HV_C_SEC)))
            hv_own_feat(vs, w->id, iid);
        free(cls);
        free(iid);
    }
}

static qj *hv_in_acl_add(qvs *vs, hv_pw *w)
{
    if (!qj_len(w->acl_adds) || !w->alloc_path)
        return NULL;
    w->wrote_features = true;
    return hv_in("AffectedConfiguration", qj_str(w->alloc_path), "FeatureSettings",
                 qj_clone(w->acl_adds));
}

static qj *hv_in_acl_remove(qvs *vs, hv_pw *w)
{
    if (!qj_len(w->acl_removes))
        return NULL;
    w->wrote_features = true;
    return hv_in("FeatureSettings", qj_clone(w->acl_removes), NULL, NULL);
}

static qj *hv_in_drop(qvs *vs, hv_pw *w)
{
    if (!w->drop || !w->alloc_path)
        return NULL;
    qj *list = qj_array();
    qj_append(list, qj_str(w->alloc_path));
    return hv_in("ResourceSettings", list, NULL, NULL);
}

/* What a port's features must lose, change and gain. */
static void hv_plan_features(qvs *vs, hv_pw *w, const qvs_map *sets)
{
    w->removes = qj_array();
    w->mods = qj_array();
    w->adds = qj_array();
    w->acl_adds = qj_array();
    w->acl_removes = qj_array();
    if (w->error || !w->alloc_path || w->drop)
        return;
    if (w->port) {
        qj *wv = hv_want_vlan(w->port), *ws = hv_want_sec(w->port);
        if (w->pf.vlan && !(wv && hv_props_match(wv, w->pf.vlan)))
            qj_append(w->removes, qj_clone(qj_get(w->pf.vlan, "__PATH")));
        if (wv && !hv_props_match(wv, w->pf.vlan)) {
            w->vlan_add = true;
            qj_append(w->adds, wv);
        } else {
            qj_free(wv);
        }
        if (w->pf.sec && !hv_props_match(ws, w->pf.sec)) {
            qj *m = hv_as_read(w->pf.sec);
            for (size_t i = 0; i < ws->u.obj.n; i++)
                qj_set(m, ws->u.obj.m[i].key, qj_clone(ws->u.obj.m[i].val));
            qj_append(w->mods, m);
            w->sec_mod = true;
            w->wrote_features = true;
            qj_free(ws);
        } else if (!w->pf.sec) {
            w->sec_add = true;
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
        qj *want = w->acl[d] ? qhyv_acl_entries(w->acl[d], sets, vs->acl_dialect, w->problem[d],
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
                qj_append(w->acl_removes, qj_clone(qj_get(e, "__PATH")));
            free(id);
        }
        qj *add = qj_array();
        for (size_t i = 0; i < qj_len(want); i++) {
            char *id = qhyv_acl_identity(qj_at(want, i));
            if (!qvs_map_get(keep, id)) {
                qj *e = qj_clone(qj_at(want, i));
                qj_set(e, "Name", qj_str(HV_MARK));
                qj_append(add, e);
            }
            free(id);
        }
        if (vs->extended && !qhyv_acl_weigh(add, used))
            hv_pw_fail(w, -ENOSPC, "no free ACL weights left on the port");
        for (size_t i = 0; i < qj_len(add); i++)
            qj_append(w->acl_adds, qj_clone(qj_at(add, i)));
        qj_free(add);
        qvs_map_free(wanted);
        qvs_map_free(keep);
        qvs_map_free(used);
        qj_free(want);
    }
}

/* The rows of cls on this host, for hv_verify (one query per class). */
static qj *hv_rows(qvs *vs, const char *cls, char *err, size_t errlen)
{
    qj *rows = NULL;
    char *wql = xasprintf("SELECT * FROM %s", cls);
    if (vs->t.cls->query(vs->t.w, QWMI_NS_VIRT, wql, &rows, err, errlen) < 0) {
        qj_free(rows);
        rows = NULL;
    }
    free(wql);
    return rows;
}

static bool hv_of_alloc(const qj *row, const char *alloc_iid)
{
    const char *iid = qj_get_str(row, "InstanceID");
    size_t l = alloc_iid ? strlen(alloc_iid) : 0;
    return iid && l && !strncasecmp(iid, alloc_iid, l) && iid[l] == '\\';
}

/* Reads back what the batch wrote (Hyper-V has reported success without
 * applying it: prior art bug 1536742) before anything is enabled: the VLAN
 * and security settings as wanted, and exactly the wanted ACL entries. */
static void hv_verify(qvs *vs, hv_pw *pw, size_t n, const qvs_map *sets)
{
    bool need = false;
    for (size_t i = 0; i < n && !need; i++)
        need = !pw[i].error && pw[i].wrote_features;
    if (!need)
        return;
    char err[256] = "";
    const char *acl_cls = vs->extended ? QHYV_XACL_CLASS : QHYV_ACL_CLASS;
    qj *vl = hv_rows(vs, HV_C_VLAN, err, sizeof err);
    qj *sc = vl ? hv_rows(vs, HV_C_SEC, err, sizeof err) : NULL;
    qj *ac = sc ? hv_rows(vs, acl_cls, err, sizeof err) : NULL;
    for (size_t i = 0; i < n; i++) {
        hv_pw *w = &pw[i];
        if (w->error || !w->wrote_features)
            continue;
        if (!ac) {
            hv_pw_fail(w, -EIO, err);
            continue;
        }
        const char *aiid = qj_get_str(w->alloc_row, "InstanceID");
        const qj *vlan = NULL, *sec = NULL;
        for (size_t k = 0; k < qj_len(vl); k++)
            if (hv_of_alloc(qj_at(vl, k), aiid))
                vlan = qj_at(vl, k);
        for (size_t k = 0; k < qj_len(sc); k++)
            if (hv_of_alloc(qj_at(sc, k), aiid))
                sec = qj_at(sc, k);
        /* Settings this batch added are qhv's (one of each per port). */
        if (vlan && w->vlan_add)
            hv_own_feat(vs, w->id, qj_get_str(vlan, "InstanceID"));
        if (sec && w->sec_add)
            hv_own_feat(vs, w->id, qj_get_str(sec, "InstanceID"));
        if ((vlan || !w->vlan_add) && (sec || !w->sec_add))
            qj_remove(qvs_map_get(vs->own, w->id), "claim");
        const char *what = NULL;
        if (w->port) {
            qj *wv = hv_want_vlan(w->port), *ws = hv_want_sec(w->port);
            if (wv ? !hv_props_match(wv, vlan) : vlan != NULL)
                what = "VLAN setting";
            else if (!hv_props_match(ws, sec))
                what = "security setting (VSID, guards)";
            qj_free(wv);
            qj_free(ws);
        }
        for (int d = 1; d < 3 && !what; d++) {
            if (!w->acl[d] && !w->acl_gone[d])
                continue;
            char problem[256];
            qj *want = w->acl[d] ? qhyv_acl_entries(w->acl[d], sets, vs->acl_dialect, problem,
                                                    sizeof problem)
                                 : qj_array();
            qvs_map *have = qvs_map_new();
            size_t nhave = 0;
            for (size_t k = 0; k < qj_len(ac); k++) {
                const qj *e = qj_at(ac, k);
                if (!hv_of_alloc(e, aiid) || !hv_streq(qj_get_str(e, "Name"), HV_MARK) ||
                    qj_get_int(e, "Direction", 0) != d)
                    continue;
                char *id = qhyv_acl_identity(e);
                qvs_map_put(have, id, qj_null());
                free(id);
                nhave++;
            }
            bool ok = nhave == qj_len(want);
            for (size_t k = 0; ok && k < qj_len(want); k++) {
                char *id = qhyv_acl_identity(qj_at(want, k));
                ok = qvs_map_get(have, id) != NULL;
                free(id);
            }
            if (!ok)
                what = "ACL";
            qvs_map_free(have);
            qj_free(want);
        }
        if (what) {
            char why[256];
            snprintf(why, sizeof why, "Hyper-V reported success but the %s is not as written; "
                                      "the port stays disabled and is written again next time",
                     what);
            hv_pw_fail(w, -EIO, why);
        }
    }
    qj_free(vl);
    qj_free(sc);
    qj_free(ac);
}

/* L2Only record of an nvgre port (DHCP): made, changed or removed. */
static void hv_l2only(qvs *vs, const hv_view *v, hv_pw *w)
{
    char err[256] = "";
    bool nvgre = w->port && !w->drop && hv_is_nvgre(w->port);
    qj *want = nvgre ? hv_want_l2only(vs, w->id, w->port) : NULL;
    if (nvgre && vs->has_type && !want) {
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
        vs->t.cls->delete_instance(vs->t.w, QWMI_NS_STDCIMV2, qj_get_str(r, "__PATH"), err,
                                   sizeof err);
    }
    if (want && !hv_props_match(want, hv_lr_of(v, want))) {
        int rc = -EOPNOTSUPP;
        if (vs->wnv && !vs->wnv_problem[0]) {
            qj *host = hv_wnv_to_host(vs, want);
            rc = vs->t.cls->put_instance(vs->t.w, QWMI_NS_STDCIMV2, host, NULL, err, sizeof err);
            qj_free(host);
        }
        if (rc < 0)
            hv_pw_fail(w, rc, !vs->wnv ? "HNV v1 (NVGRE) is not available on this host"
                              : vs->wnv_problem[0] ? vs->wnv_problem : err);
    }
    qj_free(want);
}

/* Whether the port may be enabled: up, and, with port security, both its
 * rule lists in place (a port/ op alone never opens a port). */
static bool hv_may_enable(const hv_pw *w)
{
    if (!w->port || !hv_port_up(w))
        return false;
    if (!qj_get_bool(w->port, "port_security", false))
        return true;
    return w->acl[1] && w->acl[2];
}

void hv_ports(qvs *vs, const hv_view *v, qvs_map *next, hv_pw *pw, size_t n)
{
    qvs_map *sets = hv_sets(next);
    char id[512];
    for (size_t i = 0; i < n; i++) {
        hv_pw *w = &pw[i];
        hv_pf_get(vs, v, w->id, &w->pf);
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
        if (w->pf.alloc) {
            w->alloc_path = xstrdup(qj_get_str(w->pf.alloc, "__PATH"));
            w->alloc_row = qj_clone(w->pf.alloc);
            if (w->pf.adopt && w->port) {
                /* Adopted with what it carries (or claimed: see hv_in_add),
                 * once qhv is asked to wire the port. */
                hv_own_alloc(vs, w->id, qj_get_str(w->pf.alloc, "InstanceID"));
                if (w->pf.vlan)
                    hv_own_feat(vs, w->id, qj_get_str(w->pf.vlan, "InstanceID"));
                if (w->pf.sec)
                    hv_own_feat(vs, w->id, qj_get_str(w->pf.sec, "InstanceID"));
                qj_remove(qvs_map_get(vs->own, w->id), "claim");
            }
        }
        if (!w->port) {
            /* Only a connection qhv made or recorded is removed. */
            w->drop = w->pf.alloc && (!w->pf.adopt ||
                                      hv_streq(qj_get_str(w->pf.alloc, "ElementName"), w->id));
            continue;
        }
        if (!w->pf.nic) {
            hv_pw_fail(w, qvs_map_get(v->legacy, w->id) ? -EOPNOTSUPP : -ENOENT,
                       qvs_map_get(v->legacy, w->id)
                           ? "a legacy network adapter cannot be wired by qhv: give the VM a "
                             "synthetic network adapter"
                           : "no such VM NIC");
            continue;
        }
        if (!w->pf.vssd) {
            hv_pw_fail(w, -ENOENT, "the NIC's virtual machine settings were not found");
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
        if (!vs->conn_default && !w->pf.alloc) {
            hv_pw_fail(w, -EIO, "Hyper-V's default connection settings were not found");
            continue;
        }
        /* The switch path, where hv_in_connect finds it. */
        qj *hr = qj_array();
        qj_append(hr, qj_clone(qj_get(sw, "__PATH")));
        qj_set((qj *)w->port, "__switch", hr);
    }
    /* 1. New connections, disabled. */
    hv_phase(vs, pw, n, "AddResourceSettings", hv_in_connect, hv_done_connect);
    hv_refind_connections(vs, pw, n);
    /* 2. What the features need; existing connections moved or disabled. */
    for (size_t i = 0; i < n; i++)
        hv_plan_features(vs, &pw[i], sets);
    hv_phase(vs, pw, n, "ModifyResourceSettings", hv_in_connect_pre, NULL);
    /* 3. VLAN and security, then ACL entries (new ones before stale ones go). */
    hv_phase(vs, pw, n, "RemoveFeatureSettings", hv_in_remove, NULL);
    hv_phase(vs, pw, n, "ModifyFeatureSettings", hv_in_modify, NULL);
    hv_phase(vs, pw, n, "AddFeatureSettings", hv_in_add, hv_done_add);
    hv_phase(vs, pw, n, "AddFeatureSettings", hv_in_acl_add, NULL);
    hv_phase(vs, pw, n, "RemoveFeatureSettings", hv_in_acl_remove, NULL);
    /* 4. Read back, then enable. */
    hv_verify(vs, pw, n, sets);
    for (size_t i = 0; i < n; i++) {
        hv_pw *w = &pw[i];
        /* Not enabled without its rules: no failure either (its acl/ ops
         * follow in the agent's next batches; until then the dump shows
         * the port disabled, so it is not ACTIVE). */
        w->enable = !w->error && hv_may_enable(w);
    }
    hv_phase(vs, pw, n, "ModifyResourceSettings", hv_in_connect_enable, NULL);
    hv_phase(vs, pw, n, "RemoveResourceSettings", hv_in_drop, NULL);
    for (size_t i = 0; i < n; i++) {
        if (pw[i].drop && !pw[i].error)
            qvs_map_del(vs->own, pw[i].id);
        if (!pw[i].error)
            hv_l2only(vs, v, &pw[i]);
    }
    /* 5. Whatever failed is left disabled, its first error kept. */
    int *errs = xcalloc(n + 1, sizeof *errs);
    char (*whys)[256] = xcalloc(n + 1, sizeof *whys);
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        hv_pw *w = &pw[i];
        w->disable_failed = w->error && w->error != -EINPROGRESS && w->error != -EPERM &&
                            w->port && !w->drop && !w->pf.foreign;
        any = any || w->disable_failed;
        errs[i] = w->error;
        qhv_strlcpy(whys[i], w->why, sizeof whys[i]);
        w->error = 0;
    }
    if (any)
        hv_phase(vs, pw, n, "ModifyResourceSettings", hv_in_disable_failed, NULL);
    for (size_t i = 0; i < n; i++) {
        pw[i].error = errs[i];
        qhv_strlcpy(pw[i].why, whys[i], sizeof pw[i].why);
    }
    free(errs);
    free(whys);
    for (size_t i = 0; i < n; i++)
        if (pw[i].port)
            qj_remove((qj *)pw[i].port, "__switch");
    qvs_map_free(sets);
}


void hv_pw_free(hv_pw *w)
{
    if (!w)
        return;
    hv_pf_free(&w->pf);
    free(w->id);
    free(w->alloc_path);
    qj_free(w->alloc_row);
    qj_free(w->removes);
    qj_free(w->mods);
    qj_free(w->adds);
    qj_free(w->acl_adds);
    qj_free(w->acl_removes);
}
