/* agent: the agents collection (GET /v2.0/agents) with Neutron's attributes,
 * written by heartbeats on the host channel; through the API admins may
 * only read, update admin_state_up/description, and delete. */
#include "model/agent.h"
#include "model/dhcp.h"
#include "model/resources.h"
#include "model/rewrite.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/util.h"
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A host's own agent (its L2 agent); its DHCP row is model/dhcp.c's. */
static const char qagent_sql_by_host[] =
    "SELECT body FROM resources WHERE kind='agent' AND host=?1 AND "
    "json_extract(body, '$.agent_type')!='" QDHCP_AGENT_TYPE "' LIMIT 1";
static const char qagent_sql_host_ports[] =
    "SELECT body FROM resources INDEXED BY resources_host WHERE kind='port' AND host=?1 "
    "ORDER BY id";

/* Neutron's agent timestamps: "2026-11-23 21:27:30" (UTC). */
static void qagent_format_time(int64_t t, char out[20])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm);
}

static int64_t qagent_parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

bool qagent_alive(const qconf *c, const qj *agent, int64_t now)
{
    int64_t hb = qagent_parse_time(qj_get_str(agent, "heartbeat_timestamp"));
    return hb && now - hb <= c->agent_down_time;
}

static int qagent_on_view(const qmodel *m, qj *agent, qerr *e)
{
    (void)e;
    qj_set(agent, "alive", qj_bool(qagent_alive(m->conf, agent, qhv_wall_seconds())));
    return 0;
}

static bool qagent_may_write(qop *op, const qj *agent) { return op->ctx->is_admin; }

static bool qagent_is_dhcp(const qj *agent)
{
    const char *t = qj_get_str(agent, "agent_type");
    return t && !strcmp(t, QDHCP_AGENT_TYPE);
}

/* A DHCP agent put back in service takes networks that lack one; one
 * taken out keeps its networks but serves none (Neutron's
 * enable_services_on_agents_with_admin_state_down = false). */
static int qagent_on_update(qop *op, const qj *old, qj *agent, const qj *changes, qerr *e)
{
    if (!qagent_is_dhcp(agent) || qj_get_bool(old, "admin_state_up", true) ||
        !qj_get_bool(agent, "admin_state_up", true))
        return 0;
    if (qres_store(op, &qres_agent, agent, false, e) < 0)
        return -1;
    return qdhcp_sync_all(op, NULL, NULL, e);
}

/* A DHCP agent removed: its networks go to other nodes now. */
static int qagent_on_delete(qop *op, const qj *agent, qerr *e)
{
    if (!qagent_is_dhcp(agent))
        return 0;
    if (qres_delete_row(op, &qres_agent, qj_get_str(agent, "id"), e) < 0)
        return -1;
    return qdhcp_agent_removed(op, qj_get_str(agent, "host"), e);
}

static const qattr qagent_attrs[] = {
    QATTR_ID,
    {"agent_type", QA_STR, 0, "\"HyperV agent\"", 0, 0, NULL, NULL, NULL},
    {"binary", QA_STR, 0, "\"qhv-agent\"", 0, 0, NULL, NULL, NULL},
    {"topic", QA_STR, 0, "\"N/A\"", 0, 0, NULL, NULL, NULL},
    {"host", QA_STR, 0, "\"\"", 0, 0, NULL, NULL, NULL},
    {"admin_state_up", QA_BOOL, QA_PUT, "true", 0, 0, NULL, NULL, NULL},
    {"created_at", QA_STR, 0, NULL, 0, 0, NULL, NULL, NULL},
    {"started_at", QA_STR, 0, "null", 0, 0, NULL, NULL, NULL},
    {"heartbeat_timestamp", QA_STR, 0, "null", 0, 0, NULL, NULL, NULL},
    {"alive", QA_BOOL, 0, "false", 0, 0, NULL, NULL, NULL},
    {"configurations", QA_DICT, QA_NOFILTER, "{}", 0, 0, NULL, NULL, NULL},
    {"availability_zone", QA_STR, 0, "null", 0, 0, NULL, NULL, NULL},
    {"resources_synced", QA_BOOL, 0, "null", 0, 0, NULL, NULL, NULL},
    {"description", QA_STR, QA_PUT | QA_NULL, "null", 0, 255, NULL, NULL, NULL},
};

