/* wmi_model_systems: switches, VMs and NICs made and destroyed through WMI
 * methods (wmi_model_int.h), as qhv-agent --selftest uses them on a real
 * host (hv_selftest.h):
 *
 *   Msvm_VirtualEthernetSwitchManagementService
 *     DefineSystem(SystemSettings = embedded Msvm_VirtualEthernetSwitchSettingData
 *                  with ElementName, ResourceSettings = [embedded
 *                  Msvm_EthernetPortAllocationSettingData whose HostResource is
 *                  the host's Msvm_ComputerSystem: the internal port]):
 *       the switch as qwmi_model_add_switch makes it, its settings, its
 *       internal port and the host vNIC "vEthernet (<name>)" (MSFT_NetAdapter,
 *       with an ms_netwnv binding, disabled, where NetWNV exists)
 *     DestroySystem(AffectedSystem = the switch): all that; connections to
 *       it are left unconnected (HostResource empty, EnabledState 3)
 *   Msvm_VirtualSystemManagementService
 *     DefineSystem(SystemSettings = embedded Msvm_VirtualSystemSettingData with
 *                  ElementName): a VM as qwmi_model_add_nic makes one (never
 *                  started), with its realized settings
 *     AddResourceSettings(AffectedConfiguration = the VM's realized VSSD,
 *                  ResourceSettings = [embedded Msvm_SyntheticEthernetPortSettingData
 *                  with ResourceSubType "Microsoft:Hyper-V:Synthetic Ethernet Port"]):
 *       a NIC as qwmi_model_add_nic makes it, with the caller's properties
 *     DestroySystem(AffectedSystem = the VM): the VM, its settings, NICs,
 *       connections and their features (refused for a running VM and for the
 *       host)
 *   MSFT_NetAdapterBindingSettingData Enable / Disable (root\StandardCimv2)
 *
 * Objects are built by the model's own set-up functions (so that they have
 * whatever form the model gives them); what a call adds is every instance
 * that appeared during it, marked with the system it belongs to
 * ("__system") and settled like every method's effects (qwm_settle: a job
 * when job faults are set, which removes them again if it fails).
 * Parameter errors are ReturnValue 32773 with the reason. */
#include "vswitch/hyperv/wmi_model_int.h"
#include "vswitch/hyperv/hv_selftest.h"
#include "lib/util.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define C_CS "Msvm_ComputerSystem"
#define C_VSSD "Msvm_VirtualSystemSettingData"
#define C_VESSD "Msvm_VirtualEthernetSwitchSettingData"
#define C_VESMS "Msvm_VirtualEthernetSwitchManagementService"
#define C_VSMS "Msvm_VirtualSystemManagementService"
#define C_ADAPTER "MSFT_NetAdapter"
#define C_BINDING "MSFT_NetAdapterBindingSettingData"
#define HOST_DESC "Microsoft Hosting Computer System"
#define NIC_SUBTYPE "Microsoft:Hyper-V:Synthetic Ethernet Port"
#define CONN_SUBTYPE "Microsoft:Hyper-V:Ethernet Connection"
#define SCRATCH_NIC "__qwm_define_system__"   /* a VM is made as its first NIC's */

/* ---------- paths ---------- */

/* The part of a path after "\\HOST\ns:" (the whole path if relative). */
static const char *sys_rel(const char *p)
{
    if (p && p[0] == '\\' && p[1] == '\\') {
        const char *c = strchr(p, ':');
        return c ? c + 1 : p;
    }
    return p;
}

/* The class of a path (before '.' or '='), in buf. */
static const char *sys_path_class(const char *p, char *buf, size_t n)
{
    const char *r = sys_rel(p ? p : "");
    size_t l = strcspn(r, ".=");
    snprintf(buf, n, "%.*s", (int)l, r);
    return buf;
}

/* The instance at path: exactly, else by its relative part (case-insensitive). */
static qj *sys_get(qwmi *w, const char *path)
{
    if (!path)
        return NULL;
    qj *i = qvs_map_get(w->inst, path);
    if (i)
        return i;
    const char *k;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) &&
            (!strcasecmp(sys_rel(k), sys_rel(path)) ||
             (qj_get_str(i, "__PATH") && !strcasecmp(sys_rel(qj_get_str(i, "__PATH")),
                                                     sys_rel(path)))))
            return i;
    return NULL;
}

