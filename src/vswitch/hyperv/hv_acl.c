#include "vswitch/hyperv/hv_acl.h"
#include "lib/addr.h"
#include "lib/ipproto.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void qhyv_problem(char *problem, size_t plen, const char *what)
{
    size_t l = strlen(problem);
    if (strstr(problem, what))
        return;     /* said once is enough */
    snprintf(problem + l, plen - l, "%s%s", l ? "; " : "", what);
}

/* A remote as Hyper-V takes it: /128 written as the bare address. */
static char *qhyv_remote(const char *prefix)
{
    size_t l = strlen(prefix);
    if (l > 4 && !strcmp(prefix + l - 4, "/128"))
        return xstrndup(prefix, l - 4);
    return xstrdup(prefix);
}

static qj *qhyv_xentry(int dir, int action, const char *proto, const char *lport,
                       const char *rport, const char *remote, bool stateful)
{
    qj *e = qj_object();
    qj_set(e, "__CLASS", qj_str(QHYV_XACL_CLASS));
    qj_set(e, "Direction", qj_int(dir));
    qj_set(e, "Action", qj_int(action));
    qj_set(e, "Protocol", qj_str(proto));
    qj_set(e, "LocalPort", qj_str(lport));
    qj_set(e, "RemotePort", qj_str(rport));
    qj_set(e, "LocalIPAddress", qj_str("ANY"));
    qj_set(e, "RemoteIPAddress", qj_str(remote));
    qj_set(e, "Stateful", qj_bool(stateful));
    qj_set(e, "IdleSessionTimeout", qj_int(0));
    return e;
}

/* Appends e unless an equal entry is there (rules may overlap). */
static void qhyv_add_unique(qj *out, qvs_map *seen, qj *e)
{
    char *id = qhyv_acl_identity(e);
    if (qvs_map_get(seen, id)) {
        qj_free(e);
    } else {
        qvs_map_put(seen, id, qj_null());
        qj_append(out, e);
    }
    free(id);
}

/* The remotes of a rule (caller frees the array of strings). */
static qj *qhyv_rule_remotes(const qj *rule, bool v6, const qvs_map *sets)
{
    qj *out = qj_array();
    const qj *prefixes = qj_get(rule, "remote_ip_prefixes");
    if (!qj_is(prefixes, QJ_ARRAY)) {
        qj_append(out, qj_str(v6 ? "::/0" : "0.0.0.0/0"));
        return out;
    }
    for (size_t i = 0; i < qj_len(prefixes); i++)
        if (qj_as_str(qj_at(prefixes, i)))
            qj_append(out, qj_str_take(qhyv_remote(qj_as_str(qj_at(prefixes, i)))));
    const qj *names = qj_get(rule, "remote_address_sets");
    for (size_t i = 0; i < qj_len(names); i++) {
        const qj *set = qj_as_str(qj_at(names, i)) ? qvs_map_get(sets, qj_as_str(qj_at(names, i)))
                                                   : NULL;
        const qj *addrs = qj_get(set, "addresses");
        for (size_t k = 0; k < qj_len(addrs); k++)
            if (qj_as_str(qj_at(addrs, k)))
                qj_append(out, qj_str_take(qhyv_remote(qj_as_str(qj_at(addrs, k)))));
    }
    return out;
}

static void qhyv_range(const qj *rule, char *out, size_t n)
{
    int64_t lo = qj_get_int(rule, "port_range_min", -1);
    int64_t hi = qj_get_int(rule, "port_range_max", -1);
    if (lo < 0 && hi < 0)
        snprintf(out, n, "ANY");
    else if (hi < 0 || hi == lo)
        snprintf(out, n, "%lld", (long long)lo);
    else
        snprintf(out, n, "%lld-%lld", (long long)(lo < 0 ? 0 : lo), (long long)hi);
}

/* The DHCP client's allowances. Out: to any server (requests are
 * broadcast or multicast). In: answers from the network's DHCP servers
 * when the acl/ value names them (their IPv4 addresses; for DHCPv6 the
 * link-local address a server answers from, EUI-64 of its MAC, and its
 * IPv6 addresses), so that no other VM's offer reaches a port; from
 * anywhere when it does not (a plan without them). */
