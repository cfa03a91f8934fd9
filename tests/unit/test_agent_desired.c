/* The agent's translator: plan + configuration + VM NICs → switch objects. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit_json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent/desired.h"
#include "lib/util.h"

/* Loads an agent configuration from text (through a temporary file). */
static void load_conf(qag_conf *c, const char *text)
{
    char path[] = "/tmp/qhv_test_agent_conf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    const char *files[] = {path};
    char err[512] = "";
    int rc = qag_conf_load(c, files, 1, err, sizeof err);
    unlink(path);
    if (rc < 0)
        fail_msg("config: %s", err);
}

#define MAC(n) "\"fa:16:3e:00:00:0" #n "\""

static const char plan_text[] =
    "{\"revision\": 7, \"plan\": {"
    "\"networks\": {"
    " \"nv\": {\"id\": \"nv\", \"network_type\": \"vlan\", \"physical_network\": \"physnet1\","
    "        \"segmentation_id\": 101, \"mtu\": 1500, \"admin_state_up\": true},"
    " \"nf\": {\"id\": \"nf\", \"network_type\": \"flat\", \"physical_network\": \"physnet9\","
    "        \"segmentation_id\": null, \"mtu\": 1500, \"admin_state_up\": true},"
    " \"no\": {\"id\": \"no\", \"network_type\": \"flat\", \"physical_network\": \"other\","
    "        \"segmentation_id\": null, \"mtu\": 1500, \"admin_state_up\": false},"
    " \"nl\": {\"id\": \"nl\", \"network_type\": \"local\", \"physical_network\": null,"
    "        \"segmentation_id\": null, \"mtu\": 1500, \"admin_state_up\": true},"
    " \"ng\": {\"id\": \"ng\", \"network_type\": \"nvgre\", \"physical_network\": null,"
    "        \"segmentation_id\": 5001, \"mtu\": 1458, \"admin_state_up\": true}},"
    "\"ports\": {"
    " \"pv\": {\"id\": \"pv\", \"mac_address\": " MAC(1) ", \"network_id\": \"nv\","
    "        \"fixed_ips\": [{\"subnet_id\": \"s\", \"ip_address\": \"10.0.0.5\"}],"
    "        \"allowed_address_pairs\": [{\"ip_address\": \"10.0.0.100\", \"mac_address\": "
    MAC(1) "}],"
    "        \"admin_state_up\": true, \"port_security_enabled\": true,"
    "        \"security_groups\": [\"sg1\"], \"vif_type\": \"hyperv\"},"
    " \"pf\": {\"id\": \"pf\", \"mac_address\": " MAC(2) ", \"network_id\": \"nf\","
    "        \"fixed_ips\": [], \"allowed_address_pairs\": [], \"admin_state_up\": true,"
    "        \"port_security_enabled\": false, \"security_groups\": []},"
    " \"po\": {\"id\": \"po\", \"mac_address\": " MAC(3) ", \"network_id\": \"no\","
    "        \"fixed_ips\": [], \"allowed_address_pairs\": [], \"admin_state_up\": true,"
    "        \"port_security_enabled\": false, \"security_groups\": []},"
    " \"pl\": {\"id\": \"pl\", \"mac_address\": " MAC(4) ", \"network_id\": \"nl\","
    "        \"fixed_ips\": [], \"allowed_address_pairs\": [], \"admin_state_up\": false,"
    "        \"port_security_enabled\": false, \"security_groups\": []},"
    " \"pg\": {\"id\": \"pg\", \"mac_address\": " MAC(5) ", \"network_id\": \"ng\","
    "        \"fixed_ips\": [{\"subnet_id\": \"s2\", \"ip_address\": \"10.1.0.5\"}],"
    "        \"allowed_address_pairs\": [], \"admin_state_up\": true,"
    "        \"port_security_enabled\": true, \"security_groups\": []},"
    " \"pn\": {\"id\": \"pn\", \"mac_address\": " MAC(6) ", \"network_id\": \"nv\","
    "        \"fixed_ips\": [], \"allowed_address_pairs\": [], \"admin_state_up\": true,"
    "        \"port_security_enabled\": true, \"security_groups\": [\"sg1\"]},"
    " \"pm\": {\"id\": \"pm\", \"mac_address\": " MAC(7) ", \"network_id\": \"nv\","
    "        \"fixed_ips\": [{\"subnet_id\": \"s\", \"ip_address\": \"10.0.0.7\"}],"
    "        \"allowed_address_pairs\": [{\"ip_address\": \"10.0.0.200\","
    "                                     \"mac_address\": \"fa:16:3e:99:99:99\"},"
    "                                    {\"ip_address\": \"10.0.0.201\", \"mac_address\": null}],"
    "        \"admin_state_up\": true, \"port_security_enabled\": true,"
    "        \"security_groups\": []}},"
    "\"security_groups\": {\"sg1\": {\"id\": \"sg1\", \"rules\": ["
    " {\"id\": \"r1\", \"direction\": \"ingress\", \"ethertype\": \"IPv4\", \"protocol\": null,"
    "  \"port_range_min\": null, \"port_range_max\": null, \"remote_ip_prefix\": null,"
    "  \"remote_group_id\": \"sg1\"},"
    " {\"id\": \"r2\", \"direction\": \"ingress\", \"ethertype\": \"IPv6\", \"protocol\": null,"
    "  \"port_range_min\": null, \"port_range_max\": null, \"remote_ip_prefix\": null,"
    "  \"remote_group_id\": \"sg1\"},"
    " {\"id\": \"r3\", \"direction\": \"ingress\", \"ethertype\": \"IPv4\", \"protocol\": \"tcp\","
    "  \"port_range_min\": 22, \"port_range_max\": 22, \"remote_ip_prefix\": \"0.0.0.0/0\","
    "  \"remote_group_id\": null},"
    " {\"id\": \"r4\", \"direction\": \"egress\", \"ethertype\": \"IPv4\", \"protocol\": null,"
    "  \"port_range_min\": null, \"port_range_max\": null, \"remote_ip_prefix\": null,"
    "  \"remote_group_id\": null},"
    " {\"id\": \"r5\", \"direction\": \"egress\", \"ethertype\": \"IPv4\", \"protocol\": null,"
    "  \"port_range_min\": null, \"port_range_max\": null, \"remote_ip_prefix\": null,"
    "  \"remote_group_id\": null},"
    " {\"id\": \"r6\", \"direction\": \"ingress\", \"ethertype\": \"IPv4\", \"protocol\": \"tcp\","
    "  \"port_range_min\": 22, \"port_range_max\": 22, \"remote_ip_prefix\": \"10.0.0.0/8\","
    "  \"remote_group_id\": null},"
    " {\"id\": \"r7\", \"direction\": \"egress\", \"ethertype\": \"IPv6\", \"protocol\": \"udp\","
    "  \"port_range_min\": 53, \"port_range_max\": 53, \"remote_ip_prefix\": \"fd00::/8\","
    "  \"remote_group_id\": null},"
    " {\"id\": \"r8\", \"direction\": \"egress\", \"ethertype\": \"IPv6\", \"protocol\": \"udp\","
    "  \"port_range_min\": 53, \"port_range_max\": 53, \"remote_ip_prefix\": null,"
    "  \"remote_group_id\": null}]}},"
    "\"address_sets\": {\"sg1\": [\"10.0.0.7\", \"10.0.0.5\", \"fd00::5\", \"10.0.0.5\","
    "                             \"10.0.0.96/28\"]},"
    "\"lookup_records\": {"
    " \"5001/10.1.0.5/fa:16:3e:00:00:05\": {\"vsid\": 5001, \"customer_address\": \"10.1.0.5\","
    "   \"mac_address\": \"fa:16:3e:00:00:05\", \"provider_address\": \"192.168.1.1\","
    "   \"rule\": \"encap\", \"host\": \"hv1\", \"port_id\": \"pg\"},"
    " \"5001/10.1.0.9/fa:16:3e:00:00:09\": {\"vsid\": 5001, \"customer_address\": \"10.1.0.9\","
    "   \"mac_address\": \"fa:16:3e:00:00:09\", \"provider_address\": \"192.168.1.2\","
    "   \"rule\": \"encap\", \"host\": \"hv2\", \"port_id\": \"px\"}},"
    "\"customer_routes\": {"
    " \"5001/10.1.0.0/24\": {\"vsid\": 5001, \"routing_domain\": \"ng\","
    "   \"destination\": \"10.1.0.0/24\", \"next_hop\": \"0.0.0.0\"},"
    " \"5001/0.0.0.0/0\": {\"vsid\": 5001, \"routing_domain\": \"ng\","
    "   \"destination\": \"0.0.0.0/0\", \"next_hop\": \"10.1.0.1\"},"
    " \"6000/0.0.0.0/0\": {\"vsid\": 6000, \"routing_domain\": \"nz\","
    "   \"destination\": \"0.0.0.0/0\", \"next_hop\": \"10.9.0.1\"}},"
    "\"provider_addresses\": {\"192.168.1.1\": {\"address\": \"192.168.1.1\", \"host\": \"hv1\"}}"
    "}}";

