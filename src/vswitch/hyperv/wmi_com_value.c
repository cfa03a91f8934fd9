/* WMI values ↔ JSON for the COM transport (wmi_com_int.h; the mapping is
 * wmi.h's "WMI VALUES AS JSON").
 *
 * Out of WMI, the VARIANT's type says most, the CIM type the rest: WMI
 * hands uint32 over as VT_I4 (reinterpreted here as unsigned), and 64-bit
 * integers as strings (kept as strings, as the contract says).
 * Into WMI, the target's declared CIM type decides the VARIANT type (the
 * property of the class, the parameter of the method's signature), and an
 * embedded instance goes in as an object where the target is CIM_OBJECT,
 * and as its CIM-XML text (what PowerShell's GetText(1) gives, and what
 * Msvm methods' string[] "EmbeddedInstance" parameters take) where the
 * target is a string. */
#include "vswitch/hyperv/wmi_com_int.h"
#include "lib/util.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *qwmi_utf8(const wchar_t *w)
{
    if (!w)
        return xstrdup("");
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    if (n <= 0)
        return xstrdup("");
    char *s = xmalloc((size_t)n);
    WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    return s;
}

BSTR qwmi_bstr(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    if (n <= 0)
        return SysAllocString(L"");
    BSTR b = SysAllocStringLen(NULL, (UINT)(n - 1));
    if (!b)
        abort();    /* out of memory, as xmalloc */
    MultiByteToWideChar(CP_UTF8, 0, s, -1, b, n);
    return b;
}

/* ---------- out of WMI ---------- */

static qj *qwmi_scalar_json(const VARIANT *v, CIMTYPE base)
{
    switch (V_VT(v)) {
    case VT_EMPTY:
    case VT_NULL:
        return qj_null();
    case VT_BOOL:
        return qj_bool(V_BOOL(v) != VARIANT_FALSE);
    case VT_BSTR: {
        char *s = qwmi_utf8(V_BSTR(v));
        return qj_str_take(s);
    }
    case VT_I1:
        return qj_int(V_I1(v));
    case VT_UI1:
        return qj_int(V_UI1(v));
    case VT_I2:
        return qj_int(base == CIM_CHAR16 ? (int64_t)(uint16_t)V_I2(v) : V_I2(v));
    case VT_UI2:
        return qj_int(V_UI2(v));
    case VT_I4:
    case VT_INT:
        return qj_int(base == CIM_UINT32 ? (int64_t)(uint32_t)V_I4(v) : V_I4(v));
    case VT_UI4:
    case VT_UINT:
        return qj_int(V_UI4(v));
    case VT_I8: {
        char b[32];
        snprintf(b, sizeof b, "%" PRId64, (int64_t)V_I8(v));
        return qj_str(b);
    }
    case VT_UI8: {
        char b[32];
        snprintf(b, sizeof b, "%" PRIu64, (uint64_t)V_UI8(v));
        return qj_str(b);
    }
    case VT_R4:
        return qj_double(V_R4(v));
    case VT_R8:
        return qj_double(V_R8(v));
    case VT_UNKNOWN:
    case VT_DISPATCH: {
        IUnknown *u = V_VT(v) == VT_UNKNOWN ? V_UNKNOWN(v) : (IUnknown *)V_DISPATCH(v);
        IWbemClassObject *o = NULL;
        if (!u || FAILED(IUnknown_QueryInterface(u, &IID_IWbemClassObject, (void **)&o)))
            return qj_null();
        qj *j = qwmi_object_json(o);
        IWbemClassObject_Release(o);
        return j;
    }
    default:
        /* No CIM type maps to another VARIANT type. */
        return qj_null();
    }
}

qj *qwmi_value_json(const VARIANT *v, CIMTYPE t)
{
    CIMTYPE base = t & ~CIM_FLAG_ARRAY;
    if (!(V_VT(v) & VT_ARRAY))
        return qwmi_scalar_json(v, base);
    qj *arr = qj_array();
    SAFEARRAY *sa = V_ARRAY(v);
    VARTYPE vt = V_VT(v) & VT_TYPEMASK;
    LONG lo = 0, hi = -1;
    if (!sa || FAILED(SafeArrayGetLBound(sa, 1, &lo)) || FAILED(SafeArrayGetUBound(sa, 1, &hi)))
        return arr;
    for (LONG i = lo; i <= hi; i++) {
        VARIANT e;
        VariantInit(&e);
        /* Every member of VARIANT's value union starts at the same address;
         * GetElement copies (BSTR duplicated, interfaces AddRef'd). */
        HRESULT hr = vt == VT_VARIANT ? SafeArrayGetElement(sa, &i, &e)
                                      : SafeArrayGetElement(sa, &i, &V_I8(&e));
        if (FAILED(hr)) {
            qj_append(arr, qj_null());
            continue;
        }
        if (vt != VT_VARIANT)
            V_VT(&e) = vt;
        qj_append(arr, qwmi_scalar_json(&e, base));
        VariantClear(&e);
    }
    return arr;
}

