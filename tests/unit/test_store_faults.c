/* The model when the database fails part-way, on a real SQLite store whose
 * engine is wrapped so that the Nth statement step fails (as a lost
 * PostgreSQL connection or an I/O error does): for every N, a host's plan
 * and each kind of write must fail cleanly (the store's error, nothing
 * returned, nothing leaked: the sanitizer builds run this too) and a write
 * must change no row; once the faults stop, everything is as if they never
 * happened. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "unit_model.h"
#include "model/agent.h"
#include "model/config.h"
#include "model/plan.h"
#include "model/rbac.h"
#include "model/resources.h"
#include "model/secgroup.h"
#include "model/subnetpool.h"
#include "store/engine.h"

/* The wrapped engine: SQLite's own functions, except that statements are
 * handed out as ours and the step (getting a statement, or stepping one)
 * numbered fault_at fails. */
static qstore_engine faulty;
static const qstore_engine *real;
static long steps, fault_at;   /* fault_at 0: no fault */

static qstmt *faulty_own(qstmt *st)
{
    if (st)
        st->eng = &faulty;
    return st;
}

/* Getting a statement is a step too (a lost connection fails it first). */
static bool faulty_fires(qerr *e)
{
    if (!fault_at || ++steps != fault_at)
        return false;
    qerr_set(e, QE_INTERNAL, "Request Failed: internal server error while processing your "
                             "request.");
    return true;
}

static qstmt *faulty_stmt(qstore *s, const char *sql, qerr *e)
{
    return faulty_fires(e) ? NULL : faulty_own(real->stmt(s, sql, e));
}

static qstmt *faulty_prepare(qstore *s, const char *sql, qerr *e)
{
    return faulty_fires(e) ? NULL : faulty_own(real->prepare(s, sql, e));
}

/* Steps taken when the last COMMIT began: a fault after it (building the
 * answer) cannot undo the write. */
static long commit_steps;

static int faulty_commit_then(qstore *s, void (*after)(void *), void *arg, qerr *e)
{
    commit_steps = steps;
    return real->commit_then(s, after, arg, e);
}

static int faulty_step(qstmt *st)
{
    if (fault_at && ++steps == fault_at)
        return QSTORE_ERROR;
    return real->step(st);
}

typedef unit_model fixture;

static int setup(void **state)
{
    fixture *f = unit_model_open("[ml2]\ntenant_network_types = vlan,nvgre\n"
                                 "[ml2_type_vlan]\nnetwork_vlan_ranges = physnet1:10:20\n"
                                 "[ml2_type_nvgre]\nvsid_ranges = 5000:5010\n");
    real = f->store->eng;
    faulty = *real;
    faulty.stmt = faulty_stmt;
    faulty.prepare = faulty_prepare;
    faulty.step = faulty_step;
    faulty.commit_then = faulty_commit_then;
    f->store->eng = &faulty;
    fault_at = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    fault_at = 0;
    f->store->eng = real;
    unit_model_close(f);
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

/* Every committed row of every table, as text (caller frees), read through
 * a connection of its own: what "changed nothing" is checked against. */
static char *snapshot(fixture *f)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(f->conf.db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *tables;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='table' "
                                            "ORDER BY name", -1, &tables, NULL), SQLITE_OK);
    qbuf out;
    qbuf_init(&out, 0);
    size_t ntables = 0;
    while (sqlite3_step(tables) == SQLITE_ROW) {
        char *sql = xasprintf("SELECT * FROM \"%s\" ORDER BY 1, 2, 3", sqlite3_column_text(tables, 0));
        sqlite3_stmt *rows;
        if (sqlite3_prepare_v2(db, sql, -1, &rows, NULL) != SQLITE_OK) {   /* fewer columns */
            free(sql);
            sql = xasprintf("SELECT * FROM \"%s\" ORDER BY 1", sqlite3_column_text(tables, 0));
            assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
        }
        free(sql);
        qbuf_printf(&out, "[%s]\n", sqlite3_column_text(tables, 0));
        while (sqlite3_step(rows) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(rows); c++) {
                if (sqlite3_column_type(rows, c) == SQLITE_BLOB)
                    for (int b = 0; b < sqlite3_column_bytes(rows, c); b++)
                        qbuf_printf(&out, "%02x", ((const unsigned char *)sqlite3_column_blob(rows, c))[b]);
                else
                    qbuf_printf(&out, "%s", (const char *)sqlite3_column_text(rows, c));
                qbuf_printf(&out, "|");
            }
            qbuf_printf(&out, "\n");
        }
        sqlite3_finalize(rows);
        ntables++;
    }
    sqlite3_finalize(tables);
    sqlite3_close(db);
    assert_true(ntables >= 10);
    char *text = qbuf_steal(&out, NULL);
    qbuf_free(&out);
    return text;
}

/* The requests, in order, each on what the ones before made. */
typedef struct wstate {
    char net[37], port[37], sg[37], rule[37], subnet[37];
} wstate;

static qj *body_of(char *text)
{
    qj *v = parse(text);
    free(text);
    return v;
}

