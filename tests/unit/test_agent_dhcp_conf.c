/* What a network node tells dnsmasq (src/agent/dhcp_conf.h) for a network
 * of the plan, and the metadata proxy's signature. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit_json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/dhcp_conf.h"
#include "agent/metadata.h"

#define S4 "11111111-0000-0000-0000-000000000004"
#define S6 "11111111-0000-0000-0000-000000000006"

static const char net4[] =
    "{\"network_id\":\"n1\",\"mtu\":1450,\"dns_domain\":\"example.org\",\"lease_seconds\":600,"
    "\"port\":{\"id\":\"dhcpport-0001\",\"mac_address\":\"fa:16:3e:00:00:d1\","
    "\"fixed_ips\":[{\"subnet_id\":\"" S4 "\",\"ip_address\":\"10.0.0.2\"}]},"
    "\"subnets\":[{\"id\":\"" S4 "\",\"cidr\":\"10.0.0.0/24\",\"ip_version\":4,"
    "\"gateway_ip\":\"10.0.0.1\",\"enable_dhcp\":true,\"dns_nameservers\":[\"8.8.8.8\"],"
    "\"host_routes\":[{\"destination\":\"10.9.0.0/16\",\"nexthop\":\"10.0.0.254\"}]}]}";

static const char host_a[] =
    "{\"network_id\":\"n1\",\"port_id\":\"pa\",\"mac_address\":\"FA:16:3E:00:00:0A\","
    "\"fixed_ips\":[{\"subnet_id\":\"" S4 "\",\"ip_address\":\"10.0.0.5\"}],"
    "\"hostname\":\"host-10-0-0-5\",\"device_id\":\"vm-a\",\"device_owner\":\"compute:nova\","
    "\"project_id\":\"proj\",\"admin_state_up\":true,"
    "\"extra_dhcp_opts\":[{\"opt_name\":\"bootfile-name\",\"opt_value\":\"pxe.0\"},"
    "{\"opt_name\":\"150\",\"opt_value\":\"10.0.0.9\",\"ip_version\":4},"
    "{\"opt_name\":\"bad name\",\"opt_value\":\"x\"}]}";

static const char host_down[] =
    "{\"network_id\":\"n1\",\"port_id\":\"pd\",\"mac_address\":\"fa:16:3e:00:00:0d\","
    "\"fixed_ips\":[{\"subnet_id\":\"" S4 "\",\"ip_address\":\"10.0.0.6\"}],"
    "\"device_id\":\"vm-d\",\"project_id\":\"proj\",\"admin_state_up\":false}";

static const char host_bad[] =
    "{\"network_id\":\"n1\",\"port_id\":\"pb\",\"mac_address\":\"fa:16:3e:00:00:0b\","
    "\"fixed_ips\":[{\"subnet_id\":\"" S4 "\",\"ip_address\":\"10.0.0.7,evil\"}],"
    "\"hostname\":\"a,b\",\"admin_state_up\":true}";

static void render(const char *net, const char *const *hosts, size_t n, qag_dnsmasq *d)
{
    qj *nv = J(net);
    qj **hv = calloc(n + 1, sizeof *hv);
    for (size_t i = 0; i < n; i++)
        hv[i] = J(hosts[i]);
    qag_dnsmasq_where w = {.dnsmasq = "dnsmasq", .dir = "/s/n1", .ifname = "ns-dhcpport-00",
                           .metadata = true};
    qag_dnsmasq_render(nv, (const qj *const *)hv, n, &w, d);
    for (size_t i = 0; i < n; i++)
        qj_free(hv[i]);
    free(hv);
    qj_free(nv);
}

static bool has_arg(const qag_dnsmasq *d, const char *a)
{
    for (size_t i = 0; i < d->argc; i++)
        if (!strcmp(d->argv[i], a))
            return true;
    return false;
}

static void test_ipv4_files(void **state)
{
    (void)state;
    const char *hosts[] = {host_a, host_down, host_bad};
    qag_dnsmasq d;
    render(net4, hosts, 3, &d);
    /* MAC normalised, FQDN, address, the port's tag for its options; the
     * port that is down and the one whose address would break the line are
     * left out. */
    assert_string_equal(d.hosts, "fa:16:3e:00:00:0a,host-10-0-0-5.example.org.,10.0.0.5,"
                                 "set:port-pa\n");
    assert_string_equal(d.addn_hosts, "10.0.0.5\thost-10-0-0-5.example.org host-10-0-0-5\n");
    assert_string_equal(d.metadata, "10.0.0.5 vm-a proj\n");
    assert_string_equal(
        d.opts,
        "tag:subnet-" S4 ",option:dns-server,8.8.8.8\n"
        "tag:subnet-" S4 ",option:classless-static-route,10.9.0.0/16,10.0.0.254,"
        "169.254.169.254/32,10.0.0.2,0.0.0.0/0,10.0.0.1\n"
        "tag:subnet-" S4 ",249,10.9.0.0/16,10.0.0.254,169.254.169.254/32,10.0.0.2,"
        "0.0.0.0/0,10.0.0.1\n"
        "tag:subnet-" S4 ",option:router,10.0.0.1\n"
        "tag:port-pa,option:bootfile-name,pxe.0\n"
        "tag:port-pa,150,10.0.0.9\n");
    assert_true(has_arg(&d, "--dhcp-range=set:subnet-" S4 ",10.0.0.0,static,255.255.255.0,600s"));
    assert_true(has_arg(&d, "--dhcp-option-force=option:mtu,1450"));
    assert_true(has_arg(&d, "--domain=example.org"));
    assert_true(has_arg(&d, "--dhcp-hostsfile=/s/n1/host"));
    assert_true(has_arg(&d, "--interface=ns-dhcpport-00"));
    assert_false(has_arg(&d, "--enable-ra"));
    assert_string_equal(d.argv[0], "dnsmasq");
    assert_null(d.argv[d.argc]);
    /* The namespace holds the port's address and the metadata address. */
    assert_int_equal(d.naddrs, 2);
    assert_string_equal(d.addrs[0], "10.0.0.2/24");
    assert_string_equal(d.addrs[1], "169.254.169.254/32");
    assert_int_equal(d.mtu, 1450);
    qag_dnsmasq_free(&d);
    qag_dnsmasq_free(NULL);
}

