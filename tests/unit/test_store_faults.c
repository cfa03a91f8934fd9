/* The model when the database fails part-way, on a real SQLite store whose
 * engine is wrapped so that the Nth statement step fails (as a lost
 * PostgreSQL connection or an I/O error does): for every N, a host's plan
 * and a port create must fail cleanly (an error, nothing returned, nothing
 * leaked: the sanitizer builds run this too) and a write must change
 * nothing; once the faults stop, everything is as if they never happened. */
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
#include "model/agent.h"
#include "model/config.h"
#include "model/plan.h"
#include "model/resources.h"
#include "model/secgroup.h"
#include "store/engine.h"

/* The wrapped engine: SQLite's own functions, except that statements are
 * handed out as ours and the step numbered fault_at fails. */
static qstore_engine faulty;
static const qstore_engine *real;
static long steps, fault_at;   /* fault_at 0: no fault */

static qstmt *faulty_own(qstmt *st)
{
    if (st)
        st->eng = &faulty;
    return st;
}

static qstmt *faulty_stmt(qstore *s, const char *sql, qerr *e) { return faulty_own(real->stmt(s, sql, e)); }
static qstmt *faulty_prepare(qstore *s, const char *sql, qerr *e)
{
    return faulty_own(real->prepare(s, sql, e));
}

static int faulty_step(qstmt *st)
{
    if (fault_at && ++steps == fault_at)
        return QSTORE_ERROR;
    return real->step(st);
}

typedef struct fixture {
    char dir[64];
    qconf conf;
    qstore *store;
    qmodel *m;
    qctx admin;
} fixture;

