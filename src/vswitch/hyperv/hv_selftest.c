/* hv_selftest: qhv-agent --selftest (hv_selftest.h). */
#include "vswitch/hyperv/hv_selftest.h"
#include "vswitch/hyperv/hv_job.h"
#include "vswitch/hyperv/hyperv.h"
#include "vswitch/hyperv/wmi_model.h"
#include "lib/buf.h"
#include "lib/file.h"
#include "lib/util.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifdef _WIN32
#include "vswitch/hyperv/wmi_com.h"
#endif

#define C_CS "Msvm_ComputerSystem"
#define C_VSSD "Msvm_VirtualSystemSettingData"
#define C_VESSD "Msvm_VirtualEthernetSwitchSettingData"
#define C_VESMS "Msvm_VirtualEthernetSwitchManagementService"
#define C_VSMS "Msvm_VirtualSystemManagementService"
#define C_SWITCH "Msvm_VirtualEthernetSwitch"
#define C_NIC "Msvm_SyntheticEthernetPortSettingData"
#define C_ALLOC "Msvm_EthernetPortAllocationSettingData"
#define C_JOB "Msvm_ConcreteJob"
#define C_LR "MSFT_NetVirtualizationLookupRecordSettingData"
#define C_CR "MSFT_NetVirtualizationCustomerRouteSettingData"
#define C_PA "MSFT_NetVirtualizationProviderAddressSettingData"
#define C_PR "MSFT_NetVirtualizationProviderRouteSettingData"
#define NIC_SUBTYPE "Microsoft:Hyper-V:Synthetic Ethernet Port"
#define CONN_SUBTYPE "Microsoft:Hyper-V:Ethernet Connection"

/* Step names (the JSON report's and the tests'). */
#define S_VERSION "read Windows version"
#define S_SWITCH "create internal switch"
#define S_VNIC "find the switch's host vNIC"
#define S_VM "create VM"
#define S_NIC "add synthetic NIC"
#define S_OPEN "open the hyperv backend"
#define S_DISABLED "connect, disabled"
#define S_ENABLED "connect, enabled"
#define S_VLAN "VLAN"
#define S_GUARDS_ON "guards on, MAC spoofing off"
#define S_GUARDS_OFF "guards off, MAC spoofing on"
#define S_XACL "extended ACLs (stateful TCP)"
#define S_PACL "port ACLs (Windows Server 2012)"
#define S_PA "provider address and route"
#define S_VSID "VSID (nvgre) and L2Only record"
#define S_LR "lookup records (Encap, Nat)"
#define S_CR "customer route"
#define S_DELETE "remove qhv's objects (backend)"
#define S_DESTROY_VM "destroy VM"
#define S_DESTROY_SWITCH "destroy switch"
#define S_LEFT "nothing left behind"

/* ---------- the recording transport: every error, with the step ---------- */

struct qwmi {
    const qwmi_transport *in;
    qhyv_selftest_report *r;
    const char *step;
};

static void rec_add(qwmi *w, const char *call, const char *text)
{
    qhyv_selftest_report *r = w->r;
    if (r->nerrors && !strcmp(r->errors[r->nerrors - 1].text, text) &&
        !strcmp(r->errors[r->nerrors - 1].call, call))
        return;     /* the same job polled again */
    r->errors = xrealloc(r->errors, (r->nerrors + 1) * sizeof *r->errors);
    qhyv_selftest_wmi_error *e = &r->errors[r->nerrors++];
    e->step = xstrdup(w->step ? w->step : "");
    e->call = xstrdup(call);
    e->text = xstrdup(text);
}

static void rec_fail(qwmi *w, const char *verb, const char *what, const char *err)
{
    char call[512];
    snprintf(call, sizeof call, "%s %.400s", verb, what ? what : "");
    rec_add(w, call, err && *err ? err : "(no text)");
}

static void rec_close(qwmi *w) { (void)w; }

static int rec_query(qwmi *w, const char *ns, const char *wql, qj **rows, char *err, size_t n)
{
    int rc = w->in->cls->query(w->in->w, ns, wql, rows, err, n);
    if (rc < 0)
        rec_fail(w, "query", wql, err);
    return rc;
}

static int rec_get(qwmi *w, const char *ns, const char *path, qj **obj, char *err, size_t n)
{
    int rc = w->in->cls->get(w->in->w, ns, path, obj, err, n);
    if (rc < 0) {
        rec_fail(w, "get", path, err);
    } else if (rc == 0 && *obj && qj_get_str(*obj, "__CLASS") &&
               !strcmp(qj_get_str(*obj, "__CLASS"), C_JOB) &&
               qj_get_int(*obj, "JobState", 0) > 7) {
        char t[512];
        snprintf(t, sizeof t, "job failed: %s (ErrorCode %lld, JobState %lld)",
                 qj_get_str(*obj, "ErrorDescription") ? qj_get_str(*obj, "ErrorDescription") : "",
                 (long long)qj_get_int(*obj, "ErrorCode", 0),
                 (long long)qj_get_int(*obj, "JobState", 0));
        rec_add(w, "job", t);
    }
    return rc;
}

static int rec_call(qwmi *w, const char *ns, const char *path, const char *method, const qj *in,
                    qj **out, char *err, size_t n)
{
    int rc = w->in->cls->call(w->in->w, ns, path, method, in, out, err, n);
    char call[256];
    snprintf(call, sizeof call, "call %s", method);
    if (rc < 0) {
        rec_add(w, call, err && *err ? err : "(no text)");
    } else {
        int64_t rv = qj_get_int(*out, "ReturnValue", 0);
        if (rv != QWMI_RET_OK && rv != QWMI_RET_JOB_STARTED) {
            char t[512];
            snprintf(t, sizeof t, "ReturnValue %lld (%s)%s%s", (long long)rv, qhyv_rv_name(rv),
                     qj_get_str(*out, "__why") ? ": " : "",
                     qj_get_str(*out, "__why") ? qj_get_str(*out, "__why") : "");
            rec_add(w, call, t);
        }
    }
    return rc;
}

static int rec_put(qwmi *w, const char *ns, const qj *inst, char **path, char *err, size_t n)
{
    int rc = w->in->cls->put_instance(w->in->w, ns, inst, path, err, n);
    if (rc < 0)
        rec_fail(w, "put", qj_get_str(inst, "__CLASS"), err);
    return rc;
}

static int rec_delete(qwmi *w, const char *ns, const char *path, char *err, size_t n)
{
    int rc = w->in->cls->delete_instance(w->in->w, ns, path, err, n);
    if (rc < 0 && rc != -ENOENT)
        rec_fail(w, "delete", path, err);
    return rc;
}

static int rec_value_map(qwmi *w, const char *ns, const char *cls, const char *prop, qj **map,
                         char *err, size_t n)
{
    return w->in->cls->value_map(w->in->w, ns, cls, prop, map, err, n);
}

