/* The hyperv backend on the WMI model: the exact WMI objects and calls for
 * the switch objects of src/agent/desired.h. */
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
#include "agent/reconcile.h"
#include "vswitch/hyperv/hyperv.h"
#include "vswitch/hyperv/wmi_model.h"
#include "vswitch/hyperv/wmi_path.h"
#include "lib/util.h"

#define P1 "11111111-0000-4000-8000-000000000001"
#define P2 "11111111-0000-4000-8000-000000000002"
#define P3 "11111111-0000-4000-8000-000000000003"
#define P4 "11111111-0000-4000-8000-000000000004"
#define P5 "11111111-0000-4000-8000-000000000005"
#define NET "22222222-0000-4000-8000-000000000001"
#define SG "33333333-0000-4000-8000-000000000001"
#define XACL "Msvm_EthernetSwitchPortExtendedAclSettingData"

typedef struct fx {
    qwmi_transport t;
    qvs *vs;
    char state[64];
    const char *version;
    int job_wait_ms;
    const char *pa_if;      /* [hyperv] provider_interface, or NULL (index 13) */
} fx;

static qvs *fx_backend(fx *f)
{
    qvs_options o = {.hyperv_transport = &f->t, .hyperv_state_file = f->state,
                     .provider_address = "192.168.1.1", .hyperv_pa_ifindex = f->pa_if ? 0 : 13,
                     .hyperv_pa_interface = f->pa_if,
                     .hyperv_pa_prefix_len = 24, .hyperv_pa_next_hop = "192.168.1.254",
                     .hyperv_job_wait_ms = f->job_wait_ms};
    qvs *vs = NULL;
    char err[256] = "";
    if (qvs_hyperv_class.open(&o, &vs, err, sizeof err) < 0)
        fail_msg("open: %s", err);
    return vs;
}

static fx *fx_new(const char *version)
{
    fx *f = xcalloc(1, sizeof *f);
    char err[256];
    assert_int_equal(qwmi_model_open(NULL, version, &f->t, err, sizeof err), 0);
    snprintf(f->state, sizeof f->state, "/tmp/qhv_test_hyperv_XXXXXX");
    int fd = mkstemp(f->state);
    close(fd);
    unlink(f->state);
    f->job_wait_ms = 50;
    qwmi_model_add_switch(f->t.w, "sw1");
    /* The provider NIC, with Windows Network Virtualization bound. */
    qwmi_model_add_netadapter(f->t.w, 13, "Ethernet 2", "00-15-5D-01-02-03", true);
    qwmi_model_add_nic(f->t.w, "vm1", P1, "FA163E000001");
    qwmi_model_add_nic(f->t.w, "vm2", P2, "FA163E000002");
    qwmi_model_add_nic(f->t.w, "vm3", P3, "FA163E000003");
    qwmi_model_add_nic(f->t.w, "vm4", "not-a-port-id", "FA163E000004");
    f->vs = fx_backend(f);
    return f;
}

static void fx_free(fx *f)
{
    qvs_hyperv_class.close(f->vs);
    f->t.cls->close(f->t.w);
    unlink(f->state);
    free(f);
}

/* One agent turn: dump, diff, operate. Returns the number of ops; *failed
 * (may be NULL) the ops that failed; why of the first failure. */
static size_t converge(fx *f, const qvs_map *desired, size_t *failed, qvs_op *first_failed)
{
    qvs_observed obs;
    char err[256];
    if (qvs_hyperv_class.dump(f->vs, &obs, err, sizeof err) < 0)
        fail_msg("dump: %s", err);
    qag_diff d;
    qag_diff_compute(desired, &obs, &d);
    size_t bad = d.nops ? qvs_hyperv_class.operate(f->vs, d.ops, d.nops) : 0;
    if (failed)
        *failed = bad;
    for (size_t i = 0; first_failed && i < d.nops; i++)
        if (d.ops[i].error) {
            *first_failed = d.ops[i];
            break;
        }
    size_t n = d.nops;
    qag_diff_free(&d);
    qvs_observed_free(&obs);
    return n;
}

/* The dump reports exactly the desired objects. */
static void assert_installed(fx *f, const qvs_map *desired)
{
    qvs_observed obs;
    char err[256];
    assert_int_equal(qvs_hyperv_class.dump(f->vs, &obs, err, sizeof err), 0);
    const char *k;
    qj *v;
    for (size_t i = 0; i < qvs_map_end(desired); i++)
        if (qvs_map_at(desired, i, &k, &v) && !qj_equal(v, qvs_map_get(obs.objects, k)))
            fail_msg("%s is not installed as wanted", k);
    assert_int_equal(qvs_map_size(obs.objects), qvs_map_size(desired));
    qvs_observed_free(&obs);
}

static qj *port_value(const char *type, int seg, const char *mac, bool ps)
{
    char *t = xasprintf("{\"vswitch\": \"sw1\", \"network_id\": \"" NET "\", \"network_type\": "
                        "\"%s\", \"%s\": %d, \"mac_address\": \"%s\", \"mtu\": 1500, "
                        "\"admin_state_up\": true, \"port_security\": %s, \"mac_spoofing\": %s, "
                        "\"dhcp_guard\": %s, \"router_guard\": %s}",
                        type, !strcmp(type, "vlan") ? "vlan" : "vsid", seg, mac,
                        ps ? "true" : "false", ps ? "false" : "true", ps ? "true" : "false",
                        ps ? "true" : "false");
    qj *v = J(t);
    free(t);
    return v;
}

static qj *acl_value(const char *port, const char *dir, const char *rules)
{
    char *t = xasprintf("{\"port_id\": \"%s\", \"direction\": \"%s\", \"default\": \"deny\", "
                        "\"stateful\": true, \"rules\": %s}", port, dir, rules);
    qj *v = J(t);
    free(t);
    return v;
}

static void put_port(qvs_map *d, const char *port, qj *value, const char *ingress,
                     const char *egress)
{
    char id[128];
    snprintf(id, sizeof id, "port/%s", port);
    qvs_map_put(d, id, value);
    if (ingress) {
        snprintf(id, sizeof id, "acl/%s/ingress", port);
        qvs_map_put(d, id, acl_value(port, "ingress", ingress));
    }
    if (egress) {
        snprintf(id, sizeof id, "acl/%s/egress", port);
        qvs_map_put(d, id, acl_value(port, "egress", egress));
    }
}

static qj *instances(fx *f, const char *cls) { return qwmi_model_instances(f->t.w, cls); }

static size_t count_where(const qj *rows, const char *k, int64_t v)
{
    size_t n = 0;
    for (size_t i = 0; i < qj_len(rows); i++) {
        const qj *x = qj_get(qj_at(rows, i), k);
        n += qj_is(x, QJ_INT) && x->u.i == v;
    }
    return n;
}

/* The extended ACL entry matching all of want's members, or NULL. */
static const qj *find_entry(const qj *rows, const char *want_json)
{
    qj *want = J(want_json);
    const qj *hit = NULL;
    for (size_t i = 0; !hit && i < qj_len(rows); i++) {
        const qj *r = qj_at(rows, i);
        bool ok = true;
        for (size_t k = 0; ok && k < want->u.obj.n; k++)
            ok = qj_equal(want->u.obj.m[k].val, qj_get(r, want->u.obj.m[k].key));
        if (ok)
            hit = r;
    }
    qj_free(want);
    return hit;
}

/* The host's number for a Values name of a NetWNV lookup record property. */
static int64_t lr_enum(fx *f, const char *prop, const char *name)
{
    qj *map = NULL;
    char err[256] = "";
    if (f->t.cls->value_map(f->t.w, QWMI_NS_STDCIMV2,
                            "MSFT_NetVirtualizationLookupRecordSettingData", prop, &map, err,
                            sizeof err) < 0)
        fail_msg("value_map %s: %s", prop, err);
    const char *v = qj_get_str(map, name);
    if (!v)
        fail_msg("no %s in the value map of %s", name, prop);
    int64_t n = strtoll(v, NULL, 10);
    qj_free(map);
    return n;
}

