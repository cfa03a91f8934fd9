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
    if (want && !strncmp(id, "customer_route/", 15) &&
        qhyv_wnv_via_first_address(vs->intent, value, NULL, 0)) {
        /* In force as far as it can be: not there. */
        bool absent = !have || !hv_wnv_ours(vs, id, have);
        qj_free(want);
        return absent;
    }
    bool ok = have && hv_wnv_ours(vs, id, have) && hv_props_match(want, have);
    qj_free(want);
    if (ok && !strncmp(id, "provider_address/", 17) && vs->pa_next_hop && *vs->pa_next_hop) {
        qj *pr = qhyv_wnv_provider_route(&vs->pa);
        ok = hv_props_match(pr, hv_provider_route(vs, v));
        qj_free(pr);
    }
    return ok;
}

/* ---------- Rule and Type: qhv's codes and the host's numbers ---------- */

qj *hv_wnv_to_host(const qvs *vs, const qj *inst)
{
    qj *h = qj_clone(inst);
    const qj *r = qj_get(inst, "Rule"), *t = qj_get(inst, "Type");
    if (qj_is(r, QJ_INT))
        qj_set(h, "Rule", qj_int(r->u.i == QHYV_RULE_NAT ? vs->rule_nat : vs->rule_encap));
    if (qj_is(t, QJ_INT))
        qj_set(h, "Type", qj_int(t->u.i == QHYV_TYPE_L2ONLY ? vs->type_l2only : vs->type_static));
    return h;
}

void hv_wnv_from_host(const qvs *vs, qj *row)
{
    const qj *r = qj_get(row, "Rule"), *t = qj_get(row, "Type");
    /* A number the host gives no known name is kept out of reach of qhv's
     * codes (-1), so that it never compares equal. */
    if (qj_is(r, QJ_INT))
        qj_set(row, "Rule", qj_int(r->u.i == vs->rule_nat     ? QHYV_RULE_NAT
                                   : r->u.i == vs->rule_encap ? QHYV_RULE_ENCAP
                                                              : -1));
    if (qj_is(t, QJ_INT) && vs->has_type)
        qj_set(row, "Type", qj_int(t->u.i == vs->type_l2only  ? QHYV_TYPE_L2ONLY
                                   : t->u.i == vs->type_static ? QHYV_TYPE_STATIC
                                                               : -1));
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
    if (!strncmp(op->id, "customer_route/", 15) &&
        qhyv_wnv_via_first_address(next, cur, NULL, 0)) {
        if (have && hv_wnv_ours(vs, op->id, have))
            vs->t.cls->delete_instance(vs->t.w, QWMI_NS_STDCIMV2, qj_get_str(have, "__PATH"), err,
                                       sizeof err);
        char why[256];
        snprintf(why, sizeof why, "not written: HNV v1 answers %.40s (the virtual subnet's "
                                  "first address) itself; give the router another address",
                 qj_get_str(cur, "next_hop"));
        hv_result(op, -EOPNOTSUPP, why);
        qj_free(want);
        return;
    }
    if (have && !hv_wnv_ours(vs, op->id, have)) {
        hv_result(op, -EPERM, "a NetWNV object someone else made has this key");
        qj_free(want);
        return;
    }
    if (vs->wnv_problem[0] && !hv_props_match(want, have)) {
        hv_result(op, -EOPNOTSUPP, vs->wnv_problem);
        qj_free(want);
        return;
    }
    /* A change is a removal and a new object, as os-win does: which
     * properties form the key, and what PutInstance does to an existing
     * one, are not documented. */
    if (have && !hv_props_match(want, have)) {
        int rc = vs->t.cls->delete_instance(vs->t.w, QWMI_NS_STDCIMV2, qj_get_str(have, "__PATH"),
                                            err, sizeof err);
        if (rc < 0 && rc != -ENOENT)
            hv_result(op, rc, err);
    }
    if (!op->error && !hv_props_match(want, have)) {
        qj *host = hv_wnv_to_host(vs, want);
        int rc = vs->t.cls->put_instance(vs->t.w, QWMI_NS_STDCIMV2, host, NULL, err, sizeof err);
        qj_free(host);
        if (rc < 0)
            hv_result(op, rc, err);
    }
    if (pa && !op->error) {
        qj *pr = qhyv_wnv_provider_route(&vs->pa);
        if (pr && hv_provider_route(vs, v) && !hv_props_match(pr, hv_provider_route(vs, v)))
            vs->t.cls->delete_instance(vs->t.w, QWMI_NS_STDCIMV2,
                                       qj_get_str(hv_provider_route(vs, v), "__PATH"), err,
                                       sizeof err);
        if (pr && !hv_props_match(pr, hv_provider_route(vs, v))) {
            int rc = vs->t.cls->put_instance(vs->t.w, QWMI_NS_STDCIMV2, pr, NULL, err, sizeof err);
            if (rc < 0)
                hv_result(op, rc, err);
        }
        qj_free(pr);
    }
    qj_free(want);
}

