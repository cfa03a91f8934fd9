/* addrset: sets of addresses of one family as sorted, disjoint, non-adjacent
 * inclusive ranges: union and difference with prefixes, containment, and the
 * set written back as the fewest prefixes (netaddr's IPSet.compact() and
 * iter_cidrs(), which Neutron's subnet pools are made of).
 *
 * Ownership: a qaddrset is a plain struct the caller owns; qaddrset_free
 * releases its ranges (accepts a set never added to). qaddrset_cidrs returns
 * an array the caller frees. */
#ifndef QHV_ADDRSET_H
#define QHV_ADDRSET_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/addr.h"

typedef struct qaddrset {
    int family;                       /* 4 or 6 */
    size_t n, cap;
    struct { qhv_u128 lo, hi; } *r;   /* inclusive, ascending */
} qaddrset;

void qaddrset_init(qaddrset *s, int family);
void qaddrset_free(qaddrset *s);
/* Union / difference with c (of the set's family; others are ignored). */
void qaddrset_add(qaddrset *s, const qcidr *c);
void qaddrset_remove(qaddrset *s, const qcidr *c);
/* True if every address of c is in s. */
bool qaddrset_contains(const qaddrset *s, const qcidr *c);
/* True if some address of c is in s. */
bool qaddrset_overlaps(const qaddrset *s, const qcidr *c);
/* True if a is a subset of b. */
bool qaddrset_subset(const qaddrset *a, const qaddrset *b);
/* The set as the fewest prefixes, in address order; *ret is NULL when empty. */
size_t qaddrset_cidrs(const qaddrset *s, qcidr **ret);

#endif
