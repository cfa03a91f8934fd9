/* The COM transport of wmi.h (wmi_com.h): IWbemServices of the local
 * machine's namespaces, every call synchronous (semisynchronous for
 * queries, whose rows are pulled with a bounded wait). */
#include "vswitch/hyperv/wmi_com.h"
#include "vswitch/hyperv/wmi_com_int.h"
#include "lib/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The longest wait for one row of a query: a stuck provider must not hold
 * the agent's loop forever. */
#define QWMI_COM_ROW_TIMEOUT_MS 60000

/* The namespaces a call may name (wmi.h), in this order in struct qwmi. */
enum { QWMI_COM_VIRT, QWMI_COM_STDCIMV2, QWMI_COM_CIMV2, QWMI_COM_NNS };
static const char *const qwmi_com_roles[QWMI_COM_NNS] = {QWMI_NS_VIRT, QWMI_NS_STDCIMV2,
                                                         QWMI_NS_CIMV2};

struct qwmi {
    IWbemLocator *loc;                  /* for the namespaces opened on first use */
    char *ns[QWMI_COM_NNS];             /* the namespace each role connects to */
    IWbemServices *svc[QWMI_COM_NNS];   /* NULL until connected */
    bool com_init;                      /* CoUninitialize at close */
};

static void qwmi_com_close(qwmi *w)
{
    if (!w)
        return;
    for (int i = 0; i < QWMI_COM_NNS; i++) {
        if (w->svc[i])
            IWbemServices_Release(w->svc[i]);
        free(w->ns[i]);
    }
    if (w->loc)
        IWbemLocator_Release(w->loc);
    if (w->com_init)
        CoUninitialize();
    free(w);
}

static int qwmi_com_connect(IWbemLocator *loc, const char *ns, IWbemServices **ret, char *err,
                            size_t errlen)
{
    BSTR b = qwmi_bstr(ns);
    HRESULT hr = IWbemLocator_ConnectServer(loc, b, NULL, NULL, NULL, 0, NULL, NULL, ret);
    SysFreeString(b);
    char what[128];
    snprintf(what, sizeof what, "ConnectServer %s", ns);
    if (FAILED(hr))
        return qwmi_com_error(hr, what, err, errlen);
    /* Calls run as this process (LocalSystem for the service). */
    hr = CoSetProxyBlanket((IUnknown *)*ret, RPC_C_AUTHN_WINNT, RPC_C_AUTHZ_NONE, NULL,
                           RPC_C_AUTHN_LEVEL_CALL, RPC_C_IMP_LEVEL_IMPERSONATE, NULL, EOAC_NONE);
    if (FAILED(hr)) {
        IWbemServices_Release(*ret);
        *ret = NULL;
        snprintf(what, sizeof what, "CoSetProxyBlanket %s", ns);
        return qwmi_com_error(hr, what, err, errlen);
    }
    return 0;
}

/* The services of the namespace a call names, connected on first use
 * (root\virtualization\v2 is connected at open), or NULL with err naming
 * the namespace. A failed connection is tried again at the next call. */
static int qwmi_com_ns(qwmi *w, const char *ns, IWbemServices **svc, char *err, size_t errlen)
{
    *svc = NULL;
    for (int i = 0; ns && i < QWMI_COM_NNS; i++) {
        if (strcasecmp(ns, qwmi_com_roles[i]))
            continue;
        if (!w->svc[i]) {
            int rc = qwmi_com_connect(w->loc, w->ns[i], &w->svc[i], err, errlen);
            if (rc < 0)
                return rc;
        }
        *svc = w->svc[i];
        return 0;
    }
    snprintf(err, errlen, "namespace %s is not opened by the COM transport (%s, %s, %s are)",
             ns ? ns : "(null)", QWMI_NS_VIRT, QWMI_NS_STDCIMV2, QWMI_NS_CIMV2);
    return -EINVAL;
}

