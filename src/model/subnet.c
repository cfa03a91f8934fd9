/* subnet: the subnet resource — CIDR, gateway, allocation pools, DNS, host
 * routes and IPv6 modes, validated as one whole on create and on update. */
#include "model/subnet.h"
#include "model/subnetpool.h"
#include "model/rbac.h"
#include "model/dhcp.h"
#include "model/ipam.h"
#include "model/resources.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

static const char *const qsub_v6_modes[] = {"slaac", "dhcpv6-stateful", "dhcpv6-stateless", NULL};

/* ---------- parsed view ---------- */

static int qsub_pool_parse(const qj *p, int family, qrange *r)
{
    qaddr a, b;
    if (qaddr_parse_family(qj_get_str(p, "start"), family, &a) < 0 ||
        qaddr_parse_family(qj_get_str(p, "end"), family, &b) < 0)
        return -1;
    r->lo = a.v;
    r->hi = b.v;
    return 0;
}

int qsubnet_info_parse(const qj *s, qsubnet_info *ret)
{
    memset(ret, 0, sizeof *ret);
    ret->id = qj_get_str(s, "id");
    if (!ret->id || qcidr_parse(qj_get_str(s, "cidr") ? qj_get_str(s, "cidr") : "", &ret->cidr) < 0)
        return -1;
    const char *gw = qj_get_str(s, "gateway_ip");
    if (gw && qaddr_parse(gw, &ret->gateway) == 0)
        ret->has_gateway = true;
    const qj *pools = qj_get(s, "allocation_pools");
    ret->pools = xcalloc(qj_len(pools) + 1, sizeof *ret->pools);
    for (size_t i = 0; i < qj_len(pools); i++)
        if (qsub_pool_parse(qj_at(pools, i), ret->cidr.addr.family, &ret->pools[ret->npools]) == 0)
            ret->npools++;
    ret->auto_address = qsubnet_auto_address(s);
    return 0;
}

bool qsubnet_auto_address(const qj *s)
{
    static const char *const keys[] = {"ipv6_address_mode", "ipv6_ra_mode"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(keys); i++) {
        const char *m = qj_get_str(s, keys[i]);
        if (m && (!strcmp(m, "slaac") || !strcmp(m, "dhcpv6-stateless")))
            return true;
    }
    return false;
}

void qsubnet_info_free(qsubnet_info *s)
{
    if (!s)
        return;
    free(s->pools);
    s->pools = NULL;
}

bool qsubnet_host_ok(const qsubnet_info *s, const qaddr *a)
{
    if (!qcidr_contains(&s->cidr, a))
        return false;
    if (qcidr_size(&s->cidr) <= 2 && s->cidr.addr.family == 4)
        return true;    /* /31 and /32 have no network or broadcast address */
    qaddr net = qcidr_network(&s->cidr), last = qcidr_last(&s->cidr);
    if (qaddr_eq(a, &net))
        return false;
    return !(s->cidr.addr.family == 4 && qaddr_eq(a, &last));
}

/* ---------- attribute checks ---------- */

