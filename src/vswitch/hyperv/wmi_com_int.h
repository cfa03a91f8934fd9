/* wmi_com_int: what the COM transport's files share (Windows only):
 * wmi_com_value.c converts WMI values to and from JSON as wmi.h describes,
 * wmi_com_error.c turns an HRESULT into a negative errno and words.
 *
 * Ownership: returned qj values and strings belong to the caller (qj_free,
 * free); a VARIANT filled here is cleared by the caller (VariantClear); an
 * object returned through **ret is the caller's reference (Release). */
#ifndef QHV_VSWITCH_HYPERV_WMI_COM_INT_H
#define QHV_VSWITCH_HYPERV_WMI_COM_INT_H
#ifndef COBJMACROS
#define COBJMACROS
#endif
#include <windows.h>
#include <oleauto.h>
#include <wbemidl.h>
#include <stddef.h>
#include "lib/json.h"

/* UTF-8 ↔ UTF-16 for COM strings. */
char *qwmi_utf8(const wchar_t *w);
BSTR qwmi_bstr(const char *s);

/* A WMI value (its VARIANT and, when known, its CIM type; 0 otherwise) as
 * JSON; embedded objects become objects with "__CLASS". */
qj *qwmi_value_json(const VARIANT *v, CIMTYPE t);
/* An instance (or a method's out-parameters) as a JSON object: "__CLASS",
 * "__PATH" (or "__RELPATH"'s value when it has no full path), properties. */
qj *qwmi_object_json(IWbemClassObject *o);

/* Sets the properties of o from the members of props (keys starting with
 * "__" are skipped), each converted to the type o declares for it. Embedded
 * instances are spawned in svc. 0 or a negative errno with err. */
int qwmi_object_put(IWbemServices *svc, IWbemClassObject *o, const qj *props, char *err,
                    size_t errlen);
/* A new instance of inst["__CLASS"] (spawned in svc) with inst's properties. */
int qwmi_spawn(IWbemServices *svc, const qj *inst, IWbemClassObject **ret, char *err,
               size_t errlen);

/* qwmi_com_open with other namespaces in the three roles (calls naming
 * QWMI_NS_VIRT go to virt_ns, which is connected at once; QWMI_NS_STDCIMV2
 * to stdcimv2_ns and QWMI_NS_CIMV2 to cimv2_ns, connected by their first
 * call): for tests where Hyper-V is absent (tests/win/test_wmi_com.c runs
 * over Wine's root\cimv2). */
struct qwmi_transport;
int qwmi_com_open_at(struct qwmi_transport *ret, const char *virt_ns, const char *stdcimv2_ns,
                     const char *cimv2_ns, char *err, size_t errlen);

/* err = "<what>: 0x<hr> <WBEM name>: <WMI's text> (<provider's description>)";
 * returns the negative errno hr maps to. */
int qwmi_com_error(HRESULT hr, const char *what, char *err, size_t errlen);

#endif
