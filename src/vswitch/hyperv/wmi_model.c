/* wmi_model: the class (wmi_model.h): the store of instances, paths,
 * namespaces, persistence, and the transport calls; the setting methods
 * and jobs are in wmi_model_methods.c, the schema in wmi_model_schema.c,
 * WQL in wmi_model_query.c, set-up in wmi_model_vm.c, the documented rules
 * in wmi_model_rules.c. */
#include "vswitch/hyperv/wmi_model_int.h"
#include "vswitch/hyperv/wmi_path.h"
#include "vswitch/hyperv/wmi_schema.h"
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

/* Upper-case, as Hyper-V writes GUIDs in InstanceIDs and Names. */
char *qwm_guid(qwmi *w)
{
    w->seq++;
    return xasprintf("%08llX-0000-4000-8000-%012llX", (unsigned long long)w->seq,
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

/* ---------- paths ---------- */

/* The relative part of a path: after "\\SERVER\" and "namespace:". *ns (if
 * not NULL) = the namespace named, or NULL (caller frees). */
static const char *qwm_rel(const char *path, char **ns)
{
    if (ns)
        *ns = NULL;
    const char *t = path;
    if (!strncmp(t, "\\\\", 2)) {
        const char *e = strchr(t + 2, '\\');
        t = e ? e + 1 : t;
    }
    /* A ':' before the class's '.' or '=' ends a namespace. */
    const char *colon = strchr(t, ':'), *dot = strpbrk(t, ".=\"");
    if (colon && (!dot || colon < dot)) {
        if (ns)
            *ns = xstrndup(t, (size_t)(colon - t));
        t = colon + 1;
    }
    return t;
}

char *qwm_key(const char *path)
{
    return path ? qwmi_path_key(qwm_rel(path, NULL)) : NULL;
}

const char *qwm_class_ns(const char *cls)
{
    const qwmi_class_schema *c = cls ? qwmi_schema_class(cls) : NULL;
    if (c && c->ns)
        return !strcasecmp(c->ns, QWMI_NS_VIRT)       ? QWMI_NS_VIRT
               : !strcasecmp(c->ns, QWMI_NS_STDCIMV2) ? QWMI_NS_STDCIMV2
               : !strcasecmp(c->ns, QWMI_NS_CIMV2)    ? QWMI_NS_CIMV2
                                                      : NULL;
    /* Classes the schema does not document: by their prefix (the
     * contract's table). */
    if (!cls)
        return NULL;
    if (!strncasecmp(cls, "Msvm_", 5))
        return QWMI_NS_VIRT;
    if (!strncasecmp(cls, "MSFT_", 5))
        return QWMI_NS_STDCIMV2;
    if (!strncasecmp(cls, "Win32_", 6))
        return QWMI_NS_CIMV2;
    return NULL;
}

/* The keys WMI uses in the __PATH of systems, services and jobs. Microsoft's
 * class pages carry no Key qualifiers for them, and what the schema infers
 * differs from the paths a host gives (the contract's switch path has
 * CIM_System's two keys): these classes' keys are the model's, from CIM. */
static size_t qwm_cim_keys(const char *cls, const char **out, size_t max)
{
    static const char *const sys[] = {"CreationClassName", "Name", NULL};
    static const char *const svc[] = {"CreationClassName", "Name", "SystemCreationClassName",
                                      "SystemName", NULL};
    static const char *const job[] = {"InstanceID", NULL};
    const char *const *k = NULL;
    if (!strcasecmp(cls, C_CS) || !strcasecmp(cls, "Msvm_PlannedComputerSystem") ||
        !strcasecmp(cls, C_SWITCH))
        k = sys;
    else if (!strcasecmp(cls, C_VSMS) ||
             !strcasecmp(cls, "Msvm_VirtualEthernetSwitchManagementService"))
        k = svc;
    else if (!strcasecmp(cls, C_JOB))
        k = job;
    size_t n = 0;
    for (; k && k[n] && n < max; n++)
        out[n] = k[n];
    return n;
}

size_t qwm_class_keys(const char *cls, const char **out, size_t max)
{
    if (qwm_wnv_class(cls)) {
        /* Undocumented: the model's choice (wmi_model.h). */
        const char *const *keys, *const *ro;
        qwm_wnv_schema(cls, &keys, &ro);
        size_t n = 0;
        for (; keys && keys[n] && n < max; n++)
            out[n] = keys[n];
        return n;
    }
    if (!strcasecmp(cls, C_OS))
        return 0;   /* the model's singleton Win32_OperatingSystem=@ */
    size_t n = qwm_cim_keys(cls, out, max);
    if (n)
        return n;
    const qwmi_class_schema *c = qwmi_schema_class(cls);
    for (size_t i = 0; c && i < c->nprops; i++)
        if (c->props[i].key && n < max)
            out[n++] = c->props[i].name;
    if (!n && max) {
        out[0] = "InstanceID";   /* a setting the schema lacks */
        n = 1;
    }
    return n;
}

/* The text of a key value (numbers as decimal). */
static char *qwm_key_text(const qj *v)
{
    if (qj_is(v, QJ_STRING))
        return xstrdup(v->u.str.s);
    if (!v || qj_is(v, QJ_NULL))
        return NULL;
    return qj_to_string(v);
}

/* A path to inst: host, its namespace, keys in the order given. */
static char *qwm_format(const qj *inst, const char *host)
{
    const char *cls = qwm_cls(inst), *keys[QWM_MAXKEYS];
    size_t n = qwm_class_keys(cls, keys, QWM_MAXKEYS);
    const char *ns = qwm_class_ns(cls);
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_printf(&b, "\\\\%s\\%s:%s", host, ns ? ns : QWMI_NS_VIRT, cls);
    if (!n)
        qbuf_puts(&b, "=@");
    for (size_t i = 0; i < n; i++) {
        char *v = qwm_key_text(qj_get(inst, keys[i]));
        qbuf_printf(&b, "%c%s=\"", i ? ',' : '.', keys[i]);
        for (const char *c = v ? v : ""; *c; c++) {
            if (*c == '\\' || *c == '"')
                qbuf_putc(&b, '\\');
            qbuf_putc(&b, *c);
        }
        qbuf_putc(&b, '"');
        free(v);
    }
    char *s = qbuf_steal(&b, NULL);
    qbuf_free(&b);
    return s;
}

char *qwm_ref(const qj *inst) { return qwm_format(inst, QWM_HOST_REF); }

/* Key values inst lacks: from path, else the obvious ones. */
static void qwm_fill_keys(qj *inst, const char *path)
{
    const char *cls = qwm_cls(inst), *keys[QWM_MAXKEYS];
    size_t n = qwm_class_keys(cls, keys, QWM_MAXKEYS);
    for (size_t i = 0; i < n; i++) {
        if (qj_get(inst, keys[i]) && !qj_is(qj_get(inst, keys[i]), QJ_NULL))
            continue;
        char *v = path ? qwmi_path_value(qwm_rel(path, NULL), keys[i]) : NULL;
        if (!v && !strcasecmp(keys[i], "CreationClassName"))
            v = xstrdup(cls);
        else if (!v && !strcasecmp(keys[i], "SystemCreationClassName"))
            v = xstrdup(strncasecmp(cls, "Msvm_", 5) ? "CIM_ComputerSystem" : C_CS);
        else if (!v && !strcasecmp(keys[i], "SystemName"))
            v = xstrdup(QWM_HOST_REF);
        if (v)
            qj_set(inst, keys[i], qj_str_take(v));
    }
}

/* ---------- the store ---------- */

qj *qwm_get(const qwmi *w, const char *path)
{
    char *k = qwm_key(path);
    qj *i = k ? qvs_map_get(w->inst, k) : NULL;
    free(k);
    return i;
}

qj *qwm_get_iid(const qwmi *w, const char *cls, const char *iid)
{
    const char *keys[QWM_MAXKEYS];
    if (!iid || qwm_class_keys(cls, keys, QWM_MAXKEYS) != 1 ||
        strcasecmp(keys[0], "InstanceID"))
        return iid ? qwm_find(w, cls, "InstanceID", iid) : NULL;
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_printf(&b, "%s.InstanceID=\"", cls);
    for (const char *c = iid; *c; c++) {
        if (*c == '\\' || *c == '"')
            qbuf_putc(&b, '\\');
        qbuf_putc(&b, *c);
    }
    qbuf_putc(&b, '"');
    qj *i = qwm_get(w, b.data);
    qbuf_free(&b);
    return qwm_is(i, cls) ? i : NULL;
}

qj *qwm_find(const qwmi *w, const char *cls, const char *prop, const char *val)
{
    const char *k;
    qj *i;
    for (size_t n = 0; n < qvs_map_end(w->inst); n++)
        if (qvs_map_at(w->inst, n, &k, &i) && qwm_is(i, cls) && !qj_get(i, "__pending")) {
            const char *v = qj_get_str(i, prop);
            if (v && !strcasecmp(v, val))
                return i;
        }
    return NULL;
}

qj *qwm_vsms(const qwmi *w)
{
    return qwm_find(w, C_VSMS, "Name", "vmms");
}

/* The allocation of a feature the model made: its InstanceID without the
 * last "\\F<n>". */
static char *qwm_feat_owner(const qj *inst)
{
    const char *iid = qj_get_str(inst, "InstanceID");
    const char *f = iid ? strrchr(iid, '\\') : NULL;
    return f && f[1] == 'F' ? xstrndup(iid, (size_t)(f - iid)) : NULL;
}

/* idx[owner] ∋ key (add) or not. */
static void qwm_index_set(qvs_map *idx, const char *owner, const char *key, bool add)
{
    qj *set = qvs_map_get(idx, owner);
    if (add) {
        if (!set) {
            set = qj_object();
            qvs_map_put(idx, owner, set);
        }
        if (!qj_get(set, key))
            qj_set_new(set, key, qj_null());
    } else if (set) {
        qj_remove(set, key);
        if (!qj_len(set))
            qvs_map_del(idx, owner);
    }
}

/* The indexes: features by allocation, allocations by NIC. */
static void qwm_index(qwmi *w, const char *key, const qj *inst, bool add)
{
    char *owner = qwm_feat_owner(inst);
    if (owner)
        qwm_index_set(w->feat, owner, key, add);
    free(owner);
    const char *parent = qwm_is(inst, C_ALLOC) ? qj_get_str(inst, "Parent") : NULL;
    char *nic = qwm_key(parent);
    if (nic)
        qwm_index_set(w->conn, nic, key, add);
    free(nic);
}

qj *qwm_add(qwmi *w, qj *inst, const char *path)
{
    qwm_fill_keys(inst, path);
    char *full = qwm_format(inst, QWM_HOST);
    char *key = qwm_key(full);
    qj_set(inst, "__PATH", qj_str(full));
    const qj *old = qvs_map_get(w->inst, key);
    if (old)
        qwm_index(w, key, old, false);
    qwm_index(w, key, inst, true);
    qvs_map_put(w->inst, key, inst);
    free(key);
    free(full);
    return inst;
}

void qwm_replace(qwmi *w, qj *inst)
{
    qwm_add(w, inst, NULL);
}

bool qwm_del(qwmi *w, const char *path)
{
    char *key = qwm_key(path);
    const qj *i = key ? qvs_map_get(w->inst, key) : NULL;
    if (i) {
        qwm_index(w, key, i, false);
        qvs_map_del(w->inst, key);
    }
    free(key);
    return i != NULL;
}

static void qwm_reindex(qwmi *w)
{
    qvs_map_free(w->feat);
    qvs_map_free(w->conn);
    w->feat = qvs_map_new();
    w->conn = qvs_map_new();
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i))
            qwm_index(w, k, i, true);
}