/* fmt is always a literal at the call sites, with one %s for arg. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int qsub_bad(const qattr *a, qerr *e, const char *fmt, const char *arg)
{
    char why[400];
    snprintf(why, sizeof why, fmt, arg);
    return qerr_set(e, QE_BAD_REQUEST, "Invalid input for %s. Reason: %s.", a->name, why);
}
#pragma GCC diagnostic pop

int qsubnet_check_cidr(const qattr *a, const char *s, qcidr *ret, qerr *e)
{
    if (!s || qcidr_parse(s, ret) < 0)
        return qsub_bad(a, e, "'%s' is not a valid IP subnet", s ? s : "?");
    if (!qcidr_is_network(ret)) {
        char norm[QCIDR_STRLEN], why[300];
        qcidr n = {qcidr_network(ret), ret->prefixlen};
        qcidr_format(&n, norm);
        snprintf(why, sizeof why, "'%s' isn't a recommended CIDR, it should be '%s'", s, norm);
        return qerr_set(e, QE_BAD_REQUEST, "Invalid input for %s. Reason: %s.", a->name, why);
    }
    return 0;
}

static int qsub_check_cidr(qop *op, const qattr *a, qj **v, qerr *e)
{
    qcidr c;
    if (qsubnet_check_cidr(a, qj_as_str(*v), &c, e) < 0)
        return -1;
    char norm[QCIDR_STRLEN];
    qcidr_format(&c, norm);
    qj_free(*v);
    *v = qj_str(norm);
    return 0;
}

static int qsub_check_ip(qop *op, const qattr *a, qj **v, qerr *e)
{
    qaddr ad;
    const char *s = qj_as_str(*v);
    if (!s || qaddr_parse(s, &ad) < 0)
        return qsub_bad(a, e, "'%s' is not a valid IP address", s ? s : "?");
    char norm[QADDR_STRLEN];
    qaddr_format(&ad, norm);
    qj_free(*v);
    *v = qj_str(norm);
    return 0;
}

static int qsub_check_version(qop *op, const qattr *a, qj **v, qerr *e)
{
    if ((*v)->u.i != 4 && (*v)->u.i != 6) {
        char s[32];
        snprintf(s, sizeof s, "%lld", (long long)(*v)->u.i);
        return qsub_bad(a, e, "'%s' is not in [4, 6]", s);
    }
    return 0;
}

static int qsub_check_pools(qop *op, const qattr *a, qj **v, qerr *e)
{
    qj *out = qj_array();
    for (size_t i = 0; i < qj_len(*v); i++) {
        const qj *p = qj_at(*v, i);
        qaddr s, t;
        if (!qj_is(p, QJ_OBJECT) || qj_len(p) != 2 || !qj_get_str(p, "start") ||
            !qj_get_str(p, "end")) {
            qj_free(out);
            return qsub_bad(a, e, "%s", "each pool must be {\"start\": IP, \"end\": IP}");
        }
        if (qaddr_parse(qj_get_str(p, "start"), &s) < 0 || qaddr_parse(qj_get_str(p, "end"), &t) < 0) {
            qj_free(out);
            return qsub_bad(a, e, "'%s' has an invalid IP address", qj_get_str(p, "start"));
        }
        char bs[QADDR_STRLEN], bt[QADDR_STRLEN];
        qaddr_format(&s, bs);
        qaddr_format(&t, bt);
        qj *np = qj_object();
        qj_set(np, "start", qj_str(bs));
        qj_set(np, "end", qj_str(bt));
        qj_append(out, np);
    }
    qj_free(*v);
    *v = out;
    return 0;
}

static int qsub_check_dns(qop *op, const qattr *a, qj **v, qerr *e)
{
    if ((int64_t)qj_len(*v) > op->m->conf->max_dns_nameservers)
        return qerr_set(e, QE_DNS_EXHAUSTED, "Unable to complete operation for new subnet. The "
                                             "number of DNS nameservers exceeds the limit %lld.",
                        (long long)op->m->conf->max_dns_nameservers);
    qj *out = qj_array();
    for (size_t i = 0; i < qj_len(*v); i++) {
        qaddr ad;
        const char *s = qj_as_str(qj_at(*v, i));
        if (!s || qaddr_parse(s, &ad) < 0) {
            qj_free(out);
            return qsub_bad(a, e, "'%s' is not a valid nameserver", s ? s : "?");
        }
        char norm[QADDR_STRLEN];
        qaddr_format(&ad, norm);
        for (size_t j = 0; j < qj_len(out); j++)
            if (!strcmp(qj_as_str(qj_at(out, j)), norm)) {
                qj_free(out);
                return qsub_bad(a, e, "Duplicate nameserver '%s'", norm);
            }
        qj_append(out, qj_str(norm));
    }
    qj_free(*v);
    *v = out;
    return 0;
}

static int qsub_check_routes(qop *op, const qattr *a, qj **v, qerr *e)
{
    if ((int64_t)qj_len(*v) > op->m->conf->max_subnet_host_routes)
        return qerr_set(e, QE_ROUTES_EXHAUSTED, "Unable to complete operation for new subnet. "
                                                "The number of host routes exceeds the limit "
                                                "%lld.",
                        (long long)op->m->conf->max_subnet_host_routes);
    qj *out = qj_array();
    for (size_t i = 0; i < qj_len(*v); i++) {
        const qj *r = qj_at(*v, i);
        qcidr d;
        qaddr nh;
        const char *ds = qj_get_str(r, "destination"), *ns = qj_get_str(r, "nexthop");
        if (!qj_is(r, QJ_OBJECT) || qj_len(r) != 2 || !ds || !ns || qcidr_parse(ds, &d) < 0 ||
            qaddr_parse(ns, &nh) < 0 || d.addr.family != nh.family) {
            qj_free(out);
            return qsub_bad(a, e, "%s", "each host route must be {\"destination\": CIDR, "
                                        "\"nexthop\": IP} of one IP version");
        }
        char bd[QCIDR_STRLEN], bn[QADDR_STRLEN];
        qcidr n = {qcidr_network(&d), d.prefixlen};
        qcidr_format(&n, bd);
        qaddr_format(&nh, bn);
        qj *o = qj_object();
        qj_set(o, "destination", qj_str(bd));
        qj_set(o, "nexthop", qj_str(bn));
        for (size_t j = 0; j < qj_len(out); j++)
            if (qj_equal(qj_at(out, j), o)) {
                qj_free(o);
                qj_free(out);
                return qsub_bad(a, e, "Duplicate hostroute '%s'", bd);
            }
        qj_append(out, o);
    }
    qj_free(*v);
    *v = out;
    return 0;
}

static int qsub_check_pool_id(qop *op, const qattr *a, qj **v, qerr *e)
{
    if (qj_is(*v, QJ_NULL) || qhv_is_uuid((*v)->u.str.s))
        return 0;
    return qsub_bad(a, e, "'%s' is not a valid UUID", (*v)->u.str.s);
}

/* ---------- whole-subnet rules ---------- */

