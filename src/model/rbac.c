/* rbac: the rbac_policy resource for networks and subnet pools, and what
 * its policies mean for their sharing and a network's external access. */
#include "model/rbac.h"
#include "model/resources.h"
#include "model/subnetpool.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QRBAC_SHARED "access_as_shared"
#define QRBAC_EXTERNAL "access_as_external"

static const char qrbac_sql_dup[] =
    "SELECT 1 FROM resources WHERE kind = 'rbac_policy' AND parent_id = ?1 "
    "AND json_extract(body, '$.action') = ?2 AND json_extract(body, '$.target_tenant') = ?3 "
    "AND id <> ?4 LIMIT 1";
static const char qrbac_sql_pool_users[] =
    "SELECT DISTINCT project_id FROM resources WHERE kind = 'subnet' "
    "AND json_extract(body, '$.subnetpool_id') = ?1";
static const char qrbac_sql_shared_with[] =
    "SELECT 1 FROM resources INDEXED BY resources_parent WHERE kind = 'rbac_policy' "
    "AND parent_id = ?1 AND json_extract(body, '$.action') = 'access_as_shared' "
    "AND json_extract(body, '$.target_tenant') = ?2 LIMIT 1";

static bool qrbac_is(const qj *pol, const char *key, const char *want)
{
    const char *v = qj_get_str(pol, key);
    return v && !strcmp(v, want);
}

/* Policies are of networks or of subnet pools (rbac-subnetpool). */
static bool qrbac_of_pool(const qj *pol) { return qrbac_is(pol, "object_type", "subnetpool"); }

static const qresource *qrbac_res(const qj *pol)
{
    return qrbac_of_pool(pol) ? &qres_subnetpool : &qres_network;
}

int qrbac_shared_with(qstore *s, const char *id, const char *project, qerr *e)
{
    if (!project || !*project)
        return 0;
    return qstore_query_row(s, qrbac_sql_shared_with, id, project, NULL, NULL, 0, e);
}

/* ---------- attribute checks ---------- */

static int qrbac_check_type(qop *op, const qattr *a, qj **v, qerr *e)
{
    const char *s = (*v)->u.str.s;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    static const char *const types[] = {"network", "subnetpool"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(types); i++) {
        if (n == strlen(types[i]) && !strncasecmp(s, types[i], n)) {
            qj_free(*v);
            *v = qj_str(types[i]);
            return 0;
        }
    }
    return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: '%.200s' is not a valid "
                                         "RBAC object type", (*v)->u.str.s);
}

/* ---------- who still needs access ---------- */

/* Neutron's ensure_no_tenant_ports_on_network: project target losing the
 * network (policy skip_id going) must have no port on it that no other
 * policy (or ownership) still allows. */
static int qrbac_check_ports(qop *op, const qj *net, const char *target, const char *skip_id,
                             qerr *e)
{
    const char *nid = qj_get_str(net, "id"), *owner = qj_get_str(net, "project_id");
    qj *pols = NULL, *ports = NULL;
    int rc = qres_children(op, &qres_rbac_policy, nid, &pols, e);
    if (rc == 0)
        rc = qres_children(op, &qres_port, nid, &ports, e);
    bool in_use = false;
    for (size_t i = 0; rc == 0 && i < qj_len(ports) && !in_use; i++) {
        const char *proj = qj_get_str(qj_at(ports, i), "project_id");
        if (!proj || (owner && !strcmp(proj, owner)))
            continue;
        if (strcmp(target, "*") && strcmp(proj, target))
            continue;
        bool allowed = false;
        for (size_t j = 0; j < qj_len(pols) && !allowed; j++) {
            const qj *p = qj_at(pols, j);
            if (!qrbac_is(p, "action", QRBAC_SHARED) || qrbac_is(p, "id", skip_id))
                continue;
            allowed = qrbac_is(p, "target_tenant", "*") || qrbac_is(p, "target_tenant", proj);
        }
        in_use = !allowed;
    }
    qj_free(pols);
    qj_free(ports);
    if (rc == 0 && in_use)
        rc = qerr_set(e, QE_RBAC_IN_USE, "RBAC policy on object %s cannot be removed because "
                                         "other objects depend on it.\nDetails: Unable to "
                                         "reconfigure sharing settings for network %s. Multiple "
                                         "tenants are using it.", nid, nid);
    return rc;
}

/* ---------- the network's flags ---------- */

