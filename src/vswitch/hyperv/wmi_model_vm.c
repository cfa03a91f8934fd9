/* wmi_model_vm: test and lab set-up (wmi_model.h): switches, VMs with their
 * realized settings, NICs with or without a connection, legacy NICs,
 * checkpoints and planned VMs with copies of the settings, restores, host
 * network adapters; and the default allocation every host has (M6, M9). */
#include "vswitch/hyperv/wmi_model_int.h"
#include "lib/util.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* ---------- what a setting belongs to ---------- */

qj *qwm_vssd_of(const qwmi *w, const qj *setting)
{
    const char *iid = qj_get_str(setting, "InstanceID");
    if (qwm_is(setting, C_VSSD) || !iid)
        return qwm_is(setting, C_VSSD) ? (qj *)setting : NULL;
    const char *slash = strchr(iid, '\\');
    if (!slash)
        return NULL;
    char *v = xstrndup(iid, (size_t)(slash - iid));
    qj *vssd = qwm_get_iid(w, C_VSSD, v);
    free(v);
    return vssd;
}

static bool qwm_vssd_type(const qwmi *w, const qj *setting, const char *type)
{
    const char *t = qj_get_str(qwm_vssd_of(w, setting), "VirtualSystemType");
    return t && !strcasecmp(t, type);
}

bool qwm_realized(const qwmi *w, const qj *setting)
{
    return qwm_vssd_type(w, setting, VST_REALIZED);
}

bool qwm_snapshot(const qwmi *w, const qj *setting)
{
    return qwm_vssd_type(w, setting, VST_SNAPSHOT);
}

/* ---------- the default allocation ---------- */

static bool qwm_is_default_alloc(const qj *i)
{
    const char *iid = qj_get_str(i, "InstanceID");
    return qwm_is(i, C_ALLOC) && iid && qwm_like(iid, "%\\Default");
}

static const qj *qwm_find_default_alloc(const qwmi *w)
{
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && qwm_is_default_alloc(i))
            return i;
    return NULL;
}

void qwm_default_alloc(qwmi *w)
{
    if (qwm_find_default_alloc(w))
        return;
    qj *a = qwm_schema_defaults(C_ALLOC);
    char *g = qwm_guid(w);
    qj_set(a, "InstanceID", qj_str_take(xasprintf("Microsoft:Definition\\%s\\Default", g)));
    qj_set(a, "ResourceType", qj_int(33));
    qj_set(a, "ResourceSubType", qj_str(ALLOC_SUBTYPE));
    qj_set(a, "ElementName", qj_str("Dynamic Ethernet Switch Port"));
    qj_set(a, "EnabledState", qj_int(2));
    qwm_add(w, a, NULL);
    free(g);
}

/* ---------- VMs and NICs ---------- */

/* The VM called vm (made with its realized VSSD on first use); borrowed. */
static const qj *qwm_vm(qwmi *w, const char *vm)
{
    const qj *v = qwm_find(w, C_CS, "ElementName", vm);
    if (v)
        return v;
    char *id = qwm_guid(w);
    qj *s = qj_object();
    qj_set(s, "__CLASS", qj_str(C_CS));
    qj_set(s, "Name", qj_str(id));
    qj_set(s, "ElementName", qj_str(vm));
    qj_set(s, "EnabledState", qj_int(2));
    v = qwm_add(w, s, NULL);
    qj *d = qj_object();
    qj_set(d, "__CLASS", qj_str(C_VSSD));
    qj_set(d, "InstanceID", qj_str_take(xasprintf("Microsoft:%s", id)));
    qj_set(d, "VirtualSystemIdentifier", qj_str(id));
    qj_set(d, "VirtualSystemType", qj_str(VST_REALIZED));
    qj_set(d, "ElementName", qj_str(vm));
    qwm_add(w, d, NULL);
    free(id);
    return v;
}

/* Twelve hex digits of mac (any separators), upper-case, into out[13]. */
static void qwm_mac12(const char *mac, char out[13])
{
    size_t n = 0;
    for (const char *c = mac ? mac : ""; *c && n < 12; c++)
        if (isxdigit((unsigned char)*c))
            out[n++] = (char)toupper((unsigned char)*c);
    while (n < 12)
        out[n++] = '0';
    out[12] = 0;
}