static void load_plan(qag_plan *p)
{
    qag_plan_init(p);
    qj *a = J(plan_text);
    char err[256];
    if (qag_plan_apply(p, a, err, sizeof err) < 0)
        fail_msg("plan: %s", err);
    qj_free(a);
}

/* NICs present: every port but pn. */
static qvs_map *nics_all_but_pn(void)
{
    qvs_map *n = qvs_map_new();
    static const char *const ids[] = {"pv", "pf", "po", "pl", "pg", "pm"};
    for (size_t i = 0; i < QHV_ARRAY_SIZE(ids); i++)
        qvs_map_put(n, ids[i], qj_object());
    return n;
}

static const qag_dport *dport(const qag_desired *d, const char *id)
{
    for (size_t i = 0; i < d->nports; i++)
        if (!strcmp(d->ports[i].id, id))
            return &d->ports[i];
    fail_msg("port %s not in desired", id);
    return NULL;
}

static const char *vswitch_of(const qag_desired *d, const char *port)
{
    char id[64];
    snprintf(id, sizeof id, "port/%s", port);
    return qj_get_str(qvs_map_get(d->objects, id), "vswitch");
}

static bool flag(const qag_desired *d, const char *port, const char *name)
{
    char id[64];
    snprintf(id, sizeof id, "port/%s", port);
    const qj *v = qj_get(qvs_map_get(d->objects, id), name);
    if (!qj_is(v, QJ_BOOL))
        fail_msg("%s of %s is not a boolean", name, port);
    return v->u.b;
}

