/* desired: the translator from a host plan (and the agent's configuration)
 * to the objects the virtual switch must hold (src/vswitch/vswitch.h), for
 * the ports whose VM NIC is present.
 *
 * Objects and their values:
 *
 *   port/<port id>
 *     {"vswitch": name,                  local: [agent] local_network_vswitch; flat, vlan:
 *                                        the first physical_network_vswitch_mappings
 *                                        pattern matching the physical network; nvgre,
 *                                        ip_rewrite: [agent] tunnel_vswitch, else the
 *                                        mapping of "" (as the Hyper-V agent), else the
 *                                        first mapping's vswitch
 *      "network_id", "network_type",
 *      "vlan": id                         (vlan only; flat and local are untagged)
 *      "vsid": id                         (nvgre, ip_rewrite: the VirtualSubnetId)
 *      "mac_address", "mtu",
 *      "admin_state_up": port's and network's,
 *      "port_security": bool,
 *      "mac_spoofing": !port_security, or an allowed address pair has another MAC
 *      "dhcp_guard", "router_guard": port_security (the VM may not act as a DHCP
 *                                        server or send router advertisements)
 *      "dhcp_servers": ["<mac>", ...]    (port_security only, when the plan's network
 *                                        names its DHCP servers: DHCP and DHCPv6
 *                                        answers are taken from these MACs only)
 *      "allowed_addresses": [{"ip_address", "mac_address"}]   (port_security only:
 *                                        fixed IPs and allowed address pairs; what
 *                                        the VM may send from)}
 *   acl/<port id>/ingress, acl/<port id>/egress      (port_security only)
 *     {"port_id", "direction", "default": "deny",
 *      "stateful": false when the port's security groups are stateless (then
 *                  replies are allowed by rules only, never by connection state),
 *      "rules": [{"ethertype", "protocol": null | IANA number,
 *                 "port_range_min", "port_range_max",   (ICMP: type and code)
 *                 "remote_ip_prefixes": null | ["prefix", ...],
 *                 "remote_address_sets": ["<group id>/<ethertype>", ...]}],
 *                                        the allow rules of the port's security
 *                                        groups, one per distinct match (ethertype,
 *                                        protocol, port range) with the union of its
 *                                        remotes: null prefixes = from/to anywhere
 *                                        (then no sets), else the rule matches a
 *                                        remote in one of the sorted prefixes or in
 *                                        a member of one of the named address sets.
 *                                        Rules sorted by match. A backend expands
 *                                        them into its own entries, and adds the
 *                                        usual implicit allowances (ARP, DHCP client,
 *                                        IPv6 ND) as Neutron's firewalls do.
 *      "on_link": ["prefix", ...]       the network's subnets: where its DHCP
 *                                        servers and routers are (a backend that
 *                                        matches addresses only keeps DHCP open
 *                                        by them: Windows Server 2012's port ACLs)
 *      "dhcp_servers": [{"mac_address", "ip_addresses"}]  the plan's network's
 *                                        (present when the plan names them): the
 *                                        only sources of DHCP answers a backend
 *                                        that matches addresses lets in}
 *   address_set/<group id>/<IPv4|IPv6>   (for every set an acl above names)
 *     {"group_id", "ethertype", "addresses": ["10.0.0.5/32", "fd00::5/128", ...]}
 *                                        the group's member addresses of that family
 *                                        (fixed IPs as /32 or /128, allowed address
 *                                        pairs as given), sorted, unique, maybe
 *                                        empty. A membership change rewrites only
 *                                        this object: per-port state stays linear in
 *                                        the number of ports.
 *   lookup_record/<vsid>/<ca>/<mac>, customer_route/<vsid>/<prefix>,
 *   provider_address/<address>
 *     the plan's values unchanged; every one of the plan (they are per virtual
 *     subnet and per host, not per VM NIC).
 *
 * A network node's DHCP port (its id is a "dhcp_networks" value's port.id)
 * is trusted: port_security false, no acl/ objects (it serves DHCP and
 * answers for 169.254.169.254).
 *
 * A port depends on its port/ and acl/ objects, on the lookup records of its
 * own addresses, the customer routes of its virtual subnet and the provider
 * addresses those records name: it is up when all of them are installed.
 *
 * Ownership: qag_desired_compute fills a caller's struct; qag_desired_free
 * frees what it holds (accepts NULL). Nothing borrowed from plan or conf. */
#ifndef QHV_AGENT_DESIRED_H
#define QHV_AGENT_DESIRED_H
#include <stdbool.h>
#include "agent/config.h"
#include "agent/plan.h"
#include "vswitch/objmap.h"

typedef struct qag_dport {
    char *id;
    bool nic;               /* its VM NIC is present */
    bool admin_up;
    const char *problem;    /* static text: why it cannot be wired, or NULL */
    char **deps;            /* ids of the objects it needs (NIC present and no problem) */
    size_t ndeps;
} qag_dport;

typedef struct qag_desired {
    qvs_map *objects;       /* id → value */
    qag_dport *ports;       /* every port of the plan, in plan order */
    size_t nports;
} qag_desired;

void qag_desired_compute(const qag_plan *plan, const qag_conf *conf, const qvs_map *nics,
                         qag_desired *ret);
void qag_desired_free(qag_desired *d);

/* The ACL rule list of a port for one direction ("ingress"/"egress"), as
 * described above (exposed for tests), from groups: the plan's security
 * groups as trees (qag_plan_section). Adds the keys of the address sets it
 * names to sets_used (may be NULL). Caller frees. */
qj *qag_desired_acl_rules(const qvs_map *groups, const qj *port, const char *direction,
                          qvs_map *sets_used);

#endif