/* A system property's string value, or NULL. */
static char *qwmi_system_str(IWbemClassObject *o, const wchar_t *name)
{
    VARIANT v;
    VariantInit(&v);
    char *s = NULL;
    if (SUCCEEDED(IWbemClassObject_Get(o, name, 0, &v, NULL, NULL)) && V_VT(&v) == VT_BSTR &&
        V_BSTR(&v))
        s = qwmi_utf8(V_BSTR(&v));
    VariantClear(&v);
    return s;
}

qj *qwmi_object_json(IWbemClassObject *o)
{
    qj *obj = qj_object();
    char *cls = qwmi_system_str(o, L"__CLASS");
    if (cls)
        qj_set_new(obj, "__CLASS", qj_str_take(cls));
    char *path = qwmi_system_str(o, L"__PATH");
    if (!path)
        path = qwmi_system_str(o, L"__RELPATH");
    if (path)
        qj_set_new(obj, "__PATH", qj_str_take(path));
    if (FAILED(IWbemClassObject_BeginEnumeration(o, WBEM_FLAG_NONSYSTEM_ONLY)))
        return obj;
    BSTR name = NULL;
    VARIANT v;
    CIMTYPE t;
    VariantInit(&v);
    while (IWbemClassObject_Next(o, 0, &name, &v, &t, NULL) == WBEM_S_NO_ERROR) {
        char *key = qwmi_utf8(name);
        qj_set(obj, key, qwmi_value_json(&v, t));
        free(key);
        SysFreeString(name);
        name = NULL;
        VariantClear(&v);
    }
    IWbemClassObject_EndEnumeration(o);
    return obj;
}

/* ---------- into WMI ---------- */

/* The VARIANT type WMI expects for a CIM type; for an unknown one (0), the
 * natural type of the JSON value. */
static VARTYPE qwmi_vartype(CIMTYPE base, const qj *sample)
{
    switch (base) {
    case CIM_OBJECT:
        return VT_UNKNOWN;
    case CIM_STRING:
    case CIM_DATETIME:
    case CIM_REFERENCE:
    case CIM_SINT64:
    case CIM_UINT64:
        return VT_BSTR;
    case CIM_UINT8:
        return VT_UI1;
    case CIM_SINT8:
    case CIM_SINT16:
    case CIM_CHAR16:
        return VT_I2;
    case CIM_UINT16:
    case CIM_UINT32:
    case CIM_SINT32:
        return VT_I4;
    case CIM_REAL32:
        return VT_R4;
    case CIM_REAL64:
        return VT_R8;
    case CIM_BOOLEAN:
        return VT_BOOL;
    default:
        break;
    }
    switch (sample ? sample->type : QJ_NULL) {
    case QJ_BOOL:
        return VT_BOOL;
    case QJ_INT:
        return VT_I4;
    case QJ_DOUBLE:
        return VT_R8;
    case QJ_OBJECT:
        return VT_UNKNOWN;
    default:
        return VT_BSTR;
    }
}

/* An embedded instance's CIM-XML text (WMI_OBJ_TEXT_CIM_DTD_2_0). */
static int qwmi_object_text(IWbemClassObject *o, BSTR *ret, char *err, size_t errlen)
{
    IWbemObjectTextSrc *src = NULL;
    HRESULT hr = CoCreateInstance(&CLSID_WbemObjectTextSrc, NULL, CLSCTX_INPROC_SERVER,
                                  &IID_IWbemObjectTextSrc, (void **)&src);
    if (FAILED(hr))
        return qwmi_com_error(hr, "CoCreateInstance(WbemObjectTextSrc)", err, errlen);
    hr = IWbemObjectTextSrc_GetText(src, 0, o, WMI_OBJ_TEXT_CIM_DTD_2_0, NULL, ret);
    IWbemObjectTextSrc_Release(src);
    return FAILED(hr) ? qwmi_com_error(hr, "GetText(CIM DTD 2.0)", err, errlen) : 0;
}

/* The values an integer CIM type holds (unknown types: int32's). */
static void qwmi_int_range(CIMTYPE base, int64_t *lo, int64_t *hi)
{
    switch (base) {
    case CIM_UINT8:
        *lo = 0, *hi = UINT8_MAX;
        break;
    case CIM_SINT8:
        *lo = INT8_MIN, *hi = INT8_MAX;
        break;
    case CIM_SINT16:
        *lo = INT16_MIN, *hi = INT16_MAX;
        break;
    case CIM_UINT16:
    case CIM_CHAR16:
        *lo = 0, *hi = UINT16_MAX;
        break;
    case CIM_UINT32:
        *lo = 0, *hi = UINT32_MAX;
        break;
    default:
        *lo = INT32_MIN, *hi = INT32_MAX;
        break;
    }
}

