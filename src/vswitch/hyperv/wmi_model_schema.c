/* wmi_model_schema: the documented class schema (wmi_schema.h) enforced
 * generically on what callers send: no per-class tables here, only what the
 * schema's qualifiers say (Key, Write, WmiDataId, MaxLen, ValueMap, the MOF
 * default, a documented fixed value). */
#include "vswitch/hyperv/wmi_model_int.h"
#include "vswitch/hyperv/wmi_schema.h"
#include "lib/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* Properties every class here inherits from CIM_ManagedElement /
 * CIM_SettingData; some class pages document only their own properties,
 * so these are never "no such property". */
static bool qwm_base_prop(const char *name)
{
    static const char *const base[] = {"InstanceID", "ElementName", "Caption", "Description"};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (!strcasecmp(name, base[i]))
            return true;
    return false;
}

/* May a Add/Modify*Settings caller set it? Microsoft's pages call most
 * properties of a resource allocation "Read-only ... but it can be changed
 * using the ModifyResourceSettings method": through the methods only a
 * documented constant ("always set to", the schema's fixed) and the key
 * (Hyper-V gives InstanceIDs) cannot be set. A feature setting persists
 * only its WmiDataId properties. */
static bool qwm_settable(const qwmi_prop_schema *p, bool feature)
{
    if (p->key || p->fixed)
        return false;
    return feature ? p->wmidataid > 0 : true;
}

/* What a feature setting keeps (Hyper-V persists WmiDataId properties). */
static bool qwm_feature_keeps(const qwmi_prop_schema *p)
{
    return p->key || p->wmidataid > 0 || !strcasecmp(p->name, "ElementName") ||
           !strcasecmp(p->name, "InstanceID");
}

/* The MOF default as a value (null without one). */
static qj *qwm_default(const qwmi_prop_schema *p)
{
    /* A fixed value is text as the page writes it ("33", "Ethernet Switch
     * Port VLAN Settings"): a number or boolean for such a property. */
    if (p->fixed && !strncasecmp(p->type, "string", 6))
        return qj_str(p->fixed);
    const char *t = p->fixed ? p->fixed : p->default_json;
    qj *v = t ? qj_parse(t, strlen(t), NULL, NULL) : NULL;
    if (!v && p->fixed)
        v = qj_str(p->fixed);
    return v ? v : qj_null();
}

/* Characters of UTF-8 s (MaxLen counts characters). */
static size_t qwm_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* Is v allowed by the ValueMap entry e ("3", "2..5", "..", "32768..")? */
static bool qwm_map_entry(const char *e, int64_t v)
{
    const char *dots = strstr(e, "..");
    if (!dots) {
        char *end;
        long long n = strtoll(e, &end, 0);
        return *e && !*end && n == v;
    }
    long long lo = dots == e ? INT64_MIN : strtoll(e, NULL, 0);
    long long hi = dots[2] ? strtoll(dots + 2, NULL, 0) : INT64_MAX;
    return v >= lo && v <= hi;
}

/* Does the map have a numeric entry at all (some maps are strings)? */
static bool qwm_map_numeric(const qwmi_prop_schema *p)
{
    for (size_t i = 0; i < p->nvalues; i++) {
        char *end;
        const char *e = p->valuemap[i];
        if (strstr(e, ".."))
            return true;
        (void)strtoll(e, &end, 0);
        if (*e && !*end)
            return true;
    }
    return false;
}

static int qwm_check_scalar(const char *cls, const qwmi_prop_schema *p, const qj *v, char *err,
                            size_t errlen)
{
    if (qj_is(v, QJ_STRING) && p->maxlen >= 0 && qwm_chars(v->u.str.s, v->u.str.len) >
                                                    (size_t)p->maxlen) {
        qwm_err(err, errlen, "%s.%s: longer than its MaxLen (%ld)", cls, p->name, p->maxlen);
        return -1;
    }
    /* The MOF default is what Hyper-V itself stores (PvlanMode 0 outside
     * private mode): an instance sent back as read carries it. */
    qj *def = qj_is(v, QJ_INT) && p->default_json
                  ? qj_parse(p->default_json, strlen(p->default_json), NULL, NULL) : NULL;
    bool is_default = def && qj_equal(def, v);
    qj_free(def);
    if (qj_is(v, QJ_INT) && p->nvalues && qwm_map_numeric(p) && !is_default) {
        for (size_t i = 0; i < p->nvalues; i++)
            if (qwm_map_entry(p->valuemap[i], v->u.i))
                return 0;
        qwm_err(err, errlen, "%s.%s: %lld is not in its ValueMap", cls, p->name,
                (long long)v->u.i);
        return -1;
    }
    return 0;
}

