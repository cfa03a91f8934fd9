#include "model/ipam.h"
#include "model/alloc.h"
#include "model/resources.h"
#include "model/subnet.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

#define QIPAM_MAX_FIXED_IPS 64

static const char qipam_sql_next[] =
    "SELECT ip FROM ipallocs WHERE subnet_id=?1 AND ip>=?2 ORDER BY ip LIMIT 1";
static const char qipam_sql_insert[] =
    "INSERT INTO ipallocs(subnet_id, ip, port_id, network_id) VALUES(?1, ?2, ?3, ?4)";
/* The check and the record in one statement: a row back means it was free. */
static const char qipam_sql_claim[] =
    "INSERT OR IGNORE INTO ipallocs(subnet_id, ip, port_id, network_id) VALUES(?1, ?2, ?3, ?4) "
    "RETURNING port_id";
static const char qipam_sql_delete_one[] = "DELETE FROM ipallocs WHERE subnet_id=?1 AND ip=?2";
static const char qipam_sql_delete_port[] = "DELETE FROM ipallocs WHERE port_id=?1";
static const char qipam_sql_delete_subnet[] = "DELETE FROM ipallocs WHERE subnet_id=?1";
static const char qipam_sql_subnet_ports[] =
    "SELECT DISTINCT port_id FROM ipallocs WHERE subnet_id=?1 ORDER BY port_id";

typedef struct qipam_scan {
    qop *op;
    const char *subnet_id;
    int family;
    qerr *e;
    const char *port_id, *network_id;   /* the claims' */
} qipam_scan;

static int qipam_next_taken(void *ctx, qhv_u128 from, qhv_u128 *ret)
{
    qipam_scan *s = ctx;
    return qalloc_next_addr(s->op->m->store, qipam_sql_next, s->subnet_id, s->family, from, ret,
                            s->e);
}

/* Records address v of the scan's subnet for its port when it is free: 1
 * done, 0 taken, -1 on error. */
