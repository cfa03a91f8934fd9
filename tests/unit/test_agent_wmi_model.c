/* The WMI model transport: as strict as Hyper-V is documented to be
 * (docs/hyperv-wmi-contract.md): one test per item M1-M12 of the review,
 * the four defects of the old backend failing, the correct requests
 * succeeding, and the documented rules, jobs and counters. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit_json.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vswitch/hyperv/wmi_model.h"
#include "vswitch/hyperv/wmi_path.h"
#include "lib/util.h"

#define PORT "11111111-2222-3333-4444-555555555555"
#define C_ALLOC "Msvm_EthernetPortAllocationSettingData"
#define C_NIC "Msvm_SyntheticEthernetPortSettingData"
#define C_VSSD "Msvm_VirtualSystemSettingData"
#define C_VLAN "Msvm_EthernetSwitchPortVlanSettingData"
#define C_SEC "Msvm_EthernetSwitchPortSecuritySettingData"
#define C_XACL "Msvm_EthernetSwitchPortExtendedAclSettingData"
#define C_LR "MSFT_NetVirtualizationLookupRecordSettingData"

static qwmi_transport open_model(const char *version)
{
    qwmi_transport t;
    char err[256];
    assert_int_equal(qwmi_model_open(NULL, version, &t, err, sizeof err), 0);
    return t;
}

static int put(qwmi_transport *t, const char *json)
{
    qj *i = J(json);
    char err[256] = "";
    int rc = t->cls->put_instance(t->w, QWMI_NS_STDCIMV2, i, NULL, err, sizeof err);
    qj_free(i);
    return rc;
}

/* Rows of a query in ns (the test fails if it does). */
static qj *query(qwmi_transport *t, const char *ns, const char *wql)
{
    qj *rows = NULL;
    char err[256];
    int rc = t->cls->query(t->w, ns, wql, &rows, err, sizeof err);
    if (rc < 0)
        fail_msg("%s: %s", wql, err);
    return rows;
}

/* The first row of a query: a copy (caller frees), NULL if none. */
static qj *query1(qwmi_transport *t, const char *wql)
{
    qj *rows = query(t, QWMI_NS_VIRT, wql);
    qj *r = qj_len(rows) ? qj_clone(qj_at(rows, 0)) : NULL;
    qj_free(rows);
    return r;
}

/* The management service's path, as the backend reads it. */
static char *vsms(qwmi_transport *t)
{
    qj *s = query1(t, "SELECT * FROM Msvm_VirtualSystemManagementService");
    assert_non_null(s);
    char *p = xstrdup(qj_get_str(s, "__PATH"));
    qj_free(s);
    return p;
}

/* Calls method on the management service: the out params. */
static qj *call(qwmi_transport *t, const char *method, qj *in)
{
    char *p = vsms(t), err[256];
    qj *out = NULL;
    assert_int_equal(t->cls->call(t->w, QWMI_NS_VIRT, p, method, in, &out, err, sizeof err), 0);
    free(p);
    qj_free(in);
    return out;
}

static int64_t rv_of(qj *out)
{
    int64_t rv = qj_get_int(out, "ReturnValue", -1);
    qj_free(out);
    return rv;
}

/* A path attribute of the first row of wql (caller frees). */
static char *path_of(qwmi_transport *t, const char *wql)
{
    qj *r = query1(t, wql);
    assert_non_null(r);
    char *p = xstrdup(qj_get_str(r, "__PATH"));
    qj_free(r);
    return p;
}

/* The connection request as the contract builds it: the Default
 * allocation with Parent, HostResource, EnabledState and ElementName set;
 * AffectedConfiguration the NIC's realized VSSD. */
static qj *connect_request(qwmi_transport *t, const char *nic_name, const char *vm)
{
    qj *def = query1(t, "SELECT * FROM " C_ALLOC " WHERE InstanceID LIKE '%\\\\Default' AND "
                        "ResourceSubType = 'Microsoft:Hyper-V:Ethernet Connection'");
    assert_non_null(def);
    char *w = xasprintf("SELECT * FROM " C_NIC " WHERE ElementName = '%s'", nic_name);
    char *nic = path_of(t, w);
    free(w);
    w = xasprintf("SELECT * FROM " C_VSSD " WHERE ElementName = '%s' AND VirtualSystemType = "
                  "'Microsoft:Hyper-V:System:Realized'", vm);
    char *vssd = path_of(t, w);
    free(w);
    char *sw = path_of(t, "SELECT * FROM Msvm_VirtualEthernetSwitch");
    qj_set(def, "Parent", qj_str_take(nic));
    qj *hr = qj_array();
    qj_append(hr, qj_str_take(sw));
    qj_set(def, "HostResource", hr);
    qj_set(def, "EnabledState", qj_int(2));
    qj_set(def, "ElementName", qj_str(nic_name));
    qj *list = qj_array();
    qj_append(list, def);
    qj *in = qj_object();
    qj_set(in, "AffectedConfiguration", qj_str_take(vssd));
    qj_set(in, "ResourceSettings", list);
    return in;
}

/* A connected port: returns its allocation path (caller frees). */
static char *connect_port(qwmi_transport *t)
{
    qwmi_model_add_switch(t->w, "sw");
    qwmi_model_add_nic(t->w, "vm1", PORT, "FA163E000001");
    qj *out = call(t, "AddResourceSettings", connect_request(t, PORT, "vm1"));
    assert_int_equal(qj_get_int(out, "ReturnValue", -1), 0);
    char *path = xstrdup(qj_as_str(qj_at(qj_get(out, "ResultingResourceSettings"), 0)));
    qj_free(out);
    return path;
}

/* AddFeatureSettings of one feature (JSON text); returns ReturnValue. */
static int64_t add_feature(qwmi_transport *t, const char *alloc, const char *feature)
{
    qj *in = qj_object();
    qj_set(in, "AffectedConfiguration", qj_str(alloc));
    qj *list = qj_array();
    qj_append(list, J(feature));
    qj_set(in, "FeatureSettings", list);
    qj *out = call(t, "AddFeatureSettings", in);
    if (qj_get_str(out, "__why") && getenv("QHV_TEST_VERBOSE"))
        fprintf(stderr, "AddFeatureSettings: %s\n", qj_get_str(out, "__why"));
    return rv_of(out);
}

/* One instance of cls (a copy), failing unless there is exactly one. */
static qj *only(qwmi_transport *t, const char *cls)
{
    qj *rows = qwmi_model_instances(t->w, cls);
    assert_int_equal(qj_len(rows), 1);
    qj *r = qj_clone(qj_at(rows, 0));
    qj_free(rows);
    return r;
}

/* The schema's number for a Values name of cls.prop. */
static int64_t enum_of(qwmi_transport *t, const char *cls, const char *prop, const char *name)
{
    qj *map = NULL;
    char err[256];
    assert_int_equal(t->cls->value_map(t->w, QWMI_NS_STDCIMV2, cls, prop, &map, err,
                                       sizeof err), 0);
    const char *v = qj_get_str(map, name);
    assert_non_null(v);
    int64_t n = strtoll(v, NULL, 10);
    qj_free(map);
    return n;
}

