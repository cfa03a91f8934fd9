/* port: the port resource — MAC generation and uniqueness per network,
 * fixed IPs (ipam.c), allowed address pairs, port security, and binding. */
#include "model/ipam.h"
#include "model/resources.h"
#include "model/secgroup.h"
#include "model/agent.h"
#include "model/dhcp.h"
#include "model/rewrite.h"
#include "model/nova.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

static const char *const qport_vnic_types[] = {
    "normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder",
    "smart-nic", "vdpa", "remote-managed", "accelerator-direct", "accelerator-direct-physical",
    NULL};

static const char qport_sql_mac_find[] = "SELECT port_id FROM macs WHERE network_id=?1 AND mac=?2";
static const char qport_sql_mac_insert[] =
    "INSERT INTO macs(network_id, mac, port_id) VALUES(?1, ?2, ?3)";
static const char qport_sql_mac_delete[] = "DELETE FROM macs WHERE port_id=?1";
/* The check and the record in one statement: a row back means it was free. */
static const char qport_sql_mac_claim[] =
    "INSERT OR IGNORE INTO macs(network_id, mac, port_id) VALUES(?1, ?2, ?3) RETURNING port_id";

/* 1 if mac is taken on network, 0 if free, -1 on error. */
static int qport_mac_taken(qop *op, const char *network_id, const char *mac, qerr *e)
{
    return qstore_query_row(op->m->store, qport_sql_mac_find, network_id, mac, NULL, NULL, 0, e);
}

static int qport_mac_record(qop *op, const char *network_id, const char *mac, const char *port_id,
                            qerr *e)
{
    return qstore_run(op->m->store, qport_sql_mac_insert, network_id, mac, port_id, e);
}

/* Records mac on network for port_id when it is free there: 1 claimed, 0
 * taken, -1 on error. One round trip instead of a lookup and an insert,
 * inside the write lock. */
static int qport_mac_claim(qop *op, const char *network_id, const char *mac, const char *port_id,
                           qerr *e)
{
    /* Both engines make the insert at the first step (RETURNING's rows
     * come after it). */
    return qstore_query_row(op->m->store, qport_sql_mac_claim, network_id, mac, port_id, NULL, 0,
                            e);
}

static int qport_mac_release(qop *op, const char *port_id, qerr *e)
{
    return qstore_run(op->m->store, qport_sql_mac_delete, port_id, NULL, NULL, e);
}

static int qport_check_mac(qop *op, const qattr *a, qj **v, qerr *e)
{
    qmac m;
    const char *s = qj_as_str(*v);
    if (qmac_parse(s, &m) < 0 || qmac_is_multicast(&m) || qmac_is_zero(&m))
        return qerr_set(e, QE_BAD_REQUEST, "Invalid input for mac_address. Reason: '%s' is not "
                                           "a valid MAC address.", s);
    char norm[QMAC_STRLEN];
    qmac_format(&m, norm);
    qj_free(*v);
    *v = qj_str(norm);
    return 0;
}

static int qport_check_pairs(qop *op, const qattr *a, qj **v, qerr *e)
{
    if ((int64_t)qj_len(*v) > op->m->conf->max_allowed_address_pair)
        return qerr_set(e, QE_BAD_REQUEST, "The number of allowed address pair exceeds the "
                                           "maximum %lld.",
                        (long long)op->m->conf->max_allowed_address_pair);
    qj *out = qj_array();
    for (size_t i = 0; i < qj_len(*v); i++) {
        const qj *p = qj_at(*v, i);
        const char *ip = qj_get_str(p, "ip_address"), *mac = qj_get_str(p, "mac_address");
        qcidr c;
        qmac m;
        size_t keys = (qj_get(p, "ip_address") != NULL) + (qj_get(p, "mac_address") != NULL);
        if (!qj_is(p, QJ_OBJECT) || !ip || keys != qj_len(p) || qcidr_parse_or_host(ip, &c) < 0 ||
            (qj_get(p, "mac_address") && (!mac || qmac_parse(mac, &m) < 0))) {
            qj_free(out);
            return qerr_set(e, QE_BAD_REQUEST, "Invalid input for allowed_address_pairs. "
                                               "Reason: each pair needs a valid ip_address (IP "
                                               "or CIDR) and an optional valid mac_address.");
        }
        qj *o = qj_object();
        char buf[QCIDR_STRLEN];
        if (c.prefixlen == qaddr_bits(c.addr.family))
            qaddr_format(&c.addr, buf);
        else
            qcidr_format(&c, buf);
        qj_set(o, "ip_address", qj_str(buf));
        if (mac) {
            char mb[QMAC_STRLEN];
            qmac_format(&m, mb);
            qj_set(o, "mac_address", qj_str(mb));
        }
        qj_append(out, o);
    }
    qj_free(*v);
    *v = out;
    return 0;
}

