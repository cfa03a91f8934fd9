/* dhcp_conf: what dnsmasq is told for one served network, computed from the
 * network's "dhcp_networks" value and its "dhcp_hosts" values of the plan
 * (docs/network-node.md, docs/host-channel.md). Pure functions, so that the
 * files are tested without dnsmasq.
 *
 *   hosts       --dhcp-hostsfile: MAC,FQDN,address[,set:port-<id>] per served
 *               address (IPv4; IPv6 in "[...]" on stateful subnets), and
 *               MAC,set:port-<id> for a port that has options but no served
 *               address (dnsmasq rereads it on SIGHUP)
 *   addn_hosts  --addn-hosts: address<TAB>FQDN name (DNS for the network)
 *   opts        --dhcp-optsfile: per subnet (tag subnet-<id>) router, DNS
 *               servers, classless static routes (121 and Windows' 249:
 *               host routes, other on-link IPv4 subnets, 169.254.169.254 via
 *               this node's address when metadata is on), IPv6 DNS and domain
 *               search; per port (tag port-<id>) its extra_dhcp_opts
 *   metadata    the metadata proxy's map: "address device_id project_id" per
 *               IPv4 address of an instance's port
 *   argv        dnsmasq's command line: one --dhcp-range per DHCP subnet
 *               (IPv4 static; IPv6 static, ra-only or ra-stateless as
 *               ipv6_ra_mode/ipv6_address_mode say), MTU (option 26),
 *               domain, lease time; only what can change by a restart, so
 *               that host and option changes are a SIGHUP
 *
 * Values that would break a file's syntax (a MAC, address or name that does
 * not parse, a comma or newline where none may be) leave their entry out.
 *
 * Ownership: qag_dnsmasq_render fills a caller's struct with strings and an
 * argv it owns; qag_dnsmasq_free frees them (accepts NULL). */
#ifndef QHV_AGENT_DHCP_CONF_H
#define QHV_AGENT_DHCP_CONF_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/json.h"

#define QAG_METADATA_IP "169.254.169.254"

typedef struct qag_dnsmasq {
    char *hosts, *addn_hosts, *opts, *metadata;
    char **argv;            /* NULL-terminated; argv[0] is the dnsmasq program */
    size_t argc;
    char **addrs;           /* the DHCP port's addresses in the namespace, "a/len" */
    size_t naddrs;
    long mtu;               /* 0: unknown */
} qag_dnsmasq;

typedef struct qag_dnsmasq_where {
    const char *dnsmasq;    /* program */
    const char *dir;        /* the network's state directory */
    const char *ifname;     /* the DHCP port's interface in the namespace */
    bool metadata;          /* push the metadata route and hold 169.254.169.254 */
    bool debug;             /* log DHCP to <dir>/dnsmasq.log */
} qag_dnsmasq_where;

void qag_dnsmasq_render(const qj *net, const qj *const *hosts, size_t nhosts,
                        const qag_dnsmasq_where *w, qag_dnsmasq *ret);
void qag_dnsmasq_free(qag_dnsmasq *d);

#endif