/* The one allocation of the NIC called port (realized copies only). */
static qj *alloc_of(fx *f, const char *port)
{
    qj *nics = instances(f, "Msvm_SyntheticEthernetPortSettingData");
    qj *as = instances(f, "Msvm_EthernetPortAllocationSettingData");
    qj *hit = NULL;
    for (size_t i = 0; i < qj_len(nics) && !hit; i++) {
        const qj *n = qj_at(nics, i);
        if (strcmp(qj_get_str(n, "ElementName") ? qj_get_str(n, "ElementName") : "", port))
            continue;
        for (size_t k = 0; k < qj_len(as) && !hit; k++)
            if (qwmi_path_same(qj_get_str(qj_at(as, k), "Parent"), qj_get_str(n, "__PATH")))
                hit = qj_clone(qj_at(as, k));
    }
    qj_free(nics);
    qj_free(as);
    return hit;
}

static qj *obj1(const char *k, qj *v)
{
    qj *o = qj_object();
    qj_set(o, k, v);
    return o;
}

/* Calls a Msvm_VirtualSystemManagementService method as an operator's tool
 * would; returns its ReturnValue. */
static int64_t vsms_call(fx *f, const char *method, qj *in)
{
    qj *rows = NULL, *out = NULL;
    char err[256] = "";
    if (f->t.cls->query(f->t.w, QWMI_NS_VIRT, "SELECT * FROM Msvm_VirtualSystemManagementService",
                        &rows, err, sizeof err) < 0)
        fail_msg("vsms: %s", err);
    if (f->t.cls->call(f->t.w, QWMI_NS_VIRT, qj_get_str(qj_at(rows, 0), "__PATH"), method, in,
                       &out, err, sizeof err) < 0)
        fail_msg("%s: %s", method, err);
    int64_t rv = qj_get_int(out, "ReturnValue", -1);
    qj_free(out);
    qj_free(rows);
    qj_free(in);
    return rv;
}

static qwmi_model_counters counters(fx *f)
{
    qwmi_model_counters c;
    qwmi_model_counters_get(f->t.w, &c);
    return c;
}

/* ---------- tests ---------- */

static void test_vlan_port(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("vlan", 101, "fa:16:3e:00:00:01", true), "[]", "[]");
    qwmi_model_counters_reset(f->t.w);
    size_t failed;
    assert_int_equal(converge(f, d, &failed, NULL), 3);
    assert_int_equal(failed, 0);
    /* Fail closed in four writes: the connection made disabled, VLAN and
     * security in one call, the ACL entries in another, then enabled. */
    qwmi_model_counters c = counters(f);
    assert_int_equal(c.writes, 4);
    qj *a = alloc_of(f, P1);
    assert_non_null(a);
    assert_string_equal(qj_get_str(a, "ElementName"), P1);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 2);
    assert_int_equal(qj_get(a, "ResourceType")->u.i, 33);
    assert_string_equal(qj_get_str(a, "ResourceSubType"), "Microsoft:Hyper-V:Ethernet Connection");
    qj *sw = instances(f, "Msvm_VirtualEthernetSwitch");
    assert_true(qwmi_path_same(qj_as_str(qj_at(qj_get(a, "HostResource"), 0)),
                               qj_get_str(qj_at(sw, 0), "__PATH")));
    qj *vl = instances(f, "Msvm_EthernetSwitchPortVlanSettingData");
    assert_int_equal(qj_len(vl), 1);
    assert_int_equal(qj_get(qj_at(vl, 0), "OperationMode")->u.i, 1);
    assert_int_equal(qj_get(qj_at(vl, 0), "AccessVlanId")->u.i, 101);
    qj *sec = instances(f, "Msvm_EthernetSwitchPortSecuritySettingData");
    assert_int_equal(qj_len(sec), 1);
    /* The right way round: no MAC spoofing, guards on. */
    assert_false(qj_get(qj_at(sec, 0), "AllowMacSpoofing")->u.b);
    assert_true(qj_get(qj_at(sec, 0), "EnableDhcpGuard")->u.b);
    assert_true(qj_get(qj_at(sec, 0), "EnableRouterGuard")->u.b);
    assert_int_equal(qj_get(qj_at(sec, 0), "VirtualSubnetId")->u.i, 0);
    /* Deny baseline per direction and family at weights 1 and 2, then the
     * implicit DHCP and ICMPv6 allowances. */
    qj *x = instances(f, XACL);
    assert_int_equal(qj_len(x), 10);
    for (size_t i = 0; i < qj_len(x); i++)
        assert_string_equal(qj_get_str(qj_at(x, i), "Name"), "qhv");
    assert_non_null(find_entry(x, "{\"Direction\": 1, \"Action\": 2, \"Weight\": 1, "
                                  "\"RemoteIPAddress\": \"0.0.0.0/0\", \"Protocol\": \"ANY\"}"));
    assert_non_null(find_entry(x, "{\"Direction\": 2, \"Action\": 2, \"Weight\": 2, "
                                  "\"RemoteIPAddress\": \"::/0\", \"Protocol\": \"ANY\"}"));
    assert_non_null(find_entry(x, "{\"Direction\": 2, \"Action\": 1, \"Protocol\": \"UDP\", "
                                  "\"LocalPort\": \"68\", \"RemotePort\": \"67\"}"));
    assert_installed(f, d);
    /* The unnamed NIC and the foreign-named one are no ports. */
    qvs_observed obs;
    char err[256];
    assert_int_equal(qvs_hyperv_class.dump(f->vs, &obs, err, sizeof err), 0);
    assert_int_equal(qvs_map_size(obs.nics), 3);
    assert_null(qvs_map_get(obs.nics, "not-a-port-id"));
    qvs_observed_free(&obs);
    qj_free(a);
    qj_free(sw);
    qj_free(vl);
    qj_free(sec);
    qj_free(x);
    qvs_map_free(d);
    fx_free(f);
}

static qvs_map *nvgre_desired(void)
{
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("nvgre", 5001, "fa:16:3e:00:00:01", true), "[]", "[]");
    const char *lr[] = {"10.1.0.5/fa:16:3e:00:00:01", "192.168.1.1", P1,
                        "10.1.0.9/fa:16:3e:00:00:09", "192.168.1.2", "p9",
                        "10.1.0.7/fa:16:3e:00:00:07", "192.168.1.3", "p7"};
    for (size_t i = 0; i < 9; i += 3) {
        char id[128], *t;
        const char *slash = strchr(lr[i], '/');
        snprintf(id, sizeof id, "lookup_record/5001/%s", lr[i]);
        t = xasprintf("{\"vsid\": 5001, \"customer_address\": \"%.*s\", \"mac_address\": \"%s\", "
                      "\"provider_address\": \"%s\", \"rule\": \"encap\", \"host\": \"h\", "
                      "\"port_id\": \"%s\"}", (int)(slash - lr[i]), lr[i], slash + 1, lr[i + 1],
                      lr[i + 2]);
        qvs_map_put(d, id, J(t));
        free(t);
    }
    qvs_map_put(d, "customer_route/5001/10.1.0.0/24",
                J("{\"vsid\": 5001, \"routing_domain\": \"" NET "\", \"destination\": "
                  "\"10.1.0.0/24\", \"next_hop\": \"0.0.0.0\"}"));
    qvs_map_put(d, "provider_address/192.168.1.1",
                J("{\"address\": \"192.168.1.1\", \"host\": \"h\"}"));
    return d;
}

