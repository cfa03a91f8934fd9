#include "model/dhcp.h"
#include "model/agent.h"
#include "model/ipam.h"
#include "model/resources.h"
#include "model/rewrite.h"
#include "lib/util.h"
#include <gnutls/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char qdhcp_sql_agent[] =
    "SELECT body FROM resources INDEXED BY resources_host WHERE kind='agent' AND host=?1 AND "
    "json_extract(body, '$.agent_type')='" QDHCP_AGENT_TYPE "' LIMIT 1";
static const char qdhcp_sql_agents[] =
    "SELECT body FROM resources WHERE kind='agent' AND "
    "json_extract(body, '$.agent_type')='" QDHCP_AGENT_TYPE "' ORDER BY host";
static const char qdhcp_sql_host_ports[] =
    "SELECT body FROM resources INDEXED BY resources_host WHERE kind='port' AND host=?1 AND "
    "json_extract(body, '$.device_owner')='" QHV_DEVICE_OWNER_DHCP "' ORDER BY id";
static const char qdhcp_sql_networks[] =
    "SELECT body FROM resources WHERE kind='network' ORDER BY id";
static const char qdhcp_sql_net_ports[] =
    "SELECT COUNT(*) FROM resources INDEXED BY resources_parent WHERE kind='port' AND "
    "parent_id=?1";

static int64_t qdhcp_count(qop *op, const char *sql, const char *arg, qerr *e)
{
    qstmt *st = qstore_stmt(op->m->store, sql, e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, arg, -1, QSTORE_TRANSIENT);
    int64_t n = qstmt_step(st) == QSTORE_ROW ? qstmt_column_int64(st, 0) : -1;
    qstmt_reset(st);
    return n < 0 ? qstore_fail(op->m->store, e, "dhcp count") : n;
}

void qdhcp_device_id(const char *host, const char *network_id, char out[QDHCP_DEVICE_ID_LEN])
{
    /* uuid5(NAMESPACE_DNS, the host name without its domain): Neutron's
     * host uuid, so that a node's port is named as Neutron would name it. */
    static const uint8_t ns[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                   0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    size_t hl = strcspn(host, ".");
    uint8_t *buf = xmalloc(sizeof ns + hl + 1);
    memcpy(buf, ns, sizeof ns);
    memcpy(buf + sizeof ns, host, hl);
    uint8_t h[20];
    gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, sizeof ns + hl, h);
    free(buf);
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x50);
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
    snprintf(out, QDHCP_DEVICE_ID_LEN,
             "dhcp%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x-%.36s",
             h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12],
             h[13], h[14], h[15], network_id);
}

bool qdhcp_port_scheduled(const qj *port)
{
    const char *owner = qj_get_str(port, "device_owner"), *host = qj_get_str(port, "binding:host_id");
    const char *nid = qj_get_str(port, "network_id"), *dev = qj_get_str(port, "device_id");
    if (!owner || strcmp(owner, QHV_DEVICE_OWNER_DHCP) || !host || !*host || !nid || !dev)
        return false;
    char want[QDHCP_DEVICE_ID_LEN];
    qdhcp_device_id(host, nid, want);
    return !strcmp(want, dev);
}

int qdhcp_agent_load(qop *op, const char *host, qj **ret, qerr *e)
{
    qj *rows;
    int rc = qmodel_docs(op->m, qdhcp_sql_agent, host, &rows, e);
    *ret = rc == 0 && qj_len(rows) ? qj_clone(qj_at(rows, 0)) : NULL;
    qj_free(rows);
    return rc;
}

bool qdhcp_agent_serves(const qconf *c, const qj *agent, int64_t now)
{
    return agent && qagent_alive(c, agent, now) && qj_get_bool(agent, "admin_state_up", true);
}

/* ---------- scheduling ---------- */

/* The DHCP agents as one scheduling pass sees them. */
typedef struct qdhcp_node {
    const char *host;       /* borrowed from rows */
    bool alive, serves;
    int64_t load;           /* networks it holds */
} qdhcp_node;

typedef struct qdhcp_sched {
    qj *rows;
    qdhcp_node *v;
    size_t n;
    const char *gone;       /* being removed: neither kept nor chosen */
    const char *prefer;     /* chosen first when it may be (NULL: none) */
} qdhcp_sched;

