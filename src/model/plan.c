#include "model/plan.h"
#include "model/agent.h"
#include "model/dhcp.h"
#include "model/resources.h"
#include "model/secgroup.h"
#include "model/rewrite.h"
#include "lib/addr.h"
#include "lib/util.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The index is named: without statistics SQLite prefers walking every port
 * in id order (the primary key, bodies inline) to sorting a host's or a
 * network's hundred; at 10,000 ports each plan read them all. */
static const char qplan_sql_host_ports[] =
    "SELECT body FROM resources INDEXED BY resources_host WHERE kind='port' AND host=?1 "
    "ORDER BY id";
static const char qplan_sql_net_ports[] =
    "SELECT body FROM resources INDEXED BY resources_parent WHERE kind='port' AND "
    "parent_id=?1 ORDER BY id";
/* A group's address set: its members' fixed IPs from the allocations, and
 * the bodies of only those members that have allowed address pairs, found
 * through the index of the ports that have any (schema 12: a body is stored
 * compact, "allowed_address_pairs":[] when it has none, as most do).
 * Reading and parsing every member's body instead cost tens of milliseconds
 * per plan revision in a project of thousands of ports; filtering them in
 * the database, still 30 ms on PostgreSQL. */
static const char qplan_sql_sg_member_ips[] =
    "SELECT ip FROM ipallocs WHERE port_id IN (SELECT port_id FROM port_sgs WHERE sg_id=?1)";
static const char qplan_sql_sg_pair_members[] =
    "SELECT r.body FROM resources r INDEXED BY resources_port_pairs WHERE r.kind = 'port' AND "
    "r.body NOT LIKE '%\"allowed_address_pairs\":[]%' AND "
    "EXISTS (SELECT 1 FROM port_sgs s WHERE s.port_id = r.id AND s.sg_id = ?1)";
static const char qplan_sql_agent[] =
    "SELECT body FROM resources WHERE kind='agent' AND host=?1 AND "
    "json_extract(body, '$.agent_type')!='" QDHCP_AGENT_TYPE "' LIMIT 1";
static const char qplan_sql_net_dhcp_ports[] =
    "SELECT body FROM resources INDEXED BY resources_dhcp_ports WHERE kind = 'port' AND "
    "parent_id=?1 AND json_extract(body, '$.device_owner') = '" QHV_DEVICE_OWNER_DHCP "' "
    "ORDER BY id";

/* Where VMs reach the metadata service: the route the DHCP server gives
 * them, and on virtual subnets a customer route via the DHCP port. */
#define QPLAN_METADATA_PREFIX "169.254.169.254/32"

struct qplan_cache {
    int64_t rev;    /* the model's planned_rev these were computed at */
    qj *vnets;      /* network id -> {"lookup": {...}, "routes": {...}} */
    qj *sets;       /* group id -> [member addresses] */
    qj *dhcp;       /* network id -> {"servers": [...], "hosts": {...}} */
};

typedef struct qplan_ctx {
    qop op;
    qj *plan;
    qj *ports, *networks, *groups, *sets, *lookup, *routes, *pas;
    qj *dhcp_networks, *dhcp_hosts;
    qj *dhcp_shared;    /* cache->dhcp, or this plan's own without a cache */
    qj *agents;     /* host -> agent document cache */
    qplan_cache *cache;
} qplan_ctx;

qplan_cache *qplan_cache_new(void)
{
    qplan_cache *c = xcalloc(1, sizeof *c);
    c->rev = -1;
    c->vnets = qj_object();
    c->sets = qj_object();
    c->dhcp = qj_object();
    return c;
}

void qplan_cache_free(qplan_cache *c)
{
    if (!c)
        return;
    qj_free(c->vnets);
    qj_free(c->sets);
    qj_free(c->dhcp);
    free(c);
}

/* Copies the members of src into dst, whose keys are known to be new. */
static void qplan_copy_into(qj *dst, const qj *src)
{
    for (size_t i = 0; src && i < src->u.obj.n; i++)
        qj_set_new(dst, src->u.obj.m[i].key, qj_clone(src->u.obj.m[i].val));
}