static void test_nvgre_port(void **state)
{
    fx *f = fx_new("6.3.9600");
    qvs_map *d = nvgre_desired();
    size_t failed;
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    qj *lr = instances(f, "MSFT_NetVirtualizationLookupRecordSettingData");
    /* The three records of the plan (one per host) and the port's L2Only. */
    assert_int_equal(qj_len(lr), 4);
    assert_int_equal(count_where(lr, "Rule", lr_enum(f, "Rule", "TranslationMethodEncap")), 4);
    assert_int_equal(count_where(lr, "Type", lr_enum(f, "Type", "L2Only")), 1);
    const qj *l2 = find_entry(lr, "{\"CustomerAddress\": \"0.0.0.0\", \"MACAddress\": "
                                  "\"FA163E000001\", \"ProviderAddress\": \"192.168.1.1\", "
                                  "\"VirtualSubnetID\": 5001, \"VMName\": \"" P1 "\"}");
    assert_non_null(l2);
    const qj *r9 = find_entry(lr, "{\"CustomerAddress\": \"10.1.0.9\", \"MACAddress\": "
                                  "\"FA163E000009\", \"ProviderAddress\": \"192.168.1.2\", "
                                  "\"Context\": \"qhv\"}");
    assert_non_null(r9);
    assert_int_equal(qj_get_int(r9, "Type", -1), lr_enum(f, "Type", "Static"));
    assert_non_null(find_entry(lr, "{\"CustomerAddress\": \"10.1.0.7\", \"ProviderAddress\": "
                                   "\"192.168.1.3\"}"));
    qj *cr = instances(f, "MSFT_NetVirtualizationCustomerRouteSettingData");
    assert_int_equal(qj_len(cr), 1);
    assert_string_equal(qj_get_str(qj_at(cr, 0), "RoutingDomainID"), "{" NET "}");
    assert_string_equal(qj_get_str(qj_at(cr, 0), "NextHop"), "0.0.0.0");
    qj *pa = instances(f, "MSFT_NetVirtualizationProviderAddressSettingData");
    assert_int_equal(qj_len(pa), 1);
    assert_int_equal(qj_get(qj_at(pa, 0), "InterfaceIndex")->u.i, 13);
    assert_int_equal(qj_get(qj_at(pa, 0), "PrefixLength")->u.i, 24);
    qj *pr = instances(f, "MSFT_NetVirtualizationProviderRouteSettingData");
    assert_int_equal(qj_len(pr), 1);
    assert_string_equal(qj_get_str(qj_at(pr, 0), "NextHop"), "192.168.1.254");
    qj *sec = instances(f, "Msvm_EthernetSwitchPortSecuritySettingData");
    assert_int_equal(qj_get(qj_at(sec, 0), "VirtualSubnetId")->u.i, 5001);
    qj *vl = instances(f, "Msvm_EthernetSwitchPortVlanSettingData");
    assert_int_equal(qj_len(vl), 0);
    assert_installed(f, d);
    /* A remote port goes: its record is removed, nothing else is touched. */
    qvs_map_del(d, "lookup_record/5001/10.1.0.7/fa:16:3e:00:00:07");
    qwmi_model_counters_reset(f->t.w);
    assert_int_equal(converge(f, d, &failed, NULL), 1);
    assert_int_equal(counters(f).writes, 1);
    qj_free(lr);
    lr = instances(f, "MSFT_NetVirtualizationLookupRecordSettingData");
    assert_int_equal(qj_len(lr), 3);
    assert_null(find_entry(lr, "{\"CustomerAddress\": \"10.1.0.7\"}"));
    /* A reboot: the NetWNV objects are gone and come back. */
    qwmi_model_reboot(f->t.w);
    assert_int_equal(converge(f, d, &failed, NULL), 5);
    assert_int_equal(failed, 0);
    assert_installed(f, d);
    /* The VM is deleted (its NIC goes, the port stays in the plan): the
     * agent no longer wants its port objects; its L2Only record goes too. */
    assert_int_equal(qwmi_model_del_nic(f->t.w, P1), 1);
    qvs_map_del(d, "port/" P1);
    qvs_map_del(d, "acl/" P1 "/ingress");
    qvs_map_del(d, "acl/" P1 "/egress");
    for (int i = 0; i < 3; i++)
        converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    qj_free(lr);
    lr = instances(f, "MSFT_NetVirtualizationLookupRecordSettingData");
    assert_int_equal(qj_len(lr), 2);
    assert_null(find_entry(lr, "{\"CustomerAddress\": \"0.0.0.0\"}"));
    assert_installed(f, d);
    qj_free(lr);
    qj_free(cr);
    qj_free(pa);
    qj_free(pr);
    qj_free(sec);
    qj_free(vl);
    qvs_map_free(d);
    fx_free(f);
}

static void test_ip_rewrite_port(void **state)
{
    fx *f = fx_new("6.3.9600");
    qvs_map *d = qvs_map_new();
    put_port(d, P2, port_value("ip_rewrite", 6001, "fa:16:3e:00:00:02", true), "[]", "[]");
    qvs_map_put(d, "lookup_record/6001/10.2.0.5/fa:16:3e:00:00:02",
                J("{\"vsid\": 6001, \"customer_address\": \"10.2.0.5\", \"mac_address\": "
                  "\"fa:16:3e:00:00:02\", \"provider_address\": \"192.168.2.5\", \"rule\": "
                  "\"rewrite\", \"host\": \"h\", \"port_id\": \"" P2 "\"}"));
    /* The host's PA and the rewrite PA of the customer address (one per CA,
     * from the server's pool); an operator's PA on another interface. */
    qvs_map_put(d, "provider_address/192.168.1.1",
                J("{\"address\": \"192.168.1.1\", \"host\": \"h\"}"));
    qvs_map_put(d, "provider_address/192.168.2.5",
                J("{\"address\": \"192.168.2.5\", \"host\": \"h\"}"));
    char err[256];
    qwmi_model_add_netadapter(f->t.w, 7, "Ethernet 7", "00-15-5D-01-02-07", true);
    qj *op_pa = J("{\"__CLASS\": \"MSFT_NetVirtualizationProviderAddressSettingData\", "
                  "\"ProviderAddress\": \"172.16.0.9\", \"InterfaceIndex\": 7, "
                  "\"PrefixLength\": 16}");
    assert_int_equal(f->t.cls->put_instance(f->t.w, QWMI_NS_STDCIMV2, op_pa, NULL, err, sizeof err),
                     0);
    qj_free(op_pa);
    size_t failed;
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    qj *pas = instances(f, "MSFT_NetVirtualizationProviderAddressSettingData");
    assert_int_equal(qj_len(pas), 3);
    assert_non_null(find_entry(pas, "{\"ProviderAddress\": \"192.168.2.5\", "
                                    "\"InterfaceIndex\": 13, \"PrefixLength\": 24}"));
    qj_free(pas);
    qvs_observed obs;
    assert_int_equal(qvs_hyperv_class.dump(f->vs, &obs, err, sizeof err), 0);
    assert_non_null(qvs_map_get(obs.foreign, "provider_address/172.16.0.9"));
    qvs_observed_free(&obs);
    /* The rewrite PA goes; the provider route stays with the host's PA. */
    qvs_map_del(d, "provider_address/192.168.2.5");
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    pas = instances(f, "MSFT_NetVirtualizationProviderAddressSettingData");
    assert_int_equal(qj_len(pas), 2);
    qj_free(pas);
    qj *prs = instances(f, "MSFT_NetVirtualizationProviderRouteSettingData");
    assert_int_equal(qj_len(prs), 1);
    qj_free(prs);
    qj *lr = instances(f, "MSFT_NetVirtualizationLookupRecordSettingData");
    /* TranslationMethodNat, and no L2Only record (that one is NVGRE's). */
    assert_int_equal(qj_len(lr), 1);
    assert_int_equal(qj_get(qj_at(lr, 0), "Rule")->u.i, lr_enum(f, "Rule", "TranslationMethodNat"));
    assert_string_equal(qj_get_str(qj_at(lr, 0), "ProviderAddress"), "192.168.2.5");
    qj *sec = instances(f, "Msvm_EthernetSwitchPortSecuritySettingData");
    assert_int_equal(qj_get(qj_at(sec, 0), "VirtualSubnetId")->u.i, 6001);
    assert_installed(f, d);
    qj_free(lr);
    qj_free(sec);
    qvs_map_free(d);
    fx_free(f);
}

#define SG_INGRESS \
    "[{\"ethertype\": \"IPv4\", \"protocol\": 6, \"port_range_min\": 8000, \"port_range_max\": " \
    "8080, \"remote_ip_prefixes\": [\"10.0.0.0/8\"], \"remote_address_sets\": []}," \
    " {\"ethertype\": \"IPv4\", \"protocol\": 1, \"port_range_min\": null, \"port_range_max\": " \
    "null, \"remote_ip_prefixes\": null, \"remote_address_sets\": []}," \
    " {\"ethertype\": \"IPv4\", \"protocol\": 1, \"port_range_min\": 8, \"port_range_max\": 0, " \
    "\"remote_ip_prefixes\": [\"192.0.2.0/24\"], \"remote_address_sets\": []}," \
    " {\"ethertype\": \"IPv4\", \"protocol\": null, \"port_range_min\": null, " \
    "\"port_range_max\": null, \"remote_ip_prefixes\": [], \"remote_address_sets\": [\"" SG \
    "/IPv4\"]}]"
#define SG_EGRESS \
    "[{\"ethertype\": \"IPv6\", \"protocol\": 17, \"port_range_min\": 53, \"port_range_max\": 53, " \
    "\"remote_ip_prefixes\": [\"fd00::5/128\"], \"remote_address_sets\": []}]"

