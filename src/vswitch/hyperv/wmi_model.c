/* wmi_model: the class (wmi_model.h): instances, persistence, jobs, methods,
 * set-up; the rules it enforces are in wmi_model_rules.c. */
#include "vswitch/hyperv/wmi_model_int.h"
#include "vswitch/objmap.h"
#include "lib/file.h"
#include "lib/util.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* ---------- helpers ---------- */

void qwm_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

char *qwm_guid(qwmi *w)
{
    w->seq++;
    return xasprintf("%08llx-0000-4000-8000-%012llx", (unsigned long long)w->seq,
                     (unsigned long long)w->seq);
}

/* A copy for the caller: without the model's own members; NULL if pending. */
qj *qwm_public(const qj *i)
{
    if (qj_get(i, "__pending"))
        return NULL;
    qj *o = qj_object();
    for (size_t k = 0; k < i->u.obj.n; k++) {
        const char *key = i->u.obj.m[k].key;
        if (!strncmp(key, "__", 2) && strcmp(key, "__CLASS") && strcmp(key, "__PATH"))
            continue;
        qj_set_new(o, key, qj_clone(i->u.obj.m[k].val));
    }
    return o;
}

static void qwm_set_version(qwmi *w, const char *v)
{
    free(w->version);
    w->version = xstrdup(v);
    w->major = w->minor = 0;
    w->build = 0;
    sscanf(v, "%d.%d.%ld", &w->major, &w->minor, &w->build);
}

static void qwm_reindex(qwmi *w);

/* ---------- persistence ---------- */

static qj *qwm_state(const qwmi *w)
{
    qj *s = qj_object();
    qj_set(s, "version", qj_str(w->version));
    qj_set(s, "seq", qj_int(w->seq));
    qj_set(s, "instances", qvs_map_to_object(w->inst));
    return s;
}

static void qwm_save(qwmi *w)
{
    if (!w->file)
        return;
    qj *st = qwm_state(w);
    char *text = qj_to_string(st);
    qj_free(st);
    if (qfile_write_atomic(w->file, text, false) == 0)
        qplat_file_id(w->file, &w->seen);
    free(text);
}

static int qwm_load(qwmi *w, char *err, size_t errlen)
{
    size_t len;
    char *text = qfile_read(w->file, &len);
    if (!text) {
        if (errno == ENOENT)
            return 0;
        qwm_err(err, errlen, "cannot read %s", w->file);
        return -1;
    }
    qj *st = len ? qj_parse(text, len, NULL, NULL) : qj_object();
    free(text);
    if (!qj_is(st, QJ_OBJECT)) {
        qj_free(st);
        qwm_err(err, errlen, "%s: not a JSON object", w->file);
        return -1;
    }
    if (qj_get_str(st, "version"))
        qwm_set_version(w, qj_get_str(st, "version"));
    w->seq = qj_get_int(st, "seq", w->seq);
    qvs_map_free(w->inst);
    w->inst = qvs_map_from_object(qj_get(st, "instances"));
    qwm_reindex(w);
    qj_free(st);
    qplat_file_id(w->file, &w->seen);
    return 0;
}

/* Another process (qhvctl, a test) changed the file: read it again. */
static void qwm_sync(qwmi *w)
{
    if (!w->file)
        return;
    qplat_fileid now;
    qplat_file_id(w->file, &now);
    if (!now.exists || qplat_fileid_same(&now, &w->seen))
        return;
    char err[256];
    qwm_load(w, err, sizeof err);
}

/* ---------- lookups ---------- */

qj *qwm_find(const qwmi *w, const char *cls, const char *prop, const char *val)
{
    const char *k;
    qj *i;
    for (size_t n = 0; n < qvs_map_end(w->inst); n++)
        if (qvs_map_at(w->inst, n, &k, &i) && qwm_is(i, cls) && !qj_get(i, "__pending")) {
            const char *v = qj_get_str(i, prop);
            if (v && !strcmp(v, val))
                return i;
        }
    return NULL;
}

/* The allocation of a feature the model made: its InstanceID without the
 * last "\\F<n>". */
