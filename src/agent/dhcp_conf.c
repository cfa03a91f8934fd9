#include "agent/dhcp_conf.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QAG_LEASE_MAX (1L << 24)    /* dnsmasq's lease table cap, as Neutron's */

/* b's text ("" when empty), b left empty. */
static char *qag_text(qbuf *b)
{
    char *t = qbuf_steal(b, NULL);
    return t ? t : xstrdup("");
}

static const qj *qag_subnet(const qj *net, const char *id)
{
    const qj *subnets = qj_get(net, "subnets");
    for (size_t i = 0; id && i < qj_len(subnets); i++) {
        const char *sid = qj_get_str(qj_at(subnets, i), "id");
        if (sid && !strcmp(sid, id))
            return qj_at(subnets, i);
    }
    return NULL;
}

/* Text that may go into a comma-separated dnsmasq line. */
static bool qag_token_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s == ',' || *s == '\n' || *s == '\r' || *s == ' ' || *s == '\t' || *s == '#')
            return false;
    return true;
}

/* The id of a subnet or port, copied once checked (NULL-free for the
 * compiler too); false if it may not go into a line. */
static bool qag_id(const qj *o, const char *key, char out[80])
{
    const char *id = qj_get_str(o, key);
    if (!qag_token_ok(id) || strlen(id) >= 80)
        return false;
    qhv_strlcpy(out, id, 80);
    return true;
}

static bool qag_label_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 63)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-'))
            return false;
    return true;
}

static bool qag_domain_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 253)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

static const char *qag_domain(const qj *net)
{
    const char *d = qj_get_str(net, "dns_domain");
    while (d && *d == '.')
        d++;
    return d && qag_domain_ok(d) ? d : "openstacklocal";
}

static int qag_ipver(const qj *subnet)
{
    return (int)qj_get_int(subnet, "ip_version", 4);
}

static bool qag_str_is(const qj *o, const char *key, const char *val)
{
    const char *s = qj_get_str(o, key);
    return s && !strcmp(s, val);
}

/* dnsmasq hands out this subnet's addresses by host (IPv4; IPv6 stateful,
 * or with neither IPv6 mode set, as Neutron). */
static bool qag_serves_addresses(const qj *s)
{
    if (!qj_get_bool(s, "enable_dhcp", true))
        return false;
    if (qag_ipver(s) == 4)
        return true;
    const char *am = qj_get_str(s, "ipv6_address_mode"), *ra = qj_get_str(s, "ipv6_ra_mode");
    return am ? !strcmp(am, "dhcpv6-stateful") : !ra || !strcmp(ra, "dhcpv6-stateful");
}

/* It gets options (everything but SLAAC-only IPv6). */
static bool qag_serves_options(const qj *s)
{
    if (!qj_get_bool(s, "enable_dhcp", true))
        return false;
    return qag_ipver(s) == 4 || !qag_str_is(s, "ipv6_address_mode", "slaac");
}

/* The --dhcp-range mode of an IPv6 subnet, or NULL if dnsmasq has no part in it. */
static const char *qag_v6_mode(const qj *s, bool *ra)
{
    const char *am = qj_get_str(s, "ipv6_address_mode"), *rm = qj_get_str(s, "ipv6_ra_mode");
    *ra = rm != NULL;
    if (am && !strcmp(am, "slaac"))
        return rm ? "ra-only" : NULL;
    if (am && !strcmp(am, "dhcpv6-stateless"))
        return rm ? "ra-stateless" : "static";
    if (!am && rm && !strcmp(rm, "slaac"))
        return "ra-only";
    if (!am && rm && !strcmp(rm, "dhcpv6-stateless"))
        return "ra-stateless";
    return "static";
}

/* This node's address (the DHCP port's) in subnet sid, or NULL. */
static const char *qag_own_ip(const qj *net, const char *sid)
{
    const qj *ips = qj_get(qj_get(net, "port"), "fixed_ips");
    for (size_t i = 0; sid && i < qj_len(ips); i++) {
        const char *s = qj_get_str(qj_at(ips, i), "subnet_id");
        if (s && !strcmp(s, sid))
            return qj_get_str(qj_at(ips, i), "ip_address");
    }
    return NULL;
}

