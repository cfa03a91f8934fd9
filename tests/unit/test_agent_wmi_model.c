/* The WMI model transport: the documented Hyper-V rules it enforces
 * (hyperv-semantics.md §7), its jobs and its counters. */
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
#include <unistd.h>
#include "vswitch/hyperv/wmi_model.h"
#include "lib/util.h"

#define VSMS "Msvm_VirtualSystemManagementService.Name=\"vmms\""
#define PORT "11111111-2222-3333-4444-555555555555"

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

/* A connected port: returns its allocation path (caller frees). */
static char *connect_port(qwmi_transport *t)
{
    qwmi_model_add_switch(t->w, "sw");
    qwmi_model_add_nic(t->w, "vm1", PORT, "FA163E000001");
    qj *nics = qwmi_model_instances(t->w, "Msvm_SyntheticEthernetPortSettingData");
    qj *sws = qwmi_model_instances(t->w, "Msvm_VirtualEthernetSwitch");
    qj *alloc = qj_object();
    qj_set(alloc, "__CLASS", qj_str("Msvm_EthernetPortAllocationSettingData"));
    qj_set(alloc, "ElementName", qj_str(PORT));
    qj_set(alloc, "Parent", qj_str(qj_get_str(qj_at(nics, 0), "__PATH")));
    qj *hr = qj_array();
    qj_append(hr, qj_str(qj_get_str(qj_at(sws, 0), "__PATH")));
    qj_set(alloc, "HostResource", hr);
    qj *list = qj_array();
    qj_append(list, alloc);
    qj *inj = qj_object();
    qj_set(inj, "AffectedConfiguration", qj_str("vm"));
    qj_set(inj, "ResourceSettings", list);
    qj *out = NULL;
    char err[256];
    assert_int_equal(t->cls->call(t->w, QWMI_NS_VIRT, VSMS, "AddResourceSettings", inj, &out, err,
                                  sizeof err), 0);
    assert_int_equal(qj_get(out, "ReturnValue")->u.i, 0);
    char *path = xstrdup(qj_as_str(qj_at(qj_get(out, "ResultingResourceSettings"), 0)));
    qj_free(out);
    qj_free(inj);
    qj_free(nics);
    qj_free(sws);
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
    qj *out = NULL;
    char err[256];
    assert_int_equal(t->cls->call(t->w, QWMI_NS_VIRT, VSMS, "AddFeatureSettings", in, &out, err,
                                  sizeof err), 0);
    int64_t rv = qj_get(out, "ReturnValue")->u.i;
    qj_free(out);
    qj_free(in);
    return rv;
}

#define XACL(extra) \
    "{\"__CLASS\": \"Msvm_EthernetSwitchPortExtendedAclSettingData\", " extra "}"

static void test_lookup_record_rules(void **state)
{
    qwmi_transport t = open_model("6.3.9600");
#define LR(vsid, extra) \
    "{\"__CLASS\": \"MSFT_NetVirtualizationLookupRecordSettingData\", \"VirtualSubnetID\": " \
    #vsid ", \"CustomerAddress\": \"10.0.0.5\", \"MACAddress\": \"FA163E000005\", " \
    "\"ProviderAddress\": \"192.168.1.1\"" extra "}"
    assert_int_equal(put(&t, LR(4095, ", \"Rule\": 1")), -EINVAL);
    assert_int_equal(put(&t, LR(16777215, ", \"Rule\": 1")), -EINVAL);
    assert_int_equal(put(&t, LR(4096, ", \"Rule\": 1")), 0);
    assert_int_equal(put(&t, LR(16777214, ", \"Rule\": 1")), 0);
    /* UseVmMACAddress only with TranslationMethodNat (0). */
    assert_int_equal(put(&t, LR(5000, ", \"Rule\": 1, \"UseVmMACAddress\": true")), -EINVAL);
    assert_int_equal(put(&t, LR(5000, ", \"Rule\": 0, \"UseVmMACAddress\": true")), 0);
    /* L2Only needs CA 0.0.0.0 or ::. */
    assert_int_equal(put(&t, LR(5001, ", \"Rule\": 1, \"Type\": 3")), -EINVAL);
    /* Type is RO: a put with the same key cannot change it. */
    assert_int_equal(put(&t, LR(5002, ", \"Rule\": 1, \"Type\": 0")), 0);
    assert_int_equal(put(&t, LR(5002, ", \"Rule\": 1, \"Type\": 1")), -EINVAL);
    /* RW ProviderAddress changes in place: still one record. */
    qj *before = qwmi_model_instances(t.w, "MSFT_NetVirtualizationLookupRecordSettingData");
    assert_int_equal(put(&t, "{\"__CLASS\": \"MSFT_NetVirtualizationLookupRecordSettingData\", "
                             "\"VirtualSubnetID\": 5002, \"CustomerAddress\": \"10.0.0.5\", "
                             "\"MACAddress\": \"FA163E000005\", \"ProviderAddress\": "
                             "\"192.168.1.9\", \"Rule\": 1}"), 0);
    qj *after = qwmi_model_instances(t.w, "MSFT_NetVirtualizationLookupRecordSettingData");
    assert_int_equal(qj_len(before), qj_len(after));
    qj_free(before);
    qj_free(after);
    t.cls->close(t.w);
    /* -Type does not exist on 2012. */
    t = open_model("6.2.9200");
    assert_int_equal(put(&t, LR(5002, ", \"Rule\": 1, \"Type\": 0")), -EINVAL);
    assert_int_equal(put(&t, LR(5002, ", \"Rule\": 1")), 0);
    t.cls->close(t.w);
}