static char *qwm_feat_owner(const qj *inst)
{
    const char *iid = qj_get_str(inst, "InstanceID");
    const char *f = iid ? strrchr(iid, '\\') : NULL;
    return f && f[1] == 'F' ? xstrndup(iid, (size_t)(f - iid)) : NULL;
}

static void qwm_index(qwmi *w, const char *path, const qj *inst, bool add)
{
    char *owner = qwm_feat_owner(inst);
    if (!owner)
        return;
    qj *set = qvs_map_get(w->feat, owner);
    if (add) {
        if (!set) {
            set = qj_object();
            qvs_map_put(w->feat, owner, set);
        }
        qj_set_new(set, path, qj_null());
    } else if (set) {
        qj_remove(set, path);
    }
    free(owner);
}

qj *qwm_add(qwmi *w, qj *inst, const char *path)
{
    qj_set(inst, "__PATH", qj_str(path));
    qwm_index(w, path, inst, true);
    qvs_map_put(w->inst, path, inst);
    return inst;
}

bool qwm_del(qwmi *w, const char *path)
{
    const qj *i = path ? qvs_map_get(w->inst, path) : NULL;
    if (!i)
        return false;
    char *p = xstrdup(path);
    qwm_index(w, p, i, false);
    qvs_map_del(w->inst, p);
    free(p);
    return true;
}

static void qwm_reindex(qwmi *w)
{
    qvs_map_free(w->feat);
    w->feat = qvs_map_new();
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i))
            qwm_index(w, k, i, true);
}

/* The features of the allocation with that InstanceID (prefix match, as
 * os-win finds them), class cls (NULL: all). */
size_t qwm_features(const qwmi *w, const char *alloc_iid, const char *cls, const char **out,
                           size_t max)
{
    const qj *set = qvs_map_get(w->feat, alloc_iid);
    size_t n = 0;
    for (size_t x = 0; set && x < set->u.obj.n; x++) {
        const char *k = set->u.obj.m[x].key;
        const qj *i = qvs_map_get(w->inst, k);
        if (!i || (cls && !qwm_is(i, cls)))
            continue;
        if (n < max)
            out[n] = k;
        n++;
    }
    return n;
}

/* ---------- jobs ---------- */

qj *qwm_out(int64_t rv)
{
    qj *o = qj_object();
    qj_set(o, "ReturnValue", qj_int(rv));
    return o;
}

/* Starts a job whose effects (pending adds, removes, modifications) settle
 * when it ends; or, without job faults, settles them now. */
static void qwm_finish(qwmi *w, qj *job_or_null, const qj *adds, const qj *dels, const qj *mods,
                       bool ok)
{
    for (size_t i = 0; i < qj_len(adds); i++) {
        const char *p = qj_as_str(qj_at(adds, i));
        qj *inst = qvs_map_get(w->inst, p);
        if (!inst)
            continue;
        if (ok)
            qj_remove(inst, "__pending");
        else
            qwm_del(w, p);
    }
    for (size_t i = 0; ok && i < qj_len(dels); i++)
        qwm_del(w, qj_as_str(qj_at(dels, i)));
    for (size_t i = 0; ok && i < qj_len(mods); i++) {
        const qj *m = qj_at(mods, i);
        qj *inst = qvs_map_get(w->inst, qj_get_str(m, "__PATH"));
        for (size_t k = 0; inst && k < m->u.obj.n; k++) {
            const char *key = m->u.obj.m[k].key;
            if (strncmp(key, "__", 2) && strcmp(key, "InstanceID"))
                qj_set(inst, key, qj_clone(m->u.obj.m[k].val));
        }
    }
    (void)job_or_null;
}

