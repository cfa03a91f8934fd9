#include "model/alloc.h"
#include "lib/util.h"

#define QALLOC_PROBES 8

static qhv_u128 qalloc_random(void)
{
    qhv_u128 v;
    qhv_random_bytes(&v, sizeof v);
    return v;
}

static int qalloc_is_free(qalloc_next_taken_fn next_taken, void *ctx, qhv_u128 v, bool *ret)
{
    qhv_u128 t;
    int rc = next_taken(ctx, v, &t);
    if (rc < 0)
        return -1;
    *ret = rc == 0 || t != v;
    return 0;
}

/* v found free: claimed too when there is a claim. 1 taken for the caller,
 * 0 not (claim found it taken), -1 on error. */
static int qalloc_take(qalloc_claim_fn claim, void *ctx, qhv_u128 v, qhv_u128 *ret)
{
    int rc = claim ? claim(ctx, v) : 1;
    if (rc == 1)
        *ret = v;
    return rc;
}

static int qalloc_find(const qrange *ranges, size_t n, qalloc_next_taken_fn next_taken,
                       qalloc_claim_fn claim, void *ctx, qhv_u128 *ret)
{
    if (!n)
        return 0;
    for (int probe = 0; probe < QALLOC_PROBES; probe++) {
        const qrange *r = &ranges[(size_t)(qalloc_random() % n)];
        qhv_u128 span = r->hi - r->lo;
        qhv_u128 v = r->lo + (span == ~(qhv_u128)0 ? qalloc_random() : qalloc_random() % (span + 1));
        if (claim) {
            /* The claim is the probe. */
            int rc = qalloc_take(claim, ctx, v, ret);
            if (rc != 0)
                return rc;
            continue;
        }
        bool free_;
        if (qalloc_is_free(next_taken, ctx, v, &free_) < 0)
            return -1;
        if (free_)
            return qalloc_take(NULL, ctx, v, ret);
    }
    for (size_t i = 0; i < n; i++) {
        qhv_u128 cand = ranges[i].lo;
        for (;;) {
            qhv_u128 t;
            int rc = next_taken(ctx, cand, &t);
            if (rc < 0)
                return -1;
            if (rc == 0 || t > cand) {
                rc = qalloc_take(claim, ctx, cand, ret);
                if (rc != 0)
                    return rc;
            }
            if (cand == ranges[i].hi)
                break;
            cand++;
        }
    }
    return 0;
}

int qalloc_pick(const qrange *ranges, size_t n, qalloc_next_taken_fn next_taken, void *ctx,
                qhv_u128 *ret)
{
    return qalloc_find(ranges, n, next_taken, NULL, ctx, ret);
}

int qalloc_claim(const qrange *ranges, size_t n, qalloc_next_taken_fn next_taken,
                 qalloc_claim_fn claim, void *ctx, qhv_u128 *ret)
{
    return qalloc_find(ranges, n, next_taken, claim, ctx, ret);
}

int qalloc_next_addr(qstore *s, const char *sql, const char *key, int family, qhv_u128 from,
                     qhv_u128 *ret, qerr *e)
{
    qstmt *st = qstore_stmt(s, sql, e);
    if (!st)
        return -1;
    uint8_t b[16];
    qaddr a = {family, from};
    size_t n = qaddr_to_bytes(&a, b);
    qstmt_bind_text(st, 1, key, -1, QSTORE_TRANSIENT);
    qstmt_bind_blob(st, 2, b, (int)n, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    qaddr t;
    bool ok = rc == QSTORE_ROW &&
              qaddr_from_bytes(qstmt_column_blob(st, 0), (size_t)qstmt_column_bytes(st, 0), &t) == 0;
    qstmt_reset(st);
    if (rc == QSTORE_ROW && !ok)
        return qstore_fail(s, e, "corrupt address");
    if (ok)
        *ret = t.v;
    if (rc == QSTORE_ROW)
        return 1;
    return rc == QSTORE_DONE ? 0 : qstore_fail(s, e, sql);
}