static void qdhcp_sched_free(qdhcp_sched *s)
{
    qj_free(s->rows);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int qdhcp_sched_init(qop *op, const char *gone, qdhcp_sched *s, qerr *e)
{
    memset(s, 0, sizeof *s);
    s->gone = gone;
    if (qmodel_docs(op->m, qdhcp_sql_agents, NULL, &s->rows, e) < 0)
        return -1;
    s->v = xcalloc(qj_len(s->rows) + 1, sizeof *s->v);
    for (size_t i = 0; i < qj_len(s->rows); i++) {
        const qj *a = qj_at(s->rows, i);
        const char *host = qj_get_str(a, "host");
        if (!host || !*host || (gone && !strcmp(host, gone)))
            continue;
        qj *ports;
        if (qmodel_docs(op->m, qdhcp_sql_host_ports, host, &ports, e) < 0) {
            qj_free(ports);
            return -1;
        }
        int64_t load = 0;
        for (size_t k = 0; k < qj_len(ports); k++)
            load += qdhcp_port_scheduled(qj_at(ports, k));
        qj_free(ports);
        s->v[s->n++] = (qdhcp_node){host, qagent_alive(op->m->conf, a, op->now),
                                    qdhcp_agent_serves(op->m->conf, a, op->now), load};
    }
    return 0;
}

static qdhcp_node *qdhcp_node_find(qdhcp_sched *s, const char *host)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].host, host))
            return &s->v[i];
    return NULL;
}

static bool qdhcp_list_has(const qj *list, const char *s)
{
    for (size_t i = 0; i < qj_len(list); i++)
        if (!strcmp(qj_as_str(qj_at(list, i)), s))
            return true;
    return false;
}

/* Could host's agent wire a port of network_id (its type, its physical
 * network)? A node that cannot would hold the network and serve nothing. */
static bool qdhcp_can_bind(qop *op, const char *host, const char *network_id)
{
    qj *trial = qj_object();
    qj_set(trial, "network_id", qj_str(network_id));
    qj_set(trial, "binding:host_id", qj_str(host));
    qerr e;
    bool ok = qagent_bind_port(op, trial, &e) == 0 &&
              strcmp(qj_get_str(trial, "binding:vif_type"), "binding_failed");
    qj_free(trial);
    return ok;
}

/* The least loaded serving node not in hosting that can wire the network
 * (then by host name). */
static qdhcp_node *qdhcp_pick(qop *op, qdhcp_sched *s, const qj *hosting, const char *nid)
{
    qdhcp_node *best = NULL;
    for (size_t i = 0; i < s->n; i++) {
        qdhcp_node *n = &s->v[i];
        bool preferred = s->prefer && !strcmp(n->host, s->prefer);
        if (n->serves && !qdhcp_list_has(hosting, n->host) &&
            (!best || n->load < best->load || preferred) && qdhcp_can_bind(op, n->host, nid))
            best = n;
        if (best && preferred && best == n)
            break;
    }
    return best;
}

/* Sets port's fixed IPs to one address per subnet of subs (keeping those it
 * has) and, with to_host, re-binds it there; stores it if it changed. */