/* Sets the object's flag key to v when it differs (a dependent changed:
 * the object's revision moves). */
static int qrbac_set_flag(qop *op, const qresource *r, const char *id, const char *key, bool v,
                          qerr *e)
{
    qj *obj;
    if (qres_load(op, r, id, &obj, e) < 0)
        return -1;
    const qj *cur = qj_get(obj, key);
    int rc = 0;
    if (!(qj_is(cur, QJ_BOOL) && cur->u.b == v)) {
        qj_set(obj, key, qj_bool(v));
        qres_touch(op, obj);
        rc = qres_store(op, r, obj, false, e);
    }
    qj_free(obj);
    return rc;
}

/* The network's policies of action (and target, or any when NULL), less skip_id. */
static int qrbac_count(qop *op, const char *nid, const char *action, const char *target,
                       const char *skip_id, size_t *n, qerr *e)
{
    qj *pols;
    if (qres_children(op, &qres_rbac_policy, nid, &pols, e) < 0)
        return -1;
    *n = 0;
    for (size_t i = 0; i < qj_len(pols); i++) {
        const qj *p = qj_at(pols, i);
        if (qrbac_is(p, "action", action) && (!target || qrbac_is(p, "target_tenant", target)) &&
            !(skip_id && qrbac_is(p, "id", skip_id)))
            ++*n;
    }
    qj_free(pols);
    return 0;
}

/* After the policies of nid changed: shared is its '*' access_as_shared
 * policy; router:external stays while an access_as_external policy does. */
static int qrbac_sync(qop *op, const qresource *r, const char *nid, const char *skip_id,
                      bool external_set, qerr *e)
{
    size_t shared, external;
    if (qrbac_count(op, nid, QRBAC_SHARED, "*", skip_id, &shared, e) < 0 ||
        qrbac_count(op, nid, QRBAC_EXTERNAL, NULL, skip_id, &external, e) < 0)
        return -1;
    if (qrbac_set_flag(op, r, nid, "shared", shared > 0, e) < 0)
        return -1;
    if (external || !external_set)
        return external ? qrbac_set_flag(op, r, nid, "router:external", true, e) : 0;
    return qrbac_set_flag(op, r, nid, "router:external", false, e);
}

/* ---------- the policy's hooks ---------- */

static int qrbac_check_action(const qj *pol, qerr *e)
{
    const char *action = qj_get_str(pol, "action");
    bool pool = qrbac_of_pool(pol);
    if (!strcmp(action, QRBAC_SHARED) || (!pool && !strcmp(action, QRBAC_EXTERNAL)))
        return 0;
    return qerr_set(e, QE_RBAC_ACTION, "Invalid action '%.200s' for object type '%s'. Valid "
                                       "actions: %s", action, pool ? "subnetpool" : "network",
                    pool ? "('access_as_shared',)"
                         : "('access_as_shared', 'access_as_external')");
}

/* The object a policy is about, if the caller may manage its policies. */
static int qrbac_object(qop *op, const qj *pol, qj **ret, qerr *e)
{
    const char *id = qj_get_str(pol, "object_id");
    const qresource *r = qrbac_res(pol);
    if (qres_load(op, r, id, ret, e) < 0)
        return -1;
    if (op->internal || qres_is_owner(op, *ret))
        return 0;
    /* One the caller sees (shared with it, external) but does not own. */
    const qj *ext = qj_get(*ret, "router:external"), *shared = qj_get(*ret, "shared");
    int visible;
    if (r == &qres_network && qj_is(ext, QJ_BOOL) && ext->u.b) {
        visible = 1;
    } else if (r == &qres_network) {
        qerr le;
        visible = qnet_usable(op, *ret, &le);
        if (visible < 0 && le.code == QE_NETWORK_NOT_FOUND)
            visible = 0;
        else if (visible < 0)
            *e = le;
    } else {
        visible = qj_is(shared, QJ_BOOL) && shared->u.b
                      ? 1
                      : qrbac_shared_with(op->m->store, id, op->ctx->project_id, e);
    }
    qj_free(*ret);
    *ret = NULL;
    if (visible < 0)
        return -1;
    if (!visible)
        return qres_notfound(r, id, e);
    return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: Only admins can "
                                         "manipulate policies on %s they do not own",
                    r == &qres_network ? "networks" : "objects");
}

/* Neutron's _validate_rbac_policy_delete for a subnet pool: the projects
 * with subnets from it must keep access through another policy. */
