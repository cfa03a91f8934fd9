/* ipproto: the IP protocols a security group rule may name (Neutron's list),
 * by name and IANA number. One table for the server's validation and the
 * agent's translation. Returns static data only. */
#ifndef QHV_IPPROTO_H
#define QHV_IPPROTO_H
#include <stdbool.h>
#include <stddef.h>

/* The protocol number of a normalised protocol value: a known lowercase name
 * ("tcp", "ipv6-icmp", "icmpv6", ...) or a decimal number 0..255. -1 for NULL
 * ("any") or an unknown name. */
int qhv_ipproto_num(const char *p);
/* The canonical lowercase name of a name given in any case (also "icmpv6" for
 * "ipv6-icmp"), or NULL if it is not a known name. */
const char *qhv_ipproto_name(const char *p);
/* Whether rules of protocol number num take port ranges (TCP, UDP, SCTP, DCCP,
 * UDP-Lite). */
bool qhv_ipproto_has_ports(int num);

#endif
