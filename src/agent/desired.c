#include "agent/desired.h"
#include "lib/ipproto.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool qag_is_v6(const char *addr) { return addr && strchr(addr, ':'); }

static void qag_dport_add_dep(qag_dport *p, const char *id)
{
    p->deps = xrealloc(p->deps, (p->ndeps + 1) * sizeof *p->deps);
    p->deps[p->ndeps++] = xstrdup(id);
}

/* The vswitch of a network, or NULL with *problem set. */
static const char *qag_vswitch(const qag_conf *conf, const char *type, const char *physnet,
                               const char **problem)
{
    const char *vs = NULL;
    if (!strcmp(type, "local")) {
        vs = conf->local_network_vswitch;
        if (!*vs)
            *problem = "no local_network_vswitch for a local network";
    } else if (!strcmp(type, "flat") || !strcmp(type, "vlan")) {
        vs = qag_conf_vswitch_for(conf, physnet ? physnet : "");
        if (!vs)
            *problem = "no physical_network_vswitch_mappings entry matches the physical network";
    } else {
        if (*conf->tunnel_vswitch)
            vs = conf->tunnel_vswitch;
        else if (!(vs = qag_conf_vswitch_for(conf, "")) && conf->n_mappings)
            vs = conf->mappings[0].vswitch;
        if (!vs)
            *problem = "no tunnel_vswitch nor mappings for an nvgre/ip_rewrite network";
    }
    return vs;
}

static qj *qag_port_value(const qj *port, const qj *net, const char *vswitch)
{
    const char *type = qj_get_str(net, "network_type");
    const char *mac = qj_get_str(port, "mac_address");
    bool ps = qj_get_bool(port, "port_security_enabled", true);
    qj *v = qj_object();
    qj_set(v, "vswitch", qj_str(vswitch));
    qj_set(v, "network_id", qj_clone(qj_get(net, "id")));
    qj_set(v, "network_type", qj_str(type));
    const qj *seg = qj_get(net, "segmentation_id");
    if (!strcmp(type, "vlan"))
        qj_set(v, "vlan", qj_clone(seg));
    else if (!strcmp(type, "nvgre") || !strcmp(type, "ip_rewrite"))
        qj_set(v, "vsid", qj_clone(seg));
    qj_set(v, "mac_address", qj_clone(qj_get(port, "mac_address")));
    qj_set(v, "mtu", qj_clone(qj_get(net, "mtu")));
    qj_set(v, "admin_state_up", qj_bool(qj_get_bool(port, "admin_state_up", true) &&
                                        qj_get_bool(net, "admin_state_up", true)));
    qj_set(v, "port_security", qj_bool(ps));
    bool spoof = !ps;
    qj *allowed = qj_array();
    const qj *ips = qj_get(port, "fixed_ips"), *pairs = qj_get(port, "allowed_address_pairs");
    for (size_t i = 0; i < qj_len(ips); i++) {
        const char *ip = qj_get_str(qj_at(ips, i), "ip_address");
        if (!ip)
            continue;
        qj *a = qj_object();
        qj_set(a, "ip_address", qj_str(ip));
        qj_set(a, "mac_address", mac ? qj_str(mac) : qj_null());
        qj_append(allowed, a);
    }
    for (size_t i = 0; i < qj_len(pairs); i++) {
        const char *ip = qj_get_str(qj_at(pairs, i), "ip_address");
        const char *pmac = qj_get_str(qj_at(pairs, i), "mac_address");
        if (!ip)
            continue;
        if (!pmac)
            pmac = mac;
        if (pmac && mac && strcasecmp(pmac, mac))
            spoof = true;
        qj *a = qj_object();
        qj_set(a, "ip_address", qj_str(ip));
        qj_set(a, "mac_address", pmac ? qj_str(pmac) : qj_null());
        qj_append(allowed, a);
    }
    qj_set(v, "mac_spoofing", qj_bool(spoof));
    qj_set(v, "dhcp_guard", qj_bool(ps));
    qj_set(v, "router_guard", qj_bool(ps));
    /* The network's DHCP servers (its network:dhcp ports' MACs), when the
     * plan names them: a port with port security takes DHCP answers from
     * them only. */
    const qj *servers = qj_get(net, "dhcp_servers");
    if (ps && qj_is(servers, QJ_ARRAY)) {
        qj *macs = qj_array();
        for (size_t i = 0; i < qj_len(servers); i++) {
            const char *m = qj_get_str(qj_at(servers, i), "mac_address");
            if (m)
                qj_append(macs, qj_str(m));
        }
        qj_set(v, "dhcp_servers", macs);
    }
    if (ps)
        qj_set(v, "allowed_addresses", allowed);
    else
        qj_free(allowed);
    return v;
}