/* A path in the form the model gives its instances: full
 * ("\\HOST\ns:Class.Key="v"", escaped) when the management service's path
 * is full, else relative. */
static char *sys_path(qwmi *w, const char *ns, const char *cls, const char *key, const char *val)
{
    const char *vsms = NULL;
    const char *k;
    qj *i;
    for (size_t x = 0; !vsms && x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && qwm_is(i, C_VSMS))
            vsms = k;
    qbuf b;
    qbuf_init(&b, 0);
    bool full = vsms && vsms[0] == '\\' && vsms[1] == '\\';
    if (full) {
        const char *h = vsms + 2, *e = strchr(h, '\\');
        qbuf_printf(&b, "\\\\%.*s\\%s:", e ? (int)(e - h) : 0, h, ns);
    }
    qbuf_printf(&b, "%s.%s=\"", cls, key);
    for (const char *p = val; *p; p++) {
        if (full && (*p == '\\' || *p == '"'))
            qbuf_printf(&b, "\\");
        qbuf_printf(&b, "%c", *p);
    }
    qbuf_printf(&b, "\"");
    char *s = qbuf_steal(&b, NULL);
    qbuf_free(&b);
    return s;
}

/* ---------- what a call adds ---------- */

static qvs_map *sys_keys(const qwmi *w)
{
    qvs_map *m = qvs_map_new();
    const char *k;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, NULL))
            qvs_map_put(m, k, qj_null());
    return m;
}

/* The paths of the instances not in before, marked as system's and pending. */
static qj *sys_new(qwmi *w, const qvs_map *before, const char *system)
{
    qj *adds = qj_array();
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && !qvs_map_get(before, k)) {
            if (system)
                qj_set(i, "__system", qj_str(system));
            qj_set(i, "__pending", qj_bool(true));
            qj_append(adds, qj_str(k));
        }
    return adds;
}

/* DefineSystem's answer: what it made (all instances not in before) settles
 * now or with a job; ResultingSystem names the new system. Frees before. */
static qj *sys_defined(qwmi *w, qvs_map *before, const char *path)
{
    qj *adds = sys_new(w, before, path);
    qvs_map_free(before);
    qj *out = qwm_out(0);
    qj_set(out, "ResultingSystem", qj_str(path));
    qwm_settle(w, out, adds, qj_array(), qj_array());
    return out;
}

/* Removes the instances not in before (a call refused half-way). */
static void sys_undo(qwmi *w, const qvs_map *before)
{
    qvs_map *now = sys_keys(w);
    const char *k;
    for (size_t x = 0; x < qvs_map_end(now); x++)
        if (qvs_map_at(now, x, &k, NULL) && !qvs_map_get(before, k))
            qwm_del(w, k);
    qvs_map_free(now);
}

static qj *sys_add(qwmi *w, const char *ns, qj *inst, const char *key)
{
    char *p = sys_path(w, ns, qwm_cls(inst), key, qj_get_str(inst, key));
    qj *r = qwm_add(w, inst, p);
    free(p);
    return r;
}

/* ---------- the host's own objects ---------- */

static qj *sys_find_any(const qwmi *w, const char *cls, const char *prop, const char *suffix)
{
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++) {
        if (!qvs_map_at(w->inst, x, &k, &i) || !qwm_is(i, cls))
            continue;
        if (!prop)
            return i;
        const char *v = qj_get_str(i, prop);
        size_t lv = v ? strlen(v) : 0, ls = strlen(suffix);
        if (v && lv >= ls && !strcasecmp(v + lv - ls, suffix))
            return i;
    }
    return NULL;
}

static qj *sys_host(const qwmi *w)
{
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && qwm_is(i, C_CS) &&
            !strcmp(qj_get_str(i, "Description") ? qj_get_str(i, "Description") : "", HOST_DESC))
            return i;
    return NULL;
}

