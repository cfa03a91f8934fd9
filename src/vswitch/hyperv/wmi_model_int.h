/* wmi_model_int: what the files of the WMI model share (internal to the
 * model; its interface is wmi_model.h):
 *   wmi_model.c          the store (instances by path), persistence, the class
 *   wmi_model_methods.c  Msvm_VirtualSystemManagementService's setting methods, jobs
 *   wmi_model_schema.c   the documented schema (wmi_schema.h) enforced generically
 *   wmi_model_query.c    WQL
 *   wmi_model_vm.c       set-up: VMs, NICs, copies, net adapters
 *   wmi_model_rules.c    the documented rules the schema cannot express
 *   wmi_model_systems.c  methods that make switches and VMs
 *
 * Instances are kept by the canonical form of their path (wmi_path.h
 * qwmi_path_key), so a path in any form (full or relative, any case or key
 * order) finds its instance; "__PATH" is the full path as WMI gives it.
 *
 * Ownership: validation functions borrow everything; qwm_taken returns a map
 * the caller frees; functions returning char * or qj * give the caller a
 * copy unless they say "borrowed". */
#ifndef QHV_VSWITCH_HYPERV_WMI_MODEL_INT_H
#define QHV_VSWITCH_HYPERV_WMI_MODEL_INT_H
#include "vswitch/hyperv/wmi_model.h"
#include "lib/plat.h"
#include "vswitch/objmap.h"
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define VSMS_PATH "Msvm_VirtualSystemManagementService.Name=\"vmms\""  /* key Name only: use qwm_vsms */
#define OS_PATH "Win32_OperatingSystem=@"
#define QWM_MAXKEYS 8        /* key properties of a class, at most */
/* The host name in __PATH, and as Hyper-V writes it in the references it
 * stores (another case: a byte comparison of the two fails). */
#define QWM_HOST "hv-host01"
#define QWM_HOST_REF "HV-HOST01"
#define RV_INVALID 32773    /* invalid parameter */
#define RV_STATE 32775      /* invalid state */

/* Extended-ACL and NetWNV classes by availability. */
#define C_XACL "Msvm_EthernetSwitchPortExtendedAclSettingData"
#define C_ACL "Msvm_EthernetSwitchPortAclSettingData"
#define C_VLAN "Msvm_EthernetSwitchPortVlanSettingData"
#define C_SEC "Msvm_EthernetSwitchPortSecuritySettingData"
#define C_ALLOC "Msvm_EthernetPortAllocationSettingData"
#define C_NIC "Msvm_SyntheticEthernetPortSettingData"
#define C_SWITCH "Msvm_VirtualEthernetSwitch"
#define C_JOB "Msvm_ConcreteJob"
#define C_LR "MSFT_NetVirtualizationLookupRecordSettingData"
#define C_CR "MSFT_NetVirtualizationCustomerRouteSettingData"
#define C_PA "MSFT_NetVirtualizationProviderAddressSettingData"
#define C_PR "MSFT_NetVirtualizationProviderRouteSettingData"
#define C_LEGACY "Msvm_EmulatedEthernetPortSettingData"
#define C_VSSD "Msvm_VirtualSystemSettingData"
#define C_CS "Msvm_ComputerSystem"
#define C_VSMS "Msvm_VirtualSystemManagementService"
#define C_OS "Win32_OperatingSystem"
#define C_NA "MSFT_NetAdapter"
#define C_NAB "MSFT_NetAdapterBindingSettingData"
#define ALLOC_SUBTYPE "Microsoft:Hyper-V:Ethernet Connection"
#define VST_REALIZED "Microsoft:Hyper-V:System:Realized"
#define VST_SNAPSHOT "Microsoft:Hyper-V:Snapshot:Realized"
#define VST_PLANNED "Microsoft:Hyper-V:System:Planned"

