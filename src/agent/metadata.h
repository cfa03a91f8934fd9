/* metadata: the metadata proxy of one served network (docs/network-node.md).
 *
 * A child process of the agent, one per network (as Neutron's haproxy per
 * network): it opens its listening socket on 169.254.169.254:[dhcp]
 * metadata_port inside the network's namespace, then returns to the agent's
 * namespace, from where it reaches Nova's metadata API. For each request it
 * finds the instance from the client's address in the network's map file
 * (written by the agent, src/agent/dhcp_conf.h; reread when it changes) and
 * forwards the request with X-Forwarded-For (the client's address),
 * X-Instance-ID (the port's device_id), X-Tenant-ID (its project) and
 * X-Instance-ID-Signature (hex HMAC-SHA256 of the instance id with
 * [DEFAULT] metadata_proxy_shared_secret), as Neutron's proxy does. An
 * address the map does not hold gets 404 and Nova is not asked.
 *
 * Each request is served by a child of its own (at most 32 at once per
 * network), with timeouts on every read and on the upstream call, so a slow
 * client or a slow Nova holds only its own request.
 *
 * The child ends with the agent (PR_SET_PDEATHSIG) or on SIGTERM.
 *
 * Ownership: nothing is returned but a pid; the child owns its copies. */
#ifndef QHV_AGENT_METADATA_H
#define QHV_AGENT_METADATA_H
#include <stddef.h>
#include "agent/config.h"

/* Starts the proxy of the namespace netns with map file map_path: its pid,
 * or -1 with err. */
int qag_metadata_spawn(const qag_conf *conf, const char *netns, const char *map_path, char *err,
                       size_t errlen);
/* hex(HMAC-SHA256(secret, id)) into out (65 bytes). */
void qag_metadata_sign(const char *secret, const char *id, char out[65]);

#endif