static void sys_default(qwmi *w, const char *cls, int64_t type, const char *subtype,
                        const char *name)
{
    for (size_t x = 0; x < qvs_map_end(w->inst); x++) {
        const char *k;
        qj *i;
        if (qvs_map_at(w->inst, x, &k, &i) && qwm_is(i, cls) &&
            !strcmp(qj_get_str(i, "ResourceSubType") ? qj_get_str(i, "ResourceSubType") : "",
                    subtype) &&
            sys_find_any(w, cls, "InstanceID", "\\Default"))
            return;
    }
    char *g = qwm_guid(w);
    char *iid = xasprintf("Microsoft:Definition\\%s\\Default", g);
    qj *d = qj_object();
    qj_set(d, "__CLASS", qj_str(cls));
    qj_set(d, "InstanceID", qj_str(iid));
    qj_set(d, "ElementName", qj_str(name));
    qj_set(d, "ResourceType", qj_int(type));
    qj_set(d, "ResourceSubType", qj_str(subtype));
    if (!strcmp(cls, C_NIC)) {
        qj_set(d, "Address", qj_str(""));
        qj_set(d, "StaticMacAddress", qj_bool(false));
        qj_set(d, "VirtualSystemIdentifiers", qj_array());
    } else {
        qj_set(d, "Parent", qj_null());
        qj_set(d, "HostResource", qj_array());
        qj_set(d, "EnabledState", qj_int(2));
    }
    sys_add(w, QWMI_NS_VIRT, d, "InstanceID");
    free(iid);
    free(g);
}

/* What a Hyper-V host has from the start and the self-test needs: the host
 * system, the switch management service, the default NIC settings (the
 * default connection is qwm_host_objects'). */
void qwm_systems_host(qwmi *w)
{
    if (!sys_host(w)) {
        qj *h = qj_object();
        qj_set(h, "__CLASS", qj_str(C_CS));
        qj_set(h, "Name", qj_str("QHV-MODEL"));
        qj_set(h, "ElementName", qj_str("QHV-MODEL"));
        qj_set(h, "Description", qj_str(HOST_DESC));
        qj_set(h, "EnabledState", qj_int(2));
        sys_add(w, QWMI_NS_VIRT, h, "Name");
    }
    if (!sys_find_any(w, C_VESMS, NULL, NULL)) {
        qj *s = qj_object();
        qj_set(s, "__CLASS", qj_str(C_VESMS));
        qj_set(s, "Name", qj_str("nvspwmi"));
        sys_add(w, QWMI_NS_VIRT, s, "Name");
    }
    sys_default(w, C_NIC, 10, NIC_SUBTYPE, "Network Adapter");
}

/* ---------- switches ---------- */

static long sys_next_ifindex(const qwmi *w)
{
    long max = 99;
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && qwm_is(i, C_ADAPTER) &&
            qj_get_int(i, "InterfaceIndex", 0) > max)
            max = (long)qj_get_int(i, "InterfaceIndex", 0);
    return max + 1;
}