const qresource qres_agent = {
    .name = "agent",
    .collection = "agents",
    .label = "Agent",
    .notfound = QE_AGENT_NOT_FOUND,
    .attrs = qagent_attrs,
    .nattrs = QHV_ARRAY_SIZE(qagent_attrs),
    .host_attr = "host",
    .no_create = true,
    .admin_only = true,
    .on_view = qagent_on_view,
    .on_update = qagent_on_update,
    .on_delete = qagent_on_delete,
    .may_write = qagent_may_write,
};

/* ---------- binding ---------- */

static int qagent_load_by_host(qop *op, const char *host, qj **ret, qerr *e)
{
    *ret = NULL;
    qstmt *st = qstore_stmt(op->m->store, qagent_sql_by_host, e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, host, -1, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    if (rc == QSTORE_ROW)
        *ret = qj_parse((const char *)qstmt_column_text(st, 0),
                        (size_t)qstmt_column_bytes(st, 0), NULL, NULL);
    qstmt_reset(st);
    return (rc == QSTORE_ROW || rc == QSTORE_DONE) ? 0 : qstore_fail(op->m->store, e, "agent");
}

static bool qagent_list_has(const qj *list, const char *s)
{
    for (size_t i = 0; i < qj_len(list); i++)
        if (qj_as_str(qj_at(list, i)) && !strcmp(qj_as_str(qj_at(list, i)), s))
            return true;
    return false;
}

/* The vSwitch the agent maps physnet to: mappings are "pattern:vswitch"
 * strings with shell wildcards, first match wins (as the Hyper-V agent's
 * physical_network_vswitch_mappings). */
static const char *qagent_map_physnet(const qj *conf, const char *physnet, char *out, size_t n)
{
    const qj *maps = qj_get(conf, "vswitch_mappings");
    for (size_t i = 0; i < qj_len(maps); i++) {
        const char *m = qj_as_str(qj_at(maps, i));
        const char *colon = m ? strrchr(m, ':') : NULL;
        if (!colon)
            continue;
        char pat[256];
        snprintf(pat, sizeof pat, "%.*s", (int)(colon - m), m);
        if (fnmatch(pat, physnet, 0) == 0) {
            snprintf(out, n, "%s", colon + 1);
            return out;
        }
    }
    return NULL;
}

int qagent_bind_port(qop *op, qj *port, qerr *e)
{
    const char *host = qj_get_str(port, "binding:host_id");
    const char *vif = "unbound";
    qj *details = qj_object();
    qj *agent = NULL, *net = NULL;
    int rc = 0;
    if (host && *host) {
        vif = "binding_failed";
        rc = qagent_load_by_host(op, host, &agent, e);
        if (rc == 0 && agent && qagent_alive(op->m->conf, agent, op->now))
            rc = qres_load(op, &qres_network, qj_get_str(port, "network_id"), &net, e);
    }
    if (rc == 0 && net) {
        const qj *conf = qj_get(agent, "configurations");
        const char *type = qj_get_str(net, "provider:network_type");
        const char *physnet = qj_get_str(net, "provider:physical_network");
        char vswitch[256];
        bool type_ok = qagent_list_has(qj_get(conf, "network_types"), type);
        bool phys_ok = !physnet || qagent_map_physnet(conf, physnet, vswitch, sizeof vswitch);
        const char *agent_vif = qj_get_str(conf, "vif_type");
        if (type_ok && phys_ok && agent_vif) {
            vif = agent_vif;
            /* port_filter: the backend enforces this port's groups exactly. */
            const qj *exact = qj_get(conf, "port_filter");
            const qj *ps = qj_get(port, "port_security_enabled");
            qj_set(details, "port_filter",
                   qj_bool(exact && qj_is(exact, QJ_BOOL) && exact->u.b && ps && ps->u.b));
        }
    }
    qj_set(port, "binding:vif_type", qj_str(vif));
    qj_set(port, "binding:vif_details", details);
    qj_free(agent);
    qj_free(net);
    return rc;
}

/* ---------- heartbeats ---------- */

static int qagent_rebind_host(qop *op, const char *host, qerr *e)
{
    qj *ports;
    if (qmodel_docs(op->m, qagent_sql_host_ports, host, &ports, e) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < qj_len(ports); i++) {
        qj *p = qj_at(ports, i);
        qj *before = qj_clone(p);
        rc = qagent_bind_port(op, p, e);
        if (rc == 0)
            rc = qrewrite_sync_port(op, p, false, e);
        if (rc == 0 && !qj_equal(before, p)) {
            qres_touch(op, p);
            rc = qres_store(op, &qres_port, p, false, e);
        }
        qj_free(before);
    }
    qj_free(ports);
    return rc;
}

static int qagent_apply_statuses(qop *op, const char *host, const qj *list, qerr *e)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < qj_len(list); i++) {
        const qj *it = qj_at(list, i);
        /* Of its form (qagent_check_report). */
        const char *id = qj_get_str(it, "id"), *status = qj_get_str(it, "status");
        qj *port;
        rc = qres_find(op, &qres_port, id, &port, e);
        if (rc <= 0) {
            rc = rc < 0 ? -1 : 0;
            continue;   /* 0: deleted meanwhile */
        }
        rc = 0;
        const char *bound = qj_get_str(port, "binding:host_id");
        /* Only the host a port is bound to speaks for it. */
        if (bound && !strcmp(bound, host) && strcmp(qj_get_str(port, "status"), status)) {
            qj_set(port, "status", qj_str(status));
            qres_touch(op, port);
            rc = qres_store_unplanned(op, &qres_port, port, e);
        }
        qj_free(port);
    }
    return rc;
}