static qvs_map *sg_desired(const char *ingress, const char *members)
{
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("vlan", 101, "fa:16:3e:00:00:01", true), ingress, SG_EGRESS);
    char *t = xasprintf("{\"group_id\": \"" SG "\", \"ethertype\": \"IPv4\", \"addresses\": %s}",
                        members);
    qvs_map_put(d, "address_set/" SG "/IPv4", J(t));
    free(t);
    return d;
}

static void test_security_group(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = sg_desired(SG_INGRESS, "[\"10.0.0.5/32\", \"10.0.0.6/32\"]");
    size_t failed;
    qvs_op bad = {0};
    converge(f, d, &failed, &bad);
    /* ICMP type/code is reported, never silently dropped. */
    assert_int_equal(failed, 1);
    assert_int_equal(bad.error, -EOPNOTSUPP);
    assert_string_equal(bad.id, "acl/" P1 "/ingress");
    assert_non_null(strstr(bad.why, "ICMP type/code"));
    qj *x = instances(f, XACL);
    /* Ingress: 2 denies, 3 implicit, tcp range, icmp, 2 members x (TCP,
     * UDP, ANY); egress: 2 denies, 3 implicit, udp 53. */
    assert_int_equal(count_where(x, "Direction", 1), 2 + 3 + 1 + 1 + 6);
    assert_int_equal(count_where(x, "Direction", 2), 2 + 3 + 1);
    const qj *tcp = find_entry(x, "{\"Direction\": 1, \"Action\": 1, \"Protocol\": \"TCP\", "
                                  "\"LocalPort\": \"8000-8080\", \"RemotePort\": \"ANY\", "
                                  "\"RemoteIPAddress\": \"10.0.0.0/8\", \"Stateful\": true}");
    assert_non_null(tcp);
    assert_true(qj_get(tcp, "Weight")->u.i >= 32768);
    const qj *icmp = find_entry(x, "{\"Direction\": 1, \"Protocol\": \"1\", \"RemoteIPAddress\": "
                                   "\"0.0.0.0/0\", \"Stateful\": false}");
    assert_non_null(icmp);
    assert_true(qj_get(icmp, "Weight")->u.i >= 100 && qj_get(icmp, "Weight")->u.i < 32768);
    assert_null(find_entry(x, "{\"RemoteIPAddress\": \"192.0.2.0/24\"}"));
    for (int m = 5; m <= 6; m++) {
        char w[160];
        snprintf(w, sizeof w, "{\"Direction\": 1, \"Protocol\": \"UDP\", \"Stateful\": true, "
                              "\"RemoteIPAddress\": \"10.0.0.%d/32\"}", m);
        assert_non_null(find_entry(x, w));
        snprintf(w, sizeof w, "{\"Direction\": 1, \"Protocol\": \"ANY\", \"Stateful\": false, "
                              "\"Action\": 1, \"RemoteIPAddress\": \"10.0.0.%d/32\"}", m);
        assert_non_null(find_entry(x, w));
    }
    /* Egress port ranges are the remote (destination) port; no /128. */
    assert_non_null(find_entry(x, "{\"Direction\": 2, \"Protocol\": \"UDP\", \"LocalPort\": "
                                  "\"ANY\", \"RemotePort\": \"53\", \"RemoteIPAddress\": "
                                  "\"fd00::5\", \"Stateful\": true}"));
    /* Weights unique per direction. */
    for (size_t i = 0; i < qj_len(x); i++)
        for (size_t k = i + 1; k < qj_len(x); k++)
            assert_false(qj_get(qj_at(x, i), "Weight")->u.i ==
                             qj_get(qj_at(x, k), "Weight")->u.i &&
                         qj_get(qj_at(x, i), "Direction")->u.i ==
                             qj_get(qj_at(x, k), "Direction")->u.i);
    /* What could be expressed is in force: the dump says so. */
    assert_installed(f, d);
    qj_free(x);
    qvs_map_free(d);
    fx_free(f);
}

/* stateful-security-group: a stateless group's entries are all written
 * with Stateful false (Hyper-V keeps state per entry, so it can say it), a
 * protocol "any" is one ANY entry, and everything lands in the stateless
 * band. */
static void test_stateless_security_group(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = sg_desired(SG_INGRESS, "[\"10.0.0.5/32\"]");
    for (int k = 0; k < 2; k++) {
        char id[128];
        snprintf(id, sizeof id, "acl/%s/%s", P1, k ? "egress" : "ingress");
        qj *a = qj_clone(qvs_map_get(d, id));
        qj_set(a, "stateful", qj_bool(false));
        qvs_map_put(d, id, a);
    }
    converge(f, d, NULL, NULL);
    qj *x = instances(f, XACL);
    assert_true(qj_len(x) > 0);
    for (size_t i = 0; i < qj_len(x); i++) {
        assert_false(qj_get_bool(qj_at(x, i), "Stateful", true));
        assert_true(qj_get(qj_at(x, i), "Weight")->u.i < 32768);
    }
    assert_non_null(find_entry(x, "{\"Direction\": 1, \"Protocol\": \"TCP\", \"LocalPort\": "
                                  "\"8000-8080\", \"Stateful\": false}"));
    assert_non_null(find_entry(x, "{\"Direction\": 1, \"Protocol\": \"ANY\", "
                                  "\"RemoteIPAddress\": \"10.0.0.5/32\", \"Stateful\": false}"));
    assert_null(find_entry(x, "{\"Direction\": 1, \"Protocol\": \"UDP\", "
                              "\"RemoteIPAddress\": \"10.0.0.5/32\"}"));
    assert_non_null(find_entry(x, "{\"Direction\": 2, \"Protocol\": \"UDP\", \"RemotePort\": "
                                  "\"53\", \"Stateful\": false}"));
    assert_installed(f, d);
    qj_free(x);
    qvs_map_free(d);
    fx_free(f);
}

static void test_rule_change_is_a_diff(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = sg_desired(SG_INGRESS, "[\"10.0.0.5/32\"]");
    converge(f, d, NULL, NULL);
    qj *before = instances(f, XACL);
    const qj *kept = find_entry(before, "{\"Direction\": 1, \"Protocol\": \"1\"}");
    char *kept_iid = xstrdup(qj_get_str(kept, "InstanceID"));
    /* tcp 8000-8080 goes, tcp 22 comes. */
    qvs_map_free(d);
    d = sg_desired("[{\"ethertype\": \"IPv4\", \"protocol\": 6, \"port_range_min\": 22, "
                   "\"port_range_max\": 22, \"remote_ip_prefixes\": [\"10.0.0.0/8\"], "
                   "\"remote_address_sets\": []},"
                   " {\"ethertype\": \"IPv4\", \"protocol\": 1, \"port_range_min\": null, "
                   "\"port_range_max\": null, \"remote_ip_prefixes\": null, "
                   "\"remote_address_sets\": []},"
                   " {\"ethertype\": \"IPv4\", \"protocol\": null, \"port_range_min\": null, "
                   "\"port_range_max\": null, \"remote_ip_prefixes\": [], "
                   "\"remote_address_sets\": [\"" SG "/IPv4\"]}]",
                   "[\"10.0.0.5/32\"]");
    qwmi_model_counters_reset(f->t.w);
    size_t failed;
    assert_int_equal(converge(f, d, &failed, NULL), 1);
    assert_int_equal(failed, 0);
    /* One RemoveFeatureSettings, one AddFeatureSettings. */
    assert_int_equal(counters(f).writes, 2);
    qj *after = instances(f, XACL);
    assert_int_equal(qj_len(after), qj_len(before));
    assert_null(find_entry(after, "{\"LocalPort\": \"8000-8080\"}"));
    assert_non_null(find_entry(after, "{\"Direction\": 1, \"LocalPort\": \"22\", \"Protocol\": "
                                      "\"TCP\", \"Stateful\": true}"));
    /* Untouched entries are the same instances. */
    assert_string_equal(qj_get_str(find_entry(after, "{\"Direction\": 1, \"Protocol\": \"1\"}"),
                                   "InstanceID"), kept_iid);
    assert_installed(f, d);
    free(kept_iid);
    qj_free(before);
    qj_free(after);
    qvs_map_free(d);
    fx_free(f);
}

