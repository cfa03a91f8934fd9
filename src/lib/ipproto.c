#include "lib/ipproto.h"
#include "lib/util.h"
#include <string.h>
#include <strings.h>

typedef struct qhv_ipproto {
    const char *name;
    int num;
    bool ports;     /* has port ranges */
} qhv_ipproto;

static const qhv_ipproto qhv_ipprotos[] = {
    {"tcp", 6, true}, {"udp", 17, true}, {"sctp", 132, true}, {"dccp", 33, true},
    {"udplite", 136, true}, {"icmp", 1, false}, {"ipv6-icmp", 58, false}, {"ah", 51, false},
    {"esp", 50, false}, {"gre", 47, false}, {"igmp", 2, false}, {"ipip", 4, false},
    {"ipv6-encap", 41, false}, {"ipv6-frag", 44, false}, {"ipv6-nonxt", 59, false},
    {"ipv6-opts", 60, false}, {"ipv6-route", 43, false}, {"ospf", 89, false},
    {"pgm", 113, false}, {"rsvp", 46, false}, {"vrrp", 112, false}, {"egp", 8, false},
    {"hopopt", 0, false}, {"ip", 0, false},
};

int qhv_ipproto_num(const char *p)
{
    if (!p)
        return -1;
    if (!strcmp(p, "icmpv6"))
        return 58;
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qhv_ipprotos); i++)
        if (!strcmp(qhv_ipprotos[i].name, p))
            return qhv_ipprotos[i].num;
    int64_t n;
    return qhv_parse_i64(p, 0, 255, &n) == 0 ? (int)n : -1;
}

const char *qhv_ipproto_name(const char *p)
{
    if (!p)
        return NULL;
    if (!strcasecmp(p, "icmpv6"))
        return "ipv6-icmp";
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qhv_ipprotos); i++)
        if (!strcasecmp(qhv_ipprotos[i].name, p))
            return qhv_ipprotos[i].name;
    return NULL;
}

bool qhv_ipproto_has_ports(int num)
{
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qhv_ipprotos); i++)
        if (qhv_ipprotos[i].num == num)
            return qhv_ipprotos[i].ports;
    return false;
}