#define XACL(extra) "{\"__CLASS\": \"" C_XACL "\", " extra "}"
#define VLAN(x) "{\"__CLASS\": \"" C_VLAN "\", " x "}"
#define SEC(x) "{\"__CLASS\": \"" C_SEC "\", " x "}"

/* ---------- the documented rules ---------- */

static void test_lookup_record_rules(void **state)
{
    (void)state;
    qwmi_transport t = open_model("6.3.9600");
    int64_t encap = enum_of(&t, C_LR, "Rule", "TranslationMethodEncap");
    int64_t nat = enum_of(&t, C_LR, "Rule", "TranslationMethodNat");
    int64_t st = enum_of(&t, C_LR, "Type", "Static");
    int64_t l2 = enum_of(&t, C_LR, "Type", "L2Only");
    char buf[512];
#define LR(vsid, ca, extra) \
    (snprintf(buf, sizeof buf, "{\"__CLASS\": \"" C_LR "\", \"VirtualSubnetID\": %d, " \
              "\"CustomerAddress\": \"%s\", \"MACAddress\": \"FA163E000005\", " \
              "\"ProviderAddress\": \"192.168.1.1\"%s}", vsid, ca, extra), buf)
    char x[128];
    snprintf(x, sizeof x, ", \"Rule\": %lld", (long long)encap);
    assert_int_equal(put(&t, LR(4095, "10.0.0.5", x)), -EINVAL);
    assert_int_equal(put(&t, LR(16777215, "10.0.0.5", x)), -EINVAL);
    assert_int_equal(put(&t, LR(4096, "10.0.0.5", x)), 0);
    assert_int_equal(put(&t, LR(16777214, "10.0.0.5", x)), 0);
    /* UseVmMACAddress only with TranslationMethodNat. */
    snprintf(x, sizeof x, ", \"Rule\": %lld, \"UseVmMACAddress\": true", (long long)encap);
    assert_int_equal(put(&t, LR(5000, "10.0.0.5", x)), -EINVAL);
    snprintf(x, sizeof x, ", \"Rule\": %lld, \"UseVmMACAddress\": true", (long long)nat);
    assert_int_equal(put(&t, LR(5000, "10.0.0.5", x)), 0);
    /* L2Only needs CA 0.0.0.0 or ::. */
    snprintf(x, sizeof x, ", \"Rule\": %lld, \"Type\": %lld", (long long)encap, (long long)l2);
    assert_int_equal(put(&t, LR(5001, "10.0.0.5", x)), -EINVAL);
    assert_int_equal(put(&t, LR(5001, "0.0.0.0", x)), 0);
    /* Type is RO: a put with the same key cannot change it. */
    snprintf(x, sizeof x, ", \"Rule\": %lld, \"Type\": %lld", (long long)encap, (long long)st);
    assert_int_equal(put(&t, LR(5002, "10.0.0.5", x)), 0);
    snprintf(x, sizeof x, ", \"Rule\": %lld, \"Type\": %lld", (long long)encap,
             (long long)st + 1);
    assert_int_equal(put(&t, LR(5002, "10.0.0.5", x)), -EINVAL);
    /* RW ProviderAddress changes in place: still one record. */
    qj *before = qwmi_model_instances(t.w, C_LR);
    snprintf(buf, sizeof buf, "{\"__CLASS\": \"" C_LR "\", \"VirtualSubnetID\": 5002, "
                              "\"CustomerAddress\": \"10.0.0.5\", \"MACAddress\": "
                              "\"FA163E000005\", \"ProviderAddress\": \"192.168.1.9\", \"Rule\": "
                              "%lld}", (long long)encap);
    assert_int_equal(put(&t, buf), 0);
    qj *after = qwmi_model_instances(t.w, C_LR);
    assert_int_equal(qj_len(before), qj_len(after));
    qj_free(before);
    qj_free(after);
    t.cls->close(t.w);
    /* -Type does not exist on 2012. */
    t = open_model("6.2.9200");
    snprintf(x, sizeof x, ", \"Rule\": %lld, \"Type\": %lld", (long long)encap, (long long)st);
    assert_int_equal(put(&t, LR(5002, "10.0.0.5", x)), -EINVAL);
    snprintf(x, sizeof x, ", \"Rule\": %lld", (long long)encap);
    assert_int_equal(put(&t, LR(5002, "10.0.0.5", x)), 0);
    t.cls->close(t.w);
}

static void test_route_rules(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
#define CR(nh) \
    "{\"__CLASS\": \"MSFT_NetVirtualizationCustomerRouteSettingData\", \"RoutingDomainID\": " \
    "\"{11111111-2222-3333-4444-555555555555}\", \"VirtualSubnetID\": 5001, " \
    "\"DestinationPrefix\": \"10.0.0.0/24\", \"NextHop\": \"" nh "\", \"Metric\": 255}"
    assert_int_equal(put(&t, CR("0.0.0.0")), 0);
    /* Set-NetVirtualizationCustomerRoute changes Metric only: NextHop is RO. */
    assert_int_equal(put(&t, CR("10.0.0.1")), -EINVAL);
    /* M9: a route via the virtual subnet's first address (HNV's router). */
#define DEFAULT_VIA(nh) \
    "{\"__CLASS\": \"MSFT_NetVirtualizationCustomerRouteSettingData\", \"RoutingDomainID\": " \
    "\"{11111111-2222-3333-4444-555555555555}\", \"VirtualSubnetID\": 5001, " \
    "\"DestinationPrefix\": \"0.0.0.0/0\", \"NextHop\": \"" nh "\", \"Metric\": 255}"
    assert_int_equal(put(&t, DEFAULT_VIA("10.0.0.1")), -EINVAL);
    assert_int_equal(put(&t, DEFAULT_VIA("10.0.0.254")), 0);
    assert_int_equal(put(&t, "{\"__CLASS\": \"MSFT_NetVirtualizationCustomerRouteSettingData\", "
                             "\"RoutingDomainID\": \"not-a-guid\", \"VirtualSubnetID\": 5001, "
                             "\"DestinationPrefix\": \"10.0.1.0/24\", \"NextHop\": \"0.0.0.0\"}"),
                     -EINVAL);
    /* A reboot: NetWNV objects are gone. */
    qwmi_model_reboot(t.w);
    qj *rows = qwmi_model_instances(t.w, "MSFT_NetVirtualizationCustomerRouteSettingData");
    assert_int_equal(qj_len(rows), 0);
    qj_free(rows);
    t.cls->close(t.w);
    /* HNV v1 is absent from 2019 (build 17763) on. */
    t = open_model("10.0.17763");
    assert_int_equal(put(&t, CR("0.0.0.0")), -ENOENT);
    char err[256];
    assert_int_equal(t.cls->query(t.w, QWMI_NS_STDCIMV2, "SELECT * FROM " C_LR, &rows, err,
                                  sizeof err), -ENOENT);
    assert_non_null(strstr(err, "INVALID_CLASS"));
    t.cls->close(t.w);
}