static void test_restart_writes_nothing(void **state)
{
    fx *f = fx_new("6.3.9600");
    qvs_map *d = nvgre_desired();
    put_port(d, P2, port_value("vlan", 7, "fa:16:3e:00:00:02", true), SG_EGRESS, "[]");
    converge(f, d, NULL, NULL);
    qvs_hyperv_class.close(f->vs);
    f->vs = fx_backend(f);
    qwmi_model_counters_reset(f->t.w);
    assert_int_equal(converge(f, d, NULL, NULL), 0);
    qwmi_model_counters c = counters(f);
    assert_int_equal(c.writes, 0);
    assert_int_equal(c.calls, 0);
    /* One enumeration per class: switch, realized VM settings, NIC, legacy
     * NIC, allocation, VLAN, security, ACL and the four NetWNV classes. */
    assert_int_equal(c.enumerations, 12);
    qvs_map_free(d);
    fx_free(f);
}

static void test_nic_recreated(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = qvs_map_new();
    put_port(d, P3, port_value("vlan", 300, "fa:16:3e:00:00:03", true), "[]", "[]");
    converge(f, d, NULL, NULL);
    /* The VM is rebuilt: same port id, new NIC, new (empty) switch port. */
    assert_int_equal(qwmi_model_del_nic(f->t.w, P3), 1);
    qwmi_model_add_nic(f->t.w, "vm3", P3, "FA163E000003");
    qwmi_model_counters_reset(f->t.w);
    size_t failed;
    assert_int_equal(converge(f, d, &failed, NULL), 3);
    assert_int_equal(failed, 0);
    assert_int_equal(counters(f).writes, 4);
    qj *vl = instances(f, "Msvm_EthernetSwitchPortVlanSettingData");
    assert_int_equal(qj_len(vl), 1);
    assert_int_equal(qj_get(qj_at(vl, 0), "AccessVlanId")->u.i, 300);
    assert_installed(f, d);
    qj_free(vl);
    qvs_map_free(d);
    fx_free(f);
}

static void test_failing_job_retried(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("vlan", 101, "fa:16:3e:00:00:01", true), "[]", "[]");
    /* Every call starts a job; the first one fails. */
    qwmi_model_fault_jobs(f->t.w, 2, 1, 32775, "The virtual machine is in an invalid state.");
    size_t failed;
    qvs_op bad = {0};
    converge(f, d, &failed, &bad);
    assert_int_equal(failed, 3);
    assert_int_equal(bad.error, -EAGAIN);
    assert_non_null(strstr(bad.why, "invalid state"));
    assert_non_null(strstr(bad.why, "ErrorCode 32775"));
    /* The next attempt (jobs succeed) completes the port. */
    assert_int_equal(converge(f, d, &failed, NULL), 3);
    assert_int_equal(failed, 0);
    assert_installed(f, d);
    /* A job that runs longer than job_wait_ms: -EINPROGRESS, picked up later. */
    qvs_map_put(d, "port/" P1, port_value("vlan", 102, "fa:16:3e:00:00:01", true));
    qwmi_model_fault_jobs(f->t.w, 1000, 0, 0, NULL);
    converge(f, d, &failed, &bad);
    assert_int_equal(failed, 1);
    assert_int_equal(bad.error, -EINPROGRESS);
    /* Hyper-V reports success without applying the VLAN: read back, failed. */
    qwmi_model_fault_jobs(f->t.w, 0, 0, 0, NULL);
    qvs_hyperv_class.close(f->vs);
    f->vs = fx_backend(f);  /* (forgets the endless job) */
    qwmi_model_fault_drop(f->t.w, "Msvm_EthernetSwitchPortVlanSettingData");
    converge(f, d, &failed, &bad);
    assert_int_equal(failed, 1);
    assert_int_equal(bad.error, -EIO);
    assert_non_null(strstr(bad.why, "VLAN"));
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    assert_installed(f, d);
    qvs_map_free(d);
    fx_free(f);
}

static void test_membership_change(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = qvs_map_new();
    const char *rules = "[{\"ethertype\": \"IPv4\", \"protocol\": 6, \"port_range_min\": 22, "
                        "\"port_range_max\": 22, \"remote_ip_prefixes\": [], "
                        "\"remote_address_sets\": [\"" SG "/IPv4\"]}]";
    put_port(d, P1, port_value("vlan", 1, "fa:16:3e:00:00:01", true), rules, "[]");
    put_port(d, P2, port_value("vlan", 1, "fa:16:3e:00:00:02", true), rules, "[]");
    put_port(d, P3, port_value("vlan", 1, "fa:16:3e:00:00:03", true), "[]", "[]");
    qvs_map_put(d, "address_set/" SG "/IPv4",
                J("{\"group_id\": \"" SG "\", \"ethertype\": \"IPv4\", \"addresses\": "
                  "[\"10.0.0.5/32\"]}"));
    converge(f, d, NULL, NULL);
    qvs_map_put(d, "address_set/" SG "/IPv4",
                J("{\"group_id\": \"" SG "\", \"ethertype\": \"IPv4\", \"addresses\": "
                  "[\"10.0.0.5/32\", \"10.0.0.6/32\"]}"));
    qwmi_model_counters_reset(f->t.w);
    size_t failed;
    assert_int_equal(converge(f, d, &failed, NULL), 1);
    assert_int_equal(failed, 0);
    /* One AddFeatureSettings per port naming the set; P3 untouched. */
    assert_int_equal(counters(f).writes, 2);
    qj *x = instances(f, XACL);
    assert_int_equal(qj_len(x), 3 * 10 + 2 * 2);
    qj_free(x);
    assert_installed(f, d);
    qvs_map_free(d);
    fx_free(f);
}

static void test_port_security_off_and_admin_down(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("vlan", 5, "fa:16:3e:00:00:01", true), SG_EGRESS, "[]");
    converge(f, d, NULL, NULL);
    qvs_map_free(d);
    d = qvs_map_new();
    qj *v = port_value("vlan", 5, "fa:16:3e:00:00:01", false);
    qj_set(v, "admin_state_up", qj_bool(false));
    put_port(d, P1, v, NULL, NULL);
    size_t failed;
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    qj *x = instances(f, XACL);
    assert_int_equal(qj_len(x), 0);
    qj *sec = instances(f, "Msvm_EthernetSwitchPortSecuritySettingData");
    assert_true(qj_get(qj_at(sec, 0), "AllowMacSpoofing")->u.b);
    assert_false(qj_get(qj_at(sec, 0), "EnableDhcpGuard")->u.b);
    qj *a = alloc_of(f, P1);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 3);
    assert_installed(f, d);
    /* The port leaves the plan: its switch port goes. */
    qvs_map_clear(d);
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    qj_free(a);
    assert_null(alloc_of(f, P1));
    qj_free(x);
    qj_free(sec);
    qvs_map_free(d);
    fx_free(f);
}

