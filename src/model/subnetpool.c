/* subnetpool: the subnetpool resource and prefix allocation from it. A pool's
 * prefixes are kept compacted (the fewest prefixes covering the same
 * addresses), as Neutron keeps them; they may only grow. */
#include "model/subnetpool.h"
#include "model/subnet.h"
#include "model/resources.h"
#include "model/rbac.h"
#include "lib/addrset.h"
#include "lib/util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The pool's subnets (the index of schema 5 serves this). */
static const char qsp_sql_subnets[] =
    "SELECT json_extract(body, '$.cidr'), project_id FROM resources "
    "WHERE kind = 'subnet' AND json_extract(body, '$.subnetpool_id') = ?1";
static const char qsp_sql_default[] =
    "SELECT id FROM resources WHERE kind = 'subnetpool' "
    "AND json_extract(body, '$.is_default') = 1 AND json_extract(body, '$.ip_version') = ?1 "
    "AND id <> ?2 AND (?3 OR project_id = ?4 OR json_extract(body, '$.shared') = 1 OR "
    "id IN (SELECT parent_id FROM resources WHERE kind = 'rbac_policy' AND "
    "json_extract(body, '$.action') = 'access_as_shared' AND "
    "json_extract(body, '$.target_tenant') = ?4)) "
    "ORDER BY id LIMIT 1";

static int64_t qsp_int(const qj *sp, const char *key)
{
    const qj *v = qj_get(sp, key);
    return qj_is(v, QJ_INT) ? v->u.i : -1;
}

/* ---------- attribute checks ---------- */

static int qsp_check_prefixes(qop *op, const qattr *a, qj **v, qerr *e)
{
    qj *out = qj_array();
    for (size_t i = 0; i < qj_len(*v); i++) {
        qcidr c;
        if (qsubnet_check_cidr(a, qj_as_str(qj_at(*v, i)), &c, e) < 0) {
            qj_free(out);
            return -1;
        }
        char norm[QCIDR_STRLEN];
        qcidr_format(&c, norm);
        for (size_t j = 0; j < qj_len(out); j++)
            if (!strcmp(qj_as_str(qj_at(out, j)), norm)) {
                qj_free(out);
                return qerr_set(e, QE_BAD_REQUEST, "Invalid input for %s. Reason: Duplicate "
                                                   "items in the list: '%s'.", a->name, norm);
            }
        qj_append(out, qj_str(norm));
    }
    qj_free(*v);
    *v = out;
    return 0;
}

static int qsp_check_name(qop *op, const qattr *a, qj **v, qerr *e)
{
    if (*(*v)->u.str.s)
        return 0;
    return qerr_set(e, QE_BAD_REQUEST, "Invalid input for name. Reason: '' Blank strings are "
                                       "not permitted.");
}

/* Pools are address-scope-free, as issue 15 asks: qhv offers no address-scope
 * extension, so no scope can exist and a named one is Neutron's 404 for an
 * unknown scope (docs/api.md, "Where qhv differs from Neutron"). */
static int qsp_check_scope(qop *op, const qattr *a, qj **v, qerr *e)
{
    if (qj_is(*v, QJ_NULL))
        return 0;
    if (!qhv_is_uuid((*v)->u.str.s))
        return qerr_set(e, QE_BAD_REQUEST, "Invalid input for address_scope_id. Reason: '%.200s' "
                                           "is not a valid UUID.", (*v)->u.str.s);
    return qerr_set(e, QE_ADDRESS_SCOPE_NOT_FOUND, "Address scope %s could not be found.",
                    (*v)->u.str.s);
}

/* ---------- the pool as a whole ---------- */

/* The prefixes of sp as a set; their family, or 0 when they mix families. */
static int qsp_prefix_set(const qj *prefixes, int family, qaddrset *set)
{
    int fam = family;
    for (size_t i = 0; i < qj_len(prefixes); i++) {
        qcidr c;
        if (qcidr_parse(qj_as_str(qj_at(prefixes, i)), &c) < 0)
            continue;
        if (!fam)
            fam = c.addr.family;
        if (c.addr.family != fam)
            return 0;
    }
    qaddrset_init(set, fam);
    for (size_t i = 0; i < qj_len(prefixes); i++) {
        qcidr c;
        if (qcidr_parse(qj_as_str(qj_at(prefixes, i)), &c) == 0)
            qaddrset_add(set, &c);
    }
    return fam;
}

