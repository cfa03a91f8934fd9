/* model/nova: which port changes give which Nova events (Neutron's rules),
 * and lib/kslogin's catalogue reading for Nova's endpoint. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json.h"
#include "lib/kslogin.h"
#include "model/nova.h"

#define VM "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
#define PORT "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

static qconf conf_all = {.notify_nova_on_port_status_changes = true,
                         .notify_nova_on_port_data_changes = true};

static qj *port(const char *status, const char *owner, const char *dev, const char *ip,
                const char *vif)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"id\": \"" PORT "\", \"status\": \"%s\", \"device_owner\": \"%s\", "
             "\"device_id\": \"%s\", \"fixed_ips\": [{\"subnet_id\": \"s\", \"ip_address\": "
             "\"%s\"}], \"binding:vif_type\": \"%s\"}",
             status, owner, dev, ip, vif);
    qj *p = qj_parse(text, strlen(text), NULL, NULL);
    assert_non_null(p);
    return p;
}

static qj *vm_port(const char *status) { return port(status, "compute:nova", VM, "10.0.0.5", "ovs"); }

/* The events of old -> new as "name/status" joined by ",". */
static void events(const qconf *c, const qj *old, const qj *new, char *out, size_t n)
{
    qoutbox_event ev[QNOVA_MAX_EVENTS];
    size_t k = qnova_port_events(c, old, new, ev);
    out[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        assert_string_equal(ev[i].server_uuid, VM);
        assert_string_equal(ev[i].tag, PORT);
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s%s/%s", i ? "," : "", ev[i].name, ev[i].status);
    }
}

static void check(const qj *old, const qj *new, const char *want)
{
    char got[512];
    events(&conf_all, old, new, got, sizeof got);
    assert_string_equal(got, want);
}

static void test_status_transitions(void **state)
{
    (void)state;
    qj *down = vm_port("DOWN"), *active = vm_port("ACTIVE"), *build = vm_port("BUILD");
    qj *error = vm_port("ERROR");
    check(down, active, "network-vif-plugged/completed");
    check(build, active, "network-vif-plugged/completed");
    check(NULL, active, "network-vif-plugged/completed");     /* created already up */
    check(NULL, down, "");
    check(down, error, "network-vif-plugged/failed");
    check(active, down, "network-vif-unplugged/completed");
    check(active, error, "");                                 /* Neutron: no event */
    check(error, active, "");
    check(active, active, "");
    check(down, down, "");
    qj_free(down);
    qj_free(active);
    qj_free(build);
    qj_free(error);
}

static void test_binding_failed(void **state)
{
    (void)state;
    qj *bound = port("DOWN", "compute:nova", VM, "10.0.0.5", "ovs");
    qj *failed = port("DOWN", "compute:nova", VM, "10.0.0.5", "binding_failed");
    qj *unbound = port("DOWN", "compute:nova", VM, "10.0.0.5", "unbound");
    check(unbound, failed, "network-vif-plugged/failed");
    check(bound, failed, "network-vif-plugged/failed");
    check(NULL, failed, "network-vif-plugged/failed");
    check(failed, failed, "");                                /* once, not at every write */
    check(failed, bound, "");
    qj_free(bound);
    qj_free(failed);
    qj_free(unbound);
}

static void test_data_changes(void **state)
{
    (void)state;
    qj *a = vm_port("ACTIVE");
    qj *b = port("ACTIVE", "compute:nova", VM, "10.0.0.6", "ovs");
    check(a, b, "network-changed/");
    check(a, NULL, "network-vif-deleted/");                   /* whatever its status */
    qj *down = vm_port("DOWN");
    check(down, NULL, "network-vif-deleted/");
    /* An IP change and a status change in one write: both. */
    qj *b_down = port("DOWN", "compute:nova", VM, "10.0.0.6", "ovs");
    check(a, b_down, "network-changed/,network-vif-unplugged/completed");
    qj_free(a);
    qj_free(b);
    qj_free(down);
    qj_free(b_down);
}

