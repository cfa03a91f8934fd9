/* dhcp: a network node's service (docs/network-node.md): for every network
 * of the plan's "dhcp_networks", a namespace (prefix + network id) holding
 * the network's DHCP port, plugged into the integration bridge by the
 * backend like a VM NIC, with the port's addresses (and 169.254.169.254 for
 * metadata); a dnsmasq serving the plan's "dhcp_hosts" of the network; a
 * metadata proxy (src/agent/metadata.h).
 *
 *   - A change of hosts or options rewrites dnsmasq's files and sends it
 *     SIGHUP; only a change of its command line (subnets, MTU, lease time,
 *     domain) restarts it. Its lease file is kept, in [dhcp] state_path.
 *   - A dnsmasq that died is started again (checked every second), with the
 *     same files and leases; a namespace that was deleted is made again,
 *     the processes left in the old one ended.
 *   - dnsmasq outlives the agent (it daemonizes): an agent that starts again
 *     adopts a running dnsmasq whose command line is what the plan wants and
 *     rewrites no file whose content is right, so a restart changes nothing
 *     and loses no lease. The metadata proxies are the agent's children and
 *     end with it (a restart makes them again).
 *   - A network that leaves the plan (or that a previous run served and the
 *     plan no longer has) is taken down: processes, interface, namespace,
 *     files.
 *
 * Ownership: qag_dhcp_new returns a handle freed with qag_dhcp_free (accepts
 * NULL; leaves dnsmasq running, ends the proxies). It borrows conf, cls and
 * vs, which must outlive it. */
#ifndef QHV_AGENT_DHCP_H
#define QHV_AGENT_DHCP_H
#include <stddef.h>
#include <stdint.h>
#include "agent/config.h"
#include "agent/plan.h"
#include "vswitch/vswitch.h"

typedef struct qag_dhcp qag_dhcp;

/* NULL with err when the backend cannot plug the node's ports or the state
 * path cannot be made. */
qag_dhcp *qag_dhcp_new(const qag_conf *conf, const qvs_class *cls, qvs *vs, char *err,
                       size_t errlen);
void qag_dhcp_free(qag_dhcp *d);
/* Brings every served network in line with plan. Failures are logged and
 * retried (qag_dhcp_due). */
void qag_dhcp_sync(qag_dhcp *d, const qag_plan *plan);
/* When a sync is next needed (a process died, a retry is due), checking the
 * processes at most once a second; UINT64_MAX: not before the plan changes. */
uint64_t qag_dhcp_due(qag_dhcp *d, uint64_t now_us);
/* Networks served (all their parts running). */
size_t qag_dhcp_served(const qag_dhcp *d);

#endif