static qj *qsp_prefix_list(const qaddrset *set)
{
    qcidr *cs;
    size_t n = qaddrset_cidrs(set, &cs);
    qj *arr = qj_array();
    for (size_t i = 0; i < n; i++) {
        char t[QCIDR_STRLEN];
        qcidr_format(&cs[i], t);
        qj_append(arr, qj_str(t));
    }
    free(cs);
    return arr;
}

static int qsp_bounds_fail(qerr *e, const char *what, int64_t v, const char *base, int64_t bv)
{
    return qerr_set(e, QE_SP_PREFIX_BOUNDS, "Illegal prefix bounds: %s=%lld, %s=%lld.", what,
                    (long long)v, base, (long long)bv);
}

/* Defaults (on create), Neutron's checks of the prefix lengths and of the
 * one default pool per IP version. */
static int qsp_check_pool(qop *op, qj *sp, const qj *old, qerr *e)
{
    int fam = (int)qsp_int(sp, "ip_version");
    int64_t bits = fam == 4 ? 32 : 128;
    if (qsp_int(sp, "min_prefixlen") < 0)
        qj_set(sp, "min_prefixlen", qj_int(fam == 4 ? 8 : 64));
    if (qsp_int(sp, "max_prefixlen") < 0)
        qj_set(sp, "max_prefixlen", qj_int(bits));
    if (qsp_int(sp, "default_prefixlen") < 0)
        qj_set(sp, "default_prefixlen", qj_int(qsp_int(sp, "min_prefixlen")));
    int64_t lo = qsp_int(sp, "min_prefixlen"), hi = qsp_int(sp, "max_prefixlen"),
            def = qsp_int(sp, "default_prefixlen");
    if (lo > hi)
        return qsp_bounds_fail(e, "min_prefixlen", lo, "max_prefixlen", hi);
    if (hi > bits)
        return qsp_bounds_fail(e, "max_prefixlen", hi, "ip_version_max", bits);
    if (def < lo)
        return qsp_bounds_fail(e, "default_prefixlen", def, "min_prefixlen", lo);
    if (def > hi)
        return qsp_bounds_fail(e, "default_prefixlen", def, "max_prefixlen", hi);
    const qj *isdef = qj_get(sp, "is_default"), *wasdef = old ? qj_get(old, "is_default") : NULL;
    if (isdef && isdef->u.b && !(wasdef && wasdef->u.b)) {
        qstmt *st = qstore_stmt(op->m->store, qsp_sql_default, e);
        if (!st)
            return -1;
        qstmt_bind_int64(st, 1, fam);
        qstmt_bind_text(st, 2, qj_get_str(sp, "id"), -1, QSTORE_TRANSIENT);
        qstmt_bind_int64(st, 3, op->ctx->is_admin);
        qstmt_bind_text(st, 4, op->ctx->project_id, -1, QSTORE_TRANSIENT);
        int rc = qstmt_step(st);
        qstmt_reset(st);
        if (rc == QSTORE_ROW)
            return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: A default "
                                                 "subnetpool for this IP family has already "
                                                 "been set. Only one default may exist per IP "
                                                 "family");
        if (rc != QSTORE_DONE)
            return qstore_fail(op->m->store, e, "default subnetpool");
    }
    return 0;
}

/* Compacts sp's prefixes and sets ip_version; on update, the old prefixes
 * must all stay. */
