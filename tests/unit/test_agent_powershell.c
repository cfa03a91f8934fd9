/* The PowerShell generator: canonical commands with valid parameters for
 * the switch objects of a plan. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit_json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vswitch/hyperv/powershell.h"
#include "lib/util.h"

#define P1 "11111111-0000-4000-8000-000000000001"
#define NET "22222222-0000-4000-8000-000000000001"

static void assert_line(const char *text, const char *line)
{
    char *want = xasprintf("\n%s\n", line);
    if (!strstr(text, want))
        fail_msg("missing line:\n%s\nin:\n%s", line, text);
    free(want);
}

static qvs_map *objects(void)
{
    qvs_map *m = qvs_map_new();
    qvs_map_put(m, "port/" P1,
                J("{\"vswitch\": \"ext sw\", \"network_id\": \"" NET "\", \"network_type\": "
                  "\"nvgre\", \"vsid\": 5001, \"mac_address\": \"fa:16:3e:00:00:01\", \"mtu\": "
                  "1458, \"admin_state_up\": true, \"port_security\": true, \"mac_spoofing\": "
                  "false, \"dhcp_guard\": true, \"router_guard\": true}"));
    qvs_map_put(m, "acl/" P1 "/ingress",
                J("{\"port_id\": \"" P1 "\", \"direction\": \"ingress\", \"rules\": ["
                  "{\"ethertype\": \"IPv4\", \"protocol\": 6, \"port_range_min\": 22, "
                  "\"port_range_max\": 22, \"remote_ip_prefixes\": [\"10.0.0.0/8\"], "
                  "\"remote_address_sets\": []},"
                  "{\"ethertype\": \"IPv4\", \"protocol\": 1, \"port_range_min\": 8, "
                  "\"port_range_max\": null, \"remote_ip_prefixes\": null, "
                  "\"remote_address_sets\": []}]}"));
    qvs_map_put(m, "acl/" P1 "/egress",
                J("{\"port_id\": \"" P1 "\", \"direction\": \"egress\", \"rules\": ["
                  "{\"ethertype\": \"IPv6\", \"protocol\": 17, \"port_range_min\": 53, "
                  "\"port_range_max\": 53, \"remote_ip_prefixes\": [\"fd00::5/128\"], "
                  "\"remote_address_sets\": []}]}"));
    qvs_map_put(m, "lookup_record/5001/10.1.0.9/fa:16:3e:00:00:09",
                J("{\"vsid\": 5001, \"customer_address\": \"10.1.0.9\", \"mac_address\": "
                  "\"fa:16:3e:00:00:09\", \"provider_address\": \"192.168.1.2\", \"rule\": "
                  "\"encap\", \"host\": \"h2\", \"port_id\": \"p9\"}"));
    qvs_map_put(m, "customer_route/5001/10.1.0.0/24",
                J("{\"vsid\": 5001, \"routing_domain\": \"" NET "\", \"destination\": "
                  "\"10.1.0.0/24\", \"next_hop\": \"0.0.0.0\"}"));
    qvs_map_put(m, "provider_address/192.168.1.1",
                J("{\"address\": \"192.168.1.1\", \"host\": \"h\"}"));
    return m;
}

static const qhyv_ps_opts opts_r2 = {
    .windows_version = "6.3.9600",
    .pa = {.address = "192.168.1.1", .ifindex = 13, .prefix_len = 24, .vlan = 103,
           .next_hop = "192.168.1.254"}};

static char *emit(const qvs_map *m, const qhyv_ps_opts *o, size_t *n)
{
    qbuf b;
    qbuf_init(&b, 0);
    size_t c = qhyv_ps_emit(m, o, &b);
    if (n)
        *n = c;
    if (getenv("QHV_TEST_PRINT"))
        fputs(b.data, stderr);
    char *t = xstrdup(b.data);
    qbuf_free(&b);
    return t;
}

static size_t count(const char *t, const char *s)
{
    size_t n = 0;
    for (const char *p = strstr(t, s); p; p = strstr(p + 1, s))
        n++;
    return n;
}

static void test_canonical_forms(void **state)
{
    qvs_map *m = objects();
    size_t n;
    char *t = emit(m, &opts_r2, &n);
    /* The provider interface by index, checked at run time; one route. */
    assert_line(t, "$paIf = (Get-NetAdapter -InterfaceIndex 13 -ErrorAction "
                   "SilentlyContinue).ifIndex");
    assert_null(strstr(t, "-InterfaceIndex 0"));
    assert_line(t, "Set-QhvProviderAddress -ProviderAddress 192.168.1.1 -PrefixLength 24 "
                   "-VlanID 103");
    assert_line(t, "Set-QhvProviderRoute -DestinationPrefix 0.0.0.0/0 -NextHop 192.168.1.254 "
                   "-Metric 255");
    assert_int_equal(count(t, "\nSet-QhvProviderRoute "), 1);
    assert_line(t, "Set-QhvCustomerRoute -RoutingDomainID '{" NET "}' -VirtualSubnetID 5001 "
                   "-DestinationPrefix 10.1.0.0/24 -NextHop 0.0.0.0 -Metric 255");
    assert_line(t, "Set-QhvLookupRecord -CustomerAddress 10.1.0.9 -VirtualSubnetID 5001 "
                   "-MACAddress FA163E000009 -ProviderAddress 192.168.1.2 -Rule "
                   "TranslationMethodEncap -Type Static -VMName 'p9'");
    assert_line(t, "Set-QhvLookupRecord -CustomerAddress 0.0.0.0 -VirtualSubnetID 5001 "
                   "-MACAddress FA163E000001 -ProviderAddress 192.168.1.1 -Rule "
                   "TranslationMethodEncap -Type L2Only -VMName '" P1 "'");
    /* The NIC once per port, skipped with a warning when absent. */
    assert_line(t, "$nic = Get-QhvNic '" P1 "'");
    assert_int_equal(count(t, "$nic = Get-QhvNic"), 1);
    assert_non_null(strstr(t, "Write-Warning \"qhv: no VM network adapter named '$Port': port "
                              "skipped\""));
    assert_line(t, "    if ($nic.SwitchName -ne 'ext sw' -or -not $nic.Connected) { "
                   "Connect-VMNetworkAdapter -VMNetworkAdapter $nic -SwitchName 'ext sw' }");
    assert_line(t, "    if (\"$($vlan.OperationMode)\" -ne 'Untagged') { Set-VMNetworkAdapterVlan "
                   "-VMNetworkAdapter $nic -Untagged }");
    assert_line(t, "        Set-VMNetworkAdapter -VMNetworkAdapter $nic -VirtualSubnetId 5001 "
                   "-MacAddressSpoofing Off -DhcpGuard On -RouterGuard On");
    /* ACL entries through WMI, named 'qhv', compared with what is there. */
    assert_line(t, "    $acl += @{Direction = 1; Action = 2; Protocol = 'ANY'; LocalPort = 'ANY'; "
                   "RemotePort = 'ANY'; LocalIPAddress = 'ANY'; RemoteIPAddress = '0.0.0.0/0'; "
                   "Stateful = $false; IdleSessionTimeout = 0; Weight = 1}");
    assert_line(t, "    $acl += @{Direction = 1; Action = 1; Protocol = 'TCP'; LocalPort = '22'; "
                   "RemotePort = 'ANY'; LocalIPAddress = 'ANY'; RemoteIPAddress = '10.0.0.0/8'; "
                   "Stateful = $true; IdleSessionTimeout = 0; Weight = 65500}");
    assert_line(t, "    Sync-QhvAcl $nic 'Msvm_EthernetSwitchPortExtendedAclSettingData' $acl");
    assert_non_null(strstr(t, "$e.Name = 'qhv'"));
    assert_non_null(strstr(t, "$vsms.AddFeatureSettings($Connection.__PATH, @($e.GetText(1)))"));
    assert_null(strstr(t, "Add-VMNetworkAdapterExtendedAcl -"));
    /* Stale objects of qhv's go; routes carry the CustomerID marker. */
    assert_non_null(strstr(t, "$qhvCustomerID = '" QHYV_CUSTOMER_ID "'"));
    assert_non_null(strstr(t, "\nRemove-QhvStale 'lookup record' @(Get-NetVirtualizationLookupRecord "
                              "| Where-Object Context -eq 'qhv') @('5001/10.1.0.9/FA163E000009', "
                              "'5001/0.0.0.0/FA163E000001')"));
    assert_non_null(strstr(t, "@('5001/10.1.0.0/24')"));
    assert_non_null(strstr(t, "@('0.0.0.0/0/192.168.1.254')"));
    assert_non_null(strstr(t, "Where-Object InterfaceIndex -eq $paIf) @('192.168.1.1')"));
    /* ICMP type is said, not silently dropped. */
    assert_non_null(strstr(t, "# not expressible (left out, the port is stricter): ICMP "
                              "type/code"));
    assert_null(strstr(t, "-Timeout"));
    assert_true(n > 20);
    free(t);
    qvs_map_free(m);
}