static qj *sys_define_switch(qwmi *w, const qj *in, char *err, size_t errlen)
{
    const qj *ss = qj_get(in, "SystemSettings");
    const char *name = qj_get_str(ss, "ElementName");
    if (!qwm_is(ss, C_VESSD) || !name || !*name)
        return qwm_rv_err(RV_INVALID, "SystemSettings must be an embedded "
                                      C_VESSD " with ElementName", err, errlen);
    if (qwm_find(w, C_SWITCH, "ElementName", name))
        return qwm_rv_err(RV_INVALID, "a virtual switch with that name exists", err, errlen);
    const qj *rs = qj_get(in, "ResourceSettings");
    const qj *host = sys_host(w);
    bool internal = false;
    for (size_t i = 0; i < qj_len(rs); i++) {
        const qj *r = qj_at(rs, i);
        const qj *hr = sys_get(w, qj_as_str(qj_at(qj_get(r, "HostResource"), 0)));
        if (!qwm_is(r, C_ALLOC) || !hr || hr != host)
            return qwm_rv_err(RV_INVALID, "ResourceSettings: the model makes internal switches "
                                          "only (an embedded " C_ALLOC " whose HostResource is "
                                          "the host's " C_CS ")", err, errlen);
        internal = true;
    }
    qvs_map *before = sys_keys(w);
    qwmi_model_add_switch(w, name);
    const qj *sw = qwm_find(w, C_SWITCH, "ElementName", name);
    if (!sw) {
        sys_undo(w, before);
        qvs_map_free(before);
        return qwm_rv_err(RV_INVALID, "the switch could not be made", err, errlen);
    }
    char *swpath = xstrdup(qj_get_str(sw, "__PATH"));
    char *swname = xstrdup(qj_get_str(sw, "Name"));
    if (!qwm_find(w, C_VESSD, "VirtualSystemIdentifier", swname)) {
        qj *s = qj_object();
        qj_set(s, "__CLASS", qj_str(C_VESSD));
        char *iid = xasprintf("Microsoft:%s", swname);
        qj_set(s, "InstanceID", qj_str(iid));
        qj_set(s, "ElementName", qj_str(name));
        qj_set(s, "VirtualSystemIdentifier", qj_str(swname));
        sys_add(w, QWMI_NS_VIRT, s, "InstanceID");
        free(iid);
    }
    if (internal) {
        /* The internal port and the host's vNIC. */
        qj *a = qj_clone(qj_at(rs, 0));
        qj_remove(a, "__PATH");
        char *g = qwm_guid(w);
        char *iid = xasprintf("Microsoft:%s\\%s", swname, g);
        qj_set(a, "InstanceID", qj_str(iid));
        qj_set(a, "HostResource", qj_clone(qj_get(qj_at(rs, 0), "HostResource")));
        if (!qj_get_str(a, "ElementName"))
            qj_set(a, "ElementName", qj_str(name));
        qj_set(a, "EnabledState", qj_int(2));
        sys_add(w, QWMI_NS_VIRT, a, "InstanceID");
        free(iid);
        char *alias = xasprintf("vEthernet (%s)", name);
        char *dev = xasprintf("{%s}", g);
        char mac[13], dashed[18];
        unsigned long long m = (unsigned long long)(w->seq & 0xffffff);
        snprintf(mac, sizeof mac, "00155D%06llX", m);
        snprintf(dashed, sizeof dashed, "00-15-5D-%02llX-%02llX-%02llX", m >> 16, (m >> 8) & 0xff,
                 m & 0xff);
        qj *n = qj_object();
        qj_set(n, "__CLASS", qj_str(C_ADAPTER));
        qj_set(n, "DeviceID", qj_str(dev));
        qj_set(n, "Name", qj_str(alias));
        qj_set(n, "InterfaceAlias", qj_str(alias));
        qj_set(n, "InterfaceDescription", qj_str("Hyper-V Virtual Ethernet Adapter"));
        qj_set(n, "InterfaceIndex", qj_int(sys_next_ifindex(w)));
        qj_set(n, "MacAddress", qj_str(dashed));
        qj_set(n, "PermanentAddress", qj_str(mac));
        sys_add(w, QWMI_NS_STDCIMV2, n, "DeviceID");
        if (qwm_class_exists(w, C_PA)) {
            qj *b = qj_object();
            char *biid = xasprintf("%s::ms_netwnv", dev);
            qj_set(b, "__CLASS", qj_str(C_BINDING));
            qj_set(b, "InstanceID", qj_str(biid));
            qj_set(b, "Name", qj_str(alias));
            qj_set(b, "InterfaceAlias", qj_str(alias));
            qj_set(b, "ComponentID", qj_str("ms_netwnv"));
            qj_set(b, "DisplayName", qj_str("Windows Network Virtualization Filter driver"));
            qj_set(b, "Enabled", qj_bool(false));
            sys_add(w, QWMI_NS_STDCIMV2, b, "InstanceID");
            free(biid);
        }
        free(alias);
        free(dev);
        free(g);
    }
    qj *out = sys_defined(w, before, swpath);
    free(swpath);
    free(swname);
    return out;
}

/* The paths of everything system owns (that its call made). */
static void sys_owned(const qwmi *w, const char *system, qj *dels)
{
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && qj_get_str(i, "__system") &&
            !strcasecmp(sys_rel(qj_get_str(i, "__system")), sys_rel(system)))
            qj_append(dels, qj_str(k));
}

static bool sys_listed(const qj *list, const char *p)
{
    for (size_t i = 0; i < qj_len(list); i++)
        if (!strcmp(qj_as_str(qj_at(list, i)), p))
            return true;
    return false;
}

