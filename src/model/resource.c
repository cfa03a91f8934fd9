#include "model/resource.h"
#include "model/quota.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lib/opt.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------- attribute conversion and validation ---------- */

const qattr *qres_attr(const qresource *r, const char *name)
{
    for (size_t i = 0; i < r->nattrs; i++)
        if (!strcmp(r->attrs[i].name, name))
            return &r->attrs[i];
    return NULL;
}

static int qattr_invalid(const qattr *a, qerr *e, const char *reason)
{
    return qerr_set(e, QE_BAD_REQUEST, "Invalid input for %s. Reason: %s.", a->name, reason);
}

/* Neutron's convert_to_boolean: true/false, "true"/"false"/"1"/"0", 0/1. */
static int qattr_to_bool(const qj *v, bool *ret)
{
    if (qj_is(v, QJ_BOOL)) {
        *ret = v->u.b;
        return 0;
    }
    if (qj_is(v, QJ_INT) && (v->u.i == 0 || v->u.i == 1)) {
        *ret = v->u.i == 1;
        return 0;
    }
    const char *s = qj_as_str(v);
    if (s && (!strcasecmp(s, "true") || !strcmp(s, "1"))) {
        *ret = true;
        return 0;
    }
    if (s && (!strcasecmp(s, "false") || !strcmp(s, "0"))) {
        *ret = false;
        return 0;
    }
    return -1;
}

static char *qattr_text(const qj *v)
{
    const char *s = qj_as_str(v);
    return s ? xstrdup(s) : qj_to_string(v);
}

static int qattr_convert(qop *op, const qattr *a, qj **vp, qerr *e)
{
    qj *v = *vp;
    char why[512];
    if (qj_is(v, QJ_NULL) && (a->flags & QA_NULL_EMPTY)) {
        qj_free(v);
        *vp = v = a->kind == QA_DICT ? qj_object() : qj_array();
    }
    if (qj_is(v, QJ_NULL)) {
        if (a->flags & QA_NULL)
            return 0;
        char *t = qattr_text(v);
        snprintf(why, sizeof why, "'%s' is not a valid value", t);
        free(t);
        return qattr_invalid(a, e, why);
    }
    switch (a->kind) {
    case QA_STR: {
        if (!qj_is(v, QJ_STRING)) {
            char *t = qattr_text(v);
            snprintf(why, sizeof why, "'%.200s' is not a valid string", t);
            free(t);
            return qattr_invalid(a, e, why);
        }
        if (a->max && (int64_t)v->u.str.len > a->max) {
            snprintf(why, sizeof why, "'%.200s' exceeds maximum length of %lld", v->u.str.s,
                     (long long)a->max);
            return qattr_invalid(a, e, why);
        }
        if (a->choices) {
            bool ok = false;
            for (size_t i = 0; a->choices[i] && !ok; i++)
                ok = !strcmp(a->choices[i], v->u.str.s);
            if (!ok) {
                qbuf b;
                qbuf_init(&b, 0);
                for (size_t i = 0; a->choices[i]; i++)
                    qbuf_printf(&b, "%s'%s'", i ? ", " : "", a->choices[i]);
                snprintf(why, sizeof why, "'%.100s' is not in [%s]", v->u.str.s, b.data);
                qbuf_free(&b);
                return qattr_invalid(a, e, why);
            }
        }
        break;
    }
    case QA_UUID:
        if (!qj_is(v, QJ_STRING) || !qhv_is_uuid(v->u.str.s)) {
            char *t = qattr_text(v);
            snprintf(why, sizeof why, "'%.200s' is not a valid UUID", t);
            free(t);
            return qattr_invalid(a, e, why);
        }
        break;
    case QA_BOOL: {
        bool b;
        if (qattr_to_bool(v, &b) < 0 || (!(a->flags & QA_STRCONV) && !qj_is(v, QJ_BOOL) &&
                                         !qj_is(v, QJ_STRING) && !qj_is(v, QJ_INT))) {
            char *t = qattr_text(v);
            qerr_set(e, QE_INVALID_INPUT,
                     "Invalid input for operation: '%.200s' cannot be converted to boolean.", t);
            free(t);
            return -1;
        }
        if (!qj_is(v, QJ_BOOL)) {
            qj_free(v);
            *vp = qj_bool(b);
        }
        break;
    }
    case QA_INT: {
        int64_t i;
        const char *s = qj_as_str(v);
        if (qj_is(v, QJ_INT)) {
            i = v->u.i;
        } else if (s && (a->flags & QA_STRCONV) && qhv_parse_i64(s, INT64_MIN, INT64_MAX, &i) == 0) {
            qj_free(v);
            *vp = v = qj_int(i);
        } else {
            char *t = qattr_text(v);
            qerr_set(e, QE_INVALID_INPUT,
                     "Invalid input for operation: '%.200s' is not an integer.", t);
            free(t);
            return -1;
        }
        if ((a->min || a->max) && (i < a->min || i > a->max)) {
            snprintf(why, sizeof why, "'%lld' is not in range %lld through %lld", (long long)i,
                     (long long)a->min, (long long)a->max);
            return qattr_invalid(a, e, why);
        }
        break;
    }
    case QA_LIST:
        if (!qj_is(v, QJ_ARRAY)) {
            char *t = qattr_text(v);
            snprintf(why, sizeof why, "'%.200s' is not a list", t);
            free(t);
            return qattr_invalid(a, e, why);
        }
        break;
    case QA_DICT:
        if (!qj_is(v, QJ_OBJECT)) {
            char *t = qattr_text(v);
            snprintf(why, sizeof why, "'%.200s' is not a dictionary", t);
            free(t);
            return qattr_invalid(a, e, why);
        }
        break;
    case QA_ANY:
        break;
    }
    return a->check ? a->check(op, a, vp, e) : 0;
}

int qres_convert_attr(qop *op, const qresource *r, const char *name, qj **v, qerr *e)
{
    const qattr *a = qres_attr(r, name);
    return a ? qattr_convert(op, a, v, e) : qerr_set(e, QE_INTERNAL, "no attribute %s", name);
}

int qattr_check_uuid_list(qop *op, const qattr *a, qj **v, qerr *e)
{
    for (size_t i = 0; i < qj_len(*v); i++) {
        const char *s = qj_as_str(qj_at(*v, i));
        if (!s || !qhv_is_uuid(s)) {
            char *t = qattr_text(qj_at(*v, i));
            char why[300];
            snprintf(why, sizeof why, "'%.200s' is not a valid UUID", t);
            free(t);
            return qattr_invalid(a, e, why);
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s, qj_as_str(qj_at(*v, j)))) {
                char why[300];
                snprintf(why, sizeof why, "Duplicate items in the list: '%s'", s);
                return qattr_invalid(a, e, why);
            }
    }
    return 0;
}

int qattr_check_str_list(qop *op, const qattr *a, qj **v, qerr *e)
{
    for (size_t i = 0; i < qj_len(*v); i++) {
        if (!qj_is(qj_at(*v, i), QJ_STRING)) {
            char *t = qattr_text(qj_at(*v, i));
            char why[300];
            snprintf(why, sizeof why, "'%.200s' is not a valid string", t);
            free(t);
            return qattr_invalid(a, e, why);
        }
    }
    return 0;
}

int qattr_check_dict(qop *op, const qattr *a, qj **v, qerr *e) { return 0; }

