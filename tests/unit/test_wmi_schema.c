/* The documented WMI class schema compiled into the agent (wmi_schema.h,
 * src/vswitch/hyperv/hyperv-schema.json, scripts/hv-schema.py). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "vswitch/hyperv/wmi_schema.h"

#define VLAN "Msvm_EthernetSwitchPortVlanSettingData"
#define XACL "Msvm_EthernetSwitchPortExtendedAclSettingData"
#define LOOKUP "MSFT_NetVirtualizationLookupRecordSettingData"

static const qwmi_prop_schema *prop(const char *cls, const char *name)
{
    const qwmi_class_schema *c = qwmi_schema_class(cls);
    assert_non_null(c);
    const qwmi_prop_schema *p = qwmi_schema_prop(c, name);
    assert_non_null(p);
    return p;
}

static void test_source(void **state)
{
    const char *commit = qwmi_schema_source_commit();
    assert_non_null(commit);
    assert_int_equal(strlen(commit), 40);
    size_t n = 0;
    const qwmi_class_schema *all = qwmi_schema_classes(&n);
    assert_non_null(all);
    assert_true(n >= 6);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(all[i].name);
        assert_non_null(all[i].ns);
        assert_ptr_equal(qwmi_schema_class(all[i].name), &all[i]);
        for (size_t j = 0; j < all[i].nprops; j++) {
            const qwmi_prop_schema *p = &all[i].props[j];
            assert_non_null(p->type);
            assert_ptr_equal(qwmi_schema_prop(&all[i], p->name), p);
            /* arrays, and only arrays, end in [] */
            size_t tl = strlen(p->type);
            assert_int_equal(p->array, tl > 2 && strcmp(p->type + tl - 2, "[]") == 0);
        }
    }
}

static void test_namespaces(void **state)
{
    assert_string_equal(qwmi_schema_class(VLAN)->ns, "root\\virtualization\\v2");
    assert_string_equal(qwmi_schema_class(LOOKUP)->ns, "root\\StandardCimv2");
    assert_string_equal(qwmi_schema_class("MSFT_NetAdapter")->ns, "root\\StandardCimv2");
    assert_string_equal(qwmi_schema_class("MSFT_NetAdapterBindingSettingData")->ns,
                        "root\\StandardCimv2");
    assert_string_equal(qwmi_schema_class("Win32_OperatingSystem")->ns, "root\\cimv2");
    /* every class the backend touches is there */
    static const char *const all[] = {
        "Msvm_VirtualEthernetSwitch", "Msvm_VirtualEthernetSwitchSettingData",
        "Msvm_VirtualEthernetSwitchManagementService", "Msvm_VirtualSystemManagementService",
        "Msvm_VirtualSystemSettingData", "Msvm_ComputerSystem",
        "Msvm_SyntheticEthernetPortSettingData", "Msvm_EmulatedEthernetPortSettingData",
        "Msvm_EthernetPortAllocationSettingData", VLAN,
        "Msvm_EthernetSwitchPortSecuritySettingData", "Msvm_EthernetSwitchPortAclSettingData",
        XACL, "Msvm_ConcreteJob", "Msvm_ResourcePool", "Msvm_InternalEthernetPort", LOOKUP,
        "MSFT_NetVirtualizationCustomerRouteSettingData",
        "MSFT_NetVirtualizationProviderAddressSettingData",
        "MSFT_NetVirtualizationProviderRouteSettingData",
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const qwmi_class_schema *c = qwmi_schema_class(all[i]);
        assert_non_null(c);
        assert_true(c->nprops > 0);
    }
}

static void test_netadapter(void **state)
{
    const qwmi_prop_schema *ii = prop("MSFT_NetAdapter", "InterfaceIndex");
    assert_string_equal(ii->type, "uint32");
    assert_string_equal(prop("MSFT_NetAdapter", "PermanentAddress")->type, "string");
    /* not properties of the class (PowerShell aliases) */
    const qwmi_class_schema *na = qwmi_schema_class("MSFT_NetAdapter");
    assert_null(qwmi_schema_prop(na, "InterfaceAlias"));
    assert_null(qwmi_schema_prop(na, "MacAddress"));
    const qwmi_prop_schema *en = prop("MSFT_NetAdapterBindingSettingData", "Enabled");
    assert_string_equal(en->type, "boolean");
    assert_true(en->writable);
    assert_true(prop("MSFT_NetAdapterBindingSettingData", "InstanceID")->key);
    assert_string_equal(prop("Win32_OperatingSystem", "BuildNumber")->type, "string");
    assert_true(prop("Win32_OperatingSystem", "CSName")->key);    /* CIM_Key */
}

