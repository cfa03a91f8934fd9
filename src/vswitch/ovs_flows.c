#include "vswitch/ovs_flows.h"
#include "lib/util.h"
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QOVS_CT_NEW "ct_state=+new-est-rel-inv+trk"
#define QOVS_BCAST "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00"

static uint64_t qovs_fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

uint64_t qovs_cookie(const char *id)
{
    /* Below QOVS_COOKIE_BASE's range is fine: only 0 is reserved (no cookie). */
    uint64_t c = qovs_fnv(id) & 0x7fffffffffffffffULL;
    return c ? c : 1;
}

/* ---------- the flow accumulator ---------- */

/* An open-addressing hash of flows by identity (table, priority, match):
 * tens of thousands of flows per computation, so no JSON values here. */
typedef struct qovs_flow {
    char *key;          /* "table=T,priority=P[,match]"; NULL: a free slot */
    char *actions;
    uint64_t cookie;
    uint64_t hash;
} qovs_flow;

typedef struct qovs_acc {
    qovs_flow *slots;
    size_t cap, n;      /* cap: a power of two, kept at least twice n */
} qovs_acc;

static void qovs_acc_grow(qovs_acc *f)
{
    size_t cap = f->cap ? f->cap * 2 : 4096;
    qovs_flow *slots = xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < f->cap; i++) {
        if (!f->slots[i].key)
            continue;
        size_t j = f->slots[i].hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = f->slots[i];
    }
    free(f->slots);
    f->slots = slots;
    f->cap = cap;
}

static void qovs_acc_free(qovs_acc *f)
{
    for (size_t i = 0; i < f->cap; i++) {
        free(f->slots[i].key);
        free(f->slots[i].actions);
    }
    free(f->slots);
}

static void qovs_add(qovs_acc *f, int table, int prio, const char *match, uint64_t cookie,
                     const char *actions)
{
    char buf[1024];
    int len = snprintf(buf, sizeof buf, "table=%d,priority=%d%s%s", table, prio,
                       *match ? "," : "", match);
    char *key = (size_t)len < sizeof buf ? buf
                                         : xasprintf("table=%d,priority=%d,%s", table, prio, match);
    if (2 * (f->n + 1) > f->cap)
        qovs_acc_grow(f);
    uint64_t h = qovs_fnv(key);
    size_t j = h & (f->cap - 1);
    for (; f->slots[j].key; j = (j + 1) & (f->cap - 1)) {
        qovs_flow *cur = &f->slots[j];
        if (cur->hash != h || strcmp(cur->key, key))
            continue;
        /* The same match twice: conjunction clauses of several rules merge
         * into one flow; anything else is the same flow again. */
        if (!strncmp(cur->actions, "conjunction(", 12) && !strncmp(actions, "conjunction(", 12) &&
            !strstr(cur->actions, actions)) {
            char *merged = xasprintf("%s,%s", cur->actions, actions);
            free(cur->actions);
            cur->actions = merged;
        }
        if (key != buf)
            free(key);
        return;
    }
    f->slots[j] = (qovs_flow){key == buf ? xstrdup(buf) : key, xstrdup(actions), cookie, h};
    f->n++;
}

/* ---------- what the objects say ---------- */

typedef struct qovs_port {
    const char *id;
    const qj *v;            /* the port/ object */
    uint64_t cookie;
    int ofport;
    uint64_t meta;          /* the network in metadata */
    bool up, ps;
    bool stateless[2];      /* egress, ingress: its acl/ says stateful false */
} qovs_port;

typedef struct qovs_net {
    uint64_t meta;
    const char *type;
    int64_t seg;            /* vlan id or VSID */
    int patch;              /* flat/vlan: the physical bridge's patch ofport, else 0 */
    uint64_t cookie;        /* of its first local port */
    qovs_port **ports;
    size_t nports;
    const char **rec_ids;   /* nvgre, ip_rewrite: the lookup records of its VSID */
    const qj **recs;
    size_t nrecs;
} qovs_net;

static uint64_t qovs_net_meta(const qj *port)
{
    const char *type = qj_get_str(port, "network_type");
    const qj *vsid = qj_get(port, "vsid");
    if (type && !strcmp(type, "nvgre") && qj_is(vsid, QJ_INT))
        return (uint64_t)vsid->u.i;
    const char *nid = qj_get_str(port, "network_id");
    return (1ULL << 40) | (qovs_fnv(nid ? nid : "") & 0xffffffffULL);
}

static int qovs_cmp_port(const void *a, const void *b)
{
    return strcmp(((const qovs_port *)a)->id, ((const qovs_port *)b)->id);
}

/* ---------- port ranges ---------- */

void qovs_port_masks(int lo, int hi, qbuf *out)
{
    bool first = true;
    while (lo <= hi) {
        /* The largest aligned block starting at lo that fits in [lo, hi]. */
        int size = 1;
        while (size < 65536 && (lo & (size * 2 - 1)) == 0 && lo + size * 2 - 1 <= hi)
            size *= 2;
        if (!first)
            qbuf_putc(out, '\n');
        first = false;
        if (size == 1)
            qbuf_printf(out, "%d", lo);
        else
            qbuf_printf(out, "0x%x/0x%x", lo, 0xffff & ~(size - 1));
        lo += size;
    }
}

