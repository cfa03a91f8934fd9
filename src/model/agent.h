/* agent: agents as the host channel sees them — heartbeats that create and
 * refresh the agent rows of GET /v2.0/agents, liveness, port status reports,
 * and the binding decision for ports on an agent's host. */
#ifndef QHV_MODEL_AGENT_H
#define QHV_MODEL_AGENT_H
#include "model/resource.h"

/* A heartbeat from host: body {"agent": {...}, "ports": [{"id", "status"}]}.
 * Creates or refreshes the agent, re-binds the host's ports when the agent
 * comes alive or changes what it can serve, applies port statuses of ports
 * bound to host. *ret: {"revision": global revision, "report_interval": s}. */
int qagent_report_request(qmodel *m, const char *host, const qj *body, qj **ret, qerr *e);

/* Decides port's binding from the live agent on its binding:host_id and the
 * port's network: sets binding:vif_type and binding:vif_details. */
int qagent_bind_port(qop *op, qj *port, qerr *e);

/* True if the agent document is alive now. */
bool qagent_alive(const qconf *c, const qj *agent, int64_t now);

#endif