static void qhyv_dhcp_client(const qj *acl, int dir, qj *out, qvs_map *seen)
{
    const qj *servers = qj_get(acl, "dhcp_servers");
    if (dir == 2 || !qj_is(servers, QJ_ARRAY)) {
        qhyv_add_unique(out, seen, qhyv_xentry(dir, 1, "UDP", "68", "67", "0.0.0.0/0", false));
        qhyv_add_unique(out, seen, qhyv_xentry(dir, 1, "UDP", "546", "547", "::/0", false));
        return;
    }
    qcidr ll;
    qcidr_parse("fe80::/64", &ll);
    for (size_t i = 0; i < qj_len(servers); i++) {
        const qj *srv = qj_at(servers, i);
        qmac mac;
        if (qmac_parse(qj_get_str(srv, "mac_address"), &mac) == 0) {
            char a[QADDR_STRLEN];
            qaddr lla = qaddr_eui64(&ll, &mac);
            qaddr_format(&lla, a);
            qhyv_add_unique(out, seen, qhyv_xentry(dir, 1, "UDP", "546", "547", a, false));
        }
        const qj *ips = qj_get(srv, "ip_addresses");
        for (size_t k = 0; k < qj_len(ips); k++) {
            qaddr ad;
            const char *ip = qj_as_str(qj_at(ips, k));
            if (!ip || qaddr_parse(ip, &ad) < 0)
                continue;
            char a[QADDR_STRLEN + 3];
            qaddr_format(&ad, a);
            if (ad.family == 4)
                strcat(a, "/32");       /* a host, as the rules' prefixes are written */
            qhyv_add_unique(out, seen, qhyv_xentry(dir, 1, "UDP", ad.family == 4 ? "68" : "546",
                                                  ad.family == 4 ? "67" : "547", a, false));
        }
    }
}

static void qhyv_extended(const qj *acl, const qvs_map *sets, int dir, qj *out, qvs_map *seen,
                          char *problem, size_t plen)
{
    bool ingress = dir == 1;
    /* A stateless group's entries keep no flow state: Stateful false on
     * every entry, and "any" is one ANY entry (stateful-security-group). */
    bool stateful = qj_get_bool(acl, "stateful", true);
    qj *d4 = qhyv_xentry(dir, 2, "ANY", "ANY", "ANY", "0.0.0.0/0", false);
    qj_set(d4, "Weight", qj_int(1));
    qj *d6 = qhyv_xentry(dir, 2, "ANY", "ANY", "ANY", "::/0", false);
    qj_set(d6, "Weight", qj_int(2));
    qhyv_add_unique(out, seen, d4);
    qhyv_add_unique(out, seen, d6);
    /* Implicit: DHCP clients and ICMPv6 (neighbour discovery). */
    qhyv_dhcp_client(acl, dir, out, seen);
    qhyv_add_unique(out, seen, qhyv_xentry(dir, 1, "58", "ANY", "ANY", "::/0", false));
    const qj *rules = qj_get(acl, "rules");
    for (size_t i = 0; i < qj_len(rules); i++) {
        const qj *r = qj_at(rules, i);
        const char *eth = qj_get_str(r, "ethertype");
        bool v6 = eth && !strcmp(eth, "IPv6");
        int64_t proto = qj_get_int(r, "protocol", -1);
        bool ranged = qj_is(qj_get(r, "port_range_min"), QJ_INT) ||
                      qj_is(qj_get(r, "port_range_max"), QJ_INT);
        if ((proto == 1 || proto == 58) && ranged) {
            qhyv_problem(problem, plen, "ICMP type/code cannot be matched by Hyper-V extended "
                                        "ACLs: those rules are left out");
            continue;
        }
        if (proto >= 0 && proto != 6 && proto != 17 && ranged) {
            qhyv_problem(problem, plen, "ports of protocols other than TCP and UDP cannot be "
                                        "matched: those rules are left out");
            continue;
        }
        char range[32];
        qhyv_range(r, range, sizeof range);
        const char *lport = ingress ? range : "ANY", *rport = ingress ? "ANY" : range;
        qj *remotes = qhyv_rule_remotes(r, v6, sets);
        for (size_t k = 0; k < qj_len(remotes); k++) {
            const char *rem = qj_as_str(qj_at(remotes, k));
            if (proto < 0) {
                if (stateful) {
                    qhyv_add_unique(out, seen, qhyv_xentry(dir, 1, "TCP", "ANY", "ANY", rem,
                                                          true));
                    qhyv_add_unique(out, seen, qhyv_xentry(dir, 1, "UDP", "ANY", "ANY", rem,
                                                          true));
                }
                qhyv_add_unique(out, seen, qhyv_xentry(dir, 1, "ANY", "ANY", "ANY", rem, false));
            } else if (proto == 6 || proto == 17) {
                qhyv_add_unique(out, seen, qhyv_xentry(dir, 1, proto == 6 ? "TCP" : "UDP", lport,
                                                      rport, rem, stateful));
            } else {
                char num[24];
                snprintf(num, sizeof num, "%lld", (long long)proto);
                qhyv_add_unique(out, seen, qhyv_xentry(dir, 1, num, "ANY", "ANY", rem, false));
            }
        }
        qj_free(remotes);
    }
}

