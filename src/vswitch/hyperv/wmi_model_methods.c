/* wmi_model_methods: Msvm_VirtualSystemManagementService's setting methods
 * (Add/Modify/Remove Resource/Feature Settings) and the jobs they start, as
 * docs/hyperv-wmi-contract.md describes them (M1-M3, M7, M8). */
#include "vswitch/hyperv/wmi_model_int.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* ---------- jobs ---------- */

qj *qwm_out(int64_t rv)
{
    qj *o = qj_object();
    qj_set(o, "ReturnValue", qj_int(rv));
    return o;
}

qj *qwm_rv_err(int64_t rv, const char *why, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", why);
    qj *o = qwm_out(rv);
    qj_set(o, "__why", qj_str(why));    /* the model's reason, for tests */
    if (getenv("QHV_MODEL_DEBUG"))
        fprintf(stderr, "model: ReturnValue %lld: %s\n", (long long)rv, why);
    return o;
}

/* Applies (ok) or drops a method's effects: pending adds, removes, and
 * modifications (whole new instances). */
static void qwm_finish(qwmi *w, const qj *adds, const qj *dels, const qj *mods, bool ok)
{
    for (size_t i = 0; i < qj_len(adds); i++) {
        const char *p = qj_as_str(qj_at(adds, i));
        qj *inst = qwm_get(w, p);
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
        if (qwm_get(w, qj_get_str(m, "__PATH")))
            qwm_replace(w, qj_clone(m));
    }
}

static bool qwm_jobs_on(const qwmi *w)
{
    return w->job_polls > 0 || w->fail_jobs > 0 || w->err_jobs > 0;
}

/* A new Msvm_ConcreteJob carrying the effects; how it will end. */
static qj *qwm_job_new(qwmi *w, const char *iid, qj *adds, qj *dels, qj *mods)
{
    qj *job = qj_object();
    qj_set(job, "__CLASS", qj_str(C_JOB));
    qj_set(job, "InstanceID", qj_str(iid));
    qj_set(job, "JobState", qj_int(4));
    qj_set(job, "ErrorCode", qj_int(0));
    qj_set(job, "ErrorDescription", qj_str(""));
    qj_set(job, "__polls", qj_int(w->job_polls > 0 ? w->job_polls : 1));
    const char *end = "ok";
    if (w->fail_jobs > 0) {
        w->fail_jobs--;
        end = "terminated";
    } else if (w->err_jobs > 0) {
        w->err_jobs--;
        end = "error";    /* JobState 7 but ErrorCode != 0: a failure too */
    }
    qj_set(job, "__end", qj_str(end));
    qj_set(job, "__adds", adds);
    qj_set(job, "__dels", dels);
    qj_set(job, "__mods", mods);
    return job;
}

void qwm_settle(qwmi *w, qj *out, qj *adds, qj *dels, qj *mods)
{
    if (!qwm_jobs_on(w)) {
        qwm_finish(w, adds, dels, mods, true);
        qj_free(adds);
        qj_free(dels);
        qj_free(mods);
        return;
    }
    char *g = qwm_guid(w);
    qj *job = qwm_add(w, qwm_job_new(w, g, adds, dels, mods), NULL);
    qj_set(out, "ReturnValue", qj_int(QWMI_RET_JOB_STARTED));
    qj_set(out, "Job", qj_str(qj_get_str(job, "__PATH")));
    /* Hyper-V does not promise the results while the job runs. */
    qj_remove(out, "ResultingResourceSettings");
    qj_remove(out, "ResultingFeatureSettings");
    free(g);
}

/* The job ends: its effects applied or dropped, its state and error. */
static void qwm_job_end(qwmi *w, qj *job)
{
    const char *end = qj_get_str(job, "__end");
    bool ok = end && !strcmp(end, "ok");
    qwm_finish(w, qj_get(job, "__adds"), qj_get(job, "__dels"), qj_get(job, "__mods"), ok);
    bool terminated = end && !strcmp(end, "terminated");
    qj_set(job, "JobState", qj_int(terminated ? 10 : 7));
    if (!ok) {
        qj_set(job, "ErrorCode", qj_int(w->fail_code ? w->fail_code : 32768));
        qj_set(job, "ErrorDescription",
               qj_str(w->fail_text ? w->fail_text : "The operation failed."));
    }
    /* TimeBeforeRemoval, in gets: two more, then it is gone. */
    qj_set(job, "__left", qj_int(2));
}