static bool qplan_bound(const qj *port)
{
    const char *vif = qj_get_str(port, "binding:vif_type");
    return vif && strcmp(vif, "unbound") && strcmp(vif, "binding_failed");
}

/* The provider address of host's live agent into *pa (borrowed; NULL when
 * it has none): 0, or -1 when it cannot be read. */
static int qplan_provider_address(qplan_ctx *c, const char *host, const char **pa, qerr *e)
{
    *pa = NULL;
    qj *a = qj_get(c->agents, host);
    if (!a) {
        qj *list;
        if (qmodel_docs(c->op.m, qplan_sql_agent, host, &list, e) < 0)
            return -1;
        a = qj_len(list) ? qj_clone(qj_at(list, 0)) : qj_object();
        qj_free(list);
        qj_set(c->agents, host, a);
    }
    if (qj_len(a) && qagent_alive(c->op.m->conf, a, c->op.now))
        *pa = qj_get_str(qj_get(a, "configurations"), "provider_address");
    return 0;
}

static qj *qplan_port(const qj *p)
{
    static const char *const keys[] = {"id", "mac_address", "fixed_ips", "allowed_address_pairs",
                                       "network_id", "admin_state_up", "port_security_enabled",
                                       "security_groups", "binding:vif_type"};
    qj *o = qj_object();
    for (size_t i = 0; i < QHV_ARRAY_SIZE(keys); i++) {
        const qj *v = qj_get(p, keys[i]);
        qj_set(o, !strcmp(keys[i], "binding:vif_type") ? "vif_type" : keys[i],
               v ? qj_clone(v) : qj_null());
    }
    return o;
}

static bool qplan_virtualized(const char *type)
{
    return type && (!strcmp(type, "nvgre") || !strcmp(type, "ip_rewrite"));
}

/* The DHCP port's IPv4 address on a DHCP-enabled subnet (the first such
 * in ips) into hop; left empty if none. */
static void qplan_metadata_hop(const qj *ips, const qj *subnets, char hop[QADDR_STRLEN])
{
    for (size_t i = 0; i < qj_len(ips); i++) {
        const char *sid = qj_get_str(qj_at(ips, i), "subnet_id");
        const char *ip = qj_get_str(qj_at(ips, i), "ip_address");
        for (size_t k = 0; sid && ip && k < qj_len(subnets); k++) {
            const qj *s = qj_at(subnets, k);
            if (!strcmp(qj_get_str(s, "id"), sid) && qj_get_int(s, "ip_version", 0) == 4 &&
                qj_get_bool(s, "enable_dhcp", false)) {
                snprintf(hop, QADDR_STRLEN, "%s", ip);
                return;
            }
        }
    }
}

/* The lookup records and customer routes of one virtual subnet (every port
 * on the network, wherever it is): the same for every host, so computed once
 * per revision when there is a cache. {"lookup": {...}, "routes": {...}}. */