static int qport_check_fixed_ips(qop *op, const qattr *a, qj **v, qerr *e) { return 0; }

/* ---------- extra_dhcp_opts (neutron-lib's extra_dhcp_opt) ---------- */

#define QPORT_DHCP_OPT_NAME_MAX 64
#define QPORT_DHCP_OPT_VALUE_MAX 255

/* Options whose value may be empty ("no router", "no routes"). */
static bool qport_dhcp_opt_blank_ok(const char *name)
{
    return !strcmp(name, "router") || !strcmp(name, "classless-static-route");
}

static bool qport_oneline(const char *s, size_t max, bool empty_ok)
{
    size_t n = strlen(s);
    return (empty_ok || n) && n <= max && !strpbrk(s, "\r\n");
}

static int qport_dhcp_opt_bad(const qj *item, qerr *e)
{
    char *t = qj_to_string(item);
    qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: No valid key specs matched "
                                  "for: %.300s.", t);
    free(t);
    return -1;
}

/* Each item {"opt_name", "opt_value"[, "ip_version"]}: a one-line name of
 * 1-64, a one-line value of 1-255 or null (router and
 * classless-static-route may be empty), ip_version 4 or 6 (as text too),
 * normalised to an integer; nothing else. null (no options) stays null. */
static int qport_check_dhcp_opts(qop *op, const qattr *a, qj **v, qerr *e)
{
    if (qj_is(*v, QJ_NULL))
        return 0;
    qj *out = qj_array();
    for (size_t i = 0; i < qj_len(*v); i++) {
        const qj *it = qj_at(*v, i);
        const char *name = qj_get_str(it, "opt_name");
        const qj *val = qj_get(it, "opt_value"), *ver = qj_get(it, "ip_version");
        size_t keys = 2 + (ver != NULL);
        int64_t version = 4;
        bool ok = qj_is(it, QJ_OBJECT) && name && val && qj_len(it) == keys &&
                  (qj_is(val, QJ_NULL) || qj_is(val, QJ_STRING));
        if (ok)
            ok = qport_dhcp_opt_blank_ok(name)
                     ? (qj_is(val, QJ_NULL) || qj_len(val) <= QPORT_DHCP_OPT_VALUE_MAX)
                     : (qport_oneline(name, QPORT_DHCP_OPT_NAME_MAX, false) &&
                        (qj_is(val, QJ_NULL) ||
                         qport_oneline(qj_as_str(val), QPORT_DHCP_OPT_VALUE_MAX, false)));
        if (ok && ver) {
            if (qj_is(ver, QJ_INT))
                version = ver->u.i;
            else if (!qj_as_str(ver) ||
                     qhv_parse_i64(qj_as_str(ver), INT64_MIN, INT64_MAX, &version) < 0)
                version = 0;
            ok = version == 4 || version == 6;
        }
        if (!ok) {
            qj_free(out);
            return qport_dhcp_opt_bad(it, e);
        }
        for (size_t k = 0; k < qj_len(out); k++)
            if (!strcmp(qj_get_str(qj_at(out, k), "opt_name"), name) &&
                qj_get_int(qj_at(out, k), "ip_version", 4) == version) {
                qj_free(out);
                return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: Duplicate "
                                                     "items in the list: '%s' (IPv%lld).",
                                name, (long long)version);
            }
        qj *o = qj_object();
        qj_set(o, "opt_name", qj_str(name));
        qj_set(o, "opt_value", qj_clone(val));
        qj_set(o, "ip_version", qj_int(version));
        qj_append(out, o);
    }
    qj_free(*v);
    *v = out;
    return 0;
}

/* An option is kept only with a value (router and classless-static-route:
 * an empty one too), as Neutron stores them. */
static bool qport_dhcp_opt_kept(const qj *o)
{
    const char *v = qj_get_str(o, "opt_value");
    return v && (*v || qport_dhcp_opt_blank_ok(qj_get_str(o, "opt_name")));
}