bool qwm_job_poll(qwmi *w, qj *job)
{
    if (qj_get_int(job, "JobState", 0) != 4) {
        qj *left = qj_get(job, "__left");
        if (left && left->u.i <= 0) {
            qwm_del(w, qj_get_str(job, "__PATH"));
            return false;
        }
        if (left)
            left->u.i--;
        return true;
    }
    qj *p = qj_get(job, "__polls");
    if (--p->u.i > 0)
        return true;
    qwm_job_end(w, job);
    return true;
}

/* ---------- AddResourceSettings ---------- */

/* The switch HostResource names (NULL: not connected), or a reason. */
static const char *qwm_host_resource(const qwmi *w, const qj *r, const qj **sw)
{
    const qj *hr = qj_get(r, "HostResource");
    *sw = NULL;
    if (!hr || qj_is(hr, QJ_NULL) || !qj_len(hr))
        return NULL;
    if (!qj_is(hr, QJ_ARRAY) || qj_len(hr) > 1)
        return "HostResource: only its first element can be set";
    const char *p = qj_as_str(qj_at(hr, 0));
    if (!p)
        return NULL;
    *sw = qwm_get(w, p);
    return qwm_is(*sw, C_SWITCH) ? NULL : "HostResource is not a virtual switch";
}

/* Why r cannot be added to the VM of vssd (NULL: it can); *rv the code. */
static const char *qwm_alloc_why(const qwmi *w, const qj *r, const qj *vssd, const qj **nic,
                                 const qj **sw, int64_t *rv, char *err, size_t errlen)
{
    *rv = RV_INVALID;
    if (!qwm_is(r, C_ALLOC))
        return "ResourceSettings: not an " C_ALLOC;
    if (qwm_schema_check(r, err, errlen) < 0)
        return err;
    const char *st = qj_get_str(r, "ResourceSubType");
    if (qj_get_int(r, "ResourceType", 0) != 33 || !st || strcasecmp(st, ALLOC_SUBTYPE))
        return "an Ethernet connection needs ResourceType 33 and ResourceSubType "
               "'" ALLOC_SUBTYPE "' (start from the Default allocation)";
    const char *parent = qj_get_str(r, "Parent");
    *nic = parent ? qwm_get(w, parent) : NULL;
    if (!(qwm_is(*nic, C_NIC) || qwm_is(*nic, C_LEGACY)) || qj_get(*nic, "__pending") ||
        !qwm_realized(w, *nic))
        return "Parent is not a network adapter of a realized virtual machine";
    if (!qwm_is(vssd, C_VSSD) || vssd != qwm_vssd_of(w, *nic) || !qwm_realized(w, vssd))
        return "AffectedConfiguration is not the realized virtual system settings of "
               "Parent's virtual machine";
    const char *why = qwm_host_resource(w, r, sw);
    if (why)
        return why;
    if (qwm_alloc_of(w, *nic)) {
        *rv = RV_STATE;
        return "the network adapter has a connection already";
    }
    return NULL;
}

/* What is stored for request r: Hyper-V's InstanceID, references in its
 * own format. */
static qj *qwm_alloc_new(qwmi *w, const qj *r, const qj *nic, const qj *sw)
{
    qj *a = qwm_schema_new(r, NULL, false);
    char *iid = xasprintf("%s\\C%lld", qj_get_str(nic, "InstanceID"), (long long)++w->seq);
    qj_set(a, "InstanceID", qj_str_take(iid));
    qj_set(a, "Parent", qj_str_take(qwm_ref(nic)));
    qj *hr = qj_array();
    if (sw)
        qj_append(hr, qj_str_take(qwm_ref(sw)));
    qj_set(a, "HostResource", hr);
    if (!qj_is(qj_get(a, "EnabledState"), QJ_INT))
        qj_set(a, "EnabledState", qj_int(2));
    qj_set(a, "__pending", qj_bool(true));
    return a;
}

