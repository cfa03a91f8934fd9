#include "vswitch/dummy.h"
#include "lib/file.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "lib/plat.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qvs {
    char *path;
    /* Identity of the state file as of our last read or write: a change of
     * it means someone else wrote it (writes replace the file). */
    bool seen_valid;
    qplat_fileid seen;
    /* The state as read or written when the file had identity cache_id: a
     * reconcile (dump, operate, confirming dump) and a burst of them parse
     * the file once. Dropped by release() when the agent is idle. */
    qj *cache;
    qplat_fileid cache_id;
};

/* ---------- the state file ---------- */

static qj *qvs_dummy_member(qj *state, const char *key, qj_type t)
{
    qj *v = qj_get(state, key);
    if (!qj_is(v, t)) {
        qj_set(state, key, t == QJ_ARRAY ? qj_array() : qj_object());
        v = qj_get(state, key);
    }
    return v;
}

/* Makes every top-level member present with its type. */
static void qvs_dummy_normalise(qj *state)
{
    static const char *const counters[] = {"ops", "creates", "updates", "deletes", "failed"};
    qvs_dummy_member(state, "nics", QJ_ARRAY);
    qvs_dummy_member(state, "objects", QJ_OBJECT);
    qj *f = qvs_dummy_member(state, "faults", QJ_OBJECT);
    if (!qj_is(qj_get(f, "fail_nth"), QJ_INT))
        qj_set(f, "fail_nth", qj_int(0));
    if (!qj_is(qj_get(f, "fail_kind"), QJ_STRING))
        qj_set(f, "fail_kind", qj_null());
    if (!qj_is(qj_get(f, "slow_ms"), QJ_INT))
        qj_set(f, "slow_ms", qj_int(0));
    qvs_dummy_member(f, "vanish", QJ_ARRAY);
    qj *c = qvs_dummy_member(state, "counters", QJ_OBJECT);
    for (size_t i = 0; i < QHV_ARRAY_SIZE(counters); i++)
        if (!qj_is(qj_get(c, counters[i]), QJ_INT))
            qj_set(c, counters[i], qj_int(0));
}

static void qvs_dummy_count(qj *state, const char *name)
{
    qj *v = qj_get(qj_get(state, "counters"), name);
    if (v)
        v->u.i++;
}

static qplat_lock *qvs_dummy_lock(const char *path, char *err, size_t errlen)
{
    char *lpath = xasprintf("%s.lock", path);
    qplat_lock *l = qplat_lock_file(lpath, err, errlen);
    free(lpath);
    return l;
}

/* Reads the state (an empty one if the file is missing); *id is the file's
 * identity. Called under the lock, so that nobody writes meanwhile. */
static int qvs_dummy_read(const char *path, qj **ret, qplat_fileid *id, char *err,
                          size_t errlen)
{
    *ret = NULL;
    memset(id, 0, sizeof *id);
    size_t len;
    char *text = qfile_read(path, &len);
    if (!text) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
        *ret = qj_object();
        qvs_dummy_normalise(*ret);
        return 0;
    }
    qplat_file_id(path, id);
    qj_error je;
    qj *state = len ? qj_parse(text, len, NULL, &je) : qj_object();
    free(text);
    if (!state || !qj_is(state, QJ_OBJECT)) {
        if (state)
            snprintf(err, errlen, "%s: the state must be a JSON object", path);
        else
            snprintf(err, errlen, "%s:%zu:%zu: %s", path, je.line, je.column, je.msg);
        qj_free(state);
        return -1;
    }
    qvs_dummy_normalise(state);
    *ret = state;
    return 0;
}

/* Writes a temporary file and renames it over the state file, so that a
 * reader never sees half a state; *id is the new file's identity. */
static int qvs_dummy_write(const char *path, const qj *state, qplat_fileid *id, char *err,
                           size_t errlen)
{
    qbuf b;
    qbuf_init(&b, 0);
    qj_emit(state, &b, false);     /* compact: qhvctl dummy FILE dump pretty-prints */
    qbuf_putc(&b, '\n');
    int rc = qfile_write_atomic(path, b.data, false);
    if (rc < 0)
        snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
    else
        qplat_file_id(path, id);
    qbuf_free(&b);
    return rc;
}

/* The read-modify-write every access goes through. *st: the identity of the
 * file as it is when the lock is released; *st_read (may be NULL): as read. */
