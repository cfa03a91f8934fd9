#include "lib/addrset.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

static qhv_u128 qaddrset_max(int family)
{
    return family == 4 ? (qhv_u128)0xffffffffu : ~(qhv_u128)0;
}

static void qaddrset_bounds(const qcidr *c, qhv_u128 *lo, qhv_u128 *hi)
{
    qaddr a = qcidr_network(c), b = qcidr_last(c);
    *lo = a.v;
    *hi = b.v;
}

void qaddrset_init(qaddrset *s, int family)
{
    memset(s, 0, sizeof *s);
    s->family = family;
}

void qaddrset_free(qaddrset *s)
{
    if (!s)
        return;
    free(s->r);
    s->r = NULL;
    s->n = s->cap = 0;
}

static void qaddrset_insert(qaddrset *s, size_t at, qhv_u128 lo, qhv_u128 hi)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->r = xrealloc(s->r, s->cap * sizeof *s->r);
    }
    if (s->n > at)
        memmove(&s->r[at + 1], &s->r[at], (s->n - at) * sizeof *s->r);
    s->r[at].lo = lo;
    s->r[at].hi = hi;
    s->n++;
}

void qaddrset_add(qaddrset *s, const qcidr *c)
{
    if (c->addr.family != s->family)
        return;
    qhv_u128 lo, hi;
    qaddrset_bounds(c, &lo, &hi);
    /* Ranges that overlap or touch [lo, hi] merge into it. */
    size_t i = 0;
    while (i < s->n && s->r[i].hi != qaddrset_max(s->family) && s->r[i].hi + 1 < lo)
        i++;
    size_t j = i;
    while (j < s->n && (hi == qaddrset_max(s->family) || s->r[j].lo <= hi + 1)) {
        if (s->r[j].lo < lo)
            lo = s->r[j].lo;
        if (s->r[j].hi > hi)
            hi = s->r[j].hi;
        j++;
    }
    if (j > i && s->n > j)
        memmove(&s->r[i], &s->r[j], (s->n - j) * sizeof *s->r);
    s->n -= j - i;
    qaddrset_insert(s, i, lo, hi);
}

void qaddrset_remove(qaddrset *s, const qcidr *c)
{
    if (c->addr.family != s->family)
        return;
    qhv_u128 lo, hi;
    qaddrset_bounds(c, &lo, &hi);
    for (size_t i = 0; i < s->n;) {
        if (s->r[i].hi < lo || s->r[i].lo > hi) {
            i++;
            continue;
        }
        qhv_u128 rlo = s->r[i].lo, rhi = s->r[i].hi;
        if (s->n > i + 1)
            memmove(&s->r[i], &s->r[i + 1], (s->n - i - 1) * sizeof *s->r);
        s->n--;
        if (rlo < lo)
            qaddrset_insert(s, i++, rlo, lo - 1);
        if (rhi > hi)
            qaddrset_insert(s, i++, hi + 1, rhi);
    }
}

bool qaddrset_contains(const qaddrset *s, const qcidr *c)
{
    if (c->addr.family != s->family)
        return false;
    qhv_u128 lo, hi;
    qaddrset_bounds(c, &lo, &hi);
    for (size_t i = 0; i < s->n; i++)
        if (s->r[i].lo <= lo && hi <= s->r[i].hi)
            return true;
    return false;
}

bool qaddrset_overlaps(const qaddrset *s, const qcidr *c)
{
    if (c->addr.family != s->family)
        return false;
    qhv_u128 lo, hi;
    qaddrset_bounds(c, &lo, &hi);
    for (size_t i = 0; i < s->n; i++)
        if (s->r[i].lo <= hi && lo <= s->r[i].hi)
            return true;
    return false;
}

bool qaddrset_subset(const qaddrset *a, const qaddrset *b)
{
    for (size_t i = 0; i < a->n; i++) {
        bool in = false;
        for (size_t j = 0; j < b->n && !in; j++)
            in = b->r[j].lo <= a->r[i].lo && a->r[i].hi <= b->r[j].hi;
        if (!in)
            return false;
    }
    return true;
}

size_t qaddrset_cidrs(const qaddrset *s, qcidr **ret)
{
    int bits = s->family == 4 ? 32 : 128;
    qhv_u128 fmax = qaddrset_max(s->family);
    size_t n = 0, cap = 0;
    *ret = NULL;
    for (size_t i = 0; i < s->n; i++) {
        qhv_u128 lo = s->r[i].lo, hi = s->r[i].hi;
        for (;;) {
            /* The largest aligned block starting at lo that ends by hi. */
            int k = 0;
            while (k < bits) {
                if (k + 1 == bits) {
                    if (lo == 0 && hi == fmax)
                        k = bits;
                    break;
                }
                qhv_u128 size = (qhv_u128)1 << (k + 1);
                if ((lo & (size - 1)) || hi - lo < size - 1)
                    break;
                k++;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                *ret = xrealloc(*ret, cap * sizeof **ret);
            }
            (*ret)[n++] = (qcidr){{s->family, lo}, bits - k};
            qhv_u128 last = k == bits ? fmax : lo + (((qhv_u128)1 << k) - 1);
            if (last >= hi)
                break;
            lo = last + 1;
        }
    }
    return n;
}