static void test_extended_acl_rules(void **state)
{
    (void)state;
    qwmi_transport t = open_model("6.3.9600");
    char *alloc = connect_port(&t);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 2, "
                                                 "\"Weight\": 70000")), 32773);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 2, "
                                                 "\"Weight\": 1, \"Stateful\": true, "
                                                 "\"Protocol\": \"TCP\"")), 32773);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 1, "
                                                 "\"Weight\": 10, \"Stateful\": true, "
                                                 "\"Protocol\": \"ANY\"")), 32773);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 3, \"Action\": 1, "
                                                 "\"Weight\": 10")), 32773);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 1, "
                                                 "\"Weight\": 10, \"Protocol\": \"TCP\"")), 0);
    /* Stateless without a timeout: IdleSessionTimeout 0. */
    qj *x = only(&t, C_XACL);
    assert_int_equal(qj_get_int(x, "IdleSessionTimeout", -1), 0);
    qj_free(x);
    /* (Weight, Direction) taken: refused; the same weight outbound is fine. */
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 2, "
                                                 "\"Weight\": 10")), 32773);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 2, \"Action\": 2, "
                                                 "\"Weight\": 10")), 0);
    /* Remove-VMNetworkAdapterExtendedAcl -Weight 10 -Direction Inbound. */
    assert_int_equal(qwmi_model_remove_acl_by_weight(t.w, PORT, 10, 1), 1);
    x = only(&t, C_XACL);
    assert_int_equal(qj_get_int(x, "Direction", 0), 2);
    qj_free(x);
    free(alloc);
    t.cls->close(t.w);
    /* No extended ACLs on 2012. */
    t = open_model("6.2.9200");
    alloc = connect_port(&t);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 2, "
                                                 "\"Weight\": 1")), 32773);
    /* Port ACL: Meter must be IP-based. */
#define ACL(x) "{\"__CLASS\": \"Msvm_EthernetSwitchPortAclSettingData\", " x "}"
    assert_int_equal(add_feature(&t, alloc, ACL("\"Direction\": 1, \"Action\": 3, "
                                                "\"AclType\": 1, \"Applicability\": 2")), 32773);
    assert_int_equal(add_feature(&t, alloc, ACL("\"Direction\": 1, \"Action\": 3, "
                                                "\"AclType\": 2, \"Applicability\": 2")), 0);
    free(alloc);
    t.cls->close(t.w);
}

static void test_vlan_rules(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
    assert_int_equal(add_feature(&t, alloc, VLAN("\"OperationMode\": 0")), 32773);
    assert_int_equal(add_feature(&t, alloc, VLAN("\"OperationMode\": 1, \"AccessVlanId\": 0")),
                     32773);
    assert_int_equal(add_feature(&t, alloc, VLAN("\"OperationMode\": 2, \"TrunkVlanIdArray\": "
                                                 "[1, 2]")), 32773);
    assert_int_equal(add_feature(&t, alloc, VLAN("\"OperationMode\": 1, \"AccessVlanId\": 121")),
                     0);
    /* One VLAN setting per port. */
    assert_int_equal(add_feature(&t, alloc, VLAN("\"OperationMode\": 1, \"AccessVlanId\": 122")),
                     32773);
    /* VirtualSubnetId 0 or 4096-16777215 on a port. */
    assert_int_equal(add_feature(&t, alloc, SEC("\"VirtualSubnetId\": 4095")), 32773);
    assert_int_equal(add_feature(&t, alloc, SEC("\"VirtualSubnetId\": 16777215")), 0);
    /* A feature needs a connection. */
    assert_int_equal(add_feature(&t, C_ALLOC ".InstanceID=\"x\"",
                                 VLAN("\"OperationMode\": 1, \"AccessVlanId\": 5")), 32773);
    free(alloc);
    t.cls->close(t.w);
}

/* ---------- M1: feature ElementName, Name, WmiDataId only ---------- */

/* Defect 1: the "qhv" marker in ElementName does not survive. */
static void test_m1_feature_element_name(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
    assert_int_equal(add_feature(&t, alloc, VLAN("\"ElementName\": \"qhv\", \"OperationMode\": "
                                                 "1, \"AccessVlanId\": 7, \"Caption\": \"x\"")),
                     0);
    assert_int_equal(add_feature(&t, alloc, SEC("\"ElementName\": \"qhv\", "
                                                "\"AllowMacSpoofing\": true")), 0);
    qj *v = only(&t, C_VLAN), *s = only(&t, C_SEC);
    /* A read-back comparing ElementName with what was written fails. */
    assert_string_not_equal(qj_get_str(v, "ElementName"), "qhv");
    assert_string_equal(qj_get_str(v, "ElementName"), "Ethernet Switch Port VLAN Settings");
    assert_string_equal(qj_get_str(s, "ElementName"), "Ethernet Switch Port Security Settings");
    /* Only WmiDataId properties (and the key, ElementName) are stored. */
    assert_null(qj_get(v, "Caption"));
    assert_int_equal(qj_get_int(v, "AccessVlanId", 0), 7);
    assert_true(qj_get_bool(s, "AllowMacSpoofing", false));
    qj_free(v);
    qj_free(s);
    /* The extended ACL keeps its writable Name. */
    assert_int_equal(add_feature(&t, alloc, XACL("\"Name\": \"qhv\", \"Direction\": 1, "
                                                 "\"Action\": 2, \"Weight\": 1")), 0);
    qj *x = only(&t, C_XACL);
    assert_string_equal(qj_get_str(x, "Name"), "qhv");
    qj_free(x);
    /* A property the class does not have: refused. */
    assert_int_equal(add_feature(&t, alloc, XACL("\"Owner\": \"qhv\", \"Direction\": 1, "
                                                 "\"Action\": 2, \"Weight\": 2")), 32773);
    free(alloc);
    t.cls->close(t.w);
}

/* ---------- M2, M8: Modify*Settings ---------- */

/* The instance of cls, as read, without __PATH (the COM transport drops
 * it), as a one-element list for Modify*Settings. */
static qj *as_read(qwmi_transport *t, const char *cls)
{
    qj *r = only(t, cls);
    qj_remove(r, "__PATH");
    qj *list = qj_array();
    qj_append(list, r);
    return list;
}

