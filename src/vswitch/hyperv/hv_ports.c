/* hv_ports: port/ and acl/ objects: what Hyper-V must hold for them, and
 * the calls that make it so, batched per port (hv_backend.h). */
#include "vswitch/hyperv/hv_backend.h"
#include "vswitch/hyperv/hv_acl.h"
#include "vswitch/hyperv/hv_job.h"
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
    qj_set(f, "ElementName", qj_str(HV_MARK));
    qj_set(f, "OperationMode", qj_int(1));
    qj_set(f, "AccessVlanId", qj_int(vlan->u.i));
    return f;
}

static qj *hv_want_sec(const qj *port)
{
    qj *f = qj_object();
    qj_set(f, "__CLASS", qj_str(HV_C_SEC));
    qj_set(f, "ElementName", qj_str(HV_MARK));
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
    if (!sw || !hv_streq(qj_as_str(qj_at(qj_get(pf->alloc, "HostResource"), 0)),
                         qj_get_str(sw, "__PATH")))
        return false;
    bool up = qj_get_bool(port, "admin_state_up", true);
    if (qj_get_int(pf->alloc, "EnabledState", 2) != (up ? 2 : 3))
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

/* ---------- operate: ports ---------- */

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
    bool up = qj_get_bool(w->port, "admin_state_up", true);
    const qj *sw = qj_get(w->port, "__switch");
    if (mod && qj_equal(qj_at(qj_get(w->pf.alloc, "HostResource"), 0), qj_at(sw, 0)) &&
        qj_get_int(w->pf.alloc, "EnabledState", 2) == (up ? 2 : 3))
        return NULL;
    qj *a = qj_object();
    qj_set(a, "__CLASS", qj_str(HV_C_ALLOC));
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
                qj_set(e, "ElementName", qj_str(HV_MARK));
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
        vs->t.cls->delete_instance(vs->t.w, QWMI_NS_STDCIMV2, qj_get_str(r, "__PATH"), err,
                                   sizeof err);
    }
    if (want && !hv_props_match(want, hv_lr_of(v, want))) {
        int rc = vs->wnv ? vs->t.cls->put_instance(vs->t.w, QWMI_NS_STDCIMV2, want, NULL, err,
                                                   sizeof err)
                         : -EOPNOTSUPP;
        if (rc < 0)
            hv_pw_fail(w, rc, vs->wnv ? err : "HNV v1 (NVGRE) is not available on this host");
    }
    qj_free(want);
}

void hv_ports(qvs *vs, const hv_view *v, qvs_map *next, hv_pw *pw, size_t n)
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


void hv_pw_free(hv_pw *w)
{
    if (!w)
        return;
    hv_pf_free(&w->pf);
    free(w->id);
    free(w->alloc_path);
    qj_free(w->removes);
    qj_free(w->mods);
    qj_free(w->adds);
}