static int qsp_set_prefixes(qj *sp, const qj *old, qerr *e)
{
    const qj *prefixes = qj_get(sp, "prefixes");
    int oldfam = old ? (int)qsp_int(old, "ip_version") : 0;
    if (old) {
        qaddrset was, now;
        qsp_prefix_set(qj_get(old, "prefixes"), oldfam, &was);
        /* Only the old family's prefixes can cover the old ones. */
        qaddrset_init(&now, oldfam);
        for (size_t i = 0; i < qj_len(prefixes); i++) {
            qcidr c;
            if (qcidr_parse(qj_as_str(qj_at(prefixes, i)), &c) == 0)
                qaddrset_add(&now, &c);
        }
        bool ok = qaddrset_subset(&was, &now);
        qaddrset_free(&was);
        qaddrset_free(&now);
        if (!ok)
            return qerr_set(e, QE_SP_PREFIX_UPDATE, "Illegal update to prefixes: Existing "
                                                    "prefixes must be a subset of the new "
                                                    "prefixes.");
    }
    if (!qj_len(prefixes))
        return qerr_set(e, QE_SP_PREFIX_EMPTY, "Empty subnet pool prefix list.");
    qaddrset set;
    int fam = qsp_prefix_set(prefixes, 0, &set);
    if (!fam)
        return qerr_set(e, QE_SP_PREFIX_VERSION, "Cannot mix IPv4 and IPv6 prefixes in a subnet "
                                                 "pool.");
    qj_set(sp, "prefixes", qsp_prefix_list(&set));
    qj_set(sp, "ip_version", qj_int(fam));
    qaddrset_free(&set);
    return 0;
}

static int qsp_on_create(qop *op, qj *sp, qerr *e)
{
    if (qsp_set_prefixes(sp, NULL, e) < 0)
        return -1;
    return qsp_check_pool(op, sp, NULL, e);
}

static int qsp_on_update(qop *op, const qj *old, qj *sp, const qj *changes, qerr *e)
{
    if (qj_get(changes, "prefixes") && qsp_set_prefixes(sp, old, e) < 0)
        return -1;
    return qsp_check_pool(op, sp, old, e);
}

/* Calls fn for each subnet of pool id: its cidr and project. */
static int qsp_each_subnet(qop *op, const char *id,
                           void (*fn)(void *ctx, const qcidr *c, const char *project), void *ctx,
                           qerr *e)
{
    qstmt *st = qstore_stmt(op->m->store, qsp_sql_subnets, e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, id, -1, QSTORE_TRANSIENT);
    int rc;
    while ((rc = qstmt_step(st)) == QSTORE_ROW) {
        qcidr c;
        const char *cidr = (const char *)qstmt_column_text(st, 0);
        if (cidr && qcidr_parse(cidr, &c) == 0)
            fn(ctx, &c, (const char *)qstmt_column_text(st, 1));
    }
    qstmt_reset(st);
    return rc == QSTORE_DONE ? 0 : qstore_fail(op->m->store, e, "subnetpool subnets");
}

static void qsp_count(void *ctx, const qcidr *c, const char *project) { ++*(size_t *)ctx; }

static int qsp_on_delete(qop *op, const qj *sp, qerr *e)
{
    size_t n = 0;
    if (qsp_each_subnet(op, qj_get_str(sp, "id"), qsp_count, &n, e) < 0)
        return -1;
    if (n)
        return qerr_set(e, QE_SUBNETPOOL_DELETE, "Unable to delete subnet pool: Subnet pool has "
                                                 "existing allocations.");
    return qrbac_subnetpool_deleted(op, sp, e);
}

/* Neutron shows the prefix lengths as strings, and shared as the caller
 * has it. */
static int qsp_on_show(const qmodel *m, const qctx *ctx, qj *sp, qerr *e)
{
    if (qrbac_shared_show(m, ctx, sp, e) < 0)
        return -1;
    static const char *const keys[] = {"default_prefixlen", "min_prefixlen", "max_prefixlen"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(keys); i++) {
        const qj *v = qj_get(sp, keys[i]);
        if (qj_is(v, QJ_INT)) {
            char t[24];
            snprintf(t, sizeof t, "%lld", (long long)v->u.i);
            qj_set(sp, keys[i], qj_str(t));
        }
    }
    return 0;
}

/* ---------- allocation ---------- */