/* The protocol matches of a rule, one per line. */
static void qovs_rule_matches(const qj *r, qbuf *out)
{
    bool v6 = qj_get_str(r, "ethertype") && !strcmp(qj_get_str(r, "ethertype"), "IPv6");
    const qj *p = qj_get(r, "protocol"), *mn = qj_get(r, "port_range_min"),
             *mx = qj_get(r, "port_range_max");
    int proto = qj_is(p, QJ_INT) ? (int)p->u.i : -1;
    bool has_min = qj_is(mn, QJ_INT), has_max = qj_is(mx, QJ_INT);
    const char *l4 = proto == 6 ? "tcp" : proto == 17 ? "udp" : proto == 132 ? "sctp" : NULL;
    if (proto < 0) {
        qbuf_puts(out, v6 ? "ipv6" : "ip");
    } else if (l4) {
        if (!has_min) {
            qbuf_printf(out, "%s%s", l4, v6 ? "6" : "");
            return;
        }
        qbuf masks;
        qbuf_init(&masks, 0);
        qovs_port_masks((int)mn->u.i, has_max ? (int)mx->u.i : (int)mn->u.i, &masks);
        char *save = NULL;
        bool first = true;
        for (char *m = strtok_r(masks.data, "\n", &save); m; m = strtok_r(NULL, "\n", &save)) {
            qbuf_printf(out, "%s%s%s,tp_dst=%s", first ? "" : "\n", l4, v6 ? "6" : "", m);
            first = false;
        }
        qbuf_free(&masks);
    } else if ((proto == 1 && !v6) || (proto == 58 && v6)) {
        const char *f = v6 ? "icmpv6" : "icmp";
        qbuf_puts(out, v6 ? "icmp6" : "icmp");
        if (has_min)
            qbuf_printf(out, ",%s_type=%" PRId64, f, mn->u.i);
        if (has_min && has_max)
            qbuf_printf(out, ",%s_code=%" PRId64, f, mx->u.i);
    } else {
        qbuf_printf(out, "%s,nw_proto=%d", v6 ? "ipv6" : "ip", proto);
    }
}

/* ---------- security groups ---------- */

typedef struct qovs_conj {
    qvs_map *ids;       /* rule key → int id */
    qvs_map *taken;     /* id text → rule key */
    qvs_map *emitted;   /* id text → null: its remote clause's flows are out */
} qovs_conj;

/* A conjunction id per distinct (direction, rule with its remotes): ports
 * with the same rule share its member flows. Stable: a hash, probed. */
static uint32_t qovs_conj_id(qovs_conj *c, const char *key)
{
    const qj *have = qvs_map_get(c->ids, key);
    if (have)
        return (uint32_t)have->u.i;
    uint32_t id = (uint32_t)(qovs_fnv(key) & 0x7fffffff) | 1;
    for (;;) {
        char t[16];
        snprintf(t, sizeof t, "%u", id);
        if (!qvs_map_get(c->taken, t)) {
            qvs_map_put(c->taken, t, qj_str(key));
            qvs_map_put(c->ids, key, qj_int(id));
            return id;
        }
        id = (id + 2) & 0x7fffffff;
    }
}

static void qovs_acl(qovs_acc *f, qovs_conj *conj, const qvs_map *objects, const char *id,
                     const qj *acl, const qovs_port *p)
{
    const char *dir = qj_get_str(acl, "direction");
    bool egress = dir && !strcmp(dir, "egress");
    int table = egress ? 21 : 51;
    const char *reg = egress ? "reg6" : "reg7";
    /* Stateless (stateful-security-group): every packet is matched by the
     * rules themselves, without conntrack; replies need rules of their own. */
    bool stateless = !qj_get_bool(acl, "stateful", true);
    const char *ct_new = stateless ? "" : QOVS_CT_NEW ",";
    const char *commit = egress ? "ct(commit,zone=NXM_NX_REG6[0..15]),goto_table:40"
                                : "ct(commit,zone=NXM_NX_REG7[0..15]),output:NXM_NX_REG7[0..15]";
    if (stateless)
        commit = egress ? "goto_table:40" : "output:NXM_NX_REG7[0..15]";
    uint64_t ck = qovs_cookie(id);
    const qj *rules = qj_get(acl, "rules");
    for (size_t i = 0; i < qj_len(rules); i++) {
        const qj *r = qj_at(rules, i);
        bool v6 = qj_get_str(r, "ethertype") && !strcmp(qj_get_str(r, "ethertype"), "IPv6");
        const char *eth = v6 ? "ipv6" : "ip";
        const char *rfield = egress ? (v6 ? "ipv6_dst" : "nw_dst") : (v6 ? "ipv6_src" : "nw_src");
        qbuf pm;
        qbuf_init(&pm, 0);
        qovs_rule_matches(r, &pm);
        const qj *prefixes = qj_get(r, "remote_ip_prefixes"), *sets = qj_get(r, "remote_address_sets");
        char *save = NULL;
        if (!qj_is(prefixes, QJ_ARRAY) || !qj_len(sets)) {
            /* Anywhere, or prefixes only: plain flows. */
            for (char *m = strtok_r(pm.data, "\n", &save); m; m = strtok_r(NULL, "\n", &save)) {
                if (!qj_is(prefixes, QJ_ARRAY)) {
                    char *match = xasprintf("%s%s=%d,%s", ct_new, reg, p->ofport, m);
                    qovs_add(f, table, 50, match, ck, commit);
                    free(match);
                    continue;
                }
                for (size_t k = 0; k < qj_len(prefixes); k++) {
                    char *match = xasprintf("%s%s=%d,%s,%s=%s", ct_new, reg, p->ofport, m,
                                            rfield, qj_as_str(qj_at(prefixes, k)));
                    qovs_add(f, table, 50, match, ck, commit);
                    free(match);
                }
            }
            qbuf_free(&pm);
            continue;
        }
        /* Remote groups: a conjunction of (this port, protocol, ports) and
         * (remote address: a prefix or a member of a named set). */
        char *rtext = qj_to_string(r);
        char *key = xasprintf("%s%s %s", dir, stateless ? " stateless" : "", rtext);
        free(rtext);
        uint32_t cid = qovs_conj_id(conj, key);
        free(key);
        char act[64];
        for (char *m = strtok_r(pm.data, "\n", &save); m; m = strtok_r(NULL, "\n", &save)) {
            char *match = xasprintf("%s%s=%d,%s", ct_new, reg, p->ofport, m);
            snprintf(act, sizeof act, "conjunction(%u,2/2)", cid);
            qovs_add(f, table, 40, match, ck, act);
            free(match);
        }
        /* The remote clause is the same for every port with this rule:
         * emitted once (member flows times ports would be quadratic). */
        char cidt[16];
        snprintf(cidt, sizeof cidt, "%u", cid);
        if (qvs_map_get(conj->emitted, cidt)) {
            char *cm = xasprintf("conj_id=%u,%s", cid, eth);
            qovs_add(f, table, 40, cm, ck, commit);
            free(cm);
            qbuf_free(&pm);
            continue;
        }
        qvs_map_put(conj->emitted, cidt, qj_bool(true));
        snprintf(act, sizeof act, "conjunction(%u,1/2)", cid);
        for (size_t k = 0; k < qj_len(prefixes); k++) {
            char *match = xasprintf("%s%s,%s=%s", ct_new, eth, rfield,
                                    qj_as_str(qj_at(prefixes, k)));
            qovs_add(f, table, 40, match, ck, act);
            free(match);
        }
        for (size_t s = 0; s < qj_len(sets); s++) {
            char sid[300];
            snprintf(sid, sizeof sid, "address_set/%s", qj_as_str(qj_at(sets, s)));
            const qj *addrs = qj_get(qvs_map_get(objects, sid), "addresses");
            uint64_t sck = qovs_cookie(sid);
            for (size_t k = 0; k < qj_len(addrs); k++) {
                char *match = xasprintf("%s%s,%s=%s", ct_new, eth, rfield,
                                        qj_as_str(qj_at(addrs, k)));
                qovs_add(f, table, 40, match, sck, act);
                free(match);
            }
        }
        char *cm = xasprintf("conj_id=%u,%s", cid, eth);
        qovs_add(f, table, 40, cm, ck, commit);
        free(cm);
        qbuf_free(&pm);
    }
}