static void test_foreign_and_orphans(void **state)
{
    fx *f = fx_new("6.3.9600");
    /* An operator's record under an id qhv wants: foreign, never touched. */
    qj *rec = J("{\"__CLASS\": \"MSFT_NetVirtualizationLookupRecordSettingData\", "
                "\"VirtualSubnetID\": 5001, \"CustomerAddress\": \"10.1.0.9\", \"MACAddress\": "
                "\"FA163E000009\", \"ProviderAddress\": \"192.168.9.9\", \"Rule\": 1}");
    char err[256];
    assert_int_equal(f->t.cls->put_instance(f->t.w, QWMI_NS_STDCIMV2, rec, NULL, err, sizeof err), 0);
    qj_free(rec);
    qvs_map *d = nvgre_desired();
    qvs_observed obs;
    assert_int_equal(qvs_hyperv_class.dump(f->vs, &obs, err, sizeof err), 0);
    assert_non_null(qvs_map_get(obs.foreign, "lookup_record/5001/10.1.0.9/fa:16:3e:00:00:09"));
    qag_diff diff;
    qag_diff_compute(d, &obs, &diff);
    assert_int_equal(diff.nconflicts, 1);
    qag_diff_free(&diff);
    qvs_observed_free(&obs);
    converge(f, d, NULL, NULL);
    qj *lr = instances(f, "MSFT_NetVirtualizationLookupRecordSettingData");
    assert_non_null(find_entry(lr, "{\"CustomerAddress\": \"10.1.0.9\", \"ProviderAddress\": "
                                   "\"192.168.9.9\"}"));
    qj_free(lr);
    /* The agent's state file is lost: qhv's marked objects are orphans the
     * diff deletes when they are no longer wanted. */
    qvs_hyperv_class.close(f->vs);
    unlink(f->state);
    f->vs = fx_backend(f);
    qvs_map *none = qvs_map_new();
    size_t failed;
    converge(f, none, &failed, NULL);
    assert_int_equal(failed, 0);
    lr = instances(f, "MSFT_NetVirtualizationLookupRecordSettingData");
    assert_int_equal(qj_len(lr), 1);    /* the operator's */
    qj_free(lr);
    assert_null(alloc_of(f, P1));
    qj *cr = instances(f, "MSFT_NetVirtualizationCustomerRouteSettingData");
    assert_int_equal(qj_len(cr), 0);
    qj_free(cr);
    /* A VLAN setting someone else made on qhv's connection (an operator's
     * Set-VMNetworkAdapterVlan: qhv's removed, another added): the port is
     * foreign, its op fails -EPERM with the reason, nothing is changed. */
    qvs_map *one = qvs_map_new();
    put_port(one, P1, port_value("vlan", 5, "fa:16:3e:00:00:01", true), NULL, NULL);
    converge(f, one, NULL, NULL);
    qj *vl = instances(f, "Msvm_EthernetSwitchPortVlanSettingData");
    assert_int_equal(qj_len(vl), 1);
    qj *rm = qj_array();
    qj_append(rm, qj_clone(qj_get(qj_at(vl, 0), "__PATH")));
    assert_int_equal(vsms_call(f, "RemoveFeatureSettings", obj1("FeatureSettings", rm)), 0);
    qj *a1 = alloc_of(f, P1);
    qj *nv = qj_clone(qj_at(vl, 0));
    qj_remove(nv, "__PATH");
    qj_remove(nv, "InstanceID");
    qj_set(nv, "AccessVlanId", qj_int(77));
    qj *adds = qj_array();
    qj_append(adds, nv);
    qj *in = qj_object();
    qj_set(in, "AffectedConfiguration", qj_clone(qj_get(a1, "__PATH")));
    qj_set(in, "FeatureSettings", adds);
    assert_int_equal(vsms_call(f, "AddFeatureSettings", in), 0);
    qj_free(a1);
    qj_free(vl);
    assert_int_equal(qvs_hyperv_class.dump(f->vs, &obs, err, sizeof err), 0);
    assert_non_null(qvs_map_get(obs.foreign, "port/" P1));
    assert_non_null(strstr(qj_get_str(qvs_map_get(obs.foreign, "port/" P1), "why"), "VLAN"));
    qvs_observed_free(&obs);
    size_t failed1;
    qvs_op bad = {0};
    qwmi_model_counters_reset(f->t.w);
    converge(f, one, &failed1, &bad);
    assert_int_equal(counters(f).writes, 0);
    vl = instances(f, "Msvm_EthernetSwitchPortVlanSettingData");
    assert_int_equal(qj_get(qj_at(vl, 0), "AccessVlanId")->u.i, 77);
    qj_free(vl);
    qvs_map_free(one);
    qvs_map_free(none);
    qvs_map_free(d);
    fx_free(f);
}

/* The state file is lost and the agent applies one op at a time (its first
 * batches hold one op): the port/ op alone leaves the ACL entries in place. */
static void test_port_op_alone_keeps_acls(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("vlan", 5, "fa:16:3e:00:00:01", true), SG_EGRESS, "[]");
    converge(f, d, NULL, NULL);
    qj *before = instances(f, XACL);
    qvs_hyperv_class.close(f->vs);
    unlink(f->state);
    f->vs = fx_backend(f);
    qvs_op op = {.type = QVS_UPDATE, .id = "port/" P1,
                 .value = qvs_map_get(d, "port/" P1)};
    assert_int_equal(qvs_hyperv_class.operate(f->vs, &op, 1), 0);
    qj *after = instances(f, XACL);
    assert_int_equal(qj_len(after), qj_len(before));
    qj_free(after);
    /* The acl/ ops that follow find the entries as wanted: no write. */
    qwmi_model_counters_reset(f->t.w);
    size_t failed;
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    assert_int_equal(counters(f).writes, 0);
    assert_installed(f, d);
    qj_free(before);
    qvs_map_free(d);
    fx_free(f);
}

static void test_versions(void **state)
{
    /* 2012: port ACLs, addresses only; port_filter false with the reason. */
    fx *f = fx_new("6.2.9200");
    qj *caps = qvs_hyperv_class.capabilities(f->vs);
    assert_false(qj_get(caps, "port_filter")->u.b);
    assert_non_null(qj_get_str(caps, "port_filter_reason"));
    assert_int_equal(qj_len(qj_get(caps, "network_types")), 5);
    qj_free(caps);
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("vlan", 5, "fa:16:3e:00:00:01", true),
             "[{\"ethertype\": \"IPv4\", \"protocol\": null, \"port_range_min\": null, "
             "\"port_range_max\": null, \"remote_ip_prefixes\": [\"10.0.0.0/8\"], "
             "\"remote_address_sets\": []},"
             " {\"ethertype\": \"IPv4\", \"protocol\": 6, \"port_range_min\": 22, "
             "\"port_range_max\": 22, \"remote_ip_prefixes\": null, \"remote_address_sets\": []}]",
             "[{\"ethertype\": \"IPv6\", \"protocol\": null, \"port_range_min\": null, "
             "\"port_range_max\": null, \"remote_ip_prefixes\": null, "
             "\"remote_address_sets\": []}]");
    size_t failed;
    qvs_op bad = {0};
    converge(f, d, &failed, &bad);
    assert_int_equal(bad.error, -EOPNOTSUPP);
    qj *acl = instances(f, "Msvm_EthernetSwitchPortAclSettingData");
    /* Ingress: deny v4, deny v6, allow 10.0.0.0/8, allow fe80::/10 (ND);
     * egress: deny v4 and allow the DHCP broadcast (IPv6 is open: no
     * wildcard Allow/Deny tie). DHCP and ND are never cut. */
    assert_int_equal(qj_len(acl), 6);
    assert_non_null(find_entry(acl, "{\"Direction\": 1, \"Action\": 1, \"AclType\": 2, "
                                    "\"RemoteAddress\": \"10.0.0.0\", "
                                    "\"RemoteAddressPrefixLength\": 8}"));
    assert_non_null(find_entry(acl, "{\"Direction\": 1, \"Action\": 1, \"AclType\": 3, "
                                    "\"RemoteAddress\": \"fe80::\", "
                                    "\"RemoteAddressPrefixLength\": 10}"));
    assert_non_null(find_entry(acl, "{\"Direction\": 2, \"Action\": 1, \"AclType\": 2, "
                                    "\"RemoteAddress\": \"255.255.255.255\", "
                                    "\"RemoteAddressPrefixLength\": 32}"));
    assert_null(find_entry(acl, "{\"Direction\": 2, \"AclType\": 3}"));
    for (size_t i = 0; i < qj_len(acl); i++)
        assert_string_equal(qj_get_str(qj_at(acl, i), "Name"), "qhv");
    assert_installed(f, d);
    qj_free(acl);
    qvs_map_free(d);
    fx_free(f);
    /* 2019: no HNV v1. */
    f = fx_new("10.0.17763");
    caps = qvs_hyperv_class.capabilities(f->vs);
    assert_true(qj_get(caps, "port_filter")->u.b);
    assert_int_equal(qj_len(qj_get(caps, "network_types")), 3);
    assert_non_null(strstr(qj_as_str(qj_at(qj_get(caps, "not_enforced"), 0)), "anti-spoofing"));
    qj_free(caps);
    d = nvgre_desired();
    converge(f, d, &failed, &bad);
    assert_true(failed >= 3);
    qvs_map_free(d);
    fx_free(f);
}


/* Fail closed: the ACL entries "succeed" without being applied; the read
 * back catches it before the connection is enabled, and the port stays
 * disabled until the next attempt has everything in place. */