static int qsub_invalid(qerr *e, const char *msg)
{
    return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: %s", msg);
}

/* Neutron's default pools: the subnet minus network (and IPv4 broadcast)
 * minus the gateway. */
static qj *qsub_default_pools(const qcidr *c, const qaddr *gw)
{
    qj *pools = qj_array();
    qaddr first = qcidr_network(c), last = qcidr_last(c);
    qaddr lo, hi;
    if (qaddr_eq(&first, &last)) {
        lo = hi = first;
    } else {
        qaddr_add(&first, 1, &lo);
        hi = last;
        if (c->addr.family == 4)
            qaddr_sub(&last, 1, &hi);
        if (qaddr_cmp(&lo, &hi) >= 0)
            return pools;
    }
    qaddr seg[2][2] = {{lo, hi}};
    int nseg = 1;
    if (gw && qaddr_cmp(gw, &lo) >= 0 && qaddr_cmp(gw, &hi) <= 0) {
        nseg = 0;
        qaddr a, b;
        if (qaddr_cmp(gw, &lo) > 0 && qaddr_sub(gw, 1, &b)) {
            seg[nseg][0] = lo;
            seg[nseg][1] = b;
            nseg++;
        }
        if (qaddr_cmp(gw, &hi) < 0 && qaddr_add(gw, 1, &a)) {
            seg[nseg][0] = a;
            seg[nseg][1] = hi;
            nseg++;
        }
    }
    for (int i = 0; i < nseg; i++) {
        char s[QADDR_STRLEN], t[QADDR_STRLEN];
        qaddr_format(&seg[i][0], s);
        qaddr_format(&seg[i][1], t);
        qj *p = qj_object();
        qj_set(p, "start", qj_str(s));
        qj_set(p, "end", qj_str(t));
        qj_append(pools, p);
    }
    return pools;
}