/* Defect 2: __PATH without InstanceID names nothing. */
static void test_m2_modify_by_instance_id(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
    assert_int_equal(add_feature(&t, alloc, SEC("\"AllowMacSpoofing\": false")), 0);
    qj *sec = only(&t, C_SEC);
    /* What the old backend sent: __CLASS, __PATH and the changed members. */
    qj *in = J("{\"ResourceSettings\": [{\"__CLASS\": \"" C_ALLOC "\", \"EnabledState\": 3}]}");
    qj_set(qj_at(qj_get(in, "ResourceSettings"), 0), "__PATH", qj_str(alloc));
    assert_int_equal(rv_of(call(&t, "ModifyResourceSettings", in)), 32773);
    in = J("{\"FeatureSettings\": [" SEC("\"AllowMacSpoofing\": true") "]}");
    qj_set(qj_at(qj_get(in, "FeatureSettings"), 0), "__PATH",
           qj_str(qj_get_str(sec, "__PATH")));
    assert_int_equal(rv_of(call(&t, "ModifyFeatureSettings", in)), 32773);
    /* An InstanceID that names nothing. */
    in = J("{\"FeatureSettings\": [" SEC("\"InstanceID\": \"Microsoft:nothing\", "
                                         "\"AllowMacSpoofing\": true") "]}");
    assert_int_equal(rv_of(call(&t, "ModifyFeatureSettings", in)), 32773);
    /* The instance as read, changed: accepted, found by InstanceID. */
    qj *list = as_read(&t, C_SEC);
    qj_set(qj_at(list, 0), "AllowMacSpoofing", qj_bool(true));
    in = qj_object();
    qj_set(in, "FeatureSettings", list);
    assert_int_equal(rv_of(call(&t, "ModifyFeatureSettings", in)), 0);
    qj *now = only(&t, C_SEC);
    assert_true(qj_get_bool(now, "AllowMacSpoofing", false));
    qj_free(now);
    /* The allocation as read, disabled (Disconnect-VMNetworkAdapter). */
    char *w = xasprintf("SELECT * FROM " C_ALLOC " WHERE ElementName = '%s'", PORT);
    qj *a = query1(&t, w);
    free(w);
    qj_remove(a, "__PATH");
    qj_set(a, "EnabledState", qj_int(3));
    list = qj_array();
    qj_append(list, a);
    in = qj_object();
    qj_set(in, "ResourceSettings", list);
    assert_int_equal(rv_of(call(&t, "ModifyResourceSettings", in)), 0);
    char err[256];
    qj *got = NULL;
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, alloc, &got, err, sizeof err), 0);
    assert_int_equal(qj_get_int(got, "EnabledState", 0), 3);
    assert_int_equal(qj_len(qj_get(got, "HostResource")), 1);
    qj_free(got);
    qj_free(sec);
    free(alloc);
    t.cls->close(t.w);
}

/* What was read, sent back (a copy made by an operator, a modify as
 * read): the MOF defaults it carries (PvlanMode 0 outside private mode) are
 * not "outside the ValueMap". */
static void test_read_instance_sent_back(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
    assert_int_equal(add_feature(&t, alloc, VLAN("\"OperationMode\": 1, \"AccessVlanId\": 7")), 0);
    qj *list = as_read(&t, C_VLAN);
    qj_set(qj_at(list, 0), "AccessVlanId", qj_int(8));
    qj *in = qj_object();
    qj_set(in, "FeatureSettings", list);
    assert_int_equal(rv_of(call(&t, "ModifyFeatureSettings", in)), 0);
    qj *v = only(&t, C_VLAN);
    assert_int_equal(qj_get_int(v, "AccessVlanId", 0), 8);
    assert_int_equal(qj_get_int(v, "PvlanMode", -1), 0);
    qj_free(v);
    free(alloc);
    t.cls->close(t.w);
}

/* M8: a property left out of the sent instance goes back to its default. */
static void test_m8_modify_resets_unsent(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
    assert_int_equal(add_feature(&t, alloc, SEC("\"EnableDhcpGuard\": true, "
                                                "\"EnableRouterGuard\": true, "
                                                "\"StormLimit\": 100")), 0);
    qj *sec = only(&t, C_SEC);
    qj *m = qj_object();
    qj_set(m, "__CLASS", qj_str(C_SEC));
    qj_set(m, "InstanceID", qj_str(qj_get_str(sec, "InstanceID")));
    qj_set(m, "AllowMacSpoofing", qj_bool(true));
    qj *list = qj_array();
    qj_append(list, m);
    qj *in = qj_object();
    qj_set(in, "FeatureSettings", list);
    assert_int_equal(rv_of(call(&t, "ModifyFeatureSettings", in)), 0);
    qj *now = only(&t, C_SEC);
    assert_true(qj_get_bool(now, "AllowMacSpoofing", false));
    assert_false(qj_get_bool(now, "EnableDhcpGuard", true));
    assert_false(qj_get_bool(now, "EnableRouterGuard", true));
    assert_int_equal(qj_get_int(now, "StormLimit", -1), 0);
    assert_string_equal(qj_get_str(now, "InstanceID"), qj_get_str(sec, "InstanceID"));
    qj_free(now);
    qj_free(sec);
    free(alloc);
    t.cls->close(t.w);
}

/* ---------- M3: AddResourceSettings ---------- */

/* Defect 3: the allocation spawned from the bare class. */
static void test_m3_add_resource(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    qwmi_model_add_switch(t.w, "sw");
    qwmi_model_add_nic(t.w, "vm1", PORT, "FA163E000001");
    qwmi_model_add_nic(t.w, "vm2", "other", "FA163E000002");
    qj *good = connect_request(&t, PORT, "vm1");
    const qj *req = qj_at(qj_get(good, "ResourceSettings"), 0);
    /* Only ElementName, Parent, HostResource, EnabledState. */
    qj *bare = qj_object();
    qj_set(bare, "__CLASS", qj_str(C_ALLOC));
    const char *props[] = {"ElementName", "Parent", "HostResource", "EnabledState"};
    for (size_t i = 0; i < 4; i++)
        qj_set(bare, props[i], qj_clone(qj_get(req, props[i])));
    qj *in = qj_object();
    qj_set(in, "AffectedConfiguration", qj_clone(qj_get(good, "AffectedConfiguration")));
    qj *list = qj_array();
    qj_append(list, bare);
    qj_set(in, "ResourceSettings", list);
    qj *out = call(&t, "AddResourceSettings", in);
    assert_int_equal(qj_get_int(out, "ReturnValue", -1), 32773);
    assert_non_null(strstr(qj_get_str(out, "__why"), "ResourceSubType"));
    qj_free(out);
    /* AffectedConfiguration: another VM's VSSD. */
    in = qj_clone(good);
    char *other = path_of(&t, "SELECT * FROM " C_VSSD " WHERE ElementName = 'vm2'");
    qj_set(in, "AffectedConfiguration", qj_str_take(other));
    assert_int_equal(rv_of(call(&t, "AddResourceSettings", in)), 32773);
    /* Parent: a checkpoint's copy of the NIC. */
    assert_int_equal(qwmi_model_checkpoint(t.w, "vm1"), 0);
    in = qj_clone(good);
    char *copy = NULL;
    qj *rows = query(&t, QWMI_NS_VIRT, "SELECT * FROM " C_NIC " WHERE ElementName = '" PORT "'");
    assert_int_equal(qj_len(rows), 2);
    for (size_t i = 0; i < 2; i++)
        if (strcmp(qj_get_str(qj_at(rows, i), "__PATH"),
                   qj_get_str(qj_at(qj_get(good, "ResourceSettings"), 0), "Parent"))) {
            free(copy);
            copy = xstrdup(qj_get_str(qj_at(rows, i), "__PATH"));
        }
    qj_free(rows);
    qj_set(qj_at(qj_get(in, "ResourceSettings"), 0), "Parent", qj_str_take(copy));
    assert_int_equal(rv_of(call(&t, "AddResourceSettings", in)), 32773);
    /* The correct request: accepted; its InstanceID starts with the VSSD's. */
    out = call(&t, "AddResourceSettings", qj_clone(good));
    assert_int_equal(qj_get_int(out, "ReturnValue", -1), 0);
    char err[256];
    qj *a = NULL;
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, qj_as_str(qj_at(qj_get(out,
                                "ResultingResourceSettings"), 0)), &a, err, sizeof err), 0);
    qj *vssd = query1(&t, "SELECT * FROM " C_VSSD " WHERE ElementName = 'vm1' AND "
                          "VirtualSystemType = 'Microsoft:Hyper-V:System:Realized'");
    const char *vi = qj_get_str(vssd, "InstanceID");
    assert_int_equal(strncmp(qj_get_str(a, "InstanceID"), vi, strlen(vi)), 0);
    assert_string_equal(qj_get_str(a, "ResourceSubType"), "Microsoft:Hyper-V:Ethernet Connection");
    assert_true(qj_is(qj_get(a, "ResourceType"), QJ_INT));   /* a number, as documented */
    assert_int_equal(qj_get_int(a, "ResourceType", 0), 33);
    assert_string_equal(qj_get_str(a, "ElementName"), PORT);
    qj_free(vssd);
    qj_free(a);
    qj_free(out);
    /* A second connection for the NIC: invalid state. */
    assert_int_equal(rv_of(call(&t, "AddResourceSettings", good)), 32775);
    t.cls->close(t.w);
}