static qj *sys_destroy_switch(qwmi *w, const qj *in, char *err, size_t errlen)
{
    const qj *sw = sys_get(w, qj_get_str(in, "AffectedSystem"));
    if (!qwm_is(sw, C_SWITCH) || qj_get(sw, "__pending"))
        return qwm_rv_err(RV_INVALID, "AffectedSystem is not a virtual switch", err, errlen);
    const char *path = qj_get_str(sw, "__PATH");
    qj *dels = qj_array(), *mods = qj_array();
    qj_append(dels, qj_str(path));
    sys_owned(w, path, dels);
    const qj *vs = qwm_find(w, C_VESSD, "VirtualSystemIdentifier", qj_get_str(sw, "Name"));
    if (vs && !sys_listed(dels, qj_get_str(vs, "__PATH")))
        qj_append(dels, qj_str(qj_get_str(vs, "__PATH")));
    /* VM connections to it: left unconnected. */
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++) {
        if (!qvs_map_at(w->inst, x, &k, &i) || !qwm_is(i, C_ALLOC) || sys_listed(dels, k))
            continue;
        const char *hr = qj_as_str(qj_at(qj_get(i, "HostResource"), 0));
        if (hr && sys_get(w, hr) == sw) {
            qj *m = qj_clone(i);    /* the whole new instance */
            qj_set(m, "HostResource", qj_array());
            qj_set(m, "EnabledState", qj_int(3));
            qj_append(mods, m);
        }
    }
    qj *out = qwm_out(0);
    qwm_settle(w, out, qj_array(), dels, mods);
    return out;
}

/* ---------- VMs ---------- */

static qj *sys_define_vm(qwmi *w, const qj *in, char *err, size_t errlen)
{
    const qj *ss = qj_get(in, "SystemSettings");
    const char *name = qj_get_str(ss, "ElementName");
    if (!qwm_is(ss, C_VSSD) || !name || !*name)
        return qwm_rv_err(RV_INVALID, "SystemSettings must be an embedded " C_VSSD
                                      " with ElementName", err, errlen);
    if (qwm_find(w, C_CS, "ElementName", name))
        return qwm_rv_err(RV_INVALID, "the model needs VM names to be unique", err, errlen);
    qvs_map *before = sys_keys(w);
    /* The VM as the model makes it: the first NIC's, without the NIC. */
    qwmi_model_add_nic(w, name, SCRATCH_NIC, NULL);
    qwmi_model_del_nic(w, SCRATCH_NIC);
    const qj *vm = qwm_find(w, C_CS, "ElementName", name);
    if (!vm || !qj_get_str(vm, "Name")) {
        sys_undo(w, before);
        qvs_map_free(before);
        return qwm_rv_err(RV_INVALID, "the VM could not be made", err, errlen);
    }
    char *vmpath = xstrdup(qj_get_str(vm, "__PATH"));
    char *vmid = xstrdup(qj_get_str(vm, "Name"));
    qj *v = (qj *)vm;
    if (!qj_get(v, "Description"))
        qj_set(v, "Description", qj_str("Microsoft Virtual Machine"));
    qj_set(v, "EnabledState", qj_int(3));     /* defined, never started */
    char *iid = xasprintf("Microsoft:%s", vmid);
    if (!qwm_find(w, C_VSSD, "InstanceID", iid)) {
        qj *s = qj_clone(ss);
        qj_remove(s, "__PATH");
        qj_set(s, "InstanceID", qj_str(iid));
        qj_set(s, "ElementName", qj_str(name));
        qj_set(s, "VirtualSystemIdentifier", qj_str(vmid));
        qj_set(s, "VirtualSystemType", qj_str("Microsoft:Hyper-V:System:Realized"));
        sys_add(w, QWMI_NS_VIRT, s, "InstanceID");
    }
    free(iid);
    qj *out = sys_defined(w, before, vmpath);
    free(vmpath);
    free(vmid);
    return out;
}

/* Does iid start with "Microsoft:<vmid>" followed by its end or '\'? */
static bool sys_of_vm(const char *iid, const char *vmid)
{
    if (!iid || strncasecmp(iid, "Microsoft:", 10))
        return false;
    size_t l = strlen(vmid);
    return !strncasecmp(iid + 10, vmid, l) && (iid[10 + l] == '\0' || iid[10 + l] == '\\');
}