static void test_fail_closed(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("vlan", 101, "fa:16:3e:00:00:01", true), SG_EGRESS, "[]");
    qwmi_model_fault_drop(f->t.w, XACL);
    size_t failed;
    qvs_op bad = {0};
    converge(f, d, &failed, &bad);
    assert_true(failed >= 1);
    assert_int_equal(bad.error, -EIO);
    assert_non_null(strstr(bad.why, "ACL"));
    qj *a = alloc_of(f, P1);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 3);
    qj_free(a);
    qvs_observed obs;
    char err[256];
    assert_int_equal(qvs_hyperv_class.dump(f->vs, &obs, err, sizeof err), 0);
    assert_null(qvs_map_get(obs.objects, "port/" P1));
    qvs_observed_free(&obs);
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    a = alloc_of(f, P1);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 2);
    qj_free(a);
    assert_installed(f, d);
    /* An enabled port whose rule change fails is disabled, not left half
     * configured, until the change goes in. */
    qj_set(qvs_map_get(d, "acl/" P1 "/ingress"), "rules", J(SG_INGRESS));
    qwmi_model_fault_drop(f->t.w, XACL);
    converge(f, d, &failed, &bad);
    assert_int_equal(bad.error, -EIO);
    a = alloc_of(f, P1);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 3);
    qj_free(a);
    converge(f, d, &failed, NULL);
    a = alloc_of(f, P1);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 2);
    qj_free(a);
    /* A port/ op whose acl/ ops are not there yet is never enabled (not a
     * failure: they follow), and the dump says it is not installed. */
    qvs_op op = {.type = QVS_CREATE, .id = "port/" P2,
                 .value = port_value("vlan", 101, "fa:16:3e:00:00:02", true)};
    assert_int_equal(qvs_hyperv_class.operate(f->vs, &op, 1), 0);
    a = alloc_of(f, P2);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 3);
    qj_free(a);
    assert_int_equal(qvs_hyperv_class.dump(f->vs, &obs, err, sizeof err), 0);
    assert_null(qvs_map_get(obs.objects, "port/" P2));
    qvs_observed_free(&obs);
    /* Its acl/ ops come: enabled. */
    qvs_op acls[2] = {
        {.type = QVS_CREATE, .id = "acl/" P2 "/ingress", .value = acl_value(P2, "ingress", "[]")},
        {.type = QVS_CREATE, .id = "acl/" P2 "/egress", .value = acl_value(P2, "egress", "[]")}};
    assert_int_equal(qvs_hyperv_class.operate(f->vs, acls, 2), 0);
    a = alloc_of(f, P2);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 2);
    qj_free(a);
    qj_free((qj *)acls[0].value);
    qj_free((qj *)acls[1].value);
    qj_free((qj *)op.value);
    qvs_map_free(d);
    fx_free(f);
}

/* Admin state, a switch change and port security off and on again: the
 * connection and the security setting are modified by InstanceID with the
 * instance as read; turning port security back on restores the guards. */
static void test_modify_as_read(void **state)
{
    fx *f = fx_new("10.0.14393");
    qwmi_model_add_switch(f->t.w, "sw2");
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("vlan", 5, "fa:16:3e:00:00:01", true), "[]", "[]");
    converge(f, d, NULL, NULL);
    qj *a0 = alloc_of(f, P1);
    size_t failed;
    /* Down: one ModifyResourceSettings; the same connection. */
    qj_set(qvs_map_get(d, "port/" P1), "admin_state_up", qj_bool(false));
    qwmi_model_counters_reset(f->t.w);
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    assert_int_equal(counters(f).writes, 1);
    qj *a = alloc_of(f, P1);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 3);
    assert_string_equal(qj_get_str(a, "InstanceID"), qj_get_str(a0, "InstanceID"));
    qj_free(a);
    /* Up again. */
    qj_set(qvs_map_get(d, "port/" P1), "admin_state_up", qj_bool(true));
    qwmi_model_counters_reset(f->t.w);
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    assert_int_equal(counters(f).writes, 1);
    a = alloc_of(f, P1);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 2);
    qj_free(a);
    /* Another switch: disabled while moved, enabled once there. */
    qj_set(qvs_map_get(d, "port/" P1), "vswitch", qj_str("sw2"));
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    assert_installed(f, d);
    /* Port security off, then on: spoofing off and guards on again. */
    qvs_map *off = qvs_map_new();
    put_port(off, P1, port_value("vlan", 5, "fa:16:3e:00:00:01", false), NULL, NULL);
    qj_set(qvs_map_get(off, "port/" P1), "vswitch", qj_str("sw2"));
    converge(f, off, &failed, NULL);
    assert_int_equal(failed, 0);
    qj *sec = instances(f, "Msvm_EthernetSwitchPortSecuritySettingData");
    assert_true(qj_get(qj_at(sec, 0), "AllowMacSpoofing")->u.b);
    qj_free(sec);
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    sec = instances(f, "Msvm_EthernetSwitchPortSecuritySettingData");
    assert_int_equal(qj_len(sec), 1);
    assert_false(qj_get(qj_at(sec, 0), "AllowMacSpoofing")->u.b);
    assert_true(qj_get(qj_at(sec, 0), "EnableDhcpGuard")->u.b);
    assert_true(qj_get(qj_at(sec, 0), "EnableRouterGuard")->u.b);
    qj_free(sec);
    assert_installed(f, d);
    qj_free(a0);
    qvs_map_free(off);
    qvs_map_free(d);
    fx_free(f);
}

/* New-VM -SwitchName, Add-VMNetworkAdapter, SCVMM: the NIC comes with a
 * connection named "Dynamic Ethernet Switch Port"; qhv adopts it (one
 * connection, never a second) and configures it disabled. A connection
 * another manager named is foreign. */
static void test_adopt_connection(void **state)
{
    fx *f = fx_new("10.0.14393");
    qwmi_model_add_nic_connected(f->t.w, "vm5", P4, "FA163E000004", "sw1");
    qvs_map *d = qvs_map_new();
    put_port(d, P4, port_value("vlan", 9, "fa:16:3e:00:00:04", true), "[]", "[]");
    size_t failed;
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    assert_installed(f, d);
    qj *a = alloc_of(f, P4);
    assert_string_equal(qj_get_str(a, "ElementName"), P4);
    assert_int_equal(qj_get(a, "EnabledState")->u.i, 2);
    qj_free(a);
    /* A restart writes nothing for it. */
    qvs_hyperv_class.close(f->vs);
    f->vs = fx_backend(f);
    qwmi_model_counters_reset(f->t.w);
    assert_int_equal(converge(f, d, NULL, NULL), 0);
    assert_int_equal(counters(f).writes, 0);
    /* A connection qhv was never asked to wire is not taken: a delete of
     * its port/ (no intent) leaves it and records nothing. */
    qwmi_model_add_nic_connected(f->t.w, "vm8", P5, "FA163E000008", "sw1");
    qvs_observed seen;
    char derr[256];
    assert_int_equal(qvs_hyperv_class.dump(f->vs, &seen, derr, sizeof derr), 0);
    assert_non_null(qvs_map_get(seen.nics, P5));
    assert_null(qvs_map_get(seen.objects, "port/" P5));   /* not an orphan either */
    qvs_observed_free(&seen);
    qvs_op del = {.type = QVS_DELETE, .id = "port/" P5};
    assert_int_equal(qvs_hyperv_class.operate(f->vs, &del, 1), 0);
    a = alloc_of(f, P5);
    assert_non_null(a);
    assert_string_equal(qj_get_str(a, "ElementName"), "Dynamic Ethernet Switch Port");
    qj_free(a);
    FILE *sf = fopen(f->state, "r");
    char buf[8192] = "";
    size_t got = sf ? fread(buf, 1, sizeof buf - 1, sf) : 0;
    buf[got] = '\0';
    if (sf)
        fclose(sf);
    assert_null(strstr(buf, "\"" P5 "\":{\"alloc\""));
    /* Another manager's connection (renamed by it): foreign. */
    qwmi_model_add_nic_connected(f->t.w, "vm6", P3, "FA163E000003", "sw1");
    a = alloc_of(f, P3);
    qj_remove(a, "__PATH");
    qj_set(a, "ElementName", qj_str("Managed by someone"));
    qj *list = qj_array();
    qj_append(list, a);
    assert_int_equal(vsms_call(f, "ModifyResourceSettings", obj1("ResourceSettings", list)), 0);
    put_port(d, P3, port_value("vlan", 9, "fa:16:3e:00:00:03", true), "[]", "[]");
    qvs_op bad = {0};
    converge(f, d, &failed, &bad);
    assert_int_equal(bad.error, -EPERM);
    assert_non_null(strstr(bad.why, "someone else"));
    qvs_map_free(d);
    fx_free(f);
}

