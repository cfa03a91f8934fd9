/* hv_netwnv: lookup_record/, customer_route/ and provider_address/
 * objects as NetWNV instances (hv_wnv.h): projection and put/delete. */
#include "vswitch/hyperv/hv_backend.h"
#include <errno.h>
#include <stdlib.h>

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
        snprintf(key, sizeof key, "%lld/%s", (long long)qj_get_int(want, "VirtualSubnetID", 0),
                 qj_get_str(want, "DestinationPrefix"));
        return hv_row(v->rows[V_CR], v->cr, key);
    }
    return hv_row(v->rows[V_PA], v->pa, qj_get_str(want, "ProviderAddress"));
}

bool hv_wnv_ours(const qvs *vs, const char *id, const qj *have)
{
    if (!strncmp(id, "lookup_record/", 14))
        return hv_streq(qj_get_str(have, "Context"), QHYV_CONTEXT);
    if (!strncmp(id, "customer_route/", 15))
        return hv_streq(qj_get_str(have, "CustomerID"), QHYV_CUSTOMER_ID);
    /* The provider interface is delegated to qhv ([hyperv]
     * provider_interface_index): its PAs are qhv's, others are foreign. */
    return qj_get_int(have, "InterfaceIndex", -1) == vs->pa.ifindex;
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

bool hv_wnv_ok(const qvs *vs, const hv_view *v, const char *id, const qj *value)
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
void hv_wnv_apply(qvs *vs, const hv_view *v, const qvs_map *next, qvs_op *op)
{
    char err[256] = "";
    bool pa = !strncmp(op->id, "provider_address/", 17);
    const qj *cur = op->value;
    qj *want = cur ? hv_wnv_want(vs, op->id, cur) : hv_wnv_key(op->id);
    const qj *have = want ? hv_wnv_have(v, op->id, want) : NULL;
    if (op->type == QVS_DELETE) {
        if (have && hv_wnv_ours(vs, op->id, have)) {
            int rc = vs->t.cls->delete_instance(vs->t.w, QWMI_NS_STDCIMV2, qj_get_str(have, "__PATH"),
                                                err, sizeof err);
            if (rc < 0 && rc != -ENOENT)
                hv_result(op, rc, err);
        }
        if (pa && !op->error && !hv_has_pa(next) && hv_provider_route(vs, v)) {
            int rc = vs->t.cls->delete_instance(vs->t.w, QWMI_NS_STDCIMV2,
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
                vs->t.cls->delete_instance(vs->t.w, QWMI_NS_STDCIMV2, qj_get_str(have, "__PATH"),
                                           err, sizeof err);
                break;
            }
    }
    if (!hv_props_match(want, have)) {
        int rc = vs->t.cls->put_instance(vs->t.w, QWMI_NS_STDCIMV2, want, NULL, err, sizeof err);
        if (rc < 0)
            hv_result(op, rc, err);
    }
    if (pa && !op->error) {
        qj *pr = qhyv_wnv_provider_route(&vs->pa);
        if (pr && !hv_props_match(pr, hv_provider_route(vs, v))) {
            int rc = vs->t.cls->put_instance(vs->t.w, QWMI_NS_STDCIMV2, pr, NULL, err, sizeof err);
            if (rc < 0)
                hv_result(op, rc, err);
        }
        qj_free(pr);
    }
    qj_free(want);
}

