/* hv_acl: a port's acl/ objects (src/agent/desired.h) as Hyper-V ACL
 * entries, shared by the hyperv backend and the PowerShell generator.
 *
 * Extended ACLs (Msvm_EthernetSwitchPortExtendedAclSettingData, 6.3+), per
 * direction (Neutron ingress = Direction 1 Incoming, egress = 2 Outgoing):
 *   - a Deny of everything per family at the lowest weights (IPv4 weight 1,
 *     IPv6 weight 2): the security group's default deny, all protocols;
 *   - allows above them, unique weights per direction: stateful TCP/UDP in
 *     32768–65500, stateless ones in 100–32767 (so that a stateful entry is
 *     met before a stateless ANY that would match the same packet without
 *     creating flow state);
 *   - Stateful only for TCP and UDP allows (Hyper-V refuses stateful ANY;
 *     stateful ICMP is not documented); protocol "any" becomes TCP and UDP
 *     (stateful) plus ANY (stateless); LocalPort carries an ingress rule's
 *     port range, RemotePort an egress rule's (the destination);
 *   - remotes: the rule's prefixes, and the members of its address sets, one
 *     entry each; "anywhere" is 0.0.0.0/0 or ::/0; an IPv6 /128 is written
 *     as the bare address (Hyper-V refuses /128, prior art bug 1505578);
 *   - the implicit allowances of Neutron's firewalls: DHCP client (v4 and
 *     v6; answers only from the network's DHCP servers when the acl/ value
 *     names them: their addresses and link-local EUI-64 addresses) and
 *     ICMPv6 (neighbour discovery cannot be singled out by type, so all
 *     ICMPv6 is let through: an approximation, docs/hyperv.md).
 * What cannot be expressed (ICMP type/code, ports of protocols other than
 * TCP/UDP) is left out (the port is stricter than asked, never looser) and
 * described in problem.
 *
 * Port ACLs (Msvm_EthernetSwitchPortAclSettingData, 6.2): remote prefixes
 * only, longest prefix match: a Deny wildcard per family and direction and
 * an Allow per prefix of the rules without protocol or ports; an "anywhere"
 * allow drops that family's deny (an equal-prefix Allow/Deny tie is
 * undocumented and never generated). Everything else is a problem. DHCP and
 * neighbour discovery are never cut: the acl/ value's "on_link" prefixes
 * (the network's subnets), fe80::/10, and outgoing ff00::/8 and
 * 255.255.255.255 are allowed. With the dialect QHYV_ACL_NONE (the
 * operator's choice, [hyperv] port_acls_2012 = none) no entry is made and
 * the problem says security groups are not enforced.
 *
 * Entries are JSON objects of the class's properties (with "__CLASS"); deny
 * entries carry their "Weight", allow entries none (the caller assigns). The
 * identity of an entry (what a diff compares) is qhyv_acl_identity.
 *
 * Ownership: returned values belong to the caller. */
#ifndef QHV_VSWITCH_HYPERV_HV_ACL_H
#define QHV_VSWITCH_HYPERV_HV_ACL_H
#include <stdbool.h>
#include "lib/json.h"
#include "vswitch/objmap.h"

#define QHYV_XACL_CLASS "Msvm_EthernetSwitchPortExtendedAclSettingData"
#define QHYV_ACL_CLASS "Msvm_EthernetSwitchPortAclSettingData"
#define QHYV_W_STATELESS_LO 100
#define QHYV_W_STATELESS_HI 32767
#define QHYV_W_STATEFUL_LO 32768
#define QHYV_W_STATEFUL_HI 65500

/* The dialects: 2012's port ACLs (0, as a false "extended" says), 6.3+'s
 * extended ACLs (1), or none at all (2012 with port_acls_2012 = none). */
enum { QHYV_ACL_PORT = 0, QHYV_ACL_EXTENDED = 1, QHYV_ACL_NONE = 2 };

/* The entries of acl (an acl/ value) with sets (address_set id "<group>/<eth>"
 * → address_set value; a missing set counts as empty) in dialect.
 * problem: "" or what was left out. */
qj *qhyv_acl_entries(const qj *acl, const qvs_map *sets, int dialect, char *problem,
                     size_t plen);

/* The identity of an entry (either class): its matching and action
 * properties in a fixed order, as compact JSON (caller frees). */
char *qhyv_acl_identity(const qj *entry);

/* 1 for a stateful allow (upper band), 0 for another allow, -1 for a deny. */
int qhyv_acl_band(const qj *entry);

/* Assigns weights to the entries without one, in their band, from the top
 * down, skipping the weights in used (a map "<weight>" → any; weights taken
 * are added to it). false if a band ran out. */
bool qhyv_acl_weigh(qj *entries, qvs_map *used);

#endif