/* Neutron's update: each requested option replaces the one of its name and
 * IP version, a null value removes it, new ones are added; options not
 * named stay. null or [] changes nothing. */
static qj *qport_merge_dhcp_opts(const qj *cur, const qj *req)
{
    qj *out = qj_array();
    for (size_t i = 0; i < qj_len(cur); i++)
        qj_append(out, qj_clone(qj_at(cur, i)));
    for (size_t i = 0; i < qj_len(req); i++) {
        const qj *r = qj_at(req, i);
        const char *name = qj_get_str(r, "opt_name");
        int64_t ver = qj_get_int(r, "ip_version", 4);
        size_t at = qj_len(out);
        for (size_t k = 0; k < qj_len(out) && at == qj_len(out); k++)
            if (!strcmp(qj_get_str(qj_at(out, k), "opt_name"), name) &&
                qj_get_int(qj_at(out, k), "ip_version", 4) == ver)
                at = k;
        if (at < qj_len(out) && qj_is(qj_get(r, "opt_value"), QJ_NULL)) {
            qj *keep = qj_array();
            for (size_t k = 0; k < qj_len(out); k++)
                if (k != at)
                    qj_append(keep, qj_clone(qj_at(out, k)));
            qj_free(out);
            out = keep;
        } else if (at < qj_len(out) && qport_dhcp_opt_kept(r)) {
            qj_set(qj_at(out, at), "opt_value", qj_str(qj_get_str(r, "opt_value")));
        } else if (at == qj_len(out) && qport_dhcp_opt_kept(r)) {
            qj_append(out, qj_clone(r));
        }
    }
    return out;
}

/* Fills each pair's missing MAC with the port's, then refuses duplicates. */
static int qport_finish_pairs(qj *port, qerr *e)
{
    qj *pairs = qj_get(port, "allowed_address_pairs");
    const char *mac = qj_get_str(port, "mac_address");
    for (size_t i = 0; i < qj_len(pairs); i++) {
        qj *p = qj_at(pairs, i);
        if (!qj_get(p, "mac_address"))
            qj_set(p, "mac_address", qj_str(mac));
        for (size_t j = 0; j < i; j++)
            if (qj_equal(qj_at(pairs, j), p))
                return qerr_set(e, QE_ADDRESS_PAIR_DUP, "Request contains duplicate address "
                                                        "pair: mac_address %s ip_address %s.",
                                qj_get_str(p, "mac_address"), qj_get_str(p, "ip_address"));
    }
    const qj *ps = qj_get(port, "port_security_enabled");
    if (qj_len(pairs) && ps && !ps->u.b)
        return qerr_set(e, QE_ADDRESS_PAIR_NEEDS_PS, "Port Security must be enabled in order to "
                                                     "have allowed address pairs on a port.");
    return 0;
}

bool qport_is_router(const qj *port)
{
    const char *o = qj_get_str(port, "device_owner");
    return o && (!strcmp(o, "network:router_interface") ||
                 !strcmp(o, "network:router_interface_distributed") ||
                 !strcmp(o, "network:ha_router_replicated_interface") ||
                 !strcmp(o, "network:router_centralized_snat"));
}

static bool qport_is_network_owner(qop *op, const qj *net)
{
    return qres_is_owner(op, net);
}

/* A random MAC free on network_id; with port_id, also recorded for it (in
 * the same statement as the check). */
static int qport_generate_mac(qop *op, const char *network_id, const char *port_id,
                              char out[QMAC_STRLEN], qerr *e)
{
    const qconf *c = op->m->conf;
    for (int64_t i = 0; i < c->mac_generation_retries; i++) {
        qmac m;
        memcpy(m.b, c->base_mac_bytes, 6);
        uint8_t r[6];
        qhv_random_bytes(r, sizeof r);
        for (int b = c->base_mac_fixed; b < 6; b++)
            m.b[b] = r[b];
        if (c->base_mac_fixed == 0)
            m.b[0] = (uint8_t)((m.b[0] & 0xfe) | 0x02);   /* unicast, locally administered */
        qmac_format(&m, out);
        if (port_id) {
            int rc = qport_mac_claim(op, network_id, out, port_id, e);
            if (rc != 0)
                return rc < 0 ? -1 : 0;
            continue;
        }
        int rc = qport_mac_taken(op, network_id, out, e);
        if (rc <= 0)
            return rc;
    }
    return qerr_set(e, QE_MAC_IN_USE, "Unable to generate unique mac on network %s.", network_id);
}