static int qvs_dummy_rmw(const char *path, qvs_dummy_edit_fn fn, void *arg, qplat_fileid *st,
                         qplat_fileid *st_read, char *err, size_t errlen)
{
    qplat_lock *lock = qvs_dummy_lock(path, err, errlen);
    if (!lock)
        return -1;
    qj *state;
    int rc = qvs_dummy_read(path, &state, st, err, errlen);
    if (st_read)
        *st_read = *st;
    if (rc == 0) {
        rc = fn(state, arg, err, errlen);
        if (rc > 0 && qvs_dummy_write(path, state, st, err, errlen) < 0)
            rc = -1;
    }
    qj_free(state);
    qplat_unlock_file(lock);
    return rc;
}

/* The backend's read-modify-write: qvs_dummy_rmw through the cache. fn may
 * change the state only if it returns 1 (then it is written). */
static int qvs_dummy_rmw_cached(qvs *vs, qvs_dummy_edit_fn fn, void *arg, qplat_fileid *st,
                                qplat_fileid *st_read, char *err, size_t errlen)
{
    qplat_lock *lock = qvs_dummy_lock(vs->path, err, errlen);
    if (!lock)
        return -1;
    qplat_fileid now;
    qj *state = NULL;
    int rc = 0;
    if (vs->cache && qplat_file_id(vs->path, &now) == 0 &&
        qplat_fileid_same(&now, &vs->cache_id)) {
        state = vs->cache;
        *st = now;
    } else {
        qj_free(vs->cache);
        vs->cache = NULL;
        rc = qvs_dummy_read(vs->path, &state, st, err, errlen);
    }
    vs->cache = NULL;
    if (st_read)
        *st_read = *st;
    if (rc == 0) {
        rc = fn(state, arg, err, errlen);
        if (rc > 0 && qvs_dummy_write(vs->path, state, st, err, errlen) < 0)
            rc = -1;
    }
    if (rc >= 0) {
        vs->cache = state;
        vs->cache_id = *st;
    } else {
        qj_free(state);     /* half changed, or not written: read it again */
    }
    qplat_unlock_file(lock);
    return rc;
}

int qvs_dummy_edit(const char *path, qvs_dummy_edit_fn fn, void *arg, char *err, size_t errlen)
{
    qplat_fileid st;
    return qvs_dummy_rmw(path, fn, arg, &st, NULL, err, errlen);
}

static int qvs_dummy_copy(qj *state, void *arg, char *err, size_t errlen)
{
    *(qj **)arg = qj_clone(state);
    return 0;
}

int qvs_dummy_load(const char *path, qj **ret, char *err, size_t errlen)
{
    *ret = NULL;
    return qvs_dummy_edit(path, qvs_dummy_copy, ret, err, errlen);
}

/* ---------- the backend ---------- */

static void qvs_dummy_seen(qvs *vs, const qplat_fileid *st)
{
    vs->seen_valid = true;
    vs->seen = *st;
}

static int qvs_dummy_open(const qvs_options *opt, qvs **ret, char *err, size_t errlen)
{
    *ret = NULL;
    if (!opt->dummy_state_file || !*opt->dummy_state_file) {
        snprintf(err, errlen, "the dummy backend needs [dummy] state_file");
        return -1;
    }
    qvs *vs = xcalloc(1, sizeof *vs);
    vs->path = xstrdup(opt->dummy_state_file);
    *ret = vs;
    return 0;
}

static void qvs_dummy_close(qvs *vs)
{
    if (!vs)
        return;
    qj_free(vs->cache);
    free(vs->path);
    free(vs);
}

static bool qvs_dummy_same(const qvs *vs, const qplat_fileid *st)
{
    return vs->seen_valid && qplat_fileid_same(st, &vs->seen);
}

static bool qvs_dummy_changed(qvs *vs)
{
    qplat_fileid st;
    if (qplat_file_id(vs->path, &st) < 0)
        memset(&st, 0, sizeof st);
    return !qvs_dummy_same(vs, &st);
}

static int qvs_dummy_dump_fn(qj *state, void *arg, char *err, size_t errlen)
{
    qvs_observed *o = arg;
    qj *objects = qj_get(state, "objects");
    qj *vanish = qj_get(qj_get(state, "faults"), "vanish");
    int write = 0;
    for (size_t i = 0; i < qj_len(vanish); i++) {
        const char *id = qj_as_str(qj_at(vanish, i));
        if (id)
            qj_remove(objects, id);
        write = 1;
    }
    if (write)
        qj_set(qj_get(state, "faults"), "vanish", qj_array());
    const qj *nics = qj_get(state, "nics");
    for (size_t i = 0; i < qj_len(nics); i++)
        if (qj_as_str(qj_at(nics, i)))
            qvs_map_put(o->nics, qj_as_str(qj_at(nics, i)), qj_object());
    for (size_t i = 0; i < objects->u.obj.n; i++) {
        const qj_member *m = &objects->u.obj.m[i];
        const char *owner = qj_get_str(m->val, "owner");
        bool foreign = owner && !strcmp(owner, "foreign");
        const qj *v = qj_get(m->val, "value");     /* the state stays cached */
        qvs_map_put(foreign ? o->foreign : o->objects, m->key, v ? qj_clone(v) : qj_null());
    }
    return write;
}