struct qwmi {
    char *file;
    qplat_fileid seen;           /* the file as last read or written */
    char *version;
    int major, minor;
    long build;
    int64_t seq;
    qvs_map *inst;              /* canonical path (qwm_key) → instance ("__"-
                                 * members other than __CLASS/__PATH are the
                                 * model's own); look a path up with qwm_get */
    qvs_map *feat;              /* allocation InstanceID → {feature key: null}
                                 * (an index: ports' features without a scan) */
    qvs_map *conn;              /* NIC key → {allocation key: null} (by Parent) */
    qwmi_model_counters c;
    int job_polls, fail_jobs, fail_code;
    char *fail_text, *drop_cls;
    int err_jobs;               /* qwmi_model_fault_job_error */
    bool vmms_down;             /* qwmi_model_fault_vmms */
    qplat_lock *lock;           /* held by this process while an entry runs */
    int depth;                  /* entries running (nested) */
};

/* Every entry of the model (transport calls, set-up) runs between these:
 * with a state file, another process (an agent, qhvctl, a test) shares
 * it, so an entry holds the file's lock from reading it to writing it
 * back, and none loses another's change. */
void qwm_enter(qwmi *w);
void qwm_leave(qwmi *w);


void qwm_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));


static inline const char *qwm_cls(const qj *i) { return qj_get_str(i, "__CLASS"); }

static inline bool qwm_is(const qj *i, const char *cls)
{
    const char *c = qwm_cls(i);
    return c && !strcasecmp(c, cls);
}



static inline bool qwm_wnv_class(const char *cls) { return cls && !strncasecmp(cls, "MSFT_NetVirtualization", 22); }

/* Is cls served by this version? */
static inline bool qwm_class_exists(const qwmi *w, const char *cls)
{
    if (qwm_wnv_class(cls))
        return !(w->major >= 10 && w->build >= 17763);
    if (!strcasecmp(cls, C_XACL))
        return w->major > 6 || (w->major == 6 && w->minor >= 3);
    return true;
}




/* wmi_model.c: what the other files of the model build on. */
char *qwm_guid(qwmi *w);                       /* a new GUID text (caller frees) */
qj *qwm_public(const qj *i);                   /* a copy without model-private members */
/* The first instance of cls whose prop equals val (case-insensitive);
 * borrowed. A scan: for set-up and rare lookups. */
qj *qwm_find(const qwmi *w, const char *cls, const char *prop, const char *val);
/* Stores inst (takes it) at the object path's canonical key. path (full or
 * relative, any form; may be NULL) supplies key values inst lacks; keys
 * still missing get their obvious value (CreationClassName = the class,
 * SystemName = the host). Sets "__PATH" to the full path. Replaces an
 * instance with the same key. Returns inst. */
qj *qwm_add(qwmi *w, qj *inst, const char *path);
bool qwm_del(qwmi *w, const char *path);      /* any form of the path, or a key */
/* The features of the allocation with that InstanceID: their keys (paths
 * accepted by qwm_get/qwm_del). */
size_t qwm_features(const qwmi *w, const char *alloc_iid, const char *cls, const char **out,
                    size_t max);
qj *qwm_out(int64_t rv);                       /* {"ReturnValue": rv} */
qj *qwm_rv_err(int64_t rv, const char *why, char *err, size_t errlen);
/* Completes a method's effects now or through a job (takes adds, dels,
 * mods; mods are whole new instances with the "__PATH" of the one each
 * replaces). A job started: out gets 4096 and "Job", and loses its
 * Resulting*Settings (Hyper-V may leave them empty then). */
void qwm_settle(qwmi *w, qj *out, qj *adds, qj *dels, qj *mods);
/* Added by the strict model. */
qj *qwm_get(const qwmi *w, const char *path);  /* by any form of the path; borrowed */
/* The instance of cls with that InstanceID (case-insensitive); borrowed. */
qj *qwm_get_iid(const qwmi *w, const char *cls, const char *iid);
char *qwm_key(const char *path);               /* canonical key of a path, or NULL */
/* The reference Hyper-V stores to inst (Parent, HostResource[0]):
 * host upper-case, keys in the schema's order. */
char *qwm_ref(const qj *inst);
/* The namespace a class lives in (QWMI_NS_*), or NULL. */
const char *qwm_class_ns(const char *cls);
/* The key properties of cls, in the schema's order: up to max names. */
size_t qwm_class_keys(const char *cls, const char **out, size_t max);
/* The Msvm_VirtualSystemManagementService instance (borrowed). */
qj *qwm_vsms(const qwmi *w);
/* The allocation whose Parent is the NIC nic (borrowed; also one a running
 * job adds, "__pending"), or NULL. */
