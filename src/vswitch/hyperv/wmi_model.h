/* wmi_model: an in-memory model of the WMI objects the hyperv backend uses
 * (qwmi_class "model"), as strict as Hyper-V is documented to be
 * (docs/hyperv-wmi-contract.md), so that the backend's logic is tested on
 * Linux and an agent can run the hyperv backend without Hyper-V ([hyperv]
 * transport = model, with a state file; docs/hyperv.md).
 *
 * What it holds: the management service, virtual switches, VMs
 * (Msvm_ComputerSystem) with their VSSDs (realized, checkpoints, planned),
 * NICs (synthetic, legacy) and copies of them, switch-port allocations (the
 * "...\Default" one from open) and feature settings (VLAN, security, port
 * ACL, extended ACL), Msvm_ConcreteJob, NetWNV objects, MSFT_NetAdapter and
 * their ms_netwnv bindings (root\StandardCimv2), Win32_OperatingSystem=@
 * (root\cimv2; the version it plays: 6.2, 6.3, 10.0 with a build).
 *
 * ENFORCED (a method's violation is ReturnValue 32773 "invalid parameter",
 * or 32775 "invalid state", with the reason in the out-params' "__why";
 * put_instance -EINVAL):
 *  - Namespaces (M4): a class lives only in its namespace (Msvm_* in
 *    root\virtualization\v2, MSFT_* in root\StandardCimv2, Win32_* in
 *    root\cimv2); another is WBEM_E_INVALID_CLASS, an unknown namespace
 *    WBEM_E_INVALID_NAMESPACE (-ENOENT); a class neither documented nor
 *    served is WBEM_E_INVALID_CLASS.
 *  - Paths (M5): __PATH is \\hv-host01\<ns>:Class.Key="v" (keys from the
 *    schema, `\` escaped; the switch's CreationClassName,Name); get, call,
 *    delete and every reference a method receives are resolved by parsed
 *    class and keys, case-insensitively; the references Hyper-V stores
 *    (Parent, HostResource) are re-formatted (host HV-HOST01): a byte
 *    comparison with __PATH fails.
 *  - WQL: SELECT * FROM C [WHERE P = 'v' | P LIKE 'p' [AND ...]], `%` and
 *    `_`, case-insensitive; anything else WBEM_E_INVALID_QUERY.
 *  - The schema (wmi_schema.h), generically (M1, M8, M11): a property the
 *    class does not have is refused ("no such property"; the inherited
 *    InstanceID, ElementName, Caption, Description always exist), a string
 *    over MaxLen, a number outside a numeric ValueMap; read-only
 *    properties sent to Add/Modify are ignored (a documented fixed value,
 *    e.g. the features' ElementName display name, else the MOF default);
 *    a feature setting stores only its key, InstanceID, ElementName and
 *    WmiDataId properties; Modify*Settings resets every writable property
 *    absent from the sent instance to its MOF default (else null).
 *  - Modify*Settings find their target by the embedded InstanceID only
 *    (__PATH ignored; none or unknown: 32773) (M2).
 *  - AddResourceSettings (M3): ResourceType 33 and ResourceSubType
 *    "Microsoft:Hyper-V:Ethernet Connection", Parent a NIC of a realized VM,
 *    AffectedConfiguration that VM's realized VSSD, HostResource empty or
 *    one switch (else 32773); a second connection of a NIC: 32775. Its
 *    InstanceID starts with the NIC's (so with the VSSD's).
 *  - Settings of a checkpoint cannot be changed (32775).
 *  - put_instance and delete_instance serve the NetWNV classes only (the
 *    Msvm_ ones change through the management service's methods):
 *    elsewhere -EINVAL / -EOPNOTSUPP (WBEM_E_PROVIDER_NOT_CAPABLE).
 *  - Jobs (M7): with job faults on, methods answer 4096 without their
 *    Resulting*Settings; a finished job vanishes after 2 more gets
 *    (WBEM_E_NOT_FOUND); an "error" job ends JobState 7 with ErrorCode !=
 *    0 and its effects undone.
 *  - Documented rules the schema cannot say (wmi_model_rules.c): VSID
 *    4096-16777214 on NetWNV objects, VirtualSubnetId 0 or 4096-16777215 on a
 *    port; extended ACL Direction 1|2, Action 1|2, Stateful only on Allow and
 *    never with Protocol ANY, IdleSessionTimeout 0 when not stateful and not
 *    given; VLAN OperationMode 1 with AccessVlanId 1-4094, 2 with
 *    NativeVlanId and TrunkVlanIdArray, 3 with PvlanMode; one VLAN and one
 *    security setting per port; port ACLs: Meter only IP-based; a feature
 *    needs its port's allocation; UseVmMACAddress only with Rule
 *    TranslationMethodNat and L2Only only with CA 0.0.0.0 or :: (numbers from
 *    the schema's ValueMap, never a table of ours: M10); Type absent on 6.2;
 *    RO properties of NetWNV objects unchangeable through put (Set-*
 *    changes RW ones only); a provider address needs the InterfaceIndex of
 *    an MSFT_NetAdapter, on 6.2 one whose ms_netwnv binding is enabled (M9);
 *    NetWNV classes absent on build >= 17763; extended ACLs absent on 6.2.
 *  - VMMS stopped (M12): every root\virtualization\v2 call fails -EAGAIN
 *    "RPC_S_SERVER_UNAVAILABLE 0x800706BA ... vmms".
 *
 * DELIBERATELY STRICTER than documented (M13; Hyper-V's behaviour unknown,
 * qhv never relies on it): a (Weight, Direction) pair unique per port; VLAN
 * ids 1-4094; the whole path must carry every key (no partial paths); a
 * class the schema lacks and the model does not serve does not exist.
 * NOT DOCUMENTED, the model's choice: the key of the NetWNV classes
 * (lookup record: VirtualSubnetID, CustomerAddress, MACAddress; customer
 * route: RoutingDomainID, VirtualSubnetID, DestinationPrefix; provider
 * address: ProviderAddress; provider route: InterfaceIndex,
 * DestinationPrefix), and that a put over an existing key updates it.
 * Per-port entry limits are undocumented: none is enforced.
 *
 * Ownership: qwmi_model_open fills a transport whose handle is freed by its
 * class's close (accepts NULL). Helpers return values the caller frees. */