static int qdhcp_port_fix(qop *op, qj *port, const char *to_host, const qj *subs, bool *changed,
                          qerr *e)
{
    qj *old = qj_clone(port);
    const char *nid = qj_get_str(old, "network_id"), *pid = qj_get_str(old, "id");
    int rc = 0;
    if (to_host) {
        char dev[QDHCP_DEVICE_ID_LEN];
        qdhcp_device_id(to_host, nid, dev);
        qj_set(port, "binding:host_id", qj_str(to_host));
        qj_set(port, "device_id", qj_str(dev));
        qj_set(port, "status", qj_str("DOWN"));    /* until the new node reports it */
    }
    const qj *cur = qj_get(old, "fixed_ips");
    bool same = true;
    for (size_t i = 0; i < qj_len(cur) && same; i++)
        same = qdhcp_list_has(subs, qj_get_str(qj_at(cur, i), "subnet_id"));
    for (size_t i = 0; i < qj_len(subs) && same; i++) {
        bool has = false;
        for (size_t k = 0; k < qj_len(cur) && !has; k++)
            has = !strcmp(qj_get_str(qj_at(cur, k), "subnet_id"), qj_as_str(qj_at(subs, i)));
        same = has;
    }
    if (!same) {
        qj *want = qj_array();
        for (size_t i = 0; i < qj_len(subs); i++) {
            const char *sid = qj_as_str(qj_at(subs, i));
            const qj *kept = NULL;
            for (size_t k = 0; k < qj_len(cur) && !kept; k++)
                if (!strcmp(qj_get_str(qj_at(cur, k), "subnet_id"), sid))
                    kept = qj_at(cur, k);
            qj *f = qj_object();
            qj_set(f, "subnet_id", qj_str(sid));
            if (kept)
                qj_set(f, "ip_address", qj_str(qj_get_str(kept, "ip_address")));
            qj_append(want, f);
        }
        qmac m;
        qmac_parse(qj_get_str(old, "mac_address"), &m);
        qj *ips = NULL;
        rc = qipam_assign(op, nid, pid, &m, false, want, cur, &ips, e);
        if (rc == 0)
            qj_set(port, "fixed_ips", ips);
        qj_free(want);
    }
    if (rc == 0 && to_host)
        rc = qagent_bind_port(op, port, e);
    if (rc == 0)
        rc = qrewrite_sync_port(op, port, false, e);
    if (rc == 0 && !qj_equal(old, port)) {
        qtouch_doc(&op->touched, "port", old);  /* the host it leaves */
        qres_touch(op, port);
        rc = qres_store(op, &qres_port, port, false, e);
        if (changed)
            *changed = true;
    }
    qj_free(old);
    return rc;
}

static int qdhcp_port_create(qop *op, const qj *net, const char *host, const qj *subs, qerr *e)
{
    const char *nid = qj_get_str(net, "id");
    char dev[QDHCP_DEVICE_ID_LEN];
    qdhcp_device_id(host, nid, dev);
    qj *item = qj_object(), *ips = qj_array();
    for (size_t i = 0; i < qj_len(subs); i++) {
        qj *f = qj_object();
        qj_set(f, "subnet_id", qj_str(qj_as_str(qj_at(subs, i))));
        qj_append(ips, f);
    }
    qj_set(item, "network_id", qj_str(nid));
    qj_set(item, "project_id", qj_str(qj_get_str(net, "project_id")));
    qj_set(item, "device_owner", qj_str(QHV_DEVICE_OWNER_DHCP));
    qj_set(item, "device_id", qj_str(dev));
    qj_set(item, "binding:host_id", qj_str(host));
    qj_set(item, "fixed_ips", ips);
    /* A network: port is trusted: no default group (Neutron). */
    qj_set(item, "security_groups", qj_array());
    qj *created = NULL;
    int rc = qres_create_one(op, &qres_port, item, true, &created, e);
    qj_free(item);
    qj_free(created);
    return rc;
}

static int qdhcp_port_delete(qop *op, const qj *port, qerr *e)
{
    if (qres_port.on_delete(op, port, e) < 0)
        return -1;
    return qres_delete_row(op, &qres_port, qj_get_str(port, "id"), e);
}