static const qwmi_class rec_class = {
    .name = "selftest-recorder",
    .close = rec_close,
    .query = rec_query,
    .get = rec_get,
    .call = rec_call,
    .put_instance = rec_put,
    .delete_instance = rec_delete,
    .value_map = rec_value_map,
};

/* ---------- the run's state ---------- */

typedef struct st {
    const qhyv_selftest_opts *o;
    qhyv_selftest_report *r;
    struct qwmi rec;
    qwmi_transport t;           /* the recorder over o->transport */
    int major, minor;
    long build;
    bool wnv, extended;
    int job_wait_ms;
    char net[37], sg[37], mac[18], mac12[13], pa[32], next_hop[32];
    long vsid;
    char *vesms, *vsms, *host;  /* paths */
    char *sw_path, *vm_path, *vssd_path, *nic_path;
    char *vnic_alias;
    long vnic_ifindex;
    qvs *vs;
    qvs_map *made;              /* backend object ids created → null */
    char *state_file;
    uint64_t t0;
    qhyv_selftest_step *cur;
} st;

static qhyv_selftest_step *st_begin(st *s, const char *name)
{
    qhyv_selftest_report *r = s->r;
    if (s->o->before_step)
        s->o->before_step(s->o->ctx, name);
    r->steps = xrealloc(r->steps, (r->nsteps + 1) * sizeof *r->steps);
    qhyv_selftest_step *p = &r->steps[r->nsteps++];
    memset(p, 0, sizeof *p);
    p->name = xstrdup(name);
    s->rec.step = p->name;
    s->t0 = qhv_now_us();
    s->cur = p;
    return p;
}

static void st_end(st *s, qhyv_selftest_result res, const char *fmt, ...)
    QHV_PRINTF(3, 4);

static void st_end(st *s, qhyv_selftest_result res, const char *fmt, ...)
{
    qhyv_selftest_step *p = s->cur;
    p->result = res;
    p->ms = (double)(qhv_now_us() - s->t0) / 1000.0;
    char buf[1024] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
    }
    free(p->detail);
    p->detail = xstrdup(buf);
    s->cur = NULL;
}

static void st_skip(st *s, const char *name, const char *fmt, ...)
    QHV_PRINTF(3, 4);

static void st_skip(st *s, const char *name, const char *fmt, ...)
{
    st_begin(s, name);
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    st_end(s, QHYV_ST_SKIP, "%s", buf);
    s->cur = NULL;
}

/* ---------- WMI helpers ---------- */

static qj *st_query(st *s, const char *ns, const char *wql, char *err, size_t errlen)
{
    qj *rows = NULL;
    if (s->t.cls->query(s->t.w, ns, wql, &rows, err, errlen) < 0) {
        qj_free(rows);
        return NULL;
    }
    return rows;
}

/* The first row's __PATH of a query, or NULL (err filled). */
static char *st_path_of(st *s, const char *ns, const char *wql, char *err, size_t errlen)
{
    qj *rows = st_query(s, ns, wql, err, errlen);
    const char *p = qj_get_str(qj_at(rows, 0), "__PATH");
    if (rows && !p)
        snprintf(err, errlen, "no instance: %s", wql);
    char *r = p ? xstrdup(p) : NULL;
    qj_free(rows);
    return r;
}

/* A method call followed to its job's end. 0 with *out, or the error and
 * the reason (WMI's words) in why. in is taken. */
static int st_call(st *s, const char *path, const char *method, qj *in, qj **out, char *why,
                   size_t whylen)
{
    qhyv_call c;
    qhyv_call_start(&s->t, path, method, in, 0, &c);
    qj_free(in);
    qhyv_calls_wait(&s->t, &c, 1, s->job_wait_ms);
    int rc = c.error;
    if (rc == -EINPROGRESS)
        snprintf(why, whylen, "%s: its job did not end within %d ms", method, s->job_wait_ms);
    else if (rc)
        snprintf(why, whylen, "%s", c.why);
    if (out) {
        *out = c.out;
        c.out = NULL;
    }
    qhyv_call_clear(&c);
    return rc;
}

/* WQL's quoting of a string literal. */
static char *st_lit(const char *v)
{
    qbuf b;
    qbuf_init(&b, 0);
    for (const char *p = v; *p; p++)
        qbuf_printf(&b, "%s%c", (*p == '\'' || *p == '\\') ? "\\" : "", *p);
    char *r = qbuf_steal(&b, NULL);
    qbuf_free(&b);
    return r;
}

static char *st_where(const char *cls, const char *prop, const char *val)
{
    char *l = st_lit(val);
    char *q = xasprintf("SELECT * FROM %s WHERE %s = '%s'", cls, prop, l);
    free(l);
    return q;
}

/* The default instance of cls with that ResourceSubType (InstanceID ends in
 * \Default), or NULL. */
static qj *st_default(st *s, const char *cls, const char *subtype, char *err, size_t errlen)
{
    char *q = xasprintf("SELECT * FROM %s WHERE InstanceID LIKE '%%Default' AND "
                        "ResourceSubType = '%s'", cls, subtype);
    char e[256] = "";
    qj *rows = st_query(s, QWMI_NS_VIRT, q, e, sizeof e);
    free(q);
    if (!rows) {    /* a WQL dialect without LIKE: filter here */
        q = st_where(cls, "ResourceSubType", subtype);
        rows = st_query(s, QWMI_NS_VIRT, q, err, errlen);
        free(q);
    }
    qj *hit = NULL;
    for (size_t i = 0; !hit && i < qj_len(rows); i++) {
        const char *iid = qj_get_str(qj_at(rows, i), "InstanceID");
        size_t l = iid ? strlen(iid) : 0;
        if (l >= 8 && !strcasecmp(iid + l - 8, "\\Default"))
            hit = qj_clone(qj_at(rows, i));
    }
    if (rows && !hit)
        snprintf(err, errlen, "no default %s (InstanceID LIKE '%%Default', ResourceSubType '%s')",
                 cls, subtype);
    qj_free(rows);
    return hit;
}

static void st_version(st *s, const char *v)
{
    free(s->r->windows_version);
    s->r->windows_version = xstrdup(v);
    s->major = s->minor = 0;
    s->build = 0;
    sscanf(v, "%d.%d.%ld", &s->major, &s->minor, &s->build);
    s->extended = s->major > 6 || (s->major == 6 && s->minor >= 3);
    s->wnv = !(s->major >= 10 && s->build >= 17763);
}

/* ---------- set-up through WMI ---------- */