static int qvs_dummy_dump(qvs *vs, qvs_observed *ret, char *err, size_t errlen)
{
    qvs_observed_init(ret);
    qplat_fileid st;
    if (qvs_dummy_rmw_cached(vs, qvs_dummy_dump_fn, ret, &st, NULL, err, errlen) < 0)
        return -1;
    qvs_dummy_seen(vs, &st);
    return 0;
}

typedef struct qvs_dummy_batch {
    qvs_op *ops;
    size_t n, failed;
} qvs_dummy_batch;

static void qvs_dummy_result(qvs_op *op, int error, const char *why)
{
    op->error = error;
    snprintf(op->why, sizeof op->why, "%.*s", (int)sizeof op->why - 1, why);
}

/* Does op trip the fail_nth fault? Counts it down. */
static bool qvs_dummy_fault(qj *faults, const char *kind)
{
    qj *nth = qj_get(faults, "fail_nth");
    const char *fk = qj_get_str(faults, "fail_kind");
    if (nth->u.i <= 0 || (fk && strcmp(fk, kind)))
        return false;
    return --nth->u.i == 0;
}

static void qvs_dummy_apply(qj *state, qvs_map *objects, const qvs_map *nics, qvs_op *op)
{
    qj *faults = qj_get(state, "faults");
    int64_t slow = qj_get(faults, "slow_ms")->u.i;
    char kind[32];
    qvs_dummy_count(state, "ops");
    if (slow > 0)
        qplat_sleep_ms((long)slow);
    if (!qvs_id_kind(op->id, kind, sizeof kind) || qvs_kind_rank(op->id) < 0) {
        qvs_dummy_result(op, -EINVAL, "unknown object kind");
        return;
    }
    if (qvs_dummy_fault(faults, kind)) {
        qvs_dummy_result(op, -EIO, "injected fault (fail_nth)");
        return;
    }
    const qj *cur = qvs_map_get(objects, op->id);
    const char *owner = qj_get_str(cur, "owner");
    if (owner && !strcmp(owner, "foreign")) {
        qvs_dummy_result(op, -EPERM, "the object belongs to someone else");
        return;
    }
    if (op->type == QVS_DELETE) {
        qvs_map_del(objects, op->id);
        qvs_dummy_result(op, 0, "");
        qvs_dummy_count(state, "deletes");
        return;
    }
    if (!op->value) {
        qvs_dummy_result(op, -EINVAL, "no value");
        return;
    }
    if (!strcmp(kind, "port") || !strcmp(kind, "acl")) {
        const char *key = qvs_id_key(op->id);
        const char *slash = strchr(key, '/');
        char *nic = slash ? xstrndup(key, (size_t)(slash - key)) : xstrdup(key);
        bool present = qvs_map_get(nics, nic) != NULL;
        free(nic);
        if (!present) {
            qvs_dummy_result(op, -ENOENT, "no such VM NIC");
            return;
        }
    }
    qj *o = qj_object();
    qj_set(o, "value", qj_clone(op->value));
    qj_set(o, "owner", qj_str("qhv"));
    qvs_map_put(objects, op->id, o);
    qvs_dummy_result(op, 0, "");
    qvs_dummy_count(state, op->type == QVS_CREATE ? "creates" : "updates");
}

static int qvs_dummy_operate_fn(qj *state, void *arg, char *err, size_t errlen)
{
    qvs_dummy_batch *b = arg;
    qvs_map *objects = qvs_map_from_object(qj_get(state, "objects"));
    qvs_map *nics = qvs_map_new();
    const qj *nl = qj_get(state, "nics");
    for (size_t i = 0; i < qj_len(nl); i++)
        if (qj_as_str(qj_at(nl, i)))
            qvs_map_put(nics, qj_as_str(qj_at(nl, i)), NULL);
    for (size_t i = 0; i < b->n; i++) {
        qvs_dummy_apply(state, objects, nics, &b->ops[i]);
        if (b->ops[i].error) {
            b->failed++;
            qvs_dummy_count(state, "failed");
        }
    }
    qj_set(state, "objects", qvs_map_move_to_object(objects));
    qvs_map_free(objects);
    qvs_map_free(nics);
    return 1;
}