int qattr_check_non_negative(qop *op, const qattr *a, qj **v, qerr *e)
{
    if ((*v)->u.i >= 0)
        return 0;
    char why[64];
    snprintf(why, sizeof why, "'%lld' should be non-negative", (long long)(*v)->u.i);
    return qattr_invalid(a, e, why);
}

/* ---------- ownership and policy ---------- */

bool qres_is_owner(const qop *op, const qj *obj)
{
    if (op->ctx->is_admin)
        return true;
    const char *p = qj_get_str(obj, "project_id");
    return p && !strcmp(p, op->ctx->project_id);
}

static int qres_policy_fail(qerr *e, const char *action, const qresource *r, const char *attr)
{
    if (attr)
        return qerr_set(e, QE_POLICY, "(rule:%s_%s and rule:%s_%s:%s) is disallowed by policy",
                        action, r->name, action, r->name, attr);
    return qerr_set(e, QE_POLICY, "rule:%s_%s is disallowed by policy", action, r->name);
}

static int qres_check_writable(qop *op, const qresource *r, const char *action, qerr *e)
{
    if (op->ctx->read_only)
        return qres_policy_fail(e, action, r, NULL);
    return 0;
}

/* ---------- storage ---------- */

static const char qres_sql_load[] = "SELECT body FROM resources WHERE kind=?1 AND id=?2";
static const char qres_sql_insert[] =
    "INSERT INTO resources(kind, id, project_id, parent_id, body, host) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
static const char qres_sql_update[] =
    "UPDATE resources SET body=?3, project_id=?4, parent_id=?5, host=?6 WHERE kind=?1 AND id=?2";
static const char qres_sql_delete[] = "DELETE FROM resources WHERE kind=?1 AND id=?2";
static const char qres_sql_children[] =
    "SELECT body FROM resources INDEXED BY resources_parent WHERE kind=?1 AND parent_id=?2 "
    "ORDER BY id";

/* notfound_fmt comes from the resource tables: literals with one %s. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
int qres_notfound(const qresource *r, const char *id, qerr *e)
{
    if (r->notfound_fmt)
        return qerr_set(e, r->notfound, r->notfound_fmt, id);
    return qerr_set(e, r->notfound, "%s %s could not be found.", r->label, id);
}
#pragma GCC diagnostic pop

static qj *qres_parse_body(const char *text, int len)
{
    qj_error je;
    qj *v = qj_parse((const char *)text, (size_t)len, NULL, &je);
    if (!v)
        QLOG_E("model", "stored document does not parse: %s at %zu", je.msg, je.offset);
    return v;
}

static int qres_load_store(qstore *s, const qresource *r, const char *id, qj **ret, qerr *e)
{
    *ret = NULL;
    qstmt *st = qstore_stmt(s, qres_sql_load, e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, r->name, -1, QSTORE_STATIC);
    qstmt_bind_text(st, 2, id, -1, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    if (rc == QSTORE_ROW) {
        *ret = qres_parse_body(qstmt_column_text(st, 0), qstmt_column_bytes(st, 0));
        qstmt_reset(st);
        return *ret ? 0 : qerr_set(e, QE_INTERNAL, "corrupt %s %s", r->name, id);
    }
    qstmt_reset(st);
    if (rc != QSTORE_DONE)
        return qstore_fail(s, e, "load");
    return qres_notfound(r, id, e);
}

int qres_load(qop *op, const qresource *r, const char *id, qj **ret, qerr *e)
{
    return qres_load_store(op->m->store, r, id, ret, e);
}

int qres_find(qop *op, const qresource *r, const char *id, qj **ret, qerr *e)
{
    qerr le;
    if (qres_load_store(op->m->store, r, id, ret, &le) == 0)
        return 1;
    if (le.code == r->notfound)
        return 0;
    if (e)
        *e = le;
    return -1;
}

static int qres_write_row(qop *op, const qresource *r, qj *obj, bool insert, bool planned,
                          qerr *e);

static int qres_write(qop *op, const qresource *r, qj *obj, bool insert, bool planned, qerr *e)
{
    qstore *s = op->m->store;
    qj *old = NULL;
    if (r->on_written && !insert && qres_load_store(s, r, qj_get_str(obj, "id"), &old, e) < 0)
        return -1;
    int wrc = qres_write_row(op, r, obj, insert, planned, e);
    if (wrc == 0 && r->on_written)
        wrc = r->on_written(op, old, obj, e);
    qj_free(old);
    return wrc;
}

static int qres_write_row(qop *op, const qresource *r, qj *obj, bool insert, bool planned,
                          qerr *e)
{
    qstore *s = op->m->store;
    qstmt *st = qstore_stmt(s, insert ? qres_sql_insert : qres_sql_update, e);
    if (!st)
        return -1;
    char *text = qj_to_string(obj);
    const char *parent = r->parent_attr ? qj_get_str(obj, r->parent_attr) : NULL;
    const char *host = r->host_attr ? qj_get_str(obj, r->host_attr) : NULL;
    const char *project = qj_get_str(obj, "project_id");   /* agents have none */
    if (!project)
        project = "";
    qstmt_bind_text(st, 1, r->name, -1, QSTORE_STATIC);
    qstmt_bind_text(st, 2, qj_get_str(obj, "id"), -1, QSTORE_TRANSIENT);
    if (insert) {
        qstmt_bind_text(st, 3, project, -1, QSTORE_TRANSIENT);
        qstmt_bind_text(st, 4, parent ? parent : "", -1, QSTORE_TRANSIENT);
        qstmt_bind_text(st, 5, text, -1, free);
    } else {
        qstmt_bind_text(st, 3, text, -1, free);
        qstmt_bind_text(st, 4, project, -1, QSTORE_TRANSIENT);
        qstmt_bind_text(st, 5, parent ? parent : "", -1, QSTORE_TRANSIENT);
    }
    qstmt_bind_text(st, 6, host ? host : "", -1, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    qstmt_reset(st);
    if (rc != QSTORE_DONE)
        return qstore_fail(s, e, "store");
    if (planned)
        qtouch_doc(&op->touched, r->name, obj);
    return 0;
}

int qres_store(qop *op, const qresource *r, qj *obj, bool insert, qerr *e)
{
    return qres_write(op, r, obj, insert, true, e);
}

int qres_store_unplanned(qop *op, const qresource *r, qj *obj, qerr *e)
{
    return qres_write(op, r, obj, false, false, e);
}

int qres_delete_row(qop *op, const qresource *r, const char *id, qerr *e)
{
    qj *doc = NULL;
    if (qres_find(op, r, id, &doc, e) < 0)
        return -1;   /* without it, the plans it was in would not be told */
    if (doc)
        qtouch_doc(&op->touched, r->name, doc);
    qstmt *st = qstore_stmt(op->m->store, qres_sql_delete, e);
    if (!st) {
        qj_free(doc);
        return -1;
    }
    qstmt_bind_text(st, 1, r->name, -1, QSTORE_STATIC);
    qstmt_bind_text(st, 2, id, -1, QSTORE_TRANSIENT);
    int rc = qstmt_step(st);
    qstmt_reset(st);
    rc = rc == QSTORE_DONE ? 0 : qstore_fail(op->m->store, e, "delete");
    if (rc == 0 && doc && r->on_written)
        rc = r->on_written(op, doc, NULL, e);
    qj_free(doc);
    return rc;
}