/* One scalar JSON value as a VARIANT of type vt (for CIM type base). */
static int qwmi_scalar_variant(IWbemServices *svc, const qj *v, CIMTYPE base, VARTYPE vt,
                               VARIANT *ret, char *err, size_t errlen)
{
    VariantInit(ret);
    if (!v || v->type == QJ_NULL) {
        V_VT(ret) = VT_NULL;
        return 0;
    }
    if (v->type == QJ_OBJECT) {
        if (vt != VT_UNKNOWN && vt != VT_BSTR) {
            snprintf(err, errlen, "an object where WMI expects a scalar (CIM type %ld)",
                     (long)base);
            return -EINVAL;
        }
        IWbemClassObject *o;
        int rc = qwmi_spawn(svc, v, &o, err, errlen);
        if (rc < 0)
            return rc;
        if (vt == VT_UNKNOWN) {
            V_VT(ret) = VT_UNKNOWN;
            V_UNKNOWN(ret) = (IUnknown *)o;     /* the VARIANT holds our reference */
            return 0;
        }
        BSTR text = NULL;
        rc = qwmi_object_text(o, &text, err, errlen);
        IWbemClassObject_Release(o);
        if (rc < 0)
            return rc;
        V_VT(ret) = VT_BSTR;
        V_BSTR(ret) = text;
        return 0;
    }
    if (v->type == QJ_ARRAY) {
        snprintf(err, errlen, "an array where WMI expects a scalar (CIM type %ld)", (long)base);
        return -EINVAL;
    }
    /* Numbers given as strings (as WMI itself gives 64-bit ones) and
     * numbers where a string is wanted are both accepted. */
    int64_t i = 0;
    bool is_int = v->type == QJ_INT || v->type == QJ_BOOL;
    if (v->type == QJ_INT)
        i = v->u.i;
    else if (v->type == QJ_BOOL)
        i = v->u.b;
    else if (v->type == QJ_STRING && vt != VT_BSTR)
        is_int = qhv_parse_i64(v->u.str.s, INT64_MIN, INT64_MAX, &i) == 0;
    double d = v->type == QJ_DOUBLE ? v->u.d : (double)i;
    switch (vt) {
    case VT_BSTR:
        if (v->type == QJ_STRING) {
            V_BSTR(ret) = qwmi_bstr(v->u.str.s);
        } else {
            char b[64];
            if (v->type == QJ_DOUBLE)
                snprintf(b, sizeof b, "%.17g", v->u.d);
            else if (v->type == QJ_BOOL)
                snprintf(b, sizeof b, "%s", v->u.b ? "true" : "false");
            else
                snprintf(b, sizeof b, "%" PRId64, i);
            V_BSTR(ret) = qwmi_bstr(b);
        }
        break;
    case VT_BOOL:
        if (v->type == QJ_STRING && !is_int)
            goto mismatch;
        V_BOOL(ret) = (v->type == QJ_DOUBLE ? d != 0 : i != 0) ? VARIANT_TRUE : VARIANT_FALSE;
        break;
    case VT_R4:
    case VT_R8:
        if (!is_int && v->type != QJ_DOUBLE)
            goto mismatch;
        if (vt == VT_R4)
            V_R4(ret) = (float)d;
        else
            V_R8(ret) = d;
        break;
    case VT_UI1:
    case VT_I2:
    case VT_I4: {
        if (!is_int)
            goto mismatch;
        int64_t lo, hi;
        qwmi_int_range(base, &lo, &hi);
        if (i < lo || i > hi) {
            snprintf(err, errlen, "%" PRId64 " is out of range for CIM type %ld", i, (long)base);
            return -ERANGE;
        }
        if (vt == VT_UI1)
            V_UI1(ret) = (BYTE)i;
        else if (vt == VT_I2)
            V_I2(ret) = (SHORT)(int16_t)(uint16_t)i;     /* uint16 bits for CIM_CHAR16 */
        else
            V_I4(ret) = (LONG)(int32_t)(uint32_t)i;      /* uint32 bits, as WMI passes them */
        break;
    }
    default:
        goto mismatch;
    }
    V_VT(ret) = vt;
    return 0;
mismatch:
    snprintf(err, errlen, "a JSON %s does not convert to CIM type %ld",
             v->type == QJ_STRING ? "string" : v->type == QJ_DOUBLE ? "number" : "value",
             (long)base);
    return -EINVAL;
}