static int qsub_validate(qop *op, qj *sub, bool creating, qerr *e)
{
    qcidr c;
    char msg[600];
    const char *cidr = qj_get_str(sub, "cidr");
    qcidr_parse(cidr, &c);
    int64_t version = qj_get(sub, "ip_version")->u.i;
    int fam = c.addr.family;
    if (version != fam) {
        snprintf(msg, sizeof msg, "Cidr %s does not match ip_version %lld", cidr,
                 (long long)version);
        return qsub_invalid(e, msg);
    }
    /* IPv6 modes. */
    const char *ra = qj_get_str(sub, "ipv6_ra_mode"), *am = qj_get_str(sub, "ipv6_address_mode");
    if ((ra || am) && fam == 4)
        return qsub_invalid(e, "ipv6_ra_mode and ipv6_address_mode can only be set on IPv6 "
                               "subnets.");
    if (ra && am && strcmp(ra, am)) {
        snprintf(msg, sizeof msg, "ipv6_ra_mode set to '%s' with ipv6_address_mode set to '%s' "
                                  "is not valid. If both attributes are set, they must be the "
                                  "same value", ra, am);
        return qsub_invalid(e, msg);
    }
    const qj *dhcp = qj_get(sub, "enable_dhcp");
    if ((ra || am) && dhcp && !dhcp->u.b)
        return qsub_invalid(e, "ipv6_ra_mode or ipv6_address_mode cannot be set when "
                               "enable_dhcp is set to False.");
    if (qsubnet_auto_address(sub) && c.prefixlen != 64) {
        snprintf(msg, sizeof msg, "Invalid CIDR %s for IPv6 address mode. OpenStack uses the "
                                  "EUI-64 address format, which requires the prefix to be /64",
                 cidr);
        return qsub_invalid(e, msg);
    }
    /* Gateway: automatic on create when not given ("" is the table's "not
     * given"; a caller's "" fails the IP check before it gets here). */
    qj *gwv = qj_get(sub, "gateway_ip");
    qaddr gw;
    bool has_gw = false;
    if (qj_is(gwv, QJ_STRING) && !*gwv->u.str.s) {
        qaddr net = qcidr_network(&c);
        if (qcidr_size(&c) > 2 && qaddr_add(&net, 1, &gw)) {
            char s[QADDR_STRLEN];
            qaddr_format(&gw, s);
            qj_set(sub, "gateway_ip", qj_str(s));
            has_gw = true;
        } else {
            qj_set(sub, "gateway_ip", qj_null());
        }
    } else if (qj_is(gwv, QJ_STRING)) {
        qaddr_parse(gwv->u.str.s, &gw);
        has_gw = true;
        if (gw.family != fam) {
            snprintf(msg, sizeof msg, "gateway_ip %s does not match the subnet's IP version",
                     gwv->u.str.s);
            return qsub_invalid(e, msg);
        }
        qsubnet_info tmp = {.cidr = c};
        if (qcidr_contains(&c, &gw) && !qsubnet_host_ok(&tmp, &gw)) {
            snprintf(msg, sizeof msg, "Gateway is not valid on subnet (%s is its network or "
                                      "broadcast address).", gwv->u.str.s);
            return qsub_invalid(e, msg);
        }
    }
    /* Pools: automatic when not given (null is the table's "not given"). */
    qj *pools = qj_get(sub, "allocation_pools");
    if (qj_is(pools, QJ_NULL)) {
        qj_set(sub, "allocation_pools", qsub_default_pools(&c, has_gw ? &gw : NULL));
        return 0;
    }
    qaddr first = qcidr_network(&c), last = qcidr_last(&c), lo = first, hi = last;
    if (qcidr_size(&c) > 1)
        qaddr_add(&first, 1, &lo);
    if (fam == 4 && qcidr_size(&c) > 2)
        qaddr_sub(&last, 1, &hi);
    size_t n = qj_len(pools);
    qrange *rs = xcalloc(n + 1, sizeof *rs);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const qj *p = qj_at(pools, i);
        qaddr s, t;
        qaddr_parse(qj_get_str(p, "start"), &s);
        qaddr_parse(qj_get_str(p, "end"), &t);
        char range[2 * QADDR_STRLEN + 2];
        snprintf(range, sizeof range, "%s-%s", qj_get_str(p, "start"), qj_get_str(p, "end"));
        if (s.family != fam || t.family != fam || qaddr_cmp(&s, &t) > 0) {
            rc = qerr_set(e, QE_POOL_INVALID, "The allocation pool %s is not valid.", range);
        } else if (qaddr_cmp(&s, &lo) < 0 || qaddr_cmp(&t, &hi) > 0) {
            rc = qerr_set(e, QE_POOL_OUT_OF_BOUNDS, "The allocation pool %s spans beyond the "
                                                    "subnet cidr %s.", range, cidr);
        } else if (has_gw && qaddr_cmp(&gw, &s) >= 0 && qaddr_cmp(&gw, &t) <= 0) {
            char g[QADDR_STRLEN];
            qaddr_format(&gw, g);
            rc = qerr_set(e, QE_GATEWAY_CONFLICT, "Gateway ip %s conflicts with allocation pool "
                                                  "%s", g, range);
        }
        rs[i] = (qrange){s.v, t.v};
        for (size_t j = 0; j < i && rc == 0; j++)
            if (rs[j].lo <= rs[i].hi && rs[i].lo <= rs[j].hi)
                rc = qerr_set(e, QE_POOL_OVERLAP, "Found overlapping allocation pools: %s-%s "
                                                  "and %s for subnet %s.",
                              qj_get_str(qj_at(pools, j), "start"),
                              qj_get_str(qj_at(pools, j), "end"), range, cidr);
    }
    free(rs);
    (void)creating;
    return rc;
}