int qres_children(qop *op, const qresource *r, const char *parent, qj **ret, qerr *e)
{
    *ret = NULL;
    qstmt *st = qstore_stmt(op->m->store, qres_sql_children, e);
    if (!st)
        return -1;
    *ret = qj_array();
    qstmt_bind_text(st, 1, r->name, -1, QSTORE_STATIC);
    qstmt_bind_text(st, 2, parent, -1, QSTORE_TRANSIENT);
    int rc;
    while ((rc = qstmt_step(st)) == QSTORE_ROW) {
        qj *o = qres_parse_body(qstmt_column_text(st, 0), qstmt_column_bytes(st, 0));
        if (o)
            qj_append(*ret, o);
    }
    qstmt_reset(st);
    if (rc == QSTORE_DONE)
        return 0;
    qj_free(*ret);
    *ret = NULL;
    return qstore_fail(op->m->store, e, "children");
}

void qres_touch(qop *op, qj *obj)
{
    qj *rev = qj_get(obj, "revision_number");
    qj_set(obj, "revision_number", qj_int((rev ? rev->u.i : 0) + 1));
    char ts[21];
    qhv_format_time(op->now, ts);
    qj_set(obj, "updated_at", qj_str(ts));
}

int qres_touch_id(qop *op, const qresource *r, const char *id, qerr *e)
{
    qj *obj;
    if (qres_load(op, r, id, &obj, e) < 0)
        return -1;
    qres_touch(op, obj);
    int rc = qres_store(op, r, obj, false, e);
    qj_free(obj);
    return rc;
}

/* Visibility: a non-admin sees its own project's objects and what the
 * resource's shared_sql admits. Returns a freshly prepared statement over
 * (kind, project[, id]) that the caller finalizes. */
static qstmt *qres_visible_stmt(qstore *s, const qctx *ctx, const qresource *r,
                                       const char *id, const char *parent, const char *where,
                                       qerr *e)
{
    qbuf sql;
    qbuf_init(&sql, 0);
    qbuf_puts(&sql, "SELECT r.body FROM resources r WHERE r.kind=?1");
    if (!ctx->is_admin && r->admin_only)
        qbuf_puts(&sql, " AND 1 = 0");
    if (!ctx->is_admin) {
        qbuf_puts(&sql, " AND (r.project_id=?2");
        if (r->shared_sql)
            qbuf_printf(&sql, " OR %s", r->shared_sql);
        qbuf_puts(&sql, ")");
    }
    if (id)
        qbuf_puts(&sql, " AND r.id=?3");
    if (parent)
        qbuf_puts(&sql, " AND r.parent_id=?4");
    if (where && *where)
        qbuf_printf(&sql, " AND %s", where);
    qbuf_puts(&sql, " ORDER BY r.id");
    qstmt *st = qstore_prepare(s, sql.data, e);
    qbuf_free(&sql);
    if (!st)
        return NULL;
    qstmt_bind_text(st, 1, r->name, -1, QSTORE_STATIC);
    /* Bound for admins too: SQL filters may ask about the caller's project
     * (the store ignores a parameter the statement does not use). */
    qstmt_bind_text(st, 2, ctx->project_id, -1, QSTORE_TRANSIENT);
    if (id)
        qstmt_bind_text(st, 3, id, -1, QSTORE_TRANSIENT);
    if (parent)
        qstmt_bind_text(st, 4, parent, -1, QSTORE_TRANSIENT);
    return st;
}

/* Loads id if the caller may see it; 404 otherwise (never 403: existence of
 * other projects' objects is not disclosed). */
static int qres_load_visible(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                             qj **ret, qerr *e)
{
    *ret = NULL;
    if (ctx->is_admin)
        return qres_load_store(m->store, r, id, ret, e);
    qstmt *st = qres_visible_stmt(m->store, ctx, r, id, NULL, NULL, e);
    if (!st)
        return -1;
    int rc = qstmt_step(st);
    if (rc == QSTORE_ROW)
        *ret = qres_parse_body(qstmt_column_text(st, 0), qstmt_column_bytes(st, 0));
    /* The store's own error (503 when it is unreachable), read before the
     * statement goes. */
    int failed = !*ret && rc != QSTORE_ROW && rc != QSTORE_DONE ? qstore_fail(m->store, e, "load") : 0;
    qstmt_finalize(st);
    if (*ret || failed)
        return failed;
    return qres_notfound(r, id, e);
}

/* ---------- views ---------- */

static bool qres_attr_visible(const qctx *ctx, const qattr *a)
{
    return ctx->is_admin || !(a->flags & QA_ADMIN_R);
}

/* Fields requested with fields=; NULL when all. */
typedef struct qfields {
    size_t n;
    const char **names;
} qfields;

static bool qfields_has(const qfields *f, const char *name)
{
    if (!f || !f->n)
        return true;
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->names[i], name))
            return true;
    return false;
}

/* Makes obj (in place) the caller's view of it: 0, or -1 when a view hook
 * could not read the store. viewed: on_view already ran (a list's filters
 * needed it), so its reads are not made twice. */
static int qres_view(const qmodel *m, const qctx *ctx, const qresource *r, qj *obj,
                     const qfields *f, bool viewed, qerr *e)
{
    if (r->on_view && !viewed && r->on_view(m, obj, e) < 0)
        return -1;
    if (r->on_show && r->on_show(m, ctx, obj, e) < 0)
        return -1;
    for (size_t i = 0; i < r->nattrs; i++) {
        const qattr *a = &r->attrs[i];
        if (!qres_attr_visible(ctx, a) || !qfields_has(f, a->name))
            qj_remove(obj, a->name);
    }
    return 0;
}

static void qres_parse_fields(const qresource *r, const qquery *q, qfields *f)
{
    f->n = 0;
    f->names = NULL;
    size_t known = 0, asked = 0;
    for (size_t i = 0; q && i < q->n; i++) {
        if (strcmp(q->kv[i].key, "fields"))
            continue;
        asked++;
        if (qres_attr(r, q->kv[i].value)) {
            f->names = xrealloc(f->names, (known + 1) * sizeof *f->names);
            f->names[known++] = q->kv[i].value;
        }
    }
    f->n = known;
    /* Unknown names are ignored, as Neutron does; if nothing known was asked
     * for, the view is empty rather than everything. */
    if (asked && !known) {
        f->names = xrealloc(f->names, sizeof *f->names);
        f->names[0] = "\x01none";
        f->n = 1;
    }
}

/* ---------- create ---------- */

static int qres_unknown_attrs(const qresource *r, const qj *item, qerr *e)
{
    qbuf b;
    qbuf_init(&b, 0);
    size_t n = 0;
    for (size_t i = 0; i < item->u.obj.n; i++) {
        if (!qres_attr(r, item->u.obj.m[i].key)) {
            qbuf_printf(&b, "%s%s", n ? ", " : "", item->u.obj.m[i].key);
            n++;
        }
    }
    int rc = 0;
    if (n)
        rc = qerr_set(e, QE_BAD_REQUEST, "Unrecognized attribute(s) '%s'", b.data);
    qbuf_free(&b);
    return rc;
}

static int qres_set_project(qop *op, qj *obj, qerr *e)
{
    const char *p = qj_get_str(obj, "project_id");
    const char *t = qj_get_str(obj, "tenant_id");
    if (p && t && strcmp(p, t))
        return qerr_set(e, QE_BAD_REQUEST, "'project_id' and 'tenant_id' do not match");
    const char *owner = p ? p : t ? t : op->ctx->project_id;
    if (!*owner)
        return qerr_set(e, QE_BAD_REQUEST,
                        "Running without keystone AuthN requires that tenant_id is specified");
    if (!op->ctx->is_admin && !op->internal && strcmp(owner, op->ctx->project_id))
        return qerr_set(e, QE_BAD_REQUEST,
                        "Specifying 'project_id' or 'tenant_id' other than the authenticated "
                        "project in request requires admin privileges");
    char *own = xstrdup(owner);
    qj_set(obj, "project_id", qj_str(own));
    qj_set(obj, "tenant_id", qj_str_take(own));
    return 0;
}