static void test_case_insensitive(void **state)
{
    const qwmi_class_schema *a = qwmi_schema_class(VLAN);
    assert_ptr_equal(qwmi_schema_class("msvm_ethernetswitchportvlansettingdata"), a);
    assert_ptr_equal(qwmi_schema_class("MSVM_ETHERNETSWITCHPORTVLANSETTINGDATA"), a);
    assert_ptr_equal(qwmi_schema_prop(a, "accessvlanid"), qwmi_schema_prop(a, "AccessVlanId"));
    assert_null(qwmi_schema_class("Msvm_NoSuchClass"));
    assert_null(qwmi_schema_class(NULL));
    assert_null(qwmi_schema_prop(a, "NoSuchProperty"));
    assert_null(qwmi_schema_prop(NULL, "AccessVlanId"));
}

static void test_vlan(void **state)
{
    const qwmi_prop_schema *en = prop(VLAN, "ElementName");
    assert_non_null(en->fixed);
    assert_string_equal(en->fixed, "Ethernet Switch Port VLAN Settings");
    assert_false(en->writable);
    assert_int_equal(en->wmidataid, 0);

    const qwmi_prop_schema *id = prop(VLAN, "InstanceID");
    assert_true(id->key);
    assert_false(id->writable);

    const qwmi_prop_schema *a = prop(VLAN, "AccessVlanId");
    assert_string_equal(a->type, "uint16");
    assert_false(a->array);
    assert_true(a->writable);
    assert_int_equal(a->wmidataid, 2);
    assert_int_equal(a->maxlen, -1);
    assert_string_equal(a->default_json, "0");

    const qwmi_prop_schema *t = prop(VLAN, "TrunkVlanIdArray");
    assert_true(t->array);
    assert_string_equal(t->type, "uint16[]");
    assert_string_equal(t->default_json, "[]");

    const qwmi_prop_schema *m = prop(VLAN, "OperationMode");
    int64_t v = -1;
    assert_true(qwmi_schema_value(m, "Access", &v));
    assert_int_equal(v, 1);
    assert_true(qwmi_schema_value(m, "trunk", &v));
    assert_int_equal(v, 2);
    assert_string_equal(qwmi_schema_value_name(m, 3), "Private");
    assert_null(qwmi_schema_value_name(m, 9));
    assert_false(qwmi_schema_value(m, "Nothing", &v));
}

static void test_extended_acl(void **state)
{
    const qwmi_prop_schema *n = prop(XACL, "Name");
    assert_true(n->writable);
    assert_int_equal(n->maxlen, 64);
    assert_int_equal(n->wmidataid, 1);
    assert_string_equal(n->default_json, "\"\"");
    assert_int_equal(prop(XACL, "Protocol")->maxlen, 15);
    assert_string_equal(prop(XACL, "Protocol")->default_json, "\"ANY\"");
    assert_int_equal(prop(XACL, "LocalIPAddress")->maxlen, 40);
    assert_int_equal(prop(XACL, "RemotePort")->maxlen, 21);
    assert_string_equal(prop(XACL, "Stateful")->type, "boolean");
    assert_string_equal(prop(XACL, "Stateful")->default_json, "false");
    assert_string_equal(prop(XACL, "Weight")->type, "uint16");
    int64_t v;
    assert_true(qwmi_schema_value(prop(XACL, "Action"), "Deny", &v));
    assert_int_equal(v, 2);
    assert_true(qwmi_schema_value(prop(XACL, "Direction"), "Outgoing", &v));
    assert_int_equal(v, 2);
}

static void test_feature_settings(void **state)
{
    /* ElementName of VLAN, security and port ACL: read-only, fixed */
    static const struct { const char *cls, *name; } fixed[] = {
        { VLAN, "Ethernet Switch Port VLAN Settings" },
        { "Msvm_EthernetSwitchPortSecuritySettingData", "Ethernet Switch Port Security Settings" },
        { "Msvm_EthernetSwitchPortAclSettingData", "Ethernet Switch Port ACL Settings" },
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        const qwmi_prop_schema *en = prop(fixed[i].cls, "ElementName");
        assert_false(en->writable);
        assert_non_null(en->fixed);
        assert_string_equal(en->fixed, fixed[i].name);
        assert_true(prop(fixed[i].cls, "InstanceID")->key);
    }
    const qwmi_prop_schema *n = prop("Msvm_EthernetSwitchPortAclSettingData", "Name");
    assert_true(n->writable);
    assert_int_equal(n->maxlen, 64);
    assert_int_equal(n->wmidataid, 1);
    const qwmi_prop_schema *sp = prop("Msvm_EthernetSwitchPortSecuritySettingData",
                                      "AllowMacSpoofing");
    assert_string_equal(sp->type, "boolean");
    assert_int_equal(sp->wmidataid, 1);
    assert_string_equal(sp->default_json, "false");
    /* a default the page's MOF garbles is absent, not invented */
    assert_null(prop("Msvm_EthernetSwitchPortSecuritySettingData", "TeamName")->default_json);
    assert_int_equal(prop("Msvm_EthernetSwitchPortSecuritySettingData", "TeamName")->maxlen, 127);
}

