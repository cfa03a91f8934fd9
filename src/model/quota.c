#include "model/quota.h"
#include "lib/util.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct qquota_res {
    const char *name;       /* quota key, e.g. "network" */
    const char *kind;       /* resources.kind */
    size_t conf_offset;     /* default in qconf */
} qquota_res;

static const qquota_res qquota_table[] = {
    {"network", "network", offsetof(qconf, quota_network)},
    {"subnet", "subnet", offsetof(qconf, quota_subnet)},
    {"port", "port", offsetof(qconf, quota_port)},
    {"security_group", "security_group", offsetof(qconf, quota_security_group)},
    {"security_group_rule", "security_group_rule", offsetof(qconf, quota_security_group_rule)},
    {"rbac_policy", "rbac_policy", offsetof(qconf, quota_rbac_policy)},
};

static const char qquota_sql_get[] =
    "SELECT hard_limit FROM quotas WHERE project_id=?1 AND resource=?2";
static const char qquota_sql_count[] =
    "SELECT COUNT(*) FROM resources WHERE kind=?1 AND project_id=?2";
/* A check's limit (?4: the default) and, under a limit, the usage, in one
 * round trip (inside the write lock). */
static const char qquota_sql_check[] =
    "SELECT lim, CASE WHEN lim < 0 THEN 0 ELSE "
    "(SELECT COUNT(*) FROM resources WHERE kind=?3 AND project_id=?1) END "
    "FROM (SELECT COALESCE((SELECT hard_limit FROM quotas WHERE project_id=?1 AND resource=?2), "
    "?4) AS lim) AS q";
static const char qquota_sql_set[] =
    "INSERT INTO quotas(project_id, resource, hard_limit) VALUES(?1, ?2, ?3) "
    "ON CONFLICT(project_id, resource) DO UPDATE SET hard_limit=excluded.hard_limit";
static const char qquota_sql_delete[] = "DELETE FROM quotas WHERE project_id=?1";
static const char qquota_sql_projects[] =
    "SELECT DISTINCT project_id FROM quotas ORDER BY project_id";

static int64_t qquota_default(const qconf *c, const qquota_res *q)
{
    return *(const int64_t *)((const char *)c + q->conf_offset);
}

static const qquota_res *qquota_find(const char *name)
{
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qquota_table); i++)
        if (!strcmp(qquota_table[i].name, name))
            return &qquota_table[i];
    return NULL;
}

static int qquota_limit(qmodel *m, const char *project, const qquota_res *q, int64_t *ret,
                        qerr *e)
{
    qstmt *st = qstore_stmt(m->store, qquota_sql_get, e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, project, -1, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 2, q->name, -1, QSTORE_STATIC);
    int rc = qstmt_step(st);
    *ret = rc == QSTORE_ROW ? qstmt_column_int64(st, 0) : qquota_default(m->conf, q);
    qstmt_reset(st);
    return (rc == QSTORE_ROW || rc == QSTORE_DONE) ? 0 : qstore_fail(m->store, e, "quota");
}

static int qquota_used(qmodel *m, const char *project, const qquota_res *q, int64_t *ret,
                       qerr *e)
{
    qstmt *st = qstore_stmt(m->store, qquota_sql_count, e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, q->kind, -1, QSTORE_STATIC);
    qstmt_bind_text(st, 2, project, -1, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    *ret = rc == QSTORE_ROW ? qstmt_column_int64(st, 0) : 0;
    qstmt_reset(st);
    return rc == QSTORE_ROW ? 0 : qstore_fail(m->store, e, "quota usage");
}

int qquota_check(qop *op, const qresource *r, const char *project, qerr *e)
{
    return qquota_check_n(op, r, project, 1, e);
}

int qquota_check_n(qop *op, const qresource *r, const char *project, int64_t n, qerr *e)
{
    const qquota_res *q = qquota_find(r->name);
    if (!q)
        return 0;
    qstore *s = op->m->store;
    qstmt *st = qstore_stmt(s, qquota_sql_check, e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, project, -1, QSTORE_TRANSIENT);
    qstmt_bind_text(st, 2, q->name, -1, QSTORE_STATIC);
    qstmt_bind_text(st, 3, q->kind, -1, QSTORE_STATIC);
    qstmt_bind_int64(st, 4, qquota_default(op->m->conf, q));
    int rc = qstmt_step(st);
    int64_t limit = rc == QSTORE_ROW ? qstmt_column_int64(st, 0) : 0;
    int64_t used = rc == QSTORE_ROW ? qstmt_column_int64(st, 1) : 0;
    qstmt_reset(st);
    if (rc != QSTORE_ROW)
        return qstore_fail(s, e, "quota");
    if (limit >= 0 && used + n > limit)
        return qerr_set(e, QE_OVER_QUOTA, "Quota exceeded for resources: ['%s'].", q->name);
    return 0;
}

static int qquota_may_read(const qctx *ctx, const char *project, qerr *e)
{
    if (ctx->is_admin || !strcmp(ctx->project_id, project))
        return 0;
    return qerr_set(e, QE_FORBIDDEN, "Non-admin is not authorised to access quotas for another "
                                     "project");
}

static qj *qquota_obj(qmodel *m, const char *project, const char *what, qerr *e)
{
    qj *o = qj_object();
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qquota_table); i++) {
        const qquota_res *q = &qquota_table[i];
        int64_t limit = qquota_default(m->conf, q), used = 0;
        if ((!what || strcmp(what, "default")) && qquota_limit(m, project, q, &limit, e) < 0) {
            qj_free(o);
            return NULL;
        }
        if (what && !strcmp(what, "details")) {
            if (qquota_used(m, project, q, &used, e) < 0) {
                qj_free(o);
                return NULL;
            }
            qj *d = qj_object();
            qj_set(d, "limit", qj_int(limit));
            qj_set(d, "used", qj_int(used));
            qj_set(d, "reserved", qj_int(0));
            qj_set(o, q->name, d);
        } else {
            qj_set(o, q->name, qj_int(limit));
        }
    }
    return o;
}