static int qwmi_com_query(qwmi *w, const char *ns, const char *wql, qj **rows, char *err,
                          size_t errlen)
{
    *rows = NULL;
    IWbemServices *svc;
    int nrc = qwmi_com_ns(w, ns, &svc, err, errlen);
    if (nrc < 0)
        return nrc;
    BSTR lang = SysAllocString(L"WQL"), q = qwmi_bstr(wql);
    IEnumWbemClassObject *en = NULL;
    HRESULT hr = IWbemServices_ExecQuery(
        svc, lang, q, WBEM_FLAG_FORWARD_ONLY | WBEM_FLAG_RETURN_IMMEDIATELY, NULL, &en);
    SysFreeString(lang);
    SysFreeString(q);
    if (FAILED(hr))
        return qwmi_com_error(hr, "ExecQuery", err, errlen);
    qj *out = qj_array();
    int rc = 0;
    for (;;) {
        IWbemClassObject *o = NULL;
        ULONG n = 0;
        hr = IEnumWbemClassObject_Next(en, QWMI_COM_ROW_TIMEOUT_MS, 1, &o, &n);
        if (n == 1 && o) {
            qj_append(out, qwmi_object_json(o));
            IWbemClassObject_Release(o);
        }
        if (hr == WBEM_S_TIMEDOUT || FAILED(hr)) {
            rc = qwmi_com_error(hr, "ExecQuery (reading rows)", err, errlen);
            break;
        }
        if (hr != WBEM_S_NO_ERROR || n == 0)
            break;  /* WBEM_S_FALSE: no more rows */
    }
    IEnumWbemClassObject_Release(en);
    if (rc < 0) {
        qj_free(out);
        return rc;
    }
    *rows = out;
    return 0;
}

static int qwmi_com_get(qwmi *w, const char *ns, const char *path, qj **obj, char *err,
                        size_t errlen)
{
    *obj = NULL;
    IWbemServices *svc;
    int nrc = qwmi_com_ns(w, ns, &svc, err, errlen);
    if (nrc < 0)
        return nrc;
    BSTR p = qwmi_bstr(path);
    IWbemClassObject *o = NULL;
    HRESULT hr = IWbemServices_GetObject(svc, p, WBEM_FLAG_RETURN_WBEM_COMPLETE, NULL, &o, NULL);
    SysFreeString(p);
    if (FAILED(hr))
        return qwmi_com_error(hr, "GetObject", err, errlen);
    *obj = qwmi_object_json(o);
    IWbemClassObject_Release(o);
    return 0;
}

/* The class named by an object path: after "\\server\namespace:" if any,
 * up to the keys ('.'), a singleton's '=@', or the end. */
static char *qwmi_com_path_class(const char *path)
{
    const char *p = path;
    if ((p[0] == '\\' && p[1] == '\\') || (p[0] == '/' && p[1] == '/')) {
        const char *colon = strchr(p, ':');
        p = colon ? colon + 1 : p;
    }
    return xstrndup(p, strcspn(p, ".="));
}

static int qwmi_com_call(qwmi *w, const char *ns, const char *path, const char *method,
                         const qj *in, qj **out, char *err, size_t errlen)
{
    *out = NULL;
    IWbemServices *svc;
    int nrc = qwmi_com_ns(w, ns, &svc, err, errlen);
    if (nrc < 0)
        return nrc;
    char what[256];
    char *cls = qwmi_com_path_class(path);
    BSTR bcls = qwmi_bstr(cls), bmethod = qwmi_bstr(method);
    IWbemClassObject *def = NULL, *sig = NULL, *params = NULL, *result = NULL;
    int rc = 0;
    /* The method's in-signature gives each parameter's CIM type. */
    HRESULT hr = IWbemServices_GetObject(svc, bcls, 0, NULL, &def, NULL);
    if (FAILED(hr)) {
        snprintf(what, sizeof what, "class %s", cls);
        rc = qwmi_com_error(hr, what, err, errlen);
        goto done;
    }
    hr = IWbemClassObject_GetMethod(def, bmethod, 0, &sig, NULL);
    if (FAILED(hr)) {
        snprintf(what, sizeof what, "method %s.%s", cls, method);
        rc = qwmi_com_error(hr, what, err, errlen);
        goto done;
    }
    if (sig) {
        hr = IWbemClassObject_SpawnInstance(sig, 0, &params);
        if (FAILED(hr)) {
            snprintf(what, sizeof what, "%s.%s in-parameters", cls, method);
            rc = qwmi_com_error(hr, what, err, errlen);
            goto done;
        }
        if (in) {
            char why[512];
            rc = qwmi_object_put(svc, params, in, why, sizeof why);
            if (rc < 0) {
                snprintf(err, errlen, "%s.%s: %s", cls, method, why);
                goto done;
            }
        }
    } else if (in && qj_len(in)) {
        snprintf(err, errlen, "%s.%s takes no parameters", cls, method);
        rc = -EINVAL;
        goto done;
    }
    BSTR bpath = qwmi_bstr(path);
    hr = IWbemServices_ExecMethod(svc, bpath, bmethod, 0, NULL, params, &result, NULL);
    SysFreeString(bpath);
    if (FAILED(hr)) {
        snprintf(what, sizeof what, "ExecMethod %s.%s", cls, method);
        rc = qwmi_com_error(hr, what, err, errlen);
        goto done;
    }
    *out = result ? qwmi_object_json(result) : qj_object();
    /* The out-parameters' pseudo-class is no instance: no "__CLASS"/"__PATH". */
    qj_remove(*out, "__CLASS");
    qj_remove(*out, "__PATH");
done:
    if (result)
        IWbemClassObject_Release(result);
    if (params)
        IWbemClassObject_Release(params);
    if (sig)
        IWbemClassObject_Release(sig);
    if (def)
        IWbemClassObject_Release(def);
    SysFreeString(bcls);
    SysFreeString(bmethod);
    free(cls);
    return rc;
}