/* ---------- M4: namespaces ---------- */

/* Defect 4: the version is in root\cimv2 only. */
static void test_m4_namespaces(void **state)
{
    (void)state;
    qwmi_transport t = open_model("6.3.9600");
    qj *rows = NULL;
    char err[256];
    assert_int_equal(t.cls->query(t.w, QWMI_NS_VIRT, "SELECT * FROM Win32_OperatingSystem",
                                  &rows, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "INVALID_CLASS"));
    assert_int_equal(t.cls->query(t.w, QWMI_NS_STDCIMV2, "SELECT * FROM Win32_OperatingSystem",
                                  &rows, err, sizeof err), -ENOENT);
    rows = query(&t, QWMI_NS_CIMV2, "SELECT * FROM Win32_OperatingSystem");
    assert_int_equal(qj_len(rows), 1);
    assert_string_equal(qj_get_str(qj_at(rows, 0), "Version"), "6.3.9600");
    qj *os = NULL;
    assert_int_equal(t.cls->get(t.w, QWMI_NS_CIMV2, qj_get_str(qj_at(rows, 0), "__PATH"), &os,
                                err, sizeof err), 0);
    qj_free(os);
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, "Win32_OperatingSystem=@", &os, err,
                                sizeof err), -ENOENT);
    qj_free(rows);
    /* Msvm_* only in root\virtualization\v2, MSFT_* only in StandardCimv2. */
    assert_int_equal(t.cls->query(t.w, QWMI_NS_CIMV2, "SELECT * FROM " C_NIC, &rows, err,
                                  sizeof err), -ENOENT);
    assert_int_equal(t.cls->query(t.w, QWMI_NS_VIRT, "SELECT * FROM " C_LR, &rows, err,
                                  sizeof err), -ENOENT);
    assert_int_equal(put(&t, "{\"__CLASS\": \"" C_VLAN "\"}"), -ENOENT);
    /* Msvm_ settings are not deleted by DeleteInstance. */
    qwmi_model_add_nic(t.w, "vm1", PORT, NULL);
    char *nic = path_of(&t, "SELECT * FROM " C_NIC " WHERE ElementName = '" PORT "'");
    assert_int_equal(t.cls->delete_instance(t.w, QWMI_NS_VIRT, nic, err, sizeof err),
                     -EOPNOTSUPP);
    free(nic);
    /* An unknown namespace. */
    assert_int_equal(t.cls->query(t.w, "root\\virtualization", "SELECT * FROM " C_NIC, &rows,
                                  err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "INVALID_NAMESPACE"));
    /* A class that does not exist. */
    assert_int_equal(t.cls->query(t.w, QWMI_NS_VIRT, "SELECT * FROM Msvm_NoSuchClass", &rows,
                                  err, sizeof err), -ENOENT);
    t.cls->close(t.w);
}

/* ---------- M5: paths ---------- */

static void test_m5_paths(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
    /* Full paths, `\` escaped in key values, the switch with two keys. */
    char *nic = path_of(&t, "SELECT * FROM " C_NIC " WHERE ElementName = '" PORT "'");
    assert_memory_equal(nic, "\\\\", 2);
    assert_non_null(strstr(nic, "\\root\\virtualization\\v2:" C_NIC ".InstanceID=\"Microsoft:"));
    assert_non_null(strstr(nic, "\\\\"));   /* the VM\device separator, escaped */
    char *sw = path_of(&t, "SELECT * FROM Msvm_VirtualEthernetSwitch");
    assert_non_null(strstr(sw, ":Msvm_VirtualEthernetSwitch.CreationClassName="
                               "\"Msvm_VirtualEthernetSwitch\",Name=\""));
    /* The stored references are Hyper-V's own format: not byte-equal to
     * __PATH, but the same object. */
    qj *a = query1(&t, "SELECT * FROM " C_ALLOC " WHERE ElementName = '" PORT "'");
    const char *parent = qj_get_str(a, "Parent");
    const char *hr = qj_as_str(qj_at(qj_get(a, "HostResource"), 0));
    assert_string_not_equal(parent, nic);
    assert_string_not_equal(hr, sw);
    assert_true(qwmi_path_same(parent, nic));
    assert_true(qwmi_path_same(hr, sw));
    assert_false(qwmi_path_same(parent, sw));
    /* get by another form of the path: relative, other case, keys swapped. */
    char *name = qwmi_path_value(sw, "Name");
    char *rel = xasprintf("msvm_virtualethernetswitch.name=\"%s\",CREATIONCLASSNAME="
                          "\"Msvm_VirtualEthernetSwitch\"", name);
    qj *got = NULL;
    char err[256];
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, rel, &got, err, sizeof err), 0);
    assert_string_equal(qj_get_str(got, "__PATH"), sw);
    qj_free(got);
    /* A path missing a key names nothing. */
    char *partial = xasprintf("Msvm_VirtualEthernetSwitch.Name=\"%s\"", name);
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, partial, &got, err, sizeof err), -ENOENT);
    /* The stored Parent works where a path is expected. */
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, parent, &got, err, sizeof err), 0);
    qj_free(got);
    /* qwmi_path_same: escaping, case, order, server. */
    assert_true(qwmi_path_same("\\\\HOST\\root\\virtualization\\v2:C.B=\"x\",A=\"a\\\\b\"",
                               "c.a=\"A\\\\B\",b=\"X\""));
    assert_false(qwmi_path_same("C.A=\"a\\\\b\"", "C.A=\"a\\\\c\""));
    /* A namespace without a server. */
    assert_true(qwmi_path_same("root\\cimv2:Win32_OperatingSystem=@", "win32_operatingsystem=@"));
    free(partial);
    free(rel);
    free(name);
    qj_free(a);
    free(sw);
    free(nic);
    free(alloc);
    t.cls->close(t.w);
}

/* ---------- M6: NICs, copies ---------- */