static qj *qplan_virtual_tables(qplan_ctx *c, const qj *net, const qj *subnets, qerr *e)
{
    const char *nid = qj_get_str(net, "id");
    int64_t vsid = qj_get(net, "provider:segmentation_id")->u.i;
    bool rewrite = !strcmp(qj_get_str(net, "provider:network_type"), "ip_rewrite");
    qj *ports;
    if (qmodel_docs(c->op.m, qplan_sql_net_ports, nid, &ports, e) < 0) {
        qj_free(ports);
        return NULL;
    }
    qj *lookup = qj_object(), *routes = qj_object();
    char meta_hop[QADDR_STRLEN] = "";
    for (size_t i = 0; i < qj_len(ports); i++) {
        const qj *p = qj_at(ports, i);
        const char *phost = qj_get_str(p, "binding:host_id");
        if (!qplan_bound(p) || !phost || !*phost)
            continue;
        const char *pa;
        if (qplan_provider_address(c, phost, &pa, e) < 0) {
            qj_free(ports);
            qj_free(lookup);
            qj_free(routes);
            return NULL;
        }
        if (!pa)
            continue;   /* no live agent there: nothing to send traffic to */
        const qj *ips = qj_get(p, "fixed_ips");
        if (!meta_hop[0] && qdhcp_port_scheduled(p))
            qplan_metadata_hop(ips, subnets, meta_hop);
        for (size_t j = 0; j < qj_len(ips); j++) {
            const char *ca = qj_get_str(qj_at(ips, j), "ip_address");
            char rpa[QADDR_STRLEN];
            if (rewrite) {
                /* IP rewrite: the customer address's own provider address. */
                int got = qrewrite_lookup(&c->op, qj_get_str(p, "id"), ca, rpa, e);
                if (got < 0) {
                    qj_free(ports);
                    qj_free(lookup);
                    qj_free(routes);
                    return NULL;
                }
                if (got == 0)
                    continue;   /* no pool on that host: it cannot carry this address */
            }
            char key[160];
            snprintf(key, sizeof key, "%lld/%s/%s", (long long)vsid, ca,
                     qj_get_str(p, "mac_address"));
            qj *r = qj_object();
            qj_set(r, "vsid", qj_int(vsid));
            qj_set(r, "customer_address", qj_str(ca));
            qj_set(r, "mac_address", qj_str(qj_get_str(p, "mac_address")));
            qj_set(r, "provider_address", qj_str(rewrite ? rpa : pa));
            qj_set(r, "rule", qj_str(rewrite ? "rewrite" : "encap"));
            qj_set(r, "host", qj_str(phost));
            qj_set(r, "port_id", qj_str(qj_get_str(p, "id")));
            /* Unique: one network per VSID, one port per (address, MAC). */
            qj_set_new(lookup, key, r);
        }
    }
    qj_free(ports);
    /* One route per subnet (on-link) plus the default route via the gateway,
     * in one routing domain per network. */
    for (size_t i = 0; i < qj_len(subnets); i++) {
        const qj *s = qj_at(subnets, i);
        const char *cidr = qj_get_str(s, "cidr"), *gw = qj_get_str(s, "gateway_ip");
        bool v6 = qj_get(s, "ip_version")->u.i == 6;
        for (int k = 0; k < 2; k++) {
            const char *dest = k == 0 ? cidr : (v6 ? "::/0" : "0.0.0.0/0");
            const char *hop = k == 0 ? (v6 ? "::" : "0.0.0.0") : gw;
            if (!hop)
                continue;
            char key[160];
            snprintf(key, sizeof key, "%lld/%s", (long long)vsid, dest);
            qj *r = qj_object();
            qj_set(r, "vsid", qj_int(vsid));
            qj_set(r, "routing_domain", qj_str(nid));
            qj_set(r, "destination", qj_str(dest));
            qj_set(r, "next_hop", qj_str(hop));
            qj_set(routes, key, r);
        }
    }
    /* The metadata address via the first live DHCP port: HNV forwards what
     * a VM sends to 169.254.169.254 (next hop: that port, as the DHCP server
     * tells the VM) only along a customer route (docs/hyperv.md). */
    if (meta_hop[0]) {
        char key[160];
        snprintf(key, sizeof key, "%lld/%s", (long long)vsid, QPLAN_METADATA_PREFIX);
        qj *r = qj_object();
        qj_set(r, "vsid", qj_int(vsid));
        qj_set(r, "routing_domain", qj_str(nid));
        qj_set(r, "destination", qj_str(QPLAN_METADATA_PREFIX));
        qj_set(r, "next_hop", qj_str(meta_hop));
        qj_set(routes, key, r);
    }
    qj *t = qj_object();
    qj_set(t, "lookup", lookup);
    qj_set(t, "routes", routes);
    return t;
}

/* A virtual subnet in host's plan: its tables, and the provider addresses
 * this host owns. */
