/* novasend: the sender of events to Nova. One thread, off the API's: it
 * wakes when a commit recorded events (model->on_nova_events) and at start
 * (what a previous run left pending), sends the oldest pending events in
 * one POST /os-server-external-events, and removes them from the outbox once
 * Nova has answered; the next batch starts send_events_interval after this
 * one started (Neutron's batching: the first event goes at once, the
 * following ones together). Nova or Keystone failing delays events with back-off; an
 * answer about the events themselves (404, 422, ...) ends them. Delivery is
 * at least once: a crash between Nova's answer and the removal sends again.
 *
 * Ownership: qnovasend_start returns a sender stopped and freed by
 * qnovasend_stop (accepts NULL); the model and the configuration are
 * borrowed and must outlive it. qnovasend_status returns a qj the caller
 * frees. */
#ifndef QHV_SERVER_NOVASEND_H
#define QHV_SERVER_NOVASEND_H
#include <stddef.h>
#include "lib/json.h"
#include "model/model.h"

typedef struct qnovasend qnovasend;

/* NULL when [nova] names no Nova (nothing is recorded then). */
qnovasend *qnovasend_start(qmodel *m);
void qnovasend_stop(qnovasend *s);
/* {"enabled", "endpoint", "sent", "rejected", "dropped", "failed_attempts",
 * "pending", "last_error", "last_answer_at"}; s may be NULL (not configured:
 * "pending" still counts what an earlier run left in the outbox). */
qj *qnovasend_status(qnovasend *s, qmodel *m);
/* The status plus "events": up to limit pending events, oldest first. */
int qnovasend_outbox(qnovasend *s, qmodel *m, size_t limit, qj **ret, qerr *e);

#endif
