/* The DHCP role in the model on a real SQLite store, without HTTP: Neutron's
 * DHCP port device id, scheduling to the least loaded node, the failover of
 * a dead node's network (the watcher's qdhcp_failover) and nothing done,
 * no revision spent, when there is nowhere to move. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/util.h"
#include "unit_model.h"
#include "model/agent.h"
#include "model/config.h"
#include "model/dhcp.h"
#include "model/resources.h"

typedef unit_model fixture;

static int setup(void **state)
{
    *state = unit_model_open("[ml2]\ntenant_network_types = vlan\n"
               "[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:10:20\n");
    return 0;
}

static int teardown(void **state)
{
    unit_model_close(*state);
    return 0;
}

static qj *parse(const char *text)
{
    qj *v = qj_parse(text, strlen(text), NULL, NULL);
    assert_non_null(v);
    return v;
}

static void node_report(fixture *f, const char *host)
{
    qj *body = parse("{\"agent\": {\"agent_type\": \"Open vSwitch agent\", \"configurations\": "
                     "{\"vif_type\": \"ovs\", \"network_types\": [\"vlan\"], "
                     "\"vswitch_mappings\": [\"physnet*:br-ex\"], \"dhcp\": true}}}");
    qj *ret = NULL;
    qerr e;
    assert_int_equal(qagent_report_request(f->m, host, body, &ret, &e), 0);
    qj_free(ret);
    qj_free(body);
}

/* A network with one DHCP-enabled subnet; its id into id. */
static void dhcp_network(fixture *f, const char *cidr, char id[37])
{
    qj *ret = NULL;
    qerr e;
    qj *body = parse("{\"network\": {\"name\": \"n\"}}");
    assert_int_equal(qres_create_request(f->m, &f->admin, &qres_network, body, &ret, &e), 0);
    snprintf(id, 37, "%s", qj_get_str(qj_get(ret, "network"), "id"));
    qj_free(ret);
    qj_free(body);
    char *s = xasprintf("{\"subnet\": {\"network_id\": \"%s\", \"cidr\": \"%s\", "
                        "\"ip_version\": 4}}", id, cidr);
    body = parse(s);
    free(s);
    assert_int_equal(qres_create_request(f->m, &f->admin, &qres_subnet, body, &ret, &e), 0);
    qj_free(ret);
    qj_free(body);
}

/* The network's DHCP ports (caller frees). */
static qj *dhcp_ports(fixture *f, const char *nid)
{
    qj *ret = NULL;
    qerr e;
    char *v = xasprintf("%s", nid);
    struct { const char *key, *value; } kv[] = {{"network_id", v},
                                                {"device_owner", "network:dhcp"}};
    qquery q = {2, (void *)kv};
    assert_int_equal(qres_list_request(f->m, &f->admin, &qres_port, &q, &ret, &(qlist_page){0},
                                       &e), 0);
    free(v);
    qj *list = qj_take(ret, "ports");
    qj_free(ret);
    return list;
}

static void test_device_id_is_neutrons(void **state)
{
    (void)state;
    char id[QDHCP_DEVICE_ID_LEN];
    const char *nid = "3c9a3e71-5b0e-4d5e-8a39-0f3e2a9d6c11";
    /* python3: 'dhcp%s-%s' % (uuid.uuid5(uuid.NAMESPACE_DNS, 'node1'), nid) */
    qdhcp_device_id("node1", nid, id);
    assert_string_equal(id, "dhcp8461c769-9756-5dd2-a662-868702182d0e-"
                            "3c9a3e71-5b0e-4d5e-8a39-0f3e2a9d6c11");
    /* Only the host name counts, not its domain (Neutron splits at '.'). */
    qdhcp_device_id("node1.example.org", nid, id);
    assert_string_equal(id, "dhcp8461c769-9756-5dd2-a662-868702182d0e-"
                            "3c9a3e71-5b0e-4d5e-8a39-0f3e2a9d6c11");
    qdhcp_device_id("hv-01", nid, id);
    assert_string_equal(id, "dhcp2435876a-c8f9-5425-9cfd-274a10295a8c-"
                            "3c9a3e71-5b0e-4d5e-8a39-0f3e2a9d6c11");
    /* A port is scheduled only when named for its host and network. */
    char *doc = xasprintf("{\"device_owner\": \"network:dhcp\", \"binding:host_id\": \"hv-01\", "
                          "\"network_id\": \"%s\", \"device_id\": \"%s\"}", nid, id);
    qj *p = parse(doc);
    free(doc);
    assert_true(qdhcp_port_scheduled(p));
    qj_set(p, "binding:host_id", qj_str("node1"));
    assert_false(qdhcp_port_scheduled(p));
    qj_set(p, "binding:host_id", qj_str("hv-01"));
    qj_set(p, "device_owner", qj_str("compute:nova"));
    assert_false(qdhcp_port_scheduled(p));
    qj_free(p);
}