static int qplan_virtual_network(qplan_ctx *c, const qj *net, const qj *subnets,
                                 const char *host, qerr *e)
{
    const char *nid = qj_get_str(net, "id");
    bool rewrite = !strcmp(qj_get_str(net, "provider:network_type"), "ip_rewrite");
    qj *tables = c->cache ? qj_get(c->cache->vnets, nid) : NULL, *own_tables = NULL;
    if (!tables) {
        tables = own_tables = qplan_virtual_tables(c, net, subnets, e);
        if (!tables)
            return -1;
        if (c->cache) {
            qj_set(c->cache->vnets, nid, own_tables);
            own_tables = NULL;
        }
    }
    /* Keys start with the VSID, which is one network's: no clash. */
    qplan_copy_into(c->lookup, qj_get(tables, "lookup"));
    qplan_copy_into(c->routes, qj_get(tables, "routes"));
    qj_free(own_tables);
    const char *mine = NULL;
    if (!rewrite && qplan_provider_address(c, host, &mine, e) < 0)
        return -1;
    if (rewrite) {
        qj *own;
        if (qrewrite_host_addresses(&c->op, host, &own, e) < 0) {
            qj_free(own);
            return -1;
        }
        for (size_t i = 0; i < qj_len(own); i++) {
            qj *pa = qj_object();
            qj_set(pa, "address", qj_str(qj_as_str(qj_at(own, i))));
            qj_set(pa, "host", qj_str(host));
            qj_set(c->pas, qj_as_str(qj_at(own, i)), pa);
        }
        qj_free(own);
    }
    if (mine) {
        qj *pa = qj_object();
        qj_set(pa, "address", qj_str(mine));
        qj_set(pa, "host", qj_str(host));
        qj_set(c->pas, mine, pa);
    }
    return 0;
}

/* ---------- DHCP ---------- */

/* The network's entry in dhcp_shared (made empty when new). */
static qj *qplan_dhcp_entry(qplan_ctx *c, const char *nid)
{
    qj *o = qj_get(c->dhcp_shared, nid);
    if (!o) {
        qj_set(c->dhcp_shared, nid, qj_object());
        o = qj_get(c->dhcp_shared, nid);
    }
    return o;
}

/* The network's DHCP servers (its network:dhcp ports), by MAC:
 * [{"mac_address", "ip_addresses": [...]}]. Borrowed. */
static const qj *qplan_dhcp_servers(qplan_ctx *c, const char *nid, qerr *e)
{
    qj *entry = qplan_dhcp_entry(c, nid);
    const qj *have = qj_get(entry, "servers");
    if (have)
        return have;
    qj *ports;
    if (qmodel_docs(c->op.m, qplan_sql_net_dhcp_ports, nid, &ports, e) < 0) {
        qj_free(ports);
        return NULL;
    }
    qj *list = qj_array();
    for (size_t i = 0; i < qj_len(ports); i++) {
        const qj *p = qj_at(ports, i);
        qj *o = qj_object(), *ips = qj_array();
        const qj *f = qj_get(p, "fixed_ips");
        for (size_t k = 0; k < qj_len(f); k++)
            qj_append(ips, qj_str(qj_get_str(qj_at(f, k), "ip_address")));
        qj_set(o, "mac_address", qj_str(qj_get_str(p, "mac_address")));
        qj_set(o, "ip_addresses", ips);
        /* Insertion by MAC: a network has one or two. */
        size_t at = qj_len(list);
        while (at > 0 && strcmp(qj_get_str(qj_at(list, at - 1), "mac_address"),
                                qj_get_str(o, "mac_address")) > 0)
            at--;
        qj_append(list, o);
        for (size_t k = qj_len(list) - 1; k > at; k--) {
            qj *t = list->u.arr.v[k];
            list->u.arr.v[k] = list->u.arr.v[k - 1];
            list->u.arr.v[k - 1] = t;
        }
    }
    qj_free(ports);
    qj_set(entry, "servers", list);
    return list;
}

/* "host-10-0-0-5": the name Neutron's DHCP server gives a port without a
 * dns_name (from its first address). */
static char *qplan_dhcp_hostname(const qj *port)
{
    const char *ip = qj_get_str(qj_at(qj_get(port, "fixed_ips"), 0), "ip_address");
    char *h = xasprintf("host-%s", ip ? ip : "");
    for (char *p = h; *p; p++)
        if (*p == '.' || *p == ':')
            *p = '-';
    return h;
}

