/* wmi_com: the COM transport of src/vswitch/hyperv/wmi.h (Windows only):
 * IWbemLocator::ConnectServer to root\virtualization\v2 and
 * root\StandardCimv2 on the local machine, WQL queries, GetObject,
 * ExecMethod, PutInstance and DeleteInstance, with WMI values converted to
 * and from the project's JSON as wmi.h describes.
 *
 * qwmi_com_open initialises COM on the calling thread (multithreaded
 * apartment) and connects both namespaces. When root\virtualization\v2
 * cannot be opened, err starts with "Hyper-V is absent: " followed by WMI's
 * reason (the Hyper-V role or its WMI provider is missing, as under Wine).
 * Every call is made from the thread that opened the transport.
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