static void test_m6_nics_and_copies(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
    assert_int_equal(add_feature(&t, alloc, VLAN("\"OperationMode\": 1, \"AccessVlanId\": 9")), 0);
    /* The realized VSSD of the VM. */
    qj *vssd = query1(&t, "SELECT * FROM " C_VSSD " WHERE ElementName = 'vm1'");
    const char *vi = qj_get_str(vssd, "InstanceID");
    assert_string_equal(qj_get_str(vssd, "VirtualSystemType"),
                        "Microsoft:Hyper-V:System:Realized");
    assert_int_equal(strncmp(vi, "Microsoft:", 10), 0);
    /* A checkpoint: copies with the same ElementName, under its VSSD. */
    assert_int_equal(qwmi_model_checkpoint(t.w, "vm1"), 0);
    qj *cp = query1(&t, "SELECT * FROM " C_VSSD " WHERE VirtualSystemType = "
                        "'Microsoft:Hyper-V:Snapshot:Realized'");
    assert_non_null(cp);
    const char *ci = qj_get_str(cp, "InstanceID");
    const char *classes[] = {C_NIC, C_ALLOC, C_VLAN};
    for (size_t c = 0; c < 3; c++) {
        char *w = xasprintf("SELECT * FROM %s WHERE InstanceID LIKE '%s\\\\%%'", classes[c], ci);
        qj *rows = query(&t, QWMI_NS_VIRT, w);
        assert_int_equal(qj_len(rows), 1);
        if (c < 2)
            assert_string_equal(qj_get_str(qj_at(rows, 0), "ElementName"), PORT);
        qj_free(rows);
        free(w);
    }
    /* A planned VM: another copy. */
    assert_int_equal(qwmi_model_plan(t.w, "vm1"), 0);
    qj *rows = query(&t, QWMI_NS_VIRT, "SELECT * FROM " C_NIC " WHERE ElementName = '" PORT "'");
    assert_int_equal(qj_len(rows), 3);
    qj_free(rows);
    /* The VM changes, then the checkpoint is applied: the VLAN is back with
     * its old InstanceID. */
    char *w = xasprintf("SELECT * FROM " C_VLAN " WHERE InstanceID LIKE '%s\\\\%%'", vi);
    qj *live = query1(&t, w);
    char *vpath = xstrdup(qj_get_str(live, "__PATH"));
    qj *in = qj_object();
    qj *list = qj_array();
    qj_append(list, qj_str(vpath));
    qj_set(in, "FeatureSettings", list);
    assert_int_equal(rv_of(call(&t, "RemoveFeatureSettings", in)), 0);
    qj *gone = query1(&t, w);
    assert_null(gone);
    assert_int_equal(qwmi_model_restore(t.w, "vm1"), 0);
    qj *back = query1(&t, w);
    assert_non_null(back);
    assert_string_equal(qj_get_str(back, "InstanceID"), qj_get_str(live, "InstanceID"));
    assert_int_equal(qj_get_int(back, "AccessVlanId", 0), 9);
    /* A checkpoint's settings cannot be changed. */
    char *cw = xasprintf("SELECT * FROM " C_VLAN " WHERE InstanceID LIKE '%s\\\\%%'", ci);
    char *cpath = path_of(&t, cw);
    in = qj_object();
    list = qj_array();
    qj_append(list, qj_str_take(cpath));
    qj_set(in, "FeatureSettings", list);
    assert_int_equal(rv_of(call(&t, "RemoveFeatureSettings", in)), 32775);
    free(cw);
    qj_free(back);
    qj_free(live);
    free(vpath);
    free(w);
    /* New-VM -SwitchName / Add-VMNetworkAdapter: a NIC with a connection. */
    assert_int_equal(qwmi_model_add_nic_connected(t.w, "vm3", "a", "FA163E000003", "sw"), 0);
    assert_int_equal(qwmi_model_add_nic_connected(t.w, "vm3", "b", "FA163E000004", NULL), 0);
    assert_int_equal(qwmi_model_add_nic_connected(t.w, "vm3", "c", NULL, "nosuch"), -ENOENT);
    rows = query(&t, QWMI_NS_VIRT, "SELECT * FROM " C_ALLOC " WHERE ElementName = "
                                   "'Dynamic Ethernet Switch Port' AND ResourceSubType = "
                                   "'Microsoft:Hyper-V:Ethernet Connection'");
    /* the Default one and the two new ones */
    assert_int_equal(qj_len(rows), 3);
    int on = 0, off = 0;
    for (size_t i = 0; i < qj_len(rows); i++) {
        const qj *r = qj_at(rows, i);
        if (qj_get_str(r, "Parent") && qj_get_int(r, "EnabledState", 0) == 2 &&
            qj_len(qj_get(r, "HostResource")) == 1)
            on++;
        if (qj_get_int(r, "EnabledState", 0) == 3 && !qj_len(qj_get(r, "HostResource")))
            off++;
    }
    assert_int_equal(on, 1);
    assert_int_equal(off, 1);
    qj_free(rows);
    /* A legacy NIC. */
    assert_int_equal(qwmi_model_add_legacy_nic(t.w, "vm3", "legacy", "FA163E000005"), 0);
    qj *l = only(&t, "Msvm_EmulatedEthernetPortSettingData");
    assert_string_equal(qj_get_str(l, "ElementName"), "legacy");
    qj_free(l);
    qj_free(cp);
    qj_free(vssd);
    free(alloc);
    t.cls->close(t.w);
}

/* ---------- M7: jobs ---------- */

static void test_m7_jobs(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
    qwmi_model_counters_reset(t.w);
    qwmi_model_fault_jobs(t.w, 3, 1, 32775, "The operation cannot be performed while the "
                                            "object is in its current state.");
    qj *in = J("{\"FeatureSettings\": [" VLAN("\"OperationMode\": 1, \"AccessVlanId\": 7") "]}");
    qj_set(in, "AffectedConfiguration", qj_str(alloc));
    qj *out = call(&t, "AddFeatureSettings", qj_clone(in));
    assert_int_equal(qj_get_int(out, "ReturnValue", -1), QWMI_RET_JOB_STARTED);
    /* The results are not given while the job runs. */
    assert_null(qj_get(out, "ResultingFeatureSettings"));
    const char *job = qj_get_str(out, "Job");
    assert_non_null(job);
    qj *j = NULL;
    char err[256];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, job, &j, err, sizeof err), 0);
        assert_int_equal(qj_get_int(j, "JobState", 0), 4);
        qj_free(j);
        /* Not visible while the job runs. */
        qj *rows = qwmi_model_instances(t.w, C_VLAN);
        assert_int_equal(qj_len(rows), 0);
        qj_free(rows);
    }
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, job, &j, err, sizeof err), 0);
    assert_int_equal(qj_get_int(j, "JobState", 0), 10);
    assert_int_equal(qj_get_int(j, "ErrorCode", 0), 32775);
    assert_non_null(strstr(qj_get_str(j, "ErrorDescription"), "current state"));
    qj_free(j);
    /* Two more gets, then the job is gone. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, job, &j, err, sizeof err), 0);
        qj_free(j);
    }
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, job, &j, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "WBEM_E_NOT_FOUND"));
    qj_free(out);
    /* The failed job left nothing; the next one (not failing) does. */
    qj *rows = qwmi_model_instances(t.w, C_VLAN);
    assert_int_equal(qj_len(rows), 0);
    qj_free(rows);
    out = call(&t, "AddFeatureSettings", qj_clone(in));
    job = qj_get_str(out, "Job");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, job, &j, err, sizeof err), 0);
        qj_free(j);
    }
    rows = qwmi_model_instances(t.w, C_VLAN);
    assert_int_equal(qj_len(rows), 1);
    qj_free(rows);
    qj_free(out);
    qwmi_model_counters c;
    qwmi_model_counters_get(t.w, &c);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.writes, 2);
    assert_int_equal(c.enumerations, 2);   /* the management service, looked up twice */
    assert_int_equal(c.gets, 9);
    /* A job that completes with an error code: JobState 7, nothing done. */
    qwmi_model_fault_jobs(t.w, 0, 0, 0, NULL);
    qwmi_model_fault_job_error(t.w, 1);
    qj *sec = J("{\"FeatureSettings\": [" SEC("\"AllowMacSpoofing\": true") "]}");
    qj_set(sec, "AffectedConfiguration", qj_str(alloc));
    out = call(&t, "AddFeatureSettings", sec);
    assert_int_equal(qj_get_int(out, "ReturnValue", -1), QWMI_RET_JOB_STARTED);
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, qj_get_str(out, "Job"), &j, err, sizeof err),
                     0);
    assert_int_equal(qj_get_int(j, "JobState", 0), 7);
    assert_int_not_equal(qj_get_int(j, "ErrorCode", 0), 0);
    qj_free(j);
    qj_free(out);
    rows = qwmi_model_instances(t.w, C_SEC);
    assert_int_equal(qj_len(rows), 0);
    qj_free(rows);
    qj_free(in);
    free(alloc);
    t.cls->close(t.w);
}