/* Table 0/10/20/50 entries of one VM port. */
static void qovs_port_flows(qovs_acc *f, const qovs_port *p)
{
    char m[512], a[512];
    int o = p->ofport;
    snprintf(m, sizeof m, "in_port=%d", o);
    if (!p->up) {
        qovs_add(f, 0, 100, m, p->cookie, "drop");
        return;
    }
    snprintf(a, sizeof a, "set_field:0x%" PRIx64 "->metadata,set_field:%d->reg6,goto_table:10",
             p->meta, o);
    qovs_add(f, 0, 100, m, p->cookie, a);
    if (!p->ps) {
        qovs_add(f, 10, 100, m, p->cookie, "goto_table:20");
        snprintf(m, sizeof m, "reg6=%d", o);
        qovs_add(f, 20, 100, m, p->cookie, "goto_table:40");
        snprintf(m, sizeof m, "reg7=%d", o);
        snprintf(a, sizeof a, "output:%d", o);
        qovs_add(f, 50, 100, m, p->cookie, a);
        return;
    }
    /* Anti-spoofing: what the VM may send from. */
    const qj *allowed = qj_get(p->v, "allowed_addresses");
    const char *pmac = qj_get_str(p->v, "mac_address");
    qvs_map *macs = qvs_map_new();
    if (pmac)
        qvs_map_put(macs, pmac, NULL);
    for (size_t i = 0; i < qj_len(allowed); i++) {
        const char *ip = qj_get_str(qj_at(allowed, i), "ip_address");
        const char *mac = qj_get_str(qj_at(allowed, i), "mac_address");
        if (!mac)
            mac = pmac;
        if (!ip || !mac)
            continue;
        if (!qvs_map_get(macs, mac))
            qvs_map_put(macs, mac, NULL);
        if (strchr(ip, ':')) {
            snprintf(m, sizeof m, "in_port=%d,dl_src=%s,ipv6,ipv6_src=%s", o, mac, ip);
            qovs_add(f, 10, 100, m, p->cookie, "goto_table:20");
        } else {
            snprintf(m, sizeof m, "in_port=%d,dl_src=%s,ip,nw_src=%s", o, mac, ip);
            qovs_add(f, 10, 100, m, p->cookie, "goto_table:20");
            snprintf(m, sizeof m, "in_port=%d,dl_src=%s,arp,arp_sha=%s,arp_spa=%s", o, mac, mac,
                     ip);
            qovs_add(f, 10, 100, m, p->cookie, "goto_table:20");
        }
    }
    const char *mac;
    for (size_t i = 0; i < qvs_map_end(macs); i++) {
        if (!qvs_map_at(macs, i, &mac, NULL))
            continue;
        /* DHCP discovery, IPv6 link-local and duplicate address detection. */
        snprintf(m, sizeof m, "in_port=%d,dl_src=%s,udp,nw_src=0.0.0.0,tp_src=68,tp_dst=67", o,
                 mac);
        qovs_add(f, 10, 100, m, p->cookie, "goto_table:20");
        snprintf(m, sizeof m, "in_port=%d,dl_src=%s,ipv6,ipv6_src=fe80::/10", o, mac);
        qovs_add(f, 10, 90, m, p->cookie, "goto_table:20");
        snprintf(m, sizeof m, "in_port=%d,dl_src=%s,icmp6,ipv6_src=::,icmpv6_type=135", o, mac);
        qovs_add(f, 10, 90, m, p->cookie, "goto_table:20");
    }
    qvs_map_free(macs);
    /* DHCP guard and router guard: the VM may not serve DHCP or send RAs. */
    static const char *const guards[] = {"udp,tp_src=67", "udp6,tp_src=547",
                                         "icmp6,icmpv6_type=134"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(guards); i++) {
        snprintf(m, sizeof m, "in_port=%d,%s", o, guards[i]);
        qovs_add(f, 10, 110, m, p->cookie, "drop");
    }
    /* Egress: conntrack, with the implicit allowances of Neutron's firewalls. */
    static const char *const out_ok[] = {"arp", "udp,tp_src=68,tp_dst=67",
                                         "udp6,tp_src=546,tp_dst=547", "icmp6,icmpv6_type=133",
                                         "icmp6,icmpv6_type=135", "icmp6,icmpv6_type=136"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(out_ok); i++) {
        snprintf(m, sizeof m, "reg6=%d,%s", o, out_ok[i]);
        qovs_add(f, 20, 95, m, p->cookie, "goto_table:40");
    }
    for (int v6 = 0; v6 < 2; v6++) {
        snprintf(m, sizeof m, "reg6=%d,%s", o, v6 ? "ipv6" : "ip");
        qovs_add(f, 20, 90, m, p->cookie,
                 p->stateless[0] ? "goto_table:21" : "ct(table=21,zone=NXM_NX_REG6[0..15])");
    }
    /* Ingress: the same, towards the port. */
    static const char *const in_ok[] = {"arp", "udp,tp_src=67,tp_dst=68",
                                        "udp6,tp_src=547,tp_dst=546", "icmp6,icmpv6_type=134",
                                        "icmp6,icmpv6_type=135", "icmp6,icmpv6_type=136"};
    snprintf(a, sizeof a, "output:%d", o);
    /* DHCP answers only from the network's DHCP servers when the port
     * names them (docs/network-node.md); others fall to the ingress rules. */
    const qj *servers = qj_get(p->v, "dhcp_servers");
    for (size_t i = 0; i < QHV_ARRAY_SIZE(in_ok); i++) {
        bool dhcp = strstr(in_ok[i], "tp_src=67") || strstr(in_ok[i], "tp_src=547");
        if (dhcp && qj_is(servers, QJ_ARRAY)) {
            for (size_t k = 0; k < qj_len(servers); k++) {
                const char *smac = qj_as_str(qj_at(servers, k));
                if (!smac)
                    continue;
                snprintf(m, sizeof m, "reg7=%d,dl_src=%s,%s", o, smac, in_ok[i]);
                qovs_add(f, 50, 95, m, p->cookie, a);
            }
            snprintf(m, sizeof m, "reg7=%d,%s", o, in_ok[i]);
            qovs_add(f, 50, 94, m, p->cookie, "drop");
            continue;
        }
        snprintf(m, sizeof m, "reg7=%d,%s", o, in_ok[i]);
        qovs_add(f, 50, 95, m, p->cookie, a);
    }
    /* ct_clear: the state of the sender's zone must not let a packet past a
     * stateless port's rules (table 51's +est/+rel flows need +trk). */
    for (int v6 = 0; v6 < 2; v6++) {
        snprintf(m, sizeof m, "reg7=%d,%s", o, v6 ? "ipv6" : "ip");
        qovs_add(f, 50, 90, m, p->cookie,
                 p->stateless[1] ? "ct_clear,goto_table:51"
                                 : "ct_clear,ct(table=51,zone=NXM_NX_REG7[0..15])");
    }
}