static int qrbac_check_pool_users(qop *op, const qj *pool, const char *target,
                                  const char *skip_id, qerr *e)
{
    const char *id = qj_get_str(pool, "id");
    qj *pols = NULL;
    if (qres_children(op, &qres_rbac_policy, id, &pols, e) < 0)
        return -1;
    qstmt *st = qstore_stmt(op->m->store, qrbac_sql_pool_users, e);
    if (!st) {
        qj_free(pols);
        return -1;
    }
    qstmt_bind_text(st, 1, id, -1, QSTORE_TRANSIENT);
    bool star = false, in_use = false;
    for (size_t j = 0; j < qj_len(pols); j++)
        star |= qrbac_is(qj_at(pols, j), "action", QRBAC_SHARED) &&
                qrbac_is(qj_at(pols, j), "target_tenant", "*") &&
                !qrbac_is(qj_at(pols, j), "id", skip_id);
    int src = QSTORE_DONE;
    while (!in_use && (src = qstmt_step(st)) == QSTORE_ROW) {
        const char *proj = (const char *)qstmt_column_text(st, 0);
        if (strcmp(target, "*")) {
            in_use = !star && proj && !strcmp(proj, target);
            continue;
        }
        bool allowed = false;
        for (size_t j = 0; j < qj_len(pols) && !allowed; j++) {
            const qj *p = qj_at(pols, j);
            allowed = qrbac_is(p, "action", QRBAC_SHARED) && !qrbac_is(p, "id", skip_id) &&
                      proj && qrbac_is(p, "target_tenant", proj);
        }
        in_use = !allowed;
    }
    qstmt_reset(st);
    qj_free(pols);
    if (!in_use && src != QSTORE_DONE)
        return qstore_fail(op->m->store, e, "subnet pool users");
    if (in_use)
        return qerr_set(e, QE_RBAC_IN_USE, "RBAC policy on object %s cannot be removed because "
                                           "other objects depend on it.\nDetails: "
                                           "project_id=%s", id, target);
    return 0;
}

/* A project losing access to obj through policy pol (target was). */
static int qrbac_check_users(qop *op, const qj *pol, const qj *obj, const char *was, qerr *e)
{
    if (!qrbac_is(pol, "action", QRBAC_SHARED) || !strcmp(was, qj_get_str(obj, "project_id")))
        return 0;
    if (qrbac_of_pool(pol))
        return qrbac_check_pool_users(op, obj, was, qj_get_str(pol, "id"), e);
    return qrbac_check_ports(op, obj, was, qj_get_str(pol, "id"), e);
}