/* "host-10-0-0-5" for a port without a usable host name (Neutron's form). */
static void qag_hostname(const qj *h, const char *ip, char *out, size_t n)
{
    const char *name = qj_get_str(h, "hostname");
    if (qag_label_ok(name)) {
        snprintf(out, n, "%s", name);
        return;
    }
    snprintf(out, n, "host-%s", ip);
    for (char *p = out; *p; p++)
        if (*p == '.' || *p == ':')
            *p = '-';
}

static bool qag_has_opts(const qj *h)
{
    return qj_len(qj_get(h, "extra_dhcp_opts")) > 0;
}

static bool qag_host_served(const qj *h, qmac *mac)
{
    const char *owner = qj_get_str(h, "device_owner");
    return qj_get_bool(h, "admin_state_up", true) && !(owner && !strcmp(owner, "network:dhcp")) &&
           qj_get_str(h, "mac_address") && qmac_parse(qj_get_str(h, "mac_address"), mac) == 0;
}

static void qag_render_hosts(const qj *net, const qj *const *hosts, size_t n, qag_dnsmasq *d)
{
    qbuf hb, ab, mb;
    qbuf_init(&hb, 0);
    qbuf_init(&ab, 0);
    qbuf_init(&mb, 0);
    const char *domain = qag_domain(net);
    for (size_t i = 0; i < n; i++) {
        const qj *h = hosts[i];
        qmac m;
        if (!qag_host_served(h, &m))
            continue;
        char mac[QMAC_STRLEN], tag[96] = "";
        qmac_format(&m, mac);
        char pid[80];
        bool opts = qag_has_opts(h) && qag_id(h, "port_id", pid);
        if (opts)
            snprintf(tag, sizeof tag, ",set:port-%s", pid);
        const char *dev = qj_get_str(h, "device_id"), *proj = qj_get_str(h, "project_id");
        const char *owner = qj_get_str(h, "device_owner");
        bool instance = qag_token_ok(dev) && qag_token_ok(proj) &&
                        !(owner && !strncmp(owner, "network:", 8));
        bool wrote = false;
        const qj *ips = qj_get(h, "fixed_ips");
        for (size_t k = 0; k < qj_len(ips); k++) {
            const char *ip = qj_get_str(qj_at(ips, k), "ip_address");
            const qj *s = qag_subnet(net, qj_get_str(qj_at(ips, k), "subnet_id"));
            qaddr a;
            if (!s || !ip || qaddr_parse(ip, &a) < 0 || !qag_serves_addresses(s))
                continue;
            char text[QADDR_STRLEN], name[80];
            qaddr_format(&a, text);
            qag_hostname(h, text, name, sizeof name);
            if (a.family == 4)
                qbuf_printf(&hb, "%s,%s.%s.,%s%s\n", mac, name, domain, text, tag);
            else
                qbuf_printf(&hb, "%s,%s.%s.,[%s]%s\n", mac, name, domain, text, tag);
            qbuf_printf(&ab, "%s\t%s.%s %s\n", text, name, domain, name);
            if (instance && a.family == 4)
                qbuf_printf(&mb, "%s %s %s\n", text, dev, proj);
            wrote = true;
        }
        if (!wrote && opts)
            qbuf_printf(&hb, "%s%s\n", mac, tag);
    }
    d->hosts = qag_text(&hb);
    d->addn_hosts = qag_text(&ab);
    d->metadata = qag_text(&mb);
    qbuf_free(&hb);
    qbuf_free(&ab);
    qbuf_free(&mb);
}

/* The addresses of a list (dns_nameservers) of one family, comma-joined into
 * b (IPv6 in brackets); false if none parsed. */
