#include "agent/plan.h"
#include <stdio.h>
#include <string.h>

const char *const qag_plan_sections[QAG_NSEC] = {
    "ports", "networks", "security_groups", "address_sets", "lookup_records",
    "customer_routes", "provider_addresses", "dhcp_networks", "dhcp_hosts"};

void qag_plan_init(qag_plan *p)
{
    p->revision = -1;
    for (int i = 0; i < QAG_NSEC; i++)
        p->sec[i] = qtm_new();
}

void qag_plan_free(qag_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < QAG_NSEC; i++) {
        qtm_free(p->sec[i]);
        p->sec[i] = NULL;
    }
    p->revision = -1;
}

size_t qag_plan_bytes(const qag_plan *p)
{
    size_t n = 0;
    for (int i = 0; i < QAG_NSEC; i++)
        n += qtm_bytes(p->sec[i]);
    return n;
}

uint64_t qag_plan_digest(const qag_plan *p)
{
    uint64_t d = 0;
    for (int i = 0; i < QAG_NSEC; i++)
        d += qtm_digest(p->sec[i], qag_plan_sections[i]);
    return d;
}

qj *qag_plan_parse(const char *text, size_t len)
{
    return text ? qj_parse(text, len, NULL, NULL) : NULL;
}

qj *qag_plan_get(const qag_plan *p, qag_section s, const char *key)
{
    size_t len;
    const char *text = qtm_get(p->sec[s], key, &len);
    return qag_plan_parse(text, len);
}

qvs_map *qag_plan_section(const qag_plan *p, qag_section s)
{
    qvs_map *m = qvs_map_new();
    const char *key, *text;
    size_t len;
    for (size_t i = 0; i < qtm_end(p->sec[s]); i++)
        if (qtm_at(p->sec[s], i, &key, &text, &len))
            qvs_map_put(m, key, qag_plan_parse(text, len));
    return m;
}

/* Stores v (compact text; b is scratch) under key; true if that changed m. */
static bool qag_plan_put(qtm *m, const char *key, const qj *v, qbuf *b)
{
    qbuf_reset(b);
    qj_emit(v, b, false);
    return qtm_put(m, key, b->data, b->len);
}

static int qag_plan_full(qag_plan *p, int64_t rev, const qj *plan, char *err, size_t errlen)
{
    if (!qj_is(plan, QJ_OBJECT)) {
        snprintf(err, errlen, "\"plan\" is not an object");
        return -1;
    }
    for (int i = 0; i < QAG_NSEC; i++) {
        const qj *s = qj_get(plan, qag_plan_sections[i]);
        if (s && !qj_is(s, QJ_OBJECT)) {
            snprintf(err, errlen, "plan section %s is not an object", qag_plan_sections[i]);
            return -1;
        }
    }
    int changed = 0;
    qbuf b;
    qbuf_init(&b, 0);
    for (int i = 0; i < QAG_NSEC; i++) {
        const qj *s = qj_get(plan, qag_plan_sections[i]);
        qtm *m = qtm_new();
        for (size_t k = 0; s && k < s->u.obj.n; k++)
            qag_plan_put(m, s->u.obj.m[k].key, s->u.obj.m[k].val, &b);
        if (!qtm_equal(m, p->sec[i]))
            changed = 1;
        qtm_free(p->sec[i]);
        p->sec[i] = m;
    }
    qbuf_free(&b);
    p->revision = rev;
    return changed;
}

static int qag_plan_delta(qag_plan *p, int64_t rev, const qj *since, const qj *delta, char *err,
                          size_t errlen)
{
    if (!qj_is(since, QJ_INT) || since->u.i != p->revision || !qj_is(delta, QJ_OBJECT)) {
        snprintf(err, errlen, "a delta since %lld does not apply to the plan of revision %lld",
                 qj_is(since, QJ_INT) ? (long long)since->u.i : -1LL, (long long)p->revision);
        return -1;
    }
    /* Check everything first: a malformed answer changes nothing. */
    for (size_t k = 0; k < delta->u.obj.n; k++) {
        const qj *d = delta->u.obj.m[k].val, *set = qj_get(d, "set"), *rem = qj_get(d, "removed");
        bool ok = qj_is(d, QJ_OBJECT) && (!set || qj_is(set, QJ_OBJECT)) &&
                  (!rem || qj_is(rem, QJ_ARRAY));
        for (size_t r = 0; ok && r < qj_len(rem); r++)
            ok = qj_is(qj_at(rem, r), QJ_STRING);
        if (!ok) {
            snprintf(err, errlen, "delta section %s is not {\"set\": {...}, \"removed\": [...]}",
                     delta->u.obj.m[k].key);
            return -1;
        }
    }
    int changed = 0;
    qbuf b;
    qbuf_init(&b, 0);
    for (int i = 0; i < QAG_NSEC; i++) {
        const qj *d = qj_get(delta, qag_plan_sections[i]);
        if (!d)
            continue;
        qtm *m = p->sec[i];
        const qj *rem = qj_get(d, "removed"), *set = qj_get(d, "set");
        for (size_t r = 0; r < qj_len(rem); r++)
            changed |= qtm_del(m, qj_as_str(qj_at(rem, r)));
        for (size_t s = 0; set && s < set->u.obj.n; s++)
            changed |= qag_plan_put(m, set->u.obj.m[s].key, set->u.obj.m[s].val, &b);
    }
    qbuf_free(&b);
    p->revision = rev;
    return changed;
}

int qag_plan_apply(qag_plan *p, const qj *resp, char *err, size_t errlen)
{
    const qj *rev = qj_get(resp, "revision");
    if (!qj_is(rev, QJ_INT) || rev->u.i < 0) {
        snprintf(err, errlen, "the answer has no revision");
        return -1;
    }
    const qj *plan = qj_get(resp, "plan"), *delta = qj_get(resp, "delta");
    if (plan)
        return qag_plan_full(p, rev->u.i, plan, err, errlen);
    if (delta)
        return qag_plan_delta(p, rev->u.i, qj_get(resp, "since"), delta, err, errlen);
    snprintf(err, errlen, "the answer has neither \"plan\" nor \"delta\"");
    return -1;
}