static qj *qhyv_pentry(int dir, int action, bool v6, const char *remote)
{
    qj *e = qj_object();
    int len = 0;
    char addr[64] = "";
    if (remote) {
        const char *slash = strchr(remote, '/');
        snprintf(addr, sizeof addr, "%.*s", slash ? (int)(slash - remote) : (int)strlen(remote),
                 remote);
        len = slash ? atoi(slash + 1) : (v6 ? 128 : 32);
    }
    qj_set(e, "__CLASS", qj_str(QHYV_ACL_CLASS));
    qj_set(e, "Direction", qj_int(dir));
    qj_set(e, "Action", qj_int(action));
    qj_set(e, "AclType", qj_int(v6 ? 3 : 2));
    qj_set(e, "Applicability", qj_int(2));
    qj_set(e, "RemoteAddress", qj_str(len ? addr : ""));
    qj_set(e, "RemoteAddressPrefixLength", qj_int(len));
    return e;
}

static void qhyv_portacl(const qj *acl, const qvs_map *sets, int dir, qj *out, qvs_map *seen,
                         char *problem, size_t plen)
{
    bool open[2] = {false, false};
    qj *allows = qj_array();
    const qj *rules = qj_get(acl, "rules");
    for (size_t i = 0; i < qj_len(rules); i++) {
        const qj *r = qj_at(rules, i);
        const char *eth = qj_get_str(r, "ethertype");
        bool v6 = eth && !strcmp(eth, "IPv6");
        if (qj_get_int(r, "protocol", -1) >= 0 || qj_is(qj_get(r, "port_range_min"), QJ_INT)) {
            qhyv_problem(problem, plen, "Windows Server 2012 port ACLs match addresses only: "
                                        "rules with a protocol or ports are left out");
            continue;
        }
        if (!qj_is(qj_get(r, "remote_ip_prefixes"), QJ_ARRAY)) {
            open[v6] = true;
            continue;
        }
        qj *remotes = qhyv_rule_remotes(r, v6, sets);
        for (size_t k = 0; k < qj_len(remotes); k++) {
            const char *rem = qj_as_str(qj_at(remotes, k));
            /* A /128 was stripped: the entry's default length is 128. */
            qj_append(allows, qhyv_pentry(dir, 1, v6, rem));
        }
        qj_free(remotes);
    }
    /* Port ACLs match addresses only, so DHCP and neighbour discovery are
     * kept open by address: the network's own subnets (its DHCP servers
     * and routers: on-link traffic is not filtered), IPv6 link-local
     * (ND, RA, DHCPv6 replies), and, outgoing, the DHCP broadcast and IPv6
     * multicast (solicitations). [hyperv] port_acls_2012 (docs/hyperv.md). */
    const qj *on_link = qj_get(acl, "on_link");
    for (size_t i = 0; i < qj_len(on_link); i++) {
        const char *c = qj_as_str(qj_at(on_link, i));
        if (c)
            qj_append(allows, qhyv_pentry(dir, 1, strchr(c, ':') != NULL, c));
    }
    qj_append(allows, qhyv_pentry(dir, 1, true, "fe80::/10"));
    if (dir == 2) {
        qj_append(allows, qhyv_pentry(dir, 1, true, "ff00::/8"));
        qj_append(allows, qhyv_pentry(dir, 1, false, "255.255.255.255/32"));
    }
    for (int f = 0; f < 2; f++)
        if (!open[f])
            qhyv_add_unique(out, seen, qhyv_pentry(dir, 2, f == 1, NULL));
    for (size_t i = 0; i < qj_len(allows); i++) {
        const qj *e = qj_at(allows, i);
        if (!open[qj_get_int(e, "AclType", 2) == 3])
            qhyv_add_unique(out, seen, qj_clone(e));
    }
    qj_free(allows);
}