static void test_interface_alias_and_mac(void **state)
{
    qvs_map *m = objects();
    qhyv_ps_opts o = opts_r2;
    o.pa.interface = "Ethernet 2";
    char *t = emit(m, &o, NULL);
    assert_line(t, "$paIf = (Get-NetAdapter -Name 'Ethernet 2' -ErrorAction "
                   "SilentlyContinue).ifIndex");
    assert_non_null(strstr(t, "throw (\"qhv: no network adapter named '{0}' on this host "
                              "([hyperv] provider_interface): nothing changed\" -f 'Ethernet 2')"));
    free(t);
    o.pa.interface = "00:15:5d:01:02:0a";
    t = emit(m, &o, NULL);
    assert_non_null(strstr(t, "$_.MacAddress -eq '00-15-5D-01-02-0A'"));
    free(t);
    o.pa.interface = NULL;
    o.pa.ifindex = 0;
    t = emit(m, &o, NULL);
    assert_null(strstr(t, "-InterfaceIndex 0"));
    assert_non_null(strstr(t, "\nthrow \"qhv: set [hyperv] provider_interface"));
    free(t);
    qvs_map_free(m);
}

static void test_flat_port_and_gateway(void **state)
{
    qvs_map *m = objects();
    qvs_map_put(m, "port/p2",
                J("{\"vswitch\": \"ext\", \"network_id\": \"n2\", \"network_type\": \"vlan\", "
                  "\"vlan\": 101, \"mac_address\": \"fa:16:3e:00:00:02\", \"admin_state_up\": "
                  "false, \"port_security\": false, \"mac_spoofing\": true, \"dhcp_guard\": "
                  "false, \"router_guard\": false}"));
    qvs_map_put(m, "customer_route/5001/0.0.0.0/0",
                J("{\"vsid\": 5001, \"routing_domain\": \"" NET "\", \"destination\": "
                  "\"0.0.0.0/0\", \"next_hop\": \"10.1.0.1\"}"));
    char *t = emit(m, &opts_r2, NULL);
    /* E3: VirtualSubnetId 0 where the port is not virtualized. */
    assert_line(t, "        Set-VMNetworkAdapter -VMNetworkAdapter $nic -VirtualSubnetId 0 "
                   "-MacAddressSpoofing On -DhcpGuard Off -RouterGuard Off");
    assert_line(t, "    if ($nic.Connected) { Disconnect-VMNetworkAdapter -VMNetworkAdapter $nic }");
    assert_non_null(strstr(t, "-Access -VlanId 101 }"));
    /* E7: a route via the .1 of a virtual subnet is not made (as the
     * backend does not), and the operator is told why. */
    assert_non_null(strstr(t, "\n# warning: route 0.0.0.0/0 via 10.1.0.1 not made: 10.1.0.1 is "
                              "the first address of virtual subnet 5001 (10.1.0.0/24)"));
    assert_null(strstr(t, "-DestinationPrefix 0.0.0.0/0 -NextHop 10.1.0.1"));
    /* A port without ACL objects still has qhv's entries synced (to none). */
    assert_int_equal(count(t, "Sync-QhvAcl $nic "), 2);
    free(t);
    qvs_map_free(m);
}