void qwm_settle(qwmi *w, qj *out, qj *adds, qj *dels, qj *mods)
{
    if (w->job_polls <= 0 && w->fail_jobs <= 0) {
        qwm_finish(w, NULL, adds, dels, mods, true);
        qj_free(adds);
        qj_free(dels);
        qj_free(mods);
        return;
    }
    char *g = qwm_guid(w);
    char *path = xasprintf(C_JOB ".InstanceID=\"%s\"", g);
    qj *job = qj_object();
    qj_set(job, "__CLASS", qj_str(C_JOB));
    qj_set(job, "InstanceID", qj_str(g));
    qj_set(job, "JobState", qj_int(4));
    qj_set(job, "ErrorCode", qj_int(0));
    qj_set(job, "ErrorDescription", qj_str(""));
    qj_set(job, "__polls", qj_int(w->job_polls > 0 ? w->job_polls : 1));
    qj_set(job, "__fail", qj_bool(w->fail_jobs > 0));
    if (w->fail_jobs > 0)
        w->fail_jobs--;
    qj_set(job, "__adds", adds);
    qj_set(job, "__dels", dels);
    qj_set(job, "__mods", mods);
    qwm_add(w, job, path);
    qj_set(out, "ReturnValue", qj_int(QWMI_RET_JOB_STARTED));
    qj_set(out, "Job", qj_str(path));
    free(g);
    free(path);
}

/* A get() of a running job advances it. */
static void qwm_job_poll(qwmi *w, qj *job)
{
    if (qj_get_int(job, "JobState", 0) != 4)
        return;
    qj *p = qj_get(job, "__polls");
    if (--p->u.i > 0)
        return;
    bool fail = qj_get_bool(job, "__fail", false);
    qwm_finish(w, job, qj_get(job, "__adds"), qj_get(job, "__dels"), qj_get(job, "__mods"), !fail);
    qj_set(job, "JobState", qj_int(fail ? 10 : 7));
    if (fail) {
        qj_set(job, "ErrorCode", qj_int(w->fail_code ? w->fail_code : 32768));
        qj_set(job, "ErrorDescription",
               qj_str(w->fail_text ? w->fail_text : "The operation failed."));
    }
}

/* ---------- methods ---------- */

qj *qwm_rv_err(int64_t rv, const char *why, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", why);
    qj *o = qwm_out(rv);
    qj_set(o, "__why", qj_str(why));    /* the model's reason, for tests */
    return o;
}

static qj *qwm_add_resource(qwmi *w, const qj *in, char *err, size_t errlen)
{
    const qj *list = qj_get(in, "ResourceSettings");
    qj *adds = qj_array(), *paths = qj_array();
    for (size_t i = 0; i < qj_len(list); i++) {
        const qj *r = qj_at(list, i);
        const char *parent = qj_get_str(r, "Parent");
        const qj *nic = parent ? qvs_map_get(w->inst, parent) : NULL;
        const char *sw = qj_as_str(qj_at(qj_get(r, "HostResource"), 0));
        if (!qwm_is(r, C_ALLOC) || !qwm_is(nic, C_NIC) || !sw ||
            !qwm_is(qvs_map_get(w->inst, sw), C_SWITCH)) {
            qj_free(adds);
            qj_free(paths);
            return qwm_rv_err(RV_INVALID, "an allocation needs Parent (a NIC) and HostResource "
                                          "(a switch)", err, errlen);
        }
        if (qwm_find(w, C_ALLOC, "Parent", parent)) {
            qj_free(adds);
            qj_free(paths);
            return qwm_rv_err(RV_STATE, "the NIC is connected already", err, errlen);
        }
        qj *a = qj_clone(r);
        qj_remove(a, "__PATH");
        char *iid = xasprintf("%s\\C%lld", qj_get_str(nic, "InstanceID"), (long long)++w->seq);
        char *path = xasprintf(C_ALLOC ".InstanceID=\"%s\"", iid);
        qj_set(a, "InstanceID", qj_str(iid));
        if (!qj_get(a, "EnabledState"))
            qj_set(a, "EnabledState", qj_int(2));
        qj_set(a, "__pending", qj_bool(true));
        qwm_add(w, a, path);
        qj_append(adds, qj_str(path));
        qj_append(paths, qj_str(path));
        free(iid);
        free(path);
    }
    qj *out = qwm_out(0);
    qj_set(out, "ResultingResourceSettings", paths);
    qwm_settle(w, out, adds, qj_array(), qj_array());
    return out;
}

