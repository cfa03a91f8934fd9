/* ipam: fixed IPs of ports. Allocation rows (subnet, address) are unique in
 * the store, and writes are serialised, so an address is never given twice,
 * also under concurrent creates. */
#ifndef QHV_MODEL_IPAM_H
#define QHV_MODEL_IPAM_H
#include "lib/addr.h"
#include "model/model.h"

/* Computes the port's fixed_ips from requested (NULL = automatic: one IPv4,
 * one stateful IPv6) keeping what current already has, records the
 * allocations, releases what is no longer wanted, and returns the normalised
 * list in *ret (caller owns). Every port but a router's also gets its EUI-64
 * address on every SLAAC/DHCPv6-stateless subnet, requested or not (Neutron). */
int qipam_assign(qop *op, const char *network_id, const char *port_id, const qmac *mac,
                 bool router_port, const qj *requested, const qj *current, qj **ret, qerr *e);
/* The port's fixed_ips after its MAC became mac: its EUI-64 addresses
 * follow the new MAC (Neutron), the others stay. */
int qipam_readdress(qop *op, const char *network_id, const char *port_id, const qmac *mac,
                    bool router_port, const qj *current, qj **ret, qerr *e);
/* A new SLAAC subnet: every port on the network but routers' gets its
 * EUI-64 address there (Neutron's add_auto_addrs_on_network_ports). */
int qipam_add_auto_subnet(qop *op, const qj *subnet, qerr *e);
int qipam_release_port(qop *op, const char *port_id, qerr *e);
/* Ids of ports holding an address on subnet_id (caller owns the array). */
int qipam_subnet_ports(qop *op, const char *subnet_id, qj **ret, qerr *e);
/* Drops every allocation on subnet_id. */
int qipam_release_subnet(qop *op, const char *subnet_id, qerr *e);

#endif