static qj *qwm_add_resource(qwmi *w, const qj *in, char *err, size_t errlen)
{
    const char *ac = qj_get_str(in, "AffectedConfiguration");
    const qj *vssd = ac ? qwm_get(w, ac) : NULL;
    const qj *list = qj_get(in, "ResourceSettings");
    qj *made = qj_array();
    for (size_t i = 0; i < qj_len(list); i++) {
        const qj *nic = NULL, *sw = NULL;
        int64_t rv;
        /* Allocations of this call are stored (pending) as they pass: a
         * second one for a NIC is refused like one on a connected NIC. */
        const char *why = qwm_alloc_why(w, qj_at(list, i), vssd, &nic, &sw, &rv, err, errlen);
        if (why) {
            char copy[512];
            snprintf(copy, sizeof copy, "%s", why);
            for (size_t k = 0; k < qj_len(made); k++)
                qwm_del(w, qj_as_str(qj_at(made, k)));
            qj_free(made);
            return qwm_rv_err(rv, copy, err, errlen);
        }
        qj *a = qwm_add(w, qwm_alloc_new(w, qj_at(list, i), nic, sw), NULL);
        qj_append(made, qj_str(qj_get_str(a, "__PATH")));
    }
    qj *out = qwm_out(0);
    qj_set(out, "ResultingResourceSettings", qj_clone(made));
    qwm_settle(w, out, made, qj_array(), qj_array());
    return out;
}

/* ---------- Modify*Settings ---------- */

/* The setting m modifies: by its InstanceID only (COM sends no __PATH). */
static const qj *qwm_modify_target(const qwmi *w, const qj *m, const char **why)
{
    const char *iid = qj_get_str(m, "InstanceID"), *cls = qwm_cls(m);
    const qj *cur = iid && cls ? qwm_get_iid(w, cls, iid) : NULL;
    *why = NULL;
    if (!iid)
        *why = "the embedded instance has no InstanceID: which setting to modify?";
    else if (!cur || qj_get(cur, "__pending"))
        *why = "no setting with this InstanceID to modify";
    return *why ? NULL : cur;
}

/* The features of the port whose allocation is alloc_iid: a new array of
 * borrowed keys (count in *n; caller frees the array). */
static const char **qwm_port_features(const qwmi *w, const char *alloc_iid, size_t *n)
{
    *n = qwm_features(w, alloc_iid, NULL, NULL, 0);
    const char **fs = xcalloc(*n + 1, sizeof *fs);
    qwm_features(w, alloc_iid, NULL, fs, *n);
    return fs;
}

/* The rules on a modified feature res of cur's port. */
static int qwm_modify_feature_ok(const qwmi *w, const qj *cur, const qj *res, char *err,
                                 size_t errlen)
{
    const char *iid = qj_get_str(cur, "InstanceID");
    const char *slash = strrchr(iid, '\\');
    char *alloc = slash ? xstrndup(iid, (size_t)(slash - iid)) : xstrdup("");
    size_t n;
    const char **fs = qwm_port_features(w, alloc, &n);
    char *self = qwm_key(qj_get_str(cur, "__PATH"));
    qvs_map *taken = qwm_taken(w, fs, n, self);
    int rc = qwm_check_feature(w, res, fs, n, self, NULL, taken, err, errlen);
    qvs_map_free(taken);
    free(self);
    free(fs);
    free(alloc);
    return rc;
}

/* A modified allocation: its switch must exist; references re-formatted. */
static const char *qwm_modify_alloc(const qwmi *w, const qj *cur, qj *res)
{
    const qj *sw;
    const char *why = qwm_host_resource(w, res, &sw);
    if (why)
        return why;
    const char *was = qj_get_str(cur, "Parent"), *now = qj_get_str(res, "Parent");
    char *kw = qwm_key(was), *kn = qwm_key(now);
    bool same = (!kw && !kn) || (kw && kn && !strcmp(kw, kn));
    free(kw);
    free(kn);
    if (!same)
        return "Parent of a connection cannot change";
    if (was)
        qj_set(res, "Parent", qj_str(was));
    qj *hr = qj_array();
    if (sw)
        qj_append(hr, qj_str_take(qwm_ref(sw)));
    qj_set(res, "HostResource", hr);
    return NULL;
}