static qj *sys_destroy_vm(qwmi *w, const qj *in, char *err, size_t errlen)
{
    const qj *vm = sys_get(w, qj_get_str(in, "AffectedSystem"));
    if (!qwm_is(vm, C_CS) || qj_get(vm, "__pending") || vm == sys_host(w))
        return qwm_rv_err(RV_INVALID, "AffectedSystem is not a virtual machine", err, errlen);
    if (qj_get_int(vm, "EnabledState", 3) == 2)
        return qwm_rv_err(RV_STATE, "the virtual machine is running", err, errlen);
    const char *path = qj_get_str(vm, "__PATH"), *vmid = qj_get_str(vm, "Name");
    qj *dels = qj_array();
    qj_append(dels, qj_str(path));
    sys_owned(w, path, dels);
    const char *k;
    qj *i;
    /* Its settings, NICs, connections and features (all named after it). */
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && !qwm_wnv_class(qwm_cls(i)) &&
            sys_of_vm(qj_get_str(i, "InstanceID"), vmid) && !sys_listed(dels, k))
            qj_append(dels, qj_str(k));
    /* Connections whose Parent is one of its NICs, and their features. */
    for (size_t x = 0; x < qvs_map_end(w->inst); x++) {
        if (!qvs_map_at(w->inst, x, &k, &i) || !qwm_is(i, C_ALLOC))
            continue;
        const qj *nic = sys_get(w, qj_get_str(i, "Parent"));
        if (!nic || !sys_of_vm(qj_get_str(nic, "InstanceID"), vmid))
            continue;
        if (!sys_listed(dels, k))
            qj_append(dels, qj_str(k));
        const char *aiid = qj_get_str(i, "InstanceID");
        size_t n = aiid ? qwm_features(w, aiid, NULL, NULL, 0) : 0;
        const char **fs = xcalloc(n + 1, sizeof *fs);
        if (n)
            qwm_features(w, aiid, NULL, fs, n);
        for (size_t f = 0; f < n; f++)
            if (!sys_listed(dels, fs[f]))
                qj_append(dels, qj_str(fs[f]));
        free(fs);
    }
    qj *out = qwm_out(0);
    qwm_settle(w, out, qj_array(), dels, qj_array());
    return out;
}

/* ---------- NICs ---------- */

static qj *sys_add_nics(qwmi *w, const qj *in, char *err, size_t errlen)
{
    const qj *vssd = sys_get(w, qj_get_str(in, "AffectedConfiguration"));
    const char *type = qj_get_str(vssd, "VirtualSystemType");
    const char *iid = qj_get_str(vssd, "InstanceID");
    if (!qwm_is(vssd, C_VSSD) || qj_get(vssd, "__pending") || !iid ||
        strncmp(iid, "Microsoft:", 10) || (type && strcmp(type, "Microsoft:Hyper-V:System:Realized")))
        return qwm_rv_err(RV_INVALID, "AffectedConfiguration is not a VM's realized "
                                      C_VSSD, err, errlen);
    const char *vmid = iid + 10;
    const qj *vm = qwm_find(w, C_CS, "Name", vmid);
    if (!vm)
        return qwm_rv_err(RV_INVALID, "AffectedConfiguration's VM is gone", err, errlen);
    char *vmname = xstrdup(qj_get_str(vm, "ElementName") ? qj_get_str(vm, "ElementName") : "");
    const qj *rs = qj_get(in, "ResourceSettings");
    qvs_map *before = sys_keys(w);
    qj *paths = qj_array();
    const char *why = NULL;
    for (size_t i = 0; !why && i < qj_len(rs); i++) {
        const qj *r = qj_at(rs, i);
        const char *st = qj_get_str(r, "ResourceSubType");
        if (!qwm_is(r, C_NIC) || !st || strcmp(st, NIC_SUBTYPE)) {
            why = "ResourceSettings: embedded " C_NIC " with ResourceSubType '" NIC_SUBTYPE "'";
            break;
        }
        const char *mac = qj_get_str(r, "Address");
        qvs_map *mid = sys_keys(w);
        qwmi_model_add_nic(w, vmname, qj_get_str(r, "ElementName"), mac && *mac ? mac : NULL);
        /* The NIC just made (the model names the VM by ElementName). */
        qj *nic = NULL;
        const char *k;
        qj *x;
        for (size_t n = 0; !nic && n < qvs_map_end(w->inst); n++)
            if (qvs_map_at(w->inst, n, &k, &x) && !qvs_map_get(mid, k) && qwm_is(x, C_NIC))
                nic = x;
        qvs_map_free(mid);
        if (!nic || !sys_of_vm(qj_get_str(nic, "InstanceID"), vmid)) {
            why = "the NIC could not be made on that VM";
            break;
        }
        for (size_t m = 0; m < r->u.obj.n; m++) {
            const char *key = r->u.obj.m[m].key;
            if (strncmp(key, "__", 2) && strcmp(key, "InstanceID") &&
                !(strcmp(key, "Address") == 0 && !(mac && *mac)))
                qj_set(nic, key, qj_clone(r->u.obj.m[m].val));
        }
        qj_append(paths, qj_str(qj_get_str(nic, "__PATH")));
    }
    free(vmname);
    if (why || !qj_len(paths)) {
        sys_undo(w, before);
        qvs_map_free(before);
        qj_free(paths);
        return qwm_rv_err(RV_INVALID, why ? why : "ResourceSettings is empty", err, errlen);
    }
    qj *adds = sys_new(w, before, NULL);
    qvs_map_free(before);
    qj *out = qwm_out(0);
    qj_set(out, "ResultingResourceSettings", paths);
    qwm_settle(w, out, adds, qj_array(), qj_array());
    return out;
}

