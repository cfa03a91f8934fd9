/* subnet: what other modules need to know of a stored subnet, parsed once. */
#ifndef QHV_MODEL_SUBNET_H
#define QHV_MODEL_SUBNET_H
#include "lib/addr.h"
#include "lib/json.h"
#include "model/alloc.h"

typedef struct qsubnet_info {
    const char *id;          /* borrowed from the document */
    qcidr cidr;              /* normalised (host bits clear) */
    bool has_gateway;
    qaddr gateway;
    qrange *pools;           /* owned */
    size_t npools;
    bool auto_address;       /* IPv6 SLAAC or DHCPv6-stateless: EUI-64 addresses */
} qsubnet_info;

/* Parses a stored subnet document; -1 if it is corrupt. */
int qsubnet_info_parse(const qj *subnet, qsubnet_info *ret);
/* Neutron's is_auto_address_subnet: its ipv6_address_mode or ipv6_ra_mode
 * is slaac or dhcpv6-stateless (ports get EUI-64 addresses there). */
bool qsubnet_auto_address(const qj *subnet);
void qsubnet_info_free(qsubnet_info *s);
/* True if a is a usable host address of the subnet (not the network
 * address, not the IPv4 broadcast). */
bool qsubnet_host_ok(const qsubnet_info *s, const qaddr *a);
/* Neutron's CIDR check of attribute a's value s (a network address, no host
 * bits): 0 and *ret, or -1 with e set (400). */
struct qattr;
int qsubnet_check_cidr(const struct qattr *a, const char *s, qcidr *ret, qerr *e);

#endif