static qj *qwm_modify(qwmi *w, const qj *in, const char *param, bool feature, char *err,
                      size_t errlen)
{
    const qj *list = qj_get(in, param);
    qj *mods = qj_array();
    for (size_t i = 0; i < qj_len(list); i++) {
        const qj *m = qj_at(list, i);
        const char *p = qj_get_str(m, "__PATH");
        const qj *cur = p ? qvs_map_get(w->inst, p) : NULL;
        if (!cur || !qwm_cls(m) || strcmp(qwm_cls(m), qwm_cls(cur))) {
            qj_free(mods);
            return qwm_rv_err(RV_INVALID, "no such setting to modify", err, errlen);
        }
        if (feature) {
            /* Validate the result: the current instance with m's members. */
            qj *res = qj_clone(cur);
            for (size_t k = 0; k < m->u.obj.n; k++)
                if (strncmp(m->u.obj.m[k].key, "__", 2))
                    qj_set(res, m->u.obj.m[k].key, qj_clone(m->u.obj.m[k].val));
            const char *iid = qj_get_str(cur, "InstanceID");
            const char *slash = iid ? strrchr(iid, '\\') : NULL;
            char *alloc = slash ? xstrndup(iid, (size_t)(slash - iid)) : xstrdup("");
            size_t n = qwm_features(w, alloc, NULL, NULL, 0);
            const char **fs = xcalloc(n + 1, sizeof *fs);
            qwm_features(w, alloc, NULL, fs, n);
            qvs_map *taken = qwm_taken(w, fs, n, p);
            int rc = qwm_check_feature(w, res, fs, n, p, NULL, taken, err, errlen);
            qvs_map_free(taken);
            free(fs);
            free(alloc);
            qj_free(res);
            if (rc < 0) {
                qj_free(mods);
                qj *o = qwm_out(RV_INVALID);
                qj_set(o, "__why", qj_str(err));
                return o;
            }
        } else if (qwm_is(m, C_ALLOC)) {
            const char *sw = qj_as_str(qj_at(qj_get(m, "HostResource"), 0));
            if (sw && !qwm_is(qvs_map_get(w->inst, sw), C_SWITCH)) {
                qj_free(mods);
                return qwm_rv_err(RV_INVALID, "HostResource is not a switch", err, errlen);
            }
        }
        qj_append(mods, qj_clone(m));
    }
    qj *out = qwm_out(0);
    qwm_settle(w, out, qj_array(), qj_array(), mods);
    return out;
}

static qj *qwm_remove(qwmi *w, const qj *in, const char *param, bool resource, char *err,
                      size_t errlen)
{
    const qj *list = qj_get(in, param);
    qj *dels = qj_array();
    for (size_t i = 0; i < qj_len(list); i++) {
        const char *p = qj_as_str(qj_at(list, i));
        const qj *cur = p ? qvs_map_get(w->inst, p) : NULL;
        if (!cur || qj_get(cur, "__pending")) {
            qj_free(dels);
            return qwm_rv_err(RV_INVALID, "no such setting to remove", err, errlen);
        }
        qj_append(dels, qj_str(p));
        if (resource && qwm_is(cur, C_ALLOC)) {
            /* The port's features go with it. */
            const char *iid = qj_get_str(cur, "InstanceID");
            size_t n = qwm_features(w, iid, NULL, NULL, 0);
            const char **fs = xcalloc(n + 1, sizeof *fs);
            qwm_features(w, iid, NULL, fs, n);
            for (size_t k = 0; k < n; k++)
                qj_append(dels, qj_str(fs[k]));
            free(fs);
        }
    }
    qj *out = qwm_out(0);
    qwm_settle(w, out, qj_array(), dels, qj_array());
    return out;
}