/* A NIC of class cls on the VM vm; borrowed. */
static qj *qwm_nic_new(qwmi *w, const char *vm, const char *cls, const char *name,
                       const char *mac, const char *subtype)
{
    const qj *v = qwm_vm(w, vm);
    char *g = qwm_guid(w), m[13];
    qwm_mac12(mac ? mac : "00155D000000", m);
    qj *n = qj_object();
    qj_set(n, "__CLASS", qj_str(cls));
    qj_set(n, "InstanceID", qj_str_take(xasprintf("Microsoft:%s\\%s", qj_get_str(v, "Name"), g)));
    qj_set(n, "ElementName", name ? qj_str(name) : qj_null());
    qj_set(n, "ResourceType", qj_int(10));
    qj_set(n, "ResourceSubType", qj_str(subtype));
    qj_set(n, "Address", qj_str(m));
    qj_set(n, "StaticMacAddress", qj_bool(mac != NULL));
    qj *ids = qj_array();
    qj_append(ids, qj_str_take(xasprintf("{%s}", g)));
    qj_set(n, "VirtualSystemIdentifiers", ids);
    free(g);
    return qwm_add(w, n, NULL);
}

static int qwm_add_switch_u(qwmi *w, const char *name)
{
    if (qwm_find(w, C_SWITCH, "ElementName", name))
        return 0;
    char *g = qwm_guid(w);
    qj *s = qj_object();
    qj_set(s, "__CLASS", qj_str(C_SWITCH));
    qj_set(s, "Name", qj_str(g));
    qj_set(s, "ElementName", qj_str(name));
    qwm_add(w, s, NULL);
    free(g);
    qwm_save(w);
    return 0;
}

static int qwm_add_nic_u(qwmi *w, const char *vm, const char *name, const char *mac)
{
    qwm_nic_new(w, vm, C_NIC, name, mac, "Microsoft:Hyper-V:Synthetic Ethernet Port");
    qwm_save(w);
    return 0;
}

static int qwm_add_legacy_nic_u(qwmi *w, const char *vm, const char *name, const char *mac)
{
    qwm_nic_new(w, vm, C_LEGACY, name, mac, "Microsoft:Hyper-V:Emulated Ethernet Port");
    qwm_save(w);
    return 0;
}

static int qwm_add_nic_connected_u(qwmi *w, const char *vm, const char *name, const char *mac,
                                 const char *switch_name)
{
    const qj *sw = switch_name ? qwm_find(w, C_SWITCH, "ElementName", switch_name) : NULL;
    if (switch_name && !sw)
        return -ENOENT;
    const qj *nic = qwm_nic_new(w, vm, C_NIC, name, mac,
                                "Microsoft:Hyper-V:Synthetic Ethernet Port");
    /* What New-VM -SwitchName / Add-VMNetworkAdapter do: the default
     * allocation, connected or not. */
    qj *a = qj_clone(qwm_find_default_alloc(w));
    qj_remove(a, "__PATH");
    qj_set(a, "InstanceID",
           qj_str_take(xasprintf("%s\\C%lld", qj_get_str(nic, "InstanceID"), (long long)++w->seq)));
    qj_set(a, "Parent", qj_str_take(qwm_ref(nic)));
    qj *hr = qj_array();
    if (sw)
        qj_append(hr, qj_str_take(qwm_ref(sw)));
    qj_set(a, "HostResource", hr);
    qj_set(a, "EnabledState", qj_int(sw ? 2 : 3));
    qwm_add(w, a, NULL);
    qwm_save(w);
    return 0;
}

/* ---------- removal ---------- */

/* Removes the allocation a with its features. */
static void qwm_del_alloc(qwmi *w, const qj *a)
{
    const char *aiid = qj_get_str(a, "InstanceID");
    size_t k = qwm_features(w, aiid, NULL, NULL, 0);
    const char **fs = xcalloc(k + 1, sizeof *fs);
    qwm_features(w, aiid, NULL, fs, k);
    char **copy = xcalloc(k + 1, sizeof *copy);
    for (size_t i = 0; i < k; i++)
        copy[i] = xstrdup(fs[i]);
    for (size_t i = 0; i < k; i++) {
        qwm_del(w, copy[i]);
        free(copy[i]);
    }
    free(copy);
    free(fs);
    char *ap = xstrdup(qj_get_str(a, "__PATH"));
    qwm_del(w, ap);
    free(ap);
}

/* The first NIC (synthetic or legacy) named name; borrowed. */
static qj *qwm_nic_named(const qwmi *w, const char *name)
{
    qj *n = qwm_find(w, C_NIC, "ElementName", name);
    return n ? n : qwm_find(w, C_LEGACY, "ElementName", name);
}

static int qwm_del_nic_u(qwmi *w, const char *name)
{
    int n = 0;
    qj *nic;
    while ((nic = qwm_nic_named(w, name))) {
        char *np = xstrdup(qj_get_str(nic, "__PATH"));
        const qj *a;
        while ((a = qwm_alloc_of(w, nic)))
            qwm_del_alloc(w, a);
        qwm_del(w, np);
        free(np);
        n++;
    }
    qwm_save(w);
    return n;
}