static bool st_create_switch(st *s)
{
    st_begin(s, S_SWITCH);
    char err[512] = "";
    qj *alloc = st_default(s, C_ALLOC, CONN_SUBTYPE, err, sizeof err);
    if (!alloc) {   /* properties not given get their defaults */
        alloc = qj_object();
        qj_set(alloc, "__CLASS", qj_str(C_ALLOC));
        qj_set(alloc, "ResourceType", qj_int(33));
        qj_set(alloc, "ResourceSubType", qj_str(CONN_SUBTYPE));
    }
    qj_remove(alloc, "__PATH");
    qj_remove(alloc, "InstanceID");
    qj_set(alloc, "ElementName", qj_str(s->r->switch_name));
    qj *hr = qj_array();
    qj_append(hr, qj_str(s->host));
    qj_set(alloc, "HostResource", hr);
    qj *ss = qj_object();
    qj_set(ss, "__CLASS", qj_str(C_VESSD));
    qj_set(ss, "ElementName", qj_str(s->r->switch_name));
    qj *rs = qj_array();
    qj_append(rs, alloc);
    qj *in = qj_object();
    qj_set(in, "SystemSettings", ss);
    qj_set(in, "ResourceSettings", rs);
    qj *out = NULL;
    int rc = st_call(s, s->vesms, "DefineSystem", in, &out, err, sizeof err);
    qj_free(out);
    if (rc == 0) {  /* ResultingSystem may be empty after a job: look it up */
        char *q = st_where(C_SWITCH, "ElementName", s->r->switch_name);
        s->sw_path = st_path_of(s, QWMI_NS_VIRT, q, err, sizeof err);
        free(q);
    }
    if (!s->sw_path) {
        st_end(s, QHYV_ST_FAIL, "%s", err);
        return false;
    }
    st_end(s, QHYV_ST_PASS, NULL);
    return true;
}

static bool st_find_vnic(st *s)
{
    if (!s->wnv) {
        st_skip(s, S_VNIC, "only the provider address needs it: NetWNV (HNV v1) is not "
                           "available on build >= 17763");
        return true;
    }
    st_begin(s, S_VNIC);
    char err[512] = "";
    s->vnic_alias = xasprintf("vEthernet (%s)", s->r->switch_name);
    char *q = st_where("MSFT_NetAdapter", "Name", s->vnic_alias);
    qj *rows = st_query(s, QWMI_NS_STDCIMV2, q, err, sizeof err);
    free(q);
    s->vnic_ifindex = (long)qj_get_int(qj_at(rows, 0), "InterfaceIndex", 0);
    qj_free(rows);
    if (!s->vnic_ifindex) {
        st_end(s, QHYV_ST_FAIL, "no MSFT_NetAdapter named '%s' with an InterfaceIndex%s%s",
               s->vnic_alias, *err ? ": " : "", err);
        return false;
    }
    if (s->major == 6 && s->minor == 2) {
        /* 2012: a provider address needs the ms_netwnv binding. */
        q = xasprintf("SELECT * FROM MSFT_NetAdapterBindingSettingData WHERE Name = '%s'",
                      s->vnic_alias);
        rows = st_query(s, QWMI_NS_STDCIMV2, q, err, sizeof err);
        free(q);
        const char *bp = NULL;
        for (size_t i = 0; i < qj_len(rows); i++)
            if (qj_get_str(qj_at(rows, i), "ComponentID") &&
                !strcasecmp(qj_get_str(qj_at(rows, i), "ComponentID"), "ms_netwnv"))
                bp = qj_get_str(qj_at(rows, i), "__PATH");
        qj *out = NULL;
        int rc = bp ? s->t.cls->call(s->t.w, QWMI_NS_STDCIMV2, bp, "Enable", NULL, &out, err,
                                     sizeof err)
                    : -ENOENT;
        if (rc == 0 && qj_get_int(out, "ReturnValue", 0) != 0)
            snprintf(err, sizeof err, "Enable: ReturnValue %lld",
                     (long long)qj_get_int(out, "ReturnValue", 0)), rc = -EIO;
        qj_free(out);
        qj_free(rows);
        if (rc < 0) {
            st_end(s, QHYV_ST_FAIL, "enabling the ms_netwnv binding of '%s': %s", s->vnic_alias,
                   bp ? err : "no such binding");
            return false;
        }
    }
    st_end(s, QHYV_ST_PASS, "InterfaceIndex %ld", s->vnic_ifindex);
    return true;
}

static bool st_create_vm(st *s)
{
    st_begin(s, S_VM);
    char err[512] = "";
    qj *ss = qj_object();
    qj_set(ss, "__CLASS", qj_str(C_VSSD));
    qj_set(ss, "ElementName", qj_str(s->r->vm_name));
    qj *in = qj_object();
    qj_set(in, "SystemSettings", ss);
    qj *out = NULL;
    int rc = st_call(s, s->vsms, "DefineSystem", in, &out, err, sizeof err);
    qj_free(out);
    if (rc == 0) {
        char *q = st_where(C_CS, "ElementName", s->r->vm_name);
        qj *rows = st_query(s, QWMI_NS_VIRT, q, err, sizeof err);
        free(q);
        const qj *vm = qj_at(rows, 0);
        if (vm && qj_get_str(vm, "__PATH") && qj_get_str(vm, "Name")) {
            s->vm_path = xstrdup(qj_get_str(vm, "__PATH"));
            char *iid = xasprintf("Microsoft:%s", qj_get_str(vm, "Name"));
            q = st_where(C_VSSD, "InstanceID", iid);
            s->vssd_path = st_path_of(s, QWMI_NS_VIRT, q, err, sizeof err);
            free(q);
            free(iid);
        } else if (rows) {
            snprintf(err, sizeof err, "DefineSystem succeeded but no %s is named '%s'", C_CS,
                     s->r->vm_name);
        }
        qj_free(rows);
    }
    if (!s->vm_path || !s->vssd_path) {
        st_end(s, QHYV_ST_FAIL, "%s", err);
        return false;
    }
    st_end(s, QHYV_ST_PASS, NULL);
    return true;
}

static bool st_add_nic(st *s)
{
    st_begin(s, S_NIC);
    char err[512] = "";
    qj *nic = st_default(s, C_NIC, NIC_SUBTYPE, err, sizeof err);
    if (!nic) {
        st_end(s, QHYV_ST_FAIL, "%s", err);
        return false;
    }
    qj_remove(nic, "__PATH");
    qj_remove(nic, "InstanceID");
    qj_set(nic, "ElementName", qj_str(s->r->port_id));
    qj_set(nic, "Address", qj_str(s->mac12));
    qj_set(nic, "StaticMacAddress", qj_bool(true));
    char guid[37];
    qhv_uuid4(guid);
    qj *ids = qj_array();
    qj_append(ids, qj_str_take(xasprintf("{%s}", guid)));
    qj_set(nic, "VirtualSystemIdentifiers", ids);
    qj *rs = qj_array();
    qj_append(rs, nic);
    qj *in = qj_object();
    qj_set(in, "AffectedConfiguration", qj_str(s->vssd_path));
    qj_set(in, "ResourceSettings", rs);
    qj *out = NULL;
    int rc = st_call(s, s->vsms, "AddResourceSettings", in, &out, err, sizeof err);
    qj_free(out);
    if (rc == 0) {
        char *q = st_where(C_NIC, "ElementName", s->r->port_id);
        s->nic_path = st_path_of(s, QWMI_NS_VIRT, q, err, sizeof err);
        free(q);
    }
    if (!s->nic_path) {
        st_end(s, QHYV_ST_FAIL, "%s", err);
        return false;
    }
    st_end(s, QHYV_ST_PASS, "MAC %s", s->mac);
    return true;
}