static const char conf_text[] =
    "[DEFAULT]\nhost = hv1\n[agent]\n"
    "physical_network_vswitch_mappings = physnet1:ext1, phys*:ext2 , *:catchall\n";

static void test_networks(void **state)
{
    qag_conf c;
    load_conf(&c, conf_text);
    qag_plan p;
    load_plan(&p);
    qvs_map *nics = nics_all_but_pn();
    qag_desired d;
    qag_desired_compute(&p, &c, nics, &d);
    /* Mappings: first match wins (physnet1 also matches phys* and *). */
    assert_string_equal(vswitch_of(&d, "pv"), "ext1");
    assert_string_equal(vswitch_of(&d, "pf"), "ext2");
    assert_string_equal(vswitch_of(&d, "po"), "catchall");
    assert_string_equal(vswitch_of(&d, "pl"), "private");
    /* nvgre: the mapping of "" ("*" matches it), as the Hyper-V agent does. */
    assert_string_equal(vswitch_of(&d, "pg"), "catchall");
    const qj *pv = qvs_map_get(d.objects, "port/pv");
    assert_int_equal(qj_get(pv, "vlan")->u.i, 101);
    assert_null(qj_get(pv, "vsid"));
    assert_string_equal(qj_get_str(pv, "network_type"), "vlan");
    assert_string_equal(qj_get_str(pv, "mac_address"), "fa:16:3e:00:00:01");
    const qj *pg = qvs_map_get(d.objects, "port/pg");
    assert_int_equal(qj_get(pg, "vsid")->u.i, 5001);
    assert_int_equal(qj_get(pg, "mtu")->u.i, 1458);
    assert_null(qj_get(pg, "vlan"));
    assert_null(qj_get(qvs_map_get(d.objects, "port/pf"), "vlan"));
    /* Admin state: the port's and the network's. */
    assert_true(flag(&d, "pv", "admin_state_up"));
    assert_false(flag(&d, "po", "admin_state_up"));    /* network down */
    assert_false(flag(&d, "pl", "admin_state_up"));    /* port down */
    assert_false(dport(&d, "po")->admin_up);
    /* The NIC of pn is absent: no objects for it, but the port is listed. */
    assert_null(qvs_map_get(d.objects, "port/pn"));
    assert_null(qvs_map_get(d.objects, "acl/pn/ingress"));
    assert_false(dport(&d, "pn")->nic);
    assert_int_equal(dport(&d, "pn")->ndeps, 0);
    assert_int_equal(d.nports, 7);
    /* Network-level objects: all of the plan's. */
    assert_non_null(qvs_map_get(d.objects, "lookup_record/5001/10.1.0.5/fa:16:3e:00:00:05"));
    assert_non_null(qvs_map_get(d.objects, "lookup_record/5001/10.1.0.9/fa:16:3e:00:00:09"));
    assert_non_null(qvs_map_get(d.objects, "customer_route/5001/0.0.0.0/0"));
    assert_non_null(qvs_map_get(d.objects, "provider_address/192.168.1.1"));
    /* pg depends on its port object, ACLs, its own lookup record (not hv2's),
     * the routes of its virtual subnet (not vsid 6000's) and its PA. */
    const qag_dport *g = dport(&d, "pg");
    assert_null(g->problem);
    char deps[1024] = "";
    for (size_t i = 0; i < g->ndeps; i++) {
        strncat(deps, g->deps[i], sizeof deps - strlen(deps) - 2);
        strncat(deps, " ", sizeof deps - strlen(deps) - 1);
    }
    assert_string_equal(deps, "port/pg acl/pg/ingress acl/pg/egress "
                              "lookup_record/5001/10.1.0.5/fa:16:3e:00:00:05 "
                              "provider_address/192.168.1.1 customer_route/5001/10.1.0.0/24 "
                              "customer_route/5001/0.0.0.0/0 ");
    /* Objects without port security: just the port. */
    assert_int_equal(dport(&d, "pf")->ndeps, 1);
    qag_desired_free(&d);
    qag_desired_free(&d);
    qag_desired_free(NULL);
    qvs_map_free(nics);
    qag_plan_free(&p);
    qag_conf_free(&c);
}