static void test_versions(void **state)
{
    qvs_map *m = objects();
    qhyv_ps_opts o = opts_r2;
    o.windows_version = "6.2.9200";
    char *t = emit(m, &o, NULL);
    /* 2012: no -Type, no L2Only record (a gateway wildcard there), port ACLs. */
    assert_null(strstr(t, "-Type"));
    assert_null(strstr(t, "-CustomerAddress 0.0.0.0"));
    assert_line(t, "    Sync-QhvAcl $nic 'Msvm_EthernetSwitchPortAclSettingData' $acl");
    free(t);
    o.windows_version = "10.0.17763";
    t = emit(m, &o, NULL);
    /* 2019: no NetWNV cmdlets, said so. */
    assert_null(strstr(t, "\nSet-QhvLookupRecord"));
    assert_null(strstr(t, "\nRemove-QhvStale"));
    assert_non_null(strstr(t, "# not expressible: lookup_record/5001/10.1.0.9/"));
    free(t);
    qvs_map_free(m);
}

/* A hostile value: each of PowerShell's ways out of a word, a single- or
 * double-quoted string, or a comment. */
#define EVIL "192.0.2.1; Start-Process calc.exe #x'y\u2019z\"$(calc.exe)`\n calc.exe"

/* Every "calc.exe" in t is inside a single-quoted string or a one-line
 * comment: nowhere PowerShell would run it (code, or a double-quoted string,
 * which expands $(...)). A small reader of PowerShell's quoting: '' and the
 * typographic quotes U+2018..U+201B double inside '...'. */
