/* The model on a real SQLite store, without HTTP: segment allocation, IPAM,
 * subnet validation, quotas, and rollback of failed writes. */
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
#include "model/config.h"
#include "model/resources.h"
#include "model/secgroup.h"

typedef unit_model fixture;

static int setup(void **state)
{
    *state = unit_model_open("[ml2]\ntenant_network_types = vlan,nvgre\n"
               "[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:10:11\n"
               "[ml2_type_nvgre]\nvsid_ranges = 5000:5001\n"
               "[quotas]\nquota_network = 5\n");
    return 0;
}

static int teardown(void **state)
{
    unit_model_close(*state);
    return 0;
}

static qj *parse(const char *s)
{
    qj *v = qj_parse(s, strlen(s), NULL, NULL);
    assert_non_null(v);
    return v;
}

/* Creates from JSON text; returns the object (caller frees) or NULL with *code. */
static qj *create(fixture *f, const qresource *r, const char *json, qerr_code *code)
{
    qj *body = parse(json), *out = NULL;
    qerr e = {0};
    int rc = qres_create_request(f->m, &f->admin, r, body, &out, &e);
    qj_free(body);
    if (code)
        *code = rc < 0 ? e.code : QE_OK;
    if (rc < 0)
        return NULL;
    qj *obj = qj_take(out, r->name);
    qj_free(out);
    return obj;
}

static void test_tenant_segments_in_order_then_exhausted(void **state)
{
    fixture *f = *state;
    const char *want_type[] = {"vlan", "vlan", "nvgre", "nvgre"};
    int64_t seen[4];
    for (int i = 0; i < 4; i++) {
        qerr_code c;
        qj *n = create(f, &qres_network, "{\"network\":{\"name\":\"t\"}}", &c);
        assert_non_null(n);
        assert_string_equal(qj_get_str(n, "provider:network_type"), want_type[i]);
        seen[i] = qj_get(n, "provider:segmentation_id")->u.i;
        assert_int_equal(qj_get(n, "mtu")->u.i, i < 2 ? 1500 : 1458);
        qj_free(n);
    }
    assert_true(seen[0] != seen[1] && seen[0] >= 10 && seen[0] <= 11);
    assert_true(seen[2] != seen[3] && seen[2] >= 5000 && seen[2] <= 5001);
    qerr_code c;
    assert_null(create(f, &qres_network, "{\"network\":{\"name\":\"t\"}}", &c));
    assert_int_equal(c, QE_NO_NETWORK_AVAILABLE);
    /* ip_rewrite shares the VSID space with nvgre. */
    assert_null(create(f, &qres_network,
                       "{\"network\":{\"provider:network_type\":\"ip_rewrite\","
                       "\"provider:segmentation_id\":5000}}", &c));
    assert_int_equal(c, QE_TUNNEL_IN_USE);
    qj *n = create(f, &qres_network, "{\"network\":{\"provider:network_type\":\"ip_rewrite\","
                                     "\"provider:segmentation_id\":\"70000\"}}", &c);
    assert_non_null(n);
    assert_int_equal(qj_get(n, "provider:segmentation_id")->u.i, 70000);
    qj_free(n);
    /* Quota: 5 networks. */
    assert_null(create(f, &qres_network, "{\"network\":{\"provider:network_type\":\"local\"}}", &c));
    assert_int_equal(c, QE_OVER_QUOTA);
}

static void test_ipam_exhaustion_and_no_duplicates(void **state)
{
    fixture *f = *state;
    qerr_code c;
    qj *n = create(f, &qres_network, "{\"network\":{\"provider:network_type\":\"local\"}}", &c);
    assert_non_null(n);
    char body[512];
    snprintf(body, sizeof body, "{\"subnet\":{\"network_id\":\"%s\",\"ip_version\":4,"
                                "\"cidr\":\"192.168.9.0/29\"}}", qj_get_str(n, "id"));
    qj *s = create(f, &qres_subnet, body, &c);
    assert_non_null(s);
    assert_string_equal(qj_get_str(s, "gateway_ip"), "192.168.9.1");
    char seen[8][QADDR_STRLEN];
    snprintf(body, sizeof body, "{\"port\":{\"network_id\":\"%s\"}}", qj_get_str(n, "id"));
    for (int i = 0; i < 5; i++) {   /* .2 - .6 */
        qj *p = create(f, &qres_port, body, &c);
        assert_non_null(p);
        const char *ip = qj_get_str(qj_at(qj_get(p, "fixed_ips"), 0), "ip_address");
        snprintf(seen[i], sizeof seen[i], "%s", ip);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[j], ip);
        qj_free(p);
    }
    assert_null(create(f, &qres_port, body, &c));
    assert_int_equal(c, QE_IP_EXHAUSTED);
    qj_free(s);
    qj_free(n);
}