static void test_mapping_order_and_tunnel(void **state)
{
    qag_plan p;
    load_plan(&p);
    qvs_map *nics = nics_all_but_pn();
    qag_conf c;
    qag_desired d;
    /* The first matching pattern wins, even when a later one is exact. */
    load_conf(&c, "[DEFAULT]\nhost = hv1\n[agent]\n"
                  "physical_network_vswitch_mappings = phys*:A,physnet1:B\n");
    qag_desired_compute(&p, &c, nics, &d);
    assert_string_equal(vswitch_of(&d, "pv"), "A");
    assert_string_equal(vswitch_of(&d, "pf"), "A");
    /* Nothing matches "other": that port cannot be wired. */
    assert_null(qvs_map_get(d.objects, "port/po"));
    assert_non_null(dport(&d, "po")->problem);
    assert_int_equal(dport(&d, "po")->ndeps, 0);
    /* nvgre without a "" match: the first mapping's vswitch. */
    assert_string_equal(vswitch_of(&d, "pg"), "A");
    qag_desired_free(&d);
    qag_conf_free(&c);
    /* An explicit tunnel_vswitch; network types this agent does not serve. */
    load_conf(&c, "[DEFAULT]\nhost = hv1\n[agent]\ntunnel_vswitch = tun\n"
                  "network_types = nvgre, flat\n"
                  "physical_network_vswitch_mappings = physnet1:ext1\n");
    qag_desired_compute(&p, &c, nics, &d);
    assert_string_equal(vswitch_of(&d, "pg"), "tun");
    assert_non_null(dport(&d, "pv")->problem);    /* vlan not served */
    assert_non_null(dport(&d, "pl")->problem);    /* local not served */
    assert_non_null(dport(&d, "pf")->problem);    /* flat, but physnet9 unmapped */
    assert_null(qvs_map_get(d.objects, "port/pv"));
    qag_desired_free(&d);
    qag_conf_free(&c);
    qvs_map_free(nics);
    qag_plan_free(&p);
}