int qwm_schema_check(const qj *inst, char *err, size_t errlen)
{
    const char *cls = qwm_cls(inst);
    const qwmi_class_schema *c = cls ? qwmi_schema_class(cls) : NULL;
    if (!c)
        return 0;   /* undocumented: nothing to hold it to */
    for (size_t k = 0; k < inst->u.obj.n; k++) {
        const char *name = inst->u.obj.m[k].key;
        const qj *v = inst->u.obj.m[k].val;
        if (!strncmp(name, "__", 2))
            continue;
        const qwmi_prop_schema *p = qwmi_schema_prop(c, name);
        if (!p) {
            if (qwm_base_prop(name))
                continue;
            qwm_err(err, errlen, "%s has no property %s (no such property)", c->name, name);
            return -1;
        }
        if (qj_is(v, QJ_ARRAY)) {
            for (size_t i = 0; i < qj_len(v); i++)
                if (qwm_check_scalar(c->name, p, qj_at(v, i), err, errlen) < 0)
                    return -1;
        } else if (qwm_check_scalar(c->name, p, v, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static bool qwm_in(const char *const *list, const char *name)
{
    for (size_t i = 0; list && list[i]; i++)
        if (!strcasecmp(list[i], name))
            return true;
    return false;
}

/* Sent members the schema does not document (the inherited base ones): a
 * feature drops them (but ElementName, which the schema fixes if it
 * documents it); other settings keep them as sent. */
static void qwm_copy_undocumented(const qwmi_class_schema *c, const qj *req, qj *out,
                                  bool feature)
{
    for (size_t k = 0; k < req->u.obj.n; k++) {
        const char *name = req->u.obj.m[k].key;
        if (!strncmp(name, "__", 2) || qwmi_schema_prop(c, name) || feature ||
            !strcasecmp(name, "InstanceID"))
            continue;
        qj_set(out, name, qj_clone(req->u.obj.m[k].val));
    }
}

qj *qwm_schema_new(const qj *req, const char *const *keep, bool feature)
{
    const qwmi_class_schema *c = qwmi_schema_class(qwm_cls(req));
    qj *out = qj_object();
    qj_set(out, "__CLASS", qj_str(c ? c->name : qwm_cls(req)));
    if (!c) {
        for (size_t k = 0; k < req->u.obj.n; k++)
            if (strncmp(req->u.obj.m[k].key, "__", 2))
                qj_set(out, req->u.obj.m[k].key, qj_clone(req->u.obj.m[k].val));
        return out;
    }
    for (size_t i = 0; i < c->nprops; i++) {
        const qwmi_prop_schema *p = &c->props[i];
        const qj *sent = qj_get(req, p->name);
        if (p->key || (feature && !qwm_feature_keeps(p)))
            continue;   /* the key is the model's to give */
        if (sent && (qwm_settable(p, feature) || qwm_in(keep, p->name)))
            qj_set(out, p->name, qj_clone(sent));
        else
            qj_set(out, p->name, qwm_default(p));
    }
    qwm_copy_undocumented(c, req, out, feature);
    return out;
}

qj *qwm_schema_modify(const qj *cur, const qj *req, bool feature)
{
    const qwmi_class_schema *c = qwmi_schema_class(qwm_cls(cur));
    qj *out = qj_clone(cur);
    if (!c) {
        for (size_t k = 0; k < req->u.obj.n; k++)
            if (strncmp(req->u.obj.m[k].key, "__", 2) && strcmp(req->u.obj.m[k].key, "InstanceID"))
                qj_set(out, req->u.obj.m[k].key, qj_clone(req->u.obj.m[k].val));
        return out;
    }
    for (size_t i = 0; i < c->nprops; i++) {
        const qwmi_prop_schema *p = &c->props[i];
        if (!qwm_settable(p, feature))
            continue;   /* unchanged */
        const qj *sent = qj_get(req, p->name);
        qj_set(out, p->name, sent ? qj_clone(sent) : qwm_default(p));
    }
    qwm_copy_undocumented(c, req, out, feature);
    return out;
}

qj *qwm_schema_defaults(const char *cls)
{
    const qwmi_class_schema *c = qwmi_schema_class(cls);
    qj *out = qj_object();
    qj_set(out, "__CLASS", qj_str(c ? c->name : cls));
    for (size_t i = 0; c && i < c->nprops; i++)
        if (!c->props[i].key)
            qj_set(out, c->props[i].name, qwm_default(&c->props[i]));
    return out;
}

int qwm_schema_value_map(const char *cls, const char *prop, qj **map)
{
    const qwmi_class_schema *c = qwmi_schema_class(cls);
    const qwmi_prop_schema *p = c ? qwmi_schema_prop(c, prop) : NULL;
    *map = NULL;
    if (!p || !p->nvalues)
        return -ENOENT;
    qj *m = qj_object();
    for (size_t i = 0; i < p->nvalues; i++)
        if (!qj_get(m, p->values[i]))
            qj_set_new(m, p->values[i], qj_str(p->valuemap[i]));
    *map = m;
    return 0;
}

int64_t qwm_schema_enum(const char *cls, const char *prop, const char *name, int64_t def)
{
    const qwmi_class_schema *c = qwmi_schema_class(cls);
    const qwmi_prop_schema *p = c ? qwmi_schema_prop(c, prop) : NULL;
    int64_t v;
    return p && qwmi_schema_value(p, name, &v) ? v : def;
}

/* Classes the model serves whether or not the schema has a page for them. */
static bool qwm_served(const char *cls)
{
    static const char *const served[] = {
        C_XACL, C_ACL, C_VLAN, C_SEC, C_ALLOC, C_NIC, C_SWITCH, C_JOB, C_LR, C_CR, C_PA, C_PR,
        C_LEGACY, C_VSSD, C_CS, C_VSMS, C_OS, C_NA, C_NAB,
        "Msvm_VirtualEthernetSwitchManagementService", "Msvm_PlannedComputerSystem",
        "Msvm_VirtualEthernetSwitchSettingData", "Msvm_ResourcePool",
    };
    for (size_t i = 0; i < sizeof served / sizeof served[0]; i++)
        if (!strcasecmp(cls, served[i]))
            return true;
    return false;
}

bool qwm_class_known(const qwmi *w, const char *cls)
{
    if (!cls || !qwm_class_exists(w, cls))
        return false;
    if (qwmi_schema_class(cls) || qwm_served(cls))
        return true;
    /* A class another file of the model makes (wmi_model_systems.c). */
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++)
        if (qvs_map_at(w->inst, x, &k, &i) && qwm_is(i, cls))
            return true;
    return false;
}