static int qipam_claim(void *ctx, qhv_u128 v)
{
    qipam_scan *s = ctx;
    qstmt *st = qstore_stmt(s->op->m->store, qipam_sql_claim, s->e);
    if (!st)
        return -1;
    uint8_t b[16];
    qaddr a = {s->family, v};
    size_t n = qaddr_to_bytes(&a, b);
    qstmt_bind_text(st, 1, s->subnet_id, -1, QSTORE_TRANSIENT);
    qstmt_bind_blob(st, 2, b, (int)n, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 3, s->port_id, -1, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 4, s->network_id, -1, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    qstmt_reset(st);
    if (rc == QSTORE_ROW)
        return 1;
    return rc == QSTORE_DONE ? 0 : qstore_fail(s->op->m->store, s->e, "ip claim");
}

static int qipam_record(qop *op, const char *subnet_id, const qaddr *a, const char *port_id,
                        const char *network_id, qerr *e)
{
    qstmt *st = qstore_stmt(op->m->store, qipam_sql_insert, e);
    if (!st)
        return -1;
    uint8_t b[16];
    size_t n = qaddr_to_bytes(a, b);
    qstmt_bind_text(st, 1, subnet_id, -1, QSTORE_TRANSIENT);
    qstmt_bind_blob(st, 2, b, (int)n, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 3, port_id, -1, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 4, network_id, -1, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    qstmt_reset(st);
    if (rc == QSTORE_CONSTRAINT) {
        char s[QADDR_STRLEN];
        qaddr_format(a, s);
        return qerr_set(e, QE_IP_ALLOCATED, "IP address %s already allocated in subnet %s", s,
                        subnet_id);
    }
    return rc == QSTORE_DONE ? 0 : qstore_fail(op->m->store, e, "ip insert");
}

static int qipam_forget(qop *op, const char *subnet_id, const qaddr *a, qerr *e)
{
    qstmt *st = qstore_stmt(op->m->store, qipam_sql_delete_one, e);
    if (!st)
        return -1;
    uint8_t b[16];
    size_t n = qaddr_to_bytes(a, b);
    qstmt_bind_text(st, 1, subnet_id, -1, QSTORE_TRANSIENT);
    qstmt_bind_blob(st, 2, b, (int)n, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    qstmt_reset(st);
    return rc == QSTORE_DONE ? 0 : qstore_fail(op->m->store, e, "ip delete");
}

int qipam_release_port(qop *op, const char *port_id, qerr *e)
{
    return qstore_run(op->m->store, qipam_sql_delete_port, port_id, NULL, NULL, e);
}

int qipam_release_subnet(qop *op, const char *subnet_id, qerr *e)
{
    return qstore_run(op->m->store, qipam_sql_delete_subnet, subnet_id, NULL, NULL, e);
}

int qipam_subnet_ports(qop *op, const char *subnet_id, qj **ret, qerr *e)
{
    return qmodel_texts(op->m, qipam_sql_subnet_ports, subnet_id, ret, e);
}

/* ---------- assignment ---------- */

typedef struct qipam_net {
    size_t n;
    qsubnet_info *s;
    qj *docs;
} qipam_net;

static void qipam_net_free(qipam_net *n)
{
    for (size_t i = 0; i < n->n; i++)
        qsubnet_info_free(&n->s[i]);
    free(n->s);
    qj_free(n->docs);
}

static int qipam_net_load(qop *op, const char *network_id, qipam_net *ret, qerr *e)
{
    memset(ret, 0, sizeof *ret);
    if (qres_children(op, &qres_subnet, network_id, &ret->docs, e) < 0)
        return -1;
    ret->s = xcalloc(qj_len(ret->docs) + 1, sizeof *ret->s);
    for (size_t i = 0; i < qj_len(ret->docs); i++)
        if (qsubnet_info_parse(qj_at(ret->docs, i), &ret->s[ret->n]) == 0)
            ret->n++;
    return 0;
}

static const qsubnet_info *qipam_find_subnet(const qipam_net *n, const char *id)
{
    for (size_t i = 0; i < n->n; i++)
        if (!strcmp(n->s[i].id, id))
            return &n->s[i];
    return NULL;
}

/* An entry of the wanted list: subnet + address, and whether it is new. */
typedef struct qipam_want {
    const qsubnet_info *sn;
    qaddr addr;
    bool has_addr;
    bool existing;
} qipam_want;

/* An address on sn for the port: its EUI-64 one (*recorded false: the
 * caller records it), or a free one from the pools, recorded for the port
 * (*recorded true). 1, 0 none free, -1 on error. */
static int qipam_pick(qop *op, const qsubnet_info *sn, const qmac *mac, const char *port_id,
                      const char *network_id, qaddr *ret, bool *recorded, qerr *e)
{
    *recorded = false;
    if (sn->auto_address) {
        *ret = qaddr_eui64(&sn->cidr, mac);
        return 1;
    }
    qipam_scan s = {op, sn->id, sn->cidr.addr.family, e, port_id, network_id};
    qhv_u128 v;
    int rc = qalloc_claim(sn->pools, sn->npools, qipam_next_taken, qipam_claim, &s, &v);
    if (rc == 1) {
        *ret = (qaddr){sn->cidr.addr.family, v};
        *recorded = true;
    }
    return rc;
}

static bool qipam_in_list(const qipam_want *w, size_t n, const qsubnet_info *sn, const qaddr *a)
{
    for (size_t i = 0; i < n; i++)
        if (w[i].has_addr && w[i].sn == sn && qaddr_eq(&w[i].addr, a))
            return true;
    return false;
}

/* Whether a port keeps address a it has on sn: an automatic address only
 * while it is the EUI-64 address of the port's MAC (a new MAC moves it). */
static bool qipam_keeps(const qsubnet_info *sn, const qmac *mac, bool router_port,
                        const qaddr *a)
{
    if (!sn->auto_address || router_port)
        return true;
    qaddr want = qaddr_eui64(&sn->cidr, mac);
    return qaddr_eq(&want, a);
}

static int qipam_parse_request(qop *op, const char *network_id, const qipam_net *net,
                               bool router_port, const qmac *mac, const qj *req,
                               const qj *current, qipam_want *want, size_t *nwant, qerr *e)
{
    *nwant = 0;
    if (qj_len(req) > QIPAM_MAX_FIXED_IPS)
        return qerr_set(e, QE_BAD_REQUEST, "Invalid input for fixed_ips. Reason: more than %d "
                                           "fixed IPs requested.", QIPAM_MAX_FIXED_IPS);
    for (size_t i = 0; i < qj_len(req); i++) {
        const qj *f = qj_at(req, i);
        const char *sid = qj_get_str(f, "subnet_id"), *ip = qj_get_str(f, "ip_address");
        size_t keys = (qj_get(f, "subnet_id") != NULL) + (qj_get(f, "ip_address") != NULL);
        if (!qj_is(f, QJ_OBJECT) || !keys || keys != qj_len(f) ||
            (qj_get(f, "subnet_id") && !sid) || (qj_get(f, "ip_address") && !ip))
            return qerr_set(e, QE_BAD_REQUEST, "Invalid input for fixed_ips. Reason: each entry "
                                               "must be {\"subnet_id\": ID, \"ip_address\": IP} "
                                               "with at least one of them.");
        qipam_want *w = &want[(*nwant)++];
        memset(w, 0, sizeof *w);
        if (ip) {
            if (qaddr_parse(ip, &w->addr) < 0)
                return qerr_set(e, QE_BAD_REQUEST, "Invalid input for fixed_ips. Reason: '%s' "
                                                   "is not a valid IP address.", ip);
            w->has_addr = true;
        }
        if (sid) {
            w->sn = qipam_find_subnet(net, sid);
            if (!w->sn)
                return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: Failed to "
                                                     "create port on network %s, because "
                                                     "fixed_ips included invalid subnet %s.",
                                network_id, sid);
        } else {
            for (size_t j = 0; j < net->n && !w->sn; j++)
                if (qcidr_contains(&net->s[j].cidr, &w->addr))
                    w->sn = &net->s[j];
            if (!w->sn)
                return qerr_set(e, QE_IP_FOR_NETWORK, "IP address %s is not a valid IP for any "
                                                      "of the subnets on the specified network.",
                                ip);
        }
        if (w->has_addr) {
            if (!qsubnet_host_ok(w->sn, &w->addr))
                return qerr_set(e, QE_IP_FOR_SUBNET, "IP address %s is not a valid IP for the "
                                                     "specified subnet.", ip);
            if (w->sn->auto_address && !router_port) {
                return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: IPv6 address "
                                                     "%s can not be directly assigned to a port "
                                                     "on subnet %s since the subnet is "
                                                     "configured for automatic addresses.",
                                ip, w->sn->id);
            }
            if (qipam_in_list(want, *nwant - 1, w->sn, &w->addr))
                return qerr_set(e, QE_IP_ALLOCATED, "IP address %s already allocated in subnet "
                                                    "%s", ip, w->sn->id);
        }
    }
    /* Entries without an address keep an address the port already has on
     * that subnet, so that re-sending fixed_ips by subnet changes nothing. */
    for (size_t i = 0; i < *nwant; i++) {
        qipam_want *w = &want[i];
        for (size_t j = 0; j < qj_len(current); j++) {
            const qj *c = qj_at(current, j);
            qaddr ca;
            if (strcmp(qj_get_str(c, "subnet_id"), w->sn->id) ||
                qaddr_parse(qj_get_str(c, "ip_address"), &ca) < 0)
                continue;
            if (w->has_addr && qaddr_eq(&ca, &w->addr)) {
                w->existing = true;
                break;
            }
            if (!w->has_addr && !qipam_in_list(want, *nwant, w->sn, &ca) &&
                qipam_keeps(w->sn, mac, router_port, &ca)) {
                w->addr = ca;
                w->has_addr = w->existing = true;
                break;
            }
        }
    }
    return 0;
}

static void qipam_auto_request(const qipam_net *net, qipam_want *want, size_t *nwant)
{
    /* Neutron: one IPv4 address, one stateful IPv6 address, and an address on
     * every SLAAC subnet. The v4/v6-stateful choice falls to the next subnet
     * when the first is full (handled at allocation). */
    *nwant = 0;
    bool v4 = false, v6 = false;
    for (size_t i = 0; i < net->n; i++) {
        const qsubnet_info *s = &net->s[i];
        bool take = s->auto_address || (s->cidr.addr.family == 4 ? !v4 : !v6);
        if (!take)
            continue;
        if (!s->auto_address) {
            if (s->cidr.addr.family == 4)
                v4 = true;
            else
                v6 = true;
        }
        want[(*nwant)++] = (qipam_want){.sn = s};
    }
}

static qj *qipam_entry(const qipam_want *w)
{
    char s[QADDR_STRLEN];
    qaddr_format(&w->addr, s);
    qj *o = qj_object();
    qj_set(o, "subnet_id", qj_str(w->sn->id));
    qj_set(o, "ip_address", qj_str(s));
    return o;
}

int qipam_assign(qop *op, const char *network_id, const char *port_id, const qmac *mac,
                 bool router_port, const qj *requested, const qj *current, qj **ret, qerr *e)
{
    *ret = NULL;
    qipam_net net;
    if (qipam_net_load(op, network_id, &net, e) < 0)
        return -1;
    size_t nwant = 0;
    qipam_want *want = xcalloc((requested ? qj_len(requested) : net.n) + 1, sizeof *want);
    int rc = 0;
    if (requested)
        rc = qipam_parse_request(op, network_id, &net, router_port, mac, requested, current,
                                 want, &nwant, e);
    else
        qipam_auto_request(&net, want, &nwant);
    for (size_t i = 0; rc == 0 && requested && !router_port && i < net.n; i++) {
        bool listed = false;
        for (size_t j = 0; j < nwant && !listed; j++)
            listed = want[j].sn == &net.s[i];
        if (net.s[i].auto_address && !listed) {
            want = xrealloc(want, (nwant + 1) * sizeof *want);
            want[nwant] = (qipam_want){.sn = &net.s[i]};
            /* Keep the address the port already has there, if any (and
             * still its MAC's). */
            for (size_t j = 0; j < qj_len(current); j++) {
                const qj *c = qj_at(current, j);
                qaddr ca;
                if (!strcmp(qj_get_str(c, "subnet_id"), net.s[i].id) &&
                    qaddr_parse(qj_get_str(c, "ip_address"), &ca) == 0 &&
                    qipam_keeps(&net.s[i], mac, router_port, &ca)) {
                    want[nwant].addr = ca;
                    want[nwant].has_addr = want[nwant].existing = true;
                }
            }
            nwant++;
        }
    }
    /* Release what the port had and no longer wants, before taking new
     * addresses, so that an address can move between entries. */
    for (size_t j = 0; rc == 0 && j < qj_len(current); j++) {
        const qj *c = qj_at(current, j);
        const qsubnet_info *sn = qipam_find_subnet(&net, qj_get_str(c, "subnet_id"));
        qaddr ca;
        if (!sn || qaddr_parse(qj_get_str(c, "ip_address"), &ca) < 0)
            continue;
        if (!qipam_in_list(want, nwant, sn, &ca))
            rc = qipam_forget(op, sn->id, &ca, e);
    }
    qj *out = qj_array();
    for (size_t i = 0; rc == 0 && i < nwant; i++) {
        qipam_want *w = &want[i];
        if (w->existing) {
            qj_append(out, qipam_entry(w));
            continue;
        }
        bool recorded = false;
        if (w->has_addr) {
            qipam_scan sc = {op, w->sn->id, w->addr.family, e, port_id, network_id};
            int got = qipam_claim(&sc, w->addr.v);
            recorded = got == 1;
            if (got < 0) {
                rc = -1;
            } else if (got == 0) {
                char s[QADDR_STRLEN];
                qaddr_format(&w->addr, s);
                rc = qerr_set(e, QE_IP_ALLOCATED, "IP address %s already allocated in subnet %s",
                              s, w->sn->id);
            }
        } else {
            int got = qipam_pick(op, w->sn, mac, port_id, network_id, &w->addr, &recorded, e);
            if (got < 0) {
                rc = -1;
            } else if (got == 0 && !requested) {
                /* Automatic: fall through to another subnet of the same kind. */
                const qsubnet_info *alt = NULL;
                for (size_t j = 0; j < net.n && !alt && got == 0; j++) {
                    const qsubnet_info *s = &net.s[j];
                    if (s == w->sn || s->auto_address ||
                        s->cidr.addr.family != w->sn->cidr.addr.family)
                        continue;
                    got = qipam_pick(op, s, mac, port_id, network_id, &w->addr, &recorded, e);
                    if (got == 1)
                        alt = s;
                }
                if (got < 0)
                    rc = -1;
                else if (alt)
                    w->sn = alt;
                else
                    rc = qerr_set(e, QE_IP_EXHAUSTED, "No more IP addresses available on "
                                                      "network %s.", network_id);
            } else if (got == 0) {
                rc = qerr_set(e, QE_IP_EXHAUSTED, "No more IP addresses available for subnet "
                                                  "%s.", w->sn->id);
            }
            w->has_addr = rc == 0;
        }
        if (rc == 0 && !recorded)
            rc = qipam_record(op, w->sn->id, &w->addr, port_id, network_id, e);
        if (rc == 0)
            qj_append(out, qipam_entry(w));
    }
    free(want);
    qipam_net_free(&net);
    if (rc < 0) {
        qj_free(out);
        return -1;
    }
    *ret = out;
    return 0;
}

int qipam_readdress(qop *op, const char *network_id, const char *port_id, const qmac *mac,
                    bool router_port, const qj *current, qj **ret, qerr *e)
{
    qipam_net net;
    if (qipam_net_load(op, network_id, &net, e) < 0)
        return -1;
    /* The addresses to keep as they are: all but the automatic ones, which
     * qipam_assign adds back for the new MAC. */
    qj *keep = qj_array();
    for (size_t i = 0; i < qj_len(current); i++) {
        const qsubnet_info *sn = qipam_find_subnet(&net, qj_get_str(qj_at(current, i),
                                                                   "subnet_id"));
        if (!sn || !sn->auto_address || router_port)
            qj_append(keep, qj_clone(qj_at(current, i)));
    }
    qipam_net_free(&net);
    int rc = qipam_assign(op, network_id, port_id, mac, router_port, keep, current, ret, e);
    qj_free(keep);
    return rc;
}

int qipam_add_auto_subnet(qop *op, const qj *subnet, qerr *e)
{
    qsubnet_info sn;
    if (qsubnet_info_parse(subnet, &sn) < 0)
        return qerr_set(e, QE_INTERNAL, "corrupt subnet");
    int rc = 0;
    qj *ports = NULL;
    if (sn.auto_address)
        rc = qres_children(op, &qres_port, qj_get_str(subnet, "network_id"), &ports, e);
    for (size_t i = 0; rc == 0 && i < qj_len(ports); i++) {
        qj *port = qj_at(ports, i);
        qmac mac;
        if (qport_is_router(port) || qmac_parse(qj_get_str(port, "mac_address"), &mac) < 0)
            continue;
        qipam_want w = {.sn = &sn, .addr = qaddr_eui64(&sn.cidr, &mac), .has_addr = true};
        rc = qipam_record(op, sn.id, &w.addr, qj_get_str(port, "id"),
                          qj_get_str(subnet, "network_id"), e);
        if (rc == 0) {
            qj_append(qj_get(port, "fixed_ips"), qipam_entry(&w));
            qres_touch(op, port);
            rc = qres_store(op, &qres_port, port, false, e);
        }
    }
    qj_free(ports);
    qsubnet_info_free(&sn);
    return rc;
}
