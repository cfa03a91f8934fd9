/* hyperv: the Hyper-V backend (docs/hyperv.md). It maps the vswitch model
 * (src/vswitch/vswitch.h) onto WMI through a qwmi transport (wmi.h): COM on
 * Windows, the in-memory model (wmi_model.h) for tests, benchmarks and labs.
 *
 *   port/   Msvm_EthernetPortAllocationSettingData (ElementName = port id,
 *           EnabledState 2, or 3 when admin_state_up is false), VLAN access
 *           (Msvm_EthernetSwitchPortVlanSettingData OperationMode 1),
 *           Msvm_EthernetSwitchPortSecuritySettingData (VirtualSubnetId,
 *           AllowMacSpoofing = mac_spoofing, EnableDhcpGuard, EnableRouterGuard),
 *           and for nvgre the port's L2Only lookup record (DHCP);
 *   acl/    extended ACLs (6.3+) or port ACLs (6.2), hv_acl.h;
 *   address_set/  kept as intent: a change rewrites the entries of the ports
 *           whose rules name the set (a diff per port);
 *   lookup_record/, customer_route/, provider_address/  NetWNV instances
 *           (hv_wnv.h) with put_instance/delete_instance.
 *
 * A port's feature changes go in at most one RemoveFeatureSettings, one
 * ModifyFeatureSettings and one AddFeatureSettings call; the calls of a
 * batch are started together and their jobs polled together, for at most
 * [hyperv] job_wait_ms (hv_job.h). VLAN and VSID are read back after they
 * were written (Hyper-V has reported success without applying them).
 *
 * What qhv owns: allocations whose ElementName is the port id, feature
 * settings whose ElementName is "qhv", NetWNV objects marked as hv_wnv.h
 * says. Anything else is foreign: reported, never changed. The values qhv
 * asked for (its intents) are kept in [hyperv] state_file; a dump reports an
 * object with its intended value only while Hyper-V holds what that value
 * projects to, so that a restart writes nothing when nothing changed and a
 * reboot (NetWNV objects gone) or an operator's change is repaired; qhv's
 * marked objects without an intent are reported as {"orphan": true}, to be
 * deleted or rewritten by the agent's ordinary diff (so is the port/ of an
 * nvgre port whose NIC is gone while its L2Only record is left: the one
 * port/ object dumped without its NIC, so that the record is deleted). */
#ifndef QHV_VSWITCH_HYPERV_HYPERV_H
#define QHV_VSWITCH_HYPERV_HYPERV_H
#include "vswitch/vswitch.h"

extern const qvs_class qvs_hyperv_class;

#endif