static int qport_on_create(qop *op, qj *port, qerr *e)
{
    const char *nid = qj_get_str(port, "network_id");
    const char *pid = qj_get_str(port, "id");
    qj *net = NULL;
    int rc = qres_load(op, &qres_network, nid, &net, e);
    if (rc == 0 && qnet_usable(op, net, e) < 0)
        rc = -1;
    bool net_owner = rc == 0 && qport_is_network_owner(op, net);
    /* Neutron's default policy: only the network's owner picks MACs and
     * addresses or plugs network devices on it. */
    if (rc == 0 && !net_owner) {
        const char *owner = qj_get_str(port, "device_owner");
        const qj *fips = qj_get(port, "fixed_ips");
        bool addr_given = false;
        for (size_t i = 0; i < qj_len(fips); i++)
            addr_given |= qj_get(qj_at(fips, i), "ip_address") != NULL;
        if (qj_get_str(port, "mac_address"))
            rc = qerr_set(e, QE_POLICY, "(rule:create_port and rule:create_port:mac_address) is "
                                        "disallowed by policy");
        else if (addr_given)
            rc = qerr_set(e, QE_POLICY, "(rule:create_port and "
                                        "rule:create_port:fixed_ips:ip_address) is disallowed by "
                                        "policy");
        else if (owner && !strncmp(owner, "network:", 8))
            rc = qerr_set(e, QE_POLICY, "(rule:create_port and rule:create_port:device_owner) is "
                                        "disallowed by policy");
        else if (qj_is(qj_get(port, "port_security_enabled"), QJ_BOOL))
            rc = qerr_set(e, QE_POLICY, "(rule:create_port and "
                                        "rule:create_port:port_security_enabled) is disallowed by "
                                        "policy");
    }
    char mac[QMAC_STRLEN];
    if (rc == 0) {
        const char *given = qj_get_str(port, "mac_address");
        if (given) {
            snprintf(mac, sizeof mac, "%s", given);
            int t = qport_mac_claim(op, nid, mac, pid, e);
            if (t == 0)
                rc = qerr_set(e, QE_MAC_IN_USE, "Unable to complete operation for network %s. The "
                                                "mac address %s is in use.", nid, mac);
            else
                rc = t < 0 ? -1 : 0;
        } else {
            rc = qport_generate_mac(op, nid, pid, mac, e);
            if (rc == 0)
                qj_set(port, "mac_address", qj_str(mac));
        }
    }
    if (rc == 0 && qj_is(qj_get(port, "port_security_enabled"), QJ_NULL)) {
        const qj *nps = qj_get(net, "port_security_enabled");
        qj_set(port, "port_security_enabled", qj_bool(!nps || nps->u.b));
    }
    if (rc == 0) {
        qmac m;
        qmac_parse(mac, &m);
        qj *req = qj_get(port, "fixed_ips");
        qj *ips;
        rc = qipam_assign(op, nid, pid, &m, qport_is_router(port), qj_is(req, QJ_NULL) ? NULL : req,
                          NULL, &ips, e);
        if (rc == 0)
            qj_set(port, "fixed_ips", ips);
    }
    if (rc == 0)
        rc = qport_finish_pairs(port, e);
    if (rc == 0) {
        qj *none = qj_array();
        qj_set(port, "extra_dhcp_opts", qport_merge_dhcp_opts(none, qj_get(port, "extra_dhcp_opts")));
        qj_free(none);
    }
    if (rc == 0)
        rc = qsg_port_assign(op, port, NULL, NULL, e);
    if (rc == 0)
        rc = qagent_bind_port(op, port, e);
    if (rc == 0)
        rc = qrewrite_sync_port(op, port, true, e);
    qj_free(net);
    return rc;
}