static qj *qwm_add_features(qwmi *w, const qj *in, char *err, size_t errlen)
{
    const char *ap = qj_get_str(in, "AffectedConfiguration");
    const qj *alloc = ap ? qvs_map_get(w->inst, ap) : NULL;
    if (!qwm_is(alloc, C_ALLOC) || qj_get(alloc, "__pending"))
        return qwm_rv_err(RV_INVALID, "connection not found (AffectedConfiguration is not a "
                                      "port allocation)", err, errlen);
    const char *aiid = qj_get_str(alloc, "InstanceID");
    const qj *list = qj_get(in, "FeatureSettings");
    size_t n = qwm_features(w, aiid, NULL, NULL, 0);
    const char **fs = xcalloc(n + 1, sizeof *fs);
    qwm_features(w, aiid, NULL, fs, n);
    qvs_map *taken = qwm_taken(w, fs, n, NULL);
    for (size_t i = 0; i < qj_len(list); i++)
        if (qwm_check_feature(w, qj_at(list, i), fs, n, NULL, list, taken, err, errlen) < 0) {
            free(fs);
            qvs_map_free(taken);
            qj *o = qwm_out(RV_INVALID);
            qj_set(o, "__why", qj_str(err));
            return o;
        }
    qvs_map_free(taken);
    free(fs);
    qj *adds = qj_array(), *paths = qj_array();
    for (size_t i = 0; i < qj_len(list); i++) {
        const qj *f = qj_at(list, i);
        char *iid = xasprintf("%s\\F%lld", aiid, (long long)++w->seq);
        char *path = xasprintf("%s.InstanceID=\"%s\"", qwm_cls(f), iid);
        qj_append(paths, qj_str(path));
        if (w->drop_cls && !strcmp(w->drop_cls, qwm_cls(f))) {
            free(iid);
            free(path);
            continue;   /* success reported, nothing added */
        }
        qj *a = qj_clone(f);
        qj_remove(a, "__PATH");
        qj_set(a, "InstanceID", qj_str(iid));
        if (qwm_is(a, C_XACL) && !qj_get_bool(a, "Stateful", false) &&
            !qj_get(a, "IdleSessionTimeout"))
            qj_set(a, "IdleSessionTimeout", qj_int(0));
        qj_set(a, "__pending", qj_bool(true));
        qwm_add(w, a, path);
        qj_append(adds, qj_str(path));
        free(iid);
        free(path);
    }
    free(w->drop_cls);
    w->drop_cls = NULL;
    qj *out = qwm_out(0);
    qj_set(out, "ResultingFeatureSettings", paths);
    qwm_settle(w, out, adds, qj_array(), qj_array());
    return out;
}

/* ---------- the class ---------- */

static void qwm_close(qwmi *w)
{
    if (!w)
        return;
    qvs_map_free(w->inst);
    qvs_map_free(w->feat);
    free(w->file);
    free(w->version);
    free(w->fail_text);
    free(w->drop_cls);
    free(w);
}

/* SELECT * FROM Class [WHERE Prop = 'value'] */
static int qwm_query(qwmi *w, const char *ns, const char *wql, qj **rows, char *err,
                     size_t errlen)
{
    *rows = NULL;
    qwm_sync(w);
    w->c.enumerations++;
    char cls[128] = "", prop[128] = "", val[512] = "";
    int n = sscanf(wql, "SELECT * FROM %127s WHERE %127s = '%511[^']'", cls, prop, val);
    if (n != 1 && n != 3) {
        qwm_err(err, errlen, "the model understands SELECT * FROM C [WHERE P = 'v'], not: %s",
                wql);
        return -EINVAL;
    }
    if (!qwm_class_exists(w, cls)) {
        qwm_err(err, errlen, "invalid class %s (WBEM_E_INVALID_CLASS 0x80041010)", cls);
        return -ENOENT;
    }
    qj *out = qj_array();
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++) {
        if (!qvs_map_at(w->inst, x, &k, &i) || !qwm_is(i, cls))
            continue;
        if (n == 3) {
            const char *v = qj_get_str(i, prop);
            if (!v || strcasecmp(v, val))
                continue;
        }
        qj *p = qwm_public(i);
        if (p)
            qj_append(out, p);
    }
    *rows = out;
    return 0;
}

static int qwm_get(qwmi *w, const char *ns, const char *path, qj **obj, char *err, size_t errlen)
{
    *obj = NULL;
    qwm_sync(w);
    w->c.gets++;
    qj *i = qvs_map_get(w->inst, path);
    if (qwm_is(i, C_JOB))
        qwm_job_poll(w, i);
    qj *p = i ? qwm_public(i) : NULL;
    if (!p) {
        qwm_err(err, errlen, "%s: not found (WBEM_E_NOT_FOUND 0x80041002)", path);
        return -ENOENT;
    }
    *obj = p;
    if (qwm_is(i, C_JOB))
        qwm_save(w);
    return 0;
}