static void assert_inert(const char *t)
{
    enum { CODE, SQ, DQ, COMMENT } st = CODE;
    for (const char *p = t; *p; p++) {
        bool sq = *p == '\'' || ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 &&
                                 (unsigned char)p[2] >= 0x98 && (unsigned char)p[2] <= 0x9B);
        size_t qn = *p == '\'' ? 1 : 3;
        if ((st == CODE || st == DQ) && !strncmp(p, "calc.exe", 8))
            fail_msg("calc.exe outside a single-quoted string or comment at:\n%.200s\nin:\n%s",
                     p, t);
        switch (st) {
        case CODE:
            if (sq)
                st = SQ, p += qn - 1;
            else if (*p == '"')
                st = DQ;
            else if (*p == '#')
                st = COMMENT;
            break;
        case SQ:
            if (sq) {
                const char *n = p + qn;
                bool n_sq = *n == '\'' || ((unsigned char)n[0] == 0xE2 &&
                                           (unsigned char)n[1] == 0x80 &&
                                           (unsigned char)n[2] >= 0x98 &&
                                           (unsigned char)n[2] <= 0x9B);
                if (n_sq)
                    p = n + (*n == '\'' ? 1 : 3) - 1;   /* doubled: a literal quote */
                else
                    st = CODE, p += qn - 1;
            }
            break;
        case DQ:
            if (*p == '`' && p[1])
                p++;
            else if (*p == '"')
                st = CODE;
            break;
        case COMMENT:
            if (*p == '\n')
                st = CODE;
            break;
        }
    }
    assert_int_equal(st, CODE);
}