static size_t qvs_dummy_operate(qvs *vs, qvs_op *ops, size_t n)
{
    if (!n)
        return 0;
    qvs_dummy_batch b = {ops, n, 0};
    char err[256];
    qplat_fileid st, st_read;
    if (qvs_dummy_rmw_cached(vs, qvs_dummy_operate_fn, &b, &st, &st_read, err, sizeof err) < 0) {
        for (size_t i = 0; i < n; i++)
            qvs_dummy_result(&ops[i], -EIO, err);
        return n;
    }
    /* If someone else wrote the file since our last look, the switch changed
     * under us: leave changed() true so that the agent dumps again. */
    if (qvs_dummy_same(vs, &st_read))
        qvs_dummy_seen(vs, &st);
    else
        vs->seen_valid = false;
    return b.failed;
}

/* ---------- a network node's DHCP, recorded ---------- */

typedef struct qvs_dummy_dhcp {
    const qj *networks, *hosts;
} qvs_dummy_dhcp;

static bool qvs_dummy_has(const qj *list, const char *s)
{
    for (size_t i = 0; i < qj_len(list); i++)
        if (qj_as_str(qj_at(list, i)) && !strcmp(qj_as_str(qj_at(list, i)), s))
            return true;
    return false;
}

/* Records what the node would serve, and plugs its DHCP ports as NICs (the
 * ones it plugged before and no longer serves go). */
static int qvs_dummy_dhcp_fn(qj *state, void *arg, char *err, size_t errlen)
{
    const qvs_dummy_dhcp *d = arg;
    const qj *old = qj_get(state, "dhcp");
    qj *want = qj_array();
    for (size_t i = 0; i < d->networks->u.obj.n; i++) {
        const char *pid = qj_get_str(qj_get(d->networks->u.obj.m[i].val, "port"), "id");
        if (pid && !qvs_dummy_has(want, pid))
            qj_append(want, qj_str(pid));
    }
    qj *rec = qj_object();
    qj_set(rec, "networks", qj_clone(d->networks));
    qj_set(rec, "hosts", qj_clone(d->hosts));
    qj_set(rec, "plugged", want);
    if (qj_equal(old, rec)) {
        qj_free(rec);
        return 0;
    }
    const qj *before = qj_get(old, "plugged");
    qj *nics = qj_get(state, "nics"), *keep = qj_array();
    for (size_t i = 0; i < qj_len(nics); i++) {
        const char *n = qj_as_str(qj_at(nics, i));
        if (n && (!qvs_dummy_has(before, n) || qvs_dummy_has(want, n)))
            qj_append(keep, qj_str(n));
    }
    for (size_t i = 0; i < qj_len(want); i++)
        if (!qvs_dummy_has(keep, qj_as_str(qj_at(want, i))))
            qj_append(keep, qj_str(qj_as_str(qj_at(want, i))));
    qj_set(state, "nics", keep);
    qj_set(state, "dhcp", rec);
    return 1;
}

static int qvs_dummy_serve_dhcp(qvs *vs, const qj *networks, const qj *hosts, char *err,
                                size_t errlen)
{
    if (!qj_is(networks, QJ_OBJECT) || !qj_is(hosts, QJ_OBJECT)) {
        snprintf(err, errlen, "dhcp_networks and dhcp_hosts must be objects");
        return -1;
    }
    qvs_dummy_dhcp d = {networks, hosts};
    qplat_fileid st;
    /* No qvs_dummy_seen: NICs may have come or gone, so changed() stays
     * true and the agent dumps and wires them. */
    return qvs_dummy_rmw_cached(vs, qvs_dummy_dhcp_fn, &d, &st, NULL, err, errlen) < 0 ? -1 : 0;
}

static void qvs_dummy_release(qvs *vs)
{
    qj_free(vs->cache);
    vs->cache = NULL;
}

const qvs_class qvs_dummy_class = {
    .name = "dummy",
    .port_filter = true,
    .open = qvs_dummy_open,
    .close = qvs_dummy_close,
    .dump = qvs_dummy_dump,
    .changed = qvs_dummy_changed,
    .operate = qvs_dummy_operate,
    .release = qvs_dummy_release,
    .serve_dhcp = qvs_dummy_serve_dhcp,
};
