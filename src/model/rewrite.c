#include "model/rewrite.h"
#include "model/alloc.h"
#include "model/resources.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

static const char qrw_sql_port[] = "SELECT ca, pa FROM rewrite_pas WHERE port_id=?1";
static const char qrw_sql_port_host[] = "SELECT host FROM rewrite_pas WHERE port_id=?1 LIMIT 1";
static const char qrw_sql_del_one[] = "DELETE FROM rewrite_pas WHERE port_id=?1 AND ca=?2";
static const char qrw_sql_del_port[] = "DELETE FROM rewrite_pas WHERE port_id=?1";
static const char qrw_sql_next[] =
    "SELECT pa FROM rewrite_pas WHERE host=?1 AND pa>=?2 ORDER BY pa LIMIT 1";
static const char qrw_sql_insert[] =
    "INSERT INTO rewrite_pas(host, pa, port_id, ca, pa_text) VALUES(?1, ?2, ?3, ?4, ?5)";
static const char qrw_sql_lookup[] =
    "SELECT pa_text FROM rewrite_pas WHERE port_id=?1 AND ca=?2";
static const char qrw_sql_host[] =
    "SELECT pa_text FROM rewrite_pas WHERE host=?1 ORDER BY pa";

/* The host's pool from [ip_rewrite] provider_pools ("host:cidr,..."). */
static int qrw_pool(const qconf *c, const char *host, qcidr *ret)
{
    char *copy = xstrdup(c->rewrite_provider_pools), *save = NULL;
    int found = 0;
    for (char *t = strtok_r(copy, ", \t", &save); t && !found; t = strtok_r(NULL, ", \t", &save)) {
        char *colon = strchr(t, ':');
        if (!colon)
            continue;
        *colon = '\0';
        if (!strcmp(t, host) && qcidr_parse(colon + 1, ret) == 0)
            found = 1;
    }
    free(copy);
    return found;
}

typedef struct qrw_scan {
    qop *op;
    const char *host;
    int family;
    qerr *e;
} qrw_scan;

static int qrw_next_taken(void *ctx, qhv_u128 from, qhv_u128 *ret)
{
    qrw_scan *s = ctx;
    return qalloc_next_addr(s->op->m->store, qrw_sql_next, s->host, s->family, from, ret, s->e);
}

int qrewrite_release_port(qop *op, const char *port_id, qerr *e)
{
    return qstore_run(op->m->store, qrw_sql_del_port, port_id, NULL, NULL, e);
}

static bool qrw_list_has(const qj *list, const char *s)
{
    for (size_t i = 0; i < qj_len(list); i++)
        if (!strcmp(qj_as_str(qj_at(list, i)), s))
            return true;
    return false;
}

