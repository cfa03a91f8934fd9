/* The COM transport of wmi.h (wmi_com.h): IWbemServices of the local
 * machine's two namespaces, every call synchronous (semisynchronous for
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

struct qwmi {
    IWbemServices *virt;    /* root\virtualization\v2 */
    IWbemServices *cimv2;   /* root\StandardCimv2 */
    bool com_init;          /* CoUninitialize at close */
};

static void qwmi_com_close(qwmi *w)
{
    if (!w)
        return;
    if (w->virt)
        IWbemServices_Release(w->virt);
    if (w->cimv2)
        IWbemServices_Release(w->cimv2);
    if (w->com_init)
        CoUninitialize();
    free(w);
}

/* The namespace's services, or NULL with err. */
static IWbemServices *qwmi_com_ns(qwmi *w, const char *ns, char *err, size_t errlen)
{
    if (ns && !strcasecmp(ns, QWMI_NS_VIRT))
        return w->virt;
    if (ns && !strcasecmp(ns, QWMI_NS_STDCIMV2))
        return w->cimv2;
    snprintf(err, errlen, "namespace %s is not opened by the COM transport (%s, %s are)",
             ns ? ns : "(null)", QWMI_NS_VIRT, QWMI_NS_STDCIMV2);
    return NULL;
}

static int qwmi_com_query(qwmi *w, const char *ns, const char *wql, qj **rows, char *err,
                          size_t errlen)
{
    *rows = NULL;
    IWbemServices *svc = qwmi_com_ns(w, ns, err, errlen);
    if (!svc)
        return -EINVAL;
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
    IWbemServices *svc = qwmi_com_ns(w, ns, err, errlen);
    if (!svc)
        return -EINVAL;
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
    IWbemServices *svc = qwmi_com_ns(w, ns, err, errlen);
    if (!svc)
        return -EINVAL;
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
    IWbemServices *svc = qwmi_com_ns(w, ns, err, errlen);
    if (!svc)
        return -EINVAL;
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
    IWbemServices *svc = qwmi_com_ns(w, ns, err, errlen);
    if (!svc)
        return -EINVAL;
    BSTR p = qwmi_bstr(path);
    HRESULT hr = IWbemServices_DeleteInstance(svc, p, 0, NULL, NULL);
    SysFreeString(p);
    return FAILED(hr) ? qwmi_com_error(hr, "DeleteInstance", err, errlen) : 0;
}

const qwmi_class qwmi_com_class = {
    .name = "com",
    .close = qwmi_com_close,
    .query = qwmi_com_query,
    .get = qwmi_com_get,
    .call = qwmi_com_call,
    .put_instance = qwmi_com_put_instance,
    .delete_instance = qwmi_com_delete_instance,
};

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

int qwmi_com_open(qwmi_transport *ret, char *err, size_t errlen)
{
    return qwmi_com_open_at(ret, QWMI_NS_VIRT, QWMI_NS_STDCIMV2, err, errlen);
}

int qwmi_com_open_at(qwmi_transport *ret, const char *virt_ns, const char *cimv2_ns, char *err,
                     size_t errlen)
{
    ret->cls = &qwmi_com_class;
    ret->w = NULL;
    qwmi *w = xcalloc(1, sizeof *w);
    HRESULT hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    /* RPC_E_CHANGED_MODE: this thread already has COM (apartment-threaded);
     * use it as it is, and leave its uninitialisation to its owner. */
    if (FAILED(hr) && hr != RPC_E_CHANGED_MODE) {
        free(w);
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
    IWbemLocator *loc = NULL;
    hr = CoCreateInstance(&CLSID_WbemLocator, NULL, CLSCTX_INPROC_SERVER, &IID_IWbemLocator,
                          (void **)&loc);
    if (FAILED(hr)) {
        char why[512];
        int rc = qwmi_com_error(hr, "WMI is not available: CoCreateInstance(WbemLocator)", why,
                                sizeof why);
        snprintf(err, errlen, "Hyper-V is absent: %s", why);
        qwmi_com_close(w);
        return rc;
    }
    char why[512];
    int rc = qwmi_com_connect(loc, virt_ns, &w->virt, why, sizeof why);
    if (rc < 0) {
        /* No virtualization namespace: no Hyper-V role (or no WMI provider
         * for it, as under Wine). The operator's first question answered. */
        snprintf(err, errlen, "Hyper-V is absent: %s", why);
    } else {
        rc = qwmi_com_connect(loc, cimv2_ns, &w->cimv2, err, errlen);
    }
    IWbemLocator_Release(loc);
    if (rc < 0) {
        qwmi_com_close(w);
        return rc;
    }
    ret->w = w;
    return 0;
}