qj *qwm_alloc_of(const qwmi *w, const qj *nic);
/* Replaces the instance stored under inst's __PATH by inst (takes it). */
void qwm_replace(qwmi *w, qj *inst);
void qwm_save(qwmi *w);
void qwm_sync(qwmi *w);

/* wmi_model_methods.c: the setting methods of the management service. */
qj *qwm_vsms_call(qwmi *w, const char *method, const qj *in, char *err, size_t errlen);
/* A get() of a job: advances it; false if it has vanished (and removes it). */
bool qwm_job_poll(qwmi *w, qj *job);

/* wmi_model_schema.c: the schema, generically. */
/* inst (an embedded instance or a put) against its class: no such
 * property, a string over MaxLen, a number outside the ValueMap. 0 or -1. */
int qwm_schema_check(const qj *inst, char *err, size_t errlen);
/* What Hyper-V stores for a new embedded instance req: properties the
 * methods cannot set (the key, documented constants: fixed) ignored, but
 * those in keep (NULL-ended); absent ones at their MOF default; a feature
 * setting keeps only InstanceID, ElementName and WmiDataId properties. */
qj *qwm_schema_new(const qj *req, const char *const *keep, bool feature);
/* What a Modify*Settings of cur with req stores: settable properties from
 * req, absent ones reset to the MOF default (else null), the others (key,
 * constants) unchanged. */
qj *qwm_schema_modify(const qj *cur, const qj *req, bool feature);
/* Every property of cls at its MOF default (null without one). */
qj *qwm_schema_defaults(const char *cls);
/* wmi.h value_map for cls.prop: 0 or -ENOENT. */
int qwm_schema_value_map(const char *cls, const char *prop, qj **map);
/* The ValueMap number of Values entry name of cls.prop; def when unknown. */
int64_t qwm_schema_enum(const char *cls, const char *prop, const char *name, int64_t def);
/* Is cls a class this model serves or the schema documents? */
bool qwm_class_known(const qwmi *w, const char *cls);

/* wmi_model_query.c: SELECT * FROM C [WHERE P = 'v' | P LIKE 'p' [AND ...]] */
int qwm_wql(const qwmi *w, const char *wql, char **cls, qj **rows, char *err, size_t errlen);
bool qwm_like(const char *s, const char *pat);

/* wmi_model_vm.c: set-up helpers other files use. */
void qwm_default_alloc(qwmi *w);               /* makes it unless present */
/* The VSSD a setting belongs to (its InstanceID up to the first '\'); borrowed. */
qj *qwm_vssd_of(const qwmi *w, const qj *setting);
bool qwm_realized(const qwmi *w, const qj *setting);
bool qwm_snapshot(const qwmi *w, const qj *setting);
/* The MSFT_NetAdapter with that InterfaceIndex; borrowed. */
const qj *qwm_netadapter(const qwmi *w, int64_t ifindex);
/* Is the ms_netwnv binding of adapter na enabled? */
bool qwm_wnv_bound(const qwmi *w, const qj *na);

/* wmi_model_systems.c: the methods that make and destroy virtual switches,
 * VMs and their NICs (what qhv-agent --selftest uses on a real host):
 * *handled = false for a method it does not serve. */
qj *qwm_systems_call(qwmi *w, const char *path, const char *method, const qj *in, bool *handled,
                     char *err, size_t errlen);
/* Adds the host objects those methods need, where missing (at open). */
void qwm_systems_host(qwmi *w);

/* wmi_model_rules.c */
/* A feature setting to add (self NULL) or the result of a modification of
 * self, on the port whose features are existing[0..n); batch: the call's
 * other features; taken: "<Weight>/<Direction>" of the port's extended
 * ACLs, updated as entries pass. 0, or -1 with the reason. */
int qwm_check_feature(const qwmi *w, const qj *f, const char *const *existing, size_t nexisting,
                      const char *self, const qj *batch, qvs_map *taken, char *err,
                      size_t errlen);
qvs_map *qwm_taken(const qwmi *w, const char *const *paths, size_t n, const char *self);
/* The key and the other read-only properties of a NetWNV class. */
void qwm_wnv_schema(const char *cls, const char *const **keys, const char *const **ro);
int qwm_check_wnv(const qwmi *w, const qj *i, char *err, size_t errlen);

#endif