/* The MAC an ovs host uses for a provider address of IP rewrite on the
 * underlay: derived from the address, so that hosts need no resolution
 * among themselves (docs/ovs.md); the owner also answers ARP with it. */
static void qovs_pa_mac(const char *pa, char *out, size_t n)
{
    unsigned b[4] = {0, 0, 0, 0};
    sscanf(pa, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]);
    snprintf(out, n, "02:71:%02x:%02x:%02x:%02x", b[0] & 255, b[1] & 255, b[2] & 255,
             b[3] & 255);
}

/* An ARP reply to the request being processed: "who has ip" → mac. */
static void qovs_arp_reply(char *a, size_t n, const char *mac, const char *ip)
{
    snprintf(a, n, "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:%s->eth_src,"
                   "set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                   "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:%s->arp_sha,"
                   "set_field:%s->arp_spa,IN_PORT",
             mac, mac, ip);
}

static bool qovs_is_v4(const char *ip) { return ip && !strchr(ip, ':'); }

/* IP rewrite (HNV's TranslationMethodNat) for one network: only provider
 * addresses on the wire, no encapsulation.
 *   a local customer address (its record's provider address is this
 *   host's):  from the wire, dst PA → CA, the VM's MAC, reg7  (0 → 35)
 *             to the wire, src CA → its PA and PA MAC, out     (41)
 *   a remote one: from the wire, src PA (sent from its derived MAC)
 *             → CA and its MAC                                 (36)
 *             to it, dst CA → PA and PA MAC                    (40 → 41)
 *             the VMs' ARP for it answered here                (40)
 * Unknown provider addresses drop (tables 35/36 default). */