static int qwm_call(qwmi *w, const char *ns, const char *path, const char *method, const qj *in,
                    qj **out, char *err, size_t errlen)
{
    *out = NULL;
    qwm_sync(w);
    w->c.calls++;
    bool handled = false;
    qj *o = qwm_systems_call(w, path, method, in, &handled, err, errlen);
    if (handled) {
        w->c.writes++;
        qwm_save(w);
        *out = o;
        return o ? 0 : -EINVAL;
    }
    if (strcmp(path, VSMS_PATH)) {
        qwm_err(err, errlen, "%s: no such object with methods in the model", path);
        return -ENOENT;
    }
    if (!strcmp(method, "AddResourceSettings"))
        o = qwm_add_resource(w, in, err, errlen);
    else if (!strcmp(method, "ModifyResourceSettings"))
        o = qwm_modify(w, in, "ResourceSettings", false, err, errlen);
    else if (!strcmp(method, "RemoveResourceSettings"))
        o = qwm_remove(w, in, "ResourceSettings", true, err, errlen);
    else if (!strcmp(method, "AddFeatureSettings"))
        o = qwm_add_features(w, in, err, errlen);
    else if (!strcmp(method, "ModifyFeatureSettings"))
        o = qwm_modify(w, in, "FeatureSettings", true, err, errlen);
    else if (!strcmp(method, "RemoveFeatureSettings"))
        o = qwm_remove(w, in, "FeatureSettings", false, err, errlen);
    else {
        qwm_err(err, errlen, "method %s is not modelled (WBEM_E_METHOD_NOT_IMPLEMENTED)", method);
        return -EOPNOTSUPP;
    }
    w->c.writes++;
    qwm_save(w);
    *out = o;
    return 0;
}

/* "<Class>.K1=\"v\",K2=\"v\"" for the key of a NetWNV instance. */
static char *qwm_wnv_path(const qj *i, const char *const *keys)
{
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_printf(&b, "%s.", qwm_cls(i));
    for (size_t k = 0; keys[k]; k++) {
        const qj *v = qj_get(i, keys[k]);
        char *t = qj_is(v, QJ_STRING) ? xstrdup(v->u.str.s) : qj_to_string(v);
        qbuf_printf(&b, "%s%s=\"%s\"", k ? "," : "", keys[k], t);
        free(t);
    }
    char *s = qbuf_steal(&b, NULL);
    qbuf_free(&b);
    return s;
}

static int qwm_put(qwmi *w, const char *ns, const qj *inst, char **path, char *err, size_t errlen)
{
    if (path)
        *path = NULL;
    qwm_sync(w);
    w->c.writes++;
    const char *cls = qwm_cls(inst);
    if (!cls || !qwm_class_exists(w, cls)) {
        qwm_err(err, errlen, "invalid class %s (WBEM_E_INVALID_CLASS 0x80041010)", cls);
        return -ENOENT;
    }
    if (strcmp(ns, QWMI_NS_STDCIMV2) || qwm_check_wnv(w, inst, err, errlen) < 0) {
        if (strcmp(ns, QWMI_NS_STDCIMV2))
            qwm_err(err, errlen, "%s lives in root\\StandardCimv2", cls);
        return -EINVAL;
    }
    const char *const *keys, *const *ro;
    qwm_wnv_schema(cls, &keys, &ro);
    char *p = qwm_wnv_path(inst, keys);
    qj *cur = qvs_map_get(w->inst, p);
    if (cur) {
        for (size_t k = 0; ro[k]; k++)
            if (!qj_equal(qj_get(cur, ro[k]), qj_get(inst, ro[k])) && qj_get(inst, ro[k])) {
                qwm_err(err, errlen, "%s is read-only (remove and create the object instead)",
                        ro[k]);
                free(p);
                return -EINVAL;
            }
    }
    qj *n = qj_clone(inst);
    qj_remove(n, "__PATH");
    if (cur)
        for (size_t k = 0; ro[k]; k++)
            if (!qj_get(n, ro[k]) && qj_get(cur, ro[k]))
                qj_set(n, ro[k], qj_clone(qj_get(cur, ro[k])));
    qwm_add(w, n, p);
    if (path)
        *path = xstrdup(p);
    free(p);
    qwm_save(w);
    return 0;
}