int qres_create_one(qop *op, const qresource *r, qj *item, bool internal, qj **ret, qerr *e)
{
    *ret = NULL;
    if (!qj_is(item, QJ_OBJECT))
        return qerr_set(e, QE_BAD_REQUEST, "Invalid format for %s: an object is required",
                        r->name);
    if (qres_unknown_attrs(r, item, e) < 0)
        return -1;
    char ts[21];
    qhv_format_time(op->now, ts);
    qj *obj = qj_object();
    for (size_t i = 0; i < r->nattrs; i++) {
        const qattr *a = &r->attrs[i];
        qj *v = qj_get(item, a->name);
        if (!strcmp(a->name, "id") && !v) {
            char id[37];
            qhv_uuid4(id);
            qj_set(obj, "id", qj_str(id));
            continue;
        }
        if (v) {
            if (!(a->flags & QA_POST) && !internal) {
                qj_free(obj);
                return qerr_set(e, QE_BAD_REQUEST, "Attribute '%s' not allowed in POST", a->name);
            }
            qj *cv = qj_clone(v);
            if (qattr_convert(op, a, &cv, e) < 0) {
                qj_free(cv);
                qj_free(obj);
                return -1;
            }
            /* Neutron's policy ignores an admin-only attribute given with its
             * default value (e.g. "shared": false from a member). */
            if ((a->flags & QA_ADMIN_W) && !op->ctx->is_admin && !internal) {
                qj *d = a->def ? qj_parse(a->def, strlen(a->def), NULL, NULL) : NULL;
                bool is_default = d && qj_equal(d, cv);
                qj_free(d);
                if (!is_default) {
                    qj_free(cv);
                    qj_free(obj);
                    return qres_policy_fail(e, "create", r, a->name);
                }
            }
            qj_set(obj, a->name, cv);
        } else if (!strcmp(a->name, "created_at") || !strcmp(a->name, "updated_at")) {
            qj_set(obj, a->name, qj_str(ts));
        } else if (!strcmp(a->name, "revision_number")) {
            qj_set(obj, a->name, qj_int(r->initial_revision));
        } else if (a->def) {
            qj *d = qj_parse(a->def, strlen(a->def), NULL, NULL);
            if (!d)
                abort();    /* a broken default in a table is a programming error */
            qj_set(obj, a->name, d);
        } else if ((a->flags & QA_REQUIRED) && !internal) {
            qj_free(obj);
            return qerr_set(e, QE_BAD_REQUEST,
                            "Failed to parse request. Required attribute '%s' not specified",
                            a->name);
        }
    }
    bool was_internal = op->internal;
    op->internal = internal;
    int rc = 0;
    if (qres_attr(r, "project_id"))
        rc = qres_set_project(op, obj, e);
    if (rc == 0 && !internal)
        rc = qquota_check(op, r, qj_get_str(obj, "project_id"), e);
    if (rc == 0 && r->on_create)
        rc = r->on_create(op, obj, e);
    if (rc == 0)
        rc = qres_store(op, r, obj, true, e);
    if (rc == 0)
        qtouch_add(&op->created, qj_get_str(obj, "id"));
    if (rc == 0 && r->after_create)
        rc = r->after_create(op, obj, e);
    op->internal = was_internal;
    if (rc < 0) {
        qj_free(obj);
        return -1;
    }
    *ret = obj;
    return 0;
}

static int qres_begin(qop *op, qmodel *m, const qctx *ctx, qerr *e)
{
    memset(op, 0, sizeof *op);
    op->m = m;
    op->ctx = ctx;
    op->now = qhv_wall_seconds();
    return qstore_begin_write(m->store, e);
}


int qres_create_request(qmodel *m, const qctx *ctx, const qresource *r, const qj *body,
                        qj **ret, qerr *e)
{
    *ret = NULL;
    qj *single = qj_get(body, r->name);
    qj *bulk = qj_get(body, r->collection);
    if (!qj_is(body, QJ_OBJECT) || (!single && !bulk) || (single && bulk) || qj_len(body) != 1)
        return qerr_set(e, QE_BAD_REQUEST, "Unable to find '%s' in request body", r->name);
    if (bulk && (!qj_is(bulk, QJ_ARRAY) || !qj_len(bulk)))
        return qerr_set(e, QE_BAD_REQUEST, "Resources required");
    qop op = {.ctx = ctx};
    if (qres_check_writable(&op, r, "create", e) < 0)
        return -1;
    if (qres_begin(&op, m, ctx, e) < 0)
        return -1;
    qj *out = bulk ? qj_array() : NULL;
    int rc = 0;
    size_t n = bulk ? qj_len(bulk) : 1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        qj *obj, *item = bulk ? qj_at(bulk, i) : single;
        /* Neutron takes a bulk item {"<name>": {...}} as the object it wraps. */
        if (bulk && qj_is(qj_get(item, r->name), QJ_OBJECT))
            item = qj_get(item, r->name);
        rc = qres_create_one(&op, r, item, false, &obj, e);
        if (rc == 0) {
            if (bulk)
                qj_append(out, obj);
            else
                out = obj;
        }
    }
    /* The answer is made before COMMIT: what cannot be answered is not done. */
    for (size_t i = 0; rc == 0 && i < (bulk ? qj_len(out) : 1); i++)
        rc = qres_view(m, ctx, r, bulk ? qj_at(out, i) : out, NULL, false, e);
    if (qmodel_finish(&op, rc, e) < 0) {
        qj_free(out);
        return -1;
    }
    qj *resp = qj_object();
    qj_set(resp, bulk ? r->collection : r->name, out);
    *ret = resp;
    return 0;
}

/* ---------- update / delete ---------- */

static int qres_check_if_match(const qresource *r, const qj *obj, int64_t want, qerr *e)
{
    if (want < 0)
        return 0;
    qj *rev = qj_get(obj, "revision_number");
    int64_t cur = rev ? rev->u.i : 0;
    if (cur != want)
        return qerr_set(e, QE_REVISION_MISMATCH,
                        "Constraint failed for %s: expected revision number %lld but the "
                        "current revision is %lld.", r->name, (long long)want, (long long)cur);
    return 0;
}

static int qres_check_may_write(qop *op, const qresource *r, const qj *obj, const char *action,
                                qerr *e)
{
    bool ok = r->may_write ? r->may_write(op, obj) : qres_is_owner(op, obj);
    return ok ? 0 : qres_policy_fail(e, action, r, NULL);
}