static int setup(void **state)
{
    fixture *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/qhv-unit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/c.conf", f->dir);
    FILE *c = fopen(path, "w");
    fprintf(c, "[database]\nconnection = sqlite:///%s/db.sqlite\n"
               "[ml2]\ntenant_network_types = vlan,nvgre\n"
               "[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:10:20\n"
               "[ml2_type_nvgre]\nvsid_ranges = 5000:5010\n", f->dir);
    fclose(c);
    const char *files[] = {path};
    assert_int_equal(qconf_load(&f->conf, files, 1, err, sizeof err), 0);
    qerr e;
    qstore_opts so = {.sqlite_path = f->conf.db_path, .sqlite_synchronous = "NORMAL", .migrate = true};
    f->store = qstore_open(&so, &e);
    assert_non_null(f->store);
    real = f->store->eng;
    faulty = *real;
    faulty.stmt = faulty_stmt;
    faulty.prepare = faulty_prepare;
    faulty.step = faulty_step;
    f->store->eng = &faulty;
    fault_at = 0;
    f->m = qmodel_new(f->store, &f->conf);
    snprintf(f->admin.project_id, sizeof f->admin.project_id, "p1");
    f->admin.is_admin = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    fault_at = 0;
    qmodel_free(f->m);
    f->store->eng = real;
    qstore_close(f->store);
    qconf_free(&f->conf);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static qj *parse(const char *text)
{
    qj *v = qj_parse(text, strlen(text), NULL, NULL);
    assert_non_null(v);
    return v;
}

/* Creates from JSON text (taken: freed here); the new object's id into id
 * when id is not NULL. */
static void create_text(fixture *f, const qresource *r, char id[37], char *text)
{
    qj *body = parse(text), *ret = NULL;
    free(text);
    qerr e = {0};
    assert_int_equal(qres_create_request(f->m, &f->admin, r, body, &ret, &e), 0);
    if (id)
        snprintf(id, 37, "%s", qj_get_str(qj_get(ret, r->name), "id"));
    qj_free(ret);
    qj_free(body);
}
#define create(f, r, id, ...) create_text(f, r, id, xasprintf(__VA_ARGS__))

static void report(fixture *f, const char *host, const char *pa)
{
    char *text = xasprintf("{\"agent\": {\"agent_type\": \"HyperV agent\", \"binary\": \"qhv-agent\", "
                           "\"configurations\": {\"backend\": \"dummy\", \"vif_type\": \"hyperv\", "
                           "\"network_types\": [\"vlan\", \"nvgre\"], \"vswitch_mappings\": "
                           "[\"physnet*:external\"], \"port_filter\": true, "
                           "\"provider_address\": \"%s\"}}}", pa);
    qj *body = parse(text), *ret = NULL;
    free(text);
    qerr e = {0};
    assert_int_equal(qagent_report_request(f->m, host, body, &ret, &e), 0);
    qj_free(ret);
    qj_free(body);
}

/* Two hosts; a VLAN and an NVGRE network with a subnet each; a group whose
 * rule names the group itself; ports on both hosts in it. */
static void world(fixture *f)
{
    report(f, "h1", "192.168.50.1");
    report(f, "h2", "192.168.50.2");
    char sg[37], nets[2][37];
    create(f, &qres_security_group, sg, "{\"security_group\": {\"name\": \"web\"}}");
    create(f, &qres_security_group_rule, NULL,
           "{\"security_group_rule\": {\"security_group_id\": \"%s\", \"direction\": \"ingress\", "
           "\"ethertype\": \"IPv4\", \"protocol\": \"tcp\", \"port_range_min\": 80, "
           "\"port_range_max\": 80, \"remote_group_id\": \"%s\"}}", sg, sg);
    const char *types[] = {"vlan", "nvgre"}, *cidrs[] = {"10.1.0.0/24", "10.2.0.0/24"};
    for (int n = 0; n < 2; n++) {
        create(f, &qres_network, nets[n], "{\"network\": {\"provider:network_type\": \"%s\"}}",
               types[n]);
        create(f, &qres_subnet, NULL, "{\"subnet\": {\"network_id\": \"%s\", \"cidr\": \"%s\", "
               "\"ip_version\": 4, \"enable_dhcp\": %s}}", nets[n], cidrs[n], n ? "false" : "true");
        for (int h = 0; h < 3; h++) {
            create(f, &qres_port, NULL, "{\"port\": {\"network_id\": \"%s\", \"security_groups\": "
                   "[\"%s\"], \"binding:host_id\": \"%s\", \"device_owner\": \"compute:nova\"}}",
                   nets[n], sg, h < 2 ? "h1" : "h2");
        }
    }
}

/* The plan's sections, without the revision (caller frees). */
static qj *plan(fixture *f, qplan_cache *cache, qerr *e, int *rc)
{
    qj *ret = (qj *)0x1;   /* must be overwritten either way */
    *rc = qplan_compute(f->m, "h1", cache, &ret, e);
    if (*rc < 0) {
        assert_null(ret);
        return NULL;
    }
    assert_non_null(ret);
    qj *p = qj_take(ret, "plan");
    qj_free(ret);
    return p;
}

/* Every step of a host's plan fails in turn: each attempt fails cleanly,
 * and a cache that lived through them gives the plan a fresh one gives. */
static void test_plan_survives_a_fault_at_every_step(void **state)
{
    fixture *f = *state;
    world(f);
    qerr e = {0};
    int rc;
    qj *want = plan(f, NULL, &e, &rc);
    assert_int_equal(rc, 0);
    assert_true(qj_len(qj_get(want, "ports")) == 4);
    qplan_cache *cache = qplan_cache_new();
    long failed = 0;
    for (long at = 1;; at++) {
        steps = 0;
        fault_at = at;
        qj *got = plan(f, cache, &e, &rc);
        fault_at = 0;
        if (rc == 0) {
            /* More steps than the plan takes: the fault never fired. */
            if (steps >= at)
                print_error("fault at step %ld ignored: the plan was made\n", at);
            assert_true(steps < at);
            assert_true(qj_equal(got, want));
            qj_free(got);
            break;
        }
        assert_int_equal(e.code, QE_INTERNAL);
        failed++;
        qj *again = plan(f, cache, &e, &rc);
        assert_int_equal(rc, 0);
        assert_true(qj_equal(again, want));
        qj_free(again);
    }
    print_message("plan of h1: a fault at each of %ld steps failed cleanly\n", failed);
    assert_true(failed >= 10);
    qplan_cache_free(cache);
    qj_free(want);
}

/* The sorted ids of every port (caller frees), read without faults. */
static qj *port_ids(fixture *f)
{
    qj *ret = NULL;
    qerr e = {0};
    assert_int_equal(qres_list_request(f->m, &f->admin, &qres_port, &(qquery){0}, &ret,
                                       &(qlist_page){0}, &e), 0);
    qj *ids = qj_array();
    const qj *ports = qj_get(ret, "ports");
    for (size_t i = 0; i < qj_len(ports); i++)
        qj_append(ids, qj_str(qj_get_str(qj_at(ports, i), "id")));
    qj_free(ret);
    return ids;
}

/* A port create with a fault at each of its steps: an error, no revision
 * spent, no port; then the same create succeeds. */
static void test_port_create_changes_nothing_on_a_fault(void **state)
{
    fixture *f = *state;
    world(f);
    char net[37];
    create(f, &qres_network, net, "{\"network\": {\"name\": \"%s\"}}", "n");
    create(f, &qres_subnet, NULL, "{\"subnet\": {\"network_id\": \"%s\", \"cidr\": \"10.9.0.0/24\", "
                                  "\"ip_version\": 4}}", net);
    char *text = xasprintf("{\"port\": {\"network_id\": \"%s\", \"binding:host_id\": \"h1\", "
                           "\"device_owner\": \"compute:nova\"}}", net);
    qj *body = parse(text);
    free(text);
    long failed = 0;
    for (long at = 1;; at++) {
        qj *before = port_ids(f);
        int64_t rev = qstore_revision(f->store);
        qj *ret = NULL;
        qerr e = {0};
        steps = 0;
        fault_at = at;
        int rc = qres_create_request(f->m, &f->admin, &qres_port, body, &ret, &e);
        fault_at = 0;
        qj *after = port_ids(f);
        if (rc == 0) {
            if (steps >= at)
                print_error("fault at step %ld ignored: the create succeeded\n", at);
            assert_true(steps < at);
            assert_int_equal(qj_len(after), qj_len(before) + 1);
            qj_free(ret);
            qj_free(before);
            qj_free(after);
            break;
        }
        failed++;
        assert_null(ret);
        if (e.code != QE_INTERNAL)
            print_error("fault at step %ld: %s (%s)\n", at, e.msg, qerr_type(e.code));
        assert_int_equal(e.code, QE_INTERNAL);
        assert_int_equal(qstore_revision(f->store), rev);
        assert_true(qj_equal(before, after));
        qj_free(before);
        qj_free(after);
    }
    print_message("port create: a fault at each of %ld steps changed nothing\n", failed);
    assert_true(failed >= 10);
    qj_free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plan_survives_a_fault_at_every_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_create_changes_nothing_on_a_fault, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
