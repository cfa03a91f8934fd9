/* HRESULTs of WMI calls in words (wmi_com_int.h). */
#include "vswitch/hyperv/wmi_com_int.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    HRESULT hr;
    const char *name;
    int err;
} qwmi_codes[] = {
    {(HRESULT)WBEM_E_FAILED, "WBEM_E_FAILED", EIO},
    {(HRESULT)WBEM_E_NOT_FOUND, "WBEM_E_NOT_FOUND", ENOENT},
    {(HRESULT)WBEM_E_ACCESS_DENIED, "WBEM_E_ACCESS_DENIED", EACCES},
    {(HRESULT)WBEM_E_PROVIDER_FAILURE, "WBEM_E_PROVIDER_FAILURE", EIO},
    {(HRESULT)WBEM_E_TYPE_MISMATCH, "WBEM_E_TYPE_MISMATCH", EINVAL},
    {(HRESULT)WBEM_E_OUT_OF_MEMORY, "WBEM_E_OUT_OF_MEMORY", ENOMEM},
    {(HRESULT)WBEM_E_INVALID_PARAMETER, "WBEM_E_INVALID_PARAMETER", EINVAL},
    {(HRESULT)WBEM_E_NOT_AVAILABLE, "WBEM_E_NOT_AVAILABLE", EAGAIN},
    {(HRESULT)WBEM_E_NOT_SUPPORTED, "WBEM_E_NOT_SUPPORTED", ENOTSUP},
    {(HRESULT)WBEM_E_INVALID_NAMESPACE, "WBEM_E_INVALID_NAMESPACE", ENODEV},
    {(HRESULT)WBEM_E_INVALID_OBJECT, "WBEM_E_INVALID_OBJECT", EINVAL},
    {(HRESULT)WBEM_E_INVALID_CLASS, "WBEM_E_INVALID_CLASS", EINVAL},
    {(HRESULT)WBEM_E_PROVIDER_NOT_FOUND, "WBEM_E_PROVIDER_NOT_FOUND", ENODEV},
    {(HRESULT)WBEM_E_INVALID_QUERY, "WBEM_E_INVALID_QUERY", EINVAL},
    {(HRESULT)WBEM_E_ALREADY_EXISTS, "WBEM_E_ALREADY_EXISTS", EEXIST},
    {(HRESULT)WBEM_E_INVALID_METHOD, "WBEM_E_INVALID_METHOD", EINVAL},
    {(HRESULT)WBEM_E_INVALID_METHOD_PARAMETERS, "WBEM_E_INVALID_METHOD_PARAMETERS", EINVAL},
    {(HRESULT)WBEM_E_INVALID_OBJECT_PATH, "WBEM_E_INVALID_OBJECT_PATH", EINVAL},
    {(HRESULT)WBEM_E_INVALID_PROPERTY, "WBEM_E_INVALID_PROPERTY", EINVAL},
    {(HRESULT)WBEM_E_SHUTTING_DOWN, "WBEM_E_SHUTTING_DOWN", EAGAIN},
    {(HRESULT)WBEM_E_TRANSPORT_FAILURE, "WBEM_E_TRANSPORT_FAILURE", EIO},
    {(HRESULT)WBEM_E_QUOTA_VIOLATION, "WBEM_E_QUOTA_VIOLATION", EAGAIN},
    {(HRESULT)WBEM_S_TIMEDOUT, "WBEM_S_TIMEDOUT", ETIMEDOUT},
    {E_ACCESSDENIED, "E_ACCESSDENIED", EACCES},
    {E_OUTOFMEMORY, "E_OUTOFMEMORY", ENOMEM},
    {E_INVALIDARG, "E_INVALIDARG", EINVAL},
    {REGDB_E_CLASSNOTREG, "REGDB_E_CLASSNOTREG", ENODEV},
    {RPC_E_DISCONNECTED, "RPC_E_DISCONNECTED", EIO},
};

/* WMI's own text for hr (it knows WBEM and system codes), else the system's. */
static void qwmi_code_text(HRESULT hr, char *out, size_t len)
{
    out[0] = '\0';
    IWbemStatusCodeText *sct = NULL;
    if (SUCCEEDED(CoCreateInstance(&CLSID_WbemStatusCodeText, NULL, CLSCTX_INPROC_SERVER,
                                   &IID_IWbemStatusCodeText, (void **)&sct))) {
        BSTR text = NULL;
        if (SUCCEEDED(IWbemStatusCodeText_GetErrorCodeText(sct, hr, 0, 0, &text)) && text) {
            char *s = qwmi_utf8(text);
            snprintf(out, len, "%s", s);
            free(s);
        }
        SysFreeString(text);
        IWbemStatusCodeText_Release(sct);
    }
    if (!out[0])
        FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                       (DWORD)hr, 0, out, (DWORD)len, NULL);
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' ||
                 out[n - 1] == '.'))
        out[--n] = '\0';
}

/* The provider's description of the last failure on this thread: WMI
 * leaves an __ExtendedStatus object as the COM error object. */
static void qwmi_error_info(char *out, size_t len)
{
    out[0] = '\0';
    IErrorInfo *ei = NULL;
    if (GetErrorInfo(0, &ei) != S_OK || !ei)
        return;
    IWbemClassObject *st = NULL;
    if (SUCCEEDED(IErrorInfo_QueryInterface(ei, &IID_IWbemClassObject, (void **)&st)) && st) {
        VARIANT v;
        VariantInit(&v);
        if (SUCCEEDED(IWbemClassObject_Get(st, L"Description", 0, &v, NULL, NULL)) &&
            V_VT(&v) == VT_BSTR && V_BSTR(&v)) {
            char *s = qwmi_utf8(V_BSTR(&v));
            snprintf(out, len, "%s", s);
            free(s);
        }
        VariantClear(&v);
        IWbemClassObject_Release(st);
    }
    if (!out[0]) {
        BSTR d = NULL;
        if (SUCCEEDED(IErrorInfo_GetDescription(ei, &d)) && d) {
            char *s = qwmi_utf8(d);
            snprintf(out, len, "%s", s);
            free(s);
        }
        SysFreeString(d);
    }
    IErrorInfo_Release(ei);
}

int qwmi_com_error(HRESULT hr, const char *what, char *err, size_t errlen)
{
    const char *name = "";
    int e = EIO;
    for (size_t i = 0; i < sizeof qwmi_codes / sizeof qwmi_codes[0]; i++) {
        if (qwmi_codes[i].hr == hr) {
            name = qwmi_codes[i].name;
            e = qwmi_codes[i].err;
            break;
        }
    }
    char text[256], detail[512], hex[16];
    qwmi_code_text(hr, text, sizeof text);
    /* A text that only repeats the code (Wine's) says nothing more. */
    snprintf(hex, sizeof hex, "%08lx", (unsigned long)hr);
    if (strstr(text, hex))
        text[0] = '\0';
    qwmi_error_info(detail, sizeof detail);
    snprintf(err, errlen, "%s: 0x%08lx%s%s%s%s%s%s%s", what, (unsigned long)hr, *name ? " " : "",
             name, *text ? ": " : "", text, *detail ? " (" : "", detail, *detail ? ")" : "");
    return -e;
}