int qres_update_request(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                        const qj *body, int64_t if_match, qj **ret, qerr *e)
{
    *ret = NULL;
    qj *changes = qj_get(body, r->name);
    if (!qj_is(body, QJ_OBJECT) || !changes || qj_len(body) != 1)
        return qerr_set(e, QE_BAD_REQUEST, "Unable to find '%s' in request body", r->name);
    if (!qj_is(changes, QJ_OBJECT))
        return qerr_set(e, QE_BAD_REQUEST, "Invalid format for %s: an object is required",
                        r->name);
    if (qres_unknown_attrs(r, changes, e) < 0)
        return -1;
    qop op;
    if (qres_begin(&op, m, ctx, e) < 0)
        return -1;
    qj *old = NULL, *obj = NULL, *conv = qj_object();
    int rc = qres_load_visible(m, ctx, r, id, &old, e);
    if (rc == 0)
        rc = qres_check_writable(&op, r, "update", e);
    if (rc == 0)
        rc = qres_check_may_write(&op, r, old, "update", e);
    if (rc == 0)
        rc = qres_check_if_match(r, old, if_match, e);
    for (size_t i = 0; rc == 0 && i < changes->u.obj.n; i++) {
        const qattr *a = qres_attr(r, changes->u.obj.m[i].key);
        if (!(a->flags & QA_PUT)) {
            rc = qerr_set(e, QE_BAD_REQUEST, "Cannot update read-only attribute %s", a->name);
            break;
        }
        if ((a->flags & QA_ADMIN_W) && !ctx->is_admin) {
            rc = qres_policy_fail(e, "update", r, a->name);
            break;
        }
        qj *cv = qj_clone(changes->u.obj.m[i].val);
        rc = qattr_convert(&op, a, &cv, e);
        qj_set(conv, a->name, cv);
    }
    if (rc == 0) {
        obj = qj_clone(old);
        for (size_t i = 0; i < conv->u.obj.n; i++)
            qj_set(obj, conv->u.obj.m[i].key, qj_clone(conv->u.obj.m[i].val));
        if (r->on_update)
            rc = r->on_update(&op, old, obj, conv, e);
    }
    if (rc == 0 && !qj_equal(old, obj)) {
        qtouch_doc(&op.touched, r->name, old);
        qres_touch(&op, obj);
        rc = qres_store(&op, r, obj, false, e);
    }
    qj_free(old);
    qj_free(conv);
    if (rc == 0)
        rc = qres_view(m, ctx, r, obj, NULL, false, e);   /* before COMMIT, as for a create */
    if (qmodel_finish(&op, rc, e) < 0) {
        qj_free(obj);
        return -1;
    }
    qj *resp = qj_object();
    qj_set(resp, r->name, obj);
    *ret = resp;
    return 0;
}

int qres_action_request(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                        const char *action, const qj *body, qres_action_fn fn, qj **ret,
                        qerr *e)
{
    *ret = NULL;
    qop op;
    if (qres_begin(&op, m, ctx, e) < 0)
        return -1;
    qj *old = NULL, *obj = NULL;
    int rc = qres_load_visible(m, ctx, r, id, &old, e);
    if (rc == 0)
        rc = qres_check_writable(&op, r, action, e);
    if (rc == 0)
        rc = qres_check_may_write(&op, r, old, action, e);
    if (rc == 0) {
        obj = qj_clone(old);
        rc = fn(&op, obj, body, ret, e);
    }
    if (rc == 0 && !qj_equal(old, obj)) {
        qtouch_doc(&op.touched, r->name, old);
        qres_touch(&op, obj);
        rc = qres_store(&op, r, obj, false, e);
    }
    qj_free(old);
    qj_free(obj);
    if (qmodel_finish(&op, rc, e) < 0) {
        qj_free(*ret);
        *ret = NULL;
        return -1;
    }
    return 0;
}

int qres_delete_request(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                        int64_t if_match, qerr *e)
{
    qop op;
    if (qres_begin(&op, m, ctx, e) < 0)
        return -1;
    qj *old = NULL;
    int rc = qres_load_visible(m, ctx, r, id, &old, e);
    if (rc == 0)
        rc = qres_check_writable(&op, r, "delete", e);
    if (rc == 0)
        rc = qres_check_may_write(&op, r, old, "delete", e);
    if (rc == 0)
        rc = qres_check_if_match(r, old, if_match, e);
    if (rc == 0 && r->on_delete)
        rc = r->on_delete(&op, old, e);
    if (rc == 0)
        rc = qres_delete_row(&op, r, id, e);
    if (rc == 0 && r->after_delete)
        rc = r->after_delete(&op, old, e);
    qj_free(old);
    return qmodel_finish(&op, rc, e);
}

/* ---------- show / list ---------- */

int qres_show_request(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                      const qquery *q, qj **ret, qerr *e)
{
    *ret = NULL;
    qj *obj;
    if (qres_load_visible(m, ctx, r, id, &obj, e) < 0)
        return -1;
    qfields f;
    qres_parse_fields(r, q, &f);
    int rc = qres_view(m, ctx, r, obj, &f, false, e);
    free(f.names);
    if (rc < 0) {
        qj_free(obj);
        return -1;
    }
    *ret = qj_object();
    qj_set(*ret, r->name, obj);
    return 0;
}

/* A filter: one attribute, its accepted values (OR). */
typedef struct qfilter {
    const qattr *a;
    const char *sql;    /* a hidden attribute's SQL (qsql_filter), or NULL */
    size_t n;
    const char **values;
    qj **conv;      /* converted values for BOOL/INT */
    char *joined;   /* QA_FILTER_ALL: the values, one per line */
} qfilter;

typedef struct qsortkey {
    const qattr *a;
    bool desc;
} qsortkey;

typedef struct qlistspec {
    qfilter *filters;
    size_t nfilters;
    qsortkey *keys;
    size_t nkeys;
    int64_t limit;
    const char *marker;
    bool page_reverse;
    char *tags_all, *tags_any, *not_tags, *not_tags_any;   /* repeated values joined by ',' */
    const char *parent;     /* single-valued filter on parent_attr, pushed to SQL */
    char *where;            /* the hidden attributes' filters, as SQL (NULL = none) */
} qlistspec;

static bool qlist_reserved(const char *k)
{
    static const char *const res[] = {"fields", "sort_key", "sort_dir", "limit", "marker",
                                      "page_reverse", "tags", "tags-any", "not-tags",
                                      "not-tags-any", NULL};
    for (size_t i = 0; res[i]; i++)
        if (!strcmp(res[i], k))
            return true;
    return false;
}

static void qlist_join(char **dst, const char *v)
{
    char *n = *dst ? xasprintf("%s,%s", *dst, v) : xstrdup(v);
    free(*dst);
    *dst = n;
}

static void qlistspec_free(qlistspec *s)
{
    free(s->tags_all);
    free(s->tags_any);
    free(s->not_tags);
    free(s->not_tags_any);
    free(s->where);
    for (size_t i = 0; i < s->nfilters; i++) {
        for (size_t j = 0; j < s->filters[i].n; j++)
            qj_free(s->filters[i].conv[j]);
        free(s->filters[i].values);
        free(s->filters[i].conv);
        free(s->filters[i].joined);
    }
    free(s->filters);
    free(s->keys);
}

static int qlist_convert_filter(const qattr *a, const char *val, qj **ret, qerr *e)
{
    *ret = NULL;
    if (a->filter) {
        if (a->filter(NULL, val) < 0)
            return qerr_set(e, QE_BAD_REQUEST, "Invalid filter value '%s' for %s", val, a->name);
        return 0;
    }
    if (a->kind == QA_BOOL) {
        int b;
        if (qopt_parse_bool(val, &b) < 0)
            return qerr_set(e, QE_BAD_REQUEST, "Invalid filter value '%s' for %s: "
                                               "a boolean (true/false) is required", val, a->name);
        *ret = qj_bool(b);
    } else if (a->kind == QA_INT) {
        int64_t i;
        if (qhv_parse_i64(val, INT64_MIN, INT64_MAX, &i) < 0)
            return qerr_set(e, QE_BAD_REQUEST, "Invalid filter value '%s' for %s: "
                                               "an integer is required", val, a->name);
        *ret = qj_int(i);
    } else if (a->kind == QA_DICT || a->kind == QA_ANY) {
        return qerr_set(e, QE_BAD_REQUEST, "%s is invalid attribute for filtering", a->name);
    }
    return 0;
}