static void test_allocation(void **state)
{
    const char *epasd = "Msvm_EthernetPortAllocationSettingData";
    const qwmi_prop_schema *rt = prop(epasd, "ResourceType");
    assert_string_equal(rt->type, "uint16");
    assert_string_equal(rt->default_json, "33");
    assert_string_equal(rt->fixed, "33");
    const qwmi_prop_schema *hr = prop(epasd, "HostResource");
    assert_true(hr->array);
    assert_string_equal(hr->type, "string[]");
    int64_t v;
    assert_true(qwmi_schema_value(prop(epasd, "EnabledState"), "Disabled", &v));
    assert_int_equal(v, 3);
    /* the key's documented form is no default */
    assert_null(prop(epasd, "InstanceID")->default_json);
    assert_true(prop(epasd, "InstanceID")->key);
    assert_string_equal(prop("Msvm_SyntheticEthernetPortSettingData", "ResourceSubType")->default_json,
                        "\"Microsoft:Hyper-V:Synthetic Ethernet Port\"");
}

static void test_switch(void **state)
{
    const char *vs = "Msvm_VirtualEthernetSwitch";
    assert_string_equal(prop(vs, "CreationClassName")->fixed, vs);
    /* "always set to "*GUID*"" is a form: neither fixed nor a default */
    assert_null(prop(vs, "Name")->fixed);
    assert_null(prop(vs, "Name")->default_json);
    const qwmi_prop_schema *hs = prop(vs, "HealthState");
    int64_t v;
    assert_true(qwmi_schema_value(hs, "Critical failure", &v));   /* a value table */
    assert_int_equal(v, 25);
    /* ranges are kept as written and never resolve to a number */
    const qwmi_prop_schema *cs = prop(vs, "CommunicationStatus");
    assert_false(qwmi_schema_value(cs, "Vendor Reserved", &v));
    assert_string_equal(qwmi_schema_value_name(cs, 2), "Communication OK");
}

static void test_job(void **state)
{
    const char *job = "Msvm_ConcreteJob";
    int64_t v;
    assert_true(qwmi_schema_value(prop(job, "JobState"), "Completed", &v));
    assert_int_equal(v, 7);
    assert_true(qwmi_schema_value(prop(job, "JobState"), "Exception", &v));
    assert_int_equal(v, 10);
    assert_string_equal(prop(job, "ErrorCode")->type, "uint16");
    assert_string_equal(prop(job, "TimeBeforeRemoval")->type, "datetime");
    assert_string_equal(prop(job, "TimeBeforeRemoval")->default_json,
                        "\"00000000000500.000000:000\"");
    assert_true(prop(job, "InstanceID")->key);
    assert_int_equal(prop(job, "Name")->maxlen, 256);
}

static void test_vssd(void **state)
{
    const char *vssd = "Msvm_VirtualSystemSettingData";
    assert_true(prop(vssd, "InstanceID")->key);
    assert_false(prop(vssd, "VirtualSystemType")->writable);
    int64_t v;
    /* a value table giving the number alone, the name in the next column */
    assert_true(qwmi_schema_value(prop(vssd, "AutomaticStartupAction"), "Always start", &v));
    assert_int_equal(v, 4);
}

static void test_lookup_record(void **state)
{
    const qwmi_prop_schema *r = prop(LOOKUP, "Rule");
    assert_string_equal(r->type, "uint8");
    assert_true(r->writable);
    int64_t encap = -1, nat = -1;
    assert_true(qwmi_schema_value(r, "TranslationMethodEncap", &encap));
    assert_true(qwmi_schema_value(r, "TranslationMethodNat", &nat));
    assert_true(encap != nat);
    assert_true(encap >= 0 && encap <= 255);
    assert_string_equal(qwmi_schema_value_name(r, encap), "TranslationMethodEncap");
    /* not the page's string-resource IDs (35, 36): microsoft/wmi's ValueMap */
    assert_int_equal(nat, 1);
    assert_int_equal(encap, 2);
    const qwmi_prop_schema *t = prop(LOOKUP, "Type");
    int64_t st = -1, l2 = -1;
    assert_true(qwmi_schema_value(t, "Static", &st));
    assert_true(qwmi_schema_value(t, "L2Only", &l2));
    assert_true(st != l2);
    assert_true(l2 >= 0 && l2 <= 255);
    assert_int_equal(st, 1);
    assert_int_equal(l2, 4);
    /* the provider address's lists are resource IDs only: no value map */
    const qwmi_prop_schema *as = prop("MSFT_NetVirtualizationProviderAddressSettingData",
                                      "AddressState");
    assert_int_equal(as->nvalues, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_vlan),
        cmocka_unit_test(test_extended_acl),
        cmocka_unit_test(test_feature_settings),
        cmocka_unit_test(test_allocation),
        cmocka_unit_test(test_switch),
        cmocka_unit_test(test_job),
        cmocka_unit_test(test_vssd),
        cmocka_unit_test(test_netadapter),
        cmocka_unit_test(test_lookup_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