typedef struct qsp_usage {
    qaddrset *avail;    /* the pool's prefixes less its subnets */
    const char *project;
    int unit;           /* quota unit: /32 for IPv4, /64 for IPv6 */
    double used;        /* the project's units in the pool */
} qsp_usage;

static void qsp_account(void *ctx, const qcidr *c, const char *project)
{
    qsp_usage *u = ctx;
    qaddrset_remove(u->avail, c);
    if (project && !strcmp(project, u->project))
        u->used += ldexp(1.0, u->unit - c->prefixlen);
}

static int qsp_bad_subnet(qerr *e, const char *msg)
{
    return qerr_set(e, QE_NEUTRON_BAD_REQUEST, "Bad subnets request: %s.", msg);
}

/* The pool a subnet asks for, or NULL (*ret) when none. */
static int qsp_resolve(qop *op, const qj *sub, bool use_default, const char *cidr, qj **ret,
                       qerr *e)
{
    *ret = NULL;
    const char *id = qj_get_str(sub, "subnetpool_id");
    if (use_default && id)
        return qsp_bad_subnet(e, "subnetpool_id and use_default_subnetpool cannot both be "
                                 "specified");
    char found[64];
    if (!id && use_default) {
        qcidr c;
        int fam = cidr && qcidr_parse(cidr, &c) == 0 ? c.addr.family
                                                     : (int)qsp_int(sub, "ip_version");
        qstmt *st = qstore_stmt(op->m->store, qsp_sql_default, e);
        if (!st)
            return -1;
        qstmt_bind_int64(st, 1, fam);
        qstmt_bind_text(st, 2, "", -1, QSTORE_STATIC);
        qstmt_bind_int64(st, 3, op->ctx->is_admin);
        qstmt_bind_text(st, 4, qj_get_str(sub, "project_id"), -1, QSTORE_TRANSIENT);
        int rc = qstmt_step(st);
        if (rc == QSTORE_ROW)
            snprintf(found, sizeof found, "%s", (const char *)qstmt_column_text(st, 0));
        qstmt_reset(st);
        if (rc != QSTORE_ROW && rc != QSTORE_DONE)
            return qstore_fail(op->m->store, e, "default subnetpool");
        if (rc == QSTORE_DONE) {
            char msg[64];
            snprintf(msg, sizeof msg, "No default subnetpool found for IPv%d", fam);
            return qsp_bad_subnet(e, msg);
        }
        id = found;
    }
    if (!id)
        return 0;
    qj *sp;
    if (qres_load(op, &qres_subnetpool, id, &sp, e) < 0)
        return -1;
    const qj *shared = qj_get(sp, "shared");
    const char *owner = qj_get_str(sp, "project_id");
    int with = 1;
    if (!op->ctx->is_admin && !(shared && shared->u.b) &&
        strcmp(owner ? owner : "", qj_get_str(sub, "project_id")))
        with = qrbac_shared_with(op->m->store, id, qj_get_str(sub, "project_id"), e);
    if (with <= 0) {
        qj_free(sp);
        if (with < 0)
            return -1;
        return qerr_set(e, QE_SUBNETPOOL_NOT_FOUND, "Subnet pool %s could not be found.", id);
    }
    *ret = sp;
    return 0;
}