/* Checkpoints and planned VMs carry copies of the NIC under the same name:
 * only the VM's own is wired; a restored checkpoint is qhv's again. */
static void test_checkpoint_copies(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("vlan", 5, "fa:16:3e:00:00:01", true), SG_EGRESS, "[]");
    converge(f, d, NULL, NULL);
    qwmi_model_checkpoint(f->t.w, "vm1");
    qwmi_model_plan(f->t.w, "vm1");
    size_t failed;
    qwmi_model_counters_reset(f->t.w);
    assert_int_equal(converge(f, d, &failed, NULL), 0);
    assert_int_equal(counters(f).writes, 0);
    assert_installed(f, d);
    /* A VLAN change after the checkpoint, then the checkpoint restored: the
     * old VLAN comes back and is written over. */
    qj_set(qvs_map_get(d, "port/" P1), "vlan", qj_int(6));
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    qwmi_model_restore(f->t.w, "vm1");
    qwmi_model_counters_reset(f->t.w);
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    assert_installed(f, d);
    qj *vl = instances(f, "Msvm_EthernetSwitchPortVlanSettingData");
    size_t six = count_where(vl, "AccessVlanId", 6);
    assert_true(six >= 1);
    qj_free(vl);
    qvs_map_free(d);
    fx_free(f);
}

/* HNV v1's prerequisites: the provider interface by alias, and on 2012
 * the ms_netwnv binding; 2012 has no L2Only record (CA 0.0.0.0 is its
 * gateway wildcard). */
static void test_hnv_prerequisites(void **state)
{
    fx *f = fx_new("6.3.9600");
    qvs_hyperv_class.close(f->vs);
    f->pa_if = "Ethernet 2";
    f->vs = fx_backend(f);
    qvs_map *d = nvgre_desired();
    size_t failed;
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    qj *pa = instances(f, "MSFT_NetVirtualizationProviderAddressSettingData");
    assert_int_equal(qj_get(qj_at(pa, 0), "InterfaceIndex")->u.i, 13);
    qj_free(pa);
    qvs_map_free(d);
    /* An alias no adapter has: said in the capabilities and by the op. */
    qvs_hyperv_class.close(f->vs);
    f->pa_if = "Ethernet 9";
    f->vs = fx_backend(f);
    qj *caps = qvs_hyperv_class.capabilities(f->vs);
    assert_non_null(strstr(qj_get_str(caps, "hnv_v1_problem"), "Ethernet 9"));
    qj_free(caps);
    fx_free(f);
    /* 2012 without the binding. */
    f = fx_new("6.2.9200");
    qwmi_model_add_netadapter(f->t.w, 14, "Ethernet 3", "00-15-5D-01-02-04", false);
    qvs_hyperv_class.close(f->vs);
    f->pa_if = "Ethernet 3";
    f->vs = fx_backend(f);
    caps = qvs_hyperv_class.capabilities(f->vs);
    assert_non_null(strstr(qj_get_str(caps, "hnv_v1_problem"), "ms_netwnv"));
    qj_free(caps);
    d = nvgre_desired();
    qvs_op bad = {0};
    converge(f, d, &failed, &bad);
    assert_true(failed >= 1);
    qvs_map_free(d);
    fx_free(f);
    /* 2012 with it: no CA 0.0.0.0 record, the rest as on 2012 R2. */
    f = fx_new("6.2.9200");
    d = nvgre_desired();
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    qj *lr = instances(f, "MSFT_NetVirtualizationLookupRecordSettingData");
    assert_int_equal(qj_len(lr), 3);
    assert_null(find_entry(lr, "{\"CustomerAddress\": \"0.0.0.0\"}"));
    qj_free(lr);
    assert_installed(f, d);
    qvs_map_free(d);
    fx_free(f);
}

/* Jobs that outlast the wait and answer without paths: qhv's own VLAN and
 * security settings are still known as its own once the jobs end. */
static void test_slow_jobs(void **state)
{
    fx *f = fx_new("10.0.14393");
    qvs_hyperv_class.close(f->vs);
    f->job_wait_ms = 0;
    f->vs = fx_backend(f);
    qwmi_model_fault_jobs(f->t.w, 3, 0, 0, NULL);
    qvs_map *d = qvs_map_new();
    put_port(d, P1, port_value("vlan", 101, "fa:16:3e:00:00:01", true), "[]", "[]");
    size_t failed = 1;
    for (int i = 0; i < 20 && failed; i++)
        converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    qvs_observed obs;
    char err[256];
    assert_int_equal(qvs_hyperv_class.dump(f->vs, &obs, err, sizeof err), 0);
    assert_null(qvs_map_get(obs.foreign, "port/" P1));
    qvs_observed_free(&obs);
    assert_installed(f, d);
    qvs_map_free(d);
    fx_free(f);
}

/* A default route via the virtual subnet's first address (the Neutron
 * default gateway_ip): HNV v1's distributed router answers it, so the route
 * is not written, the reason is said once, and it is not retried. Another
 * gateway is written. */
static void test_route_via_first_address(void **state)
{
    fx *f = fx_new("6.3.9600");
    qvs_map *d = nvgre_desired();
    qvs_map_put(d, "customer_route/5001/0.0.0.0/0",
                J("{\"vsid\": 5001, \"routing_domain\": \"" NET "\", \"destination\": "
                  "\"0.0.0.0/0\", \"next_hop\": \"10.1.0.1\"}"));
    size_t failed;
    qvs_op bad = {0};
    converge(f, d, &failed, &bad);
    assert_int_equal(failed, 1);
    assert_int_equal(bad.error, -EOPNOTSUPP);
    assert_non_null(strstr(bad.why, "10.1.0.1"));
    qj *cr = instances(f, "MSFT_NetVirtualizationCustomerRouteSettingData");
    assert_int_equal(qj_len(cr), 1);
    qj_free(cr);
    qwmi_model_counters_reset(f->t.w);
    assert_int_equal(converge(f, d, &failed, NULL), 0);
    assert_int_equal(counters(f).writes, 0);
    qvs_map_put(d, "customer_route/5001/0.0.0.0/0",
                J("{\"vsid\": 5001, \"routing_domain\": \"" NET "\", \"destination\": "
                  "\"0.0.0.0/0\", \"next_hop\": \"10.1.0.254\"}"));
    converge(f, d, &failed, NULL);
    assert_int_equal(failed, 0);
    cr = instances(f, "MSFT_NetVirtualizationCustomerRouteSettingData");
    assert_int_equal(qj_len(cr), 2);
    qj_free(cr);
    assert_installed(f, d);
    qvs_map_free(d);
    fx_free(f);
}

/* A legacy network adapter named by a port: said, never wired. */
static void test_legacy_nic(void **state)
{
    fx *f = fx_new("10.0.14393");
    qwmi_model_add_legacy_nic(f->t.w, "vm7", P4, "FA163E000007");
    qvs_map *d = qvs_map_new();
    put_port(d, P4, port_value("vlan", 5, "fa:16:3e:00:00:07", true), "[]", "[]");
    size_t failed;
    qvs_op bad = {0};
    converge(f, d, &failed, &bad);
    assert_true(failed >= 1);
    assert_int_equal(bad.error, -EOPNOTSUPP);
    assert_non_null(strstr(bad.why, "legacy"));
    qvs_map_free(d);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vlan_port),
        cmocka_unit_test(test_nvgre_port),
        cmocka_unit_test(test_ip_rewrite_port),
        cmocka_unit_test(test_security_group),
        cmocka_unit_test(test_stateless_security_group),
        cmocka_unit_test(test_rule_change_is_a_diff),
        cmocka_unit_test(test_restart_writes_nothing),
        cmocka_unit_test(test_nic_recreated),
        cmocka_unit_test(test_failing_job_retried),
        cmocka_unit_test(test_membership_change),
        cmocka_unit_test(test_port_security_off_and_admin_down),
        cmocka_unit_test(test_foreign_and_orphans),
        cmocka_unit_test(test_port_op_alone_keeps_acls),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_fail_closed),
        cmocka_unit_test(test_modify_as_read),
        cmocka_unit_test(test_adopt_connection),
        cmocka_unit_test(test_checkpoint_copies),
        cmocka_unit_test(test_hnv_prerequisites),
        cmocka_unit_test(test_legacy_nic),
        cmocka_unit_test(test_slow_jobs),
        cmocka_unit_test(test_route_via_first_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