static int qsub_on_create(qop *op, qj *sub, qerr *e)
{
    const char *nid = qj_get_str(sub, "network_id");
    qj *net;
    if (qres_load(op, &qres_network, nid, &net, e) < 0)
        return -1;
    /* Only the network's owner (or an admin) adds subnets; others must not
     * even learn that a private network exists. */
    int rc = qnet_usable(op, net, e);
    if (rc == 1)
        rc = qerr_set(e, QE_POLICY, "rule:create_subnet is disallowed by policy");
    if (rc == 0)
        rc = qsubnetpool_allocate(op, sub, e);
    if (rc == 0)
        rc = qsub_validate(op, sub, true, e);
    /* No overlap with the network's other subnets. */
    qj *siblings = NULL;
    if (rc == 0)
        rc = qres_children(op, &qres_subnet, nid, &siblings, e);
    qcidr mine;
    qcidr_parse(qj_get_str(sub, "cidr"), &mine);
    for (size_t i = 0; rc == 0 && i < qj_len(siblings); i++) {
        qcidr other;
        if (qcidr_parse(qj_get_str(qj_at(siblings, i), "cidr"), &other) == 0 &&
            qcidr_overlaps(&mine, &other))
            rc = qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: Requested subnet "
                                               "with cidr: %s for network: %s overlaps with "
                                               "another subnet.", qj_get_str(sub, "cidr"), nid);
    }
    for (size_t i = 0; rc == 0 && i < qj_len(siblings); i++)
        rc = qsubnetpool_check_affinity(sub, qj_at(siblings, i), e);
    qj_free(siblings);
    if (rc == 0) {
        qj_append(qj_get(net, "subnets"), qj_str(qj_get_str(sub, "id")));
        qres_touch(op, net);
        rc = qres_store(op, &qres_network, net, false, e);
    }
    qj_free(net);
    return rc;
}