static void test_port_security(void **state)
{
    qag_conf c;
    load_conf(&c, conf_text);
    qag_plan p;
    load_plan(&p);
    qvs_map *nics = nics_all_but_pn();
    qag_desired d;
    qag_desired_compute(&p, &c, nics, &d);
    /* Port security on: no spoofing, DHCP and router guards, the addresses. */
    assert_true(flag(&d, "pv", "port_security"));
    assert_false(flag(&d, "pv", "mac_spoofing"));
    assert_true(flag(&d, "pv", "dhcp_guard"));
    assert_true(flag(&d, "pv", "router_guard"));
    char *allowed = qj_to_string(qj_get(qvs_map_get(d.objects, "port/pv"), "allowed_addresses"));
    assert_string_equal(allowed, "[{\"ip_address\":\"10.0.0.5\",\"mac_address\":"
                                 "\"fa:16:3e:00:00:01\"},{\"ip_address\":\"10.0.0.100\","
                                 "\"mac_address\":\"fa:16:3e:00:00:01\"}]");
    free(allowed);
    /* A pair with another MAC needs MAC spoofing; a pair without a MAC uses the port's. */
    assert_true(flag(&d, "pm", "mac_spoofing"));
    assert_true(flag(&d, "pm", "dhcp_guard"));
    const qj *pm_allowed = qj_get(qvs_map_get(d.objects, "port/pm"), "allowed_addresses");
    assert_string_equal(qj_get_str(qj_at(pm_allowed, 2), "mac_address"), "fa:16:3e:00:00:07");
    /* Port security off: spoofing allowed, no guards, no ACLs. */
    assert_false(flag(&d, "pf", "port_security"));
    assert_true(flag(&d, "pf", "mac_spoofing"));
    assert_false(flag(&d, "pf", "dhcp_guard"));
    assert_false(flag(&d, "pf", "router_guard"));
    assert_null(qj_get(qvs_map_get(d.objects, "port/pf"), "allowed_addresses"));
    assert_null(qvs_map_get(d.objects, "acl/pf/ingress"));
    assert_null(qvs_map_get(d.objects, "acl/pf/egress"));
    /* Port security on without groups: both directions deny everything. */
    const qj *ing = qvs_map_get(d.objects, "acl/pg/ingress");
    assert_string_equal(qj_get_str(ing, "default"), "deny");
    assert_int_equal(qj_len(qj_get(ing, "rules")), 0);
    assert_int_equal(qj_len(qj_get(qvs_map_get(d.objects, "acl/pg/egress"), "rules")), 0);
    qag_desired_free(&d);
    qvs_map_free(nics);
    qag_plan_free(&p);
    qag_conf_free(&c);
}

static void test_acl_rules(void **state)
{
    qag_plan p;
    load_plan(&p);
    qj *pv = qag_plan_get(&p, QAG_SEC_PORTS, "pv");
    qvs_map *groups = qag_plan_section(&p, QAG_SEC_GROUPS);
    /* Ingress: one rule per match with the union of its remotes; a remote
     * group is named as an address set of the rule's ethertype; protocols
     * become numbers. */
    qvs_map *sets = qvs_map_new();
    qj *in = qag_desired_acl_rules(groups, pv, "ingress", sets);
    char *text = qj_to_string(in);
    assert_string_equal(text,
        "[{\"ethertype\":\"IPv4\",\"protocol\":6,\"port_range_min\":22,"
        "\"port_range_max\":22,\"remote_ip_prefixes\":[\"0.0.0.0/0\",\"10.0.0.0/8\"],"
        "\"remote_address_sets\":[]},"
        "{\"ethertype\":\"IPv4\",\"protocol\":null,\"port_range_min\":null,"
        "\"port_range_max\":null,\"remote_ip_prefixes\":[],"
        "\"remote_address_sets\":[\"sg1/IPv4\"]},"
        "{\"ethertype\":\"IPv6\",\"protocol\":null,\"port_range_min\":null,"
        "\"port_range_max\":null,\"remote_ip_prefixes\":[],"
        "\"remote_address_sets\":[\"sg1/IPv6\"]}]");
    free(text);
    qj_free(in);
    assert_int_equal(qvs_map_size(sets), 2);
    assert_true(qvs_map_get(sets, "sg1/IPv4") != NULL);
    assert_true(qvs_map_get(sets, "sg1/IPv6") != NULL);
    qvs_map_free(sets);
    /* Egress: the two identical allow-all rules are one; a prefix and
     * "anywhere" for the same match is anywhere (null, no sets). */
    qj *out = qag_desired_acl_rules(groups, pv, "egress", NULL);
    text = qj_to_string(out);
    assert_string_equal(text,
        "[{\"ethertype\":\"IPv4\",\"protocol\":null,\"port_range_min\":null,"
        "\"port_range_max\":null,\"remote_ip_prefixes\":null,\"remote_address_sets\":[]},"
        "{\"ethertype\":\"IPv6\",\"protocol\":17,\"port_range_min\":53,"
        "\"port_range_max\":53,\"remote_ip_prefixes\":null,\"remote_address_sets\":[]}]");
    free(text);
    qj_free(out);
    qj_free(pv);
    qvs_map_free(groups);
    qag_plan_free(&p);
}

