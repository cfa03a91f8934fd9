/* qhv-agent --selftest (src/vswitch/hyperv/hv_selftest.h) on the WMI model:
 * every step passes on 6.2, 6.3, 10.0.14393 and 10.0.17763 (NetWNV rows
 * skipped there), the model is left as it was found, a fault makes the
 * right row fail with WMI's text while clean-up still runs, and the JSON
 * report has every step. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "vswitch/hyperv/hv_selftest.h"
#include "vswitch/hyperv/wmi_model.h"
#include "vswitch/objmap.h"
#include "lib/util.h"

static const char *const steps[] = {
    "read Windows version", "create internal switch", "find the switch's host vNIC",
    "create VM", "add synthetic NIC", "open the hyperv backend", "connect, disabled",
    "connect, enabled", "VLAN", "guards on, MAC spoofing off", "guards off, MAC spoofing on",
    "extended ACLs (stateful TCP)", "port ACLs (Windows Server 2012)",
    "provider address and route", "VSID (nvgre) and L2Only record",
    "lookup records (Encap, Nat)", "customer route", "remove qhv's objects (backend)",
    "destroy VM", "destroy switch", "nothing left behind"};
#define NSTEPS (sizeof steps / sizeof steps[0])

typedef struct fx {
    qwmi_transport t;
    char state[64];
    const char *fault_step;     /* before it: the fault */
    int fault;                  /* 1 failing job, 2 dropped VLAN */
    const char *fault_text;
} fx;

static void fx_open(fx *f, const char *version)
{
    memset(f, 0, sizeof *f);
    char err[256];
    assert_int_equal(qwmi_model_open(NULL, version, &f->t, err, sizeof err), 0);
    snprintf(f->state, sizeof f->state, "/tmp/qhv_test_selftest_XXXXXX");
    int fd = mkstemp(f->state);
    close(fd);
}

static void fx_close(fx *f)
{
    f->t.cls->close(f->t.w);
    unlink(f->state);
}

/* The model's instances by path, finished jobs left out. */
static qvs_map *snapshot(fx *f)
{
    qj *all = qwmi_model_instances(f->t.w, NULL);
    qvs_map *m = qvs_map_new();
    for (size_t i = 0; i < qj_len(all); i++) {
        const qj *x = qj_at(all, i);
        const char *c = qj_get_str(x, "__CLASS");
        if (c && !strcmp(c, "Msvm_ConcreteJob") && qj_get_int(x, "JobState", 4) != 4)
            continue;
        qvs_map_put(m, qj_get_str(x, "__PATH"), qj_clone(x));
    }
    qj_free(all);
    return m;
}

static void assert_same(const qvs_map *a, const qvs_map *b)
{
    const char *k;
    qj *v;
    for (size_t i = 0; i < qvs_map_end(b); i++)
        if (qvs_map_at(b, i, &k, &v) && !qj_equal(v, qvs_map_get(a, k))) {
            char *t = qj_to_string(v);
            fail_msg("left in the model or changed: %s", t);
            free(t);
        }
    for (size_t i = 0; i < qvs_map_end(a); i++)
        if (qvs_map_at(a, i, &k, NULL) && !qvs_map_get(b, k))
            fail_msg("removed from the model: %s", k);
}

static void before_step(void *ctx, const char *step)
{
    fx *f = ctx;
    if (!f->fault_step)
        return;
    if (!strcmp(step, f->fault_step)) {
        if (f->fault == 1)
            qwmi_model_fault_jobs(f->t.w, 1, 1, 32768, f->fault_text);
        else
            qwmi_model_fault_drop(f->t.w, "Msvm_EthernetSwitchPortVlanSettingData");
    } else {
        qwmi_model_fault_jobs(f->t.w, 0, 0, 0, NULL);
    }
}