static void test_route_rules(void **state)
{
    qwmi_transport t = open_model(NULL);
#define CR(nh) \
    "{\"__CLASS\": \"MSFT_NetVirtualizationCustomerRouteSettingData\", \"RoutingDomainID\": " \
    "\"{11111111-2222-3333-4444-555555555555}\", \"VirtualSubnetID\": 5001, " \
    "\"DestinationPrefix\": \"10.0.0.0/24\", \"NextHop\": \"" nh "\", \"Metric\": 255}"
    assert_int_equal(put(&t, CR("0.0.0.0")), 0);
    /* Set-NetVirtualizationCustomerRoute changes Metric only: NextHop is RO. */
    assert_int_equal(put(&t, CR("10.0.0.1")), -EINVAL);
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
    assert_int_equal(t.cls->query(t.w, QWMI_NS_STDCIMV2, "SELECT * FROM "
                                  "MSFT_NetVirtualizationLookupRecordSettingData", &rows, err,
                                  sizeof err), -ENOENT);
    assert_non_null(strstr(err, "INVALID_CLASS"));
    t.cls->close(t.w);
}

static void test_extended_acl_rules(void **state)
{
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
    qj *rows = qwmi_model_instances(t.w, "Msvm_EthernetSwitchPortExtendedAclSettingData");
    assert_int_equal(qj_len(rows), 1);
    assert_int_equal(qj_get(qj_at(rows, 0), "IdleSessionTimeout")->u.i, 0);
    qj_free(rows);
    /* (Weight, Direction) taken: refused; the same weight outbound is fine. */
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 2, "
                                                 "\"Weight\": 10")), 32773);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 2, \"Action\": 2, "
                                                 "\"Weight\": 10")), 0);
    /* Remove-VMNetworkAdapterExtendedAcl -Weight 10 -Direction Inbound. */
    assert_int_equal(qwmi_model_remove_acl_by_weight(t.w, PORT, 10, 1), 1);
    rows = qwmi_model_instances(t.w, "Msvm_EthernetSwitchPortExtendedAclSettingData");
    assert_int_equal(qj_len(rows), 1);
    assert_int_equal(qj_get(qj_at(rows, 0), "Direction")->u.i, 2);
    qj_free(rows);
    free(alloc);
    t.cls->close(t.w);
    /* No extended ACLs on 2012. */
    t = open_model("6.2.9200");
    alloc = connect_port(&t);
    assert_int_equal(add_feature(&t, alloc, XACL("\"Direction\": 1, \"Action\": 2, "
                                                 "\"Weight\": 1")), 32773);
    /* Port ACL: Meter must be IP-based. */
    assert_int_equal(add_feature(&t, alloc, "{\"__CLASS\": \"Msvm_EthernetSwitchPortAclSettingData\", "
                                            "\"Direction\": 1, \"Action\": 3, \"AclType\": 1, "
                                            "\"Applicability\": 2}"), 32773);
    assert_int_equal(add_feature(&t, alloc, "{\"__CLASS\": \"Msvm_EthernetSwitchPortAclSettingData\", "
                                            "\"Direction\": 1, \"Action\": 3, \"AclType\": 2, "
                                            "\"Applicability\": 2}"), 0);
    free(alloc);
    t.cls->close(t.w);
}