/* v (scalar or array) as the VARIANT for CIM type t. */
static int qwmi_variant(IWbemServices *svc, const qj *v, CIMTYPE t, VARIANT *ret, char *err,
                        size_t errlen)
{
    CIMTYPE base = t & ~CIM_FLAG_ARRAY;
    if (!qj_is(v, QJ_ARRAY))
        return qwmi_scalar_variant(svc, v, base, qwmi_vartype(base, v), ret, err, errlen);
    VariantInit(ret);
    size_t n = qj_len(v);
    VARTYPE vt = qwmi_vartype(base, n ? qj_at(v, 0) : NULL);
    SAFEARRAY *sa = SafeArrayCreateVector(vt, 0, (ULONG)n);
    if (!sa)
        abort();    /* out of memory, as xmalloc */
    for (size_t i = 0; i < n; i++) {
        VARIANT e;
        int rc = qwmi_scalar_variant(svc, qj_at(v, i), base, vt, &e, err, errlen);
        if (rc == 0 && V_VT(&e) == VT_NULL) {
            snprintf(err, errlen, "null in an array");
            rc = -EINVAL;
        }
        if (rc < 0) {
            VariantClear(&e);
            SafeArrayDestroy(sa);
            return rc;
        }
        LONG idx = (LONG)i;
        /* PutElement copies: a BSTR is duplicated, an interface AddRef'd. */
        void *p = vt == VT_BSTR ? (void *)V_BSTR(&e)
                : vt == VT_UNKNOWN ? (void *)V_UNKNOWN(&e)
                                   : (void *)&V_I8(&e);
        HRESULT hr = SafeArrayPutElement(sa, &idx, p);
        VariantClear(&e);
        if (FAILED(hr)) {
            SafeArrayDestroy(sa);
            return qwmi_com_error(hr, "SafeArrayPutElement", err, errlen);
        }
    }
    V_VT(ret) = VT_ARRAY | vt;
    V_ARRAY(ret) = sa;
    return 0;
}

int qwmi_object_put(IWbemServices *svc, IWbemClassObject *o, const qj *props, char *err,
                    size_t errlen)
{
    if (!qj_is(props, QJ_OBJECT)) {
        snprintf(err, errlen, "properties must be a JSON object");
        return -EINVAL;
    }
    for (size_t i = 0; i < props->u.obj.n; i++) {
        const qj_member *m = &props->u.obj.m[i];
        if (!strncmp(m->key, "__", 2))
            continue;   /* system properties: __CLASS, __PATH, ... */
        BSTR name = qwmi_bstr(m->key);
        CIMTYPE t = 0;
        HRESULT hr = IWbemClassObject_Get(o, name, 0, NULL, &t, NULL);
        char what[160];
        if (FAILED(hr)) {
            snprintf(what, sizeof what, "property %s", m->key);
            SysFreeString(name);
            return qwmi_com_error(hr, what, err, errlen);
        }
        VARIANT v;
        char why[512];
        int rc = qwmi_variant(svc, m->val, t, &v, why, sizeof why);
        if (rc < 0) {
            snprintf(err, errlen, "property %s: %s", m->key, why);
            SysFreeString(name);
            return rc;
        }
        hr = IWbemClassObject_Put(o, name, 0, &v, 0);
        VariantClear(&v);
        SysFreeString(name);
        if (FAILED(hr)) {
            snprintf(what, sizeof what, "setting property %s", m->key);
            return qwmi_com_error(hr, what, err, errlen);
        }
    }
    return 0;
}

int qwmi_spawn(IWbemServices *svc, const qj *inst, IWbemClassObject **ret, char *err,
               size_t errlen)
{
    *ret = NULL;
    const char *cls = qj_get_str(inst, "__CLASS");
    if (!cls || !*cls) {
        snprintf(err, errlen, "an embedded instance needs \"__CLASS\"");
        return -EINVAL;
    }
    BSTR name = qwmi_bstr(cls);
    IWbemClassObject *def = NULL, *o = NULL;
    HRESULT hr = IWbemServices_GetObject(svc, name, 0, NULL, &def, NULL);
    SysFreeString(name);
    char what[160];
    if (FAILED(hr)) {
        snprintf(what, sizeof what, "class %s", cls);
        return qwmi_com_error(hr, what, err, errlen);
    }
    hr = IWbemClassObject_SpawnInstance(def, 0, &o);
    IWbemClassObject_Release(def);
    if (FAILED(hr)) {
        snprintf(what, sizeof what, "SpawnInstance %s", cls);
        return qwmi_com_error(hr, what, err, errlen);
    }
    char why[512];
    int rc = qwmi_object_put(svc, o, inst, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", cls, why);
        IWbemClassObject_Release(o);
        return rc;
    }
    *ret = o;
    return 0;
}
