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

static void test_canonical_forms(void **state)
{
    qvs_map *m = objects();
    qbuf b;
    qbuf_init(&b, 0);
    size_t n = qhyv_ps_emit(m, &opts_r2, &b);
    const char *t = b.data;
    assert_line(t, "New-NetVirtualizationProviderAddress -InterfaceIndex 13 -ProviderAddress "
                   "192.168.1.1 -PrefixLength 24 -VlanID 103");
    assert_line(t, "New-NetVirtualizationProviderRoute -InterfaceIndex 13 -DestinationPrefix "
                   "0.0.0.0/0 -NextHop 192.168.1.254 -Metric 255");
    assert_line(t, "New-NetVirtualizationCustomerRoute -RoutingDomainID '{" NET "}' "
                   "-VirtualSubnetID 5001 -DestinationPrefix 10.1.0.0/24 -NextHop 0.0.0.0 "
                   "-Metric 255");
    assert_line(t, "New-NetVirtualizationLookupRecord -CustomerAddress 10.1.0.9 -VirtualSubnetID "
                   "5001 -MACAddress FA163E000009 -ProviderAddress 192.168.1.2 -Rule "
                   "TranslationMethodEncap -Type Static -Context qhv -VMName 'p9'");
    assert_line(t, "$nic = Get-VMNetworkAdapter -All | Where-Object Name -eq '" P1 "'");
    assert_line(t, "Connect-VMNetworkAdapter -VMNetworkAdapter $nic -SwitchName 'ext sw'");
    assert_line(t, "Set-VMNetworkAdapterVlan -VMNetworkAdapter $nic -Untagged");
    assert_line(t, "Set-VMNetworkAdapter -VMNetworkAdapter $nic -VirtualSubnetId 5001 "
                   "-MacAddressSpoofing Off -DhcpGuard On -RouterGuard On");
    assert_line(t, "New-NetVirtualizationLookupRecord -CustomerAddress 0.0.0.0 -VirtualSubnetID "
                   "5001 -MACAddress FA163E000001 -ProviderAddress 192.168.1.1 -Rule "
                   "TranslationMethodEncap -Type L2Only -Context qhv -VMName '" P1 "'");
    assert_line(t, "Add-VMNetworkAdapterExtendedAcl -VMNetworkAdapter $nic -Action Deny "
                   "-Direction Inbound -RemoteIPAddress 0.0.0.0/0 -Weight 1");
    assert_line(t, "Add-VMNetworkAdapterExtendedAcl -VMNetworkAdapter $nic -Action Allow "
                   "-Direction Inbound -RemoteIPAddress 10.0.0.0/8 -Protocol TCP -LocalPort 22 "
                   "-Weight 65500 -Stateful $true -IdleSessionTimeout 0");
    assert_line(t, "Add-VMNetworkAdapterExtendedAcl -VMNetworkAdapter $nic -Action Allow "
                   "-Direction Outbound -RemoteIPAddress fd00::5 -Protocol UDP -RemotePort 53 "
                   "-Weight 65500 -Stateful $true -IdleSessionTimeout 0");
    /* ICMP type is said, not silently dropped. */
    assert_non_null(strstr(t, "# not expressible (left out, the port is stricter): ICMP "
                              "type/code"));
    /* Doc errata never generated: no -Timeout, no bare -Stateful. */
    assert_null(strstr(t, "-Timeout"));
    assert_null(strstr(t, "-Stateful\n"));
    assert_null(strstr(t, "-Stateful -"));
    /* 4 NetWNV + 5 port (incl. $nic and L2Only) + 2 x ($nic + entries). */
    assert_int_equal(n, 4 + 5 + 1 + 6 + 1 + 6);
    qbuf_free(&b);
    qvs_map_free(m);
}

static void test_versions(void **state)
{
    qvs_map *m = objects();
    qbuf b;
    qbuf_init(&b, 0);
    qhyv_ps_opts o = opts_r2;
    o.windows_version = "6.2.9200";
    qhyv_ps_emit(m, &o, &b);
    /* 2012: no -Type, address-only port ACLs. */
    assert_null(strstr(b.data, "-Type"));
    assert_null(strstr(b.data, "ExtendedAcl"));
    assert_line(b.data, "Add-VMNetworkAdapterAcl -VMNetworkAdapter $nic -RemoteIPAddress "
                        "0.0.0.0/0 -Direction Inbound -Action Deny");
    qbuf_reset(&b);
    o.windows_version = "10.0.17763";
    qhyv_ps_emit(m, &o, &b);
    /* 2019: no NetWNV cmdlets, said so. */
    assert_null(strstr(b.data, "New-NetVirtualization"));
    assert_non_null(strstr(b.data, "# not expressible: lookup_record/5001/10.1.0.9/"));
    qbuf_free(&b);
    qvs_map_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_forms),
        cmocka_unit_test(test_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