static void test_only_instance_ports(void **state)
{
    (void)state;
    const char *owners[] = {"network:dhcp", "", "compute", "network:router_interface"};
    for (size_t i = 0; i < 4; i++) {
        qj *d = port("DOWN", owners[i], VM, "10.0.0.5", "ovs");
        qj *a = port("ACTIVE", owners[i], VM, "10.0.0.5", "ovs");
        check(d, a, "");
        check(a, NULL, "");
        qj_free(d);
        qj_free(a);
    }
    /* device_id must name an instance (a UUID). */
    const char *devs[] = {"", "vm-1", "6f1c2d3e4a5b4c6d8e7f9a0b1c2d3e4f0"};
    for (size_t i = 0; i < 3; i++) {
        qj *d = port("DOWN", "compute:nova", devs[i], "10.0.0.5", "ovs");
        qj *a = port("ACTIVE", "compute:nova", devs[i], "10.0.0.5", "ovs");
        check(d, a, "");
        qj_free(d);
        qj_free(a);
    }
    /* Any compute: zone counts. */
    qj *d = port("DOWN", "compute:az-2", VM, "10.0.0.5", "ovs");
    qj *a = port("ACTIVE", "compute:az-2", VM, "10.0.0.5", "ovs");
    check(d, a, "network-vif-plugged/completed");
    qj_free(d);
    qj_free(a);
}

static void test_options(void **state)
{
    (void)state;
    qconf status_only = {.notify_nova_on_port_status_changes = true};
    qconf data_only = {.notify_nova_on_port_data_changes = true};
    qj *down = vm_port("DOWN"), *active = vm_port("ACTIVE");
    qj *moved = port("ACTIVE", "compute:nova", VM, "10.0.0.9", "ovs");
    char got[256];
    events(&status_only, down, active, got, sizeof got);
    assert_string_equal(got, "network-vif-plugged/completed");
    events(&status_only, active, NULL, got, sizeof got);
    assert_string_equal(got, "");
    events(&status_only, active, moved, got, sizeof got);
    assert_string_equal(got, "");
    events(&data_only, down, active, got, sizeof got);
    assert_string_equal(got, "");
    events(&data_only, active, NULL, got, sizeof got);
    assert_string_equal(got, "network-vif-deleted/");
    events(&data_only, active, moved, got, sizeof got);
    assert_string_equal(got, "network-changed/");
    qj_free(down);
    qj_free(active);
    qj_free(moved);
}

static const char catalog[] =
    "{\"token\": {\"catalog\": ["
    " {\"type\": \"network\", \"endpoints\": [{\"interface\": \"public\", \"region_id\": \"R1\","
    "   \"url\": \"http://qhv:9696\"}]},"
    " {\"type\": \"compute\", \"endpoints\": ["
    "   {\"interface\": \"admin\", \"region_id\": \"R1\", \"url\": \"http://a1:8774/v2.1\"},"
    "   {\"interface\": \"public\", \"region_id\": \"R2\", \"url\": \"http://p2:8774/v2.1/\"},"
    "   {\"interface\": \"public\", \"region\": \"R1\", \"url\": \"http://p1:8774/v2.1\"},"
    "   {\"interface\": \"internal\", \"region_id\": \"R1\", \"url\": \"http://i1:8774/v2.1\"}]}"
    "]}}";

static void test_catalog(void **state)
{
    (void)state;
    char why[256];
    size_t n = strlen(catalog);
    char *u = qkl_catalog_url(catalog, n, "compute", "public", "R1", why, sizeof why);
    assert_string_equal(u, "http://p1:8774/v2.1");
    free(u);
    u = qkl_catalog_url(catalog, n, "compute", "public", NULL, why, sizeof why);
    assert_string_equal(u, "http://p2:8774/v2.1");            /* first; slash dropped */
    free(u);
    u = qkl_catalog_url(catalog, n, "compute", "internal", "", why, sizeof why);
    assert_string_equal(u, "http://i1:8774/v2.1");
    free(u);
    assert_null(qkl_catalog_url(catalog, n, "compute", "admin", "R2", why, sizeof why));
    assert_non_null(strstr(why, "no admin endpoint of compute in region R2"));
    assert_null(qkl_catalog_url(catalog, n, "image", "public", NULL, why, sizeof why));
    assert_non_null(strstr(why, "no service of type image"));
    assert_null(qkl_catalog_url("{\"token\": {}}", 13, "compute", "public", NULL, why,
                                sizeof why));
    assert_non_null(strstr(why, "no catalogue"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_transitions),
        cmocka_unit_test(test_binding_failed),
        cmocka_unit_test(test_data_changes),
        cmocka_unit_test(test_only_instance_ports),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