static void qovs_rewrite_flows(qovs_acc *f, const qovs_net *n, const qvs_map *objects)
{
    char m[512], a[1024], pmac[24];
    for (size_t i = 0; i < n->nrecs; i++) {
        const char *key = n->rec_ids[i];
        const qj *rec = n->recs[i];
        const char *pa = qj_get_str(rec, "provider_address");
        const char *ca = qj_get_str(rec, "customer_address");
        const char *mac = qj_get_str(rec, "mac_address"), *rule = qj_get_str(rec, "rule");
        if (!rule || strcmp(rule, "rewrite") || !qovs_is_v4(pa) || !qovs_is_v4(ca) || !mac)
            continue;
        uint64_t ck = qovs_cookie(key);
        qovs_pa_mac(pa, pmac, sizeof pmac);
        char owned[300];
        snprintf(owned, sizeof owned, "provider_address/%s", pa);
        if (qvs_map_get(objects, owned)) {
            const qovs_port *p = NULL;
            for (size_t k = 0; k < n->nports && !p; k++) {
                const char *pm = qj_get_str(n->ports[k]->v, "mac_address");
                if (pm && !strcasecmp(pm, mac))
                    p = n->ports[k];
            }
            if (!p || !n->patch)
                continue;   /* its VM is not (yet) on this host */
            snprintf(m, sizeof m, "in_port=%d,vlan_tci=0x0000/0x1fff,ip,nw_dst=%s", n->patch, pa);
            snprintf(a, sizeof a, "set_field:0x%" PRIx64 "->metadata,goto_table:35", n->meta);
            qovs_add(f, 0, 110, m, ck, a);
            snprintf(m, sizeof m, "metadata=0x%" PRIx64 ",ip,nw_dst=%s", n->meta, pa);
            snprintf(a, sizeof a, "set_field:%s->ip_dst,set_field:%s->eth_dst,set_field:%d->reg7,"
                                  "goto_table:36", ca, mac, p->ofport);
            qovs_add(f, 35, 100, m, ck, a);
            snprintf(m, sizeof m, "metadata=0x%" PRIx64 ",ip,nw_src=%s", n->meta, ca);
            snprintf(a, sizeof a, "set_field:%s->ip_src,set_field:%s->eth_src,output:%d", pa, pmac,
                     n->patch);
            qovs_add(f, 41, 100, m, ck, a);
        } else {
            /* Only from the host of that provider address: ovs hosts send
             * with its derived MAC (table 41), which a VM with port security
             * on a physical network sharing the underlay cannot use, even
             * with a fixed IP equal to the provider address. */
            snprintf(m, sizeof m, "metadata=0x%" PRIx64 ",ip,dl_src=%s,nw_src=%s", n->meta, pmac,
                     pa);
            snprintf(a, sizeof a, "set_field:%s->ip_src,set_field:%s->eth_src,goto_table:50", ca,
                     mac);
            qovs_add(f, 36, 100, m, ck, a);
            snprintf(m, sizeof m, "metadata=0x%" PRIx64 ",ip,dl_dst=%s,nw_dst=%s", n->meta, mac, ca);
            snprintf(a, sizeof a, "set_field:%s->ip_dst,set_field:%s->eth_dst,goto_table:41", pa,
                     pmac);
            qovs_add(f, 40, 100, m, ck, a);
            snprintf(m, sizeof m, "metadata=0x%" PRIx64 ",arp,arp_op=1,arp_tpa=%s", n->meta, ca);
            qovs_arp_reply(a, sizeof a, mac, ca);
            qovs_add(f, 40, 110, m, ck, a);
        }
    }
}

/* ARP for the provider addresses this host owns, asked on the underlay
 * (through the patch of every physical bridge). */
static void qovs_owned_pa_flows(qovs_acc *f, const qovs_topo *t, const qvs_map *objects)
{
    char m[256], a[1024], pmac[24];
    const char *key, *br;
    qj *val, *of;
    for (size_t i = 0; i < qvs_map_end(objects); i++) {
        if (!qvs_map_at(objects, i, &key, &val) || strncmp(key, "provider_address/", 17) ||
            !qovs_is_v4(key + 17) || !strcmp(key + 17, t->local_ip))
            continue;   /* the host's own (NVGRE) address is its kernel's to answer */
        qovs_pa_mac(key + 17, pmac, sizeof pmac);
        qovs_arp_reply(a, sizeof a, pmac, key + 17);
        for (size_t k = 0; k < qvs_map_end(t->patches); k++) {
            if (!qvs_map_at(t->patches, k, &br, &of) || !qj_is(of, QJ_INT))
                continue;
            snprintf(m, sizeof m, "in_port=%" PRId64 ",vlan_tci=0x0000/0x1fff,arp,arp_op=1,"
                                  "arp_tpa=%s", of->u.i, key + 17);
            qovs_add(f, 0, 110, m, qovs_cookie(key), a);
        }
    }
}

/* NVGRE into a network: the VSID in the key's upper 24 bits (the flow id is
 * ignored, as receivers must), and only from the provider address of a host
 * that holds a port of the VSID (one of its lookup records). The VSID alone
 * proves nothing: whoever can put a GRE packet on the underlay (a VM on a
 * physical network sharing it, docs/ovs.md) could otherwise inject frames
 * into any tenant's network. Our own address never sends to us. */