/* The address sets: the members of each family as prefixes (host prefixes
 * added, a member prefix kept), sorted, unique; a membership change rewrites
 * the set and leaves the ACLs alone. */
static void test_address_sets(void **state)
{
    qag_conf c;
    qag_plan p;
    load_conf(&c, conf_text);
    load_plan(&p);
    qvs_map *nics = nics_all_but_pn();
    qag_desired d;
    qag_desired_compute(&p, &c, nics, &d);
    char *v4 = qj_to_string(qvs_map_get(d.objects, "address_set/sg1/IPv4"));
    assert_string_equal(v4, "{\"group_id\":\"sg1\",\"ethertype\":\"IPv4\",\"addresses\":"
                            "[\"10.0.0.5/32\",\"10.0.0.7/32\",\"10.0.0.96/28\"]}");
    char *v6 = qj_to_string(qvs_map_get(d.objects, "address_set/sg1/IPv6"));
    assert_string_equal(v6, "{\"group_id\":\"sg1\",\"ethertype\":\"IPv6\",\"addresses\":"
                            "[\"fd00::5/128\"]}");
    char *acl = qj_to_string(qvs_map_get(d.objects, "acl/pv/ingress"));
    bool dep = false;
    for (size_t i = 0; i < d.nports; i++)
        for (size_t k = 0; k < d.ports[i].ndeps; k++)
            if (!strcmp(d.ports[i].id, "pv") &&
                !strcmp(d.ports[i].deps[k], "address_set/sg1/IPv6"))
                dep = true;
    assert_true(dep);
    qag_desired_free(&d);
    /* Members leave: the sets are emptied, the ACL is the same text. */
    char err[256];
    qj *leave = J("{\"revision\": 8, \"since\": 7, \"delta\": {"
             "\"address_sets\": {\"set\": {\"sg1\": []}}}}");
    assert_int_equal(qag_plan_apply(&p, leave, err, sizeof err), 1);
    qj_free(leave);
    qag_desired_compute(&p, &c, nics, &d);
    char *acl2 = qj_to_string(qvs_map_get(d.objects, "acl/pv/ingress"));
    assert_string_equal(acl, acl2);
    assert_int_equal(qj_len(qj_get(qvs_map_get(d.objects, "address_set/sg1/IPv4"),
                                   "addresses")), 0);
    free(v4);
    free(v6);
    free(acl);
    free(acl2);
    qag_desired_free(&d);
    qvs_map_free(nics);
    qag_plan_free(&p);
    qag_conf_free(&c);
}

static void test_conf(void **state)
{
    qag_conf c;
    load_conf(&c, "[agent]\nserver_url = http://h:1/\n");
    assert_int_equal(c.servers.n, 1);     /* the list (lib/urls.h), without the '/' */
    assert_string_equal(c.servers.v[0], "http://h:1");
    assert_int_equal(c.report_interval, 30);
    assert_int_equal(c.poll_wait, 30);
    assert_string_equal(c.local_network_vswitch, "private");
    assert_string_equal(c.backend, "dummy");
    assert_string_equal(c.vif_type, "hyperv");
    assert_int_equal(c.n_types, 5);
    assert_true(strlen(c.host) > 0);    /* the hostname */
    qag_conf_free(&c);
    qag_conf_free(NULL);
    char err[256];
    memset(&c, 0, sizeof c);
    assert_int_equal(qag_conf_set_mappings(&c, "a:b,nocolon", err, sizeof err), -1);
    assert_non_null(strstr(err, "nocolon"));
    assert_int_equal(qag_conf_set_mappings(&c, " x*:y:z , :q", err, sizeof err), -1);
    assert_int_equal(qag_conf_set_mappings(&c, " x*:y:z ", err, sizeof err), 0);
    assert_int_equal(c.n_mappings, 1);
    assert_string_equal(c.mappings[0].pattern, "x*:y");   /* vswitch after the last ':' */
    assert_string_equal(c.mappings[0].vswitch, "z");
    assert_string_equal(qag_conf_vswitch_for(&c, "x1:y"), "z");
    assert_null(qag_conf_vswitch_for(&c, "x1"));
    qag_conf_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_networks),
        cmocka_unit_test(test_mapping_order_and_tunnel),
        cmocka_unit_test(test_port_security),
        cmocka_unit_test(test_acl_rules),
        cmocka_unit_test(test_address_sets),
        cmocka_unit_test(test_conf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