/* What a DHCP server of the network serves: every port with an address
 * but the DHCP ports, keyed "<network>/<port>". Borrowed. */
static const qj *qplan_dhcp_hosts(qplan_ctx *c, const char *nid, qerr *e)
{
    qj *entry = qplan_dhcp_entry(c, nid);
    const qj *have = qj_get(entry, "hosts");
    if (have)
        return have;
    qj *ports;
    if (qmodel_docs(c->op.m, qplan_sql_net_ports, nid, &ports, e) < 0) {
        qj_free(ports);
        return NULL;
    }
    qj *hosts = qj_object();
    for (size_t i = 0; i < qj_len(ports); i++) {
        const qj *p = qj_at(ports, i);
        const char *owner = qj_get_str(p, "device_owner");
        const qj *ips = qj_get(p, "fixed_ips");
        if ((owner && !strcmp(owner, QHV_DEVICE_OWNER_DHCP)) || !qj_len(ips))
            continue;
        qj *o = qj_object(), *fips = qj_array();
        for (size_t k = 0; k < qj_len(ips); k++) {
            qj *f = qj_object();
            qj_set(f, "subnet_id", qj_str(qj_get_str(qj_at(ips, k), "subnet_id")));
            qj_set(f, "ip_address", qj_str(qj_get_str(qj_at(ips, k), "ip_address")));
            qj_append(fips, f);
        }
        qj_set(o, "network_id", qj_str(nid));
        qj_set(o, "port_id", qj_str(qj_get_str(p, "id")));
        qj_set(o, "mac_address", qj_str(qj_get_str(p, "mac_address")));
        qj_set(o, "fixed_ips", fips);
        qj_set(o, "hostname", qj_str_take(qplan_dhcp_hostname(p)));
        qj_set(o, "device_id", qj_str(qj_get_str(p, "device_id") ? qj_get_str(p, "device_id") : ""));
        qj_set(o, "device_owner", qj_str(owner ? owner : ""));
        qj_set(o, "project_id", qj_str(qj_get_str(p, "project_id")));
        const qj *opts = qj_get(p, "extra_dhcp_opts");
        qj_set(o, "extra_dhcp_opts", qj_is(opts, QJ_ARRAY) ? qj_clone(opts) : qj_array());
        qj_set(o, "admin_state_up", qj_bool(qj_get_bool(p, "admin_state_up", true)));
        char *key = xasprintf("%s/%s", nid, qj_get_str(p, "id"));
        qj_set_new(hosts, key, o);     /* port ids are unique */
        free(key);
    }
    qj_free(ports);
    qj_set(entry, "hosts", hosts);
    return hosts;
}

/* host's DHCP port on its network: the network's dhcp_networks entry and
 * its hosts in dhcp_hosts. */
static int qplan_dhcp_network(qplan_ctx *c, const qj *port, qerr *e)
{
    const char *nid = qj_get_str(port, "network_id");
    if (qj_get(c->dhcp_networks, nid))
        return 0;
    qj *net, *subnets;
    if (qres_load(&c->op, &qres_network, nid, &net, e) < 0)
        return -1;
    if (!qj_get_bool(net, "admin_state_up", true)) {
        qj_free(net);       /* not served while down (Neutron's DHCP agent) */
        return 0;
    }
    if (qres_children(&c->op, &qres_subnet, nid, &subnets, e) < 0) {
        qj_free(net);
        return -1;
    }
    qj *o = qj_object();
    qj_set(o, "network_id", qj_str(nid));
    qj_set(o, "project_id", qj_clone(qj_get(net, "project_id")));
    qj_set(o, "mtu", qj_clone(qj_get(net, "mtu")));
    qj_set(o, "network_type", qj_clone(qj_get(net, "provider:network_type")));
    qj_set(o, "segmentation_id", qj_clone(qj_get(net, "provider:segmentation_id")));
    qj_set(o, "dns_domain", qj_str(c->op.m->conf->dns_domain));
    qj_set(o, "lease_seconds", qj_int(c->op.m->conf->dhcp_lease_duration));
    qj *dp = qj_object();
    qj_set(dp, "id", qj_str(qj_get_str(port, "id")));
    qj_set(dp, "mac_address", qj_str(qj_get_str(port, "mac_address")));
    qj_set(dp, "fixed_ips", qj_clone(qj_get(port, "fixed_ips")));
    qj_set(o, "port", dp);
    static const char *const skeys[] = {"id", "cidr", "ip_version", "gateway_ip", "enable_dhcp",
                                        "dns_nameservers", "host_routes", "ipv6_ra_mode",
                                        "ipv6_address_mode"};
    qj *subs = qj_array();
    for (size_t i = 0; i < qj_len(subnets); i++) {
        qj *so = qj_object();
        for (size_t k = 0; k < QHV_ARRAY_SIZE(skeys); k++) {
            const qj *v = qj_get(qj_at(subnets, i), skeys[k]);
            qj_set(so, skeys[k], v ? qj_clone(v) : qj_null());
        }
        qj_append(subs, so);
    }
    qj_set(o, "subnets", subs);
    qj_set(c->dhcp_networks, nid, o);
    qj_free(net);
    qj_free(subnets);
    const qj *hosts = qplan_dhcp_hosts(c, nid, e);
    if (!hosts)
        return -1;
    qplan_copy_into(c->dhcp_hosts, hosts);     /* keys start with the network's id */
    return 0;
}