/* ---------- M9: provider addresses need their interface ---------- */

static void test_m9_provider_address(void **state)
{
    (void)state;
#define PA(ifx) \
    "{\"__CLASS\": \"MSFT_NetVirtualizationProviderAddressSettingData\", \"ProviderAddress\": " \
    "\"192.168.1.10\", \"InterfaceIndex\": " #ifx ", \"PrefixLength\": 24, \"VlanID\": 0}"
    qwmi_transport t = open_model("6.2.9200");
    assert_int_equal(put(&t, PA(13)), -EINVAL);   /* no interface 13 */
    assert_int_equal(qwmi_model_add_netadapter(t.w, 13, "Ethernet 2", "00155D010203", false), 0);
    assert_int_equal(put(&t, PA(13)), -EINVAL);   /* ms_netwnv not bound (2012) */
    assert_int_equal(qwmi_model_set_wnv_binding(t.w, 13, true), 0);
    assert_int_equal(put(&t, PA(13)), 0);
    qj *rows = query(&t, QWMI_NS_STDCIMV2, "SELECT * FROM MSFT_NetAdapterBindingSettingData "
                                           "WHERE ComponentID = 'ms_netwnv' AND Enabled = TRUE");
    assert_int_equal(qj_len(rows), 1);
    qj_free(rows);
    char err[256];
    assert_int_equal(t.cls->query(t.w, QWMI_NS_VIRT, "SELECT * FROM MSFT_NetAdapter", &rows,
                                  err, sizeof err), -ENOENT);   /* root\StandardCimv2 only */
    rows = query(&t, QWMI_NS_STDCIMV2, "SELECT * FROM MSFT_NetAdapter WHERE InterfaceIndex = 13");
    assert_string_equal(qj_get_str(qj_at(rows, 0), "MacAddress"), "00-15-5D-01-02-03");
    qj_free(rows);
    t.cls->close(t.w);
    /* 2012 R2: the binding is not needed, the interface is. */
    t = open_model("6.3.9600");
    assert_int_equal(qwmi_model_add_netadapter(t.w, 13, "Ethernet 2", "00155D010203", false), 0);
    assert_int_equal(put(&t, PA(13)), 0);
    assert_int_equal(put(&t, PA(14)), -EINVAL);
    t.cls->close(t.w);
}

/* ---------- M10: value maps from the schema ---------- */

static void test_m10_value_map(void **state)
{
    (void)state;
    qwmi_transport t = open_model("6.3.9600");
    qj *map = NULL;
    char err[256];
    assert_int_equal(t.cls->value_map(t.w, QWMI_NS_STDCIMV2, C_LR, "Rule", &map, err,
                                      sizeof err), 0);
    assert_non_null(qj_get_str(map, "TranslationMethodEncap"));
    assert_non_null(qj_get_str(map, "TranslationMethodNat"));
    qj_free(map);
    assert_int_equal(t.cls->value_map(t.w, QWMI_NS_STDCIMV2, C_LR, "Context", &map, err,
                                      sizeof err), -ENOENT);
    assert_int_equal(t.cls->value_map(t.w, QWMI_NS_VIRT, C_LR, "Rule", &map, err, sizeof err),
                     -ENOENT);
    /* A Rule outside the map is refused: the model does not hold os-win's
     * table, it holds the schema's. */
    int64_t encap = enum_of(&t, C_LR, "Rule", "TranslationMethodEncap");
    int64_t bad = 0;
    while (bad == encap || bad == enum_of(&t, C_LR, "Rule", "TranslationMethodNat") ||
           bad == enum_of(&t, C_LR, "Rule", "TranslationMethodNone"))
        bad++;
    char buf[400];
    snprintf(buf, sizeof buf, "{\"__CLASS\": \"" C_LR "\", \"VirtualSubnetID\": 5000, "
                              "\"CustomerAddress\": \"10.0.0.5\", \"MACAddress\": "
                              "\"FA163E000005\", \"ProviderAddress\": \"192.168.1.1\", \"Rule\": "
                              "%lld}", (long long)bad);
    assert_int_equal(put(&t, buf), -EINVAL);
    t.cls->close(t.w);
}

/* ---------- M11: string limits and value maps on features ---------- */

static void test_m11_limits(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
    /* RemoteIPAddress MaxLen 40, Protocol 15, Name 64. */
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 2, \"Weight\": "
                                                 "1, \"RemoteIPAddress\": "
                                                 "\"2001:db8:1111:2222:3333:4444:5555:6666/128\"")),
                     32773);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 2, \"Weight\": "
                                                 "1, \"Protocol\": \"0123456789abcdef\"")), 32773);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 2, \"Weight\": "
                                                 "1, \"Name\": \"0123456789012345678901234567890"
                                                 "1234567890123456789012345678901234\"")), 32773);
    /* Action outside its ValueMap. */
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 5, \"Weight\": "
                                                 "1")), 32773);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 2, \"Weight\": "
                                                 "1, \"RemoteIPAddress\": \"10.0.0.0/8\"")), 0);
    free(alloc);
    t.cls->close(t.w);
}

/* ---------- M12: VMMS stopped ---------- */