qj *qhyv_acl_entries(const qj *acl, const qvs_map *sets, int dialect, char *problem, size_t plen)
{
    problem[0] = '\0';
    const char *d = qj_get_str(acl, "direction");
    int dir = d && !strcmp(d, "egress") ? 2 : 1;
    qj *out = qj_array();
    qvs_map *seen = qvs_map_new();
    if (dialect == QHYV_ACL_EXTENDED)
        qhyv_extended(acl, sets, dir, out, seen, problem, plen);
    else if (dialect == QHYV_ACL_PORT)
        qhyv_portacl(acl, sets, dir, out, seen, problem, plen);
    else if (qj_len(qj_get(acl, "rules")) || qj_get_str(acl, "default"))
        qhyv_problem(problem, plen, "security groups are not enforced on Windows Server 2012 "
                                    "([hyperv] port_acls_2012 = none)");
    qvs_map_free(seen);
    return out;
}

char *qhyv_acl_identity(const qj *e)
{
    static const char *const xkeys[] = {"Direction", "Action", "Protocol", "LocalPort",
                                        "RemotePort", "LocalIPAddress", "RemoteIPAddress",
                                        "Stateful", "IdleSessionTimeout", NULL};
    static const char *const pkeys[] = {"Direction", "Action", "AclType", "Applicability",
                                        "RemoteAddress", "RemoteAddressPrefixLength", NULL};
    const char *cls = qj_get_str(e, "__CLASS");
    const char *const *keys = cls && !strcmp(cls, QHYV_ACL_CLASS) ? pkeys : xkeys;
    qj *o = qj_object();
    for (size_t i = 0; keys[i]; i++) {
        const qj *v = qj_get(e, keys[i]);
        qj_set_new(o, keys[i], v ? qj_clone(v) : qj_null());
    }
    char *s = qj_to_string(o);
    qj_free(o);
    return s;
}

int qhyv_acl_band(const qj *e)
{
    if (qj_get_int(e, "Action", 0) != 1)
        return -1;
    const qj *st = qj_get(e, "Stateful");
    return qj_is(st, QJ_BOOL) && st->u.b ? 1 : 0;
}

bool qhyv_acl_weigh(qj *entries, qvs_map *used)
{
    int next[2] = {QHYV_W_STATELESS_HI, QHYV_W_STATEFUL_HI};
    const int lo[2] = {QHYV_W_STATELESS_LO, QHYV_W_STATEFUL_LO};
    for (size_t i = 0; i < qj_len(entries); i++) {
        qj *e = qj_at(entries, i);
        int band = qhyv_acl_band(e);
        char key[16];
        if (band < 0) {
            /* A deny keeps its weight unless another entry (an operator's,
             * or networking-hyperv's 1-16) holds it: then the lowest free
             * one below the allows. */
            int64_t wt = qj_get_int(e, "Weight", 1);
            snprintf(key, sizeof key, "%lld", (long long)wt);
            for (wt = 1; qvs_map_get(used, key) && wt < QHYV_W_STATELESS_LO; wt++)
                snprintf(key, sizeof key, "%lld", (long long)wt);
            if (qvs_map_get(used, key))
                return false;
            qvs_map_put(used, key, qj_null());
            qj_set(e, "Weight", qj_int(strtoll(key, NULL, 10)));
            continue;
        }
        if (qj_get(e, "Weight"))
            continue;
        for (;;) {
            if (next[band] < lo[band])
                return false;
            snprintf(key, sizeof key, "%d", next[band]);
            if (!qvs_map_get(used, key))
                break;
            next[band]--;
        }
        qvs_map_put(used, key, qj_null());
        qj_set(e, "Weight", qj_int(next[band]--));
    }
    return true;
}