static int qrbac_check_dup(qop *op, const qj *pol, qerr *e)
{
    qstmt *st = qstore_stmt(op->m->store, qrbac_sql_dup, e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, qj_get_str(pol, "object_id"), -1, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 2, qj_get_str(pol, "action"), -1, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 3, qj_get_str(pol, "target_tenant"), -1, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 4, qj_get_str(pol, "id"), -1, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    qstmt_reset(st);
    if (rc == QSTORE_ROW)
        return qerr_set(e, QE_RBAC_DUPLICATE, "An RBAC policy already exists with those values.");
    return rc == QSTORE_DONE ? 0 : qstore_fail(op->m->store, e, "rbac duplicate");
}

static int qrbac_on_create(qop *op, qj *pol, qerr *e)
{
    qj *obj = NULL;
    int rc = qrbac_check_action(pol, e);
    if (rc == 0)
        rc = qrbac_object(op, pol, &obj, e);
    if (rc == 0)
        rc = qrbac_check_dup(op, pol, e);
    /* The object's own hooks made this one: its flags are already set. */
    if (rc == 0 && !op->internal) {
        const char *id = qj_get_str(pol, "object_id");
        if (qrbac_is(pol, "action", QRBAC_EXTERNAL))
            rc = qrbac_set_flag(op, &qres_network, id, "router:external", true, e);
        else if (qrbac_is(pol, "target_tenant", "*"))
            rc = qrbac_set_flag(op, qrbac_res(pol), id, "shared", true, e);
    }
    qj_free(obj);
    return rc;
}

static int qrbac_on_update(qop *op, const qj *old, qj *pol, const qj *changes, qerr *e)
{
    if (qrbac_is(old, "target_tenant", qj_get_str(pol, "target_tenant")))
        return 0;
    qj *obj = NULL;
    int rc = qrbac_object(op, pol, &obj, e);
    if (rc == 0)
        rc = qrbac_check_dup(op, pol, e);
    const char *was = qj_get_str(old, "target_tenant");
    bool star = qrbac_is(pol, "target_tenant", "*");
    if (rc == 0 && !star)
        rc = qrbac_check_users(op, pol, obj, was, e);
    /* Only one '*' policy per action: shared follows it. */
    if (rc == 0 && qrbac_is(pol, "action", QRBAC_SHARED) && (star || !strcmp(was, "*")))
        rc = qrbac_set_flag(op, qrbac_res(pol), qj_get_str(pol, "object_id"), "shared", star,
                            e);
    qj_free(obj);
    return rc;
}

static int qrbac_on_delete(qop *op, const qj *pol, qerr *e)
{
    const char *id = qj_get_str(pol, "object_id");
    qj *obj;
    if (qres_load(op, qrbac_res(pol), id, &obj, e) < 0)
        return -1;
    int rc = qrbac_check_users(op, pol, obj, qj_get_str(pol, "target_tenant"), e);
    qj_free(obj);
    if (rc == 0)
        rc = qrbac_sync(op, qrbac_res(pol), id, qj_get_str(pol, "id"),
                        qrbac_is(pol, "action", QRBAC_EXTERNAL), e);
    return rc;
}

/* Policies have no standard attributes; the engine's update stamps go. */
static int qrbac_on_show(const qmodel *m, const qctx *ctx, qj *pol, qerr *e)
{
    (void)m, (void)ctx, (void)e;
    qj_remove(pol, "revision_number");
    qj_remove(pol, "updated_at");
    return 0;
}

/* ---------- network hooks ---------- */

static int qrbac_make(qop *op, const char *type, const qj *obj, const char *action, qerr *e)
{
    qj *item = qj_object(), *ret = NULL;
    qj_set(item, "object_type", qj_str(type));
    qj_set(item, "object_id", qj_str(qj_get_str(obj, "id")));
    qj_set(item, "action", qj_str(action));
    qj_set(item, "target_tenant", qj_str("*"));
    qj_set(item, "project_id", qj_str(qj_get_str(obj, "project_id")));
    int rc = qres_create_one(op, &qres_rbac_policy, item, true, &ret, e);
    qj_free(item);
    qj_free(ret);
    return rc;
}

static bool qrbac_flag(const qj *net, const char *key)
{
    const qj *v = qj_get(net, key);
    return qj_is(v, QJ_BOOL) && v->u.b;
}

int qrbac_network_created(qop *op, qj *net, qerr *e)
{
    if (qrbac_flag(net, "shared") && qrbac_make(op, "network", net, QRBAC_SHARED, e) < 0)
        return -1;
    if (qrbac_flag(net, "router:external") && qrbac_make(op, "network", net, QRBAC_EXTERNAL, e) < 0)
        return -1;
    return 0;
}

/* Deletes the network's policies of action (and target, or all when NULL). */
static int qrbac_drop(qop *op, const char *nid, const char *action, const char *target,
                      qerr *e)
{
    qj *pols;
    if (qres_children(op, &qres_rbac_policy, nid, &pols, e) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < qj_len(pols); i++) {
        const qj *p = qj_at(pols, i);
        if ((!action || qrbac_is(p, "action", action)) &&
            (!target || qrbac_is(p, "target_tenant", target)))
            rc = qres_delete_row(op, &qres_rbac_policy, qj_get_str(p, "id"), e);
    }
    qj_free(pols);
    return rc;
}

/* Neutron's _validate_shared_update: unsharing is refused while a project
 * other than the owner, and not named by a policy of its own, has ports
 * (other than network:*) or subnets on the network. */
static int qrbac_check_unshare(qop *op, const qj *net, qerr *e)
{
    const char *nid = qj_get_str(net, "id"), *owner = qj_get_str(net, "project_id");
    qj *ports = NULL, *subnets = NULL, *pols = NULL;
    int rc = qres_children(op, &qres_port, nid, &ports, e);
    if (rc == 0)
        rc = qres_children(op, &qres_subnet, nid, &subnets, e);
    if (rc == 0)
        rc = qres_children(op, &qres_rbac_policy, nid, &pols, e);
    bool refused = false;
    for (int k = 0; rc == 0 && k < 2 && !refused; k++) {
        const qj *list = k ? subnets : ports;
        for (size_t i = 0; i < qj_len(list) && !refused; i++) {
            const qj *o = qj_at(list, i);
            const char *proj = qj_get_str(o, "project_id"), *dev = qj_get_str(o, "device_owner");
            if (!proj || (owner && !strcmp(proj, owner)) ||
                (!k && dev && !strncmp(dev, "network:", 8)))
                continue;
            bool allowed = false;
            for (size_t j = 0; j < qj_len(pols) && !allowed; j++)
                allowed = qrbac_is(qj_at(pols, j), "action", QRBAC_SHARED) &&
                          qrbac_is(qj_at(pols, j), "target_tenant", proj);
            refused = !allowed;
        }
    }
    qj_free(ports);
    qj_free(subnets);
    qj_free(pols);
    if (rc == 0 && refused)
        rc = qerr_set(e, QE_INVALID_SHARED, "Unable to reconfigure sharing settings for network "
                                            "%s. Multiple tenants are using it.",
                      qj_get_str(net, "name"));
    return rc;
}

int qrbac_network_updated(qop *op, const qj *old, const qj *net, qerr *e)
{
    const char *nid = qj_get_str(net, "id");
    bool was = qrbac_flag(old, "shared"), now = qrbac_flag(net, "shared");
    int rc = 0;
    if (was && !now) {
        rc = qrbac_check_unshare(op, net, e);
        if (rc == 0)
            rc = qrbac_drop(op, nid, QRBAC_SHARED, "*", e);
    } else if (!was && now) {
        rc = qrbac_make(op, "network", net, QRBAC_SHARED, e);
    }
    was = qrbac_flag(old, "router:external");
    now = qrbac_flag(net, "router:external");
    if (rc == 0 && was && !now)
        rc = qrbac_drop(op, nid, QRBAC_EXTERNAL, NULL, e);
    else if (rc == 0 && !was && now)
        rc = qrbac_make(op, "network", net, QRBAC_EXTERNAL, e);
    return rc;
}

int qrbac_network_deleted(qop *op, const qj *net, qerr *e)
{
    return qrbac_drop(op, qj_get_str(net, "id"), NULL, NULL, e);
}

int qrbac_subnetpool_created(qop *op, qj *pool, qerr *e)
{
    return qrbac_flag(pool, "shared") ? qrbac_make(op, "subnetpool", pool, QRBAC_SHARED, e) : 0;
}

int qrbac_subnetpool_deleted(qop *op, const qj *pool, qerr *e)
{
    return qrbac_drop(op, qj_get_str(pool, "id"), NULL, NULL, e);
}

int qrbac_shared_show(const qmodel *m, const qctx *ctx, qj *obj, qerr *e)
{
    if (qrbac_flag(obj, "shared"))
        return 0;
    int with = qrbac_shared_with(m->store, qj_get_str(obj, "id"), ctx->project_id, e);
    if (with > 0)
        qj_set(obj, "shared", qj_bool(true));
    return with < 0 ? -1 : 0;
}


const qsql_filter qrbac_shared_sql_filters[] = {
    {"shared", "(json_extract(r.body, '$.shared') = 1 OR " QRBAC_SHARED_WITH_SQL("r.id") ") = %s"},
    {NULL, NULL},
};

static const qattr qrbac_attrs[] = {
    QATTR_ID,
    {.name = "object_type", .kind = QA_STR, .flags = QA_POST | QA_REQUIRED, .max = 255,
     .check = qrbac_check_type},
    {.name = "object_id", .kind = QA_UUID, .flags = QA_POST | QA_REQUIRED},
    {.name = "target_tenant", .kind = QA_STR, .flags = QA_POST | QA_PUT | QA_REQUIRED,
     .max = 255},
    QATTR_PROJECT,
    {.name = "action", .kind = QA_STR, .flags = QA_POST | QA_REQUIRED, .max = 255},
};

const qresource qres_rbac_policy = {
    .name = "rbac_policy",
    .collection = "rbac_policies",
    .path = "rbac-policies",
    .label = "RBAC policy",
    .notfound_fmt = "RBAC policy of type unknown with ID %s not found",
    .notfound = QE_RBAC_NOT_FOUND,
    .attrs = qrbac_attrs,
    .nattrs = QHV_ARRAY_SIZE(qrbac_attrs),
    .parent_attr = "object_id",
    .no_pagination = true,      /* Neutron's rbac-policies controller has none */
    .on_create = qrbac_on_create,
    .on_update = qrbac_on_update,
    .on_delete = qrbac_on_delete,
    .on_show = qrbac_on_show,
};