static bool qag_addr_list(qbuf *b, const qj *list, int family)
{
    bool any = false;
    for (size_t i = 0; i < qj_len(list); i++) {
        qaddr a;
        const char *s = qj_as_str(qj_at(list, i));
        if (!s || qaddr_parse(s, &a) < 0 || a.family != family)
            continue;
        char t[QADDR_STRLEN];
        qaddr_format(&a, t);
        qbuf_printf(b, family == 6 ? ",[%s]" : ",%s", t);
        any = true;
    }
    return any;
}

static void qag_render_subnet_opts(const qj *net, const qj *s, bool metadata, qbuf *b)
{
    char sid[80];
    if (!qag_id(s, "id", sid) || !qag_serves_options(s))
        return;
    const char *own = qag_own_ip(net, sid);
    qaddr a;
    if (qag_ipver(s) == 6) {
        qbuf_printf(b, "tag:subnet-%s,option6:dns-server", sid);
        if (!qag_addr_list(b, qj_get(s, "dns_nameservers"), 6) && own &&
            qaddr_parse(own, &a) == 0 && a.family == 6)
            qbuf_printf(b, ",[%s]", own);
        qbuf_printf(b, "\ntag:subnet-%s,option6:domain-search,%s\n", sid, qag_domain(net));
        return;
    }
    qbuf_printf(b, "tag:subnet-%s,option:dns-server", sid);
    if (!qag_addr_list(b, qj_get(s, "dns_nameservers"), 4) && own &&
        qaddr_parse(own, &a) == 0 && a.family == 4)
        qbuf_printf(b, ",%s", own);     /* dnsmasq itself answers for the network */
    qbuf_putc(b, '\n');
    const char *gw = qj_get_str(s, "gateway_ip");
    if (gw && qaddr_parse(gw, &a) < 0)
        gw = NULL;
    qbuf routes;
    qbuf_init(&routes, 0);
    /* Other IPv4 subnets of the network are on-link (Neutron's rule). */
    const qj *subnets = qj_get(net, "subnets");
    for (size_t i = 0; i < qj_len(subnets); i++) {
        const qj *o = qj_at(subnets, i);
        qcidr c;
        const char *cidr = qj_get_str(o, "cidr");
        if (o != s && qag_ipver(o) == 4 && cidr && qcidr_parse(cidr, &c) == 0)
            qbuf_printf(&routes, ",%s,0.0.0.0", cidr);
    }
    const qj *hr = qj_get(s, "host_routes");
    for (size_t i = 0; i < qj_len(hr); i++) {
        const char *dst = qj_get_str(qj_at(hr, i), "destination");
        const char *nh = qj_get_str(qj_at(hr, i), "nexthop");
        qcidr c;
        qaddr h;
        if (!dst || !nh || qcidr_parse(dst, &c) < 0 || c.addr.family != 4 ||
            qaddr_parse(nh, &h) < 0 || h.family != 4)
            continue;
        if (c.prefixlen == 0) {
            if (!gw)
                gw = nh;    /* a default host route stands for a missing gateway */
            continue;
        }
        qbuf_printf(&routes, ",%s,%s", dst, nh);
    }
    if (metadata && own)
        qbuf_printf(&routes, ",%s/32,%s", QAG_METADATA_IP, own);
    if (routes.len) {
        /* With option 121 a client ignores option 3: the default route too. */
        if (gw)
            qbuf_printf(&routes, ",0.0.0.0/0,%s", gw);
        qbuf_printf(b, "tag:subnet-%s,option:classless-static-route%s\n", sid, routes.data);
        qbuf_printf(b, "tag:subnet-%s,249%s\n", sid, routes.data);
    }
    qbuf_free(&routes);
    if (gw)
        qbuf_printf(b, "tag:subnet-%s,option:router,%s\n", sid, gw);
    else
        qbuf_printf(b, "tag:subnet-%s,option:router\n", sid);     /* none: no router */
}

static bool qag_opt_name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return false;
    return true;
}

