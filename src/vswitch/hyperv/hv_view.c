/* hv_view: one enumeration per class and the indexes over them; a port's
 * state (hv_backend.h). */
#include "vswitch/hyperv/hv_backend.h"
#include "vswitch/hyperv/hv_acl.h"
#include <stdlib.h>

/* ---------- what Hyper-V holds ---------- */

void hv_view_free(hv_view *v)
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
    static const char *const names[V_N] = {HV_C_SWITCH, HV_C_NIC, HV_C_ALLOC, HV_C_VLAN, HV_C_SEC, NULL,
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

void hv_pf_get(const hv_view *v, const char *port, hv_pf *pf)
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
    if (pf->vlan && !hv_streq(qj_get_str(pf->vlan, "ElementName"), HV_MARK))
        pf->foreign = "its VLAN setting is someone else's";
    if (pf->sec && !hv_streq(qj_get_str(pf->sec, "ElementName"), HV_MARK))
        pf->foreign = "its security setting (VSID, guards) is someone else's";
    for (size_t i = 0; i < qj_len(ai); i++) {
        qj *e = qj_at(v->rows[V_ACL], (size_t)qj_at(ai, i)->u.i);
        int64_t d = qj_get_int(e, "Direction", 0);
        if (d != 1 && d != 2)
            continue;
        char w[16];
        snprintf(w, sizeof w, "%lld", (long long)qj_get_int(e, "Weight", -1));
        qvs_map_put(pf->taken[d], w, qj_null());
        if (hv_streq(qj_get_str(e, "ElementName"), HV_MARK))
            qj_append(pf->acl[d], e);   /* borrowed: see hv_pf_free */
    }
}