/* ---------- what an agent reports about itself ----------
 *
 * The server trusts an agent with its own host only: what reaches another
 * host's plan (the provider address) or a script qhvctl explain prints
 * (names, addresses, the provider interface) is kept only in the form it
 * must have; anything else is dropped, never passed on. */

static bool qagent_ip_ok(const qj *v)
{
    const char *s = qj_as_str(v);
    qaddr a;
    return s && strlen(s) < 64 && qaddr_parse(s, &a) == 0;
}

static bool qagent_int_ok(const qj *v, int64_t lo, int64_t hi)
{
    return qj_is(v, QJ_INT) && v->u.i >= lo && v->u.i <= hi;
}

/* Printable text: no control characters (C0, DEL), valid UTF-8, at most
 * max bytes, not empty. */

/* A name qhvctl quotes (vSwitch names, mappings): printable text without
 * PowerShell's quote characters beyond ASCII. */
static bool qagent_name_ok(const char *s)
{
    if (!qhv_text_ok(s, 255))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 &&
            (unsigned char)p[2] >= 0x98 && (unsigned char)p[2] <= 0x9F)
            return false;
    return true;
}

static bool qagent_version_ok(const qj *v)
{
    const char *s = qj_as_str(v);
    size_t n = s ? strlen(s) : 0;
    if (!n || n > 32 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return false;
    return true;
}

static bool qagent_port_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (!n || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr("-._", s[i])))
            return false;
    return true;
}

#define QAGENT_PROBLEMS_MAX 50      /* port_problem_details kept */
#define QAGENT_MAPPINGS_MAX 64      /* vswitch_mappings items kept */
#define QAGENT_CAPS_MAX 32          /* backend_capabilities members kept */
#define QAGENT_CAP_TEXT_MAX 1024    /* one capability's text */

/* The sets an agent's words are taken from: the network types it may serve
 * (src/agent/config.c), the VIF types ports are bound with (what Nova
 * plugs), the backends qhv-agent has. */
static const char *const qagent_network_types[] = {"local", "flat", "vlan", "nvgre", "ip_rewrite"};
static const char *const qagent_vif_types[] = {"hyperv", "ovs"};
static const char *const qagent_backends[] = {"dummy", "ovs", "hyperv"};
static const char *const qagent_agent_types[] = {"HyperV agent", "Open vSwitch agent"};

static bool qagent_one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, set[i]))
            return true;
    return false;
}
#define QAGENT_ONE_OF(s, set) qagent_one_of((s), (set), QHV_ARRAY_SIZE(set))

/* The members configurations may have (docs/host-channel.md); any other is
 * dropped, so that nothing unchecked is kept or shown. */
