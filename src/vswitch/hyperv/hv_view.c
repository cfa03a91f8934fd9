/* hv_view: one enumeration per class and the indexes over them; a port's
 * state (hv_backend.h). */
#include "vswitch/hyperv/hv_backend.h"
#include "vswitch/hyperv/hv_acl.h"
#include "vswitch/hyperv/wmi_path.h"
#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

/* ---------- what Hyper-V holds ---------- */

void hv_view_free(hv_view *v)
{
    for (int i = 0; i < V_N; i++)
        qj_free(v->rows[i]);
    qvs_map_free(v->sw);
    qvs_map_free(v->nic);
    qvs_map_free(v->alloc);
    qvs_map_free(v->vssd);
    qvs_map_free(v->legacy);
    qvs_map_free(v->feat);
    qvs_map_free(v->lr);
    qvs_map_free(v->cr);
    qvs_map_free(v->pa);
    qvs_map_free(v->pr);
    memset(v, 0, sizeof *v);
}

static const char *hv_class(const qvs *vs, int k)
{
    static const char *const names[V_N] = {HV_C_SWITCH, HV_C_VSSD, HV_C_NIC, HV_C_LEGACY,
                                           HV_C_ALLOC, HV_C_VLAN, HV_C_SEC, NULL,
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

int hv_view_load(qvs *vs, hv_view *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    v->loaded_us = qhv_now_us();
    v->sw = qvs_map_new();
    v->nic = qvs_map_new();
    v->alloc = qvs_map_new();
    v->vssd = qvs_map_new();
    v->legacy = qvs_map_new();
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
        /* Only the VMs themselves: checkpoints and planned VMs hold copies
         * of their NICs and connections under the same names. */
        char *wql = k == V_VSSD ? xasprintf("SELECT * FROM %s WHERE VirtualSystemType = '%s'",
                                            HV_C_VSSD, HV_REALIZED)
                                : xasprintf("SELECT * FROM %s", hv_class(vs, k));
        char e[256] = "";
        int rc = vs->t.cls->query(vs->t.w, wnv ? QWMI_NS_STDCIMV2 : QWMI_NS_VIRT, wql, &v->rows[k], e,
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
    char buf[512];
    for (size_t i = 0; i < qj_len(v->rows[V_VSSD]); i++) {
        const qj *r = qj_at(v->rows[V_VSSD], i);
        if (hv_streq(qj_get_str(r, "VirtualSystemType"), HV_REALIZED) &&
            qj_get_str(r, "InstanceID"))
            qvs_map_put(v->vssd, hv_vssd_of(qj_get_str(r, "InstanceID"), buf, sizeof buf),
                        hv_idx(i));
    }
    for (size_t i = 0; i < qj_len(v->rows[V_NIC]); i++) {
        /* A VM NIC is qhv's to wire when its name is a port id (and it is
         * the realized VM's, not a checkpoint's copy). */
        const qj *r = qj_at(v->rows[V_NIC], i);
        const char *n = qj_get_str(r, "ElementName");
        if (n && qhv_is_uuid(n) &&
            qvs_map_get(v->vssd, hv_vssd_of(qj_get_str(r, "InstanceID"), buf, sizeof buf)))
            qvs_map_put(v->nic, n, hv_idx(i));
    }
    for (size_t i = 0; i < qj_len(v->rows[V_LEGACY]); i++) {
        const qj *r = qj_at(v->rows[V_LEGACY], i);
        const char *n = qj_get_str(r, "ElementName");
        if (n && qhv_is_uuid(n) && !qvs_map_get(v->nic, n) &&
            qvs_map_get(v->vssd, hv_vssd_of(qj_get_str(r, "InstanceID"), buf, sizeof buf)))
            qvs_map_put(v->legacy, n, hv_idx(i));
    }
    for (size_t i = 0; i < qj_len(v->rows[V_ALLOC]); i++) {
        const qj *a = qj_at(v->rows[V_ALLOC], i);
        const char *iid = qj_get_str(a, "InstanceID");
        if (!iid || !qvs_map_get(v->vssd, hv_vssd_of(iid, buf, sizeof buf)))
            continue;
        char *pk = qwmi_path_key(qj_get_str(a, "Parent"));
        if (pk)
            qvs_map_put(v->alloc, pk, hv_idx(i));
        free(pk);
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
        qj *r = qj_at(v->rows[V_LR], i);
        hv_wnv_from_host(vs, r);
        snprintf(key, sizeof key, "%lld/%s/%s", (long long)qj_get_int(r, "VirtualSubnetID", 0),
                 qj_get_str(r, "CustomerAddress") ? qj_get_str(r, "CustomerAddress") : "",
                 qj_get_str(r, "MACAddress") ? qj_get_str(r, "MACAddress") : "");
        qvs_map_put(v->lr, key, hv_idx(i));
    }
    for (size_t i = 0; i < qj_len(v->rows[V_CR]); i++) {
        const qj *r = qj_at(v->rows[V_CR], i);
        snprintf(key, sizeof key, "%lld/%s", (long long)qj_get_int(r, "VirtualSubnetID", 0),
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
        snprintf(key, sizeof key, "%lld/%s", (long long)qj_get_int(r, "InterfaceIndex", 0),
                 qj_get_str(r, "DestinationPrefix") ? qj_get_str(r, "DestinationPrefix") : "");
        qvs_map_put(v->pr, key, hv_idx(i));
    }
    return 0;
}

void hv_view_drop_cache(qvs *vs)
{
    if (vs->cache)
        hv_view_free(vs->cache);
    free(vs->cache);
    vs->cache = NULL;
}

void hv_pf_free(hv_pf *pf)
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

const char *hv_vssd_of(const char *iid, char *buf, size_t n)
{
    const char *bs = iid ? strchr(iid, '\\') : NULL;
    size_t l = iid ? (bs ? (size_t)(bs - iid) : strlen(iid)) : 0;
    if (l >= n)
        l = n - 1;
    for (size_t i = 0; i < l; i++)
        buf[i] = (char)tolower((unsigned char)iid[i]);
    buf[l] = '\0';
    return buf;
}

bool hv_own_has(const qvs *vs, const char *port, const char *iid)
{
    const qj *rec = qvs_map_get(vs->own, port);
    if (!iid || !rec)
        return false;
    const char *a = qj_get_str(rec, "alloc");
    if (a && !strcasecmp(a, iid))
        return true;
    const qj *f = qj_get(rec, "feat");
    for (size_t i = 0; i < qj_len(f); i++)
        if (qj_as_str(qj_at(f, i)) && !strcasecmp(qj_as_str(qj_at(f, i)), iid))
            return true;
    return false;
}

void hv_own_alloc(qvs *vs, const char *port, const char *alloc_iid)
{
    const qj *rec = qvs_map_get(vs->own, port);
    if (!alloc_iid || (rec && hv_streq(qj_get_str(rec, "alloc"), alloc_iid)))
        return;
    qj *r = qj_object();
    qj_set(r, "alloc", qj_str(alloc_iid));
    qj_set(r, "feat", qj_array());
    qvs_map_put(vs->own, port, r);
}

void hv_own_feat(qvs *vs, const char *port, const char *iid)
{
    qj *rec = qvs_map_get(vs->own, port);
    if (!rec || !iid || hv_own_has(vs, port, iid))
        return;
    qj *f = qj_get(rec, "feat");
    if (!qj_is(f, QJ_ARRAY)) {
        f = qj_array();
        qj_set(rec, "feat", f);
    }
    /* A bounded history: a restored checkpoint brings back settings qhv
     * made earlier, under the InstanceIDs they had then. */
    if (qj_len(f) >= HV_OWN_HISTORY) {
        qj *keep = qj_array();
        for (size_t i = 1; i < qj_len(f); i++)
            qj_append(keep, qj_clone(qj_at(f, i)));
        qj_set(rec, "feat", keep);
        f = keep;
    }
    qj_append(f, qj_str(iid));
}

void hv_pf_get(const qvs *vs, const hv_view *v, const char *port, hv_pf *pf)
{
    memset(pf, 0, sizeof *pf);
    for (int d = 1; d < 3; d++) {
        pf->acl[d] = qj_array();
        pf->taken[d] = qvs_map_new();
    }
    pf->nic = hv_row(v->rows[V_NIC], v->nic, port);
    if (!pf->nic)
        return;
    char buf[512];
    pf->vssd = hv_row(v->rows[V_VSSD], v->vssd,
                      hv_vssd_of(qj_get_str(pf->nic, "InstanceID"), buf, sizeof buf));
    char *pk = qwmi_path_key(qj_get_str(pf->nic, "__PATH"));
    pf->alloc = pk ? hv_row(v->rows[V_ALLOC], v->alloc, pk) : NULL;
    free(pk);
    if (!pf->alloc)
        return;
    /* The connection: the one qhv recorded, or one named by the port id
     * (qhv names its own) or by Hyper-V's default name (New-VM,
     * Add-VMNetworkAdapter, SCVMM, Connect-VMNetworkAdapter): adopted. */
    const char *aiid = qj_get_str(pf->alloc, "InstanceID"), *en = qj_get_str(pf->alloc,
                                                                             "ElementName");
    const char *rec_alloc = qj_get_str(qvs_map_get(vs->own, port), "alloc");
    bool known = rec_alloc && aiid && !strcasecmp(rec_alloc, aiid);
    if (!known && !hv_streq(en, port) && !hv_streq(en, HV_CONN_DEFAULT_NAME)) {
        snprintf(pf->why, sizeof pf->why,
                 "its switch port was connected by someone else (connection '%.80s')",
                 en ? en : "");
        pf->foreign = pf->why;
    }
    pf->adopt = !known;
    const qj *slot = qvs_map_get(v->feat, aiid);
    const qj *vi = qj_get(slot, "vlan"), *si = qj_get(slot, "sec"), *ai = qj_get(slot, "acl");
    if (vi)
        pf->vlan = qj_at(v->rows[V_VLAN], (size_t)vi->u.i);
    if (si)
        pf->sec = qj_at(v->rows[V_SEC], (size_t)si->u.i);
    /* Known connection: its VLAN and security settings are qhv's only if
     * qhv recorded them (ElementName is Hyper-V's fixed display name and
     * says nothing), or if qhv added them by a call whose answer named
     * none ("claim": a job that outlasted the wait or gave no paths).
     * Adopted connection: adopted with it. */
    if (known && qj_get_bool(qvs_map_get(vs->own, port), "claim", false))
        pf->adopt = true;
    if (!pf->foreign && known && !pf->adopt && pf->vlan &&
        !hv_own_has(vs, port, qj_get_str(pf->vlan, "InstanceID"))) {
        snprintf(pf->why, sizeof pf->why, "its VLAN setting was made by someone else");
        pf->foreign = pf->why;
    }
    if (!pf->foreign && known && !pf->adopt && pf->sec &&
        !hv_own_has(vs, port, qj_get_str(pf->sec, "InstanceID"))) {
        snprintf(pf->why, sizeof pf->why,
                 "its security setting (VSID, guards) was made by someone else");
        pf->foreign = pf->why;
    }
    for (size_t i = 0; i < qj_len(ai); i++) {
        qj *e = qj_at(v->rows[V_ACL], (size_t)qj_at(ai, i)->u.i);
        int64_t d = qj_get_int(e, "Direction", 0);
        if (d != 1 && d != 2)
            continue;
        char w[16];
        snprintf(w, sizeof w, "%lld", (long long)qj_get_int(e, "Weight", -1));
        qvs_map_put(pf->taken[d], w, qj_null());
        if (hv_streq(qj_get_str(e, "Name"), HV_MARK))
            qj_append(pf->acl[d], e);   /* borrowed: see hv_pf_free */
    }
}