static qj *qquota_wrap(qj *o)
{
    qj *r = qj_object();
    qj_set(r, "quota", o);
    return r;
}

int qquota_show_request(qmodel *m, const qctx *ctx, const char *project, const char *what,
                        qj **ret, qerr *e)
{
    *ret = NULL;
    if (what && strcmp(what, "default") && strcmp(what, "details"))
        return qerr_set(e, QE_NOT_FOUND, "The resource could not be found.");
    if (qquota_may_read(ctx, project, e) < 0)
        return -1;
    qj *o = qquota_obj(m, project, what, e);
    if (!o)
        return -1;
    *ret = qquota_wrap(o);
    return 0;
}

int qquota_list_request(qmodel *m, const qctx *ctx, qj **ret, qerr *e)
{
    *ret = NULL;
    qj *arr = qj_array();
    qstmt *st = qstore_stmt(m->store, qquota_sql_projects, e);
    if (!st) {
        qj_free(arr);
        return -1;
    }
    qj *projects = qj_array();
    int rc;
    while ((rc = qstmt_step(st)) == QSTORE_ROW)
        qj_append(projects, qj_str((const char *)qstmt_column_text(st, 0)));
    qstmt_reset(st);
    for (size_t i = 0; i < qj_len(projects); i++) {
        const char *p = qj_as_str(qj_at(projects, i));
        if (!ctx->is_admin && strcmp(p, ctx->project_id))
            continue;
        qj *o = qquota_obj(m, p, NULL, e);
        if (!o) {
            qj_free(projects);
            qj_free(arr);
            return -1;
        }
        qj_set(o, "project_id", qj_str(p));
        qj_set(o, "tenant_id", qj_str(p));
        qj_append(arr, o);
    }
    qj_free(projects);
    *ret = qj_object();
    qj_set(*ret, "quotas", arr);
    return 0;
}

int qquota_update_request(qmodel *m, const qctx *ctx, const char *project, const qj *body,
                          qj **ret, qerr *e)
{
    *ret = NULL;
    if (!ctx->is_admin || ctx->read_only)
        return qerr_set(e, QE_POLICY, "rule:update_quota is disallowed by policy");
    const qj *q = qj_get(body, "quota");
    if (!qj_is(body, QJ_OBJECT) || !qj_is(q, QJ_OBJECT) || qj_len(body) != 1)
        return qerr_set(e, QE_BAD_REQUEST, "Unable to find 'quota' in request body");
    for (size_t i = 0; i < q->u.obj.n; i++) {
        const char *k = q->u.obj.m[i].key;
        const qj *v = q->u.obj.m[i].val;
        int64_t n;
        if (!qquota_find(k))
            return qerr_set(e, QE_BAD_REQUEST, "Unrecognized attribute(s) '%s'", k);
        if (qj_is(v, QJ_INT))
            n = v->u.i;
        else if (!qj_as_str(v) || qhv_parse_i64(qj_as_str(v), INT64_MIN, INT64_MAX, &n) < 0)
        {
            char *t = qj_as_str(v) ? xstrdup(qj_as_str(v)) : qj_to_string(v);
            qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: '%.200s' is not an "
                                          "integer.", t);
            free(t);
            return -1;
        }
        if (n < -1 || n > INT32_MAX)
            return qerr_set(e, QE_BAD_REQUEST, "Invalid input for %s. Reason: '%lld' is not in "
                                               "range -1 through %d.", k, (long long)n, INT32_MAX);
    }
    if (qstore_begin_write(m->store, e) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < q->u.obj.n; i++) {
        const qj *v = q->u.obj.m[i].val;
        int64_t n = 0;
        if (qj_is(v, QJ_INT))
            n = v->u.i;
        else
            qhv_parse_i64(qj_as_str(v), INT64_MIN, INT64_MAX, &n);
        qstmt *st = qstore_stmt(m->store, qquota_sql_set, e);
        if (!st) {
            rc = -1;
            break;
        }
        qstmt_bind_text(st, 1, project, -1, QSTORE_TRANSIENT);
        qstmt_bind_text(st, 2, q->u.obj.m[i].key, -1, QSTORE_TRANSIENT);
        qstmt_bind_int64(st, 3, n);
        if (qstmt_step(st) != QSTORE_DONE)
            rc = qstore_fail(m->store, e, "quota set");
        qstmt_reset(st);
    }
    qop op = {.m = m, .ctx = ctx};
    if (qmodel_finish(&op, rc, e) < 0)
        return -1;
    qj *o = qquota_obj(m, project, NULL, e);
    if (!o)
        return -1;
    *ret = qquota_wrap(o);
    return 0;
}

int qquota_delete_request(qmodel *m, const qctx *ctx, const char *project, qerr *e)
{
    if (!ctx->is_admin || ctx->read_only)
        return qerr_set(e, QE_POLICY, "rule:delete_quota is disallowed by policy");
    if (qstore_begin_write(m->store, e) < 0)
        return -1;
    qstmt *st = qstore_stmt(m->store, qquota_sql_delete, e);
    int rc = -1;
    if (st) {
        qstmt_bind_text(st, 1, project, -1, QSTORE_TRANSIENT);
        rc = qstmt_step(st) == QSTORE_DONE ? 0 : qstore_fail(m->store, e, "quota delete");
        qstmt_reset(st);
    }
    qop op = {.m = m, .ctx = ctx};
    return qmodel_finish(&op, rc, e);
}