/* ---------- bindings ---------- */

static qj *sys_binding(qwmi *w, const char *path, bool enable, char *err, size_t errlen)
{
    qj *b = sys_get(w, path);
    if (!qwm_is(b, C_BINDING)) {
        return qwm_rv_err(2, "no such binding", err, errlen);
    }
    qj_set(b, "Enabled", qj_bool(enable));
    return qwm_out(0);
}

/* ---------- dispatch ---------- */

qj *qwm_systems_call(qwmi *w, const char *path, const char *method, const qj *in, bool *handled,
                     char *err, size_t errlen)
{
    *handled = false;
    char cls[128];
    sys_path_class(path, cls, sizeof cls);
    bool vesms = !strcasecmp(cls, C_VESMS), vsms = !strcasecmp(cls, C_VSMS);
    if (!strcasecmp(cls, C_BINDING) && (!strcmp(method, "Enable") || !strcmp(method, "Disable"))) {
        *handled = true;
        return sys_binding(w, path, !strcmp(method, "Enable"), err, errlen);
    }
    if (!vesms && !vsms)
        return NULL;
    if ((vesms || vsms) && !sys_get(w, path)) {
        *handled = true;
        qwm_err(err, errlen, "%s: not found (WBEM_E_NOT_FOUND 0x80041002)", path);
        return NULL;
    }
    if (vesms && !strcmp(method, "DefineSystem")) {
        *handled = true;
        return sys_define_switch(w, in, err, errlen);
    }
    if (vesms && !strcmp(method, "DestroySystem")) {
        *handled = true;
        return sys_destroy_switch(w, in, err, errlen);
    }
    if (vsms && !strcmp(method, "DefineSystem")) {
        *handled = true;
        return sys_define_vm(w, in, err, errlen);
    }
    if (vsms && !strcmp(method, "DestroySystem")) {
        *handled = true;
        return sys_destroy_vm(w, in, err, errlen);
    }
    if (vsms && !strcmp(method, "AddResourceSettings")) {
        const qj *rs = qj_get(in, "ResourceSettings");
        bool nics = false;
        for (size_t i = 0; i < qj_len(rs); i++)
            nics = nics || qwm_is(qj_at(rs, i), C_NIC);
        if (!nics)
            return NULL;    /* connections: the model's own */
        *handled = true;
        return sys_add_nics(w, in, err, errlen);
    }
    if (vesms) {
        *handled = true;
        qwm_err(err, errlen, "method %s is not modelled (WBEM_E_METHOD_NOT_IMPLEMENTED)", method);
        return NULL;
    }
    return NULL;
}