static const char *const qagent_conf_keys[] = {
    "backend", "vif_type", "network_types", "vswitch_mappings", "provider_address",
    "local_network_vswitch", "tunnel_vswitch", "provider_interface", "provider_interface_index",
    "provider_prefix_length", "provider_vlan_id", "provider_next_hop", "windows_version",
    "port_problems", "port_problem_details", "port_filter", "backend_capabilities",
    "applied_revision", "applied_digest", "dhcp"};

/* A capability's name: [a-z0-9_], 1-64. */
static bool qagent_key_ok(const char *k)
{
    size_t n = strlen(k);
    return n && n <= 64 && !k[strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_")];
}

/* backend_capabilities: what the backend says it can do, shown to admins
 * and read by qhvctl (windows_version). Kept: at most QAGENT_CAPS_MAX
 * members with a name of qagent_key_ok's form whose value is a boolean, an
 * integer, printable text or a list of at most 16 such texts;
 * network_types only of the known set; windows_version of its form. */
static void qagent_sanitize_caps(qj *conf)
{
    const qj *caps = qj_get(conf, "backend_capabilities");
    if (!caps)
        return;
    qj *keep = qj_object();
    for (size_t i = 0; qj_is(caps, QJ_OBJECT) && i < qj_len(caps); i++) {
        const char *k = caps->u.obj.m[i].key;
        const qj *v = caps->u.obj.m[i].val;
        bool ok = qj_len(keep) < QAGENT_CAPS_MAX && qagent_key_ok(k);
        if (ok && !strcmp(k, "windows_version"))
            ok = qagent_version_ok(v);
        else if (ok && qj_is(v, QJ_ARRAY)) {
            ok = qj_len(v) <= 16;
            for (size_t j = 0; ok && j < qj_len(v); j++)
                ok = !strcmp(k, "network_types")
                         ? QAGENT_ONE_OF(qj_as_str(qj_at(v, j)), qagent_network_types)
                         : qhv_text_ok(qj_as_str(qj_at(v, j)), QAGENT_CAP_TEXT_MAX);
        } else if (ok) {
            ok = qj_is(v, QJ_BOOL) || qj_is(v, QJ_INT) ||
                 qhv_text_ok(qj_as_str(v), QAGENT_CAP_TEXT_MAX);
        }
        if (ok)
            qj_set(keep, k, qj_clone(v));
    }
    qj_set(conf, "backend_capabilities", keep);
}

/* The items of conf's list key that pass ok (at most max, no repeats); a
 * member that is not a list is dropped. */
static void qagent_filter_list(qj *conf, const char *key, bool (*ok)(const char *), size_t max)
{
    const qj *list = qj_get(conf, key);
    if (!list)
        return;
    if (!qj_is(list, QJ_ARRAY)) {
        qj_remove(conf, key);
        return;
    }
    qj *keep = qj_array();
    for (size_t i = 0; i < qj_len(list) && qj_len(keep) < max; i++) {
        const char *s = qj_as_str(qj_at(list, i));
        if (s && ok(s) && !qagent_list_has(keep, s))
            qj_append(keep, qj_str(s));
    }
    qj_set(conf, key, keep);
}

static bool qagent_network_type_ok(const char *s)
{
    return QAGENT_ONE_OF(s, qagent_network_types);
}

/* "pattern:vswitch", as the agent's physical_network_vswitch_mappings. */
static bool qagent_mapping_ok(const char *s)
{
    return qagent_name_ok(s) && strchr(s, ':');
}

/* Drops from conf (a heartbeat's configurations) every member that lacks
 * its form (docs/host-channel.md). */
static void qagent_sanitize(qj *conf)
{
    /* Only the members an agent sends; each of its form below. */
    for (size_t i = qj_len(conf); i-- > 0;)
        if (!QAGENT_ONE_OF(conf->u.obj.m[i].key, qagent_conf_keys))
            qj_remove(conf, conf->u.obj.m[i].key);
    const qj *v;
    /* vif_type becomes the binding:vif_type of the host's ports (what Nova
     * plugs), backend is shown by qhvctl agents. */
    if ((v = qj_get(conf, "vif_type")) && !QAGENT_ONE_OF(qj_as_str(v), qagent_vif_types))
        qj_remove(conf, "vif_type");
    if ((v = qj_get(conf, "backend")) && !QAGENT_ONE_OF(qj_as_str(v), qagent_backends))
        qj_remove(conf, "backend");
    if ((v = qj_get(conf, "port_filter")) && !qj_is(v, QJ_BOOL))
        qj_remove(conf, "port_filter");
    if ((v = qj_get(conf, "dhcp")) && !qj_is(v, QJ_BOOL))
        qj_remove(conf, "dhcp");
    static const char *const ips[] = {"provider_address", "provider_next_hop"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(ips); i++)
        if (qj_get(conf, ips[i]) && !qagent_ip_ok(qj_get(conf, ips[i])))
            qj_remove(conf, ips[i]);
    qmac mac;
    if ((v = qj_get(conf, "provider_interface")) &&
        !(qj_as_str(v) && (qmac_parse(qj_as_str(v), &mac) == 0 || qhv_ifalias_ok(qj_as_str(v)))))
        qj_remove(conf, "provider_interface");
    static const struct { const char *key; int64_t lo, hi; } ints[] = {
        {"provider_interface_index", 0, 4294967295LL}, {"provider_prefix_length", 0, 128},
        {"provider_vlan_id", 0, 4094}, {"port_problems", 0, 100000000},
        {"applied_revision", 0, INT64_MAX}};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(ints); i++)
        if ((v = qj_get(conf, ints[i].key)) && !qagent_int_ok(v, ints[i].lo, ints[i].hi))
            qj_remove(conf, ints[i].key);
    static const char *const names[] = {"local_network_vswitch", "tunnel_vswitch"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(names); i++)
        if ((v = qj_get(conf, names[i])) &&
            !(qj_as_str(v) && (!*qj_as_str(v) || qagent_name_ok(qj_as_str(v)))))
            qj_remove(conf, names[i]);
    if ((v = qj_get(conf, "windows_version")) && !qagent_version_ok(v))
        qj_remove(conf, "windows_version");
    if ((v = qj_get(conf, "applied_digest")) &&
        !(qj_as_str(v) && strlen(qj_as_str(v)) == 16 &&
          !qj_as_str(v)[strspn(qj_as_str(v), "0123456789abcdef")]))
        qj_remove(conf, "applied_digest");
    qagent_sanitize_caps(conf);
    /* Lists: keep the members of the right form. */
    qagent_filter_list(conf, "vswitch_mappings", qagent_mapping_ok, QAGENT_MAPPINGS_MAX);
    qagent_filter_list(conf, "network_types", qagent_network_type_ok,
                       QHV_ARRAY_SIZE(qagent_network_types));
    qj *probs = (qj *)qj_get(conf, "port_problem_details");
    if (probs && !qj_is(probs, QJ_ARRAY)) {
        qj_remove(conf, "port_problem_details");
    } else if (probs) {
        qj *keep = qj_array();
        for (size_t i = 0; i < qj_len(probs) && qj_len(keep) < QAGENT_PROBLEMS_MAX; i++) {
            const qj *it = qj_at(probs, i);
            const char *id = qj_get_str(it, "port_id"), *st = qj_get_str(it, "status");
            const char *why = qj_get_str(it, "problem");
            if (!qagent_port_id_ok(id) || !st || (strcmp(st, "ACTIVE") && strcmp(st, "DOWN")) ||
                !qhv_text_ok(why, 255))
                continue;
            qj *p = qj_object();
            qj_set(p, "port_id", qj_str(id));
            qj_set(p, "status", qj_str(st));
            qj_set(p, "problem", qj_str(why));
            qj_append(keep, p);
        }
        qj_set(conf, "port_problem_details", keep);
    }
}