size_t qwm_features(const qwmi *w, const char *alloc_iid, const char *cls, const char **out,
                    size_t max)
{
    const qj *set = alloc_iid ? qvs_map_get(w->feat, alloc_iid) : NULL;
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

qj *qwm_alloc_of(const qwmi *w, const qj *nic)
{
    char *k = nic ? qwm_key(qj_get_str(nic, "__PATH")) : NULL;
    const qj *set = k ? qvs_map_get(w->conn, k) : NULL;
    free(k);
    for (size_t x = 0; set && x < set->u.obj.n; x++) {
        qj *a = qvs_map_get(w->inst, set->u.obj.m[x].key);
        if (a)
            return a;
    }
    return NULL;
}

/* ---------- persistence ---------- */

static qj *qwm_state(const qwmi *w)
{
    qj *s = qj_object();
    qj_set(s, "format", qj_int(2));
    qj_set(s, "version", qj_str(w->version));
    qj_set(s, "seq", qj_int(w->seq));
    qj_set(s, "vmms_down", qj_bool(w->vmms_down));
    qj_set(s, "instances", qvs_map_to_object(w->inst));
    return s;
}

void qwm_save(qwmi *w)
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

/* Instances of a file: kept by their canonical key (a file of the first
 * format, keyed by relative paths, is re-keyed). */
static void qwm_load_instances(qwmi *w, qj *obj)
{
    qvs_map_free(w->inst);
    w->inst = qvs_map_new();
    for (size_t i = 0; qj_is(obj, QJ_OBJECT) && i < obj->u.obj.n; i++) {
        qj *inst = obj->u.obj.m[i].val;
        if (!qj_is(inst, QJ_OBJECT) || !qwm_cls(inst))
            continue;
        obj->u.obj.m[i].val = qj_null();
        char *full = qwm_format(inst, QWM_HOST);
        char *key = qwm_key(full);
        qj_set(inst, "__PATH", qj_str(full));
        qvs_map_put(w->inst, key, inst);
        free(key);
        free(full);
    }
    qwm_reindex(w);
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
    w->vmms_down = qj_get_bool(st, "vmms_down", false);
    qwm_load_instances(w, qj_get(st, "instances"));
    qj_free(st);
    qplat_file_id(w->file, &w->seen);
    return 0;
}

/* Another process (qhvctl, a test) changed the file: read it again. */
void qwm_enter(qwmi *w)
{
    if (!w->file || w->depth++)
        return;
    char *path = xasprintf("%s.lock", w->file), err[256];
    w->lock = qplat_lock_file(path, err, sizeof err);  /* NULL: unlocked, as before */
    free(path);
    qwm_sync(w);
}

void qwm_leave(qwmi *w)
{
    if (!w->file || --w->depth)
        return;
    qplat_unlock_file(w->lock);
    w->lock = NULL;
}

void qwm_sync(qwmi *w)
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

/* ---------- namespaces and availability ---------- */

static const char *qwm_ns_known(const char *ns)
{
    static const char *const all[] = {QWMI_NS_VIRT, QWMI_NS_STDCIMV2, QWMI_NS_CIMV2};
    for (size_t i = 0; ns && i < 3; i++)
        if (!strcasecmp(ns, all[i]))
            return all[i];
    return NULL;
}

/* May a call in namespace ns touch class cls (NULL: no class yet)? 0, or
 * -ENOENT / -EAGAIN with WMI's words. */
static int qwm_ns_check(const qwmi *w, const char *ns, const char *cls, char *err,
                        size_t errlen)
{
    const char *n = qwm_ns_known(ns);
    if (!n) {
        qwm_err(err, errlen, "%s: invalid namespace (WBEM_E_INVALID_NAMESPACE 0x8004100E)",
                ns ? ns : "(none)");
        return -ENOENT;
    }
    if (!strcmp(n, QWMI_NS_VIRT) && w->vmms_down) {
        qwm_err(err, errlen, "The RPC server is unavailable (RPC_S_SERVER_UNAVAILABLE "
                             "0x800706BA): the Hyper-V Virtual Machine Management service "
                             "(vmms) is not running");
        return -EAGAIN;
    }
    const char *cns = cls ? qwm_class_ns(cls) : NULL;
    if (cls && (!qwm_class_known(w, cls) || !cns || strcmp(cns, n))) {
        qwm_err(err, errlen, "%s: invalid class in %s (WBEM_E_INVALID_CLASS 0x80041010)", cls,
                n);
        return -ENOENT;
    }
    return 0;
}

/* The namespace check of a path: its class, and its own namespace if it
 * names one. */
static int qwm_path_check(const qwmi *w, const char *ns, const char *path, char *err,
                          size_t errlen)
{
    char *pns = NULL;
    const char *rel = path ? qwm_rel(path, &pns) : NULL;
    char *cls = rel ? qwmi_path_class(rel) : NULL;
    int rc = 0;
    if (!cls) {
        qwm_err(err, errlen, "%s: invalid object path (WBEM_E_INVALID_OBJECT_PATH 0x8004103A)",
                path ? path : "(null)");
        rc = -EINVAL;
    } else if (pns && (!qwm_ns_known(pns) || !qwm_ns_known(ns) ||
                       strcmp(qwm_ns_known(pns), qwm_ns_known(ns)))) {
        qwm_err(err, errlen, "%s: the path names namespace %s, the call %s "
                             "(WBEM_E_INVALID_NAMESPACE 0x8004100E)", path, pns, ns);
        rc = -ENOENT;
    } else {
        rc = qwm_ns_check(w, ns, cls, err, errlen);
    }
    free(pns);
    free(cls);
    return rc;
}

/* ---------- the class ---------- */

static void qwm_close(qwmi *w)
{
    if (!w)
        return;
    qvs_map_free(w->inst);
    qvs_map_free(w->feat);
    qvs_map_free(w->conn);
    free(w->file);
    free(w->version);
    free(w->fail_text);
    free(w->drop_cls);
    free(w);
}

static int qwm_query_u(qwmi *w, const char *ns, const char *wql, qj **rows, char *err,
                     size_t errlen)
{
    *rows = NULL;
    qwm_sync(w);
    w->c.enumerations++;
    int rc = qwm_ns_check(w, ns, NULL, err, errlen);
    if (rc < 0)
        return rc;
    char *cls = NULL;
    qj *out = NULL;
    rc = qwm_wql(w, wql, &cls, &out, err, errlen);
    if (rc == 0 && (rc = qwm_ns_check(w, ns, cls, err, errlen)) < 0) {
        qj_free(out);
        out = NULL;
    }
    free(cls);
    *rows = out;
    return rc;
}

static int qwm_get_call_u(qwmi *w, const char *ns, const char *path, qj **obj, char *err,
                        size_t errlen)
{
    *obj = NULL;
    qwm_sync(w);
    w->c.gets++;
    int rc = qwm_path_check(w, ns, path, err, errlen);
    if (rc < 0)
        return rc;
    qj *i = qwm_get(w, path);
    if (qwm_is(i, C_JOB) && !qwm_job_poll(w, i)) {
        i = NULL;
        qwm_save(w);
    }
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

static int qwm_call_u(qwmi *w, const char *ns, const char *path, const char *method, const qj *in,
                    qj **out, char *err, size_t errlen)
{
    *out = NULL;
    qwm_sync(w);
    w->c.calls++;
    int rc = qwm_path_check(w, ns, path, err, errlen);
    if (rc < 0)
        return rc;
    bool handled = false;
    qj *o = qwm_systems_call(w, path, method, in, &handled, err, errlen);
    if (handled) {
        w->c.writes++;
        qwm_save(w);
        *out = o;
        return o ? 0 : -EINVAL;
    }
    const qj *target = qwm_get(w, path);
    if (!qwm_is(target, C_VSMS)) {
        qwm_err(err, errlen, "%s: no such object with methods in the model "
                             "(WBEM_E_NOT_FOUND 0x80041002)", path);
        return -ENOENT;
    }
    o = qwm_vsms_call(w, method, in, err, errlen);
    if (!o)
        return -EOPNOTSUPP;
    w->c.writes++;
    qwm_save(w);
    *out = o;
    return 0;
}

/* Is name a read-only, non-key property of the NetWNV class cls: the
 * schema's (not Write), else the model's table for undocumented classes? */
static bool qwm_wnv_ro(const char *cls, const char *name)
{
    const char *const *keys, *const *ro;
    qwm_wnv_schema(cls, &keys, &ro);
    for (size_t k = 0; keys && keys[k]; k++)
        if (!strcasecmp(keys[k], name))
            return false;
    const qwmi_class_schema *c = qwmi_schema_class(cls);
    if (c) {
        const qwmi_prop_schema *p = qwmi_schema_prop(c, name);
        return p && !p->writable;
    }
    for (size_t k = 0; ro && ro[k]; k++)
        if (!strcasecmp(ro[k], name))
            return true;
    return false;
}

/* A NetWNV put over an existing object: its read-only properties may not
 * change (Set-* changes RW ones only), and are kept when not sent. */
static int qwm_put_over(const qj *cur, qj *n, char *err, size_t errlen)
{
    const char *cls = qwm_cls(n);
    for (size_t k = 0; k < cur->u.obj.n; k++) {
        const char *name = cur->u.obj.m[k].key;
        if (!strncmp(name, "__", 2) || !qwm_wnv_ro(cls, name))
            continue;
        const qj *was = cur->u.obj.m[k].val, *now = qj_get(n, name);
        if (now && !qj_equal(was, now)) {
            qwm_err(err, errlen, "%s is read-only (remove and create the object instead)", name);
            return -1;
        }
        if (!now)
            qj_set(n, name, qj_clone(was));
    }
    for (size_t k = 0; k < n->u.obj.n; k++) {
        const char *name = n->u.obj.m[k].key;
        if (strncmp(name, "__", 2) && qwm_wnv_ro(cls, name) && !qj_get(cur, name)) {
            qwm_err(err, errlen, "%s is read-only (remove and create the object instead)", name);
            return -1;
        }
    }
    return 0;
}

static int qwm_put_u(qwmi *w, const char *ns, const qj *inst, char **path, char *err, size_t errlen)
{
    if (path)
        *path = NULL;
    qwm_sync(w);
    w->c.writes++;
    const char *cls = qwm_cls(inst);
    int rc = qwm_ns_check(w, ns, cls ? cls : "(no __CLASS)", err, errlen);
    if (rc < 0)
        return rc;
    if (qwm_schema_check(inst, err, errlen) < 0 || qwm_check_wnv(w, inst, err, errlen) < 0)
        return -EINVAL;
    qj *n = qj_clone(inst);
    qj_remove(n, "__PATH");
    qwm_fill_keys(n, NULL);
    char *full = qwm_format(n, QWM_HOST);
    const qj *cur = qwm_get(w, full);
    if (cur && qwm_put_over(cur, n, err, errlen) < 0) {
        qj_free(n);
        free(full);
        return -EINVAL;
    }
    qwm_add(w, n, NULL);
    if (path)
        *path = full;
    else
        free(full);
    qwm_save(w);
    return 0;
}

static int qwm_delete_u(qwmi *w, const char *ns, const char *path, char *err, size_t errlen)
{
    qwm_sync(w);
    w->c.writes++;
    int rc = qwm_path_check(w, ns, path, err, errlen);
    if (rc < 0)
        return rc;
    const qj *i = qwm_get(w, path);
    if (i && !qwm_wnv_class(qwm_cls(i))) {
        /* Hyper-V's settings go through the management service's Remove*
         * methods; its providers do not delete instances. */
        qwm_err(err, errlen, "%s: DeleteInstance is not supported by its provider "
                             "(WBEM_E_PROVIDER_NOT_CAPABLE 0x80041024)", path);
        return -EOPNOTSUPP;
    }
    if (!i || qj_get(i, "__pending") || !qwm_del(w, path)) {
        qwm_err(err, errlen, "%s: not found (WBEM_E_NOT_FOUND 0x80041002)", path);
        return -ENOENT;
    }
    qwm_save(w);
    return 0;
}

static int qwm_value_map_u(qwmi *w, const char *ns, const char *cls, const char *prop, qj **map,
                         char *err, size_t errlen)
{
    *map = NULL;
    qwm_sync(w);
    int rc = qwm_ns_check(w, ns, cls, err, errlen);
    if (rc < 0)
        return rc;
    if (qwm_schema_value_map(cls, prop, map) < 0) {
        qwm_err(err, errlen, "%s.%s: no such property or no ValueMap/Values qualifiers "
                             "(WBEM_E_NOT_FOUND 0x80041002)", cls, prop);
        return -ENOENT;
    }
    return 0;
}

static int qwm_query(qwmi *w, const char *ns, const char *wql, qj **rows, char *err, size_t errlen)
{
    qwm_enter(w);
    int rc = qwm_query_u(w, ns, wql, rows, err, errlen);
    qwm_leave(w);
    return rc;
}

static int qwm_get_call(qwmi *w, const char *ns, const char *path, qj **obj, char *err, size_t errlen)
{
    qwm_enter(w);
    int rc = qwm_get_call_u(w, ns, path, obj, err, errlen);
    qwm_leave(w);
    return rc;
}

static int qwm_call(qwmi *w, const char *ns, const char *path, const char *method, const qj *in, qj **out, char *err, size_t errlen)
{
    qwm_enter(w);
    int rc = qwm_call_u(w, ns, path, method, in, out, err, errlen);
    qwm_leave(w);
    return rc;
}

static int qwm_put(qwmi *w, const char *ns, const qj *inst, char **path, char *err, size_t errlen)
{
    qwm_enter(w);
    int rc = qwm_put_u(w, ns, inst, path, err, errlen);
    qwm_leave(w);
    return rc;
}

static int qwm_delete(qwmi *w, const char *ns, const char *path, char *err, size_t errlen)
{
    qwm_enter(w);
    int rc = qwm_delete_u(w, ns, path, err, errlen);
    qwm_leave(w);
    return rc;
}

static int qwm_value_map(qwmi *w, const char *ns, const char *cls, const char *prop, qj **map, char *err, size_t errlen)
{
    qwm_enter(w);
    int rc = qwm_value_map_u(w, ns, cls, prop, map, err, errlen);
    qwm_leave(w);
    return rc;
}

const qwmi_class qwmi_model_class = {
    .name = "model",
    .close = qwm_close,
    .query = qwm_query,
    .get = qwm_get_call,
    .call = qwm_call,
    .put_instance = qwm_put,
    .delete_instance = qwm_delete,
    .value_map = qwm_value_map,
};

/* The objects every host has: the management service, the version,
 * the default allocation. */
static void qwm_host_objects(qwmi *w)
{
    if (!qwm_vsms(w)) {
        qj *s = qj_object();
        qj_set(s, "__CLASS", qj_str(C_VSMS));
        qj_set(s, "Name", qj_str("vmms"));
        qj_set(s, "ElementName", qj_str("Virtual System Management Service"));
        qwm_add(w, s, NULL);
    }
    qj *os = qj_object();
    qj_set(os, "__CLASS", qj_str(C_OS));
    qj_set(os, "Version", qj_str(w->version));
    const char *b = strrchr(w->version, '.');
    qj_set(os, "BuildNumber", qj_str(b ? b + 1 : ""));
    qwm_add(w, os, NULL);
    qwm_default_alloc(w);
    qwm_systems_host(w);
}

int qwmi_model_open(const char *state_file, const char *version, qwmi_transport *ret, char *err,
                    size_t errlen)
{
    ret->cls = &qwmi_model_class;
    ret->w = NULL;
    qwmi *w = xcalloc(1, sizeof *w);
    w->inst = qvs_map_new();
    w->feat = qvs_map_new();
    w->conn = qvs_map_new();
    qwm_set_version(w, "10.0.14393");
    if (state_file && *state_file) {
        w->file = xstrdup(state_file);
        char *lp = xasprintf("%s.lock", w->file), lerr[256];
        w->lock = qplat_lock_file(lp, lerr, sizeof lerr);
        w->depth = 1;
        free(lp);
        if (qwm_load(w, err, errlen) < 0) {
            qwm_leave(w);
            qwm_close(w);
            return -1;
        }
    }
    if (version && *version)
        qwm_set_version(w, version);
    qwm_host_objects(w);
    qwm_save(w);
    qwm_leave(w);
    ret->w = w;
    return 0;
}

/* ---------- counters, faults ---------- */

void qwmi_model_counters_get(qwmi *w, qwmi_model_counters *ret) { *ret = w->c; }

void qwmi_model_counters_reset(qwmi *w) { memset(&w->c, 0, sizeof w->c); }

void qwmi_model_fault_jobs(qwmi *w, int polls, int fail_jobs, int error_code, const char *text)
{
    w->job_polls = polls;
    w->fail_jobs = fail_jobs;
    w->fail_code = error_code;
    free(w->fail_text);
    w->fail_text = text ? xstrdup(text) : NULL;
}

void qwmi_model_fault_job_error(qwmi *w, int n) { w->err_jobs = n; }

void qwmi_model_fault_vmms(qwmi *w, bool down)
{
    qwm_enter(w);
    w->vmms_down = down;
    qwm_save(w);
    qwm_leave(w);
}

void qwmi_model_fault_drop(qwmi *w, const char *cls)
{
    free(w->drop_cls);
    w->drop_cls = cls ? xstrdup(cls) : NULL;
}

qj *qwmi_model_instances(qwmi *w, const char *cls)
{
    qwm_enter(w);
    qj *out = qj_array();
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && (!cls || qwm_is(i, cls))) {
            qj *p = qwm_public(i);
            if (p)
                qj_append(out, p);
        }
    qwm_leave(w);
    return out;
}