static void qwm_reboot_u(qwmi *w)
{
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && qwm_wnv_class(qwm_cls(i)))
            qwm_del(w, k);
    qwm_save(w);
}

/* The realized NIC named name; borrowed. */
static const qj *qwm_live_nic(const qwmi *w, const char *name)
{
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && (qwm_is(i, C_NIC) || qwm_is(i, C_LEGACY)) &&
            qj_get_str(i, "ElementName") && !strcasecmp(qj_get_str(i, "ElementName"), name) &&
            qwm_realized(w, i))
            return i;
    return NULL;
}

static int qwm_remove_acl_by_weight_u(qwmi *w, const char *name, int weight, int direction)
{
    const qj *a = qwm_alloc_of(w, qwm_live_nic(w, name));
    if (!a)
        return 0;
    const char *aiid = qj_get_str(a, "InstanceID");
    size_t n = qwm_features(w, aiid, C_XACL, NULL, 0);
    const char **fs = xcalloc(n + 1, sizeof *fs);
    qwm_features(w, aiid, C_XACL, fs, n);
    char **del = xcalloc(n + 1, sizeof *del);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        const qj *o = qvs_map_get(w->inst, fs[i]);
        if (qj_get_int(o, "Weight", -1) == weight && qj_get_int(o, "Direction", 0) == direction)
            del[nd++] = xstrdup(fs[i]);
    }
    for (size_t i = 0; i < nd; i++) {
        qwm_del(w, del[i]);
        free(del[i]);
    }
    free(del);
    free(fs);
    qwm_save(w);
    return (int)nd;
}

/* ---------- checkpoints, planned VMs, restores ---------- */

/* Keys of the settings whose InstanceID starts with prefix + '\'. */
static qj *qwm_children(const qwmi *w, const char *prefix)
{
    qj *out = qj_array();
    size_t n = strlen(prefix);
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++) {
        if (!qvs_map_at(w->inst, x, &k, &i) || qj_get(i, "__pending") || qwm_is(i, C_JOB))
            continue;
        const char *iid = qj_get_str(i, "InstanceID");
        if (iid && !strncasecmp(iid, prefix, n) && iid[n] == '\\')
            qj_append(out, qj_str(k));
    }
    return out;
}

/* Copies the settings under VSSD InstanceID from to under to: same
 * ElementNames, InstanceIDs with the new prefix, Parent re-pointed. */
static void qwm_copy_children(qwmi *w, const char *from, const char *to)
{
    qj *keys = qwm_children(w, from);
    size_t n = strlen(from);
    /* NICs first, so that allocations find their copied Parent. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t x = 0; x < qj_len(keys); x++) {
            const qj *src = qvs_map_get(w->inst, qj_as_str(qj_at(keys, x)));
            if (!src || qwm_is(src, C_ALLOC) != (pass == 1))
                continue;
            qj *c = qj_clone(src);
            qj_remove(c, "__PATH");
            qj_set(c, "InstanceID",
                   qj_str_take(xasprintf("%s%s", to, qj_get_str(src, "InstanceID") + n)));
            const qj *nic = qwm_is(c, C_ALLOC) ? qwm_get(w, qj_get_str(c, "Parent")) : NULL;
            const char *niid = qj_get_str(nic, "InstanceID");
            if (niid && strlen(niid) > n && !strncasecmp(niid, from, n)) {
                char *ciid = xasprintf("%s%s", to, niid + n);
                const qj *copy = qwm_get_iid(w, qwm_cls(nic), ciid);
                free(ciid);
                if (copy)
                    qj_set(c, "Parent", qj_str_take(qwm_ref(copy)));
            }
            qwm_add(w, c, NULL);
        }
    qj_free(keys);
}

/* A copy of the VM's settings under a new VSSD of type type. */
static int qwm_copy_vm(qwmi *w, const char *vm, const char *type)
{
    qwm_sync(w);
    const qj *v = qwm_find(w, C_CS, "ElementName", vm);
    if (!v)
        return -ENOENT;
    char *id = xstrdup(qj_get_str(v, "Name")), *g = qwm_guid(w);
    char *from = xasprintf("Microsoft:%s", id), *to = xasprintf("Microsoft:%s", g);
    qj *d = qj_object();
    qj_set(d, "__CLASS", qj_str(C_VSSD));
    qj_set(d, "InstanceID", qj_str(to));
    qj_set(d, "VirtualSystemIdentifier", qj_str(id));
    qj_set(d, "VirtualSystemType", qj_str(type));
    qj_set(d, "ElementName", qj_str(vm));
    qj_set(d, "__taken", qj_int(w->seq));   /* the newest checkpoint is restored */
    qwm_add(w, d, NULL);
    qwm_copy_children(w, from, to);
    free(id);
    free(g);
    free(from);
    free(to);
    qwm_save(w);
    return 0;
}

int qwmi_model_checkpoint(qwmi *w, const char *vm)
{
    qwm_enter(w);
    int rc = qwm_copy_vm(w, vm, VST_SNAPSHOT);
    qwm_leave(w);
    return rc;
}

int qwmi_model_plan(qwmi *w, const char *vm)
{
    qwm_enter(w);
    int rc = qwm_copy_vm(w, vm, VST_PLANNED);
    qwm_leave(w);
    return rc;
}

/* The newest checkpoint VSSD of the VM with GUID id; borrowed. */
static const qj *qwm_newest_checkpoint(const qwmi *w, const char *id)
{
    const qj *best = NULL;
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++) {
        if (!qvs_map_at(w->inst, x, &k, &i) || !qwm_is(i, C_VSSD))
            continue;
        const char *t = qj_get_str(i, "VirtualSystemType");
        const char *vid = qj_get_str(i, "VirtualSystemIdentifier");
        if (t && !strcasecmp(t, VST_SNAPSHOT) && vid && !strcasecmp(vid, id) &&
            (!best || qj_get_int(i, "__taken", 0) > qj_get_int(best, "__taken", 0)))
            best = i;
    }
    return best;
}