static void test_subnet_rules(void **state)
{
    fixture *f = *state;
    qerr_code c;
    qj *n = create(f, &qres_network, "{\"network\":{\"provider:network_type\":\"local\"}}", &c);
    assert_non_null(n);
    const char *id = qj_get_str(n, "id");
    struct { const char *extra; qerr_code want; } cases[] = {
        {"\"cidr\":\"10.0.0.1/24\"", QE_BAD_REQUEST},
        {"\"cidr\":\"10.0.0.0/24\",\"allocation_pools\":[{\"start\":\"10.0.1.1\",\"end\":\"10.0.1.5\"}]",
         QE_POOL_OUT_OF_BOUNDS},
        {"\"cidr\":\"10.0.0.0/24\",\"allocation_pools\":[{\"start\":\"10.0.0.9\",\"end\":\"10.0.0.5\"}]",
         QE_POOL_INVALID},
        {"\"cidr\":\"10.0.0.0/24\",\"allocation_pools\":[{\"start\":\"10.0.0.2\",\"end\":\"10.0.0.9\"},"
         "{\"start\":\"10.0.0.9\",\"end\":\"10.0.0.20\"}]", QE_POOL_OVERLAP},
        {"\"cidr\":\"10.0.0.0/24\",\"gateway_ip\":\"10.0.0.5\",\"allocation_pools\":"
         "[{\"start\":\"10.0.0.2\",\"end\":\"10.0.0.9\"}]", QE_GATEWAY_CONFLICT},
        {"\"cidr\":\"10.0.0.0/24\",\"ipv6_ra_mode\":\"slaac\"", QE_INVALID_INPUT},
        {"\"cidr\":\"10.0.0.0/24\",\"gateway_ip\":\"10.0.0.255\"", QE_INVALID_INPUT},
        {"\"cidr\":\"10.0.0.0/24\",\"dns_nameservers\":[\"1.1.1.1\",\"1.1.1.1\"]", QE_BAD_REQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[600];
        snprintf(body, sizeof body, "{\"subnet\":{\"network_id\":\"%s\",\"ip_version\":4,%s}}", id,
                 cases[i].extra);
        qj *s = create(f, &qres_subnet, body, &c);
        assert_null(s);
        assert_int_equal(c, cases[i].want);
    }
    /* Nothing of the failed writes remains: the network has no subnets. */
    qj *out = NULL;
    qerr e;
    assert_int_equal(qres_show_request(f->m, &f->admin, &qres_network, id, NULL, &out, &e), 0);
    assert_int_equal(qj_len(qj_get(qj_get(out, "network"), "subnets")), 0);
    qj_free(out);
    qj_free(n);
}

static void test_default_security_group_once(void **state)
{
    fixture *f = *state;
    qerr e;
    assert_int_equal(qsg_ensure_default_request(f->m, &f->admin, &e), 0);
    assert_int_equal(qsg_ensure_default_request(f->m, &f->admin, &e), 0);
    qj *out = NULL;
    qlist_page page;
    assert_int_equal(qres_list_request(f->m, &f->admin, &qres_security_group, NULL, &out, &page, &e), 0);
    qj *list = qj_get(out, "security_groups");
    assert_int_equal(qj_len(list), 1);
    assert_string_equal(qj_get_str(qj_at(list, 0), "name"), "default");
    assert_int_equal(qj_len(qj_get(qj_at(list, 0), "security_group_rules")), 4);
    qj_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tenant_segments_in_order_then_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipam_exhaustion_and_no_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subnet_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_security_group_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