/* The SQL of the filters on hidden attributes: their values ORed, the
 * attributes ANDed. Values are converted booleans, never request text. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void qlistspec_where(qlistspec *s)
{
    qbuf b;
    qbuf_init(&b, 0);
    for (size_t i = 0; i < s->nfilters; i++) {
        const qfilter *f = &s->filters[i];
        if (!f->sql)
            continue;
        qbuf_puts(&b, b.len ? " AND (" : "(");
        for (size_t j = 0; j < f->n; j++) {
            qbuf_puts(&b, j ? " OR " : "");
            bool yes = qj_is(f->conv[j], QJ_BOOL) && f->conv[j]->u.b;
            qbuf_printf(&b, f->sql, yes ? "TRUE" : "FALSE");
        }
        qbuf_puts(&b, ")");
    }
    if (b.len)
        s->where = xstrdup(b.data);
    qbuf_free(&b);
}
#pragma GCC diagnostic pop

static int qlistspec_parse(const qctx *ctx, const qresource *r, const qquery *q,
                           int64_t max_limit, qlistspec *s, qerr *e)
{
    memset(s, 0, sizeof *s);
    s->limit = 0;
    size_t ndirs = 0;
    bool *dirs = NULL;
    int rc = 0;
    for (size_t i = 0; q && i < q->n && rc == 0; i++) {
        const char *k = q->kv[i].key, *v = q->kv[i].value;
        if (!strcmp(k, "sort_key")) {
            const qattr *a = qres_attr(r, v);
            if (!a || !qres_attr_visible(ctx, a) || (a->flags & QA_NOSORT) ||
                a->kind == QA_LIST || a->kind == QA_DICT) {
                rc = qerr_set(e, QE_BAD_REQUEST, "%s is invalid attribute for sort_keys", v);
                break;
            }
            s->keys = xrealloc(s->keys, (s->nkeys + 1) * sizeof *s->keys);
            s->keys[s->nkeys++] = (qsortkey){a, false};
        } else if (!strcmp(k, "sort_dir")) {
            if (strcmp(v, "asc") && strcmp(v, "desc")) {
                rc = qerr_set(e, QE_BAD_REQUEST, "%s is invalid value for sort_dirs, valid "
                                                 "value is 'asc' and 'desc'", v);
                break;
            }
            dirs = xrealloc(dirs, (ndirs + 1) * sizeof *dirs);
            dirs[ndirs++] = !strcmp(v, "desc");
        } else if (!strcmp(k, "limit")) {
            if (qhv_parse_i64(v, 0, INT64_MAX, &s->limit) < 0)
                rc = qerr_set(e, QE_BAD_REQUEST, "Limit must be an integer 0 or greater and "
                                                 "not '%s'", v);
        } else if (!strcmp(k, "marker")) {
            s->marker = v;
        } else if (!strcmp(k, "page_reverse")) {
            int b;
            if (qopt_parse_bool(v, &b) < 0)
                rc = qerr_set(e, QE_BAD_REQUEST, "Invalid value '%s' for page_reverse: a "
                                                 "boolean is required", v);
            else
                s->page_reverse = b;
        } else if (!strcmp(k, "tags")) {
            qlist_join(&s->tags_all, v);
        } else if (!strcmp(k, "tags-any")) {
            qlist_join(&s->tags_any, v);
        } else if (!strcmp(k, "not-tags")) {
            qlist_join(&s->not_tags, v);
        } else if (!strcmp(k, "not-tags-any")) {
            qlist_join(&s->not_tags_any, v);
        } else if (!qlist_reserved(k)) {
            const qattr *a = qres_attr(r, k);
            if (!a || !qres_attr_visible(ctx, a) || (a->flags & QA_NOFILTER)) {
                rc = qerr_set(e, QE_BAD_REQUEST, "%s is invalid attribute for filtering", k);
                break;
            }
            qfilter *f = NULL;
            for (size_t j = 0; j < s->nfilters; j++)
                if (s->filters[j].a == a)
                    f = &s->filters[j];
            if (!f) {
                s->filters = xrealloc(s->filters, (s->nfilters + 1) * sizeof *s->filters);
                f = &s->filters[s->nfilters++];
                memset(f, 0, sizeof *f);
                f->a = a;
                for (const qsql_filter *h = r->sql_filters; h && h->name && !f->sql; h++)
                    if (!strcmp(h->name, a->name))
                        f->sql = h->sql;
            }
            f->values = xrealloc(f->values, (f->n + 1) * sizeof *f->values);
            f->conv = xrealloc(f->conv, (f->n + 1) * sizeof *f->conv);
            f->values[f->n] = v;
            if (a->flags & QA_FILTER_ALL) {
                char *j = f->joined ? xasprintf("%s\n%s", f->joined, v) : xstrdup(v);
                free(f->joined);
                f->joined = j;
            }
            rc = qlist_convert_filter(a, v, &f->conv[f->n], e);
            f->n++;
        }
    }
    if (rc == 0)
        qlistspec_where(s);
    if (rc == 0 && ndirs != s->nkeys)
        rc = qerr_set(e, QE_BAD_REQUEST, "The number of sort_keys and sort_dirs must be same");
    for (size_t i = 0; rc == 0 && i < ndirs; i++)
        s->keys[i].desc = dirs[i];
    free(dirs);
    if (rc == 0 && max_limit > 0 && (s->limit == 0 || s->limit > max_limit))
        s->limit = max_limit;
    if (r->no_pagination) {
        s->limit = 0;
        s->marker = NULL;
        s->page_reverse = false;
    }
    for (size_t j = 0; rc == 0 && j < s->nfilters; j++)
        if (r->parent_attr && !strcmp(s->filters[j].a->name, r->parent_attr) &&
            s->filters[j].n == 1)
            s->parent = s->filters[j].values[0];
    if (rc < 0)
        qlistspec_free(s);
    return rc;
}

static bool qfilter_value_matches(const qattr *a, const qj *v, const char *q, const qj *conv)
{
    if (a->filter)
        return a->filter(v, q) == 1;
    if (!v)
        return false;
    if (conv)
        return qj_equal(v, conv);
    if (qj_is(v, QJ_STRING))
        return !strcmp(v->u.str.s, q);
    if (qj_is(v, QJ_ARRAY)) {
        for (size_t i = 0; i < qj_len(v); i++) {
            const char *s = qj_as_str(qj_at(v, i));
            if (s && !strcmp(s, q))
                return true;
        }
        return false;
    }
    if (qj_is(v, QJ_NULL))
        return !*q;
    return false;
}

static bool qtags_match(const qj *tags, const char *list, bool all)
{
    char *copy = xstrdup(list), *save = NULL;
    bool any_found = false, all_found = true;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (size_t i = 0; i < qj_len(tags) && !found; i++)
            found = !strcmp(qj_as_str(qj_at(tags, i)), t);
        any_found |= found;
        all_found &= found;
    }
    free(copy);
    return all ? all_found : any_found;
}

static bool qlist_matches(const qlistspec *s, const qj *obj)
{
    for (size_t i = 0; i < s->nfilters; i++) {
        const qfilter *f = &s->filters[i];
        if (f->sql)
            continue;   /* done by the store */
        const qj *v = qj_get(obj, f->a->name);
        bool any = false;
        if (f->joined)
            any = f->a->filter(v, f->joined) == 1;
        for (size_t j = 0; j < f->n && !any && !f->joined; j++)
            any = qfilter_value_matches(f->a, v, f->values[j], f->conv[j]);
        if (!any)
            return false;
    }
    const qj *tags = qj_get(obj, "tags");
    if (s->tags_all && !qtags_match(tags, s->tags_all, true))
        return false;
    if (s->tags_any && !qtags_match(tags, s->tags_any, false))
        return false;
    if (s->not_tags && qtags_match(tags, s->not_tags, true))
        return false;
    if (s->not_tags_any && qtags_match(tags, s->not_tags_any, false))
        return false;
    return true;
}