/* The new instance m makes of its target, or NULL with *why, *rv. */
static qj *qwm_modified(const qwmi *w, const qj *m, bool feature, const char **why, int64_t *rv,
                        char *err, size_t errlen)
{
    *rv = RV_INVALID;
    const qj *cur = qwm_modify_target(w, m, why);
    if (!cur)
        return NULL;
    if (qwm_schema_check(m, err, errlen) < 0) {
        *why = err;
        return NULL;
    }
    if (qwm_snapshot(w, cur)) {
        *rv = RV_STATE;
        *why = "a checkpoint's settings cannot be changed";
        return NULL;
    }
    qj *res = qwm_schema_modify(cur, m, feature);
    if (feature && qwm_modify_feature_ok(w, cur, res, err, errlen) < 0)
        *why = err;
    else if (!feature && qwm_is(res, C_ALLOC))
        *why = qwm_modify_alloc(w, cur, res);
    if (*why) {
        qj_free(res);
        return NULL;
    }
    return res;
}

static qj *qwm_modify(qwmi *w, const qj *in, const char *param, bool feature, char *err,
                      size_t errlen)
{
    const qj *list = qj_get(in, param);
    qj *mods = qj_array();
    for (size_t i = 0; i < qj_len(list); i++) {
        const char *why = NULL;
        int64_t rv;
        qj *res = qwm_modified(w, qj_at(list, i), feature, &why, &rv, err, errlen);
        if (!res) {
            char copy[512];
            snprintf(copy, sizeof copy, "%s", why);
            qj_free(mods);
            return qwm_rv_err(rv, copy, err, errlen);
        }
        qj_append(mods, res);
    }
    qj *out = qwm_out(0);
    qj *paths = qj_array();
    for (size_t i = 0; i < qj_len(mods); i++)
        qj_append(paths, qj_str(qj_get_str(qj_at(mods, i), "__PATH")));
    qj_set(out, feature ? "ResultingFeatureSettings" : "ResultingResourceSettings", paths);
    qwm_settle(w, out, qj_array(), qj_array(), mods);
    return out;
}

/* ---------- Remove*Settings ---------- */

static qj *qwm_remove(qwmi *w, const qj *in, const char *param, bool resource, char *err,
                      size_t errlen)
{
    const qj *list = qj_get(in, param);
    qj *dels = qj_array();
    for (size_t i = 0; i < qj_len(list); i++) {
        const char *p = qj_as_str(qj_at(list, i));
        const qj *cur = p ? qwm_get(w, p) : NULL;
        const char *why = !cur || qj_get(cur, "__pending") ? "no such setting to remove"
                          : qwm_snapshot(w, cur) ? "a checkpoint's settings cannot be changed"
                                                 : NULL;
        if (why) {
            qj_free(dels);
            return qwm_rv_err(cur ? RV_STATE : RV_INVALID, why, err, errlen);
        }
        qj_append(dels, qj_str(qj_get_str(cur, "__PATH")));
        if (resource && qwm_is(cur, C_ALLOC)) {
            /* The port's features go with it. */
            size_t n;
            const char **fs = qwm_port_features(w, qj_get_str(cur, "InstanceID"), &n);
            for (size_t k = 0; k < n; k++)
                qj_append(dels, qj_str(fs[k]));
            free(fs);
        }
    }
    qj *out = qwm_out(0);
    qwm_settle(w, out, qj_array(), dels, qj_array());
    return out;
}

/* ---------- AddFeatureSettings ---------- */

/* What is stored for each requested feature (before the rules), or NULL
 * with the reason in err. */
static qj *qwm_features_new(const qj *list, char *err, size_t errlen)
{
    qj *batch = qj_array();
    for (size_t i = 0; i < qj_len(list); i++) {
        const qj *f = qj_at(list, i);
        if (!qwm_cls(f) || qwm_schema_check(f, err, errlen) < 0) {
            if (!qwm_cls(f))
                qwm_err(err, errlen, "FeatureSettings[%lu] has no __CLASS", (unsigned long)i);
            qj_free(batch);
            return NULL;
        }
        qj *a = qwm_schema_new(f, NULL, true);
        /* Stateless without a timeout: 0 (hyperv-semantics.md §7). */
        if (qwm_is(a, C_XACL) && !qj_get_bool(a, "Stateful", false) &&
            !qj_get(f, "IdleSessionTimeout"))
            qj_set(a, "IdleSessionTimeout", qj_int(0));
        qj_append(batch, a);
    }
    return batch;
}