/* The report's own fields (not configurations): what the agent says it is.
 * They name the agent in /v2.0/agents, so a wrong one is refused (400)
 * rather than kept; host, if given, must be the host of the URL (the one
 * the token is for). */
static int qagent_check_report(const char *host, const qj *a, const qj *ports, qerr *e)
{
    const qj *v;
    if ((v = qj_get(a, "agent_type")) && !QAGENT_ONE_OF(qj_as_str(v), qagent_agent_types))
        return qerr_set(e, QE_BAD_REQUEST, "agent.agent_type must be \"HyperV agent\" or "
                                           "\"Open vSwitch agent\"");
    if ((v = qj_get(a, "binary")) && !(qj_as_str(v) && !strcmp(qj_as_str(v), "qhv-agent")))
        return qerr_set(e, QE_BAD_REQUEST, "agent.binary must be \"qhv-agent\"");
    if ((v = qj_get(a, "host")) && !(qj_as_str(v) && !strcmp(qj_as_str(v), host)))
        return qerr_set(e, QE_BAD_REQUEST, "agent.host must be the host this report is for "
                                           "(%s)", host);
    if ((v = qj_get(a, "start_flag")) && !qj_is(v, QJ_BOOL))
        return qerr_set(e, QE_BAD_REQUEST, "agent.start_flag must be a boolean");
    if ((v = qj_get(a, "availability_zone")) && !qj_is(v, QJ_NULL) &&
        !(qhv_text_ok(qj_as_str(v), 255) && *qj_as_str(v)))
        return qerr_set(e, QE_BAD_REQUEST, "agent.availability_zone must be null or printable "
                                           "text of 1 to 255 characters");
    for (size_t i = 0; i < qj_len(ports); i++) {
        const qj *it = qj_at(ports, i);
        const char *id = qj_get_str(it, "id"), *status = qj_get_str(it, "status");
        if (!qj_is(it, QJ_OBJECT) || !qagent_port_id_ok(id) || !status ||
            (strcmp(status, "ACTIVE") && strcmp(status, "DOWN")))
            return qerr_set(e, QE_BAD_REQUEST, "each port status must be {\"id\": ID, "
                                               "\"status\": \"ACTIVE\"|\"DOWN\"}");
    }
    return 0;
}