static bool st_open_backend(st *s)
{
    st_begin(s, S_OPEN);
    qvs_options o = {
        .hyperv_transport = &s->t,
        .hyperv_state_file = s->state_file,
        .hyperv_windows_version = s->r->windows_version,
        .provider_address = s->pa,
        .hyperv_pa_interface = s->vnic_alias ? s->vnic_alias : "",
        .hyperv_pa_ifindex = s->vnic_ifindex,
        .hyperv_pa_prefix_len = 15,
        .hyperv_pa_next_hop = s->next_hop,
        .hyperv_job_wait_ms = s->job_wait_ms,
    };
    char err[512] = "";
    if (qvs_hyperv_class.open(&o, &s->vs, err, sizeof err) < 0) {
        s->vs = NULL;
        st_end(s, QHYV_ST_FAIL, "%s", err);
        return false;
    }
    st_end(s, QHYV_ST_PASS, NULL);
    return true;
}

/* ---------- backend steps ---------- */

typedef struct st_op {
    qvs_op_type type;
    char *id;
    qj *value;
} st_op;

/* Applies ops[0..n) through the backend, then dumps: every created or
 * updated object must be reported installed with its value, every deleted
 * one gone. Takes the ops' strings and values. */
static bool st_apply(st *s, const char *name, st_op *ops, size_t n)
{
    st_begin(s, name);
    qvs_op *vo = xcalloc(n + 1, sizeof *vo);
    for (size_t i = 0; i < n; i++) {
        vo[i].type = ops[i].type;
        vo[i].id = ops[i].id;
        vo[i].value = ops[i].value;
        if (ops[i].type != QVS_DELETE)
            qvs_map_put(s->made, ops[i].id, qj_null());
    }
    /* Retryable errors get further turns, as the agent's loop gives them. */
    int turns = 0;
    bool again = true;
    while (again && turns < 3) {
        if (turns++) {  /* the agent dumps before every turn */
            qvs_observed o;
            char e[256];
            qvs_hyperv_class.dump(s->vs, &o, e, sizeof e);
            qvs_observed_free(&o);
        }
        qvs_hyperv_class.operate(s->vs, vo, n);
        again = false;
        for (size_t i = 0; i < n; i++)
            again = again || vo[i].error == -EAGAIN || vo[i].error == -EINPROGRESS ||
                    vo[i].error == -EBUSY;
    }
    qbuf why;
    qbuf_init(&why, 0);
    qbuf note;
    qbuf_init(&note, 0);
    for (size_t i = 0; i < n; i++) {
        if (!vo[i].error)
            continue;
        /* 2012 port ACLs are an approximation the backend reports per port:
         * a note when the entries are installed (the dump says). */
        bool approx = vo[i].error == -EOPNOTSUPP && !strncmp(vo[i].id, "acl/", 4);
        qbuf_printf(approx ? &note : &why, "%s%s: %s (%s)", (approx ? note.len : why.len) ? "; " : "",
                    vo[i].id, vo[i].why[0] ? vo[i].why : "failed", strerror(-vo[i].error));
    }
    qvs_observed obs;
    char err[512] = "";
    if (qvs_hyperv_class.dump(s->vs, &obs, err, sizeof err) < 0) {
        qbuf_printf(&why, "%sdump: %s", why.len ? "; " : "", err);
    } else {
        for (size_t i = 0; i < n; i++) {
            const qj *have = qvs_map_get(obs.objects, ops[i].id);
            if (ops[i].type == QVS_DELETE) {
                if (have)
                    qbuf_printf(&why, "%s%s: still reported after its delete", why.len ? "; " : "",
                                ops[i].id);
            } else if (!qj_equal(have, ops[i].value)) {
                char *h = have ? qj_to_string(have) : NULL;
                qbuf_printf(&why, "%s%s: not reported installed as wanted (%s%.200s)",
                            why.len ? "; " : "", ops[i].id,
                            qvs_map_get(obs.foreign, ops[i].id) ? "reported foreign" :
                            have ? "reported: " : "absent", h ? h : "");
                free(h);
            }
        }
    }
    qvs_observed_free(&obs);
    char *w = qbuf_steal(&why, NULL), *nt = qbuf_steal(&note, NULL);
    if (w && *w)
        st_end(s, QHYV_ST_FAIL, "%s%s%s", w, nt && *nt ? "; " : "", nt ? nt : "");
    else if (turns > 1 || (nt && *nt))
        st_end(s, QHYV_ST_PASS, "%s%s%s%s", turns > 1 ? "converged in " : "",
               turns > 1 ? (turns == 2 ? "2 turns" : "3 turns") : "",
               turns > 1 && nt && *nt ? "; " : "", nt && *nt ? nt : "");
    else
        st_end(s, QHYV_ST_PASS, NULL);
    bool ok = !(w && *w);
    free(w);
    free(nt);
    qbuf_free(&why);
    qbuf_free(&note);
    for (size_t i = 0; i < n; i++) {
        free(ops[i].id);
        qj_free(ops[i].value);
    }
    free(vo);
    return ok;
}

static qj *st_json(const char *fmt, ...) QHV_PRINTF(1, 2);

static qj *st_json(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *t = NULL;
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    t = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(t, (size_t)n + 1, fmt, ap);
    va_end(ap);
    qj *v = qj_parse(t, strlen(t), NULL, NULL);
    free(t);
    return v;
}

