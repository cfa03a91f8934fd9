#include "agent/reconcile.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

typedef struct qag_sortop {
    qvs_op op;
    int phase;      /* 0 delete, 1 create/update */
    int rank;
    size_t seq;
} qag_sortop;

static int qag_sortop_cmp(const void *a, const void *b)
{
    const qag_sortop *x = a, *y = b;
    if (x->phase != y->phase)
        return x->phase - y->phase;
    if (x->rank != y->rank)
        return x->phase == 0 ? y->rank - x->rank : x->rank - y->rank;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void qag_push(qag_sortop **v, size_t *n, size_t *cap, qvs_op_type t, const char *id,
                     const qj *value)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    qag_sortop *s = &(*v)[*n];
    memset(s, 0, sizeof *s);
    s->op.type = t;
    s->op.id = id;
    s->op.value = value;
    s->phase = t == QVS_DELETE ? 0 : 1;
    int rank = qvs_kind_rank(id);
    /* Unknown kinds qhv owns (from an older agent) are deleted first. */
    s->rank = rank < 0 ? (int)qvs_n_kinds : rank;
    s->seq = (*n)++;
}

void qag_diff_compute(const qvs_map *desired, const qvs_observed *observed, qag_diff *ret)
{
    memset(ret, 0, sizeof *ret);
    qag_sortop *v = NULL;
    size_t n = 0, cap = 0;
    const char *id;
    qj *val;
    for (size_t i = 0; i < qvs_map_end(observed->objects); i++)
        if (qvs_map_at(observed->objects, i, &id, &val) && !qvs_map_get(desired, id))
            qag_push(&v, &n, &cap, QVS_DELETE, id, NULL);
    for (size_t i = 0; i < qvs_map_end(desired); i++) {
        if (!qvs_map_at(desired, i, &id, &val))
            continue;
        if (qvs_map_get(observed->foreign, id)) {
            ret->conflicts = xrealloc(ret->conflicts,
                                      (ret->nconflicts + 1) * sizeof *ret->conflicts);
            ret->conflicts[ret->nconflicts++] = id;
            continue;
        }
        const qj *have = qvs_map_get(observed->objects, id);
        if (!have)
            qag_push(&v, &n, &cap, QVS_CREATE, id, val);
        else if (!qj_equal(have, val))
            qag_push(&v, &n, &cap, QVS_UPDATE, id, val);
    }
    if (n)
        qsort(v, n, sizeof *v, qag_sortop_cmp);
    ret->ops = xcalloc(n ? n : 1, sizeof *ret->ops);
    for (size_t i = 0; i < n; i++)
        ret->ops[i] = v[i].op;
    ret->nops = n;
    free(v);
}

void qag_diff_free(qag_diff *d)
{
    if (!d)
        return;
    free(d->ops);
    free(d->conflicts);
    memset(d, 0, sizeof *d);
}

uint64_t qag_backoff_us(unsigned attempt, uint64_t base_us, uint64_t cap_us)
{
    if (attempt == 0)
        return 0;
    uint64_t d = base_us;
    for (unsigned i = 1; i < attempt && d < cap_us; i++)
        d *= 2;
    return d < cap_us ? d : cap_us;
}

/* ---------- retries ---------- */

void qag_retry_init(qag_retry *r) { r->m = qvs_map_new(); }

void qag_retry_free(qag_retry *r)
{
    if (!r)
        return;
    qvs_map_free(r->m);
    r->m = NULL;
}

uint64_t qag_op_hash(const qvs_op *op)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)op->type;
    if (op->value) {
        char *s = qj_to_string(op->value);
        for (const char *p = s; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        free(s);
    }
    return h;
}

static int64_t qag_retry_field(const qj *e, size_t i)
{
    const qj *v = qj_at(e, i);
    return qj_is(v, QJ_INT) ? v->u.i : 0;
}

bool qag_retry_ready(const qag_retry *r, const qvs_op *op, uint64_t now_us)
{
    const qj *e = qvs_map_get(r->m, op->id);
    if (!e)
        return true;
    if ((uint64_t)qag_retry_field(e, 2) != qag_op_hash(op))
        return true;
    return now_us >= (uint64_t)qag_retry_field(e, 1);
}

unsigned qag_retry_failed(qag_retry *r, const qvs_op *op, uint64_t now_us)
{
    const qj *e = qvs_map_get(r->m, op->id);
    uint64_t h = qag_op_hash(op);
    unsigned attempts = 1;
    if (e && (uint64_t)qag_retry_field(e, 2) == h)
        attempts = (unsigned)qag_retry_field(e, 0) + 1;
    qj *n = qj_array();
    qj_append(n, qj_int(attempts));
    qj_append(n, qj_int((int64_t)(now_us + qag_backoff_us(attempts, QAG_RETRY_BASE_US,
                                                          QAG_RETRY_CAP_US))));
    qj_append(n, qj_int((int64_t)h));
    qvs_map_put(r->m, op->id, n);
    return attempts;
}

void qag_retry_clear(qag_retry *r, const char *id) { qvs_map_del(r->m, id); }

void qag_retry_prune(qag_retry *r, const qag_diff *d)
{
    if (!qvs_map_size(r->m))
        return;
    qvs_map *keep = qvs_map_new();
    for (size_t i = 0; i < d->nops; i++) {
        qj *e = qvs_map_take(r->m, d->ops[i].id);
        if (e)
            qvs_map_put(keep, d->ops[i].id, e);
    }
    qvs_map_free(r->m);
    r->m = keep;
}

uint64_t qag_retry_next(const qag_retry *r)
{
    uint64_t next = UINT64_MAX;
    const char *id;
    qj *e;
    for (size_t i = 0; i < qvs_map_end(r->m); i++)
        if (qvs_map_at(r->m, i, &id, &e) && (uint64_t)qag_retry_field(e, 1) < next)
            next = (uint64_t)qag_retry_field(e, 1);
    return next;
}

size_t qag_retry_count(const qag_retry *r) { return qvs_map_size(r->m); }