static int qwmi_com_put_instance(qwmi *w, const char *ns, const qj *inst, char **path, char *err,
                                 size_t errlen)
{
    if (path)
        *path = NULL;
    IWbemServices *svc;
    int nrc = qwmi_com_ns(w, ns, &svc, err, errlen);
    if (nrc < 0)
        return nrc;
    IWbemClassObject *o;
    int rc = qwmi_spawn(svc, inst, &o, err, errlen);
    if (rc < 0)
        return rc;
    IWbemCallResult *cr = NULL;
    HRESULT hr = IWbemServices_PutInstance(svc, o, WBEM_FLAG_CREATE_OR_UPDATE, NULL,
                                           path ? &cr : NULL);
    if (FAILED(hr)) {
        char what[160];
        snprintf(what, sizeof what, "PutInstance %s", qj_get_str(inst, "__CLASS"));
        rc = qwmi_com_error(hr, what, err, errlen);
    } else if (path) {
        BSTR p = NULL;
        if (cr && SUCCEEDED(IWbemCallResult_GetResultString(cr, WBEM_INFINITE, &p)) && p) {
            *path = qwmi_utf8(p);
        } else {
            /* The keys are set: the relative path is known locally. */
            VARIANT v;
            VariantInit(&v);
            if (SUCCEEDED(IWbemClassObject_Get(o, L"__RELPATH", 0, &v, NULL, NULL)) &&
                V_VT(&v) == VT_BSTR)
                *path = qwmi_utf8(V_BSTR(&v));
            VariantClear(&v);
        }
        SysFreeString(p);
    }
    if (cr)
        IWbemCallResult_Release(cr);
    IWbemClassObject_Release(o);
    return rc;
}

static int qwmi_com_delete_instance(qwmi *w, const char *ns, const char *path, char *err,
                                    size_t errlen)
{
    IWbemServices *svc;
    int nrc = qwmi_com_ns(w, ns, &svc, err, errlen);
    if (nrc < 0)
        return nrc;
    BSTR p = qwmi_bstr(path);
    HRESULT hr = IWbemServices_DeleteInstance(svc, p, 0, NULL, NULL);
    SysFreeString(p);
    return FAILED(hr) ? qwmi_com_error(hr, "DeleteInstance", err, errlen) : 0;
}

/* *ret = the qualifier name of a property's qualifier set qs as a JSON
 * array of strings (numbers printed). 0, -ENOENT when the property has no
 * such qualifier, or another negative errno with err. */