/* Creates one r from text (taken: freed here); its id into id when made. */
static int w_create(fixture *f, const qresource *r, char id[37], char *text, qj **ret, qerr *e)
{
    qj *b = body_of(text);
    int rc = qres_create_request(f->m, &f->admin, r, b, ret, e);
    if (rc == 0)
        snprintf(id, 37, "%s", qj_get_str(qj_get(*ret, r->name), "id"));
    qj_free(b);
    return rc;
}

static int w_network(fixture *f, wstate *w, qj **ret, qerr *e)
{
    return w_create(f, &qres_network, w->net, xasprintf("{\"network\": {\"name\": \"n\"}}"), ret,
                    e);
}

static int w_subnet(fixture *f, wstate *w, qj **ret, qerr *e)
{
    return w_create(f, &qres_subnet, w->subnet,
                    xasprintf("{\"subnet\": {\"network_id\": \"%s\", \"cidr\": \"10.9.0.0/24\", "
                              "\"ip_version\": 4}}", w->net), ret, e);
}

static int w_port(fixture *f, wstate *w, qj **ret, qerr *e)
{
    return w_create(f, &qres_port, w->port,
                    xasprintf("{\"port\": {\"network_id\": \"%s\", \"binding:host_id\": \"h1\", "
                              "\"device_owner\": \"compute:nova\", \"device_id\": \"vm1\"}}",
                              w->net), ret, e);
}

static int w_group(fixture *f, wstate *w, qj **ret, qerr *e)
{
    return w_create(f, &qres_security_group, w->sg,
                    xasprintf("{\"security_group\": {\"name\": \"g\"}}"), ret, e);
}

static int w_rule(fixture *f, wstate *w, qj **ret, qerr *e)
{
    return w_create(f, &qres_security_group_rule, w->rule,
                    xasprintf("{\"security_group_rule\": {\"security_group_id\": \"%s\", "
                              "\"direction\": \"ingress\", \"ethertype\": \"IPv4\", "
                              "\"protocol\": \"udp\", \"remote_group_id\": \"%s\"}}", w->sg,
                              w->sg), ret, e);
}

static int w_move_port(fixture *f, wstate *w, qj **ret, qerr *e)
{
    qj *b = body_of(xasprintf("{\"port\": {\"binding:host_id\": \"h2\", \"security_groups\": "
                              "[\"%s\"], \"fixed_ips\": [{\"ip_address\": \"10.9.0.77\"}]}}",
                              w->sg));
    int rc = qres_update_request(f->m, &f->admin, &qres_port, w->port, b, -1, ret, e);
    qj_free(b);
    return rc;
}

static int w_report(fixture *f, wstate *w, qj **ret, qerr *e)
{
    qj *b = body_of(xasprintf("{\"agent\": {\"agent_type\": \"HyperV agent\", \"binary\": "
                              "\"qhv-agent\", \"configurations\": {\"backend\": \"dummy\", "
                              "\"vif_type\": \"hyperv\", \"network_types\": [\"vlan\", \"nvgre\"], "
                              "\"vswitch_mappings\": [\"physnet*:external\"], \"port_filter\": true, "
                              "\"provider_address\": \"192.168.50.2\"}}, \"ports\": [{\"id\": "
                              "\"%s\", \"status\": \"ACTIVE\"}]}", w->port));
    int rc = qagent_report_request(f->m, "h2", b, ret, e);
    qj_free(b);
    return rc;
}

static int w_del_rule(fixture *f, wstate *w, qj **ret, qerr *e)
{
    *ret = NULL;
    return qres_delete_request(f->m, &f->admin, &qres_security_group_rule, w->rule, -1, e);
}

static int w_del_port(fixture *f, wstate *w, qj **ret, qerr *e)
{
    *ret = NULL;
    return qres_delete_request(f->m, &f->admin, &qres_port, w->port, -1, e);
}

static int w_del_group(fixture *f, wstate *w, qj **ret, qerr *e)
{
    *ret = NULL;
    return qres_delete_request(f->m, &f->admin, &qres_security_group, w->sg, -1, e);
}

static int w_del_subnet(fixture *f, wstate *w, qj **ret, qerr *e)
{
    *ret = NULL;
    return qres_delete_request(f->m, &f->admin, &qres_subnet, w->subnet, -1, e);
}

static int w_del_network(fixture *f, wstate *w, qj **ret, qerr *e)
{
    *ret = NULL;
    return qres_delete_request(f->m, &f->admin, &qres_network, w->net, -1, e);
}

/* Each write with a fault at each of its steps in turn: an error (the
 * store's, not another), nothing returned, not a row of any table changed,
 * no revision spent; then the same write succeeds. */