static int qplan_network(qplan_ctx *c, const char *nid, const char *host, qerr *e)
{
    if (qj_get(c->networks, nid))
        return 0;
    qj *net;
    if (qres_load(&c->op, &qres_network, nid, &net, e) < 0)
        return -1;
    qj *subnets;
    if (qres_children(&c->op, &qres_subnet, nid, &subnets, e) < 0) {
        qj_free(net);
        return -1;
    }
    qj *o = qj_object();
    qj_set(o, "id", qj_str(nid));
    qj_set(o, "network_type", qj_clone(qj_get(net, "provider:network_type")));
    qj_set(o, "physical_network", qj_clone(qj_get(net, "provider:physical_network")));
    qj_set(o, "segmentation_id", qj_clone(qj_get(net, "provider:segmentation_id")));
    qj_set(o, "mtu", qj_clone(qj_get(net, "mtu")));
    qj_set(o, "admin_state_up", qj_clone(qj_get(net, "admin_state_up")));
    qj *subs = qj_array();
    static const char *const skeys[] = {"id", "cidr", "ip_version", "gateway_ip", "enable_dhcp",
                                        "dns_nameservers", "host_routes", "ipv6_address_mode"};
    for (size_t i = 0; i < qj_len(subnets); i++) {
        qj *so = qj_object();
        for (size_t k = 0; k < QHV_ARRAY_SIZE(skeys); k++)
            qj_set(so, skeys[k], qj_clone(qj_get(qj_at(subnets, i), skeys[k])));
        qj_append(subs, so);
    }
    qj_set(o, "subnets", subs);
    /* The DHCP servers, when DHCP is qhv's on this network (a DHCP-enabled
     * subnet): then answers come from them only. Without one, an operator's
     * own DHCP server may serve it: no member, no restriction. */
    bool dhcp = false;
    for (size_t i = 0; i < qj_len(subnets) && !dhcp; i++)
        dhcp = qj_get_bool(qj_at(subnets, i), "enable_dhcp", false);
    const qj *servers = dhcp ? qplan_dhcp_servers(c, nid, e) : NULL;
    if (servers)
        qj_set(o, "dhcp_servers", qj_clone(servers));
    qj_set(c->networks, nid, o);
    int rc = !dhcp || servers ? 0 : -1;
    if (rc == 0 && qplan_virtualized(qj_get_str(net, "provider:network_type")))
        rc = qplan_virtual_network(c, net, subnets, host, e);
    qj_free(subnets);
    qj_free(net);
    return rc;
}

static int qplan_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct qplan_strs {
    char **v;
    size_t n, cap;
} qplan_strs;

static void qplan_strs_add(qplan_strs *s, const char *text)
{
    if (s->n == s->cap)
        s->v = xrealloc(s->v, (s->cap = s->cap ? 2 * s->cap : 64) * sizeof *s->v);
    s->v[s->n++] = xstrdup(text);
}