static int qsp_allocate(qop *op, qj *sub, const qj *sp, const qj *prefixlen, qerr *e)
{
    int fam = (int)qsp_int(sp, "ip_version");
    char msg[200];
    if (qsp_int(sub, "ip_version") != fam) {
        snprintf(msg, sizeof msg, "Cannot allocate IPv%lld subnet from IPv%d subnet pool",
                 (long long)qsp_int(sub, "ip_version"), fam);
        return qsp_bad_subnet(e, msg);
    }
    /* The request: a cidr, a gateway's prefix, or any prefix of a length. */
    const char *cidr = qj_get_str(sub, "cidr"), *gw = qj_get_str(sub, "gateway_ip");
    bool any = !cidr && !(gw && *gw);
    int64_t plen = prefixlen ? prefixlen->u.i : qsp_int(sp, "default_prefixlen");
    qcidr want = {{fam, 0}, 0};
    if (cidr) {
        qcidr_parse(cidr, &want);
        plen = want.prefixlen;
    } else if (!any) {
        qaddr g;
        if (plen > (fam == 4 ? 32 : 128) || qaddr_parse(gw, &g) < 0 || g.family != fam)
            return qsp_bad_subnet(e, "gateway_ip does not fit the subnet pool");
        want = (qcidr){g, (int)plen};
        want.addr = qcidr_network(&want);
    }
    if (plen > qsp_int(sp, "max_prefixlen"))
        return qerr_set(e, QE_SUBNET_ALLOC_MAX, "Unable to allocate subnet with prefix length "
                                                "%lld, maximum allowed prefix is %lld.",
                        (long long)plen, (long long)qsp_int(sp, "max_prefixlen"));
    if (plen < qsp_int(sp, "min_prefixlen"))
        return qerr_set(e, QE_SUBNET_ALLOC_MIN, "Unable to allocate subnet with prefix length "
                                                "%lld, minimum allowed prefix is %lld.",
                        (long long)plen, (long long)qsp_int(sp, "min_prefixlen"));
    qaddrset avail;
    qsp_prefix_set(qj_get(sp, "prefixes"), fam, &avail);
    /* Neutron counts the pool owner's subnets, whoever asks. */
    qsp_usage u = {&avail, qj_get_str(sp, "project_id"), fam == 4 ? 32 : 64, 0};
    int rc = qsp_each_subnet(op, qj_get_str(sp, "id"), qsp_account, &u, e);
    int64_t quota = qsp_int(sp, "default_quota");
    if (rc == 0 && quota > 0 && u.used + ldexp(1.0, u.unit - (int)plen) > (double)quota)
        rc = qerr_set(e, QE_SUBNETPOOL_QUOTA, "Per-tenant subnet pool prefix quota exceeded.");
    qcidr *free_cidrs = NULL;
    size_t n = 0;
    if (rc == 0)
        n = qaddrset_cidrs(&avail, &free_cidrs);
    if (rc == 0 && any) {
        /* Neutron's best fit: the smallest free prefix that holds the
         * length, the lowest address among equals, its first subnet. */
        const qcidr *best = NULL;
        for (size_t i = 0; i < n; i++)
            if (free_cidrs[i].prefixlen <= plen &&
                (!best || free_cidrs[i].prefixlen > best->prefixlen))
                best = &free_cidrs[i];
        if (!best) {
            snprintf(msg, sizeof msg, "Insufficient prefix space to allocate subnet size /%lld",
                     (long long)plen);
            rc = qerr_set(e, QE_SUBNET_ALLOC, "Failed to allocate subnet: %s.", msg);
        } else {
            want = (qcidr){best->addr, (int)plen};
        }
    } else if (rc == 0 && !qaddrset_contains(&avail, &want)) {
        rc = qerr_set(e, QE_SUBNET_ALLOC, "Failed to allocate subnet: Cannot allocate requested "
                                          "subnet from the available set of prefixes.");
    }
    free(free_cidrs);
    qaddrset_free(&avail);
    if (rc == 0) {
        char t[QCIDR_STRLEN];
        qcidr_format(&want, t);
        qj_set(sub, "cidr", qj_str(t));
        qj_set(sub, "subnetpool_id", qj_str(qj_get_str(sp, "id")));
    }
    return rc;
}