/* Neutron's update_port:port_security_enabled: the network's owner's. */
static int qport_check_update_policy(qop *op, const qj *port, const qj *changes, qerr *e)
{
    if (op->ctx->is_admin)
        return 0;
    if (qj_get(changes, "mac_address"))
        return qerr_set(e, QE_POLICY, "(rule:update_port and rule:update_port:mac_address) is "
                                      "disallowed by policy");
    if (!qj_get(changes, "port_security_enabled"))
        return 0;
    qj *net;
    if (qres_load(op, &qres_network, qj_get_str(port, "network_id"), &net, e) < 0)
        return -1;
    bool owner = qport_is_network_owner(op, net);
    qj_free(net);
    if (!owner)
        return qerr_set(e, QE_POLICY, "(rule:update_port and "
                                      "rule:update_port:port_security_enabled) is disallowed by "
                                      "policy");
    return 0;
}

/* A new MAC (an admin's): as ML2, not on a bound port nor on a network
 * device's, unique on the network; the EUI-64 addresses follow it. The
 * host plans carry the MAC, so the agents follow once the port binds. */
static int qport_update_mac(qop *op, const qj *old, qj *port, bool readdress, qerr *e)
{
    const char *pid = qj_get_str(port, "id"), *nid = qj_get_str(port, "network_id");
    if (qj_is(qj_get(port, "mac_address"), QJ_NULL)) {
        /* port-mac-address-regenerate: null asks for a new generated MAC. */
        char gen[QMAC_STRLEN];
        if (qport_generate_mac(op, nid, NULL, gen, e) < 0)
            return -1;
        qj_set(port, "mac_address", qj_str(gen));
    }
    const char *was = qj_get_str(old, "mac_address"), *mac = qj_get_str(port, "mac_address");
    if (!strcmp(was, mac))
        return 0;
    const char *vif = qj_get_str(old, "binding:vif_type");
    if (vif && strcmp(vif, "unbound") && strcmp(vif, "binding_failed"))
        return qerr_set(e, QE_PORT_BOUND, "Unable to complete operation on port %s, port is "
                                          "already bound, port type: %s, old_mac %s, new_mac %s.",
                        pid, vif, was, mac);
    const char *owner = qj_get_str(old, "device_owner");
    if (owner && !strncmp(owner, "network:", 8))
        return qerr_set(e, QE_UNSUPPORTED_OWNER, "Operation mac address update is not supported "
                                                 "for device_owner %s on port %s.", owner, pid);
    int taken = qport_mac_taken(op, nid, mac, e);
    if (taken < 0)
        return -1;
    if (taken)
        return qerr_set(e, QE_MAC_IN_USE, "Unable to complete operation for network %s. The mac "
                                          "address %s is in use.", nid, mac);
    if (qport_mac_release(op, pid, e) < 0 || qport_mac_record(op, nid, mac, pid, e) < 0)
        return -1;
    if (!readdress)
        return 0;
    qmac m;
    qmac_parse(mac, &m);
    qj *ips;
    if (qipam_readdress(op, nid, pid, &m, qport_is_router(port), qj_get(old, "fixed_ips"), &ips,
                        e) < 0)
        return -1;
    qj_set(port, "fixed_ips", ips);
    return 0;
}