static void test_hostile_values_are_quoted_or_left_out(void **state)
{
    qvs_map *m = objects();
    /* What another host's agent said (its provider address in a lookup
     * record), and every other string field a plan carries. */
    qj *lr = J("{\"vsid\": 5001, \"customer_address\": \"10.1.0.7\", \"mac_address\": "
               "\"fa:16:3e:00:00:07\", \"rule\": \"encap\", \"host\": \"h3\"}");
    qj_set(lr, "provider_address", qj_str(EVIL));
    qj_set(lr, "port_id", qj_str(EVIL));
    qvs_map_put(m, "lookup_record/5001/10.1.0.7/fa:16:3e:00:00:07", lr);
    static const char *const lr_fields[] = {"customer_address", "mac_address"};
    for (size_t i = 0; i < 2; i++) {
        qj *bad = J("{\"vsid\": 5001, \"customer_address\": \"10.1.0.8\", \"mac_address\": "
                    "\"fa:16:3e:00:00:08\", \"provider_address\": \"192.168.1.3\", \"rule\": "
                    "\"encap\", \"host\": \"h3\", \"port_id\": \"p8\"}");
        qj_set(bad, lr_fields[i], qj_str(EVIL));
        char *k = xasprintf("lookup_record/5001/bad%zu", i);
        qvs_map_put(m, k, bad);
        free(k);
    }
    static const char *const cr_fields[] = {"routing_domain", "destination", "next_hop"};
    for (size_t i = 0; i < 3; i++) {
        qj *cr = J("{\"vsid\": 5002, \"routing_domain\": \"" NET "\", \"destination\": "
                   "\"10.2.0.0/24\", \"next_hop\": \"0.0.0.0\"}");
        qj_set(cr, cr_fields[i], qj_str(EVIL));
        char *k = xasprintf("customer_route/5002/bad%zu", i);
        qvs_map_put(m, k, cr);
        free(k);
    }
    qj *pa = qj_object();
    qj_set(pa, "address", qj_str(EVIL));
    qj_set(pa, "host", qj_str(EVIL));
    qvs_map_put(m, "provider_address/" EVIL, pa);
    qj *port = J("{\"network_type\": \"nvgre\", \"vsid\": 5001, \"mac_address\": "
                 "\"fa:16:3e:00:00:0b\", \"admin_state_up\": true, \"port_security\": true}");
    qj_set(port, "vswitch", qj_str(EVIL));
    qj_set(port, "network_id", qj_str(EVIL));
    qvs_map_put(m, "port/" EVIL, port);
    qvs_map_put(m, "acl/" EVIL "/ingress",
                J("{\"direction\": \"ingress\", \"rules\": [{\"ethertype\": \"IPv4\", "
                  "\"protocol\": 6, \"port_range_min\": 80, \"port_range_max\": 80, "
                  "\"remote_ip_prefixes\": [\"10.9.0.0/16\"], \"remote_address_sets\": []}]}"));
    /* And the host's own settings, as qhvctl explain takes them from the
     * heartbeat or a configuration file. */
    qhyv_ps_opts o = opts_r2;
    const char *const versions[] = {"6.3.9600", "6.3.9600 " EVIL};
    for (size_t v = 0; v < 2; v++) {
        o.windows_version = versions[v];
        for (int which = 0; which < 3; which++) {
            o.pa = opts_r2.pa;
            o.pa.interface = which == 0 ? EVIL : NULL;
            if (which == 1)
                o.pa.address = EVIL;
            if (which == 2)
                o.pa.next_hop = EVIL;
            char *t = emit(m, &o, NULL);
            assert_inert(t);
            /* The hostile provider address is in no command; the good
             * objects next to it still are. */
            assert_null(strstr(t, "-ProviderAddress 192.0.2.1"));
            assert_non_null(strstr(t, "\nSet-QhvLookupRecord -CustomerAddress 10.1.0.9 "));
            assert_non_null(strstr(t, "# a lookup record skipped: "));
            assert_non_null(strstr(t, "# a customer route skipped: "));
            assert_non_null(strstr(t, "-DestinationPrefix 10.1.0.0/24 -NextHop 0.0.0.0"));
            /* Names are quoted: the NIC, the vSwitch. */
            assert_non_null(strstr(t, "$nic = Get-QhvNic '192.0.2.1; Start-Process calc.exe "
                                      "#x''y\u2019\u2019z\"$(calc.exe)`\n calc.exe'"));
            assert_non_null(strstr(t, "-SwitchName '192.0.2.1; Start-Process"));
            if (which == 0)
                assert_non_null(strstr(t, "$paIf = (Get-NetAdapter -Name '192.0.2.1; "
                                          "Start-Process calc.exe #x''y"));
            if (which == 2)
                assert_non_null(strstr(t, "# the provider route skipped: "));
            free(t);
        }
    }
    qvs_map_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_forms),
        cmocka_unit_test(test_interface_alias_and_mac),
        cmocka_unit_test(test_flat_port_and_gateway),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_hostile_values_are_quoted_or_left_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
