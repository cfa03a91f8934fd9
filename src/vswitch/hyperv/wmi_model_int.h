/* wmi_model_int: what the files of the WMI model share (internal to
 * wmi_model.c, the class, and wmi_model_rules.c, the documented rules it
 * enforces; the model's interface is wmi_model.h).
 *
 * Ownership: validation functions borrow everything; qwm_taken returns a map
 * the caller frees. */
#ifndef QHV_VSWITCH_HYPERV_WMI_MODEL_INT_H
#define QHV_VSWITCH_HYPERV_WMI_MODEL_INT_H
#include "vswitch/hyperv/wmi_model.h"
#include "lib/plat.h"
#include "vswitch/objmap.h"
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define VSMS_PATH "Msvm_VirtualSystemManagementService.Name=\"vmms\""
#define OS_PATH "Win32_OperatingSystem=@"
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

struct qwmi {
    char *file;
    qplat_fileid seen;           /* the file as last read or written */
    char *version;
    int major, minor;
    long build;
    int64_t seq;
    qvs_map *inst;              /* path → instance ("__"-members other than
                                 * __CLASS/__PATH are the model's own) */
    qvs_map *feat;              /* allocation InstanceID → {feature path: null}
                                 * (an index: ports' features without a scan) */
    qwmi_model_counters c;
    int job_polls, fail_jobs, fail_code;
    char *fail_text, *drop_cls;
};


void qwm_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));


static inline const char *qwm_cls(const qj *i) { return qj_get_str(i, "__CLASS"); }

static inline bool qwm_is(const qj *i, const char *cls)
{
    const char *c = qwm_cls(i);
    return c && !strcmp(c, cls);
}



static inline bool qwm_wnv_class(const char *cls) { return cls && !strncmp(cls, "MSFT_NetVirtualization", 22); }

/* Is cls served by this version? */
static inline bool qwm_class_exists(const qwmi *w, const char *cls)
{
    if (qwm_wnv_class(cls))
        return !(w->major >= 10 && w->build >= 17763);
    if (!strcmp(cls, C_XACL))
        return w->major > 6 || (w->major == 6 && w->minor >= 3);
    return true;
}




/* wmi_model.c: what the other files of the model build on. */
char *qwm_guid(qwmi *w);                       /* a new GUID text (caller frees) */
qj *qwm_public(const qj *i);                   /* a copy without model-private members */
qj *qwm_find(const qwmi *w, const char *cls, const char *prop, const char *val);
qj *qwm_add(qwmi *w, qj *inst, const char *path);  /* takes inst */
bool qwm_del(qwmi *w, const char *path);
size_t qwm_features(const qwmi *w, const char *alloc_iid, const char *cls, const char **out,
                    size_t max);
qj *qwm_out(int64_t rv);                       /* {"ReturnValue": rv} */
qj *qwm_rv_err(int64_t rv, const char *why, char *err, size_t errlen);
/* Completes a method's effects now or through a job (takes adds, dels, mods). */
void qwm_settle(qwmi *w, qj *out, qj *adds, qj *dels, qj *mods);

/* wmi_model_systems.c: the methods that make and destroy virtual switches,
 * VMs and their NICs (what qhv-agent --selftest uses on a real host):
 * *handled = false for a method it does not serve. */
qj *qwm_systems_call(qwmi *w, const char *path, const char *method, const qj *in, bool *handled,
                     char *err, size_t errlen);

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