static int qwm_restore_u(qwmi *w, const char *vm)
{
    const qj *v = qwm_find(w, C_CS, "ElementName", vm);
    const qj *cp = v ? qwm_newest_checkpoint(w, qj_get_str(v, "Name")) : NULL;
    if (!cp)
        return -ENOENT;
    char *live = xasprintf("Microsoft:%s", qj_get_str(v, "Name"));
    char *from = xstrdup(qj_get_str(cp, "InstanceID"));
    /* The VM's settings now go; the checkpoint's come back with the
     * InstanceIDs they had when it was taken. */
    qj *keys = qwm_children(w, live);
    for (size_t x = 0; x < qj_len(keys); x++)
        qwm_del(w, qj_as_str(qj_at(keys, x)));
    qj_free(keys);
    qwm_copy_children(w, from, live);
    free(live);
    free(from);
    qwm_save(w);
    return 0;
}

/* ---------- host network adapters (root\StandardCimv2) ---------- */

const qj *qwm_netadapter(const qwmi *w, int64_t ifindex)
{
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && qwm_is(i, C_NA) &&
            qj_get_int(i, "InterfaceIndex", -1) == ifindex)
            return i;
    return NULL;
}

/* The ms_netwnv binding of adapter na; borrowed. */
static qj *qwm_wnv_binding(const qwmi *w, const qj *na)
{
    const char *name = qj_get_str(na, "Name"), *k;
    qj *i;
    for (size_t x = 0; name && x < qvs_map_end(w->inst); x++) {
        if (!qvs_map_at(w->inst, x, &k, &i) || !qwm_is(i, C_NAB))
            continue;
        const char *c = qj_get_str(i, "ComponentID"), *n = qj_get_str(i, "Name");
        if (c && !strcasecmp(c, "ms_netwnv") && n && !strcasecmp(n, name))
            return i;
    }
    return NULL;
}

bool qwm_wnv_bound(const qwmi *w, const qj *na)
{
    return qj_get_bool(qwm_wnv_binding(w, na), "Enabled", false);
}

/* "00-15-5D-01-02-03" from twelve hex digits. */
static char *qwm_mac_dashed(const char m[13])
{
    return xasprintf("%.2s-%.2s-%.2s-%.2s-%.2s-%.2s", m, m + 2, m + 4, m + 6, m + 8, m + 10);
}