static void qovs_gre_ingress(qovs_acc *f, const qovs_topo *t, const qovs_net *n)
{
    char m[256], a[128];
    snprintf(a, sizeof a, "set_field:0x%" PRIx64 "->metadata,goto_table:30", n->meta);
    for (size_t i = 0; i < n->nrecs; i++) {
        const char *pa = qj_get_str(n->recs[i], "provider_address");
        if (!qovs_is_v4(pa) || !strcmp(pa, t->local_ip))
            continue;
        snprintf(m, sizeof m, "in_port=%d,tun_src=%s,tun_id=0x%" PRIx64 "/0xffffff00",
                 t->gre_ofport, pa, (uint64_t)n->seg << 8);
        qovs_add(f, 0, 100, m, n->cookie, a);   /* one per host: the same match merges */
    }
}

/* Tables 0, 30 and 40 of one network. */
static void qovs_net_flows(qovs_acc *f, const qovs_topo *t, const qovs_net *n,
                           const qvs_map *objects)
{
    char m[512], a[512];
    uint64_t ck = n->cookie;
    bool nvgre = !strcmp(n->type, "nvgre");
    /* From the wire into this network. */
    if (nvgre && t->gre_ofport) {
        qovs_gre_ingress(f, t, n);
    } else if (n->patch && !strcmp(n->type, "vlan")) {
        snprintf(m, sizeof m, "in_port=%d,dl_vlan=%" PRId64, n->patch, n->seg);
        snprintf(a, sizeof a, "pop_vlan,set_field:0x%" PRIx64 "->metadata,goto_table:30", n->meta);
        qovs_add(f, 0, 100, m, ck, a);
    } else if (n->patch && !strcmp(n->type, "flat")) {
        snprintf(m, sizeof m, "in_port=%d,vlan_tci=0x0000/0x1fff", n->patch);
        snprintf(a, sizeof a, "set_field:0x%" PRIx64 "->metadata,goto_table:30", n->meta);
        qovs_add(f, 0, 100, m, ck, a);
    }
    /* Local delivery, from the wire (30) and from a local port (40). */
    qbuf local;
    qbuf_init(&local, 0);
    for (size_t i = 0; i < n->nports; i++) {
        const qovs_port *p = n->ports[i];
        qbuf_printf(&local, "%sset_field:%d->reg7,resubmit(,50)", local.len ? "," : "", p->ofport);
        snprintf(a, sizeof a, "set_field:%d->reg7,goto_table:50", p->ofport);
        qvs_map *macs = qvs_map_new();
        const char *pmac = qj_get_str(p->v, "mac_address");
        if (pmac)
            qvs_map_put(macs, pmac, NULL);
        const qj *allowed = qj_get(p->v, "allowed_addresses");
        for (size_t k = 0; k < qj_len(allowed); k++) {
            const char *mac = qj_get_str(qj_at(allowed, k), "mac_address");
            if (mac && !qvs_map_get(macs, mac))
                qvs_map_put(macs, mac, NULL);
        }
        const char *mac;
        for (size_t k = 0; k < qvs_map_end(macs); k++) {
            if (!qvs_map_at(macs, k, &mac, NULL))
                continue;
            snprintf(m, sizeof m, "metadata=0x%" PRIx64 ",dl_dst=%s", n->meta, mac);
            qovs_add(f, 30, 60, m, p->cookie, a);
            qovs_add(f, 40, 60, m, p->cookie, a);
        }
        qvs_map_free(macs);
    }
    snprintf(m, sizeof m, "metadata=0x%" PRIx64 "," QOVS_BCAST, n->meta);
    if (local.len)
        qovs_add(f, 30, 50, m, ck, local.data);
    /* To other hosts. */
    qbuf flood;
    qbuf_init(&flood, 0);
    qbuf_puts(&flood, local.data);
    if (nvgre && t->gre_ofport) {
        qvs_map *pas = qvs_map_new();
        for (size_t i = 0; i < n->nrecs; i++) {
            const char *key = n->rec_ids[i];
            const qj *rec = n->recs[i];
            const char *pa = qj_get_str(rec, "provider_address");
            const char *mac = qj_get_str(rec, "mac_address");
            if (!pa || !mac || !strcmp(pa, t->local_ip))
                continue;
            snprintf(m, sizeof m, "metadata=0x%" PRIx64 ",dl_dst=%s", n->meta, mac);
            snprintf(a, sizeof a, "set_field:0x%" PRIx64 "->tun_id,"
                                  "multipath(symmetric_l4,0,modulo_n,256,0,NXM_NX_TUN_ID[0..7]),"
                                  "set_field:%s->tun_dst,output:%d",
                     (uint64_t)n->seg << 8, pa, t->gre_ofport);
            qovs_add(f, 40, 100, m, qovs_cookie(key), a);
            if (!qvs_map_get(pas, pa))
                qvs_map_put(pas, pa, NULL);
        }
        const char *pa;
        for (size_t i = 0; i < qvs_map_end(pas); i++)
            if (qvs_map_at(pas, i, &pa, NULL))
                qbuf_printf(&flood, "%sset_field:0x%" PRIx64 "->tun_id,set_field:%s->tun_dst,"
                                    "output:%d",
                            flood.len ? "," : "", (uint64_t)n->seg << 8, pa, t->gre_ofport);
        qvs_map_free(pas);
    } else if (!strcmp(n->type, "ip_rewrite")) {
        qovs_rewrite_flows(f, n, objects);     /* no flooding off the host */
    } else if (n->patch) {
        bool vlan = !strcmp(n->type, "vlan");
        if (vlan)
            snprintf(a, sizeof a, "push_vlan:0x8100,set_field:%" PRId64 "->vlan_vid,output:%d",
                     4096 + n->seg, n->patch);
        else
            snprintf(a, sizeof a, "output:%d", n->patch);
        qbuf_printf(&flood, "%s%s", flood.len ? "," : "", a);
        /* Unknown unicast goes to the physical network (its switches learn). */
        snprintf(m, sizeof m, "metadata=0x%" PRIx64, n->meta);
        qovs_add(f, 40, 10, m, ck, a);
    }
    snprintf(m, sizeof m, "metadata=0x%" PRIx64 "," QOVS_BCAST, n->meta);
    if (flood.len)
        qovs_add(f, 40, 50, m, ck, flood.data);
    qbuf_free(&local);
    qbuf_free(&flood);
}