/* The addresses of group sgid's members, sorted, each once: a new array, or
 * NULL with e. */
static qj *qplan_members(qplan_ctx *c, const char *sgid, qerr *e)
{
    qstore *store = c->op.m->store;
    qplan_strs all = {0};
    qstmt *st = qstore_stmt(store, qplan_sql_sg_member_ips, e);
    int rc = st ? QSTORE_DONE : QSTORE_ERROR;
    if (st) {
        qstmt_bind_text(st, 1, sgid, -1, QSTORE_TRANSIENT);
        while ((rc = qstmt_step(st)) == QSTORE_ROW) {
            qaddr a;
            if (qaddr_from_bytes(qstmt_column_blob(st, 0), (size_t)qstmt_column_bytes(st, 0),
                                 &a) < 0)
                continue;
            char text[QADDR_STRLEN];
            qaddr_format(&a, text);
            qplan_strs_add(&all, text);
        }
        qstmt_reset(st);
        if (rc != QSTORE_DONE)
            qstore_fail(store, e, "group member addresses");
    }
    qj *pairs = NULL;
    if (rc == QSTORE_DONE && qmodel_docs(c->op.m, qplan_sql_sg_pair_members, sgid, &pairs, e) < 0)
        rc = QSTORE_ERROR;
    for (size_t i = 0; rc == QSTORE_DONE && i < qj_len(pairs); i++) {
        const qj *list = qj_get(qj_at(pairs, i), "allowed_address_pairs");
        for (size_t j = 0; j < qj_len(list); j++) {
            const char *ip = qj_get_str(qj_at(list, j), "ip_address");
            if (ip)
                qplan_strs_add(&all, ip);
        }
    }
    qj_free(pairs);
    qj *set = rc == QSTORE_DONE ? qj_array() : NULL;
    if (all.n)
        qsort(all.v, all.n, sizeof *all.v, qplan_strcmp);
    for (size_t i = 0; set && i < all.n; i++)
        if (i == 0 || strcmp(all.v[i], all.v[i - 1]))
            qj_append(set, qj_str(all.v[i]));
    for (size_t i = 0; i < all.n; i++)
        free(all.v[i]);
    free(all.v);
    return set;
}

static int qplan_group(qplan_ctx *c, const char *sgid, qerr *e)
{
    if (qj_get(c->groups, sgid))
        return 0;
    qj *sg;
    if (qres_load(&c->op, &qres_security_group, sgid, &sg, e) < 0)
        return -1;
    static const char *const rkeys[] = {"id", "direction", "ethertype", "protocol",
                                        "port_range_min", "port_range_max", "remote_ip_prefix",
                                        "remote_group_id"};
    qj *rules = qj_array();
    const qj *src = qj_get(sg, "security_group_rules");
    int rc = 0;
    for (size_t i = 0; i < qj_len(src); i++) {
        qj *r = qj_object();
        for (size_t k = 0; k < QHV_ARRAY_SIZE(rkeys); k++)
            qj_set(r, rkeys[k], qj_clone(qj_get(qj_at(src, i), rkeys[k])));
        const char *rg = qj_get_str(r, "remote_group_id");
        if (rg && !qj_get(c->sets, rg)) {
            const qj *cached = c->cache ? qj_get(c->cache->sets, rg) : NULL;
            qj *set = cached ? qj_clone(cached) : qplan_members(c, rg, e);
            if (!set)
                rc = -1;
            else if (c->cache && !cached)
                qj_set(c->cache->sets, rg, qj_clone(set));
            if (set)
                qj_set(c->sets, rg, set);
        }
        qj_append(rules, r);
    }
    qj *o = qj_object();
    qj_set(o, "id", qj_str(sgid));
    qj_set(o, "rules", rules);
    /* stateful-security-group: false only when the group says so. */
    const qj *stateful = qj_get(sg, "stateful");
    qj_set(o, "stateful", qj_bool(!qj_is(stateful, QJ_BOOL) || stateful->u.b));
    qj_set(c->groups, sgid, o);
    qj_free(sg);
    return rc;
}