static void run(fx *f, qhyv_selftest_report *r, int want_rc)
{
    qhyv_selftest_opts o = {.transport = &f->t, .state_file = f->state, .job_wait_ms = 2000,
                            .before_step = before_step, .ctx = f};
    int rc = qhyv_selftest_run(&o, r);
    if (rc != want_rc) {
        qhyv_selftest_print(r, stderr);
        fail_msg("qhyv_selftest_run: %d, expected %d", rc, want_rc);
    }
}

/* The JSON report parses and has every step, in order. */
static void check_json(const qhyv_selftest_report *r)
{
    qj *j = qhyv_selftest_json(r);
    char *text = qj_to_string(j);
    qj_free(j);
    qj *p = qj_parse(text, strlen(text), NULL, NULL);
    free(text);
    assert_non_null(p);
    assert_non_null(qj_get_str(p, "windows_version"));
    const qj *s = qj_get(p, "steps");
    assert_int_equal(qj_len(s), NSTEPS);
    for (size_t i = 0; i < NSTEPS; i++) {
        assert_string_equal(qj_get_str(qj_at(s, i), "step"), steps[i]);
        assert_non_null(qj_get_str(qj_at(s, i), "result"));
        assert_non_null(qj_get(qj_at(s, i), "ms"));
    }
    assert_non_null(qj_get(p, "wmi_errors"));
    assert_non_null(qj_get(p, "leftovers"));
    qj_free(p);
}

static const char *result(const qhyv_selftest_report *r, const char *step)
{
    const qhyv_selftest_step *s = qhyv_selftest_find(r, step);
    assert_non_null(s);
    return s->result == QHYV_ST_PASS ? "pass" : s->result == QHYV_ST_FAIL ? "fail" : "skip";
}

static void whole(const char *version)
{
    fx f;
    fx_open(&f, version);
    qvs_map *before = snapshot(&f);
    qhyv_selftest_report r;
    run(&f, &r, 0);
    assert_true(r.passed);
    assert_int_equal(r.nsteps, NSTEPS);
    assert_int_equal(r.nleftovers, 0);
    bool v62 = !strncmp(version, "6.2", 3), v17763 = !strcmp(version, "10.0.17763");
    for (size_t i = 0; i < NSTEPS; i++) {
        const char *want = "pass";
        if ((!strcmp(steps[i], "extended ACLs (stateful TCP)") && v62) ||
            (!strcmp(steps[i], "port ACLs (Windows Server 2012)") && !v62))
            want = "skip";
        if (v17763 && (!strcmp(steps[i], "find the switch's host vNIC") ||
                       !strcmp(steps[i], "provider address and route") ||
                       !strcmp(steps[i], "VSID (nvgre) and L2Only record") ||
                       !strcmp(steps[i], "lookup records (Encap, Nat)") ||
                       !strcmp(steps[i], "customer route")))
            want = "skip";
        if (strcmp(result(&r, steps[i]), want)) {
            qhyv_selftest_print(&r, stderr);
            fail_msg("%s: %s, expected %s", steps[i], result(&r, steps[i]), want);
        }
    }
    if (v17763)
        assert_non_null(strstr(qhyv_selftest_find(&r, "lookup records (Encap, Nat)")->detail,
                               "not available on build >= 17763"));
    check_json(&r);
    qvs_map *after = snapshot(&f);
    assert_same(before, after);
    qvs_map_free(before);
    qvs_map_free(after);
    assert_int_equal(access(f.state, F_OK), -1);     /* the scratch state is gone */
    qhyv_selftest_report_free(&r);
    fx_close(&f);
}

/* The model is as the test found it; the report and the fixture go. */
static void finish(fx *f, qvs_map *before, qhyv_selftest_report *r)
{
    qvs_map *after = snapshot(f);
    assert_same(before, after);
    qvs_map_free(before);
    qvs_map_free(after);
    qhyv_selftest_report_free(r);
    fx_close(f);
}

static void test_6_2(void **state) { (void)state; whole("6.2.9200"); }
static void test_6_3(void **state) { (void)state; whole("6.3.9600"); }
static void test_14393(void **state) { (void)state; whole("10.0.14393"); }
static void test_17763(void **state) { (void)state; whole("10.0.17763"); }