static void test_vlan_rules(void **state)
{
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
#define VLAN(x) "{\"__CLASS\": \"Msvm_EthernetSwitchPortVlanSettingData\", " x "}"
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
#define SEC(x) "{\"__CLASS\": \"Msvm_EthernetSwitchPortSecuritySettingData\", " x "}"
    assert_int_equal(add_feature(&t, alloc, SEC("\"VirtualSubnetId\": 4095")), 32773);
    assert_int_equal(add_feature(&t, alloc, SEC("\"VirtualSubnetId\": 16777215")), 0);
    /* A feature needs a connection. */
    assert_int_equal(add_feature(&t, "Msvm_EthernetPortAllocationSettingData.InstanceID=\"x\"",
                                 VLAN("\"OperationMode\": 1, \"AccessVlanId\": 5")), 32773);
    free(alloc);
    t.cls->close(t.w);
}

static void test_jobs_and_counters(void **state)
{
    qwmi_transport t = open_model(NULL);
    char *alloc = connect_port(&t);
    qwmi_model_counters_reset(t.w);
    qwmi_model_fault_jobs(t.w, 3, 1, 32775, "The operation cannot be performed while the "
                                            "object is in its current state.");
    qj *in = J("{\"FeatureSettings\": [" VLAN("\"OperationMode\": 1, \"AccessVlanId\": 7") "]}");
    qj_set(in, "AffectedConfiguration", qj_str(alloc));
    qj *out = NULL;
    char err[256];
    assert_int_equal(t.cls->call(t.w, QWMI_NS_VIRT, VSMS, "AddFeatureSettings", in, &out, err,
                                 sizeof err), 0);
    assert_int_equal(qj_get(out, "ReturnValue")->u.i, QWMI_RET_JOB_STARTED);
    const char *job = qj_get_str(out, "Job");
    assert_non_null(job);
    qj *j = NULL;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, job, &j, err, sizeof err), 0);
        assert_int_equal(qj_get(j, "JobState")->u.i, 4);
        qj_free(j);
        /* Not visible while the job runs. */
        qj *rows = qwmi_model_instances(t.w, "Msvm_EthernetSwitchPortVlanSettingData");
        assert_int_equal(qj_len(rows), 0);
        qj_free(rows);
    }
    assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, job, &j, err, sizeof err), 0);
    assert_int_equal(qj_get(j, "JobState")->u.i, 10);
    assert_int_equal(qj_get(j, "ErrorCode")->u.i, 32775);
    assert_non_null(strstr(qj_get_str(j, "ErrorDescription"), "current state"));
    qj_free(j);
    qj_free(out);
    /* The failed job left nothing; the next one (not failing) does. */
    qj *rows = qwmi_model_instances(t.w, "Msvm_EthernetSwitchPortVlanSettingData");
    assert_int_equal(qj_len(rows), 0);
    qj_free(rows);
    assert_int_equal(t.cls->call(t.w, QWMI_NS_VIRT, VSMS, "AddFeatureSettings", in, &out, err,
                                 sizeof err), 0);
    job = qj_get_str(out, "Job");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t.cls->get(t.w, QWMI_NS_VIRT, job, &j, err, sizeof err), 0);
        qj_free(j);
    }
    rows = qwmi_model_instances(t.w, "Msvm_EthernetSwitchPortVlanSettingData");
    assert_int_equal(qj_len(rows), 1);
    qj_free(rows);
    qj_free(out);
    qwmi_model_counters c;
    qwmi_model_counters_get(t.w, &c);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.writes, 2);
    assert_int_equal(c.gets, 6);
    assert_int_equal(c.enumerations, 0);
    assert_int_equal(t.cls->query(t.w, QWMI_NS_VIRT, "SELECT * FROM "
                                  "Msvm_EthernetSwitchPortVlanSettingData WHERE AccessVlanId = "
                                  "'7'", &rows, err, sizeof err), 0);
    qj_free(rows);
    qwmi_model_counters_get(t.w, &c);
    assert_int_equal(c.enumerations, 1);
    qj_free(in);
    free(alloc);
    t.cls->close(t.w);
}

static void test_state_file(void **state)
{
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
    qwmi_model_add_nic(u.w, "vm", PORT, "FA163E000009");
    u.cls->close(u.w);
    qj *rows = qwmi_model_instances(t.w, "Msvm_SyntheticEthernetPortSettingData");
    assert_int_equal(qj_len(rows), 1);
    qj_free(rows);
    assert_int_equal(t.cls->query(t.w, "root\\cimv2", "SELECT * FROM Win32_OperatingSystem",
                                  &rows, err, sizeof err), 0);
    assert_string_equal(qj_get_str(qj_at(rows, 0), "Version"), "6.3.9600");
    qj_free(rows);
    t.cls->close(t.w);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_record_rules), cmocka_unit_test(test_route_rules),
        cmocka_unit_test(test_extended_acl_rules), cmocka_unit_test(test_vlan_rules),
        cmocka_unit_test(test_jobs_and_counters), cmocka_unit_test(test_state_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