static int qwm_add_netadapter_u(qwmi *w, int ifindex, const char *alias, const char *mac,
                              bool wnv_bound)
{
    if (qwm_netadapter(w, ifindex))
        return -EEXIST;
    char *g = qwm_guid(w), m[13];
    qwm_mac12(mac, m);
    qj *a = qj_object();
    qj_set(a, "__CLASS", qj_str(C_NA));
    qj_set(a, "DeviceID", qj_str_take(xasprintf("{%s}", g)));
    qj_set(a, "InterfaceIndex", qj_int(ifindex));
    qj_set(a, "Name", qj_str(alias));
    qj_set(a, "InterfaceAlias", qj_str(alias));
    qj_set(a, "InterfaceDescription", qj_str("Microsoft Hyper-V Network Adapter"));
    qj_set(a, "MacAddress", qj_str_take(qwm_mac_dashed(m)));
    qj_set(a, "PermanentAddress", qj_str(m));
    qwm_add(w, a, NULL);
    qj *b = qj_object();
    qj_set(b, "__CLASS", qj_str(C_NAB));
    qj_set(b, "InstanceID", qj_str_take(xasprintf("{%s}::ms_netwnv", g)));
    qj_set(b, "ComponentID", qj_str("ms_netwnv"));
    qj_set(b, "DisplayName", qj_str("Windows Network Virtualization Filter driver"));
    qj_set(b, "Enabled", qj_bool(wnv_bound));
    qj_set(b, "Name", qj_str(alias));
    qj_set(b, "InterfaceAlias", qj_str(alias));
    qwm_add(w, b, NULL);
    free(g);
    qwm_save(w);
    return 0;
}

static int qwm_set_wnv_binding_u(qwmi *w, int ifindex, bool enabled)
{
    qj *b = qwm_wnv_binding(w, qwm_netadapter(w, ifindex));
    if (!b)
        return -ENOENT;
    qj_set(b, "Enabled", qj_bool(enabled));
    qwm_save(w);
    return 0;
}

static int qwm_set_property_u(qwmi *w, const char *cls, const char *where, const char *is,
                              const char *prop, const qj *value)
{
    int n = 0;
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++) {
        const char *v;
        if (qvs_map_at(w->inst, x, &k, &i) && qwm_is(i, cls) &&
            (v = qj_get_str(i, where)) && !strcasecmp(v, is)) {
            qj_set(i, prop, qj_clone(value));
            n++;
        }
    }
    if (n)
        qwm_save(w);
    return n;
}

/* ---------- the entries, under the state file's lock (qwm_enter) ---------- */

int qwmi_model_set_property(qwmi *w, const char *cls, const char *where, const char *is,
                            const char *prop, const qj *value)
{
    qwm_enter(w);
    int n = qwm_set_property_u(w, cls, where, is, prop, value);
    qwm_leave(w);
    return n;
}

int qwmi_model_add_switch(qwmi *w, const char *name)
{
    qwm_enter(w);
    int rc = qwm_add_switch_u(w, name);
    qwm_leave(w);
    return rc;
}

int qwmi_model_add_nic(qwmi *w, const char *vm, const char *name, const char *mac)
{
    qwm_enter(w);
    int rc = qwm_add_nic_u(w, vm, name, mac);
    qwm_leave(w);
    return rc;
}

int qwmi_model_add_legacy_nic(qwmi *w, const char *vm, const char *name, const char *mac)
{
    qwm_enter(w);
    int rc = qwm_add_legacy_nic_u(w, vm, name, mac);
    qwm_leave(w);
    return rc;
}

int qwmi_model_add_nic_connected(qwmi *w, const char *vm, const char *name, const char *mac,
                                 const char *switch_name)
{
    qwm_enter(w);
    int rc = qwm_add_nic_connected_u(w, vm, name, mac, switch_name);
    qwm_leave(w);
    return rc;
}

int qwmi_model_del_nic(qwmi *w, const char *name)
{
    qwm_enter(w);
    int rc = qwm_del_nic_u(w, name);
    qwm_leave(w);
    return rc;
}

void qwmi_model_reboot(qwmi *w)
{
    qwm_enter(w);
    qwm_reboot_u(w);
    qwm_leave(w);
}

int qwmi_model_remove_acl_by_weight(qwmi *w, const char *name, int weight, int direction)
{
    qwm_enter(w);
    int rc = qwm_remove_acl_by_weight_u(w, name, weight, direction);
    qwm_leave(w);
    return rc;
}

int qwmi_model_restore(qwmi *w, const char *vm)
{
    qwm_enter(w);
    int rc = qwm_restore_u(w, vm);
    qwm_leave(w);
    return rc;
}

int qwmi_model_add_netadapter(qwmi *w, int ifindex, const char *alias, const char *mac,
                              bool wnv_bound)
{
    qwm_enter(w);
    int rc = qwm_add_netadapter_u(w, ifindex, alias, mac, wnv_bound);
    qwm_leave(w);
    return rc;
}

int qwmi_model_set_wnv_binding(qwmi *w, int ifindex, bool enabled)
{
    qwm_enter(w);
    int rc = qwm_set_wnv_binding_u(w, ifindex, enabled);
    qwm_leave(w);
    return rc;
}
