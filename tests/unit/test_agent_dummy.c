/* The dummy backend: its state file, NIC requirement, foreign objects,
 * faults (fail_nth with a kind filter, slow_ms, vanish), counters, changed(),
 * the state cache and release(). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "unit_json.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/file.h"
#include "lib/util.h"
#include "vswitch/dummy.h"

typedef struct fixture {
    char path[64];
    qvs *vs;
} fixture;

static int setup(void **state)
{
    fixture *f = xcalloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "/tmp/qhv_test_dummy_%ld.json", (long)getpid());
    unlink(f->path);
    qvs_options o = {.dummy_state_file = f->path};
    char err[256];
    assert_int_equal(qvs_dummy_class.open(&o, &f->vs, err, sizeof err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    qvs_dummy_class.close(f->vs);
    unlink(f->path);
    char lock[80];
    snprintf(lock, sizeof lock, "%s.lock", f->path);
    unlink(lock);
    free(f);
    return 0;
}

/* Edits: merges the JSON text's members into the state's top level / faults. */
static int edit_fn(qj *state, void *arg, char *err, size_t errlen)
{
    qj *patch = J(arg);
    for (size_t i = 0; i < patch->u.obj.n; i++) {
        qj_member *m = &patch->u.obj.m[i];
        if (!strcmp(m->key, "faults")) {
            qj *f = qj_get(state, "faults");
            for (size_t k = 0; k < m->val->u.obj.n; k++)
                qj_set(f, m->val->u.obj.m[k].key, qj_clone(m->val->u.obj.m[k].val));
        } else {
            qj_set(state, m->key, qj_clone(m->val));
        }
    }
    qj_free(patch);
    return 1;
}

static void edit(fixture *f, const char *patch)
{
    char err[256];
    assert_int_equal(qvs_dummy_edit(f->path, edit_fn, (void *)patch, err, sizeof err), 1);
}

static int64_t counter(fixture *f, const char *name)
{
    qj *s;
    char err[256];
    assert_int_equal(qvs_dummy_load(f->path, &s, err, sizeof err), 0);
    int64_t v = qj_get(qj_get(s, "counters"), name)->u.i;
    qj_free(s);
    return v;
}

static void test_empty_and_nics(void **state)
{
    fixture *f = *state;
    qvs_observed o;
    char err[256];
    /* A missing file is an empty switch. */
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), 0);
    assert_int_equal(qvs_map_size(o.nics), 0);
    assert_int_equal(qvs_map_size(o.objects), 0);
    qvs_observed_free(&o);
    qvs_observed_free(&o);
    qvs_observed_free(NULL);
    qj *v = J("{\"vlan\": 5}");
    qvs_op ops[] = {{.type = QVS_CREATE, .id = "port/p1", .value = v},
                    {.type = QVS_CREATE, .id = "acl/p1/ingress", .value = v},
                    {.type = QVS_CREATE, .id = "lookup_record/5/a/m", .value = v},
                    {.type = QVS_CREATE, .id = "bogus/x", .value = v}};
    /* port/ and acl/ need the VM NIC; other kinds do not; unknown kinds fail. */
    assert_int_equal(qvs_dummy_class.operate(f->vs, ops, 4), 3);
    assert_int_equal(ops[0].error, -ENOENT);
    assert_int_equal(ops[1].error, -ENOENT);
    assert_int_equal(ops[2].error, 0);
    assert_int_equal(ops[3].error, -EINVAL);
    edit(f, "{\"nics\": [\"p1\"]}");
    assert_int_equal(qvs_dummy_class.operate(f->vs, ops, 2), 0);
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), 0);
    assert_non_null(qvs_map_get(o.nics, "p1"));
    assert_int_equal(qvs_map_size(o.objects), 3);
    assert_true(qj_equal(qvs_map_get(o.objects, "port/p1"), v));
    qvs_observed_free(&o);
    assert_int_equal(counter(f, "ops"), 6);
    assert_int_equal(counter(f, "creates"), 3);
    assert_int_equal(counter(f, "failed"), 3);
    /* Idempotent: delete twice, update of a missing object creates it. */
    qvs_op del[] = {{.type = QVS_DELETE, .id = "lookup_record/5/a/m"},
                    {.type = QVS_DELETE, .id = "lookup_record/5/a/m"},
                    {.type = QVS_UPDATE, .id = "customer_route/5/x", .value = v}};
    assert_int_equal(qvs_dummy_class.operate(f->vs, del, 3), 0);
    assert_int_equal(counter(f, "deletes"), 2);
    assert_int_equal(counter(f, "updates"), 1);
    qj_free(v);
}

static void test_foreign(void **state)
{
    fixture *f = *state;
    edit(f, "{\"nics\": [\"p1\"], \"objects\": {\"port/p1\": {\"value\": {\"mine\": 1},"
            " \"owner\": \"foreign\"}, \"acl/p1/egress\": {\"value\": 1, \"owner\": \"qhv\"}}}");
    qvs_observed o;
    char err[256];
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), 0);
    assert_int_equal(qvs_map_size(o.objects), 1);
    assert_int_equal(qvs_map_size(o.foreign), 1);
    assert_non_null(qvs_map_get(o.foreign, "port/p1"));
    qvs_observed_free(&o);
    qj *v = J("2");
    qvs_op ops[] = {{.type = QVS_UPDATE, .id = "port/p1", .value = v},
                    {.type = QVS_DELETE, .id = "port/p1"},
                    {.type = QVS_CREATE, .id = "port/p1", .value = v},
                    {.type = QVS_DELETE, .id = "acl/p1/egress"}};
    assert_int_equal(qvs_dummy_class.operate(f->vs, ops, 4), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ops[i].error, -EPERM);
    assert_int_equal(ops[3].error, 0);
    qj *s;
    assert_int_equal(qvs_dummy_load(f->path, &s, err, sizeof err), 0);
    char *kept = qj_to_string(qj_get(s, "objects"));
    assert_string_equal(kept, "{\"port/p1\":{\"value\":{\"mine\":1},\"owner\":\"foreign\"}}");
    free(kept);
    qj_free(s);
    qj_free(v);
}