/* The match of a rule without its remote: what rules are merged by. The
 * protocol is given as its number (null = any), so "tcp" and "6" merge. */
static char *qag_rule_match(const qj *r)
{
    static const char *const keys[] = {"ethertype", "protocol", "port_range_min",
                                       "port_range_max"};
    qj *o = qj_object();
    for (size_t i = 0; i < QHV_ARRAY_SIZE(keys); i++) {
        const qj *v = qj_get(r, keys[i]);
        int proto = i == 1 ? qhv_ipproto_num(qj_get_str(r, "protocol")) : 0;
        if (i == 1)
            qj_set(o, keys[i], proto < 0 ? qj_null() : qj_int(proto));
        else
            qj_set(o, keys[i], v ? qj_clone(v) : qj_null());
    }
    char *text = qj_to_string(o);
    qj_free(o);
    return text;
}

static int qag_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys of m, sorted (borrowed; caller frees the array). */
static const char **qag_sorted_keys(const qvs_map *m, size_t *n)
{
    const char **keys = xcalloc(qvs_map_size(m) + 1, sizeof *keys);
    *n = 0;
    for (size_t i = 0; i < qvs_map_end(m); i++)
        if (qvs_map_at(m, i, &keys[*n], NULL))
            (*n)++;
    qsort(keys, *n, sizeof *keys, qag_cmp_str);
    return keys;
}

/* The sorted keys of m as a JSON array of strings. */
static qj *qag_sorted_array(const qvs_map *m)
{
    size_t n;
    const char **keys = qag_sorted_keys(m, &n);
    qj *list = qj_array();
    for (size_t k = 0; k < n; k++)
        qj_append(list, qj_str(keys[k]));
    free(keys);
    return list;
}

static void qag_set_add(qvs_map *m, const char *key)
{
    if (!qvs_map_get(m, key))
        qvs_map_put(m, key, NULL);
}

typedef struct qag_acc {
    bool any;               /* from/to anywhere */
    qvs_map *prefixes;      /* prefix → null */
    qvs_map *sets;          /* address set key "<group>/<ethertype>" → null */
} qag_acc;

qj *qag_desired_acl_rules(const qvs_map *groups, const qj *port, const char *direction,
                          qvs_map *sets_used)
{
    qvs_map *idx = qvs_map_new();   /* match text → index in acc */
    qag_acc *acc = NULL;
    size_t nacc = 0;
    const qj *sgs = qj_get(port, "security_groups");
    for (size_t g = 0; g < qj_len(sgs); g++) {
        const qj *sg = qvs_map_get(groups, qj_as_str(qj_at(sgs, g)));
        const qj *rules = qj_get(sg, "rules");
        for (size_t i = 0; i < qj_len(rules); i++) {
            const qj *r = qj_at(rules, i);
            const char *dir = qj_get_str(r, "direction");
            if (!dir || strcmp(dir, direction))
                continue;
            char *match = qag_rule_match(r);
            const qj *at = qvs_map_get(idx, match);
            qag_acc *e;
            if (at) {
                e = &acc[at->u.i];
            } else {
                acc = xrealloc(acc, (nacc + 1) * sizeof *acc);
                e = &acc[nacc];
                e->any = false;
                e->prefixes = qvs_map_new();
                e->sets = qvs_map_new();
                qvs_map_put(idx, match, qj_int((int64_t)nacc++));
            }
            free(match);
            const char *eth = qj_get_str(r, "ethertype");
            const char *rg = qj_get_str(r, "remote_group_id");
            const char *rp = qj_get_str(r, "remote_ip_prefix");
            if (rg) {
                char key[300];
                snprintf(key, sizeof key, "%s/%s", rg,
                         eth && !strcmp(eth, "IPv6") ? "IPv6" : "IPv4");
                qag_set_add(e->sets, key);
                if (sets_used)
                    qag_set_add(sets_used, key);
            } else if (rp) {
                qag_set_add(e->prefixes, rp);
            } else {
                e->any = true;
            }
        }
    }
    size_t n;
    const char **keys = qag_sorted_keys(idx, &n);
    qj *out = qj_array();
    for (size_t i = 0; i < n; i++) {
        qag_acc *e = &acc[qvs_map_get(idx, keys[i])->u.i];
        qj *rule = qj_parse(keys[i], strlen(keys[i]), NULL, NULL);
        qj_set(rule, "remote_ip_prefixes", e->any ? qj_null() : qag_sorted_array(e->prefixes));
        qj_set(rule, "remote_address_sets", e->any ? qj_array() : qag_sorted_array(e->sets));
        qj_append(out, rule);
    }
    free(keys);
    for (size_t i = 0; i < nacc; i++) {
        qvs_map_free(acc[i].prefixes);
        qvs_map_free(acc[i].sets);
    }
    free(acc);
    qvs_map_free(idx);
    return out;
}