/* port/<id>: type "flat", "vlan" (seg = VLAN) or "nvgre" (seg = VSID). */
static st_op st_port(st *s, const char *type, long seg, bool up, bool ps)
{
    char segtext[64] = "";
    if (!strcmp(type, "vlan"))
        snprintf(segtext, sizeof segtext, "\"vlan\": %ld, ", seg);
    else if (!strcmp(type, "nvgre"))
        snprintf(segtext, sizeof segtext, "\"vsid\": %ld, ", seg);
    char *allowed = ps ? xasprintf(", \"allowed_addresses\": [{\"ip_address\": \"10.77.0.5\", "
                                   "\"mac_address\": \"%s\"}]", s->mac)
                       : xstrdup("");
    st_op op = {QVS_UPDATE, xasprintf("port/%s", s->r->port_id), NULL};
    op.value = st_json("{\"vswitch\": \"%s\", \"network_id\": \"%s\", \"network_type\": \"%s\", "
                       "%s\"mac_address\": \"%s\", \"mtu\": 1500, \"admin_state_up\": %s, "
                       "\"port_security\": %s, \"mac_spoofing\": %s, \"dhcp_guard\": %s, "
                       "\"router_guard\": %s%s}",
                       s->r->switch_name, s->net, type, segtext, s->mac, up ? "true" : "false",
                       ps ? "true" : "false", ps ? "false" : "true", ps ? "true" : "false",
                       ps ? "true" : "false", allowed);
    free(allowed);
    return op;
}

static st_op st_acl(st *s, const char *dir, const char *rules)
{
    st_op op = {QVS_UPDATE, xasprintf("acl/%s/%s", s->r->port_id, dir), NULL};
    op.value = st_json("{\"port_id\": \"%s\", \"direction\": \"%s\", \"default\": \"deny\", "
                       "\"stateful\": true, \"rules\": %s}", s->r->port_id, dir, rules);
    return op;
}

static void st_acls(st *s, bool extended)
{
    st_op ops[5];
    ops[0] = st_port(s, "vlan", 101, true, true);
    ops[1] = (st_op){QVS_UPDATE, xasprintf("address_set/%s/IPv4", s->sg), NULL};
    ops[1].value = st_json("{\"group_id\": \"%s\", \"ethertype\": \"IPv4\", \"addresses\": "
                           "[\"198.18.0.5/32\", \"198.18.0.6/32\"]}", s->sg);
    char *in, *out;
    if (extended) {
        in = xasprintf("[{\"ethertype\": \"IPv4\", \"protocol\": 6, \"port_range_min\": 22, "
                       "\"port_range_max\": 22, \"remote_ip_prefixes\": [\"198.18.0.0/15\"], "
                       "\"remote_address_sets\": []}, {\"ethertype\": \"IPv4\", \"protocol\": 6, "
                       "\"port_range_min\": 443, \"port_range_max\": 443, "
                       "\"remote_ip_prefixes\": [], \"remote_address_sets\": [\"%s/IPv4\"]}]",
                       s->sg);
        out = xstrdup("[{\"ethertype\": \"IPv4\", \"protocol\": 6, \"port_range_min\": 80, "
                      "\"port_range_max\": 80, \"remote_ip_prefixes\": null, "
                      "\"remote_address_sets\": []}]");
    } else {
        in = xasprintf("[{\"ethertype\": \"IPv4\", \"protocol\": null, \"port_range_min\": null, "
                       "\"port_range_max\": null, \"remote_ip_prefixes\": [\"198.18.0.0/15\"], "
                       "\"remote_address_sets\": [\"%s/IPv4\"]}]", s->sg);
        out = xstrdup("[{\"ethertype\": \"IPv4\", \"protocol\": null, \"port_range_min\": null, "
                      "\"port_range_max\": null, \"remote_ip_prefixes\": null, "
                      "\"remote_address_sets\": []}]");
    }
    ops[2] = st_acl(s, "ingress", in);
    ops[3] = st_acl(s, "egress", out);
    free(in);
    free(out);
    st_apply(s, extended ? S_XACL : S_PACL, ops, 4);
}

static st_op st_lr(st *s, const char *ca, const char *mac, const char *rule)
{
    st_op op = {QVS_UPDATE, xasprintf("lookup_record/%ld/%s/%s", s->vsid, ca, mac), NULL};
    op.value = st_json("{\"vsid\": %ld, \"customer_address\": \"%s\", \"mac_address\": \"%s\", "
                       "\"provider_address\": \"%s\", \"rule\": \"%s\", \"host\": \"selftest\", "
                       "\"port_id\": \"%s\"}", s->vsid, ca, mac, s->pa, rule, s->r->port_id);
    return op;
}

static void st_backend_steps(st *s, bool ready)
{
    static const char *const all[] = {S_DISABLED, S_ENABLED, S_VLAN, S_GUARDS_ON, S_GUARDS_OFF,
                                       S_XACL, S_PACL, S_PA, S_VSID, S_LR, S_CR};
    if (!ready) {
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            st_skip(s, all[i], "not run: the set-up above failed");
        return;
    }
    st_op op;
    op = st_port(s, "flat", 0, false, false);
    op.type = QVS_CREATE;
    st_apply(s, S_DISABLED, &op, 1);
    op = st_port(s, "flat", 0, true, false);
    st_apply(s, S_ENABLED, &op, 1);
    op = st_port(s, "vlan", 101, true, false);
    st_apply(s, S_VLAN, &op, 1);
    /* Port security comes with its ACLs (src/agent/desired.h): empty rule
     * lists, the default deny and the implicit allowances. */
    st_op g[3] = {st_port(s, "vlan", 101, true, true), st_acl(s, "ingress", "[]"),
                  st_acl(s, "egress", "[]")};
    st_apply(s, S_GUARDS_ON, g, 3);
    g[0] = st_port(s, "vlan", 101, true, false);
    g[1] = (st_op){QVS_DELETE, xasprintf("acl/%s/ingress", s->r->port_id), NULL};
    g[2] = (st_op){QVS_DELETE, xasprintf("acl/%s/egress", s->r->port_id), NULL};
    st_apply(s, S_GUARDS_OFF, g, 3);
    if (s->extended) {
        st_acls(s, true);
        st_skip(s, S_PACL, "not used: Windows Server 2012 R2 and later have extended ACLs");
    } else {
        st_skip(s, S_XACL, "not available: extended ACLs need Windows Server 2012 R2 (6.3)");
        st_acls(s, false);
    }
    static const char *const wnv[] = {S_PA, S_VSID, S_LR, S_CR};
    if (!s->wnv) {
        for (size_t i = 0; i < 4; i++)
            st_skip(s, wnv[i], "not available on build >= 17763 (HNV v1, NetWNV, is absent "
                               "from Windows Server 2019 and later)");
        return;
    }
    op = (st_op){QVS_CREATE, xasprintf("provider_address/%s", s->pa), NULL};
    op.value = st_json("{\"address\": \"%s\", \"host\": \"selftest\"}", s->pa);
    st_apply(s, S_PA, &op, 1);
    op = st_port(s, "nvgre", s->vsid, true, true);
    st_apply(s, S_VSID, &op, 1);
    st_op lr[2] = {st_lr(s, "10.77.0.5", s->mac, "encap"),
                   st_lr(s, "10.77.0.9", "00:15:5d:77:00:09", "rewrite")};
    st_apply(s, S_LR, lr, 2);
    /* The on-link route, and the metadata address via a port of the
     * subnet, as a network node's DHCP port gets it (docs/hyperv.md,
     * "Network nodes"): that Hyper-V takes the latter is what a host can
     * confirm here. */
    st_op cr[2];
    cr[0] = (st_op){QVS_CREATE, xasprintf("customer_route/%ld/10.77.0.0/24", s->vsid), NULL};
    cr[0].value = st_json("{\"vsid\": %ld, \"routing_domain\": \"%s\", \"destination\": "
                          "\"10.77.0.0/24\", \"next_hop\": \"0.0.0.0\"}", s->vsid, s->net);
    cr[1] = (st_op){QVS_CREATE, xasprintf("customer_route/%ld/169.254.169.254/32", s->vsid),
                    NULL};
    cr[1].value = st_json("{\"vsid\": %ld, \"routing_domain\": \"%s\", \"destination\": "
                          "\"169.254.169.254/32\", \"next_hop\": \"10.77.0.5\"}", s->vsid,
                          s->net);
    st_apply(s, S_CR, cr, 2);
}