static int qj_scalar_cmp(const qj *a, const qj *b)
{
    int ta = a ? (int)a->type : -1, tb = b ? (int)b->type : -1;
    if (ta != tb || !a)
        return ta < tb ? -1 : ta > tb;
    switch (a->type) {
    case QJ_BOOL: return (int)a->u.b - (int)b->u.b;
    case QJ_INT: return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    case QJ_DOUBLE: return a->u.d < b->u.d ? -1 : a->u.d > b->u.d;
    case QJ_STRING: return strcmp(a->u.str.s, b->u.str.s);
    default: return 0;
    }
}

/* Order by the sort keys, then by id (Neutron appends id to keep pages stable). */
static int qlist_cmp(const qlistspec *s, const qj *a, const qj *b)
{
    for (size_t i = 0; i < s->nkeys; i++) {
        int c = qj_scalar_cmp(qj_get(a, s->keys[i].a->name), qj_get(b, s->keys[i].a->name));
        if (c)
            return s->keys[i].desc ? -c : c;
    }
    return strcmp(qj_get_str(a, "id"), qj_get_str(b, "id"));
}

static void qlist_sort(const qlistspec *s, qj **items, size_t n)
{
    if (!s->nkeys || n < 2)
        return;     /* already in id order from the store */
    /* Merge sort keeps this reentrant (several API threads sort at once). */
    qj **tmp = xmalloc(n * sizeof *tmp);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = qlist_cmp(s, items[i], items[j]) <= 0 ? items[i++] : items[j++];
            while (i < mid)
                tmp[k++] = items[i++];
            while (j < hi)
                tmp[k++] = items[j++];
        }
        memcpy(items, tmp, n * sizeof *tmp);
    }
    free(tmp);
}

int qres_list_request(qmodel *m, const qctx *ctx, const qresource *r, const qquery *q,
                      qj **ret, qlist_page *page, qerr *e)
{
    *ret = NULL;
    memset(page, 0, sizeof *page);
    qlistspec s;
    if (qlistspec_parse(ctx, r, q, m->conf ? m->conf->pagination_max_limit : -1, &s, e) < 0)
        return -1;
    qfields f;
    qres_parse_fields(r, q, &f);
    qj *marker = NULL;
    int rc = 0;
    if (qstore_begin_read(m->store, e) < 0) {
        rc = -1;
        goto out;
    }
    if (s.marker) {
        qerr le;
        if (qres_load_visible(m, ctx, r, s.marker, &marker, &le) < 0) {
            if (le.code == r->notfound)
                rc = qerr_set(e, QE_BAD_REQUEST, "marker '%s' is not a %s this request can see",
                              s.marker, r->name);
            else
                rc = -1, *e = le;   /* the store failed */
            qstore_end_read(m->store);
            goto out;
        }
    }
    qstmt *st = qres_visible_stmt(m->store, ctx, r, NULL, s.parent, s.where, e);
    if (!st) {
        rc = -1;
        qstore_end_read(m->store);
        goto out;
    }
    size_t n = 0, cap = 0;
    qj **items = NULL;
    int src;
    while ((src = qstmt_step(st)) == QSTORE_ROW) {
        qj *o = qres_parse_body(qstmt_column_text(st, 0), qstmt_column_bytes(st, 0));
        if (!o)
            continue;
        /* Filters see computed attributes too (alive). */
        if (r->on_view && r->on_view(m, o, e) < 0) {
            qj_free(o);
            rc = -1;
            break;
        }
        if (!qlist_matches(&s, o)) {
            qj_free(o);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            items = xrealloc(items, cap * sizeof *items);
        }
        items[n++] = o;
    }
    qstmt_finalize(st);
    qstore_end_read(m->store);
    if (rc == 0 && src != QSTORE_DONE)
        rc = qstore_fail(m->store, e, "list");
    qlist_sort(&s, items, n);

    /* Page: [lo, hi) of the sorted items. */
    size_t lo = 0, hi = n;
    if (marker) {
        size_t pos = 0;
        if (!s.page_reverse) {
            while (pos < n && qlist_cmp(&s, items[pos], marker) <= 0)
                pos++;
            lo = pos;
        } else {
            while (pos < n && qlist_cmp(&s, items[pos], marker) < 0)
                pos++;
            hi = pos;
        }
    }
    if (s.limit > 0 && hi - lo > (size_t)s.limit) {
        if (s.page_reverse)
            lo = hi - (size_t)s.limit;
        else
            hi = lo + (size_t)s.limit;
    }
    if (s.limit > 0 && hi == lo && rc == 0) {
        /* Past either end: Neutron links back the other way, without a marker. */
        page->has_next = s.page_reverse;
        page->has_prev = !s.page_reverse;
    } else if (s.limit > 0 && hi > lo && rc == 0) {
        /* Neutron's rule: a full page (or a reverse page) has a next link, a
         * full page (or a forward page) has a previous link. Markers are the
         * ids of the page's ends, taken before fields= may strip "id". */
        size_t cnt = hi - lo;
        page->has_next = !(cnt < (size_t)s.limit && !s.page_reverse);
        page->has_prev = !(cnt < (size_t)s.limit && s.page_reverse);
        snprintf(page->next_marker, sizeof page->next_marker, "%s",
                 qj_get_str(items[hi - 1], "id"));
        snprintf(page->prev_marker, sizeof page->prev_marker, "%s", qj_get_str(items[lo], "id"));
    }
    qj *arr = qj_array();
    for (size_t i = 0; i < n; i++) {
        if (i >= lo && i < hi && rc == 0 && (rc = qres_view(m, ctx, r, items[i], &f, true, e)) == 0)
            qj_append(arr, items[i]);
        else
            qj_free(items[i]);
    }
    free(items);
    if (rc < 0) {
        qj_free(arr);
        goto out;
    }
    *ret = qj_object();
    qj_set(*ret, r->collection, arr);
out:
    qj_free(marker);
    free(f.names);
    qlistspec_free(&s);
    return rc;
}

static bool qlist_needs_parse(const qctx *ctx, const qresource *r, const qlistspec *s,
                              const qquery *q)
{
    if (!ctx->is_admin || r->on_view || r->on_show || s->nkeys || s->limit || s->marker || s->tags_all ||
        s->tags_any ||
        s->not_tags || s->not_tags_any)
        return true;
    for (size_t i = 0; q && i < q->n; i++)
        if (!strcmp(q->kv[i].key, "fields"))
            return true;
    for (size_t i = 0; i < s->nfilters; i++)
        if (!s->filters[i].sql &&
            (!s->parent || s->filters[i].n != 1 ||
             strcmp(s->filters[i].a->name, r->parent_attr)))
            return true;
    return false;
}