static void test_m12_vmms_down(void **state)
{
    (void)state;
    qwmi_transport t = open_model("6.3.9600");
    char *p = vsms(&t);
    qwmi_model_fault_vmms(t.w, true);
    qj *rows = NULL, *out = NULL;
    char err[256];
    assert_int_equal(t.cls->query(t.w, QWMI_NS_VIRT, "SELECT * FROM " C_NIC, &rows, err,
                                  sizeof err), -EAGAIN);
    assert_non_null(strstr(err, "0x800706BA"));
    assert_non_null(strstr(err, "vmms"));
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, p, &out, err, sizeof err), -EAGAIN);
    assert_int_equal(t.cls->call(t.w, QWMI_NS_VIRT, p, "AddFeatureSettings", NULL, &out, err,
                                 sizeof err), -EAGAIN);
    /* Other namespaces are not VMMS's. */
    rows = query(&t, QWMI_NS_CIMV2, "SELECT * FROM Win32_OperatingSystem");
    qj_free(rows);
    qwmi_model_fault_vmms(t.w, false);
    rows = query(&t, QWMI_NS_VIRT, "SELECT * FROM " C_NIC);
    qj_free(rows);
    free(p);
    t.cls->close(t.w);
}

/* ---------- queries ---------- */

static void test_wql(void **state)
{
    (void)state;
    qwmi_transport t = open_model(NULL);
    qwmi_model_add_switch(t.w, "External Switch");
    qwmi_model_add_nic(t.w, "vm1", "port-a1", "FA163E000001");
    qwmi_model_add_nic(t.w, "vm1", "port-b1", "FA163E000002");
    qwmi_model_add_nic(t.w, "vm2", "port-a2", "FA163E000003");
    qj *rows = query(&t, QWMI_NS_VIRT, "select * from msvm_syntheticethernetportsettingdata "
                                       "where elementname like 'PORT-A%'");
    assert_int_equal(qj_len(rows), 2);
    qj_free(rows);
    rows = query(&t, QWMI_NS_VIRT, "SELECT * FROM " C_NIC " WHERE ElementName LIKE 'port-_1' "
                                   "AND Address = 'fa163e000002'");
    assert_int_equal(qj_len(rows), 1);
    qj_free(rows);
    rows = query(&t, QWMI_NS_VIRT, "SELECT * FROM Msvm_VirtualEthernetSwitch WHERE ElementName "
                                   "= 'external switch'");
    assert_int_equal(qj_len(rows), 1);
    qj_free(rows);
    rows = query(&t, QWMI_NS_VIRT, "SELECT * FROM " C_ALLOC " WHERE InstanceID LIKE "
                                   "'%\\\\Default' AND ResourceSubType = "
                                   "'Microsoft:Hyper-V:Ethernet Connection'");
    assert_int_equal(qj_len(rows), 1);
    const qj *d = qj_at(rows, 0);
    assert_int_equal(strncmp(qj_get_str(d, "InstanceID"), "Microsoft:Definition\\", 21), 0);
    assert_int_equal(qj_get_int(d, "ResourceType", 0), 33);
    assert_int_equal(qj_get_int(d, "EnabledState", 0), 2);
    assert_string_equal(qj_get_str(d, "ElementName"), "Dynamic Ethernet Switch Port");
    qj_free(rows);
    char err[256];
    assert_int_equal(t.cls->query(t.w, QWMI_NS_VIRT, "SELECT Name FROM " C_NIC, &rows, err,
                                  sizeof err), -EINVAL);
    assert_int_equal(t.cls->query(t.w, QWMI_NS_VIRT, "SELECT * FROM " C_NIC " WHERE", &rows,
                                  err, sizeof err), -EINVAL);
    t.cls->close(t.w);
}

/* Processes sharing a state file (an agent and qhvctl): every entry holds
 * the file's lock from reading it to writing it back, so none loses
 * another's change. Two processes add 40 NICs each at once: all 80 are
 * there. */
static void test_state_file_shared(void **state)
{
    (void)state;
    char path[] = "/tmp/qhv_wmi_shared_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    qwmi_transport t;
    char err[256];
    assert_int_equal(qwmi_model_open(path, NULL, &t, err, sizeof err), 0);
    t.cls->close(t.w);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            qwmi_transport u;
            if (qwmi_model_open(path, NULL, &u, err, sizeof err) < 0)
                _exit(2);
            for (int i = 0; i < 40; i++) {
                char name[64], vm[32];
                snprintf(name, sizeof name, "nic-%d-%d", k, i);
                snprintf(vm, sizeof vm, "vm-%d", k);
                qwmi_model_add_nic(u.w, vm, name, NULL);
            }
            u.cls->close(u.w);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st = -1;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(qwmi_model_open(path, NULL, &t, err, sizeof err), 0);
    qj *rows = query(&t, QWMI_NS_VIRT, "SELECT * FROM " C_NIC " WHERE ElementName LIKE 'nic-%'");
    assert_int_equal(qj_len(rows), 80);
    qj_free(rows);
    t.cls->close(t.w);
    unlink(path);
    char *lock = xasprintf("%s.lock", path);
    unlink(lock);
    free(lock);
}

static void test_state_file(void **state)
{
    (void)state;
    char path[] = "/tmp/qhv_wmi_model_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    qwmi_transport t, u;
    char err[256];
    assert_int_equal(qwmi_model_open(path, "6.3.9600", &t, err, sizeof err), 0);
    qwmi_model_add_switch(t.w, "sw");
    /* Another process (qhvctl, a test) adds a NIC: the first model sees it. */
    assert_int_equal(qwmi_model_open(path, NULL, &u, err, sizeof err), 0);
    qwmi_model_add_nic(u.w, "vm", "other", "FA163E000009");
    u.cls->close(u.w);
    qj *rows = query(&t, QWMI_NS_VIRT, "SELECT * FROM " C_NIC " WHERE ElementName = 'other'");
    assert_int_equal(qj_len(rows), 1);
    qj_free(rows);
    rows = query(&t, QWMI_NS_CIMV2, "SELECT * FROM Win32_OperatingSystem");
    assert_string_equal(qj_get_str(qj_at(rows, 0), "Version"), "6.3.9600");
    qj_free(rows);
    /* A connection made in one, seen and found by path in a reopened one. */
    char *alloc = connect_port(&t);
    t.cls->close(t.w);
    assert_int_equal(qwmi_model_open(path, NULL, &t, err, sizeof err), 0);
    qj *a = NULL;
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, alloc, &a, err, sizeof err), 0);
    qj_free(a);
    rows = qwmi_model_instances(t.w, C_ALLOC);
    assert_int_equal(qj_len(rows), 2);   /* the Default one and the port's */
    qj_free(rows);
    free(alloc);
    t.cls->close(t.w);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_record_rules),
        cmocka_unit_test(test_route_rules),
        cmocka_unit_test(test_extended_acl_rules),
        cmocka_unit_test(test_vlan_rules),
        cmocka_unit_test(test_m1_feature_element_name),
        cmocka_unit_test(test_m2_modify_by_instance_id),
        cmocka_unit_test(test_m3_add_resource),
        cmocka_unit_test(test_m4_namespaces),
        cmocka_unit_test(test_m5_paths),
        cmocka_unit_test(test_m6_nics_and_copies),
        cmocka_unit_test(test_m7_jobs),
        cmocka_unit_test(test_m8_modify_resets_unsent),
        cmocka_unit_test(test_read_instance_sent_back),
        cmocka_unit_test(test_m9_provider_address),
        cmocka_unit_test(test_m10_value_map),
        cmocka_unit_test(test_m11_limits),
        cmocka_unit_test(test_m12_vmms_down),
        cmocka_unit_test(test_wql),
        cmocka_unit_test(test_state_file),
        cmocka_unit_test(test_state_file_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