int qrewrite_sync_port(qop *op, const qj *port, bool fresh, qerr *e)
{
    const char *pid = qj_get_str(port, "id");
    const char *host = qj_get_str(port, "binding:host_id");
    const char *vif = qj_get_str(port, "binding:vif_type");
    bool bound = host && *host && vif && strcmp(vif, "unbound") && strcmp(vif, "binding_failed");
    qj *want = qj_array();
    qcidr pool;
    bool has_pool = bound && qrw_pool(op->m->conf, host, &pool);
    qj *netdoc = NULL;
    if (has_pool && qres_load(op, &qres_network, qj_get_str(port, "network_id"), &netdoc, e) < 0 &&
        e->code != qres_network.notfound) {
        qj_free(want);
        return -1;   /* a network that is gone has nothing to rewrite; a failed read fails */
    }
    const char *type = qj_get_str(netdoc, "provider:network_type");
    if (type && !strcmp(type, "ip_rewrite")) {
        const qj *ips = qj_get(port, "fixed_ips");
        for (size_t i = 0; i < qj_len(ips); i++) {
            const char *ca = qj_get_str(qj_at(ips, i), "ip_address");
            qaddr a;
            /* A pool of one family serves customer addresses of it. */
            if (qaddr_parse(ca, &a) == 0 && a.family == pool.addr.family)
                qj_append(want, qj_str(ca));
        }
    }
    qj_free(netdoc);
    /* What the port has now, on which host (a new port: nothing). */
    qj *have = qj_array();
    int rc = 0;
    if (!fresh) {
        qstmt *st = qstore_stmt(op->m->store, qrw_sql_port, e);
        if (!st) {
            qj_free(want);
            qj_free(have);
            return -1;
        }
        qstmt_bind_text(st, 1, pid, -1, QSTORE_TRANSIENT);
        while ((rc = qstmt_step(st)) == QSTORE_ROW)
            qj_append(have, qj_str((const char *)qstmt_column_text(st, 0)));
        qstmt_reset(st);
        rc = rc == QSTORE_DONE ? 0 : qstore_fail(op->m->store, e, "rewrite port");
    }
    /* A host change moves every address: drop all and allocate anew. */
    char cur_host[256] = "";
    if (rc == 0 && !fresh &&
        qstore_query_text(op->m->store, qrw_sql_port_host, pid, cur_host, sizeof cur_host, e) < 0)
        rc = -1;
    if (rc == 0 && *cur_host && (!host || strcmp(cur_host, host))) {
        rc = qrewrite_release_port(op, pid, e);
        qj_free(have);
        have = qj_array();
    }
    for (size_t i = 0; rc == 0 && i < qj_len(have); i++)
        if (!qrw_list_has(want, qj_as_str(qj_at(have, i))))
            rc = qstore_run(op->m->store, qrw_sql_del_one, pid, qj_as_str(qj_at(have, i)), NULL, e);
    for (size_t i = 0; rc == 0 && i < qj_len(want); i++) {
        const char *ca = qj_as_str(qj_at(want, i));
        if (qrw_list_has(have, ca))
            continue;
        qaddr net = qcidr_network(&pool), last = qcidr_last(&pool), lo = net, hi = last;
        if (qcidr_size(&pool) > 2) {
            qaddr_add(&net, 1, &lo);
            if (pool.addr.family == 4)
                qaddr_sub(&last, 1, &hi);
        }
        qrange r = {lo.v, hi.v};
        qrw_scan s = {op, host, pool.addr.family, e};
        qhv_u128 v;
        int got = qalloc_pick(&r, 1, qrw_next_taken, &s, &v);
        if (got < 0) {
            rc = -1;
        } else if (got == 0) {
            rc = qerr_set(e, QE_IP_EXHAUSTED, "No more provider addresses available for IP "
                                              "address rewrite on host %s.", host);
        } else {
            qaddr pa = {pool.addr.family, v};
            uint8_t b[16];
            size_t n = qaddr_to_bytes(&pa, b);
            char text[QADDR_STRLEN];
            qaddr_format(&pa, text);
            qstmt *ins = qstore_stmt(op->m->store, qrw_sql_insert, e);
            if (!ins) {
                rc = -1;
                break;
            }
            qstmt_bind_text(ins, 1, host, -1, QSTORE_TRANSIENT);
            qstmt_bind_blob(ins, 2, b, (int)n, QSTORE_TRANSIENT);
            qstmt_bind_text(ins, 3, pid, -1, QSTORE_TRANSIENT);
            qstmt_bind_text(ins, 4, ca, -1, QSTORE_TRANSIENT);
            qstmt_bind_text(ins, 5, text, -1, QSTORE_TRANSIENT);
            if (qstmt_step(ins) != QSTORE_DONE)
                rc = qstore_fail(op->m->store, e, "rewrite insert");
            qstmt_reset(ins);
        }
    }
    qj_free(want);
    qj_free(have);
    return rc;
}

int qrewrite_lookup(qop *op, const char *port_id, const char *ca, char out[QADDR_STRLEN], qerr *e)
{
    return qstore_query_row(op->m->store, qrw_sql_lookup, port_id, ca, NULL, out, QADDR_STRLEN, e);
}

int qrewrite_host_addresses(qop *op, const char *host, qj **ret, qerr *e)
{
    return qmodel_texts(op->m, qrw_sql_host, host, ret, e);
}
