/* wmi_com: the COM transport of src/vswitch/hyperv/wmi.h (Windows only):
 * IWbemLocator::ConnectServer to the namespaces of wmi.h on the local machine
 * (root\virtualization\v2, root\StandardCimv2, root\cimv2), WQL queries,
 * GetObject, ExecMethod, PutInstance, DeleteInstance and the ValueMap/Values
 * qualifiers of a class's property, with WMI values converted to and from
 * the project's JSON as wmi.h describes.
 *
 * qwmi_com_open initialises COM on the calling thread (multithreaded
 * apartment) and connects root\virtualization\v2. When that namespace
 * cannot be opened, err starts with "Hyper-V is absent: " followed by WMI's
 * reason (the Hyper-V role or its WMI provider is missing, as under Wine).
 * root\StandardCimv2 and root\cimv2 are connected by the first call that
 * names them; if that fails, the call fails with "ConnectServer <namespace>:
 * <WMI's reason>" (and the next call tries again). A namespace wmi.h does
 * not name is refused (-EINVAL). Every call is made from the thread that
 * opened the transport.
 *
 * Ownership: *ret's handle is freed with ret->cls->close (accepts NULL),
 * which also balances the COM initialisation. */
#ifndef QHV_VSWITCH_HYPERV_WMI_COM_H
#define QHV_VSWITCH_HYPERV_WMI_COM_H
#include <stddef.h>
#include "vswitch/hyperv/wmi.h"

extern const qwmi_class qwmi_com_class;

/* 0, or a negative errno with the reason (HRESULT and WMI's text) in err. */
int qwmi_com_open(qwmi_transport *ret, char *err, size_t errlen);

#endif