/* The DHCP row of a host whose report says "dhcp": true: created or
 * refreshed with the L2 row's heartbeat; coming alive, it takes the
 * networks that lack a DHCP agent. Its configurations are counted here, as
 * Neutron's agent counts what it serves; a heartbeat that changes only
 * them changes no plan. */
static int qagent_dhcp_heartbeat(qop *op, const char *host, bool start, const char *ts, qerr *e)
{
    qj *row;
    if (qdhcp_agent_load(op, host, &row, e) < 0)
        return -1;
    bool was_serving = qdhcp_agent_serves(op->m->conf, row, op->now);
    bool was_alive = row && qagent_alive(op->m->conf, row, op->now);
    bool is_new = !row;
    int rc = 0;
    if (is_new) {
        qj *item = qj_object();
        rc = qres_create_one(op, &qres_agent, item, true, &row, e);
        qj_free(item);
        if (rc == 0) {
            qj_set(row, "agent_type", qj_str(QDHCP_AGENT_TYPE));
            qj_set(row, "topic", qj_str("dhcp_agent"));
            qj_set(row, "host", qj_str(host));
            qj_set(row, "created_at", qj_str(ts));
            qj_set(row, "availability_zone", qj_str("nova"));
        }
    }
    qj *conf = NULL;
    if (rc == 0)
        rc = qdhcp_agent_configurations(op, host, &conf, e);
    if (rc == 0) {
        if (!was_alive || start)
            qj_set(row, "started_at", qj_str(ts));
        qj_set(row, "heartbeat_timestamp", qj_str(ts));
        qj_set(row, "configurations", conf);
        conf = NULL;
        rc = is_new || !was_alive ? qres_store(op, &qres_agent, row, false, e)
                                  : qres_store_unplanned(op, &qres_agent, row, e);
    }
    qj_free(conf);
    if (rc == 0 && !was_serving && qdhcp_agent_serves(op->m->conf, row, op->now))
        rc = qdhcp_sync_all(op, NULL, NULL, e);
    qj_free(row);
    return rc;
}