static int qovs_cmp_flow(const void *a, const void *b)
{
    return strcmp((*(const qovs_flow *const *)a)->key, (*(const qovs_flow *const *)b)->key);
}

static int qovs_cmp_cookie(const void *a, const void *b)
{
    uint64_t x = (*(const qovs_flow *const *)a)->cookie, y = (*(const qovs_flow *const *)b)->cookie;
    return x < y ? -1 : x > y;
}

void qovs_flows(const qovs_topo *t, const qvs_map *objects, qbuf *out, qvs_map *counts,
                qvs_map *problems)
{
    qovs_acc f = {NULL, 0, 0};
    /* Defaults: what no flow allows is dropped. */
    static const int tables[] = {0, 10, 20, 21, 30, 35, 36, 40, 41, 50, 51};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(tables); i++)
        qovs_add(&f, tables[i], 0, "", QOVS_COOKIE_BASE, "drop");
    for (int t21 = 0; t21 < 2; t21++) {
        int table = t21 ? 21 : 51;
        const char *ok = t21 ? "goto_table:40" : "output:NXM_NX_REG7[0..15]";
        qovs_add(&f, table, 100, "ct_state=+est-inv+trk", QOVS_COOKIE_BASE, ok);
        qovs_add(&f, table, 100, "ct_state=+rel-inv+trk", QOVS_COOKIE_BASE, ok);
        qovs_add(&f, table, 100, "ct_state=+inv+trk", QOVS_COOKIE_BASE, "drop");
    }
    /* The VM ports whose interface is here, sorted (stable cookies). */
    qovs_port *ports = xcalloc(qvs_map_size(objects) + 1, sizeof *ports);
    size_t np = 0;
    const char *key;
    qj *val;
    for (size_t i = 0; i < qvs_map_end(objects); i++) {
        if (!qvs_map_at(objects, i, &key, &val) || strncmp(key, "port/", 5))
            continue;
        const qj *of = qvs_map_get(t->nics, key + 5);
        const char *type = qj_get_str(val, "network_type");
        if (!qj_is(of, QJ_INT) || of->u.i <= 0)
            continue;   /* no interface (yet): nothing to steer */
        if (!type) {
            qvs_map_put(problems, key, qj_str("no network_type"));
            continue;
        }
        qovs_port *p = &ports[np++];
        p->id = key;
        p->v = val;
        p->cookie = qovs_cookie(key);
        p->ofport = (int)of->u.i;
        p->meta = qovs_net_meta(val);
        p->up = qj_get_bool(val, "admin_state_up", true);
        p->ps = qj_get_bool(val, "port_security", true);
        for (int d = 0; d < 2; d++) {
            char *acl = xasprintf("acl/%s/%s", key + 5, d ? "ingress" : "egress");
            p->stateless[d] = !qj_get_bool(qvs_map_get(objects, acl), "stateful", true);
            free(acl);
        }
    }
    qsort(ports, np, sizeof *ports, qovs_cmp_port);
    /* Networks of those ports. */
    qovs_net *nets = xcalloc(np + 1, sizeof *nets);
    size_t nn = 0;
    qvs_map *net_of = qvs_map_new(), *port_of = qvs_map_new();   /* → index */
    for (size_t i = 0; i < np; i++) {
        qovs_port *p = &ports[i];
        qvs_map_put(port_of, p->id, qj_int((int64_t)i));
        qovs_port_flows(&f, p);
        char mk[24];
        snprintf(mk, sizeof mk, "%" PRIx64, p->meta);
        const qj *ni = qvs_map_get(net_of, mk);
        qovs_net *n = ni ? &nets[ni->u.i] : NULL;
        if (!n) {
            qvs_map_put(net_of, mk, qj_int((int64_t)nn));
            n = &nets[nn++];
            n->meta = p->meta;
            n->type = qj_get_str(p->v, "network_type");
            const qj *seg = qj_get(p->v, !strcmp(n->type, "vlan") ? "vlan" : "vsid");
            n->seg = qj_is(seg, QJ_INT) ? seg->u.i : 0;
            n->cookie = p->cookie;
            if (!strcmp(n->type, "vlan") || !strcmp(n->type, "flat") ||
                !strcmp(n->type, "ip_rewrite")) {
                const qj *patch = qvs_map_get(t->patches, qj_get_str(p->v, "vswitch"));
                n->patch = qj_is(patch, QJ_INT) ? (int)patch->u.i : 0;
            }
        }
        if (p->up) {
            n->ports = xrealloc(n->ports, (n->nports + 1) * sizeof *n->ports);
            n->ports[n->nports++] = p;
        }
    }
    /* Each virtual network's lookup records, in one pass (VSIDs are unique
     * among the host's virtual networks; the metadata of nvgre is the VSID). */
    qvs_map *by_vsid = qvs_map_new();
    for (size_t k = 0; k < nn; k++) {
        if (strcmp(nets[k].type, "nvgre") && strcmp(nets[k].type, "ip_rewrite"))
            continue;
        char vk[24];
        snprintf(vk, sizeof vk, "%" PRId64, nets[k].seg);
        qvs_map_put(by_vsid, vk, qj_int((int64_t)k));
    }
    for (size_t i = 0; qvs_map_size(by_vsid) && i < qvs_map_end(objects); i++) {
        if (!qvs_map_at(objects, i, &key, &val) || strncmp(key, "lookup_record/", 14))
            continue;
        char vk[24];
        snprintf(vk, sizeof vk, "%" PRId64, qj_get_int(val, "vsid", -1));
        const qj *ni = qvs_map_get(by_vsid, vk);
        if (!ni)
            continue;
        qovs_net *n = &nets[ni->u.i];
        n->rec_ids = xrealloc(n->rec_ids, (n->nrecs + 1) * sizeof *n->rec_ids);
        n->recs = xrealloc(n->recs, (n->nrecs + 1) * sizeof *n->recs);
        n->rec_ids[n->nrecs] = key;
        n->recs[n->nrecs++] = val;
    }
    qvs_map_free(by_vsid);
    qovs_owned_pa_flows(&f, t, objects);
    for (size_t k = 0; k < nn; k++) {
        qovs_net_flows(&f, t, &nets[k], objects);
        free(nets[k].ports);
        free(nets[k].rec_ids);
        free(nets[k].recs);
    }
    free(nets);
    qvs_map_free(net_of);
    /* Security groups of the ports with port security. */
    qovs_conj conj = {qvs_map_new(), qvs_map_new(), qvs_map_new()};
    for (size_t i = 0; i < qvs_map_end(objects); i++) {
        if (!qvs_map_at(objects, i, &key, &val) || strncmp(key, "acl/", 4))
            continue;
        char pid[300];
        const char *pstart = key + 4, *slash = strchr(pstart, '/');
        if (!slash || (size_t)(slash - pstart) >= sizeof pid - 5)
            continue;
        snprintf(pid, sizeof pid, "port/%.*s", (int)(slash - pstart), pstart);
        const qj *pi = qvs_map_get(port_of, pid);
        qovs_port *p = pi ? &ports[pi->u.i] : NULL;
        if (p && p->up && p->ps)
            qovs_acl(&f, &conj, objects, key, val, p);
    }
    qvs_map_free(conj.ids);
    qvs_map_free(conj.taken);
    qvs_map_free(conj.emitted);
    qvs_map_free(port_of);
    free(ports);
    /* Out, sorted, with the count of flows per cookie. */
    qovs_flow **sorted = xcalloc(f.n + 1, sizeof *sorted);
    size_t n = 0;
    for (size_t i = 0; i < f.cap; i++)
        if (f.slots[i].key)
            sorted[n++] = &f.slots[i];
    qsort(sorted, n, sizeof *sorted, qovs_cmp_flow);
    for (size_t i = 0; i < n; i++) {
        uint64_t ck = sorted[i]->cookie;
        qbuf_printf(out, "%s,cookie=0x%" PRIx64 ",actions=%s\n", sorted[i]->key, ck,
                    sorted[i]->actions);
    }
    /* Counts: flows sorted by cookie are runs. */
    qsort(sorted, n, sizeof *sorted, qovs_cmp_cookie);
    for (size_t i = 0; i < n;) {
        size_t k = i;
        while (k < n && sorted[k]->cookie == sorted[i]->cookie)
            k++;
        char ct[32];
        snprintf(ct, sizeof ct, "0x%" PRIx64, sorted[i]->cookie);
        qvs_map_put(counts, ct, qj_int((int64_t)(k - i)));
        i = k;
    }
    free(sorted);
    qovs_acc_free(&f);
}