static int qwmi_com_qualifier(IWbemQualifierSet *qs, const wchar_t *name, const char *what,
                              qj **ret, char *err, size_t errlen)
{
    *ret = NULL;
    VARIANT v;
    VariantInit(&v);
    HRESULT hr = IWbemQualifierSet_Get(qs, name, 0, &v, NULL);
    if (hr == (HRESULT)WBEM_E_NOT_FOUND)
        return -ENOENT;
    if (FAILED(hr))
        return qwmi_com_error(hr, what, err, errlen);
    qj *j = qwmi_value_json(&v, 0);
    VariantClear(&v);
    if (!qj_is(j, QJ_ARRAY)) {
        qj_free(j);
        snprintf(err, errlen, "%s: not an array", what);
        return -EIO;
    }
    qj *out = qj_array();
    for (size_t i = 0; i < qj_len(j); i++) {
        const qj *e = qj_at(j, i);
        if (qj_is(e, QJ_INT)) {
            char b[32];
            snprintf(b, sizeof b, "%lld", (long long)e->u.i);
            qj_append(out, qj_str(b));
        } else {
            qj_append(out, qj_str(qj_as_str(e) ? qj_as_str(e) : ""));
        }
    }
    qj_free(j);
    *ret = out;
    return 0;
}

/* The Values and ValueMap qualifiers of cls.prop in the class definition
 * def: 0 (*values may stay NULL when def has no Values; *valuemap NULL
 * when it has no ValueMap), or a negative errno with err. */
static int qwmi_com_read_map(IWbemClassObject *def, const char *cls, const char *prop,
                             qj **values, qj **valuemap, char *err, size_t errlen)
{
    *values = *valuemap = NULL;
    char what[256];
    BSTR bprop = qwmi_bstr(prop);
    IWbemQualifierSet *qs = NULL;
    /* Whether the class has the property at all (Wine gives any name an
     * empty qualifier set). */
    HRESULT hr = IWbemClassObject_Get(def, bprop, 0, NULL, NULL, NULL);
    if (SUCCEEDED(hr))
        hr = IWbemClassObject_GetPropertyQualifierSet(def, bprop, &qs);
    SysFreeString(bprop);
    if (FAILED(hr) || !qs) {
        snprintf(what, sizeof what, "property %s.%s", cls, prop);
        int rc = qwmi_com_error(hr, what, err, errlen);
        return hr == (HRESULT)WBEM_E_NOT_FOUND ? -ENOENT : rc;
    }
    snprintf(what, sizeof what, "qualifier Values of %s.%s", cls, prop);
    int rc = qwmi_com_qualifier(qs, L"Values", what, values, err, errlen);
    if (rc == 0 || rc == -ENOENT) {
        snprintf(what, sizeof what, "qualifier ValueMap of %s.%s", cls, prop);
        rc = qwmi_com_qualifier(qs, L"ValueMap", what, valuemap, err, errlen);
        if (rc == -ENOENT)
            rc = 0;
    }
    IWbemQualifierSet_Release(qs);
    if (rc < 0) {
        qj_free(*values);
        qj_free(*valuemap);
        *values = *valuemap = NULL;
    }
    return rc;
}

/* Values are localized, amended qualifiers: a class definition read without
 * WBEM_FLAG_USE_AMENDED_QUALIFIERS may lack them (ValueMap is not amended).
 * So: without the flag first, then with it. Without ValueMap, the CIM rule
 * applies: Values is indexed by the property's value (0, 1, ...). */
static int qwmi_com_value_map(qwmi *w, const char *ns, const char *cls, const char *prop,
                              qj **map, char *err, size_t errlen)
{
    *map = NULL;
    IWbemServices *svc;
    int rc = qwmi_com_ns(w, ns, &svc, err, errlen);
    if (rc < 0)
        return rc;
    BSTR bcls = qwmi_bstr(cls);
    qj *values = NULL, *valuemap = NULL;
    static const LONG flags[] = {0, WBEM_FLAG_USE_AMENDED_QUALIFIERS};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0] && !values; i++) {
        qj_free(valuemap);
        valuemap = NULL;
        IWbemClassObject *def = NULL;
        HRESULT hr = IWbemServices_GetObject(svc, bcls, flags[i], NULL, &def, NULL);
        if (FAILED(hr) || !def) {
            char what[160];
            snprintf(what, sizeof what, "class %s%s", cls,
                     flags[i] ? " (with amended qualifiers)" : "");
            rc = qwmi_com_error(hr, what, err, errlen);
            if (hr == (HRESULT)WBEM_E_NOT_FOUND || hr == (HRESULT)WBEM_E_INVALID_CLASS)
                rc = -ENOENT;
            break;
        }
        rc = qwmi_com_read_map(def, cls, prop, &values, &valuemap, err, errlen);
        IWbemClassObject_Release(def);
        if (rc < 0)
            break;
    }
    SysFreeString(bcls);
    if (rc == 0 && !values) {
        snprintf(err, errlen, "%s.%s has no Values qualifier (ValueMap %s), even with amended "
                              "qualifiers", cls, prop, valuemap ? "present" : "absent too");
        rc = -ENOENT;
    } else if (rc == 0 && valuemap && qj_len(valuemap) != qj_len(values)) {
        snprintf(err, errlen, "%s.%s: the Values qualifier has %zu entries, ValueMap %zu", cls,
                 prop, qj_len(values), qj_len(valuemap));
        rc = -EIO;
    }
    if (rc == 0) {
        *map = qj_object();
        for (size_t i = 0; i < qj_len(values); i++) {
            char idx[32];
            snprintf(idx, sizeof idx, "%zu", i);
            qj_set(*map, qj_as_str(qj_at(values, i)),
                   qj_str(valuemap ? qj_as_str(qj_at(valuemap, i)) : idx));
        }
    }
    qj_free(values);
    qj_free(valuemap);
    return rc;
}