/* The address_set value of key "<group>/<ethertype>": the group's member
 * addresses of that family, as prefixes, sorted and unique. */
static qj *qag_address_set_value(const qvs_map *sets, const char *key)
{
    const char *slash = strrchr(key, '/');
    char *gid = xstrndup(key, (size_t)(slash - key));
    bool v6 = !strcmp(slash + 1, "IPv6");
    qvs_map *members = qvs_map_new();
    const qj *set = qvs_map_get(sets, gid);
    for (size_t k = 0; k < qj_len(set); k++) {
        const char *a = qj_as_str(qj_at(set, k));
        if (!a || qag_is_v6(a) != v6)
            continue;
        char prefix[128];
        if (strchr(a, '/'))
            snprintf(prefix, sizeof prefix, "%s", a);
        else
            snprintf(prefix, sizeof prefix, "%s/%d", a, v6 ? 128 : 32);
        qag_set_add(members, prefix);
    }
    qj *v = qj_object();
    qj_set(v, "group_id", qj_str(gid));
    qj_set(v, "ethertype", qj_str(v6 ? "IPv6" : "IPv4"));
    qj_set(v, "addresses", qag_sorted_array(members));
    qvs_map_free(members);
    free(gid);
    return v;
}

static qj *qag_acl_value(const qvs_map *groups, const qj *port, const qj *net,
                         const char *direction, qvs_map *sets_used)
{
    qj *v = qj_object();
    qj_set(v, "port_id", qj_clone(qj_get(port, "id")));
    qj_set(v, "direction", qj_str(direction));
    qj_set(v, "default", qj_str("deny"));
    /* A port's groups are all stateful or all not (the server checks). */
    bool stateful = true;
    const qj *sgs = qj_get(port, "security_groups");
    for (size_t g = 0; g < qj_len(sgs); g++) {
        const qj *sg = qvs_map_get(groups, qj_as_str(qj_at(sgs, g)));
        stateful &= qj_get_bool(sg, "stateful", true);
    }
    qj_set(v, "stateful", qj_bool(stateful));
    qj_set(v, "rules", qag_desired_acl_rules(groups, port, direction, sets_used));
    /* The network's own prefixes: where its DHCP servers and routers are
     * (a backend that matches addresses only keeps DHCP open by them). */
    qj *on_link = qj_array();
    const qj *subs = qj_get(net, "subnets");
    for (size_t i = 0; i < qj_len(subs); i++)
        if (qj_get_str(qj_at(subs, i), "cidr"))
            qj_append(on_link, qj_str(qj_get_str(qj_at(subs, i), "cidr")));
    qj_set(v, "on_link", on_link);
    /* The network's DHCP servers as the plan names them: a backend that
     * matches addresses (Hyper-V) takes DHCP answers from theirs only. */
    const qj *servers = qj_get(net, "dhcp_servers");
    if (qj_is(servers, QJ_ARRAY))
        qj_set(v, "dhcp_servers", qj_clone(servers));
    return v;
}