static void test_faults(void **state)
{
    fixture *f = *state;
    qj *v = J("{}");
    /* fail the 2nd next op on an acl: port ops do not count down. */
    edit(f, "{\"nics\": [\"p1\"], \"faults\": {\"fail_nth\": 2, \"fail_kind\": \"acl\"}}");
    qvs_op ops[] = {{.type = QVS_CREATE, .id = "port/p1", .value = v},
                    {.type = QVS_CREATE, .id = "acl/p1/ingress", .value = v},
                    {.type = QVS_CREATE, .id = "port/p1", .value = v},
                    {.type = QVS_CREATE, .id = "acl/p1/egress", .value = v},
                    {.type = QVS_CREATE, .id = "acl/p1/egress", .value = v}};
    assert_int_equal(qvs_dummy_class.operate(f->vs, ops, 5), 1);
    assert_int_equal(ops[0].error, 0);
    assert_int_equal(ops[1].error, 0);
    assert_int_equal(ops[2].error, 0);
    assert_int_equal(ops[3].error, -EIO);
    assert_int_equal(ops[4].error, 0);      /* one shot */
    assert_true(strlen(ops[3].why) > 0);
    /* slow_ms: every op sleeps. */
    edit(f, "{\"faults\": {\"slow_ms\": 20}}");
    uint64_t t0 = qhv_now_us();
    assert_int_equal(qvs_dummy_class.operate(f->vs, ops, 3), 0);
    assert_true(qhv_now_us() - t0 >= 60000);
    edit(f, "{\"faults\": {\"slow_ms\": 0, \"vanish\": [\"acl/p1/ingress\"]}}");
    /* vanish: gone at the next dump, and from the file. */
    qvs_observed o;
    char err[256];
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), 0);
    assert_null(qvs_map_get(o.objects, "acl/p1/ingress"));
    assert_non_null(qvs_map_get(o.objects, "acl/p1/egress"));
    qvs_observed_free(&o);
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), 0);
    assert_null(qvs_map_get(o.objects, "acl/p1/ingress"));
    qvs_observed_free(&o);
    qj_free(v);
}

static void test_changed(void **state)
{
    fixture *f = *state;
    qvs_observed o;
    char err[256];
    assert_true(qvs_dummy_class.changed(f->vs));    /* never looked */
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), 0);
    qvs_observed_free(&o);
    assert_false(qvs_dummy_class.changed(f->vs));
    edit(f, "{\"nics\": [\"p1\"]}");                 /* someone else writes */
    assert_true(qvs_dummy_class.changed(f->vs));
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), 0);
    qvs_observed_free(&o);
    assert_false(qvs_dummy_class.changed(f->vs));
    /* Our own writes are not changes... */
    qj *v = J("1");
    qvs_op op = {.type = QVS_CREATE, .id = "port/p1", .value = v};
    qvs_dummy_class.operate(f->vs, &op, 1);
    assert_false(qvs_dummy_class.changed(f->vs));
    /* ...unless someone else wrote before them: that is not lost. */
    edit(f, "{\"nics\": [\"p1\", \"p2\"]}");
    qvs_dummy_class.operate(f->vs, &op, 1);
    assert_true(qvs_dummy_class.changed(f->vs));
    qj_free(v);
    /* A corrupt file is an error, not an empty switch. */
    FILE *fp = fopen(f->path, "w");
    fputs("{\"nics\": [", fp);
    fclose(fp);
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), -1);
    qvs_observed_free(&o);
    assert_non_null(strstr(err, f->path));
}

/* The state is cached by the file's identity (device, inode, size, mtime):
 * a file rewritten in place with its identity restored is not read again
 * until release() drops the cache. */
static void test_cache(void **state)
{
    fixture *f = *state;
    qvs_observed o;
    char err[256];
    edit(f, "{\"nics\": [\"p1\"]}");
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), 0);
    assert_non_null(qvs_map_get(o.nics, "p1"));
    qvs_observed_free(&o);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    size_t len;
    char *text = qfile_read(f->path, &len);
    char *p1 = strstr(text, "\"p1\"");
    assert_non_null(p1);
    p1[2] = '2';
    FILE *fp = fopen(f->path, "r+");
    assert_int_equal(fwrite(text, 1, len, fp), len);
    fclose(fp);
    free(text);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, f->path, times, 0), 0);
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), 0);
    assert_non_null(qvs_map_get(o.nics, "p1"));     /* the cached state */
    qvs_observed_free(&o);
    qvs_dummy_class.release(f->vs);
    assert_int_equal(qvs_dummy_class.dump(f->vs, &o, err, sizeof err), 0);
    assert_null(qvs_map_get(o.nics, "p1"));
    assert_non_null(qvs_map_get(o.nics, "p2"));
    qvs_observed_free(&o);
    qvs_dummy_class.release(f->vs);
    qvs_dummy_class.release(f->vs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_and_nics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
