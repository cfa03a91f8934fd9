/* reconcile: the pure parts of the agent loop (OVN's ofctrl
 * update_installed_flows_by_compare): desired vs observed → the operations
 * that make the switch match, and the retry bookkeeping of failed ones.
 *
 *   - an object qhv owns that is no longer desired is deleted;
 *   - a desired object qhv owns with another value is updated;
 *   - a desired object that is missing is created;
 *   - a foreign object is never touched: if it holds a desired id, that id is
 *     a conflict (reported, not applied).
 * Deletes come first (kinds in reverse qvs_kinds order), then creates and
 * updates (in qvs_kinds order); within a kind, map order.
 *
 * Ownership: qag_diff_compute fills a caller's struct whose ops and conflicts
 * borrow ids and values from the desired and observed maps (valid while they
 * live unchanged); qag_diff_free frees the arrays (accepts NULL). A qag_retry
 * is the caller's struct; qag_retry_free frees what it holds. */
#ifndef QHV_AGENT_RECONCILE_H
#define QHV_AGENT_RECONCILE_H
#include <stdint.h>
#include "vswitch/vswitch.h"

typedef struct qag_diff {
    qvs_op *ops;
    size_t nops;
    const char **conflicts;     /* desired ids held by foreign objects */
    size_t nconflicts;
} qag_diff;

void qag_diff_compute(const qvs_map *desired, const qvs_observed *observed, qag_diff *ret);
void qag_diff_free(qag_diff *d);

/* Exponential backoff: the delay before retry number attempt (1 = after the
 * first failure) is base doubling per attempt, capped at cap. */
uint64_t qag_backoff_us(unsigned attempt, uint64_t base_us, uint64_t cap_us);

#define QAG_RETRY_BASE_US 100000u        /* 100 ms */
#define QAG_RETRY_CAP_US 10000000u       /* 10 s */

/* Failed ops waiting for their next attempt, by object id. An entry also
 * remembers a hash of what was attempted: a different op on the same id (the
 * intent changed) may run at once. */
typedef struct qag_retry {
    qvs_map *m;     /* id → [attempts, next_us, hash] */
} qag_retry;

void qag_retry_init(qag_retry *r);
void qag_retry_free(qag_retry *r);
/* A hash of an op's type and value. */
uint64_t qag_op_hash(const qvs_op *op);
/* May op run at now? */
bool qag_retry_ready(const qag_retry *r, const qvs_op *op, uint64_t now_us);
/* Records op's failure; returns the attempt count. */
unsigned qag_retry_failed(qag_retry *r, const qvs_op *op, uint64_t now_us);
void qag_retry_clear(qag_retry *r, const char *id);
/* Drops entries for ids that no longer need an op. */
void qag_retry_prune(qag_retry *r, const qag_diff *d);
/* The earliest next attempt, or UINT64_MAX if nothing waits. */
uint64_t qag_retry_next(const qag_retry *r);
size_t qag_retry_count(const qag_retry *r);

#endif