/* Appends s to the array under key in m (creating it). */
static void qag_index_add(qvs_map *m, const char *key, const char *s)
{
    qj *a = qvs_map_get(m, key);
    if (!a) {
        a = qj_array();
        qvs_map_put(m, key, a);
    }
    qj_append(a, qj_str(s));
}

/* Port key of the plan (its value port; NULL if unreadable): its entry in
 * ret->ports, and its objects if its VM NIC is present. */
static void qag_desired_port(qag_desired *ret, const qag_conf *conf, const qvs_map *nics,
                             const char *key, const qj *port, const qvs_map *nets,
                             const qvs_map *groups, const qvs_map *sets,
                             const qvs_map *by_port, const qvs_map *by_vsid)
{
    char id[512];
    qag_dport *p = &ret->ports[ret->nports++];
    p->id = xstrdup(key);
    p->nic = qvs_map_get(nics, key) != NULL;
    const qj *net = qvs_map_get(nets, qj_get_str(port, "network_id"));
    p->admin_up = qj_get_bool(port, "admin_state_up", true) &&
                  qj_get_bool(net, "admin_state_up", true);
    if (!p->nic)
        return;
    const char *type = qj_get_str(net, "network_type");
    const char *vswitch = NULL;
    if (!net || !type)
        p->problem = "its network is not in the plan";
    else if (!qag_conf_has_type(conf, type))
        p->problem = "its network type is not in [agent] network_types";
    else
        vswitch = qag_vswitch(conf, type, qj_get_str(net, "physical_network"), &p->problem);
    if (!vswitch)
        return;
    snprintf(id, sizeof id, "port/%s", key);
    qvs_map_put(ret->objects, id, qag_port_value(port, net, vswitch));
    qag_dport_add_dep(p, id);
    if (qj_get_bool(port, "port_security_enabled", true)) {
        static const char *const dirs[] = {"ingress", "egress"};
        qvs_map *used = qvs_map_new();
        for (int d = 0; d < 2; d++) {
            snprintf(id, sizeof id, "acl/%s/%s", key, dirs[d]);
            qvs_map_put(ret->objects, id, qag_acl_value(groups, port, net, dirs[d], used));
            qag_dport_add_dep(p, id);
        }
        const char *sk;
        for (size_t k = 0; k < qvs_map_end(used); k++) {
            if (!qvs_map_at(used, k, &sk, NULL))
                continue;
            snprintf(id, sizeof id, "address_set/%s", sk);
            if (!qvs_map_get(ret->objects, id))
                qvs_map_put(ret->objects, id, qag_address_set_value(sets, sk));
            qag_dport_add_dep(p, id);
        }
        qvs_map_free(used);
    }
    const qj *own = qvs_map_get(by_port, key);
    for (size_t k = 0; k < qj_len(own); k++)
        qag_dport_add_dep(p, qj_as_str(qj_at(own, k)));
    const qj *seg = qj_get(net, "segmentation_id");
    if (strcmp(type, "nvgre") && strcmp(type, "ip_rewrite"))
        return;
    char vk[32];
    snprintf(vk, sizeof vk, "%lld", qj_is(seg, QJ_INT) ? (long long)seg->u.i : -1LL);
    const qj *rs = qvs_map_get(by_vsid, vk);
    for (size_t k = 0; k < qj_len(rs); k++)
        qag_dport_add_dep(p, qj_as_str(qj_at(rs, k)));
}