static int qsub_on_update(qop *op, const qj *old, qj *sub, const qj *changes, qerr *e)
{
    /* A new gateway without new pools is checked against the current pools;
     * "" can't reach here (the IP check refuses it), null clears it. */
    if (qsub_validate(op, sub, false, e) < 0)
        return -1;
    /* DHCP turned on or off: the network's DHCP ports gain or lose their
     * address here (stored first: scheduling reads the stored subnet). */
    if (qj_get_bool(old, "enable_dhcp", false) == qj_get_bool(sub, "enable_dhcp", false))
        return 0;
    if (qres_store(op, &qres_subnet, sub, false, e) < 0)
        return -1;
    return qdhcp_sync_network(op, qj_get_str(sub, "network_id"), NULL, NULL, e);
}

static int qsub_on_delete(qop *op, const qj *sub, qerr *e)
{
    const char *sid = qj_get_str(sub, "id");
    qj *ports;
    if (qipam_subnet_ports(op, sid, &ports, e) < 0)
        return -1;
    /* Neutron: router interfaces keep any subnet in use; on a subnet of
     * automatic (SLAAC, DHCPv6-stateless) addresses every other port just
     * loses its address there, on any other subnet only DHCP ports do. */
    bool auto_address = qsubnet_auto_address(sub);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < qj_len(ports); i++) {
        qj *port;
        if (qres_load(op, &qres_port, qj_as_str(qj_at(ports, i)), &port, e) < 0) {
            rc = -1;
            break;
        }
        const char *owner = qj_get_str(port, "device_owner");
        bool dhcp = owner && !strcmp(owner, QHV_DEVICE_OWNER_DHCP);
        if (qport_is_router(port) || (!dhcp && !auto_address)) {
            rc = qerr_set(e, QE_SUBNET_IN_USE, "Unable to complete operation on subnet %s: One "
                                               "or more ports have an IP allocation from this "
                                               "subnet.", sid);
        } else {
            /* The port loses its address on this subnet and stays. */
            qj *ips = qj_get(port, "fixed_ips"), *keep = qj_array();
            for (size_t j = 0; j < qj_len(ips); j++)
                if (strcmp(qj_get_str(qj_at(ips, j), "subnet_id"), sid))
                    qj_append(keep, qj_clone(qj_at(ips, j)));
            qj_set(port, "fixed_ips", keep);
            qres_touch(op, port);
            rc = qres_store(op, &qres_port, port, false, e);
        }
        qj_free(port);
    }
    qj_free(ports);
    if (rc == 0)
        rc = qipam_release_subnet(op, sid, e);
    qj *net = NULL;
    if (rc == 0)
        rc = qres_load(op, &qres_network, qj_get_str(sub, "network_id"), &net, e);
    if (rc == 0) {
        qj *list = qj_get(net, "subnets"), *keep = qj_array();
        for (size_t i = 0; i < qj_len(list); i++)
            if (strcmp(qj_as_str(qj_at(list, i)), sid))
                qj_append(keep, qj_clone(qj_at(list, i)));
        qj_set(net, "subnets", keep);
        qres_touch(op, net);
        rc = qres_store(op, &qres_network, net, false, e);
    }
    qj_free(net);
    /* The last DHCP-enabled subnet gone: so are the DHCP ports. */
    if (rc == 0)
        rc = qdhcp_sync_network(op, qj_get_str(sub, "network_id"), NULL, NULL, e);
    return rc;
}

static int qsub_after_create(qop *op, qj *sub, qerr *e)
{
    if (qipam_add_auto_subnet(op, sub, e) < 0)
        return -1;
    if (!qj_get_bool(sub, "enable_dhcp", false))
        return 0;
    return qdhcp_sync_network(op, qj_get_str(sub, "network_id"), NULL, NULL, e);
}

static bool qsub_may_write(qop *op, const qj *sub) { return qres_is_owner(op, sub); }

