/* feed: the host plan feed behind the channel's watch. For every host an
 * agent has asked about, it keeps the current plan, the revision it last
 * changed at, and a ring of recent deltas. After commits (debounced) it
 * recomputes those hosts' plans in full (qplan_compute), records a delta for
 * each host whose plan changed, and wakes only that host's waiting agents.
 *
 * Ownership: qfeed_new returns a feed freed by qfeed_free (accepts NULL),
 * which must come after qhttp_stop; qfeed_shutdown first wakes every
 * waiting request. Responses returned through *ret are owned by the caller. */
#ifndef QHV_SERVER_FEED_H
#define QHV_SERVER_FEED_H
#include "model/model.h"

typedef struct qfeed qfeed;

qfeed *qfeed_new(qmodel *m);
void qfeed_shutdown(qfeed *f);
void qfeed_free(qfeed *f);

/* {"host", "revision", "plan"}: the host's current plan. */
int qfeed_full(qfeed *f, const char *host, qj **ret, qerr *e);

/* The watch. Returns 1 with *ret = a delta ({"host","revision","since",
 * "delta"}) or a full plan when R can't be diffed from; 0 when the request
 * was suspended to wait (up to wait_s seconds): the feed resumes conn later
 * and the handler calls again with wait_s = 0. slot is the request's slot
 * (it holds the waiter meanwhile). -1 on error. */
int qfeed_watch(qfeed *f, const char *host, int64_t since, int wait_s, void *conn, void **slot,
                qj **ret, qerr *e);
/* Frees a request's waiter (the http layer's slot_free, and after resume). */
void qfeed_waiter_free(void *slot);
/* Ends a request's wait now (its client has gone): the request is resumed and
 * answered at once, which lets the http layer see the closed connection. */
void qfeed_waiter_gone(void *slot);

/* {"revision", "hosts": [{"host", "alive", "plan_revision", "applied_revision",
 * "in_sync"}]} for every agent (qhvctl wait). */
int qfeed_status(qfeed *f, qj **ret, qerr *e);

#endif