static int qdhcp_sync_with(qop *op, qdhcp_sched *s, const char *nid, bool *changed, qerr *e)
{
    qj *net;
    int found = qres_find(op, &qres_network, nid, &net, e);
    if (found <= 0)
        return found;
    /* The network's subnets list (kept in step by subnet create and
     * delete before this runs) says which subnets it has now. */
    qj *subs = qj_array(), *ports = NULL, *hosting = qj_array();
    const qj *ids = qj_get(net, "subnets");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < qj_len(ids); i++) {
        qj *sub;
        int has = qres_find(op, &qres_subnet, qj_as_str(qj_at(ids, i)), &sub, e);
        if (has < 0)
            rc = -1;
        if (has <= 0)
            continue;   /* 0: being deleted in this op */
        if (qj_get_bool(sub, "enable_dhcp", false))
            qj_append(subs, qj_str(qj_get_str(sub, "id")));
        qj_free(sub);
    }
    if (rc == 0)
        rc = qres_children(op, &qres_port, nid, &ports, e);
    for (size_t i = 0; rc == 0 && i < qj_len(ports); i++)
        if (qdhcp_port_scheduled(qj_at(ports, i)))
            qj_append(hosting, qj_str(qj_get_str(qj_at(ports, i), "binding:host_id")));
    int64_t want = op->m->conf->dhcp_agents_per_network, kept = 0;
    /* Ports on live nodes stay; so do those on dead nodes when failover is
     * off. */
    for (size_t i = 0; rc == 0 && i < qj_len(ports); i++) {
        qj *p = qj_at(ports, i);
        if (!qdhcp_port_scheduled(p))
            continue;
        qdhcp_node *n = qdhcp_node_find(s, qj_get_str(p, "binding:host_id"));
        bool stays = n && (n->alive || !op->m->conf->allow_automatic_dhcp_failover);
        if (!qj_len(subs)) {
            rc = qdhcp_port_delete(op, p, e);
            if (n)
                n->load--;
            *changed = true;
        } else if (stays) {
            kept++;
            rc = qdhcp_port_fix(op, p, NULL, subs, changed, e);
        }
        if (stays || !qj_len(subs))
            qj_set(p, "device_owner", qj_str(""));    /* handled */
    }
    /* Ports on dead or removed nodes move to a serving node while the
     * network has fewer than it wants; a removed node's that cannot move go,
     * a dead node's stay (it may come back). */
    for (size_t i = 0; rc == 0 && i < qj_len(ports); i++) {
        qj *p = qj_at(ports, i);
        if (!qdhcp_port_scheduled(p))
            continue;
        qdhcp_node *from = qdhcp_node_find(s, qj_get_str(p, "binding:host_id"));
        qdhcp_node *to = kept < want ? qdhcp_pick(op, s, hosting, nid) : NULL;
        if (to) {
            qj_append(hosting, qj_str(to->host));
            to->load++;
            if (from)
                from->load--;
            kept++;
            rc = qdhcp_port_fix(op, p, to->host, subs, changed, e);
        } else if (!from || kept >= want) {
            if (from)
                from->load--;
            rc = qdhcp_port_delete(op, p, e);
            *changed = true;
        }
    }
    while (rc == 0 && qj_len(subs) && kept < want) {
        qdhcp_node *to = qdhcp_pick(op, s, hosting, nid);
        if (!to)
            break;
        qj_append(hosting, qj_str(to->host));
        to->load++;
        kept++;
        rc = qdhcp_port_create(op, net, to->host, subs, e);
        *changed = true;
    }
    qj_free(net);
    qj_free(subs);
    qj_free(ports);
    qj_free(hosting);
    return rc;
}

static const qctx qdhcp_admin = {.is_admin = true};

/* qdhcp_sync_network, choosing prefer first when it may serve. */
static int qdhcp_sync_one(qop *op, const char *network_id, const char *gone_host,
                          const char *prefer, bool *changed, qerr *e)
{
    bool dummy = false;
    const qctx *saved = op->ctx;
    bool was_internal = op->internal;
    op->ctx = &qdhcp_admin;     /* the server's own doing, whoever asked */
    op->internal = true;
    qdhcp_sched s;
    int rc = qdhcp_sched_init(op, gone_host, &s, e);
    s.prefer = prefer;
    if (rc == 0)
        rc = qdhcp_sync_with(op, &s, network_id, changed ? changed : &dummy, e);
    qdhcp_sched_free(&s);
    op->ctx = saved;
    op->internal = was_internal;
    return rc;
}

int qdhcp_sync_network(qop *op, const char *network_id, const char *gone_host, bool *changed,
                       qerr *e)
{
    return qdhcp_sync_one(op, network_id, gone_host, NULL, changed, e);
}

/* Syncs every network in nets (array of documents with "id"). */
static int qdhcp_sync_list(qop *op, const char *gone_host, const qj *nets, const char *idkey,
                           bool *changed, qerr *e)
{
    bool dummy = false;
    const qctx *saved = op->ctx;
    bool was_internal = op->internal;
    op->ctx = &qdhcp_admin;
    op->internal = true;
    qdhcp_sched s;
    int rc = qdhcp_sched_init(op, gone_host, &s, e);
    for (size_t i = 0; rc == 0 && i < qj_len(nets); i++)
        rc = qdhcp_sync_with(op, &s, qj_get_str(qj_at(nets, i), idkey),
                             changed ? changed : &dummy, e);
    qdhcp_sched_free(&s);
    op->ctx = saved;
    op->internal = was_internal;
    return rc;
}