int qplan_compute(qmodel *m, const char *host, qplan_cache *cache, qj **ret, qerr *e)
{
    *ret = NULL;
    qctx admin = {.is_admin = true};
    qplan_ctx c = {.op = {.m = m, .ctx = &admin, .now = qhv_wall_seconds()}, .cache = cache};
    if (qstore_begin_read(m->store, e) < 0)
        return -1;
    int64_t rev = qstore_revision(m->store);
    if (rev < 0) {
        qstore_fail(m->store, e, "plan revision");
        qstore_end_read(m->store);
        return -1;
    }
    /* The cache holds what writes that touch plans change; it is valid for as
     * long as no such write happened (port status reports and heartbeats in
     * between change none of it). planned_rev is read inside the snapshot and
     * is set before its write commits: if it is not above the snapshot's
     * revision, the snapshot holds every plan-touching write there is. */
    int64_t planned = atomic_load(&m->planned_rev);
    if (planned > rev)
        cache = NULL;   /* that write is committing now: do not keep its past */
    c.cache = cache;
    if (cache && cache->rev != planned) {
        qj_free(cache->vnets);
        qj_free(cache->sets);
        qj_free(cache->dhcp);
        cache->vnets = qj_object();
        cache->sets = qj_object();
        cache->dhcp = qj_object();
        cache->rev = planned;
    }
    c.ports = qj_object();
    c.networks = qj_object();
    c.groups = qj_object();
    c.sets = qj_object();
    c.lookup = qj_object();
    c.routes = qj_object();
    c.pas = qj_object();
    c.agents = qj_object();
    c.dhcp_networks = qj_object();
    c.dhcp_hosts = qj_object();
    qj *own_shared = cache ? NULL : qj_object();
    c.dhcp_shared = cache ? cache->dhcp : own_shared;
    /* The DHCP sections only while the host's DHCP agent serves. */
    qj *dhcp_agent = NULL;
    int rc = qdhcp_agent_load(&c.op, host, &dhcp_agent, e);
    bool serves = qdhcp_agent_serves(m->conf, dhcp_agent, c.op.now);
    qj_free(dhcp_agent);
    qj *ports = NULL;
    if (rc == 0)
        rc = qmodel_docs(c.op.m, qplan_sql_host_ports, host, &ports, e);
    for (size_t i = 0; rc == 0 && i < qj_len(ports); i++) {
        const qj *p = qj_at(ports, i);
        if (!qplan_bound(p))
            continue;
        qj_set_new(c.ports, qj_get_str(p, "id"), qplan_port(p));   /* ids are unique */
        rc = qplan_network(&c, qj_get_str(p, "network_id"), host, e);
        if (rc == 0 && serves && qdhcp_port_scheduled(p))
            rc = qplan_dhcp_network(&c, p, e);
        const qj *sgs = qj_get(p, "security_groups");
        for (size_t j = 0; rc == 0 && j < qj_len(sgs); j++)
            rc = qplan_group(&c, qj_as_str(qj_at(sgs, j)), e);
    }
    qj_free(ports);
    qstore_end_read(m->store);
    qj *plan = qj_object();
    qj_set(plan, "ports", c.ports);
    qj_set(plan, "networks", c.networks);
    qj_set(plan, "security_groups", c.groups);
    qj_set(plan, "address_sets", c.sets);
    qj_set(plan, "lookup_records", c.lookup);
    qj_set(plan, "customer_routes", c.routes);
    qj_set(plan, "provider_addresses", c.pas);
    qj_set(plan, "dhcp_networks", c.dhcp_networks);
    qj_set(plan, "dhcp_hosts", c.dhcp_hosts);
    qj_free(c.agents);
    qj_free(own_shared);
    if (rc < 0) {
        qj_free(plan);
        return -1;
    }
    qj *out = qj_object();
    qj_set(out, "host", qj_str(host));
    qj_set(out, "revision", qj_int(rev));
    qj_set(out, "plan", plan);
    *ret = out;
    return 0;
}