static int qwm_delete(qwmi *w, const char *ns, const char *path, char *err, size_t errlen)
{
    qwm_sync(w);
    w->c.writes++;
    if (!qwm_del(w, path)) {
        qwm_err(err, errlen, "%s: not found (WBEM_E_NOT_FOUND 0x80041002)", path);
        return -ENOENT;
    }
    qwm_save(w);
    return 0;
}

static int qwm_value_map(qwmi *w, const char *ns, const char *cls, const char *prop, qj **map,
                         char *err, size_t errlen)
{
    (void)w, (void)ns, (void)cls, (void)prop;
    *map = NULL;
    qwm_err(err, errlen, "value maps are not modelled yet");
    return -ENOENT;
}

const qwmi_class qwmi_model_class = {
    .name = "model",
    .close = qwm_close,
    .query = qwm_query,
    .get = qwm_get,
    .call = qwm_call,
    .put_instance = qwm_put,
    .delete_instance = qwm_delete,
    .value_map = qwm_value_map,
};

int qwmi_model_open(const char *state_file, const char *version, qwmi_transport *ret, char *err,
                    size_t errlen)
{
    ret->cls = &qwmi_model_class;
    ret->w = NULL;
    qwmi *w = xcalloc(1, sizeof *w);
    w->inst = qvs_map_new();
    w->feat = qvs_map_new();
    qwm_set_version(w, "10.0.14393");
    if (state_file && *state_file) {
        w->file = xstrdup(state_file);
        if (qwm_load(w, err, errlen) < 0) {
            qwm_close(w);
            return -1;
        }
    }
    if (version && *version)
        qwm_set_version(w, version);
    if (!qvs_map_get(w->inst, VSMS_PATH)) {
        qj *s = qj_object();
        qj_set(s, "__CLASS", qj_str("Msvm_VirtualSystemManagementService"));
        qj_set(s, "Name", qj_str("vmms"));
        qwm_add(w, s, VSMS_PATH);
    }
    qj *os = qj_object();
    qj_set(os, "__CLASS", qj_str("Win32_OperatingSystem"));
    qj_set(os, "Version", qj_str(w->version));
    qwm_add(w, os, OS_PATH);
    qwm_save(w);
    ret->w = w;
    return 0;
}

/* ---------- set-up, counters, faults ---------- */

void qwmi_model_counters_get(qwmi *w, qwmi_model_counters *ret) { *ret = w->c; }

void qwmi_model_counters_reset(qwmi *w) { memset(&w->c, 0, sizeof w->c); }

int qwmi_model_add_switch(qwmi *w, const char *name)
{
    qwm_sync(w);
    if (qwm_find(w, C_SWITCH, "ElementName", name))
        return 0;
    char *g = qwm_guid(w);
    char *path = xasprintf(C_SWITCH ".Name=\"%s\"", g);
    qj *s = qj_object();
    qj_set(s, "__CLASS", qj_str(C_SWITCH));
    qj_set(s, "Name", qj_str(g));
    qj_set(s, "ElementName", qj_str(name));
    qwm_add(w, s, path);
    free(g);
    free(path);
    qwm_save(w);
    return 0;
}

