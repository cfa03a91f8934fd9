#include "vswitch/hyperv/hv_wnv.h"
#include "lib/addr.h"
#include "lib/util.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *qhyv_mac12(const char *mac)
{
    qmac m;
    if (!mac || qmac_parse(mac, &m) < 0)
        return NULL;
    char fmt[QMAC_STRLEN];
    qmac_format(&m, fmt);
    char *out = xcalloc(13, 1);
    size_t n = 0;
    for (const char *p = fmt; *p && n < 12; p++)
        if (isxdigit((unsigned char)*p))
            out[n++] = (char)toupper((unsigned char)*p);
    return out;
}

char *qhyv_mac_colon(const char *m)
{
    if (!m || strlen(m) != 12)
        return xstrdup(m ? m : "");
    char *out = xcalloc(18, 1);
    for (int i = 0; i < 6; i++)
        snprintf(out + i * 3, 4, "%c%c%s", tolower((unsigned char)m[2 * i]),
                 tolower((unsigned char)m[2 * i + 1]), i < 5 ? ":" : "");
    return out;
}

char *qhyv_routing_domain(const char *network)
{
    if (qhv_is_uuid(network))
        return xasprintf("{%s}", network);
    uint64_t h1 = 1469598103934665603ull, h2 = 1099511628211ull;
    for (const char *p = network; *p; p++) {
        h1 = (h1 ^ (unsigned char)*p) * 1099511628211ull;
        h2 = (h2 ^ (unsigned char)*p) * 1469598103934665603ull + 1;
    }
    return xasprintf("{%08x-%04x-4%03x-8%03x-%012llx}", (unsigned)(h1 >> 32),
                     (unsigned)(h1 >> 16) & 0xffff, (unsigned)h1 & 0xfff,
                     (unsigned)(h2 >> 48) & 0xfff,
                     (unsigned long long)(h2 & 0xffffffffffffull));
}

qj *qhyv_wnv_lookup(const qj *v, bool has_type)
{
    const qj *vsid = qj_get(v, "vsid");
    const char *ca = qj_get_str(v, "customer_address"), *pa = qj_get_str(v, "provider_address");
    const char *rule = qj_get_str(v, "rule");
    char *mac = qhyv_mac12(qj_get_str(v, "mac_address"));
    if (!qj_is(vsid, QJ_INT) || !ca || !pa || !mac) {
        free(mac);
        return NULL;
    }
    qj *i = qj_object();
    qj_set(i, "__CLASS", qj_str(QHYV_LR_CLASS));
    qj_set(i, "VirtualSubnetID", qj_int(vsid->u.i));
    qj_set(i, "CustomerAddress", qj_str(ca));
    qj_set(i, "MACAddress", qj_str_take(mac));
    qj_set(i, "ProviderAddress", qj_str(pa));
    qj_set(i, "Rule", qj_int(rule && !strcmp(rule, "rewrite") ? QHYV_RULE_NAT : QHYV_RULE_ENCAP));
    if (has_type)
        qj_set(i, "Type", qj_int(QHYV_TYPE_STATIC));
    qj_set(i, "Context", qj_str(QHYV_CONTEXT));
    if (qj_get_str(v, "port_id"))
        qj_set(i, "VMName", qj_str(qj_get_str(v, "port_id")));
    return i;
}

qj *qhyv_wnv_l2only(int64_t vsid, const char *mac, const char *pa, const char *port_id,
                    bool has_type)
{
    /* Windows Server 2012 has no Type: a CustomerAddress 0.0.0.0 record is
     * its gateway wildcard there, never an L2Only record. */
    if (!has_type)
        return NULL;
    char *m = qhyv_mac12(mac);
    if (!m || !pa || !*pa) {
        free(m);
        return NULL;
    }
    qj *i = qj_object();
    qj_set(i, "__CLASS", qj_str(QHYV_LR_CLASS));
    qj_set(i, "VirtualSubnetID", qj_int(vsid));
    qj_set(i, "CustomerAddress", qj_str("0.0.0.0"));
    qj_set(i, "MACAddress", qj_str_take(m));
    qj_set(i, "ProviderAddress", qj_str(pa));
    qj_set(i, "Rule", qj_int(QHYV_RULE_ENCAP));
    if (has_type)
        qj_set(i, "Type", qj_int(QHYV_TYPE_L2ONLY));
    qj_set(i, "Context", qj_str(QHYV_CONTEXT));
    qj_set(i, "VMName", qj_str(port_id));
    return i;
}