static int qport_on_update(qop *op, const qj *old, qj *port, const qj *changes, qerr *e)
{
    const qj *fips = qj_get(changes, "fixed_ips");
    int rc = qport_check_update_policy(op, port, changes, e);
    if (rc == 0 && qj_get(changes, "mac_address"))
        rc = qport_update_mac(op, old, port, !fips, e);
    if (rc < 0)
        return -1;
    if (fips) {
        if (qj_is(fips, QJ_NULL))
            return qerr_set(e, QE_BAD_REQUEST, "Invalid input for fixed_ips. Reason: a list is "
                                               "required.");
        if (!op->ctx->is_admin) {
            qj *net;
            if (qres_load(op, &qres_network, qj_get_str(port, "network_id"), &net, e) < 0)
                return -1;
            bool owner = qport_is_network_owner(op, net);
            qj_free(net);
            for (size_t i = 0; !owner && i < qj_len(fips); i++)
                if (qj_get(qj_at(fips, i), "ip_address")) {
                    /* Keeping an address the port already has is not choosing one. */
                    bool kept = false;
                    const qj *cur = qj_get(old, "fixed_ips");
                    for (size_t j = 0; j < qj_len(cur) && !kept; j++)
                        kept = !strcmp(qj_get_str(qj_at(cur, j), "ip_address"),
                                       qj_get_str(qj_at(fips, i), "ip_address"));
                    if (!kept)
                        return qerr_set(e, QE_POLICY, "(rule:update_port and "
                                                      "rule:update_port:fixed_ips:ip_address) "
                                                      "is disallowed by policy");
                }
        }
        qmac m;
        qmac_parse(qj_get_str(port, "mac_address"), &m);
        qj *ips;
        rc = qipam_assign(op, qj_get_str(port, "network_id"), qj_get_str(port, "id"), &m,
                          qport_is_router(port), fips,
                          qj_get(old, "fixed_ips"), &ips, e);
        if (rc == 0)
            qj_set(port, "fixed_ips", ips);
    }
    if (rc == 0 && qj_is(qj_get(port, "port_security_enabled"), QJ_NULL))
        rc = qerr_set(e, QE_BAD_REQUEST, "Invalid input for port_security_enabled. Reason: a "
                                         "boolean is required.");
    if (rc == 0 && qj_get(changes, "extra_dhcp_opts"))
        qj_set(port, "extra_dhcp_opts",
               qport_merge_dhcp_opts(qj_get(old, "extra_dhcp_opts"),
                                     qj_get(changes, "extra_dhcp_opts")));
    if (rc == 0)
        rc = qport_finish_pairs(port, e);
    if (rc == 0 && (qj_get(changes, "security_groups") || qj_get(changes, "port_security_enabled"))) {
        if (qj_is(qj_get(port, "security_groups"), QJ_NULL))
            rc = qerr_set(e, QE_BAD_REQUEST, "Invalid input for security_groups. Reason: a list "
                                             "is required.");
        else
            rc = qsg_port_assign(op, port, old, changes, e);
    }
    const char *was_host = qj_get_str(old, "binding:host_id");
    const char *host = qj_get_str(port, "binding:host_id");
    if (rc == 0 && qj_get(changes, "binding:host_id") &&
        strcmp(was_host ? was_host : "", host ? host : "")) {
        /* A new host has not plugged it yet (ML2 does the same): its agent's
         * ACTIVE, and Nova's network-vif-plugged, must come from there. */
        qj_set(port, "status", qj_str("DOWN"));
    }
    if (rc == 0 && (qj_get(changes, "binding:host_id") || qj_get(changes, "port_security_enabled")))
        rc = qagent_bind_port(op, port, e);
    if (rc == 0)
        rc = qrewrite_sync_port(op, port, false, e);
    return rc;
}

static int qport_on_delete(qop *op, const qj *port, qerr *e)
{
    const char *pid = qj_get_str(port, "id");
    if (qipam_release_port(op, pid, e) < 0 || qsg_port_release(op, pid, e) < 0 ||
        qrewrite_release_port(op, pid, e) < 0)
        return -1;
    return qport_mac_release(op, pid, e);
}

static int qport_after_delete(qop *op, const qj *port, qerr *e)
{
    return qdhcp_port_deleted(op, port, e);
}

/* fixed_ips=ip_address=X, fixed_ips=subnet_id=Y, fixed_ips=ip_address_substr=Z
 * (ip-substring-filtering), all of a request's at once (one per line). As
 * Neutron's query: each kind given is a condition of its own on the port
 * (one of its addresses is one of those given, one is on one of the
 * subnets given, one contains one of the substrings), and the port must
 * meet them all. */
static int qport_filter_fixed_ips(const qj *v, const char *q)
{
    static const char *const kinds[] = {"ip_address=", "subnet_id=", "ip_address_substr="};
    bool want[3] = {false, false, false}, has[3] = {false, false, false};
    char *copy = xstrdup(q), *save = NULL;
    int rc = 0;
    for (char *l = strtok_r(copy, "\n", &save); l && rc == 0; l = strtok_r(NULL, "\n", &save)) {
        int k = 0;
        while (k < 3 && strncmp(l, kinds[k], strlen(kinds[k])))
            k++;
        if (k == 3) {
            rc = -1;
            break;
        }
        const char *val = l + strlen(kinds[k]);
        want[k] = true;
        for (size_t i = 0; v && i < qj_len(v) && !has[k]; i++) {
            const char *ip = qj_get_str(qj_at(v, i), "ip_address");
            const char *sid = qj_get_str(qj_at(v, i), "subnet_id");
            has[k] = k == 0 ? ip && !strcmp(ip, val)
                   : k == 1 ? sid && !strcmp(sid, val)
                            : ip && strstr(ip, val) != NULL;
        }
    }
    free(copy);
    if (rc < 0)
        return -1;
    for (int k = 0; k < 3; k++)
        if (want[k] && !has[k])
            return 0;
    return 1;
}