int qsubnetpool_allocate(qop *op, qj *sub, qerr *e)
{
    qj *prefixlen = qj_clone(qj_get(sub, "prefixlen"));
    const qj *ud = qj_get(sub, "use_default_subnetpool");
    bool use_default = ud && ud->u.b;
    qj_remove(sub, "prefixlen");
    qj_remove(sub, "use_default_subnetpool");
    const char *cidr = qj_get_str(sub, "cidr");
    int rc = 0;
    qj *sp = NULL;
    if (cidr && prefixlen)
        rc = qsp_bad_subnet(e, "cidr and prefixlen must not be supplied together");
    const qj *pools = qj_get(sub, "allocation_pools");
    if (rc == 0 && !cidr && pools && !qj_is(pools, QJ_NULL) &&
        (qj_get_str(sub, "subnetpool_id") || use_default))
        rc = qsp_bad_subnet(e, "allocation_pools allowed only for specific subnet requests");
    if (rc == 0)
        rc = qsp_resolve(op, sub, use_default, cidr, &sp, e);
    if (rc == 0 && !sp && !cidr)
        rc = qsp_bad_subnet(e, "a subnetpool must be specified in the absence of a cidr");
    if (rc == 0 && sp)
        rc = qsp_allocate(op, sub, sp, prefixlen, e);
    qj_free(sp);
    qj_free(prefixlen);
    return rc;
}

int qsubnetpool_check_affinity(const qj *sub, const qj *sibling, qerr *e)
{
    if (qsp_int(sub, "ip_version") != qsp_int(sibling, "ip_version"))
        return 0;
    const char *a = qj_get_str(sub, "subnetpool_id"), *b = qj_get_str(sibling, "subnetpool_id");
    if ((!a && !b) || (a && b && !strcmp(a, b)))
        return 0;
    return qerr_set(e, QE_SUBNETPOOL_AFFINITY, "Subnets hosted on the same network must be "
                                               "allocated from the same subnet pool.");
}

/* ---------- prefix operations ---------- */

typedef struct qsp_probe {
    const qaddrset *gone;
    bool used;
} qsp_probe;

static void qsp_used(void *ctx, const qcidr *c, const char *project)
{
    qsp_probe *p = ctx;
    p->used |= qaddrset_overlaps(p->gone, c);
}

static qj *qsp_prefixes_answer(const qj *sp)
{
    qj *o = qj_object();
    qj_set(o, "prefixes", qj_clone(qj_get(sp, "prefixes")));
    return o;
}

static int qsp_add_prefixes(qop *op, qj *sp, const qj *prefixes, qj **ret, qerr *e)
{
    qj *old = qj_clone(sp), *all = qj_clone(qj_get(sp, "prefixes"));
    for (size_t i = 0; i < qj_len(prefixes); i++)
        qj_append(all, qj_clone(qj_at(prefixes, i)));
    qj_set(sp, "prefixes", all);
    int rc = qsp_set_prefixes(sp, old, e);
    if (rc == 0)
        rc = qsp_check_pool(op, sp, old, e);
    qj_free(old);
    if (rc == 0)
        *ret = qsp_prefixes_answer(sp);
    return rc;
}

static int qsp_remove_prefixes(qop *op, qj *sp, const qj *prefixes, qj **ret, qerr *e)
{
    int fam = (int)qsp_int(sp, "ip_version");
    qaddrset pool, gone;
    qsp_prefix_set(qj_get(sp, "prefixes"), fam, &pool);
    qaddrset_init(&gone, fam);
    bool touches = false;
    for (size_t i = 0; i < qj_len(prefixes); i++) {
        qcidr c;
        if (qcidr_parse(qj_as_str(qj_at(prefixes, i)), &c) == 0 && c.addr.family == fam) {
            qaddrset_add(&gone, &c);
            touches |= qaddrset_overlaps(&pool, &c);
        }
    }
    int rc = 0;
    if (touches) {
        /* A subnet inside what goes refuses the whole request. */
        qsp_probe probe = {&gone, false};
        rc = qsp_each_subnet(op, qj_get_str(sp, "id"), qsp_used, &probe, e);
        if (rc == 0 && probe.used)
            rc = qerr_set(e, QE_SP_PREFIX_UPDATE, "Illegal update to prefixes: One or more the "
                                                  "prefixes to be removed is in use by a "
                                                  "subnet.");
        qcidr *cs;
        size_t n = qaddrset_cidrs(&gone, &cs);
        for (size_t i = 0; rc == 0 && i < n; i++)
            qaddrset_remove(&pool, &cs[i]);
        free(cs);
        if (rc == 0)
            qj_set(sp, "prefixes", qsp_prefix_list(&pool));
    }
    qaddrset_free(&pool);
    qaddrset_free(&gone);
    if (rc == 0)
        *ret = qsp_prefixes_answer(sp);
    return rc;
}