int qagent_report_request(qmodel *m, const char *host, const qj *body, qj **ret, qerr *e)
{
    *ret = NULL;
    const qj *a = qj_get(body, "agent");
    if (!qj_is(body, QJ_OBJECT) || !qj_is(a, QJ_OBJECT))
        return qerr_set(e, QE_BAD_REQUEST, "Unable to find 'agent' in request body");
    const qj *given = qj_get(a, "configurations");
    const qj *ports = qj_get(body, "ports");
    if ((given && !qj_is(given, QJ_OBJECT)) || (ports && !qj_is(ports, QJ_ARRAY)))
        return qerr_set(e, QE_BAD_REQUEST, "agent.configurations must be an object and ports a "
                                           "list");
    if (qagent_check_report(host, a, ports, e) < 0)
        return -1;
    qj *conf = given ? qj_clone(given) : NULL;
    if (conf)
        qagent_sanitize(conf);
    /* The DHCP role is the host's second agent, not an L2 setting. */
    bool dhcp = conf && qj_get_bool(conf, "dhcp", false);
    qj_remove(conf, "dhcp");
    if (dhcp && !qconf_dhcp_host_allowed(m->conf, host)) {
        /* A network node learns its networks' ports and answers their
         * DHCP: only the hosts the operator names. */
        QLOG_W("agent", "%s reports the DHCP role but is not in [agent] dhcp_agent_hosts: "
                        "taken without it", host);
        dhcp = false;
    }
    qctx ctx = {.is_admin = true};
    qop op = {.m = m, .ctx = &ctx, .now = qhv_wall_seconds()};
    if (qstore_begin_write(m->store, e) < 0) {
        qj_free(conf);
        return -1;
    }
    qj *agent = NULL;
    int rc = qagent_load_by_host(&op, host, &agent, e);
    char ts[20];
    qagent_format_time(op.now, ts);
    bool was_alive = agent && qagent_alive(m->conf, agent, op.now);
    /* What binding depends on changed? (not the applied revision) */
    qj *oldc = agent ? qj_clone(qj_get(agent, "configurations")) : NULL;
    qj *newc = conf ? qj_clone(conf) : NULL;
    /* Nor the port problems: they change no binding and no plan. */
    static const char *const volatile_keys[] = {"applied_revision", "applied_digest",
                                                "port_problems", "port_problem_details"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(volatile_keys); i++) {
        qj_remove(oldc, volatile_keys[i]);
        qj_remove(newc, volatile_keys[i]);
    }
    bool conf_changed = !agent || !qj_equal(oldc, newc);
    qj_free(oldc);
    qj_free(newc);
    bool is_new = !agent;
    if (rc == 0 && !agent) {
        qj *item = qj_object();
        qj *created;
        rc = qres_create_one(&op, &qres_agent, item, true, &created, e);
        qj_free(item);
        agent = created;
        if (rc == 0) {
            char cts[20];
            qagent_format_time(op.now, cts);
            qj_set(agent, "created_at", qj_str(cts));
            qj_set(agent, "host", qj_str(host));
        }
    }
    if (rc == 0) {
        const char *type = qj_get_str(a, "agent_type"), *binary = qj_get_str(a, "binary");
        if (type)
            qj_set(agent, "agent_type", qj_str(type));
        if (binary)
            qj_set(agent, "binary", qj_str(binary));
        const qj *az = qj_get(a, "availability_zone");
        if (az)
            qj_set(agent, "availability_zone", qj_clone(az));
        if (!was_alive || qj_get(a, "start_flag"))
            qj_set(agent, "started_at", qj_str(ts));
        qj_set(agent, "heartbeat_timestamp", qj_str(ts));
        if (conf)
            qj_set(agent, "configurations", qj_clone(conf));
        /* A heartbeat that changes neither liveness nor configuration
         * (provider address, capabilities) changes no plan. */
        if (is_new || !was_alive || conf_changed)
            rc = qres_store(&op, &qres_agent, agent, false, e);
        else
            rc = qres_store_unplanned(&op, &qres_agent, agent, e);
    }
    if (rc == 0 && (!was_alive || conf_changed))
        rc = qagent_rebind_host(&op, host, e);
    if (rc == 0 && dhcp)
        rc = qagent_dhcp_heartbeat(&op, host, qj_get_bool(a, "start_flag", false), ts, e);
    if (rc == 0 && ports)
        rc = qagent_apply_statuses(&op, host, ports, e);
    qj_free(agent);
    qj_free(conf);
    if (qmodel_finish(&op, rc, e) < 0)
        return -1;
    /* The latest; when it cannot be read, this report's (it is in). */
    int64_t rev = qstore_revision(m->store);
    *ret = qj_object();
    qj_set(*ret, "revision", qj_int(rev > op.revision ? rev : op.revision));
    qj_set(*ret, "report_interval", qj_int(m->conf->report_interval));
    return 0;
}