int qdhcp_sync_all(qop *op, const char *gone_host, bool *changed, qerr *e)
{
    qj *nets;
    int rc = qmodel_docs(op->m, qdhcp_sql_networks, NULL, &nets, e);
    if (rc == 0)
        rc = qdhcp_sync_list(op, gone_host, nets, "id", changed, e);
    qj_free(nets);
    return rc;
}

int qdhcp_port_deleted(qop *op, const qj *port, qerr *e)
{
    if (!qdhcp_port_scheduled(port))
        return 0;
    return qdhcp_sync_one(op, qj_get_str(port, "network_id"), NULL,
                          qj_get_str(port, "binding:host_id"), NULL, e);
}

int qdhcp_agent_removed(qop *op, const char *host, qerr *e)
{
    qj *ports;
    int rc = qmodel_docs(op->m, qdhcp_sql_host_ports, host, &ports, e);
    if (rc == 0)
        rc = qdhcp_sync_list(op, host, ports, "network_id", NULL, e);
    qj_free(ports);
    return rc;
}

int qdhcp_agent_configurations(qop *op, const char *host, qj **ret, qerr *e)
{
    *ret = NULL;
    qj *ports;
    if (qmodel_docs(op->m, qdhcp_sql_host_ports, host, &ports, e) < 0) {
        qj_free(ports);
        return -1;
    }
    int64_t nets = 0, subnets = 0, nports = 0;
    for (size_t i = 0; i < qj_len(ports); i++) {
        const qj *p = qj_at(ports, i);
        if (!qdhcp_port_scheduled(p))
            continue;
        nets++;
        subnets += (int64_t)qj_len(qj_get(p, "fixed_ips"));
        int64_t n = qdhcp_count(op, qdhcp_sql_net_ports, qj_get_str(p, "network_id"), e);
        if (n < 0) {
            qj_free(ports);
            return -1;
        }
        nports += n;
    }
    qj_free(ports);
    qj *c = qj_object();
    qj_set(c, "dhcp_driver", qj_str("dnsmasq"));
    qj_set(c, "dhcp_lease_duration", qj_int(op->m->conf->dhcp_lease_duration));
    qj_set(c, "log_agent_heartbeats", qj_bool(false));
    qj_set(c, "networks", qj_int(nets));
    qj_set(c, "subnets", qj_int(subnets));
    qj_set(c, "ports", qj_int(nports));
    *ret = c;
    return 0;
}

int qdhcp_failover(qmodel *m, qerr *e)
{
    if (!m->conf->allow_automatic_dhcp_failover)
        return 0;
    qop op = {.m = m, .ctx = &qdhcp_admin, .now = qhv_wall_seconds()};
    /* A cheap look first (read only): a dead node holding networks while
     * another node serves. */
    if (qstore_begin_read(m->store, e) < 0)
        return -1;
    qdhcp_sched s;
    int rc = qdhcp_sched_init(&op, NULL, &s, e);
    bool dead_holds = false, serving = false;
    for (size_t i = 0; rc == 0 && i < s.n; i++) {
        dead_holds |= !s.v[i].alive && s.v[i].load > 0;
        serving |= s.v[i].serves;
    }
    qdhcp_sched_free(&s);
    qstore_end_read(m->store);
    if (rc < 0 || !dead_holds || !serving)
        return rc;
    if (qstore_begin_write(m->store, e) < 0)
        return -1;
    qj *dead_ports = qj_array();
    rc = qdhcp_sched_init(&op, NULL, &s, e);
    for (size_t i = 0; rc == 0 && i < s.n; i++) {
        if (s.v[i].alive || !s.v[i].load)
            continue;
        qj *ports;
        rc = qmodel_docs(op.m, qdhcp_sql_host_ports, s.v[i].host, &ports, e);
        for (size_t k = 0; rc == 0 && k < qj_len(ports); k++)
            if (qdhcp_port_scheduled(qj_at(ports, k)))
                qj_append(dead_ports, qj_clone(qj_at(ports, k)));
        qj_free(ports);
    }
    qdhcp_sched_free(&s);
    bool changed = false;
    if (rc == 0)
        rc = qdhcp_sync_list(&op, NULL, dead_ports, "network_id", &changed, e);
    qj_free(dead_ports);
    if (rc == 0 && !changed) {
        qerr ignore;
        qmodel_finish(&op, -1, &ignore);     /* nothing to move to: no new revision */
        return 0;
    }
    if (qmodel_finish(&op, rc, e) < 0)
        return -1;
    return 1;
}