int qres_list_text(qmodel *m, const qctx *ctx, const qresource *r, const qquery *q, qbuf *out,
                   qlist_page *page, qerr *e)
{
    memset(page, 0, sizeof *page);
    qlistspec s;
    if (qlistspec_parse(ctx, r, q, m->conf ? m->conf->pagination_max_limit : -1, &s, e) < 0)
        return -1;
    bool parse = qlist_needs_parse(ctx, r, &s, q);
    if (parse) {
        qlistspec_free(&s);
        qj *obj;
        if (qres_list_request(m, ctx, r, q, &obj, page, e) < 0)
            return -1;
        qj_emit(obj, out, false);
        qj_free(obj);
        return 0;
    }
    qstmt *st = qres_visible_stmt(m->store, ctx, r, NULL, s.parent, s.where, e);
    qlistspec_free(&s);
    if (!st)
        return -1;
    qbuf_printf(out, "{\"%s\":[", r->collection);
    int rc, n = 0;
    while ((rc = qstmt_step(st)) == QSTORE_ROW) {
        if (n++)
            qbuf_putc(out, ',');
        qbuf_append(out, qstmt_column_text(st, 0), (size_t)qstmt_column_bytes(st, 0));
    }
    qstmt_finalize(st);
    if (rc != QSTORE_DONE)
        return qstore_fail(m->store, e, "list");
    qbuf_puts(out, "]}");
    return 0;
}

/* ---------- tags ---------- */

#define QRES_MAX_TAGS 50

static int qres_check_tag(const char *t, qerr *e)
{
    size_t n = strlen(t);
    if (!n || n > 255 || strchr(t, ','))
        return qerr_set(e, QE_BAD_REQUEST, "Invalid input for tags. Reason: '%.300s' is not a "
                                           "valid tag (1 to 255 characters, no comma).", t);
    return 0;
}

static bool qres_has_tag(const qj *tags, const char *t)
{
    for (size_t i = 0; i < qj_len(tags); i++)
        if (!strcmp(qj_as_str(qj_at(tags, i)), t))
            return true;
    return false;
}

/* Tags are a set: the same tags in another order are no change. */
static bool qres_same_tags(const qj *a, const qj *b)
{
    if (qj_len(a) != qj_len(b))
        return false;
    for (size_t i = 0; i < qj_len(a); i++)
        if (!qres_has_tag(b, qj_as_str(qj_at(a, i))))
            return false;
    return true;
}

static qj *qres_tags_body(const qj *tags)
{
    qj *o = qj_object();
    qj_set(o, "tags", qj_clone(tags));
    return o;
}

int qres_tags_request(qmodel *m, const qctx *ctx, const qresource *r, const char *id,
                      const char *method, const char *tag, const qj *body, qj **ret,
                      int *status, qerr *e)
{
    *ret = NULL;
    if (!r->has_tags)
        return qerr_set(e, QE_NOT_FOUND, "The resource could not be found.");
    bool get = !strcmp(method, "GET"), put = !strcmp(method, "PUT"),
         del = !strcmp(method, "DELETE");
    if (!get && !put && !del)
        return qerr_set(e, QE_METHOD_NOT_ALLOWED, "The server could not comply with the request "
                                                  "since it is either malformed or otherwise "
                                                  "incorrect.");
    if (tag && qres_check_tag(tag, e) < 0)
        return -1;
    qj *newtags = NULL;
    if (put && !tag) {
        const qj *t = qj_get(body, "tags");
        if (!qj_is(body, QJ_OBJECT) || !qj_is(t, QJ_ARRAY) || qj_len(body) != 1)
            return qerr_set(e, QE_BAD_REQUEST, "Invalid input for tags. Reason: the body must "
                                               "be {\"tags\": [...]}.");
        if (qj_len(t) > QRES_MAX_TAGS)
            return qerr_set(e, QE_BAD_REQUEST, "Invalid input for tags. Reason: more than %d "
                                               "tags.", QRES_MAX_TAGS);
        newtags = qj_array();
        for (size_t i = 0; i < qj_len(t); i++) {
            const char *s = qj_as_str(qj_at(t, i));
            if (!s || qres_check_tag(s, e) < 0) {
                qj_free(newtags);
                return s ? -1 : qerr_set(e, QE_BAD_REQUEST, "Invalid input for tags. Reason: "
                                                            "tags must be strings.");
            }
            if (qres_has_tag(newtags, s)) {
                qj_free(newtags);
                return qerr_set(e, QE_INVALID_INPUT, "Invalid input for operation: Duplicate "
                                                     "items in the list: '%.300s'.", s);
            }
            qj_append(newtags, qj_str(s));
        }
    }
    if (get) {
        qj *obj;
        if (qres_load_visible(m, ctx, r, id, &obj, e) < 0)
            return -1;
        const qj *tags = qj_get(obj, "tags");
        int rc = 0;
        if (!tag) {
            *ret = qres_tags_body(tags);
            *status = 200;
        } else if (qres_has_tag(tags, tag)) {
            *status = 204;
        } else {
            rc = qerr_set(e, QE_TAG_NOT_FOUND, "Tag %s could not be found.", tag);
        }
        qj_free(obj);
        return rc;
    }
    qop op;
    if (qres_begin(&op, m, ctx, e) < 0) {
        qj_free(newtags);
        return -1;
    }
    qj *obj = NULL;
    int rc = qres_load_visible(m, ctx, r, id, &obj, e);
    if (rc == 0)
        rc = qres_check_writable(&op, r, "update", e);
    if (rc == 0)
        rc = qres_check_may_write(&op, r, obj, "update", e);
    qj *tags = rc == 0 ? qj_get(obj, "tags") : NULL;
    qj *result = NULL;
    if (rc == 0) {
        if (put && !tag) {
            result = newtags;
            newtags = NULL;
            *status = 200;
        } else if (put) {
            result = qj_clone(tags);
            if (!qres_has_tag(result, tag)) {
                if (qj_len(result) >= QRES_MAX_TAGS)
                    rc = qerr_set(e, QE_BAD_REQUEST, "Invalid input for tags. Reason: more than "
                                                     "%d tags.", QRES_MAX_TAGS);
                else
                    qj_append(result, qj_str(tag));
            }
            *status = 201;
        } else if (tag) {
            if (!qres_has_tag(tags, tag)) {
                rc = qerr_set(e, QE_TAG_NOT_FOUND, "Tag %s could not be found.", tag);
            } else {
                result = qj_array();
                for (size_t i = 0; i < qj_len(tags); i++)
                    if (strcmp(qj_as_str(qj_at(tags, i)), tag))
                        qj_append(result, qj_clone(qj_at(tags, i)));
            }
            *status = 204;
        } else {
            result = qj_array();
            *status = 204;
        }
    }
    if (rc == 0 && !qres_same_tags(result, tags)) {
        qj_set(obj, "tags", qj_clone(result));
        qres_touch(&op, obj);
        rc = qres_store(&op, r, obj, false, e);
    }
    qj_free(obj);
    qj_free(newtags);
    if (qmodel_finish(&op, rc, e) < 0) {
        qj_free(result);
        return -1;
    }
    if (*status == 200)
        *ret = qres_tags_body(result);
    qj_free(result);
    return 0;
}