static bool has_error_text(const qhyv_selftest_report *r, const char *step, const char *text)
{
    for (size_t i = 0; i < r->nerrors; i++)
        if (!strcmp(r->errors[i].step, step) && strstr(r->errors[i].text, text))
            return true;
    return false;
}

/* A failing job in the VLAN step: that row fails with the job's text, the
 * others still run, clean-up leaves nothing. */
static void test_failing_job(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, "10.0.14393");
    f.fault_step = "VLAN";
    f.fault = 1;
    f.fault_text = "The VLAN could not be applied (model fault)";
    qvs_map *before = snapshot(&f);
    qhyv_selftest_report r;
    run(&f, &r, 1);
    if (getenv("QHV_TEST_VERBOSE"))
        qhyv_selftest_print(&r, stderr);
    assert_false(r.passed);
    assert_string_equal(result(&r, "VLAN"), "fail");
    assert_non_null(strstr(qhyv_selftest_find(&r, "VLAN")->detail, f.fault_text));
    assert_true(has_error_text(&r, "VLAN", f.fault_text));
    assert_string_equal(result(&r, "connect, enabled"), "pass");
    assert_string_equal(result(&r, "guards on, MAC spoofing off"), "pass");
    assert_string_equal(result(&r, "destroy VM"), "pass");
    assert_string_equal(result(&r, "destroy switch"), "pass");
    assert_string_equal(result(&r, "nothing left behind"), "pass");
    assert_int_equal(r.nleftovers, 0);
    check_json(&r);
    finish(&f, before, &r);
}

/* Hyper-V reports success without adding the VLAN setting (bug 1536742). */
static void test_dropped_vlan(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, "6.3.9600");
    f.fault_step = "VLAN";
    f.fault = 2;
    qvs_map *before = snapshot(&f);
    qhyv_selftest_report r;
    run(&f, &r, 1);
    assert_string_equal(result(&r, "VLAN"), "fail");
    assert_non_null(strstr(qhyv_selftest_find(&r, "VLAN")->detail, "not as written"));
    assert_string_equal(result(&r, "nothing left behind"), "pass");
    finish(&f, before, &r);
}

/* The switch's own job fails: the set-up row fails with the text, the rest
 * is not run, and nothing is left. */
static void test_switch_fails(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, "10.0.14393");
    f.fault_step = "create internal switch";
    f.fault = 1;
    f.fault_text = "The switch could not be created (model fault)";
    qvs_map *before = snapshot(&f);
    qhyv_selftest_report r;
    run(&f, &r, 1);
    assert_string_equal(result(&r, "create internal switch"), "fail");
    assert_non_null(strstr(qhyv_selftest_find(&r, "create internal switch")->detail,
                           f.fault_text));
    assert_string_equal(result(&r, "VLAN"), "skip");
    assert_non_null(strstr(qhyv_selftest_find(&r, "VLAN")->detail, "not run"));
    assert_string_equal(result(&r, "nothing left behind"), "pass");
    check_json(&r);
    finish(&f, before, &r);
}

/* Something the backend cannot remove is reported. */
static void test_table(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, "6.3.9600");
    qhyv_selftest_report r;
    run(&f, &r, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    qhyv_selftest_print(&r, m);
    fclose(m);
    assert_non_null(strstr(buf, "STEP"));
    assert_non_null(strstr(buf, "SELF-TEST PASSED"));
    assert_non_null(strstr(buf, "customer route"));
    free(buf);
    qhyv_selftest_report_free(&r);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_6_2),         cmocka_unit_test(test_6_3),
        cmocka_unit_test(test_14393),       cmocka_unit_test(test_17763),
        cmocka_unit_test(test_failing_job), cmocka_unit_test(test_dropped_vlan),
        cmocka_unit_test(test_switch_fails), cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