/* ---------- clean-up ---------- */

static void st_left(st *s, const char *fmt, ...) QHV_PRINTF(2, 3);

static void st_left(st *s, const char *fmt, ...)
{
    qhyv_selftest_report *r = s->r;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->leftovers = xrealloc(r->leftovers, (r->nleftovers + 1) * sizeof *r->leftovers);
    r->leftovers[r->nleftovers++] = xstrdup(buf);
}

static void st_backend_delete(st *s)
{
    if (!s->vs || !qvs_map_size(s->made)) {
        st_skip(s, S_DELETE, "nothing to remove through the backend");
        return;
    }
    /* Every id made, in the reverse of the creation order of kinds. */
    size_t n = 0;
    st_op *ops = xcalloc(qvs_map_size(s->made) + 1, sizeof *ops);
    for (size_t k = qvs_n_kinds; k-- > 0;) {
        const char *id;
        for (size_t i = 0; i < qvs_map_end(s->made); i++) {
            char kind[32];
            if (qvs_map_at(s->made, i, &id, NULL) && qvs_id_kind(id, kind, sizeof kind) &&
                !strcmp(kind, qvs_kinds[k]))
                ops[n++] = (st_op){QVS_DELETE, xstrdup(id), NULL};
        }
    }
    st_apply(s, S_DELETE, ops, n);
    free(ops);
}

/* Removes the NetWNV objects of the run that are still there, directly. */
static void st_wnv_sweep(st *s)
{
    if (!s->wnv)
        return;
    char v[32];
    snprintf(v, sizeof v, "%ld", s->vsid);
    char ifx[32];
    snprintf(ifx, sizeof ifx, "%ld", s->vnic_ifindex);
    const struct {
        const char *cls, *prop, *val;
    } q[] = {{C_LR, "VirtualSubnetID", v}, {C_CR, "VirtualSubnetID", v},
             {C_PA, "ProviderAddress", s->pa}, {C_PR, "InterfaceIndex", ifx}};
    for (size_t i = 0; i < 4; i++) {
        if (!strcmp(q[i].cls, C_PR) && !s->vnic_ifindex)
            continue;
        char *wql = xasprintf("SELECT * FROM %s WHERE %s = %s%s%s", q[i].cls, q[i].prop,
                              i == 2 ? "'" : "", q[i].val, i == 2 ? "'" : "");
        char err[256] = "";
        qj *rows = st_query(s, QWMI_NS_STDCIMV2, wql, err, sizeof err);
        free(wql);
        for (size_t k = 0; k < qj_len(rows); k++) {
            const char *p = qj_get_str(qj_at(rows, k), "__PATH");
            if (p && s->t.cls->delete_instance(s->t.w, QWMI_NS_STDCIMV2, p, err, sizeof err) < 0)
                st_left(s, "%s %s: %s", q[i].cls, p, err);
        }
        qj_free(rows);
    }
}

static void st_destroy(st *s, const char *step, const char *service, const char *path,
                       const char *what)
{
    if (!path) {
        st_skip(s, step, "nothing to destroy: the %s was not made", what);
        return;
    }
    st_begin(s, step);
    char err[512] = "";
    qj *in = qj_object();
    qj_set(in, "AffectedSystem", qj_str(path));
    int rc = st_call(s, service, "DestroySystem", in, NULL, err, sizeof err);
    if (rc) {
        st_left(s, "the %s %s (%s): %s", what, path, step, err);
        st_end(s, QHYV_ST_FAIL, "%s", err);
    } else {
        st_end(s, QHYV_ST_PASS, NULL);
    }
}

/* Anything named after the run that is still there. */
static void st_check_left(st *s)
{
    st_begin(s, S_LEFT);
    size_t before = s->r->nleftovers;
    const struct {
        const char *ns, *cls, *prop, *val;
    } q[] = {{QWMI_NS_VIRT, C_SWITCH, "ElementName", s->r->switch_name},
             {QWMI_NS_VIRT, C_CS, "ElementName", s->r->vm_name},
             {QWMI_NS_VIRT, C_NIC, "ElementName", s->r->port_id},
             {QWMI_NS_VIRT, C_ALLOC, "ElementName", s->r->port_id}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        char err[256] = "";
        char *wql = st_where(q[i].cls, q[i].prop, q[i].val);
        qj *rows = st_query(s, q[i].ns, wql, err, sizeof err);
        free(wql);
        for (size_t k = 0; k < qj_len(rows); k++)
            st_left(s, "%s '%s' (%s)", q[i].cls, q[i].val,
                    qj_get_str(qj_at(rows, k), "__PATH") ? qj_get_str(qj_at(rows, k), "__PATH")
                                                         : "");
        qj_free(rows);
    }
    if (s->wnv) {
        char v[32];
        snprintf(v, sizeof v, "%ld", s->vsid);
        const char *cls[] = {C_LR, C_CR};
        for (size_t i = 0; i < 2; i++) {
            char err[256] = "";
            char *wql = xasprintf("SELECT * FROM %s WHERE VirtualSubnetID = %s", cls[i], v);
            qj *rows = st_query(s, QWMI_NS_STDCIMV2, wql, err, sizeof err);
            free(wql);
            for (size_t k = 0; k < qj_len(rows); k++)
                st_left(s, "%s VSID %s (%s)", cls[i], v,
                        qj_get_str(qj_at(rows, k), "__PATH") ? qj_get_str(qj_at(rows, k), "__PATH")
                                                             : "");
            qj_free(rows);
        }
        char *wql = st_where(C_PA, "ProviderAddress", s->pa);
        char err[256] = "";
        qj *rows = st_query(s, QWMI_NS_STDCIMV2, wql, err, sizeof err);
        free(wql);
        for (size_t k = 0; k < qj_len(rows); k++)
            st_left(s, "%s %s", C_PA, s->pa);
        qj_free(rows);
    }
    if (s->r->nleftovers > before || s->r->nleftovers)
        st_end(s, QHYV_ST_FAIL, "could not remove: %zu object(s), see leftovers",
               s->r->nleftovers);
    else
        st_end(s, QHYV_ST_PASS, NULL);
}

