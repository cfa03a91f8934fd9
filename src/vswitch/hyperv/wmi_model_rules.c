/* wmi_model_rules: the documented Hyper-V rules the WMI model enforces that
 * the schema (wmi_model_schema.c) cannot express (hyperv-semantics.md §7;
 * wmi_model.h lists them). Enumeration numbers come from the schema's
 * ValueMap, never from a table here (M10). */
#include "vswitch/hyperv/wmi_model_int.h"
#include "lib/addr.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>


static bool qwm_vsid_ok(int64_t v) { return v >= 4096 && v <= 16777214; }

static bool qwm_mac12(const char *s)
{
    if (!s || strlen(s) != 12)
        return false;
    for (int i = 0; i < 12; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool qwm_is_wild(const char *a) { return a && (!strcmp(a, "0.0.0.0") || !strcmp(a, "::")); }

/* A feature setting to add to (or modify on) the port with allocation
 * alloc_iid; self: the path it replaces (modify) or NULL. */
/* taken: "<Weight>/<Direction>" of the port's extended ACLs (and of the
 * batch's, added as they pass). */
int qwm_check_feature(const qwmi *w, const qj *f, const char *const *existing,
                             size_t nexisting, const char *self, const qj *batch, qvs_map *taken,
                             char *err, size_t errlen)
{
    const char *cls = qwm_cls(f);
    if (!cls || !qwm_class_exists(w, cls)) {
        qwm_err(err, errlen, "invalid class %s (WBEM_E_INVALID_CLASS 0x80041010)", cls);
        return -1;
    }
    if (!strcasecmp(cls, C_VLAN)) {
        int64_t mode = qj_get_int(f, "OperationMode", 0);
        if (mode == 1) {
            int64_t id = qj_get_int(f, "AccessVlanId", 0);
            if (id < 1 || id > 4094) {
                qwm_err(err, errlen, "AccessVlanId must be 1-4094%s", "");
                return -1;
            }
        } else if (mode == 2) {
            /* f is as stored: an absent NativeVlanId is its default, 0. */
            int64_t native = qj_get_int(f, "NativeVlanId", 0);
            if (native < 1 || native > 4094 || !qj_len(qj_get(f, "TrunkVlanIdArray"))) {
                qwm_err(err, errlen, "trunk mode: missing parameter NativeVlanId (1-4094) or "
                                     "TrunkVlanIdArray%s", "");
                return -1;
            }
        } else if (mode == 3) {
            if (qj_get_int(f, "PvlanMode", 0) < 1 || qj_get_int(f, "PvlanMode", 0) > 3) {
                qwm_err(err, errlen, "private mode needs PvlanMode 1-3%s", "");
                return -1;
            }
        } else {
            qwm_err(err, errlen, "OperationMode must be 1 (access), 2 (trunk) or 3 (private)%s",
                    "");
            return -1;
        }
    } else if (!strcasecmp(cls, C_SEC)) {
        int64_t v = qj_get_int(f, "VirtualSubnetId", 0);
        if (v != 0 && (v < 4096 || v > 16777215)) {
            qwm_err(err, errlen, "VirtualSubnetId must be 0 or 4096-16777215%s", "");
            return -1;
        }
    } else if (!strcasecmp(cls, C_XACL)) {
        int64_t d = qj_get_int(f, "Direction", 0), a = qj_get_int(f, "Action", 0);
        const qj *wt = qj_get(f, "Weight");
        const char *proto = qj_get_str(f, "Protocol");
        if (d != 1 && d != 2) {
            qwm_err(err, errlen, "Direction must be 1 (incoming) or 2 (outgoing)%s", "");
            return -1;
        }
        if (a != 1 && a != 2) {
            qwm_err(err, errlen, "Action must be 1 (allow) or 2 (deny)%s", "");
            return -1;
        }
        if (!qj_is(wt, QJ_INT) || wt->u.i < 0 || wt->u.i > 65535) {
            qwm_err(err, errlen, "Weight must be a uint16 (0-65535)%s", "");
            return -1;
        }
        if (qj_get_bool(f, "Stateful", false) && a != 1) {
            qwm_err(err, errlen, "a stateful rule can only allow%s", "");
            return -1;
        }
        if (qj_get_bool(f, "Stateful", false) && (!proto || !strcasecmp(proto, "ANY"))) {
            qwm_err(err, errlen, "a stateful rule needs a protocol (not ANY)%s", "");
            return -1;
        }
        /* (Weight, Direction) unique on the port, also within the batch. */
        char key[48];
        snprintf(key, sizeof key, "%lld/%lld", (long long)wt->u.i, (long long)d);
        if (qvs_map_get(taken, key)) {
            qwm_err(err, errlen, "an entry with this Weight and Direction exists on the port "
                                 "(or twice in the call)");
            return -1;
        }
        qvs_map_put(taken, key, qj_null());
        return 0;
    } else if (!strcasecmp(cls, C_ACL)) {
        int64_t type = qj_get_int(f, "AclType", 0), a = qj_get_int(f, "Action", 0);
        int64_t d = qj_get_int(f, "Direction", 0), app = qj_get_int(f, "Applicability", 0);
        if (d != 1 && d != 2) {
            qwm_err(err, errlen, "Direction must be 1 or 2%s", "");
            return -1;
        }
        if (type < 1 || type > 3 || a < 1 || a > 3 || app < 1 || app > 2) {
            qwm_err(err, errlen, "AclType 1-3, Action 1-3 and Applicability 1-2 required%s", "");
            return -1;
        }
        if (a == 3 && type == 1) {
            qwm_err(err, errlen, "Meter must be IP-based%s", "");
            return -1;
        }
        return 0;
    } else {
        qwm_err(err, errlen, "%s is not a switch-port feature the model knows", cls);
        return -1;
    }
    /* VLAN and security: one per port. */
    for (size_t i = 0; !self && i < nexisting; i++)
        if (qwm_is(qvs_map_get(w->inst, existing[i]), cls)) {
            qwm_err(err, errlen, "the port already has a %s", cls);
            return -1;
        }
    for (size_t i = 0; i < qj_len(batch); i++)
        if (qj_at(batch, i) != f && qwm_is(qj_at(batch, i), cls)) {
            qwm_err(err, errlen, "two %s in one call", cls);
            return -1;
        }
    return 0;
}

/* "<Weight>/<Direction>" of the extended ACLs among paths, but self. */
qvs_map *qwm_taken(const qwmi *w, const char *const *paths, size_t n, const char *self)
{
    qvs_map *m = qvs_map_new();
    for (size_t i = 0; i < n; i++) {
        const qj *o = qvs_map_get(w->inst, paths[i]);
        if (!qwm_is(o, C_XACL) || (self && !strcmp(self, paths[i])))
            continue;
        char key[48];
        snprintf(key, sizeof key, "%lld/%lld", (long long)qj_get_int(o, "Weight", -1),
                 (long long)qj_get_int(o, "Direction", 0));
        qvs_map_put(m, key, qj_null());
    }
    return m;
}

/* The key of a NetWNV instance, and whether its RO properties may change. */
static const char *const qwm_keys_lr[] = {"VirtualSubnetID", "CustomerAddress", "MACAddress", NULL};
static const char *const qwm_ro_lr[] = {"Type", NULL};
static const char *const qwm_keys_cr[] = {"RoutingDomainID", "VirtualSubnetID", "DestinationPrefix",
                                          NULL};
static const char *const qwm_ro_cr[] = {"NextHop", NULL};
static const char *const qwm_keys_pa[] = {"ProviderAddress", NULL};
static const char *const qwm_ro_pa[] = {"InterfaceIndex", NULL};
static const char *const qwm_keys_pr[] = {"InterfaceIndex", "DestinationPrefix", NULL};
static const char *const qwm_ro_pr[] = {"NextHop", NULL};

void qwm_wnv_schema(const char *cls, const char *const **keys, const char *const **ro)
{
    *keys = *ro = NULL;
    if (!strcasecmp(cls, C_LR))
        *keys = qwm_keys_lr, *ro = qwm_ro_lr;
    else if (!strcasecmp(cls, C_CR))
        *keys = qwm_keys_cr, *ro = qwm_ro_cr;
    else if (!strcasecmp(cls, C_PA))
        *keys = qwm_keys_pa, *ro = qwm_ro_pa;
    else if (!strcasecmp(cls, C_PR))
        *keys = qwm_keys_pr, *ro = qwm_ro_pr;
}

/* A provider address lives on an interface that exists; on 2012 (6.2) the
 * WNV filter must be bound to it (Enable-NetAdapterBinding ms_netwnv). */
static int qwm_check_pa_interface(const qwmi *w, const qj *i, char *err, size_t errlen)
{
    int64_t ifindex = qj_get_int(i, "InterfaceIndex", -1);
    const qj *na = qwm_netadapter(w, ifindex);
    if (!na) {
        qwm_err(err, errlen, "no network adapter with InterfaceIndex %lld", (long long)ifindex);
        return -1;
    }
    if (w->major == 6 && w->minor == 2 && !qwm_wnv_bound(w, na)) {
        qwm_err(err, errlen, "the ms_netwnv binding of %s is not enabled "
                             "(Enable-NetAdapterBinding -ComponentID ms_netwnv)",
                qj_get_str(na, "Name"));
        return -1;
    }
    return 0;
}

/* Does customer route r go via the first address of an on-link IPv4
 * prefix (NextHop 0.0.0.0) of its virtual subnet? Refused, as
 * networking-hyperv's NVGRE spec says Hyper-V does (inferred fact,
 * docs/hyperv.md). */
static bool qwm_via_first_address(const qwmi *w, const qj *r)
{
    qaddr hop;
    if (qaddr_parse_family(qj_get_str(r, "NextHop"), 4, &hop) < 0 || hop.v == 0)
        return false;
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++) {
        qcidr c;
        qaddr first;
        if (!qvs_map_at(w->inst, x, &k, &i) || !qwm_is(i, C_CR) ||
            qj_get_int(i, "VirtualSubnetID", -1) != qj_get_int(r, "VirtualSubnetID", -2) ||
            !qj_get_str(i, "NextHop") || strcmp(qj_get_str(i, "NextHop"), "0.0.0.0") ||
            qcidr_parse(qj_get_str(i, "DestinationPrefix"), &c) < 0 || c.addr.family != 4 ||
            c.prefixlen > 30)
            continue;
        qaddr net = qcidr_network(&c);
        if (qaddr_add(&net, 1, &first) && qaddr_eq(&first, &hop))
            return true;
    }
    return false;
}

int qwm_check_wnv(const qwmi *w, const qj *i, char *err, size_t errlen)
{
    const char *cls = qwm_cls(i);
    if (!strcasecmp(cls, C_LR)) {
        int64_t rule = qj_get_int(i, "Rule", -1);
        if (!qwm_vsid_ok(qj_get_int(i, "VirtualSubnetID", 0))) {
            qwm_err(err, errlen, "VirtualSubnetID must be 4096-16777214%s", "");
            return -1;
        }
        if (!qj_get_str(i, "CustomerAddress") || !qj_get_str(i, "ProviderAddress") ||
            !qwm_mac12(qj_get_str(i, "MACAddress"))) {
            qwm_err(err, errlen, "CustomerAddress, ProviderAddress and MACAddress (12 hex "
                                 "digits) are required%s", "");
            return -1;
        }
        /* Its values are the schema's ValueMap (qwm_schema_check). */
        if (rule < 0) {
            qwm_err(err, errlen, "Rule is required%s", "");
            return -1;
        }
        if (qj_get_bool(i, "UseVmMACAddress", false) &&
            rule != qwm_schema_enum(C_LR, "Rule", "TranslationMethodNat", -1)) {
            qwm_err(err, errlen, "UseVmMACAddress is valid only with TranslationMethodNat%s", "");
            return -1;
        }
        const qj *type = qj_get(i, "Type");
        if (type && !qj_is(type, QJ_NULL)) {
            if (w->major == 6 && w->minor == 2) {
                qwm_err(err, errlen, "Type does not exist on Windows Server 2012%s", "");
                return -1;
            }
            if (qj_get_int(i, "Type", -1) == qwm_schema_enum(C_LR, "Type", "L2Only", -1) &&
                !qwm_is_wild(qj_get_str(i, "CustomerAddress"))) {
                qwm_err(err, errlen, "an L2Only record has CustomerAddress 0.0.0.0 or ::%s", "");
                return -1;
            }
        }
    } else if (!strcasecmp(cls, C_CR)) {
        const char *rd = qj_get_str(i, "RoutingDomainID");
        if (!qwm_vsid_ok(qj_get_int(i, "VirtualSubnetID", 0))) {
            qwm_err(err, errlen, "VirtualSubnetID must be 4096-16777214%s", "");
            return -1;
        }
        if (!rd || strlen(rd) != 38 || rd[0] != '{' || rd[37] != '}' ||
            !qj_get_str(i, "DestinationPrefix") || !qj_get_str(i, "NextHop")) {
            qwm_err(err, errlen, "RoutingDomainID ({GUID}), DestinationPrefix and NextHop are "
                                 "required%s", "");
            return -1;
        }
        if (qwm_via_first_address(w, i)) {
            qwm_err(err, errlen, "NextHop %s is the first address of the virtual subnet, which "
                                 "HNV's distributed router answers (networking-hyperv: \"cannot "
                                 "have a gateway ending in .1\")", qj_get_str(i, "NextHop"));
            return -1;
        }
    } else if (!strcasecmp(cls, C_PA)) {
        if (!qj_get_str(i, "ProviderAddress") || !qj_get(i, "InterfaceIndex") ||
            !qj_get(i, "PrefixLength")) {
            qwm_err(err, errlen, "ProviderAddress, InterfaceIndex and PrefixLength are "
                                 "required%s", "");
            return -1;
        }
        return qwm_check_pa_interface(w, i, err, errlen);
    } else if (!strcasecmp(cls, C_PR)) {
        if (!qj_get(i, "InterfaceIndex") || !qj_get_str(i, "DestinationPrefix") ||
            !qj_get_str(i, "NextHop")) {
            qwm_err(err, errlen, "InterfaceIndex, DestinationPrefix and NextHop are required%s",
                    "");
            return -1;
        }
    } else {
        qwm_err(err, errlen, "put_instance of %s is not modelled", cls);
        return -1;
    }
    return 0;
}

