/* dhcp: the DHCP role of network nodes, as Neutron's DHCP agent scheduler
 * has it. An agent whose report says "dhcp": true has a second row in
 * GET /v2.0/agents ("DHCP agent", topic dhcp_agent); every network with a
 * DHCP-enabled subnet is scheduled to [DEFAULT] dhcp_agents_per_network of
 * those (least loaded first), and each scheduling is one network:dhcp port
 * bound to the node, with device_id "dhcp<uuid5(DNS, host)>-<network id>"
 * (Neutron's get_dhcp_agent_device_id) and an address in every DHCP-enabled
 * subnet. The port is the binding: a network is scheduled to a node exactly
 * when such a port is bound there, so nothing else needs keeping in step.
 *
 * Networks move when their node's DHCP agent is dead ([agent]
 * agent_down_time, if [DEFAULT] allow_automatic_dhcp_failover) or removed:
 * the port is re-bound to the new node and keeps its addresses (Neutron
 * reuses the port in the same way: VMs keep their server address).
 *
 * Every function runs inside a write op unless it says otherwise; qj
 * results are owned by the caller. */
#ifndef QHV_MODEL_DHCP_H
#define QHV_MODEL_DHCP_H
#include "model/resource.h"

#define QDHCP_AGENT_TYPE "DHCP agent"
#define QDHCP_DEVICE_ID_LEN 80     /* "dhcp" + uuid + "-" + network id + NUL fits */

/* Neutron's device_id of host's DHCP port on network_id. */
void qdhcp_device_id(const char *host, const char *network_id, char out[QDHCP_DEVICE_ID_LEN]);
/* True if port is a scheduled DHCP port: network:dhcp, bound to a host,
 * and named for that host and its network. */
bool qdhcp_port_scheduled(const qj *port);

/* host's DHCP agent row into *ret (NULL if it has none). Works in a read
 * transaction too. */
int qdhcp_agent_load(qop *op, const char *host, qj **ret, qerr *e);
/* True if that row serves now: alive and admin_state_up. */
bool qdhcp_agent_serves(const qconf *c, const qj *agent, int64_t now);

/* Makes network_id's DHCP ports what scheduling wants: none without a
 * DHCP-enabled subnet; else kept on live nodes, moved off dead or removed
 * ones (gone_host: a host whose DHCP agent is being removed, or NULL),
 * added up to dhcp_agents_per_network, and each with one address on every
 * DHCP-enabled subnet. *changed (may be NULL) is set when something
 * was written. A network that no longer exists is no error. */
int qdhcp_sync_network(qop *op, const char *network_id, const char *gone_host, bool *changed,
                       qerr *e);
/* The same for every network (a DHCP agent came alive or went). */
int qdhcp_sync_all(qop *op, const char *gone_host, bool *changed, qerr *e);
/* A scheduled DHCP port was deleted by a request: its node makes it again
 * (as Neutron's DHCP agent does at its next sync), or, if that node no
 * longer serves, scheduling finds another. */
int qdhcp_port_deleted(qop *op, const qj *port, qerr *e);
/* The DHCP row of host is being deleted: its networks go elsewhere. */
int qdhcp_agent_removed(qop *op, const char *host, qerr *e);

/* The DHCP row's configurations as Neutron's DHCP agent reports them
 * (dhcp_driver, dhcp_lease_duration, networks, subnets, ports). */
int qdhcp_agent_configurations(qop *op, const char *host, qj **ret, qerr *e);

/* Outside any op: moves the networks of dead DHCP agents, if any may move
 * (one write transaction, rolled back when it would change nothing). The
 * server calls it every few seconds. Returns 1 if it moved something. */
int qdhcp_failover(qmodel *m, qerr *e);

/* Neutron's dhcp_agent_scheduler extension (admins only), for
 *   GET    /v2.0/agents/{agent}/dhcp-networks        -> {"networks": [...]}
 *   POST   /v2.0/agents/{agent}/dhcp-networks        {"network_id": N}: the
 *          network is served there too (beyond dhcp_agents_per_network)
 *   DELETE /v2.0/agents/{agent}/dhcp-networks/{N}    no longer there (its
 *          DHCP port goes)
 *   GET    /v2.0/networks/{N}/dhcp-agents            -> {"agents": [...]}
 * collection is "agents" or "networks", id the agent's or network's, sub
 * the network of a DELETE (else NULL). *status and *ret (may be NULL: no
 * body) are the answer's. */
int qdhcp_scheduler_request(qmodel *m, const qctx *ctx, const char *method,
                            const char *collection, const char *id, const char *sub,
                            const qj *body, qj **ret, int *status, qerr *e);

#endif
