/* qhvctl dummy FILE ...: edits a dummy backend's state file
 * (src/vswitch/dummy.h), under its lock, as a test or an operator would
 * change a host's switch behind the agent's back. */
#include "ctl/qhvctl.h"
#include "lib/json.h"
#include "lib/util.h"
#include "vswitch/dummy.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct qctl_dummy_arg {
    int argc;
    char **argv;        /* after FILE */
    qj *out;            /* what to print (owned) */
    bool pretty;
} qctl_dummy_arg;

static int qctl_usage_err(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "usage: qhvctl dummy FILE %s", what);
    return -2;
}

static bool qctl_nic_present(const qj *nics, const char *id)
{
    for (size_t i = 0; i < qj_len(nics); i++)
        if (qj_as_str(qj_at(nics, i)) && !strcmp(qj_as_str(qj_at(nics, i)), id))
            return true;
    return false;
}

/* Objects that live on a VM NIC: port/ID and acl/ID/... */
static bool qctl_on_nic(const char *objid, const char *nic)
{
    size_t n = strlen(nic);
    if (!strncmp(objid, "port/", 5))
        return !strcmp(objid + 5, nic);
    if (!strncmp(objid, "acl/", 4))
        return !strncmp(objid + 4, nic, n) && objid[4 + n] == '/';
    return false;
}

static int qctl_dummy_nic(qj *state, qctl_dummy_arg *a, char *err, size_t errlen)
{
    if (a->argc != 3 || (strcmp(a->argv[1], "add") && strcmp(a->argv[1], "del")))
        return qctl_usage_err(err, errlen, "nic add|del PORT_ID");
    const char *id = a->argv[2];
    qj *nics = qj_get(state, "nics");
    bool present = qctl_nic_present(nics, id);
    if (!strcmp(a->argv[1], "add")) {
        if (present)
            return 0;
        qj_append(nics, qj_str(id));
        return 1;
    }
    if (!present)
        return 0;
    qj *keep = qj_array();
    for (size_t i = 0; i < qj_len(nics); i++)
        if (strcmp(qj_as_str(qj_at(nics, i)) ? qj_as_str(qj_at(nics, i)) : "", id))
            qj_append(keep, qj_clone(qj_at(nics, i)));
    qj_set(state, "nics", keep);
    /* The switch port settings of a NIC go away with it. */
    qj *objects = qj_get(state, "objects"), *rest = qj_object();
    for (size_t i = 0; i < objects->u.obj.n; i++) {
        qj_member *m = &objects->u.obj.m[i];
        if (qctl_on_nic(m->key, id))
            continue;
        rest->u.obj.m = xrealloc(rest->u.obj.m, (rest->u.obj.n + 1) * sizeof *rest->u.obj.m);
        rest->u.obj.m[rest->u.obj.n++] = *m;
        rest->u.obj.cap = rest->u.obj.n;
        m->key = NULL;
        m->val = NULL;
    }
    qj_set(state, "objects", rest);
    return 1;
}

static int qctl_dummy_fault(qj *state, qctl_dummy_arg *a, char *err, size_t errlen)
{
    qj *f = qj_get(state, "faults");
    int64_t n;
    if (a->argc >= 2 && !strcmp(a->argv[1], "clear") && a->argc == 2) {
        qj_set(f, "fail_nth", qj_int(0));
        qj_set(f, "fail_kind", qj_null());
        qj_set(f, "slow_ms", qj_int(0));
        qj_set(f, "vanish", qj_array());
        return 1;
    }
    if (a->argc >= 3 && !strcmp(a->argv[1], "fail") && a->argc <= 4 &&
        qhv_parse_i64(a->argv[2], 0, INT32_MAX, &n) == 0) {
        qj_set(f, "fail_nth", qj_int(n));
        qj_set(f, "fail_kind", a->argc == 4 ? qj_str(a->argv[3]) : qj_null());
        return 1;
    }
    if (a->argc == 3 && !strcmp(a->argv[1], "slow") &&
        qhv_parse_i64(a->argv[2], 0, 600000, &n) == 0) {
        qj_set(f, "slow_ms", qj_int(n));
        return 1;
    }
    return qctl_usage_err(err, errlen, "fault fail N [KIND] | fault slow MS | fault clear");
}