/* ---------- the dhcp_agent_scheduler extension ---------- */

/* id's DHCP agent row (404 as Neutron: AgentNotFound, or InvalidDHCPAgent
 * for another kind of agent when need_dhcp). */
static int qdhcp_load_row(qop *op, const char *id, bool need_dhcp, qj **ret, qerr *e)
{
    if (qres_load(op, &qres_agent, id, ret, e) < 0)
        return -1;
    const char *t = qj_get_str(*ret, "agent_type");
    if (need_dhcp && !(t && !strcmp(t, QDHCP_AGENT_TYPE) &&
                       qj_get_bool(*ret, "admin_state_up", true))) {
        qj_free(*ret);
        *ret = NULL;
        return qerr_set(e, QE_INVALID_DHCP_AGENT, "Agent %s is not a valid DHCP Agent or has "
                                                  "been disabled.", id);
    }
    return 0;
}

/* The scheduled DHCP port of network_id on host (NULL if none). */
static int qdhcp_port_on(qop *op, const char *network_id, const char *host, qj **ret, qerr *e)
{
    *ret = NULL;
    qj *ports;
    int rc = qres_children(op, &qres_port, network_id, &ports, e);
    for (size_t i = 0; rc == 0 && i < qj_len(ports) && !*ret; i++) {
        const qj *p = qj_at(ports, i);
        if (qdhcp_port_scheduled(p) && !strcmp(qj_get_str(p, "binding:host_id"), host))
            *ret = qj_clone(p);
    }
    qj_free(ports);
    return rc;
}

/* Shows each id of ids (r's views; gone ones skipped) as {"<collection>": [...]}. */
static int qdhcp_views(qmodel *m, const qctx *ctx, const qresource *r, const qj *ids, qj **ret,
                       qerr *e)
{
    qj *list = qj_array();
    *ret = NULL;
    for (size_t i = 0; i < qj_len(ids); i++) {
        qj *one;
        qerr le;
        if (qres_show_request(m, ctx, r, qj_as_str(qj_at(ids, i)), NULL, &one, &le) < 0) {
            if (le.code == r->notfound)
                continue;   /* gone since, or not the caller's to see */
            *e = le;
            qj_free(list);
            return -1;
        }
        qj_append(list, qj_take(one, r->name));
        qj_free(one);
    }
    *ret = qj_object();
    qj_set(*ret, r->collection, list);
    return 0;
}

/* Ids (read inside one snapshot): of the networks host's DHCP agent holds
 * (agents), or of the DHCP agents holding network id (networks). */
static int qdhcp_ids(qmodel *m, const char *collection, const char *id, qj **ret, qerr *e)
{
    *ret = qj_array();
    qop op = {.m = m, .ctx = &qdhcp_admin, .now = qhv_wall_seconds()};
    if (qstore_begin_read(m->store, e) < 0)
        return -1;
    qj *doc = NULL, *ports = NULL;
    bool agents = !strcmp(collection, "agents");
    int rc = qres_load(&op, agents ? &qres_agent : &qres_network, id, &doc, e);
    const char *t = agents ? qj_get_str(doc, "agent_type") : NULL;
    if (rc == 0 && agents && t && !strcmp(t, QDHCP_AGENT_TYPE))
        rc = qmodel_docs(op.m, qdhcp_sql_host_ports, qj_get_str(doc, "host"), &ports, e);
    else if (rc == 0 && !agents)
        rc = qres_children(&op, &qres_port, id, &ports, e);
    for (size_t i = 0; rc == 0 && i < qj_len(ports); i++) {
        const qj *p = qj_at(ports, i);
        if (!qdhcp_port_scheduled(p))
            continue;
        if (agents) {
            qj_append(*ret, qj_str(qj_get_str(p, "network_id")));
            continue;
        }
        qj *row;
        rc = qdhcp_agent_load(&op, qj_get_str(p, "binding:host_id"), &row, e);
        if (row)
            qj_append(*ret, qj_str(qj_get_str(row, "id")));
        qj_free(row);
    }
    qstore_end_read(m->store);
    qj_free(doc);
    qj_free(ports);
    return rc;
}