const qwmi_class qwmi_com_class = {
    .name = "com",
    .close = qwmi_com_close,
    .query = qwmi_com_query,
    .get = qwmi_com_get,
    .call = qwmi_com_call,
    .put_instance = qwmi_com_put_instance,
    .delete_instance = qwmi_com_delete_instance,
    .value_map = qwmi_com_value_map,
};

int qwmi_com_open(qwmi_transport *ret, char *err, size_t errlen)
{
    return qwmi_com_open_at(ret, QWMI_NS_VIRT, QWMI_NS_STDCIMV2, QWMI_NS_CIMV2, err, errlen);
}

int qwmi_com_open_at(qwmi_transport *ret, const char *virt_ns, const char *stdcimv2_ns,
                     const char *cimv2_ns, char *err, size_t errlen)
{
    ret->cls = &qwmi_com_class;
    ret->w = NULL;
    qwmi *w = xcalloc(1, sizeof *w);
    w->ns[QWMI_COM_VIRT] = xstrdup(virt_ns);
    w->ns[QWMI_COM_STDCIMV2] = xstrdup(stdcimv2_ns);
    w->ns[QWMI_COM_CIMV2] = xstrdup(cimv2_ns);
    HRESULT hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    /* RPC_E_CHANGED_MODE: this thread already has COM (apartment-threaded);
     * use it as it is, and leave its uninitialisation to its owner. */
    if (FAILED(hr) && hr != RPC_E_CHANGED_MODE) {
        qwmi_com_close(w);
        return qwmi_com_error(hr, "CoInitializeEx", err, errlen);
    }
    w->com_init = SUCCEEDED(hr);
    /* Process-wide, once; RPC_E_TOO_LATE: someone already chose (fine). */
    hr = CoInitializeSecurity(NULL, -1, NULL, NULL, RPC_C_AUTHN_LEVEL_DEFAULT,
                              RPC_C_IMP_LEVEL_IMPERSONATE, NULL, EOAC_NONE, NULL);
    if (FAILED(hr) && hr != RPC_E_TOO_LATE) {
        qwmi_com_close(w);
        return qwmi_com_error(hr, "CoInitializeSecurity", err, errlen);
    }
    hr = CoCreateInstance(&CLSID_WbemLocator, NULL, CLSCTX_INPROC_SERVER, &IID_IWbemLocator,
                          (void **)&w->loc);
    if (FAILED(hr)) {
        char why[512];
        int rc = qwmi_com_error(hr, "WMI is not available: CoCreateInstance(WbemLocator)", why,
                                sizeof why);
        snprintf(err, errlen, "Hyper-V is absent: %s", why);
        qwmi_com_close(w);
        return rc;
    }
    /* root\virtualization\v2 at once: without it there is no Hyper-V role
     * (or no WMI provider for it, as under Wine), the operator's first
     * question. The other namespaces are connected by their first call,
     * whose error names them. */
    char why[512];
    int rc = qwmi_com_connect(w->loc, w->ns[QWMI_COM_VIRT], &w->svc[QWMI_COM_VIRT], why,
                              sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "Hyper-V is absent: %s", why);
        qwmi_com_close(w);
        return rc;
    }
    ret->w = w;
    return 0;
}