/* The rules on a batch of new features of the port alloc_iid. */
static int qwm_features_ok(const qwmi *w, const char *alloc_iid, const qj *batch, char *err,
                           size_t errlen)
{
    size_t n;
    const char **fs = qwm_port_features(w, alloc_iid, &n);
    qvs_map *taken = qwm_taken(w, fs, n, NULL);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < qj_len(batch); i++)
        rc = qwm_check_feature(w, qj_at(batch, i), fs, n, NULL, batch, taken, err, errlen);
    qvs_map_free(taken);
    free(fs);
    return rc;
}

static qj *qwm_add_features(qwmi *w, const qj *in, char *err, size_t errlen)
{
    const char *ap = qj_get_str(in, "AffectedConfiguration");
    const qj *alloc = ap ? qwm_get(w, ap) : NULL;
    if (!qwm_is(alloc, C_ALLOC) || qj_get(alloc, "__pending"))
        return qwm_rv_err(RV_INVALID, "connection not found (AffectedConfiguration is not a "
                                      "port allocation)", err, errlen);
    if (qwm_snapshot(w, alloc))
        return qwm_rv_err(RV_STATE, "a checkpoint's settings cannot be changed", err, errlen);
    const char *aiid = qj_get_str(alloc, "InstanceID");
    qj *batch = qwm_features_new(qj_get(in, "FeatureSettings"), err, errlen);
    if (!batch || qwm_features_ok(w, aiid, batch, err, errlen) < 0) {
        qj_free(batch);
        char copy[512];
        snprintf(copy, sizeof copy, "%s", err);
        return qwm_rv_err(RV_INVALID, copy, err, errlen);
    }
    qj *adds = qj_array(), *paths = qj_array();
    bool dropping = false;
    for (size_t i = 0; i < qj_len(batch); i++) {
        qj *a = qj_clone(qj_at(batch, i));
        qj_set(a, "InstanceID", qj_str_take(xasprintf("%s\\F%lld", aiid, (long long)++w->seq)));
        qj_set(a, "__pending", qj_bool(true));
        bool dropped = w->drop_cls && qwm_is(a, w->drop_cls);
        dropping |= dropped;
        qwm_add(w, a, NULL);
        qj_append(paths, qj_str(qj_get_str(a, "__PATH")));
        if (dropped)
            qwm_del(w, qj_get_str(a, "__PATH"));   /* success reported, nothing added */
        else
            qj_append(adds, qj_str(qj_get_str(a, "__PATH")));
    }
    qj_free(batch);
    if (dropping) {
        /* The fault hits the next call that carries its class, once. */
        free(w->drop_cls);
        w->drop_cls = NULL;
    }
    qj *out = qwm_out(0);
    qj_set(out, "ResultingFeatureSettings", paths);
    qwm_settle(w, out, adds, qj_array(), qj_array());
    return out;
}

/* ---------- dispatch ---------- */

qj *qwm_vsms_call(qwmi *w, const char *method, const qj *in, char *err, size_t errlen)
{
    if (!strcasecmp(method, "AddResourceSettings"))
        return qwm_add_resource(w, in, err, errlen);
    if (!strcasecmp(method, "ModifyResourceSettings"))
        return qwm_modify(w, in, "ResourceSettings", false, err, errlen);
    if (!strcasecmp(method, "RemoveResourceSettings"))
        return qwm_remove(w, in, "ResourceSettings", true, err, errlen);
    if (!strcasecmp(method, "AddFeatureSettings"))
        return qwm_add_features(w, in, err, errlen);
    if (!strcasecmp(method, "ModifyFeatureSettings"))
        return qwm_modify(w, in, "FeatureSettings", true, err, errlen);
    if (!strcasecmp(method, "RemoveFeatureSettings"))
        return qwm_remove(w, in, "FeatureSettings", false, err, errlen);
    qwm_err(err, errlen, "method %s is not modelled (WBEM_E_METHOD_NOT_IMPLEMENTED)", method);
    return NULL;
}