#ifndef QHV_VSWITCH_HYPERV_WMI_MODEL_H
#define QHV_VSWITCH_HYPERV_WMI_MODEL_H
#include "vswitch/hyperv/wmi.h"
#include <stdbool.h>

extern const qwmi_class qwmi_model_class;

/* A model, empty or loaded from state_file (NULL: memory only; else reloaded
 * when another process changed the file, and saved after every write;
 * every call holds the lock file "<state_file>.lock" from reading the file
 * to writing it back, so processes sharing it (an agent, qhvctl wmimodel, a
 * test) lose none of each other's changes).
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
/* A NIC with the connection New-VM -SwitchName / Add-VMNetworkAdapter
 * make: a copy of the default allocation, ElementName "Dynamic Ethernet
 * Switch Port", EnabledState 2 with HostResource the switch called
 * switch_name, or 3 and no HostResource when it is NULL. -ENOENT: no such
 * switch. */
int qwmi_model_add_nic_connected(qwmi *w, const char *vm, const char *name, const char *mac,
                                 const char *switch_name);
/* A legacy NIC (Msvm_EmulatedEthernetPortSettingData). */
int qwmi_model_add_legacy_nic(qwmi *w, const char *vm, const char *name, const char *mac);
/* A checkpoint of the VM called vm: a VSSD "Microsoft:Hyper-V:Snapshot:
 * Realized", InstanceID "Microsoft:<new GUID>", with copies of the VM's
 * NICs, allocations and features (same ElementNames, InstanceIDs with the
 * checkpoint's prefix). -ENOENT: no such VM. */
int qwmi_model_checkpoint(qwmi *w, const char *vm);
/* The same for a planned VM ("Microsoft:Hyper-V:System:Planned"). */
int qwmi_model_plan(qwmi *w, const char *vm);
/* Applies the VM's newest checkpoint: its NICs, allocations and features
 * replace the VM's, with the InstanceIDs they had when it was taken.
 * -ENOENT: no VM or no checkpoint. */
int qwmi_model_restore(qwmi *w, const char *vm);
/* A host network adapter (MSFT_NetAdapter: InterfaceIndex, Name and
 * InterfaceAlias alias, MacAddress "00-15-5D-..", PermanentAddress 12 hex
 * digits) and its ms_netwnv binding (MSFT_NetAdapterBindingSettingData),
 * Enabled = wnv_bound. -EEXIST: the index is taken. */
int qwmi_model_add_netadapter(qwmi *w, int ifindex, const char *alias, const char *mac,
                              bool wnv_bound);
/* Enable-/Disable-NetAdapterBinding -ComponentID ms_netwnv. -ENOENT: none. */
int qwmi_model_set_wnv_binding(qwmi *w, int ifindex, bool enabled);
/* Removes every NIC named name with its allocation and features. */
int qwmi_model_del_nic(qwmi *w, const char *name);
/* A host reboot: NetWNV objects are gone (hyperv-semantics.md §7). */
void qwmi_model_reboot(qwmi *w);

/* Faults. Methods start jobs that complete after polls get()s of the job
 * (0: methods complete at once, ReturnValue 0); the next fail_jobs jobs end
 * in JobState 10 with error_code and text. */
void qwmi_model_fault_jobs(qwmi *w, int polls, int fail_jobs, int error_code, const char *text);
/* The next n jobs end in JobState 7 with ErrorCode != 0 (32768, or the
 * error_code of qwmi_model_fault_jobs) and their effects not applied; jobs
 * are started for them even without qwmi_model_fault_jobs. */
void qwmi_model_fault_job_error(qwmi *w, int n);
/* VMMS stopped (down) or running again: while down every
 * root\virtualization\v2 query, get, call, put and delete fails with
 * -EAGAIN (RPC_S_SERVER_UNAVAILABLE 0x800706BA). Kept in the state file. */
void qwmi_model_fault_vmms(qwmi *w, bool down);
/* The next AddFeatureSettings that carries cls instances reports success
 * without adding them (Hyper-V bug 1536742). */
void qwmi_model_fault_drop(qwmi *w, const char *cls);

/* Copies of the instances of cls (all classes: NULL), as a JSON array. */
qj *qwmi_model_instances(qwmi *w, const char *cls);
/* Remove-VMNetworkAdapterExtendedAcl -Weight -Direction on the NIC named
 * name: removes every entry with that pair; returns how many. */
int qwmi_model_remove_acl_by_weight(qwmi *w, const char *name, int weight, int direction);
/* Someone else's change, as a lab or test makes it: sets prop to value on
 * every instance of cls whose where is the string is (case-insensitive);
 * returns how many (not counted as a call). */
int qwmi_model_set_property(qwmi *w, const char *cls, const char *where, const char *is,
                            const char *prop, const qj *value);

#endif