static void qag_render_port_opts(const qj *const *hosts, size_t n, qbuf *b)
{
    for (size_t i = 0; i < n; i++) {
        qmac m;
        char pid[80];
        if (!qag_host_served(hosts[i], &m) || !qag_id(hosts[i], "port_id", pid))
            continue;
        const qj *opts = qj_get(hosts[i], "extra_dhcp_opts");
        for (size_t k = 0; k < qj_len(opts); k++) {
            const qj *o = qj_at(opts, k);
            const char *name = qj_get_str(o, "opt_name"), *val = qj_get_str(o, "opt_value");
            int ver = (int)qj_get_int(o, "ip_version", 4);
            if (!qag_opt_name_ok(name) || !val || strchr(val, '\n') || strchr(val, '\r'))
                continue;
            bool numeric = strspn(name, "0123456789") == strlen(name);
            qbuf_printf(b, "tag:port-%s,%s%s,%s\n", pid,
                        ver == 6 ? "option6:" : numeric ? "" : "option:", name, val);
        }
    }
}

static void qag_argv_add(qag_dnsmasq *d, char *s)
{
    d->argv = xrealloc(d->argv, (d->argc + 2) * sizeof *d->argv);
    d->argv[d->argc++] = s;
    d->argv[d->argc] = NULL;
}

static void qag_render_argv(const qj *net, const qag_dnsmasq_where *w, qag_dnsmasq *d)
{
    const char *dir = w->dir;
    qag_argv_add(d, xstrdup(w->dnsmasq));
    /* --local-service: DNS answers only to the network's own subnets. */
    static const char *const fixed[] = {"--no-hosts", "--no-resolv", "--conf-file=/dev/null",
                                        "--local-service", "--bind-dynamic",
                                        "--except-interface=lo", "--dhcp-authoritative",
                                        "--dhcp-match=set:ipxe,175"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(fixed); i++)
        qag_argv_add(d, xstrdup(fixed[i]));
    qag_argv_add(d, xasprintf("--interface=%s", w->ifname));
    qag_argv_add(d, xasprintf("--pid-file=%s/pid", dir));
    qag_argv_add(d, xasprintf("--dhcp-hostsfile=%s/host", dir));
    qag_argv_add(d, xasprintf("--addn-hosts=%s/addn_hosts", dir));
    qag_argv_add(d, xasprintf("--dhcp-optsfile=%s/opts", dir));
    qag_argv_add(d, xasprintf("--dhcp-leasefile=%s/leases", dir));
    int64_t lease = qj_get_int(net, "lease_seconds", 86400);
    char lt[32];
    if (lease < 0)
        snprintf(lt, sizeof lt, "infinite");
    else
        snprintf(lt, sizeof lt, "%llds", (long long)(lease < 120 ? 120 : lease));
    const qj *subnets = qj_get(net, "subnets");
    long leases = 0;
    bool ra = false;
    for (size_t i = 0; i < qj_len(subnets); i++) {
        const qj *s = qj_at(subnets, i);
        const char *cidr = qj_get_str(s, "cidr");
        char sid[80];
        qcidr c;
        if (!qj_get_bool(s, "enable_dhcp", true) || !qag_id(s, "id", sid) || !cidr ||
            qcidr_parse(cidr, &c) < 0)
            continue;
        char netaddr[QADDR_STRLEN];
        qaddr na = qcidr_network(&c);
        qaddr_format(&na, netaddr);
        if (c.addr.family == 4) {
            uint32_t mask = c.prefixlen ? 0xffffffffu << (32 - c.prefixlen) : 0;
            qag_argv_add(d, xasprintf("--dhcp-range=set:subnet-%s,%s,static,%u.%u.%u.%u,%s", sid,
                                      netaddr, mask >> 24, (mask >> 16) & 255, (mask >> 8) & 255,
                                      mask & 255, lt));
            long size = c.prefixlen >= 8 ? 1L << (32 - c.prefixlen) : QAG_LEASE_MAX;
            leases += size;
        } else {
            bool sra;
            const char *mode = qag_v6_mode(s, &sra);
            if (!mode || c.prefixlen < 64)
                continue;       /* dnsmasq serves no IPv6 prefix shorter than 64 */
            ra = ra || sra;
            qag_argv_add(d, xasprintf("--dhcp-range=set:subnet-%s,%s,%s,%d,%s", sid, netaddr,
                                      mode, c.prefixlen, lt));
            leases += QAG_LEASE_MAX;
        }
    }
    long mtu = (long)qj_get_int(net, "mtu", 0);
    d->mtu = mtu > 0 ? mtu : 0;
    if (mtu > 0)
        qag_argv_add(d, xasprintf("--dhcp-option-force=option:mtu,%ld", mtu));
    if (ra) {
        /* Router lifetime 0: the namespace is no router; RAs carry the
         * prefixes (SLAAC) and the M/O flags. */
        qag_argv_add(d, xstrdup("--enable-ra"));
        qag_argv_add(d, mtu > 0 ? xasprintf("--ra-param=%s,mtu:%ld,10,0", w->ifname, mtu)
                                : xasprintf("--ra-param=%s,10,0", w->ifname));
    }
    qag_argv_add(d, xasprintf("--dhcp-lease-max=%ld", leases < QAG_LEASE_MAX ? leases
                                                                              : QAG_LEASE_MAX));
    qag_argv_add(d, xasprintf("--domain=%s", qag_domain(net)));
    if (w->debug) {
        qag_argv_add(d, xstrdup("--log-dhcp"));
        qag_argv_add(d, xasprintf("--log-facility=%s/dnsmasq.log", dir));
    }
}