static const qattr qport_attrs[] = {
    QATTR_ID,
    QATTR_NAME,
    {"network_id", QA_UUID, QA_POST | QA_REQUIRED, NULL, 0, 0, NULL, NULL, NULL},
    QATTR_PROJECT,
    {"mac_address", QA_STR, QA_POST | QA_PUT | QA_NULL, "null", 0, 0, NULL, qport_check_mac,
     NULL},
    {"admin_state_up", QA_BOOL, QA_POST | QA_PUT, "true", 0, 0, NULL, NULL, NULL},
    {"status", QA_STR, 0, "\"DOWN\"", 0, 0, NULL, NULL, NULL},
    {"device_id", QA_STR, QA_POST | QA_PUT, "\"\"", 0, 255, NULL, NULL, NULL},
    {"device_owner", QA_STR, QA_POST | QA_PUT, "\"\"", 0, 255, NULL, NULL, NULL},
    {"fixed_ips", QA_LIST, QA_POST | QA_PUT | QA_FILTER_ALL, "null", 0, 0, NULL,
     qport_check_fixed_ips,
     qport_filter_fixed_ips},
    {"allowed_address_pairs", QA_LIST, QA_POST | QA_PUT | QA_NOFILTER | QA_NULL_EMPTY, "[]", 0,
     0, NULL,
     qport_check_pairs, NULL},
    {"extra_dhcp_opts", QA_LIST, QA_POST | QA_PUT | QA_NULL | QA_NOFILTER, "[]", 0, 0, NULL,
     qport_check_dhcp_opts, NULL},
    {"security_groups", QA_LIST, QA_POST | QA_PUT | QA_NULL, "null", 0, 0, NULL,
     qattr_check_uuid_list, NULL},
    {"port_security_enabled", QA_BOOL, QA_POST | QA_PUT | QA_NULL, "null", 0, 0, NULL, NULL,
     NULL},
    {"binding:vnic_type", QA_STR, QA_POST | QA_PUT, "\"normal\"", 0, 0, qport_vnic_types, NULL,
     NULL},
    {"binding:profile", QA_DICT,
     QA_POST | QA_PUT | QA_ADMIN_W | QA_ADMIN_R | QA_NOFILTER | QA_NULL_EMPTY, "{}",
     0, 0, NULL, qattr_check_dict, NULL},
    {"binding:host_id", QA_STR, QA_POST | QA_PUT | QA_ADMIN_W | QA_ADMIN_R, "\"\"", 0, 255, NULL,
     NULL, NULL},
    {"binding:vif_type", QA_STR, QA_ADMIN_R, "\"unbound\"", 0, 0, NULL, NULL, NULL},
    {"binding:vif_details", QA_DICT, QA_ADMIN_R | QA_NOFILTER, "{}", 0, 0, NULL, NULL, NULL},
    QATTR_DESCRIPTION,
    QATTR_STD,
};

static bool qport_may_write(qop *op, const qj *port)
{
    if (qres_is_owner(op, port))
        return true;
    /* The network's owner may manage ports on it (Neutron's network_owner rule). */
    qj *net;
    qerr e;
    if (qres_load(op, &qres_network, qj_get_str(port, "network_id"), &net, &e) < 0)
        return false;
    bool ok = qres_is_owner(op, net);
    qj_free(net);
    return ok;
}

const qresource qres_port = {
    .name = "port",
    .collection = "ports",
    .label = "Port",
    .notfound = QE_PORT_NOT_FOUND,
    .attrs = qport_attrs,
    .nattrs = QHV_ARRAY_SIZE(qport_attrs),
    .initial_revision = 1,
    .parent_attr = "network_id",
    .host_attr = "binding:host_id",
    .has_tags = true,
    .core = true,
    .shared_sql = "r.parent_id IN (SELECT n.id FROM resources n WHERE n.kind = 'network' AND "
                  "n.project_id = ?2)",
    .on_create = qport_on_create,
    .on_update = qport_on_update,
    .on_delete = qport_on_delete,
    .after_delete = qport_after_delete,
    .may_write = qport_may_write,
    .on_written = qnova_port_written,
};