qj *qhyv_wnv_route(const qj *v)
{
    const qj *vsid = qj_get(v, "vsid");
    const char *rd = qj_get_str(v, "routing_domain"), *dst = qj_get_str(v, "destination");
    const char *nh = qj_get_str(v, "next_hop");
    if (!qj_is(vsid, QJ_INT) || !rd || !dst || !nh)
        return NULL;
    qj *i = qj_object();
    qj_set(i, "__CLASS", qj_str(QHYV_CR_CLASS));
    qj_set(i, "RoutingDomainID", qj_str_take(qhyv_routing_domain(rd)));
    qj_set(i, "VirtualSubnetID", qj_int(vsid->u.i));
    qj_set(i, "DestinationPrefix", qj_str(dst));
    qj_set(i, "NextHop", qj_str(nh));
    qj_set(i, "Metric", qj_int(255));
    qj_set(i, "CustomerID", qj_str(QHYV_CUSTOMER_ID));
    return i;
}

qj *qhyv_wnv_pa(const qhyv_pa_conf *c)
{
    qj *i = qj_object();
    qj_set(i, "__CLASS", qj_str(QHYV_PA_CLASS));
    qj_set(i, "ProviderAddress", qj_str(c->address));
    qj_set(i, "InterfaceIndex", qj_int(c->ifindex));
    qj_set(i, "PrefixLength", qj_int(c->prefix_len));
    qj_set(i, "VlanID", qj_int(c->vlan));
    return i;
}

qj *qhyv_wnv_provider_route(const qhyv_pa_conf *c)
{
    if (!c->next_hop || !*c->next_hop)
        return NULL;
    qj *i = qj_object();
    qj_set(i, "__CLASS", qj_str(QHYV_PR_CLASS));
    qj_set(i, "InterfaceIndex", qj_int(c->ifindex));
    qj_set(i, "DestinationPrefix", qj_str(strchr(c->address, ':') ? "::/0" : "0.0.0.0/0"));
    qj_set(i, "NextHop", qj_str(c->next_hop));
    qj_set(i, "Metric", qj_int(255));
    qj_set(i, "CustomerID", qj_str(QHYV_CUSTOMER_ID));
    return i;
}

bool qhyv_wnv_via_first_address(const qvs_map *objects, const qj *route, char *prefix, size_t n)
{
    qaddr hop;
    if (qaddr_parse_family(qj_get_str(route, "next_hop"), 4, &hop) < 0 || hop.v == 0)
        return false;
    const char *k;
    qj *r;
    for (size_t i = 0; i < qvs_map_end(objects); i++) {
        qcidr c;
        qaddr first;
        if (!qvs_map_at(objects, i, &k, &r) || strncmp(k, "customer_route/", 15) ||
            qj_get_int(r, "vsid", -1) != qj_get_int(route, "vsid", -2) ||
            !qj_get_str(r, "next_hop") || strcmp(qj_get_str(r, "next_hop"), "0.0.0.0") ||
            qcidr_parse(qj_get_str(r, "destination"), &c) < 0 || c.addr.family != 4 ||
            c.prefixlen > 30)
            continue;
        qaddr net = qcidr_network(&c);
        if (qaddr_add(&net, 1, &first) && qaddr_eq(&first, &hop)) {
            if (prefix)
                snprintf(prefix, n, "%s", qj_get_str(r, "destination"));
            return true;
        }
    }
    return false;
}
