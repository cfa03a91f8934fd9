/* wmi: the thin transport between the hyperv backend's logic and WMI.
 *
 * The backend's logic (the .c files of src/vswitch/hyperv/ other than the transports)
 * talks to Hyper-V only through a qwmi_class, so that it builds and is tested
 * on Linux against an in-memory model of Hyper-V's WMI objects, and runs on
 * Windows over COM (IWbemServices, mingw-w64's wbemidl.h).
 *
 * WMI VALUES AS JSON. An instance is a JSON object of its properties plus:
 *   "__CLASS"  the class name (e.g. "Msvm_EthernetSwitchPortVlanSettingData")
 *   "__PATH"   its object path (relative or full), as WMI gives it; the logic
 *              treats it as an opaque key for get/call/delete_instance.
 * Properties: strings as strings, integers as numbers (uint64 as strings,
 * as WMI does over COM), booleans, arrays; NULL as null. In method
 * parameters, an embedded instance (what PowerShell passes as
 * GetText(1)) is a JSON object with "__CLASS"; a reference (REF) is a path
 * string; arrays of either are JSON arrays.
 *
 * RESULTS. Every call returns 0 or a negative errno; on failure err holds a
 * reason that keeps WMI's own words (HRESULT in hex, WBEM name where known,
 * the provider's message). A method's out parameters come back as an object
 * with "ReturnValue" (number) and the rest ("Job" as a path, arrays of
 * result paths). ReturnValue 4096 means a Msvm_ConcreteJob was started: the
 * caller follows it with get() on the "Job" path (JobState 7 = completed,
 * 8..10 = terminated/killed/exception, ErrorCode, ErrorDescription), without
 * blocking in a transport call.
 *
 * OWNERSHIP. Returned qj values (*rows, *obj, *out) belong to the caller. In
 * parameters are borrowed for the call's duration. A transport handle is not
 * thread-safe; the agent uses it from its loop only. */
#ifndef QHV_VSWITCH_HYPERV_WMI_H
#define QHV_VSWITCH_HYPERV_WMI_H
#include <stddef.h>
#include "lib/json.h"

#define QWMI_NS_VIRT "root\\virtualization\\v2"  /* Msvm_* */
#define QWMI_NS_STDCIMV2 "root\\StandardCimv2"   /* MSFT_NetVirtualization*, MSFT_NetAdapter* */
#define QWMI_NS_CIMV2 "root\\cimv2"               /* Win32_OperatingSystem */

/* Msvm method return values that the logic interprets (hyperv-semantics.md §4.5) */
#define QWMI_RET_OK 0
#define QWMI_RET_JOB_STARTED 4096

typedef struct qwmi qwmi;   /* a transport's handle; each transport defines it */

typedef struct qwmi_class {
    const char *name;       /* "com", "model" */
    void (*close)(qwmi *w); /* accepts NULL */
    /* WQL query in namespace ns: *rows = JSON array of instances. */
    int (*query)(qwmi *w, const char *ns, const char *wql, qj **rows, char *err, size_t errlen);
    /* The instance at path: *obj = the instance, or -ENOENT. */
    int (*get)(qwmi *w, const char *ns, const char *path, qj **obj, char *err, size_t errlen);
    /* Calls method on the object at path (an instance path, or a class name
     * for a static method) with in (an object of in parameters, may be NULL):
     * *out = the out parameters. A ReturnValue other than 0/4096 is not a
     * transport failure: the call returns 0 and the caller reads it. */
    int (*call)(qwmi *w, const char *ns, const char *path, const char *method, const qj *in,
                qj **out, char *err, size_t errlen);
    /* Creates (or, if one with the same key exists, updates) the instance
     * described by inst ("__CLASS" and properties), as PutInstance does
     * (how the NetWNV cmdlets and os-win create MSFT_NetVirtualization*
     * objects). *path = the new instance's path (may be NULL if unwanted). */
    int (*put_instance)(qwmi *w, const char *ns, const qj *inst, char **path, char *err,
                        size_t errlen);
    /* DeleteInstance; a missing instance is -ENOENT. */
    int (*delete_instance)(qwmi *w, const char *ns, const char *path, char *err, size_t errlen);
    /* The ValueMap and Values qualifiers of property prop of class cls, as
     * the class definition on this host has them: *map = a JSON object
     * {"<Values entry>": "<ValueMap entry>", ...} (e.g.
     * {"TranslationMethodNat": "0", ...}). -ENOENT: no such class or
     * property, or no such qualifiers. */
    int (*value_map)(qwmi *w, const char *ns, const char *cls, const char *prop, qj **map,
                     char *err, size_t errlen);
} qwmi_class;

/* A transport: its class and its handle. */
typedef struct qwmi_transport {
    const qwmi_class *cls;
    qwmi *w;
} qwmi_transport;

#endif