static bool qctl_id_ok(const char *id, char *err, size_t errlen)
{
    if (qvs_kind_rank(id) < 0 || !*qvs_id_key(id)) {
        snprintf(err, errlen, "'%s' is not KIND/KEY with KIND one of provider_address, "
                              "customer_route, lookup_record, port, acl", id);
        return false;
    }
    return true;
}

static int qctl_dummy_vanish(qj *state, qctl_dummy_arg *a, char *err, size_t errlen)
{
    if (a->argc != 2)
        return qctl_usage_err(err, errlen, "vanish KIND/KEY");
    if (!qctl_id_ok(a->argv[1], err, errlen))
        return -2;
    qj_append(qj_get(qj_get(state, "faults"), "vanish"), qj_str(a->argv[1]));
    return 1;
}

static int qctl_dummy_foreign(qj *state, qctl_dummy_arg *a, char *err, size_t errlen)
{
    if (a->argc != 4 || strcmp(a->argv[1], "add"))
        return qctl_usage_err(err, errlen, "foreign add KIND/KEY JSON");
    if (!qctl_id_ok(a->argv[2], err, errlen))
        return -2;
    qj_error je;
    qj *v = qj_parse(a->argv[3], strlen(a->argv[3]), NULL, &je);
    if (!v) {
        snprintf(err, errlen, "JSON value: %s at column %zu", je.msg, je.column);
        return -2;
    }
    qj *o = qj_object();
    qj_set(o, "value", v);
    qj_set(o, "owner", qj_str("foreign"));
    qj_set(qj_get(state, "objects"), a->argv[2], o);
    return 1;
}

static int qctl_dummy_counters(qj *state, qctl_dummy_arg *a, char *err, size_t errlen)
{
    if (a->argc == 1) {
        a->out = qj_clone(qj_get(state, "counters"));
        return 0;
    }
    if (a->argc == 2 && !strcmp(a->argv[1], "reset")) {
        qj *c = qj_get(state, "counters");
        for (size_t i = 0; i < c->u.obj.n; i++)
            qj_set(c, c->u.obj.m[i].key, qj_int(0));
        return 1;
    }
    return qctl_usage_err(err, errlen, "counters [reset]");
}

static int qctl_dummy_fn(qj *state, void *arg, char *err, size_t errlen)
{
    qctl_dummy_arg *a = arg;
    const char *cmd = a->argv[0];
    if (!strcmp(cmd, "nic"))
        return qctl_dummy_nic(state, a, err, errlen);
    if (!strcmp(cmd, "fault"))
        return qctl_dummy_fault(state, a, err, errlen);
    if (!strcmp(cmd, "vanish"))
        return qctl_dummy_vanish(state, a, err, errlen);
    if (!strcmp(cmd, "foreign"))
        return qctl_dummy_foreign(state, a, err, errlen);
    if (!strcmp(cmd, "counters"))
        return qctl_dummy_counters(state, a, err, errlen);
    if (!strcmp(cmd, "dump") && a->argc == 1) {
        a->out = qj_clone(state);
        a->pretty = true;
        return 0;
    }
    snprintf(err, errlen, "unknown dummy command '%s' (see qhvctl --help)", cmd);
    return -2;
}

int qctl_dummy(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: qhvctl dummy FILE COMMAND ... (see qhvctl --help)\n");
        return 2;
    }
    qctl_dummy_arg a = {argc - 1, argv + 1, NULL, false};
    char err[1024] = "";
    int rc = qvs_dummy_edit(argv[0], qctl_dummy_fn, &a, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "qhvctl: %s\n", err);
        qj_free(a.out);
        return rc == -2 ? 2 : 1;
    }
    if (a.out) {
        qbuf b;
        qbuf_init(&b, 0);
        qj_emit(a.out, &b, a.pretty);
        printf("%s\n", b.data);
        qbuf_free(&b);
        qj_free(a.out);
    }
    return 0;
}
