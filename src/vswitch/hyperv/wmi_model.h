/* wmi_model: an in-memory model of the WMI objects the hyperv backend uses
 * (qwmi_class "model"), enforcing the documented rules of
 * hyperv-semantics.md §7, so that the backend's logic is tested on Linux and
 * an agent can run the hyperv backend without Hyper-V ([hyperv] transport =
 * model, with a state file; docs/hyperv.md).
 *
 * What it holds: virtual switches, VM NICs (Msvm_SyntheticEthernetPortSettingData),
 * their switch-port allocations and feature settings (VLAN, security, port ACL,
 * extended ACL), NetWNV objects (root\StandardCimv2), Msvm_ConcreteJob and
 * Win32_OperatingSystem (the version it plays: 6.2, 6.3, 10.0 with a build).
 *
 * Rules enforced (a violation is ReturnValue 32773 "invalid parameter" for a
 * method, -EINVAL for put_instance, with the reason): VSID 4096–16777214 on
 * NetWNV objects, VirtualSubnetId 0 or 4096–16777215 on a port; extended ACL
 * Weight a uint16, Direction 1|2, Action 1|2, Stateful only on Allow and
 * never with Protocol ANY, IdleSessionTimeout 0 when not stateful and not
 * given, a (Weight, Direction) pair unique per port (strict: Hyper-V's
 * behaviour is undocumented and qhv never repeats one); VLAN OperationMode
 * 1 with AccessVlanId 1–4094, 2 with NativeVlanId and TrunkVlanIdArray, 3
 * with PvlanMode; one VLAN and one security setting per port; port ACLs of
 * one address kind, Meter only IP-based; UseVmMACAddress only with Rule Nat;
 * Type absent on 6.2; L2Only only with CA 0.0.0.0 or ::; RO key properties
 * of NetWNV objects unchangeable through put (Set-* changes RW ones only);
 * NetWNV classes absent on build >= 17763; extended ACLs absent on 6.2; a
 * feature needs its port's allocation; one allocation per NIC.
 *
 * Numeric NetWNV enumerations use os-win's (production) values: Rule Nat 0,
 * Encap 1, None 2; Type Static 0, L2Only 3 (hyperv-semantics.md §1.2).
 *
 * Ownership: qwmi_model_open fills a transport whose handle is freed by its
 * class's close (accepts NULL). Helpers return values the caller frees. */
#ifndef QHV_VSWITCH_HYPERV_WMI_MODEL_H
#define QHV_VSWITCH_HYPERV_WMI_MODEL_H
#include "vswitch/hyperv/wmi.h"

extern const qwmi_class qwmi_model_class;

/* A model, empty or loaded from state_file (NULL: memory only; else reloaded
 * when another process changed the file, and saved after every write).
 * version: "6.2.9200", "6.3.9600", "10.0.14393", ... (NULL: the file's, else
 * "10.0.14393"). */
int qwmi_model_open(const char *state_file, const char *version, qwmi_transport *ret,
                    char *err, size_t errlen);

/* Calls by kind since the last reset. writes: put_instance, delete_instance
 * and the methods that change settings (Add/Modify/Remove*Settings). */
typedef struct qwmi_model_counters {
    long enumerations, gets, calls, writes;
} qwmi_model_counters;
void qwmi_model_counters_get(qwmi *w, qwmi_model_counters *ret);
void qwmi_model_counters_reset(qwmi *w);

/* Test and lab set-up (not counted). The NIC's VM is made on first use. */
int qwmi_model_add_switch(qwmi *w, const char *name);
int qwmi_model_add_nic(qwmi *w, const char *vm, const char *name, const char *mac);
/* Removes every NIC named name with its allocation and features. */
int qwmi_model_del_nic(qwmi *w, const char *name);
/* A host reboot: NetWNV objects are gone (hyperv-semantics.md §7). */
void qwmi_model_reboot(qwmi *w);

/* Faults. Methods start jobs that complete after polls get()s of the job
 * (0: methods complete at once, ReturnValue 0); the next fail_jobs jobs end
 * in JobState 10 with error_code and text. */
void qwmi_model_fault_jobs(qwmi *w, int polls, int fail_jobs, int error_code, const char *text);
/* The next AddFeatureSettings reports success without adding its cls
 * instances (Hyper-V bug 1536742). */
void qwmi_model_fault_drop(qwmi *w, const char *cls);

/* Copies of the instances of cls (all classes: NULL), as a JSON array. */
qj *qwmi_model_instances(qwmi *w, const char *cls);
/* Remove-VMNetworkAdapterExtendedAcl -Weight -Direction on the NIC named
 * name: removes every entry with that pair; returns how many. */
int qwmi_model_remove_acl_by_weight(qwmi *w, const char *name, int weight, int direction);

#endif
