/* agent: qhv-agent's loop (DESIGN.md, "The agent loop"). Single-threaded:
 *
 *   report (heartbeat, start_flag first) ─┐   the channel (HTTP, async):
 *   watch the plan (long-poll) ───────────┤   plan answers patch the plan,
 *                                         │   reports carry statuses and the
 *                                         ▼   applied revision
 *   reconcile: dump (observed) → desired (plan + NICs present) → diff →
 *              operate in batches (failed ops back off 100 ms → 10 s, others go
 *              on) → dump again to confirm → port statuses, applied revision
 *
 * A reconcile runs when the plan changed, the backend says the switch changed
 * (polled every 200 ms), a retry is due, or at every report_interval (drift).
 * Nothing is reconciled before the first plan arrives (no plan is not an
 * empty plan), and the first plan is fetched only after the first heartbeat
 * succeeded, so the server computes it with this agent alive.
 *
 * Ports: ACTIVE once every object the port needs is confirmed on the switch
 * (and it is administratively up), DOWN when its VM NIC is absent (or it is
 * administratively down). Each change is reported once; on start every
 * port's status is reported. Ports with objects still pending keep their
 * last reported status (DOWN if they had none).
 *
 * Several servers ([agent] server_url a list; agent/servers.h): when the
 * server in use gets no answer or answers 5xx, the agent moves to the next,
 * keeps its plan and what it applied, reports to the new server first (as
 * at start) and then watches it since the revision of the plan it holds
 * (docs/host-channel.md, "Several servers").
 *
 * applied_revision: the plan revision whose desired objects are all confirmed
 * (no failed op, no conflict with a foreign object, no unwirable port). It is
 * reported at once when a change of the plan's content has been applied, and
 * otherwise with the next heartbeat.
 *
 * Ownership: qag_new returns an agent freed with qag_free (accepts NULL); it
 * borrows conf, which must outlive it. */
#ifndef QHV_AGENT_AGENT_H
#define QHV_AGENT_AGENT_H
#include <signal.h>
#include "agent/config.h"

typedef struct qag qag;

qag *qag_new(const qag_conf *conf, char *err, size_t errlen);
void qag_free(qag *a);
/* Runs until *stop is non-zero. */
void qag_run(qag *a, volatile sig_atomic_t *stop);

#endif