int qdhcp_scheduler_request(qmodel *m, const qctx *ctx, const char *method,
                            const char *collection, const char *id, const char *sub,
                            const qj *body, qj **ret, int *status, qerr *e)
{
    *ret = NULL;
    bool agents = !strcmp(collection, "agents"), get = !strcmp(method, "GET");
    bool post = agents && !sub && !strcmp(method, "POST");
    bool del = agents && sub && !strcmp(method, "DELETE");
    if (!(get && !sub) && !post && !del)
        return qerr_set(e, QE_METHOD_NOT_ALLOWED, "The server could not comply with the request "
                                                  "since it is either malformed or otherwise "
                                                  "incorrect.");
    const char *what = agents ? "dhcp-networks" : "dhcp-agents";
    if (!ctx->is_admin)
        return qerr_set(e, QE_POLICY, "rule:%s_%s is disallowed by policy",
                        get ? "get" : post ? "create" : "delete", what);
    if (get) {
        qj *ids;
        int rc = qdhcp_ids(m, collection, id, &ids, e);
        if (rc == 0)
            rc = qdhcp_views(m, ctx, agents ? &qres_network : &qres_agent, ids, ret, e);
        qj_free(ids);
        *status = 200;
        return rc;
    }
    const char *nid = sub;
    if (post) {
        nid = qj_get_str(body, "network_id");
        if (!qj_is(body, QJ_OBJECT) || !nid || !qhv_is_uuid(nid))
            return qerr_set(e, QE_BAD_REQUEST, "Invalid input for network_id: a network's UUID "
                                               "is required in {\"network_id\": ...}.");
    }
    qop op = {.m = m, .ctx = &qdhcp_admin, .now = qhv_wall_seconds(), .internal = true};
    if (qstore_begin_write(m->store, e) < 0)
        return -1;
    qj *row = NULL, *net = NULL, *port = NULL, *subs = qj_array();
    int rc = qdhcp_load_row(&op, id, post, &row, e);
    const char *host = rc == 0 ? qj_get_str(row, "host") : NULL;
    if (rc == 0)
        rc = qres_load(&op, &qres_network, nid, &net, e);
    if (rc == 0)
        rc = qdhcp_port_on(&op, nid, host, &port, e);
    if (rc == 0 && post && port)
        rc = qerr_set(e, QE_NETWORK_HOSTED, "The network %s has been already hosted by the DHCP "
                                            "Agent %s.", nid, id);
    if (rc == 0 && del && !port)
        rc = qerr_set(e, QE_NETWORK_NOT_HOSTED, "The network %s is not hosted by the DHCP Agent "
                                                "%s.", nid, id);
    const qj *ids = qj_get(net, "subnets");
    for (size_t i = 0; rc == 0 && post && i < qj_len(ids); i++) {
        qj *s;
        int found = qres_find(&op, &qres_subnet, qj_as_str(qj_at(ids, i)), &s, e);
        if (found < 0)
            rc = -1;
        if (found > 0 && qj_get_bool(s, "enable_dhcp", false))
            qj_append(subs, qj_str(qj_get_str(s, "id")));
        qj_free(s);
    }
    if (rc == 0 && post)
        rc = qdhcp_port_create(&op, net, host, subs, e);
    else if (rc == 0)
        rc = qdhcp_port_delete(&op, port, e);
    qj_free(row);
    qj_free(net);
    qj_free(port);
    qj_free(subs);
    if (qmodel_finish(&op, rc, e) < 0)
        return -1;
    *status = post ? 201 : 204;
    if (post)
        *ret = qj_null();
    return 0;
}
