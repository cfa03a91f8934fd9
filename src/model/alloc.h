/* alloc: picks a free value in a set of inclusive ranges, the one piece of
 * logic behind VLAN/VSID segment allocation and IP address allocation.
 * A few random probes first (O(1) while the space is sparse, and no two
 * callers converge on the same value), then an ordered scan for the first
 * gap, so a nearly full space is still allocated exactly and "exhausted" is
 * only reported when it is true. */
#ifndef QHV_MODEL_ALLOC_H
#define QHV_MODEL_ALLOC_H
#include <stdbool.h>
#include "lib/addr.h"
#include "lib/err.h"
#include "store/store.h"

typedef struct qrange {
    qhv_u128 lo, hi;    /* inclusive */
} qrange;

/* Smallest taken value >= from: returns 1 and sets *ret, 0 if none, -1 on error. */
typedef int (*qalloc_next_taken_fn)(void *ctx, qhv_u128 from, qhv_u128 *ret);

/* Records v as taken when it is free: 1 done, 0 it was taken, -1 on error. */
typedef int (*qalloc_claim_fn)(void *ctx, qhv_u128 v);

/* Returns 1 and sets *ret when a free value exists, 0 when all are taken,
 * -1 when next_taken failed. */
int qalloc_pick(const qrange *ranges, size_t n, qalloc_next_taken_fn next_taken, void *ctx,
                qhv_u128 *ret);
/* The same, and the value is recorded (claim): each random probe is a
 * claim, so that a sparse space costs one statement, not a lookup and an
 * insert. -1 when next_taken or claim failed. */
int qalloc_claim(const qrange *ranges, size_t n, qalloc_next_taken_fn next_taken,
                 qalloc_claim_fn claim, void *ctx, qhv_u128 *ret);

/* The usual next_taken over addresses stored as big-endian blobs: sql
 * selects the smallest address >= ?2 among the rows of key ?1 (e.g. a
 * subnet's allocations). 1 found (*ret), 0 none, -1 error. */
int qalloc_next_addr(qstore *s, const char *sql, const char *key, int family, qhv_u128 from,
                     qhv_u128 *ret, qerr *e);

#endif