/* ---------- the run ---------- */

int qhyv_selftest_run(const qhyv_selftest_opts *o, qhyv_selftest_report *r)
{
    memset(r, 0, sizeof *r);
    st s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.r = r;
    s.rec.in = o->transport;
    s.rec.r = r;
    s.t.cls = &rec_class;
    s.t.w = &s.rec;
    s.job_wait_ms = o->job_wait_ms > 0 ? o->job_wait_ms : 60000;
    s.made = qvs_map_new();
    r->transport = xstrdup(o->transport->cls->name);
    char id[37];
    qhv_uuid4(id);
    r->port_id = xstrdup(id);
    r->switch_name = xasprintf("qhv-selftest-%.8s", id);
    r->vm_name = xasprintf("qhv-selftest-%.8s", id);
    qhv_uuid4(s.net);
    qhv_uuid4(s.sg);
    unsigned char rnd[8];
    qhv_random_bytes(rnd, sizeof rnd);
    snprintf(s.mac, sizeof s.mac, "00:15:5d:%02x:%02x:%02x", rnd[0], rnd[1], rnd[2]);
    snprintf(s.mac12, sizeof s.mac12, "00155D%02X%02X%02X", rnd[0], rnd[1], rnd[2]);
    /* 198.18.0.0/15 (benchmarking, RFC 2544): never anyone's real PA. */
    snprintf(s.pa, sizeof s.pa, "198.%d.%d.%d", 18 + (rnd[3] & 1), rnd[4], 2 + rnd[5] % 250);
    snprintf(s.next_hop, sizeof s.next_hop, "198.18.0.1");
    s.vsid = 16000000 + (long)(((unsigned)rnd[6] << 8 | rnd[7]) % 700000);
    s.state_file = o->state_file && *o->state_file ? xstrdup(o->state_file) : NULL;
    if (s.state_file)
        unlink(s.state_file);

    char err[512] = "";
    /* The Windows version. */
    st_begin(&s, S_VERSION);
    if (o->windows_version && *o->windows_version) {
        st_version(&s, o->windows_version);
        st_end(&s, QHYV_ST_PASS, "%s (given)", o->windows_version);
    } else {
        qj *rows = st_query(&s, QWMI_NS_CIMV2, "SELECT * FROM Win32_OperatingSystem", err,
                            sizeof err);
        const char *v = qj_get_str(qj_at(rows, 0), "Version");
        if (v) {
            st_version(&s, v);
            st_end(&s, QHYV_ST_PASS, "%s", v);
        } else {
            st_version(&s, "10.0.14393");
            st_end(&s, QHYV_ST_FAIL, "Win32_OperatingSystem: %s (going on as 10.0.14393)",
                   *err ? err : "no Version");
        }
        qj_free(rows);
    }
    /* Hyper-V's services and the host. */
    bool ready = true;
    s.vsms = st_path_of(&s, QWMI_NS_VIRT, "SELECT * FROM " C_VSMS, err, sizeof err);
    if (s.vsms)
        s.vesms = st_path_of(&s, QWMI_NS_VIRT, "SELECT * FROM " C_VESMS, err, sizeof err);
    if (s.vesms)
        s.host = st_path_of(&s, QWMI_NS_VIRT, "SELECT * FROM " C_CS " WHERE Description = "
                            "'Microsoft Hosting Computer System'", err, sizeof err);
    if (!s.host) {
        st_begin(&s, S_SWITCH);
        st_end(&s, QHYV_ST_FAIL, "Hyper-V's services or the host's %s: %s", C_CS, err);
        ready = false;
    }
    ready = ready && st_create_switch(&s);
    if (ready)
        ready = st_find_vnic(&s);
    else
        st_skip(&s, S_VNIC, "not run: the switch was not made");
    if (ready)
        ready = st_create_vm(&s);
    else
        st_skip(&s, S_VM, "not run: the set-up above failed");
    if (ready)
        ready = st_add_nic(&s);
    else
        st_skip(&s, S_NIC, "not run: the set-up above failed");
    if (ready)
        ready = st_open_backend(&s);
    else
        st_skip(&s, S_OPEN, "not run: the set-up above failed");
    st_backend_steps(&s, ready);

    /* Clean-up, whatever happened above. */
    st_backend_delete(&s);
    st_wnv_sweep(&s);
    qvs_hyperv_class.close(s.vs);
    s.vs = NULL;
    st_destroy(&s, S_DESTROY_VM, s.vsms, s.vm_path, "VM");
    st_destroy(&s, S_DESTROY_SWITCH, s.vesms, s.sw_path, "switch");
    if (s.vsms && s.vesms)
        st_check_left(&s);
    else
        st_skip(&s, S_LEFT, "Hyper-V's services could not be found");
    if (s.state_file)
        unlink(s.state_file);

    r->passed = r->nleftovers == 0;
    for (size_t i = 0; i < r->nsteps; i++)
        if (r->steps[i].result == QHYV_ST_FAIL ||
            (r->steps[i].result == QHYV_ST_SKIP && !strncmp(r->steps[i].detail, "not run", 7)))
            r->passed = false;
    free(s.vesms);
    free(s.vsms);
    free(s.host);
    free(s.sw_path);
    free(s.vm_path);
    free(s.vssd_path);
    free(s.nic_path);
    free(s.vnic_alias);
    free(s.state_file);
    qvs_map_free(s.made);
    return r->passed ? 0 : 1;
}

void qhyv_selftest_report_free(qhyv_selftest_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nsteps; i++) {
        free(r->steps[i].name);
        free(r->steps[i].detail);
    }
    free(r->steps);
    for (size_t i = 0; i < r->nleftovers; i++)
        free(r->leftovers[i]);
    free(r->leftovers);
    for (size_t i = 0; i < r->nerrors; i++) {
        free(r->errors[i].step);
        free(r->errors[i].call);
        free(r->errors[i].text);
    }
    free(r->errors);
    free(r->windows_version);
    free(r->transport);
    free(r->switch_name);
    free(r->vm_name);
    free(r->port_id);
    memset(r, 0, sizeof *r);
}

const qhyv_selftest_step *qhyv_selftest_find(const qhyv_selftest_report *r, const char *name)
{
    for (size_t i = 0; i < r->nsteps; i++)
        if (!strcmp(r->steps[i].name, name))
            return &r->steps[i];
    return NULL;
}