static void test_least_loaded_then_failover(void **state)
{
    fixture *f = *state;
    node_report(f, "na");
    node_report(f, "nb");
    char n1[37], n2[37], n3[37];
    dhcp_network(f, "10.1.0.0/24", n1);
    dhcp_network(f, "10.2.0.0/24", n2);
    qj *p1 = dhcp_ports(f, n1), *p2 = dhcp_ports(f, n2);
    assert_int_equal(qj_len(p1), 1);
    assert_int_equal(qj_len(p2), 1);
    const char *h1 = qj_get_str(qj_at(p1, 0), "binding:host_id");
    const char *h2 = qj_get_str(qj_at(p2, 0), "binding:host_id");
    assert_string_not_equal(h1, h2);     /* one each: least loaded first */
    /* Nothing is dead: the watcher changes nothing, spends no revision. */
    int64_t rev = qstore_revision(f->store);
    qerr e;
    assert_int_equal(qdhcp_failover(f->m, &e), 0);
    assert_int_equal(qstore_revision(f->store), rev);
    /* h1's DHCP agent dies (its last heartbeat long ago). */
    qop op = {.m = f->m, .ctx = &f->admin, .now = qhv_wall_seconds()};
    assert_int_equal(qstore_begin_write(f->store, &e), 0);
    qj *row;
    assert_int_equal(qdhcp_agent_load(&op, h1, &row, &e), 0);
    assert_non_null(row);
    qj_set(row, "heartbeat_timestamp", qj_str("2000-01-01 00:00:00"));
    assert_int_equal(qres_store(&op, &qres_agent, row, false, &e), 0);
    qj_free(row);
    assert_int_equal(qmodel_finish(&op, 0, &e), 0);
    assert_int_equal(qdhcp_failover(f->m, &e), 1);
    qj *moved = dhcp_ports(f, n1);
    assert_int_equal(qj_len(moved), 1);
    const qj *m = qj_at(moved, 0);
    assert_string_equal(qj_get_str(m, "binding:host_id"), h2);
    assert_string_equal(qj_get_str(m, "id"), qj_get_str(qj_at(p1, 0), "id"));
    assert_true(qj_equal(qj_get(m, "fixed_ips"), qj_get(qj_at(p1, 0), "fixed_ips")));
    assert_true(qdhcp_port_scheduled(m));
    /* A new network while h1 is dead goes to the live one. */
    dhcp_network(f, "10.3.0.0/24", n3);
    qj *p3 = dhcp_ports(f, n3);
    assert_string_equal(qj_get_str(qj_at(p3, 0), "binding:host_id"), h2);
    /* Now h2 dies too: nowhere to move, nothing written. */
    assert_int_equal(qstore_begin_write(f->store, &e), 0);
    assert_int_equal(qdhcp_agent_load(&op, h2, &row, &e), 0);
    qj_set(row, "heartbeat_timestamp", qj_str("2000-01-01 00:00:00"));
    assert_int_equal(qres_store(&op, &qres_agent, row, false, &e), 0);
    qj_free(row);
    assert_int_equal(qmodel_finish(&op, 0, &e), 0);
    rev = qstore_revision(f->store);
    assert_int_equal(qdhcp_failover(f->m, &e), 0);
    assert_int_equal(qstore_revision(f->store), rev);
    qj_free(p1);
    qj_free(p2);
    qj_free(p3);
    qj_free(moved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_id_is_neutrons),
        cmocka_unit_test_setup_teardown(test_least_loaded_then_failover, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