static void test_ipv6_modes(void **state)
{
    (void)state;
    static const char *const modes[][3] = {
        /* ra_mode, address_mode, range mode ("" = none) */
        {"null", "null", "static"},
        {"\"slaac\"", "\"slaac\"", "ra-only"},
        {"null", "\"slaac\"", ""},
        {"\"dhcpv6-stateless\"", "\"dhcpv6-stateless\"", "ra-stateless"},
        {"\"dhcpv6-stateful\"", "\"dhcpv6-stateful\"", "static"},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char net[1024];
        snprintf(net, sizeof net,
                 "{\"network_id\":\"n1\",\"mtu\":1500,\"port\":{\"id\":\"dp\","
                 "\"mac_address\":\"fa:16:3e:00:00:d1\",\"fixed_ips\":[{\"subnet_id\":\"" S6
                 "\",\"ip_address\":\"fd00::2\"}]},\"subnets\":[{\"id\":\"" S6
                 "\",\"cidr\":\"fd00::/64\",\"ip_version\":6,\"enable_dhcp\":true,"
                 "\"ipv6_ra_mode\":%s,\"ipv6_address_mode\":%s}]}",
                 modes[i][0], modes[i][1]);
        const char *h = "{\"port_id\":\"p6\",\"mac_address\":\"fa:16:3e:00:00:06\","
                        "\"fixed_ips\":[{\"subnet_id\":\"" S6 "\",\"ip_address\":\"fd00::6\"}],"
                        "\"admin_state_up\":true}";
        qag_dnsmasq d;
        render(net, &h, 1, &d);
        char want[256];
        snprintf(want, sizeof want, "--dhcp-range=set:subnet-" S6 ",fd00::,%s,64,86400s",
                 modes[i][2]);
        assert_int_equal(has_arg(&d, want), modes[i][2][0] != '\0');
        assert_int_equal(has_arg(&d, "--enable-ra"), modes[i][0][0] == '"' &&
                                                         modes[i][2][0] != '\0');
        /* Addresses are handed out by host only on stateful subnets. */
        bool stateful = !strcmp(modes[i][2], "static") && strcmp(modes[i][1], "\"dhcpv6-stateless\"");
        assert_int_equal(strstr(d.hosts, "[fd00::6]") != NULL, stateful);
        /* No IPv4 subnet: no metadata address. */
        assert_int_equal(d.naddrs, 1);
        assert_string_equal(d.addrs[0], "fd00::2/64");
        qag_dnsmasq_free(&d);
    }
}

static void test_signature(void **state)
{
    (void)state;
    char sig[65];
    /* hex(HMAC-SHA256("node-secret", id)), as Nova checks it */
    qag_metadata_sign("node-secret", "8c7e2b1c-6a1d-4f0e-9f65-3a1b2c3d4e5f", sig);
    assert_string_equal(sig, "cca9f7f4cde4cede1eedd43ccdd6acbc767d7e65b0b8e4f4b16b673c596bba45");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_files),
        cmocka_unit_test(test_ipv6_modes),
        cmocka_unit_test(test_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