static const qattr qsub_attrs[] = {
    QATTR_ID,
    QATTR_NAME,
    QATTR_PROJECT,
    {"network_id", QA_UUID, QA_POST | QA_REQUIRED, NULL, 0, 0, NULL, NULL, NULL},
    {"ip_version", QA_INT, QA_POST | QA_REQUIRED | QA_STRCONV, NULL, 0, 0, NULL,
     qsub_check_version, NULL},
    {"subnetpool_id", QA_STR, QA_POST | QA_NULL, "null", 0, 0, NULL, qsub_check_pool_id, NULL},
    {"enable_dhcp", QA_BOOL, QA_POST | QA_PUT, "true", 0, 0, NULL, NULL, NULL},
    {"ipv6_ra_mode", QA_STR, QA_POST | QA_NULL, "null", 0, 0, qsub_v6_modes, NULL, NULL},
    {"ipv6_address_mode", QA_STR, QA_POST | QA_NULL, "null", 0, 0, qsub_v6_modes, NULL, NULL},
    {"gateway_ip", QA_STR, QA_POST | QA_PUT | QA_NULL, "\"\"", 0, 0, NULL, qsub_check_ip, NULL},
    {"cidr", QA_STR, QA_POST, NULL, 0, 0, NULL, qsub_check_cidr, NULL},
    /* Requests to a subnet pool only, never stored or shown. */
    {.name = "prefixlen", .kind = QA_INT, .flags = QA_POST | QA_STRCONV | QA_NOFILTER | QA_NOSORT,
     .check = qattr_check_non_negative},
    {.name = "use_default_subnetpool", .kind = QA_BOOL,
     .flags = QA_POST | QA_NOFILTER | QA_NOSORT},
    {"allocation_pools", QA_LIST, QA_POST | QA_PUT | QA_NOFILTER, "null", 0, 0, NULL,
     qsub_check_pools, NULL},
    {"host_routes", QA_LIST, QA_POST | QA_PUT | QA_NOFILTER | QA_NULL_EMPTY, "[]", 0, 0, NULL,
     qsub_check_routes,
     NULL},
    {"dns_nameservers", QA_LIST, QA_POST | QA_PUT | QA_NULL_EMPTY, "[]", 0, 0, NULL,
     qsub_check_dns, NULL},
    QATTR_DESCRIPTION,
    QATTR_STD,
    /* Hidden: a filter only (qsub_sql_filters). */
    {"shared", QA_BOOL, QA_NOSORT, NULL, 0, 0, NULL, NULL, NULL},
};

/* Neutron's subnets carry their network's shared flag as a hidden,
 * filterable attribute: shared with every project or, by an RBAC policy,
 * with the caller's. */
static const qsql_filter qsub_sql_filters[] = {
    {"shared", "(r.parent_id IN (SELECT n.id FROM resources n WHERE n.kind = 'network' AND "
               "json_extract(n.body, '$.shared') = 1) OR " QRBAC_PARENT_SHARED_SQL ") = %s"},
    {NULL, NULL},
};

const qresource qres_subnet = {
    .name = "subnet",
    .collection = "subnets",
    .label = "Subnet",
    .notfound = QE_SUBNET_NOT_FOUND,
    .attrs = qsub_attrs,
    .nattrs = QHV_ARRAY_SIZE(qsub_attrs),
    .initial_revision = 0,
    .parent_attr = "network_id",
    .has_tags = true,
    .core = true,
    .shared_sql = "(r.parent_id IN (SELECT n.id FROM resources n WHERE n.kind = 'network' AND "
                  "json_extract(n.body, '$.shared') = 1) OR " QRBAC_PARENT_SHARED_SQL ")",
    .sql_filters = qsub_sql_filters,
    .on_create = qsub_on_create,
    .after_create = qsub_after_create,
    .on_update = qsub_on_update,
    .on_delete = qsub_on_delete,
    .may_write = qsub_may_write,
};