static const char *st_result_name(qhyv_selftest_result res)
{
    return res == QHYV_ST_PASS ? "pass" : res == QHYV_ST_FAIL ? "FAIL" : "skip";
}

void qhyv_selftest_print(const qhyv_selftest_report *r, FILE *f)
{
    fprintf(f, "qhv-agent --selftest: Windows %s, WMI transport %s, scratch switch '%s', "
               "VM '%s', port %s\n\n",
            r->windows_version ? r->windows_version : "?", r->transport ? r->transport : "?",
            r->switch_name ? r->switch_name : "", r->vm_name ? r->vm_name : "",
            r->port_id ? r->port_id : "");
    fprintf(f, "%-36s %-6s %10s  %s\n", "STEP", "RESULT", "MS", "DETAIL");
    size_t n[3] = {0, 0, 0};
    for (size_t i = 0; i < r->nsteps; i++) {
        const qhyv_selftest_step *p = &r->steps[i];
        n[p->result]++;
        fprintf(f, "%-36s %-6s %10.1f  %s\n", p->name, st_result_name(p->result), p->ms,
                p->detail ? p->detail : "");
    }
    fprintf(f, "\n%zu passed, %zu failed, %zu skipped.\n", n[QHYV_ST_PASS], n[QHYV_ST_FAIL],
            n[QHYV_ST_SKIP]);
    if (r->nleftovers) {
        fprintf(f, "Clean-up could not remove (remove by hand):\n");
        for (size_t i = 0; i < r->nleftovers; i++)
            fprintf(f, "  %s\n", r->leftovers[i]);
    } else {
        fprintf(f, "Clean-up: everything the self-test made was removed.\n");
    }
    fprintf(f, "%s\n", r->passed ? "SELF-TEST PASSED" :
                       "SELF-TEST FAILED (attach the --selftest-report file to the bug)");
}

qj *qhyv_selftest_json(const qhyv_selftest_report *r)
{
    qj *o = qj_object();
    qj_set(o, "qhv_selftest", qj_int(1));
    qj_set(o, "windows_version", r->windows_version ? qj_str(r->windows_version) : qj_null());
    qj_set(o, "transport", r->transport ? qj_str(r->transport) : qj_null());
    qj_set(o, "switch", qj_str(r->switch_name ? r->switch_name : ""));
    qj_set(o, "vm", qj_str(r->vm_name ? r->vm_name : ""));
    qj_set(o, "port_id", qj_str(r->port_id ? r->port_id : ""));
    qj_set(o, "passed", qj_bool(r->passed));
    qj *steps = qj_array();
    for (size_t i = 0; i < r->nsteps; i++) {
        const qhyv_selftest_step *p = &r->steps[i];
        qj *x = qj_object();
        qj_set(x, "step", qj_str(p->name));
        qj_set(x, "result", qj_str(p->result == QHYV_ST_PASS ? "pass" :
                                   p->result == QHYV_ST_FAIL ? "fail" : "skip"));
        qj_set(x, "ms", qj_double(p->ms));
        qj_set(x, "detail", qj_str(p->detail ? p->detail : ""));
        qj_append(steps, x);
    }
    qj_set(o, "steps", steps);
    qj *left = qj_array();
    for (size_t i = 0; i < r->nleftovers; i++)
        qj_append(left, qj_str(r->leftovers[i]));
    qj_set(o, "cleanup_complete", qj_bool(r->nleftovers == 0));
    qj_set(o, "leftovers", left);
    qj *errs = qj_array();
    for (size_t i = 0; i < r->nerrors; i++) {
        qj *e = qj_object();
        qj_set(e, "step", qj_str(r->errors[i].step));
        qj_set(e, "call", qj_str(r->errors[i].call));
        qj_set(e, "text", qj_str(r->errors[i].text));
        qj_append(errs, e);
    }
    qj_set(o, "wmi_errors", errs);
    return o;
}

/* ---------- qhv-agent --selftest ---------- */

int qhyv_selftest_main(const qhyv_selftest_cli *c, FILE *out, FILE *errf)
{
    const char *name = c->transport && *c->transport ? c->transport : "com";
    qwmi_transport t = {0};
    char err[512] = "";
    int rc;
    if (!strcmp(name, "model")) {
        rc = qwmi_model_open(c->model_file && *c->model_file ? c->model_file : NULL,
                             c->windows_version && *c->windows_version ? c->windows_version
                                                                        : NULL,
                             &t, err, sizeof err);
    } else if (!strcmp(name, "com")) {
#ifdef _WIN32
        rc = qwmi_com_open(&t, err, sizeof err);
#else
        snprintf(err, sizeof err, "[hyperv] transport = com needs Windows (transport = model "
                                  "runs the self-test on the in-memory model)");
        rc = -1;
#endif
    } else {
        snprintf(err, sizeof err, "[hyperv] transport '%s': com or model", name);
        rc = -1;
    }
    if (rc < 0) {
        fprintf(errf, "qhv-agent --selftest: %s\n", err);
        if (strstr(err, "Hyper-V is absent"))
            fprintf(errf, "qhv-agent --selftest: nothing was tested: this host has no Hyper-V "
                          "WMI provider (root\\virtualization\\v2); install the Hyper-V role\n");
        return 2;
    }
    /* The backend's scratch state, beside nothing the agent uses. */
    char *state = NULL;
#ifdef _WIN32
    const char *tmp = getenv("TEMP");
    state = xasprintf("%s\\qhv-selftest-%lu.json", tmp && *tmp ? tmp : ".",
                      (unsigned long)qhv_now_us());
#else
    state = xasprintf("/tmp/qhv-selftest-%ld-%lu.json", (long)getpid(),
                      (unsigned long)qhv_now_us());
#endif
    qhyv_selftest_opts o = {.transport = &t, .state_file = state,
                            .windows_version = c->windows_version};
    qhyv_selftest_report r;
    rc = qhyv_selftest_run(&o, &r);
    qj *j = qhyv_selftest_json(&r);
    char *text = NULL;
    qbuf b;
    qbuf_init(&b, 0);
    qj_emit(j, &b, true);
    text = qbuf_steal(&b, NULL);
    qbuf_free(&b);
    if (c->json)
        fprintf(out, "%s\n", text);
    else
        qhyv_selftest_print(&r, out);
    if (c->report_file && *c->report_file) {
        if (qfile_write_atomic(c->report_file, text, false) < 0) {
            fprintf(errf, "qhv-agent --selftest: cannot write %s\n", c->report_file);
            rc = rc ? rc : 1;
        } else if (!c->json) {
            fprintf(out, "JSON report: %s\n", c->report_file);
        }
    }
    free(text);
    qj_free(j);
    qhyv_selftest_report_free(&r);
    free(state);
    t.cls->close(t.w);
    return rc ? 1 : 0;
}