static void test_writes_change_nothing_on_a_fault(void **state)
{
    fixture *f = *state;
    world(f);
    static const struct {
        const char *what;
        int (*run)(fixture *, wstate *, qj **, qerr *);
    } writes[] = {
        {"network create", w_network},    {"subnet create", w_subnet},
        {"port create", w_port},          {"group create", w_group},
        {"rule create", w_rule},          {"port update", w_move_port},
        {"agent report", w_report},       {"rule delete", w_del_rule},
        {"port delete", w_del_port},      {"group delete", w_del_group},
        {"subnet delete", w_del_subnet},  {"network delete", w_del_network},
    };
    wstate w;
    memset(&w, 0, sizeof w);
    long total = 0;
    for (size_t k = 0; k < QHV_ARRAY_SIZE(writes); k++) {
        long failed = 0;
        for (long at = 1;; at++) {
            char *before = snapshot(f);
            int64_t rev = qstore_revision(f->store);
            qj *ret = NULL;
            qerr e = {0};
            steps = 0;
            commit_steps = -1;
            fault_at = at;
            int rc = writes[k].run(f, &w, &ret, &e);
            fault_at = 0;
            char *after = snapshot(f);
            if (rc == 0) {
                /* Only a fault after COMMIT, or none, lets a write succeed. */
                if (commit_steps < 0 || commit_steps >= at)
                    print_error("%s: fault at step %ld ignored: it succeeded\n", writes[k].what, at);
                assert_true(commit_steps >= 0 && commit_steps < at);
                assert_string_not_equal(before, after);
                qj_free(ret);
                free(before);
                free(after);
                break;
            }
            failed++;
            if (e.code != QE_INTERNAL)
                print_error("%s: fault at step %ld: %s (%s)\n", writes[k].what, at, e.msg,
                            qerr_type(e.code));
            assert_int_equal(e.code, QE_INTERNAL);
            assert_null(ret);
            assert_int_equal(qstore_revision(f->store), rev);
            if (strcmp(before, after))
                print_error("%s: fault at step %ld changed the database\n", writes[k].what, at);
            assert_string_equal(before, after);
            free(before);
            free(after);
        }
        print_message("%s: a fault at each of %ld steps changed nothing\n", writes[k].what, failed);
        assert_true(failed >= 3);
        total += failed;
    }
    print_message("%zu writes, %ld faults\n", QHV_ARRAY_SIZE(writes), total);
}

/* Reads with a fault at each step: an error, never a partial or a wrong
 * answer (a network without its zones, a shared one shown as not shared). */
static void test_reads_fail_on_a_fault(void **state)
{
    fixture *f = *state;
    world(f);
    char pool[37];
    create(f, &qres_subnetpool, pool, "{\"subnetpool\": {\"name\": \"sp\", \"prefixes\": "
                                      "[\"10.100.0.0/16\"], \"default_prefixlen\": 24}}");
    create(f, &qres_rbac_policy, NULL, "{\"rbac_policy\": {\"object_type\": \"subnetpool\", "
                                       "\"object_id\": \"%s\", \"action\": \"access_as_shared\", "
                                       "\"target_tenant\": \"p2\"}}", pool);
    qctx other = {.is_admin = false};
    snprintf(other.project_id, sizeof other.project_id, "p2");
    const qresource *kinds[] = {&qres_network, &qres_subnet, &qres_port, &qres_security_group,
                                &qres_security_group_rule, &qres_agent, &qres_subnetpool,
                                &qres_rbac_policy};
    const qctx *who[] = {&f->admin, &other};
    long total = 0;
    for (size_t w = 0; w < 2; w++) {
        for (size_t k = 0; k < QHV_ARRAY_SIZE(kinds); k++) {
            const qresource *r = kinds[k];
            qj *want = NULL;
            qerr e = {0};
            assert_int_equal(qres_list_request(f->m, who[w], r, &(qquery){0}, &want,
                                               &(qlist_page){0}, &e), 0);
            const qj *first = qj_at(qj_get(want, r->collection), 0);
            char id[64] = "";
            if (first)
                snprintf(id, sizeof id, "%s", qj_get_str(first, "id"));
            for (int show = 0; show < 2; show++) {
                if (show && !*id)
                    continue;
                for (long at = 1;; at++) {
                    qj *got = NULL;
                    steps = 0;
                    fault_at = at;
                    int rc = show ? qres_show_request(f->m, who[w], r, id, NULL, &got, &e)
                                  : qres_list_request(f->m, who[w], r, &(qquery){0}, &got,
                                                      &(qlist_page){0}, &e);
                    fault_at = 0;
                    if (rc == 0) {
                        if (steps >= at)
                            print_error("%s %s: fault at step %ld ignored\n",
                                        show ? "show" : "list", r->collection, at);
                        assert_true(steps < at);
                        if (!show)
                            assert_true(qj_equal(got, want));
                        qj_free(got);
                        break;
                    }
                    total++;
                    if (e.code != QE_INTERNAL)
                        print_error("%s %s: fault at step %ld: %s (%s)\n", show ? "show" : "list",
                                    r->collection, at, e.msg, qerr_type(e.code));
                    assert_int_equal(e.code, QE_INTERNAL);
                    assert_null(got);
                }
            }
            qj_free(want);
        }
    }
    print_message("reads: %ld faults, each an error\n", total);
    assert_true(total >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plan_survives_a_fault_at_every_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_change_nothing_on_a_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_fail_on_a_fault, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
