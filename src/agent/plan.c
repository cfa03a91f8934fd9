#include "agent/plan.h"
#include <stdio.h>
#include <string.h>

const char *const qag_plan_sections[QAG_NSEC] = {
    "ports", "networks", "security_groups", "address_sets", "lookup_records",
    "customer_routes", "provider_addresses"};

void qag_plan_init(qag_plan *p)
{
    p->revision = -1;
    for (int i = 0; i < QAG_NSEC; i++)
        p->sec[i] = qvs_map_new();
}

void qag_plan_free(qag_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < QAG_NSEC; i++) {
        qvs_map_free(p->sec[i]);
        p->sec[i] = NULL;
    }
    p->revision = -1;
}

/* The stored form of a value of section sec (takes v). */
static qj *qag_plan_pack(int sec, qj *v)
{
    if (sec != QAG_SEC_LOOKUP || !v)
        return v;
    qj *packed = qj_str_take(qj_to_string(v));
    qj_free(v);
    return packed;
}

qj *qag_plan_unpack(const qj *stored)
{
    const char *text = qj_as_str(stored);
    return text ? qj_parse(text, strlen(text), NULL, NULL) : NULL;
}

static int qag_plan_full(qag_plan *p, int64_t rev, qj *plan, char *err, size_t errlen)
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
    for (int i = 0; i < QAG_NSEC; i++) {
        qj *s = qj_get(plan, qag_plan_sections[i]);
        for (size_t k = 0; i == QAG_SEC_LOOKUP && s && k < s->u.obj.n; k++)
            s->u.obj.m[k].val = qag_plan_pack(i, s->u.obj.m[k].val);
        qvs_map *m = qvs_map_from_object(s);
        if (!qvs_map_equal(m, p->sec[i]))
            changed = 1;
        qvs_map_free(p->sec[i]);
        p->sec[i] = m;
    }
    p->revision = rev;
    return changed;
}

static int qag_plan_delta(qag_plan *p, int64_t rev, const qj *since, qj *delta, char *err,
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
    for (int i = 0; i < QAG_NSEC; i++) {
        qj *d = qj_get(delta, qag_plan_sections[i]);
        if (!d)
            continue;
        qvs_map *m = p->sec[i];
        const qj *rem = qj_get(d, "removed");
        for (size_t r = 0; r < qj_len(rem); r++)
            changed |= qvs_map_del(m, qj_as_str(qj_at(rem, r)));
        qj *set = qj_get(d, "set");
        for (size_t s = 0; set && s < set->u.obj.n; s++) {
            qj_member *mb = &set->u.obj.m[s];
            mb->val = qag_plan_pack(i, mb->val);
            if (qj_equal(qvs_map_get(m, mb->key), mb->val))
                continue;
            qvs_map_put(m, mb->key, mb->val);
            mb->val = NULL;     /* moved */
            changed = 1;
        }
    }
    p->revision = rev;
    return changed;
}

int qag_plan_apply(qag_plan *p, qj *resp, char *err, size_t errlen)
{
    const qj *rev = qj_get(resp, "revision");
    if (!qj_is(rev, QJ_INT) || rev->u.i < 0) {
        snprintf(err, errlen, "the answer has no revision");
        return -1;
    }
    qj *plan = qj_get(resp, "plan"), *delta = qj_get(resp, "delta");
    if (plan)
        return qag_plan_full(p, rev->u.i, plan, err, errlen);
    if (delta)
        return qag_plan_delta(p, rev->u.i, qj_get(resp, "since"), delta, err, errlen);
    snprintf(err, errlen, "the answer has neither \"plan\" nor \"delta\"");
    return -1;
}