static void qag_render_addrs(const qj *net, const qag_dnsmasq_where *w, qag_dnsmasq *d)
{
    const qj *ips = qj_get(qj_get(net, "port"), "fixed_ips");
    bool v4 = false;
    for (size_t i = 0; i < qj_len(ips); i++) {
        const char *ip = qj_get_str(qj_at(ips, i), "ip_address");
        const qj *s = qag_subnet(net, qj_get_str(qj_at(ips, i), "subnet_id"));
        qcidr c;
        qaddr a;
        if (!ip || !s || !qj_get_str(s, "cidr") || qcidr_parse(qj_get_str(s, "cidr"), &c) < 0 ||
            qaddr_parse(ip, &a) < 0 || a.family != c.addr.family)
            continue;
        char t[QADDR_STRLEN];
        qaddr_format(&a, t);
        d->addrs = xrealloc(d->addrs, (d->naddrs + 1) * sizeof *d->addrs);
        d->addrs[d->naddrs++] = xasprintf("%s/%d", t, c.prefixlen);
        v4 = v4 || a.family == 4;
    }
    if (w->metadata && v4) {
        d->addrs = xrealloc(d->addrs, (d->naddrs + 1) * sizeof *d->addrs);
        d->addrs[d->naddrs++] = xstrdup(QAG_METADATA_IP "/32");
    }
}

void qag_dnsmasq_render(const qj *net, const qj *const *hosts, size_t nhosts,
                        const qag_dnsmasq_where *w, qag_dnsmasq *ret)
{
    memset(ret, 0, sizeof *ret);
    qag_render_hosts(net, hosts, nhosts, ret);
    qbuf b;
    qbuf_init(&b, 0);
    const qj *subnets = qj_get(net, "subnets");
    for (size_t i = 0; i < qj_len(subnets); i++)
        qag_render_subnet_opts(net, qj_at(subnets, i), w->metadata, &b);
    qag_render_port_opts(hosts, nhosts, &b);
    ret->opts = qag_text(&b);
    qbuf_free(&b);
    qag_render_argv(net, w, ret);
    qag_render_addrs(net, w, ret);
}

void qag_dnsmasq_free(qag_dnsmasq *d)
{
    if (!d)
        return;
    free(d->hosts);
    free(d->addn_hosts);
    free(d->opts);
    free(d->metadata);
    for (size_t i = 0; i < d->argc; i++)
        free(d->argv[i]);
    free(d->argv);
    for (size_t i = 0; i < d->naddrs; i++)
        free(d->addrs[i]);
    free(d->addrs);
    memset(d, 0, sizeof *d);
}