/* ---------- the difference between two tables ---------- */

typedef struct qovs_line {
    const char *p;      /* the line; NULL at the end */
    size_t len, klen;   /* its length and that of its identity (before ",cookie=") */
} qovs_line;

static const char *qovs_line_next(const char *s, qovs_line *l)
{
    while (s && *s == '\n')
        s++;
    if (!s || !*s) {
        l->p = NULL;
        return s;
    }
    const char *end = strchr(s, '\n'), *c = strstr(s, ",cookie=");
    l->p = s;
    l->len = end ? (size_t)(end - s) : strlen(s);
    l->klen = c && (size_t)(c - s) < l->len ? (size_t)(c - s) : l->len;
    return end ? end + 1 : s + l->len;
}

/* The order qovs_flows sorts identities in (strcmp's). */
static int qovs_line_cmp(const qovs_line *a, const qovs_line *b)
{
    int c = memcmp(a->p, b->p, a->klen < b->klen ? a->klen : b->klen);
    return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

size_t qovs_flows_diff(const char *old, const char *cur, qbuf *out)
{
    qovs_line a, b;
    const char *pa = qovs_line_next(old, &a), *pb = qovs_line_next(cur, &b);
    size_t nold = 0;
    while (a.p || b.p) {
        int c = !a.p ? 1 : !b.p ? -1 : qovs_line_cmp(&a, &b);
        if (c < 0) {
            qbuf_printf(out, "flow delete_strict %.*s\n", (int)a.klen, a.p);
        } else if (c > 0 || a.len != b.len || memcmp(a.p, b.p, a.len)) {
            qbuf_printf(out, "flow add %.*s\n", (int)b.len, b.p);
        }
        if (c <= 0) {
            nold++;
            pa = qovs_line_next(pa, &a);
        }
        if (c >= 0)
            pb = qovs_line_next(pb, &b);
    }
    return nold;
}