void qag_desired_compute(const qag_plan *plan, const qag_conf *conf, const qvs_map *nics,
                         qag_desired *ret)
{
    memset(ret, 0, sizeof *ret);
    ret->objects = qvs_map_new();
    const char *key, *text;
    size_t len;
    qj *val;
    char id[512];
    /* Network-level objects, and indexes of what each port depends on. */
    qvs_map *by_port = qvs_map_new(), *by_vsid = qvs_map_new();
    const qtm *lookup = plan->sec[QAG_SEC_LOOKUP], *routes = plan->sec[QAG_SEC_ROUTES],
              *pas = plan->sec[QAG_SEC_PAS], *ports = plan->sec[QAG_SEC_PORTS];
    for (size_t i = 0; i < qtm_end(pas); i++) {
        if (!qtm_at(pas, i, &key, &text, &len) || !(val = qag_plan_parse(text, len)))
            continue;
        snprintf(id, sizeof id, "provider_address/%s", key);
        qvs_map_put(ret->objects, id, val);
    }
    for (size_t i = 0; i < qtm_end(lookup); i++) {
        if (!qtm_at(lookup, i, &key, &text, &len) || !(val = qag_plan_parse(text, len)))
            continue;
        snprintf(id, sizeof id, "lookup_record/%s", key);
        qvs_map_put(ret->objects, id, val);     /* borrowed from the objects from here */
        const char *pid = qj_get_str(val, "port_id"), *host = qj_get_str(val, "host");
        if (pid && host && !strcmp(host, conf->host)) {
            qag_index_add(by_port, pid, id);
            const char *pa = qj_get_str(val, "provider_address");
            char paid[300];
            snprintf(paid, sizeof paid, "provider_address/%s", pa ? pa : "");
            if (pa && qvs_map_get(ret->objects, paid))
                qag_index_add(by_port, pid, paid);
        }
    }
    for (size_t i = 0; i < qtm_end(routes); i++) {
        if (!qtm_at(routes, i, &key, &text, &len) || !(val = qag_plan_parse(text, len)))
            continue;
        snprintf(id, sizeof id, "customer_route/%s", key);
        qvs_map_put(ret->objects, id, val);
        const qj *vsid = qj_get(val, "vsid");
        if (qj_is(vsid, QJ_INT)) {
            char vk[32];
            snprintf(vk, sizeof vk, "%lld", (long long)vsid->u.i);
            qag_index_add(by_vsid, vk, id);
        }
    }
    /* Ports. The small sections every port reads, parsed once. */
    qvs_map *nets = qag_plan_section(plan, QAG_SEC_NETWORKS);
    qvs_map *groups = qag_plan_section(plan, QAG_SEC_GROUPS);
    qvs_map *sets = qag_plan_section(plan, QAG_SEC_SETS);
    /* A network node's own DHCP ports are trusted, as Neutron's firewalls
     * trust network:* ports: they serve DHCP and answer for 169.254.169.254. */
    qvs_map *dhcp_ports = qvs_map_new();
    const qtm *dnets = plan->sec[QAG_SEC_DHCP_NETS];
    for (size_t i = 0; i < qtm_end(dnets); i++) {
        if (!qtm_at(dnets, i, &key, &text, &len) || !(val = qag_plan_parse(text, len)))
            continue;
        const char *pid = qj_get_str(qj_get(val, "port"), "id");
        if (pid)
            qvs_map_put(dhcp_ports, pid, qj_null());
        qj_free(val);
    }
    ret->ports = xcalloc(qtm_size(ports) + 1, sizeof *ret->ports);
    for (size_t i = 0; i < qtm_end(ports); i++) {
        if (!qtm_at(ports, i, &key, &text, &len))
            continue;
        qj *port = qag_plan_parse(text, len);
        if (port && qvs_map_get(dhcp_ports, key))
            qj_set(port, "port_security_enabled", qj_bool(false));
        qag_desired_port(ret, conf, nics, key, port, nets, groups, sets, by_port, by_vsid);
        qj_free(port);
    }
    qvs_map_free(dhcp_ports);
    qvs_map_free(nets);
    qvs_map_free(groups);
    qvs_map_free(sets);
    qvs_map_free(by_port);
    qvs_map_free(by_vsid);
}

void qag_desired_free(qag_desired *d)
{
    if (!d)
        return;
    qvs_map_free(d->objects);
    for (size_t i = 0; i < d->nports; i++) {
        for (size_t k = 0; k < d->ports[i].ndeps; k++)
            free(d->ports[i].deps[k]);
        free(d->ports[i].deps);
        free(d->ports[i].id);
    }
    free(d->ports);
    memset(d, 0, sizeof *d);
}