int qwmi_model_add_nic(qwmi *w, const char *vm, const char *name, const char *mac)
{
    qwm_sync(w);
    char *vmid = NULL;
    const qj *v = qwm_find(w, "Msvm_ComputerSystem", "ElementName", vm);
    if (v) {
        vmid = xstrdup(qj_get_str(v, "Name"));
    } else {
        vmid = qwm_guid(w);
        char *path = xasprintf("Msvm_ComputerSystem.Name=\"%s\"", vmid);
        qj *s = qj_object();
        qj_set(s, "__CLASS", qj_str("Msvm_ComputerSystem"));
        qj_set(s, "Name", qj_str(vmid));
        qj_set(s, "ElementName", qj_str(vm));
        qwm_add(w, s, path);
        free(path);
    }
    char *g = qwm_guid(w);
    char *iid = xasprintf("Microsoft:%s\\%s", vmid, g);
    char *path = xasprintf(C_NIC ".InstanceID=\"%s\"", iid);
    qj *n = qj_object();
    qj_set(n, "__CLASS", qj_str(C_NIC));
    qj_set(n, "InstanceID", qj_str(iid));
    qj_set(n, "ElementName", name ? qj_str(name) : qj_null());
    qj_set(n, "Address", qj_str(mac ? mac : "00155D000000"));
    qj_set(n, "StaticMacAddress", qj_bool(true));
    qwm_add(w, n, path);
    free(g);
    free(iid);
    free(path);
    free(vmid);
    qwm_save(w);
    return 0;
}

int qwmi_model_del_nic(qwmi *w, const char *name)
{
    qwm_sync(w);
    int n = 0;
    qj *nic;
    while ((nic = qwm_find(w, C_NIC, "ElementName", name))) {
        char *np = xstrdup(qj_get_str(nic, "__PATH"));
        const qj *a = qwm_find(w, C_ALLOC, "Parent", np);
        if (a) {
            const char *aiid = qj_get_str(a, "InstanceID");
            size_t k = qwm_features(w, aiid, NULL, NULL, 0);
            const char **fs = xcalloc(k + 1, sizeof *fs);
            qwm_features(w, aiid, NULL, fs, k);
            char **copy = xcalloc(k + 1, sizeof *copy);
            for (size_t i = 0; i < k; i++)
                copy[i] = xstrdup(fs[i]);
            for (size_t i = 0; i < k; i++) {
                qwm_del(w, copy[i]);
                free(copy[i]);
            }
            free(copy);
            free(fs);
            qwm_del(w, qj_get_str(a, "__PATH"));
        }
        qwm_del(w, np);
        free(np);
        n++;
    }
    qwm_save(w);
    return n;
}

void qwmi_model_reboot(qwmi *w)
{
    qwm_sync(w);
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && qwm_wnv_class(qwm_cls(i)))
            qwm_del(w, k);
    qwm_save(w);
}

void qwmi_model_fault_jobs(qwmi *w, int polls, int fail_jobs, int error_code, const char *text)
{
    w->job_polls = polls;
    w->fail_jobs = fail_jobs;
    w->fail_code = error_code;
    free(w->fail_text);
    w->fail_text = text ? xstrdup(text) : NULL;
}

void qwmi_model_fault_drop(qwmi *w, const char *cls)
{
    free(w->drop_cls);
    w->drop_cls = cls ? xstrdup(cls) : NULL;
}

qj *qwmi_model_instances(qwmi *w, const char *cls)
{
    qwm_sync(w);
    qj *out = qj_array();
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && (!cls || qwm_is(i, cls))) {
            qj *p = qwm_public(i);
            if (p)
                qj_append(out, p);
        }
    return out;
}

int qwmi_model_remove_acl_by_weight(qwmi *w, const char *name, int weight, int direction)
{
    qwm_sync(w);
    const qj *nic = qwm_find(w, C_NIC, "ElementName", name);
    const qj *a = nic ? qwm_find(w, C_ALLOC, "Parent", qj_get_str(nic, "__PATH")) : NULL;
    if (!a)
        return 0;
    const char *aiid = qj_get_str(a, "InstanceID");
    size_t n = qwm_features(w, aiid, C_XACL, NULL, 0);
    const char **fs = xcalloc(n + 1, sizeof *fs);
    qwm_features(w, aiid, C_XACL, fs, n);
    char **del = xcalloc(n + 1, sizeof *del);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        const qj *o = qvs_map_get(w->inst, fs[i]);
        if (qj_get_int(o, "Weight", -1) == weight && qj_get_int(o, "Direction", 0) == direction)
            del[nd++] = xstrdup(fs[i]);
    }
    for (size_t i = 0; i < nd; i++) {
        qwm_del(w, del[i]);
        free(del[i]);
    }
    free(del);
    free(fs);
    qwm_save(w);
    return (int)nd;
}