/* Neutron's get_operation_request_body, then each prefix as a subnet pool's. */
static int qsp_prefixes_body(const qj *body, qj **ret, qerr *e)
{
    const qj *p = qj_get(body, "prefixes");
    if (!qj_is(body, QJ_OBJECT) || !qj_is(p, QJ_ARRAY) || !qj_len(p))
        return qerr_set(e, QE_BAD_REQUEST, "Request body contains invalid data");
    *ret = qj_clone(p);
    if (qsp_check_prefixes(NULL, qres_attr(&qres_subnetpool, "prefixes"), ret, e) < 0) {
        qj_free(*ret);
        *ret = NULL;
        return -1;
    }
    return 0;
}

int qsubnetpool_prefixes_request(qmodel *m, const qctx *ctx, const char *id, bool add,
                                 const qj *body, qj **ret, qerr *e)
{
    qj *prefixes;
    *ret = NULL;
    if (qsp_prefixes_body(body, &prefixes, e) < 0)
        return -1;
    int rc = qres_action_request(m, ctx, &qres_subnetpool, id,
                                 add ? "add_prefixes" : "remove_prefixes", prefixes,
                                 add ? qsp_add_prefixes : qsp_remove_prefixes, ret, e);
    qj_free(prefixes);
    return rc;
}

static const qattr qsp_attrs[] = {
    QATTR_ID,
    {.name = "name", .kind = QA_STR, .flags = QA_POST | QA_PUT | QA_REQUIRED, .max = 255,
     .check = qsp_check_name},
    QATTR_PROJECT,
    {.name = "prefixes", .kind = QA_LIST, .flags = QA_POST | QA_PUT | QA_REQUIRED | QA_NOSORT,
     .check = qsp_check_prefixes},
    {.name = "default_prefixlen", .kind = QA_INT, .flags = QA_POST | QA_PUT | QA_STRCONV,
     .check = qattr_check_non_negative},
    {.name = "min_prefixlen", .kind = QA_INT, .flags = QA_POST | QA_PUT | QA_STRCONV,
     .check = qattr_check_non_negative},
    {.name = "max_prefixlen", .kind = QA_INT, .flags = QA_POST | QA_PUT | QA_STRCONV,
     .check = qattr_check_non_negative},
    {.name = "default_quota", .kind = QA_INT, .flags = QA_POST | QA_PUT | QA_STRCONV,
     .def = "null", .check = qattr_check_non_negative},
    {.name = "ip_version", .kind = QA_INT},
    {.name = "is_default", .kind = QA_BOOL, .flags = QA_POST | QA_PUT | QA_ADMIN_W,
     .def = "false"},
    {.name = "shared", .kind = QA_BOOL, .flags = QA_POST | QA_ADMIN_W, .def = "false"},
    {.name = "address_scope_id", .kind = QA_STR, .flags = QA_POST | QA_PUT | QA_NULL,
     .def = "null", .check = qsp_check_scope},
    QATTR_DESCRIPTION,
    QATTR_STD,
};

const qresource qres_subnetpool = {
    .name = "subnetpool",
    .collection = "subnetpools",
    .label = "Subnet pool",
    .notfound = QE_SUBNETPOOL_NOT_FOUND,
    .attrs = qsp_attrs,
    .nattrs = QHV_ARRAY_SIZE(qsp_attrs),
    .initial_revision = 0,
    .has_tags = true,
    .core = true,
    .shared_sql = "(json_extract(r.body, '$.shared') = 1 OR " QRBAC_SHARED_WITH_SQL("r.id") ")",
    .sql_filters = qrbac_shared_sql_filters,
    .on_create = qsp_on_create,
    .after_create = qrbac_subnetpool_created,
    .on_update = qsp_on_update,
    .on_delete = qsp_on_delete,
    .on_show = qsp_on_show,
};
