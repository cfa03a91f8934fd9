/* ovs: the Open vSwitch backend (docs/ovs.md). The switch objects qhv owns
 * live in a state file beside the OVS instance; the integration bridge's
 * flow table is computed from them in full (ovs_flows.c) and installed with
 * one atomic ovs-ofctl --bundle replace-flows, which leaves unchanged flows
 * alone (an agent restart interrupts no traffic). A dump reports an object
 * only while its flows are all installed, so flows lost to an ovs-vswitchd
 * restart are put back by the agent's ordinary reconcile. */
#include "vswitch/ovs.h"
#include "vswitch/ovs_exec.h"
#include "vswitch/ovs_plug.h"
#include "vswitch/ovs_flows.h"
#include "lib/file.h"
#include "lib/plat.h"
#include "lib/util.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QOVS_GRE "qhv-gre"
/* VM interfaces come and go as ovsdb-client monitor reports them; a full
 * look every so often anyway, every second while the monitor is down. */
#define QOVS_RESCAN_NS 10000000000LL
#define QOVS_RESCAN_UNWATCHED_NS 1000000000LL
/* Flows are read back in full at least this often (see qovs_verify). */
#define QOVS_VERIFY_NS 30000000000LL
#define QOVS_COUNT_FRESH_NS 1000000000LL

typedef struct qovs_view {
    bool bridge;            /* the integration bridge exists */
    qvs_map *nics;          /* port id → {"name", "ofport"} */
    qvs_map *ofports;       /* port id → ofport (for the flows) */
    qvs_map *patches;       /* physical bridge → patch ofport */
    int gre;
} qovs_view;

struct qvs {
    char *bridge;           /* the integration bridge */
    char *datapath;         /* its datapath_type */
    char *rundir;           /* OVS_RUNDIR for the tools ("" = their default) */
    char *state;            /* qhv's objects */
    char *local_ip;         /* the provider address: GRE source, own records */
    int64_t last_look_ns;
    struct timespec pid_mtime;
    qovs_watch monitor;     /* ovsdb-client monitor of the Interface table */
    qovs_view view;
    bool view_ok, view_dirty;   /* view: the last look, valid unless dirty */
    qvs_map *state_cache;       /* the state file's objects as last read or written */
    qplat_fileid state_id;      /* ... and the file then */
    uint64_t state_gen;         /* changes whenever state_cache does */
    /* The last computed flow table and the input it came from: a dump that
     * follows an operate, and the periodic dumps of an idle agent, ask for
     * the same table again. */
    uint64_t memo_id;       /* which computation memo_flows is (0: none) */
    uint64_t memo_gen;      /* the state_gen it was computed from (0: another map) */
    int memo_gre;
    qvs_map *memo_patches, *memo_ofports;
    uint64_t installed;     /* memo_id of the table last known to be installed, 0 */
    char *installed_flows;  /* the table this process last installed (what an
                               incremental install diffs against) */
    int64_t verified_ns;    /* when the flows were last read back in full */
    int64_t count;          /* the bridge's flow count as last read, -1: none... */
    int64_t count_ns;       /* ... and when (reused for QOVS_COUNT_FRESH_NS) */
    qbuf memo_flows;
    qvs_map *memo_counts, *memo_problems;
};

static void qovs_view_free(qovs_view *v)
{
    qvs_map_free(v->nics);
    qvs_map_free(v->ofports);
    qvs_map_free(v->patches);
    memset(v, 0, sizeof *v);
}

static int64_t qovs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int qovs_open(const qvs_options *opt, qvs **ret, char *err, size_t errlen)
{
    *ret = NULL;
    const char *br = opt->ovs_integration_bridge && *opt->ovs_integration_bridge
                         ? opt->ovs_integration_bridge : "br-int";
    if (strlen(br) > 12 || strchr(br, '/')) {
        snprintf(err, errlen, "[ovs] integration_bridge '%s': at most 12 characters, no '/'", br);
        return -1;
    }
    qvs *vs = xcalloc(1, sizeof *vs);
    vs->count = -1;
    vs->monitor.fd = -1;
    vs->bridge = xstrdup(br);
    vs->datapath = xstrdup(opt->ovs_datapath_type && *opt->ovs_datapath_type
                               ? opt->ovs_datapath_type : "system");
    vs->rundir = xstrdup(opt->ovs_rundir ? opt->ovs_rundir : "");
    vs->local_ip = xstrdup(opt->provider_address ? opt->provider_address : "");
    if (opt->ovs_state_file && *opt->ovs_state_file)
        vs->state = xstrdup(opt->ovs_state_file);
    else
        vs->state = xasprintf("%s/qhv-%s.json", *vs->rundir ? vs->rundir : "/var/run/openvswitch",
                              br);
    *ret = vs;
    return 0;
}

static void qovs_close(qvs *vs)
{
    if (!vs)
        return;
    qovs_watch_stop(&vs->monitor);
    qovs_view_free(&vs->view);
    qvs_map_free(vs->state_cache);
    free(vs->bridge);
    free(vs->datapath);
    free(vs->rundir);
    free(vs->state);
    free(vs->local_ip);
    qvs_map_free(vs->memo_patches);
    qvs_map_free(vs->memo_ofports);
    free(vs->installed_flows);
    qbuf_free(&vs->memo_flows);
    qvs_map_free(vs->memo_counts);
    qvs_map_free(vs->memo_problems);
    free(vs);
}

/* Networks of these types reach the wire through a physical bridge (the
 * port's vswitch), over a patch pair to br-int. */
static bool qovs_uses_patch(const char *type)
{
    return !strcmp(type, "flat") || !strcmp(type, "vlan") || !strcmp(type, "ip_rewrite");
}

/* ---------- the state file ---------- */

static int qovs_state_write(qvs *vs, const qvs_map *m, char *err, size_t errlen);

static qvs_map *qovs_state_read(qvs *vs, char *err, size_t errlen)
{
    size_t len;
    char *text = qfile_read(vs->state, &len);
    if (!text) {
        if (errno == ENOENT)
            return qvs_map_new();
        snprintf(err, errlen, "%s: %s", vs->state, strerror(errno));
        return NULL;
    }
    qj_error je;
    qj *o = qj_parse(text, len, NULL, &je);
    free(text);
    if (!qj_is(o, QJ_OBJECT)) {
        snprintf(err, errlen, "%s: not a JSON object (%s); remove it to start afresh", vs->state,
                 je.msg);
        qj_free(o);
        return NULL;
    }
    qvs_map *m = qvs_map_from_object(o);
    qj_free(o);
    return m;
}

/* qhv's objects, borrowed from vs: read again only when the file is not the
 * one this process last read or wrote (someone edited or removed it). */
static const qvs_map *qovs_state(qvs *vs, char *err, size_t errlen)
{
    qplat_fileid id;
    qplat_file_id(vs->state, &id);
    if (vs->state_cache && qplat_fileid_same(&id, &vs->state_id))
        return vs->state_cache;
    qvs_map *m = qovs_state_read(vs, err, errlen);
    if (!m)
        return NULL;
    qvs_map_free(vs->state_cache);
    vs->state_cache = m;
    vs->state_id = id;
    vs->state_gen++;
    return m;
}

/* qhv's objects, to change in place: the caller then calls
 * qovs_state_commit (the cache and the file must not disagree for long). */
static qvs_map *qovs_state_edit(qvs *vs, char *err, size_t errlen)
{
    if (!qovs_state(vs, err, errlen))
        return NULL;
    vs->state_gen++;
    return vs->state_cache;
}

static void qovs_state_drop(qvs *vs)
{
    qvs_map_free(vs->state_cache);
    vs->state_cache = NULL;
    vs->state_gen++;
}

/* Writes the edited objects (atomically: a crash leaves the old or the new
 * file). On failure the cache is dropped: the file is read again. */
static int qovs_state_commit(qvs *vs, char *err, size_t errlen)
{
    int rc = qovs_state_write(vs, vs->state_cache, err, errlen);
    if (rc == 0 && qplat_file_id(vs->state, &vs->state_id) == 0 && vs->state_id.exists)
        return 0;
    qovs_state_drop(vs);
    return -1;
}

static int qovs_state_write(qvs *vs, const qvs_map *m, char *err, size_t errlen)
{
    qj *o = qvs_map_to_object(m);
    char *text = qj_to_string(o);
    qj_free(o);
    int rc = qfile_write_atomic(vs->state, text, true);
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", vs->state, strerror(errno));
    free(text);
    return rc;
}

/* ---------- what Open vSwitch has ---------- */



static const char *qovs_ext_get(const qj *map, const char *key)
{
    /* OVSDB JSON: ["map", [["k", "v"], ...]] */
    const qj *pairs = qj_at(map, 1);
    for (size_t i = 0; i < qj_len(pairs); i++) {
        const qj *kv = qj_at(pairs, i);
        if (qj_as_str(qj_at(kv, 0)) && !strcmp(qj_as_str(qj_at(kv, 0)), key))
            return qj_as_str(qj_at(kv, 1));
    }
    return NULL;
}

static qvs_map *qovs_map_copy(const qvs_map *m)
{
    qj *o = qvs_map_to_object(m);
    qvs_map *c = qvs_map_from_object(o);
    qj_free(o);
    return c;
}

static void qovs_view_copy(qovs_view *dst, const qovs_view *src)
{
    dst->bridge = src->bridge;
    dst->gre = src->gre;
    dst->nics = qovs_map_copy(src->nics);
    dst->ofports = qovs_map_copy(src->ofports);
    dst->patches = qovs_map_copy(src->patches);
}

static int qovs_look_ovsdb(qvs *vs, qovs_view *v, char *err, size_t errlen);

/* What Open vSwitch has: from the last look while the monitor has reported
 * no Interface change since (a look is an ovs-vsctl run). */
static int qovs_look(qvs *vs, qovs_view *v, char *err, size_t errlen)
{
    if (vs->monitor.pid && qovs_watch_poll(&vs->monitor) != 0)
        vs->view_dirty = true;
    if (vs->monitor.pid && vs->view_ok && !vs->view_dirty) {
        qovs_view_copy(v, &vs->view);
        return 0;
    }
    vs->view_dirty = false;
    qovs_view_free(&vs->view);
    vs->view_ok = false;
    if (qovs_look_ovsdb(vs, v, err, errlen) < 0)
        return -1;
    qovs_view_copy(&vs->view, v);
    vs->view_ok = true;
    return 0;
}

/* The uuids of an OVSDB column value, ["uuid", U] or ["set", [["uuid", U], ...]],
 * into m. */
static void qovs_uuids(const qj *v, qvs_map *m)
{
    const char *tag = qj_as_str(qj_at(v, 0));
    if (tag && !strcmp(tag, "uuid")) {
        if (qj_as_str(qj_at(v, 1)))
            qvs_map_put(m, qj_as_str(qj_at(v, 1)), NULL);
    } else if (tag && !strcmp(tag, "set")) {
        for (size_t i = 0; i < qj_len(qj_at(v, 1)); i++)
            qovs_uuids(qj_at(qj_at(v, 1), i), m);
    }
}

/* The rows of result i of an OVSDB transaction's answer, or NULL. */
static const qj *qovs_rows(const qj *answer, size_t i)
{
    const qj *r = qj_at(answer, i);
    return qj_get(r, "error") ? NULL : qj_get(r, "rows");
}

/* One read-only transaction (ovsdb-client: a lighter process than
 * ovs-vsctl, which replicates every table it may touch; 50 against 100 ms
 * at 1,000 interfaces, unloaded): the bridge's ports, their interfaces, and
 * every interface's name, ofport and external_ids. */
static int qovs_look_ovsdb(qvs *vs, qovs_view *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    v->nics = qvs_map_new();
    v->ofports = qvs_map_new();
    v->patches = qvs_map_new();
    qj *where = qj_array(), *cond = qj_array();
    qj_append(cond, qj_str("name"));
    qj_append(cond, qj_str("=="));
    qj_append(cond, qj_str(vs->bridge));
    qj_append(where, cond);
    static const char *const tables[] = {"Bridge", "Port", "Interface"};
    static const char *const columns[][4] = {{"ports", NULL},
                                             {"_uuid", "interfaces", NULL},
                                             {"_uuid", "name", "ofport", "external_ids"}};
    qj *txn = qj_array();
    qj_append(txn, qj_str("Open_vSwitch"));
    for (size_t t = 0; t < QHV_ARRAY_SIZE(tables); t++) {
        qj *op = qj_object(), *cols = qj_array();
        qj_set(op, "op", qj_str("select"));
        qj_set(op, "table", qj_str(tables[t]));
        qj_set(op, "where", t == 0 ? where : qj_array());
        for (size_t c = 0; c < 4 && columns[t][c]; c++)
            qj_append(cols, qj_str(columns[t][c]));
        qj_set(op, "columns", cols);
        qj_append(txn, op);
    }
    char *text = qj_to_string(txn);
    qj_free(txn);
    char *db = xasprintf("unix:%s/db.sock", *vs->rundir ? vs->rundir : "/var/run/openvswitch");
    const char *argv[] = {"ovsdb-client", "--timeout=10", "transact", db, text, NULL};
    qbuf out, e;
    qbuf_init(&out, 0);
    qbuf_init(&e, 0);
    int rc = qovs_exec(vs->rundir, argv, NULL, &out, &e);
    free(db);
    free(text);
    qj *answer = rc == 0 ? qj_parse(out.data, out.len, NULL, NULL) : NULL;
    const qj *bridges = qovs_rows(answer, 0), *ports = qovs_rows(answer, 1),
             *ifaces = qovs_rows(answer, 2);
    if (!bridges || !ports || !ifaces) {
        snprintf(err, errlen, "ovsdb-client transact: %s",
                 rc != 0 ? e.data : "an answer without the three selects' rows");
        qj_free(answer);
        qbuf_free(&out);
        qbuf_free(&e);
        return -1;
    }
    qbuf_free(&out);
    qbuf_free(&e);
    if (!qj_len(bridges)) {
        qj_free(answer);
        return 0;       /* no bridge yet: an empty switch */
    }
    v->bridge = true;
    /* The interfaces on the bridge: its ports' interfaces. */
    qvs_map *mine_ports = qvs_map_new(), *mine = qvs_map_new();
    qovs_uuids(qj_get(qj_at(bridges, 0), "ports"), mine_ports);
    for (size_t i = 0; i < qj_len(ports); i++) {
        const qj *row = qj_at(ports, i);
        const char *uuid = qj_as_str(qj_at(qj_get(row, "_uuid"), 1));
        if (uuid && qvs_map_get(mine_ports, uuid))
            qovs_uuids(qj_get(row, "interfaces"), mine);
    }
    for (size_t i = 0; i < qj_len(ifaces); i++) {
        const qj *row = qj_at(ifaces, i);
        const char *uuid = qj_as_str(qj_at(qj_get(row, "_uuid"), 1));
        const char *name = qj_get_str(row, "name");
        const qj *of = qj_get(row, "ofport");
        if (!uuid || !name || !qvs_map_get(mine, uuid) || !qj_is(of, QJ_INT) || of->u.i <= 0)
            continue;
        if (!strcmp(name, QOVS_GRE)) {
            v->gre = (int)of->u.i;
            continue;
        }
        if (!strncmp(name, "qi-", 3)) {
            qvs_map_put(v->patches, name + 3, qj_int(of->u.i));
            continue;
        }
        const char *pid = qovs_ext_get(qj_get(row, "external_ids"), "iface-id");
        if (!pid)
            continue;
        qj *nic = qj_object();
        qj_set(nic, "name", qj_str(name));
        qj_set(nic, "ofport", qj_int(of->u.i));
        qvs_map_put(v->nics, pid, nic);
        qvs_map_put(v->ofports, pid, qj_int(of->u.i));
    }
    qvs_map_free(mine_ports);
    qvs_map_free(mine);
    qj_free(answer);
    return 0;
}

/* The flow table for state on the bridge as v sees it (ovs_flows.c), from
 * the memo when the input is unchanged. The results are borrowed from vs,
 * valid until the next call. */
/* The ofports the table depends on: those of VM interfaces whose port
 * object is in state (ovs_flows.c steers only those). A new VM interface
 * appears before the agent creates its port object (Nova's order): that
 * look then needs no new table. Caller frees. */
static qvs_map *qovs_used_ofports(const qvs_map *ofports, const qvs_map *state)
{
    qvs_map *m = qvs_map_new();
    const char *pid;
    qj *of;
    char key[320];
    for (size_t i = 0; i < qvs_map_end(ofports); i++) {
        if (!qvs_map_at(ofports, i, &pid, &of))
            continue;
        snprintf(key, sizeof key, "port/%s", pid);
        if (qvs_map_get(state, key))
            qvs_map_put(m, pid, qj_clone(of));
    }
    return m;
}

static void qovs_table(qvs *vs, const qovs_view *v, const qvs_map *state, const char **flows,
                       const qvs_map **counts, const qvs_map **problems)
{
    bool cached = state == vs->state_cache;
    qvs_map *used = qovs_used_ofports(v->ofports, state);
    if (!vs->memo_id || !cached || vs->memo_gen != vs->state_gen || vs->memo_gre != v->gre ||
        !qvs_map_equal(vs->memo_patches, v->patches) ||
        !qvs_map_equal(vs->memo_ofports, used)) {
        vs->memo_gen = cached ? vs->state_gen : 0;
        vs->memo_gre = v->gre;
        qvs_map_free(vs->memo_patches);
        qvs_map_free(vs->memo_ofports);
        vs->memo_patches = qovs_map_copy(v->patches);
        vs->memo_ofports = used;
        used = NULL;
        qbuf out;
        qbuf_init(&out, 0);
        qvs_map *cnt = qvs_map_new(), *probs = qvs_map_new();
        qovs_topo t = {v->gre, vs->local_ip, v->patches, v->ofports};
        qovs_flows(&t, state, &out, cnt, probs);
        /* The same table from another input (a VM interface with no port
         * object yet, say) is the same computation: what is known to be
         * installed stays known. */
        bool same = vs->memo_id && out.len == vs->memo_flows.len &&
                    (!out.len || !memcmp(out.data, vs->memo_flows.data, out.len)) &&
                    qvs_map_equal(probs, vs->memo_problems);
        static uint64_t ids;
        if (!same)
            vs->memo_id = ++ids;
        qbuf_free(&vs->memo_flows);
        vs->memo_flows = out;
        qvs_map_free(vs->memo_counts);
        qvs_map_free(vs->memo_problems);
        vs->memo_counts = cnt;
        vs->memo_problems = probs;
    }
    qvs_map_free(used);
    *flows = vs->memo_flows.data ? vs->memo_flows.data : "";
    *counts = vs->memo_counts;
    *problems = vs->memo_problems;
}

/* Flows installed on the bridge, counted by cookie. */
static int qovs_installed(qvs *vs, qvs_map *counts, char *err, size_t errlen)
{
    const char *argv[] = {"ovs-ofctl", "-O", "OpenFlow13", "dump-flows", vs->bridge,
                          "--no-stats", NULL};
    qbuf out, e;
    qbuf_init(&out, 0);
    qbuf_init(&e, 0);
    int rc = qovs_exec(vs->rundir, argv, NULL, &out, &e);
    if (rc != 0)
        snprintf(err, errlen, "ovs-ofctl dump-flows: %s", e.data);
    for (char *line = rc == 0 ? out.data : NULL; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        const char *c = strstr(line, "cookie=");
        char key[32];
        if (c && sscanf(c + 7, "%31[0-9a-fx]", key) == 1) {
            qj *n = qvs_map_get(counts, key);
            if (n)
                n->u.i++;
            else
                qvs_map_put(counts, key, qj_int(1));
        }
        line = end ? end + 1 : NULL;
    }
    qbuf_free(&out);
    qbuf_free(&e);
    return rc == 0 ? 0 : -1;
}

/* The number of flows on the bridge (one small OpenFlow request, but an
 * ovs-ofctl process: 40-170 ms at 30,000 flows). A count read less than
 * QOVS_COUNT_FRESH_NS ago, with no install since and the same ovs-vswitchd,
 * is reused: a reconcile's dump and the install that follows it (some 300 ms
 * of computing later at 1,000 ports) ask one after the other. If someone
 * changed the flows meanwhile, the install's confirming dump counts afresh
 * and sees it, and the next install replaces the whole table. */
static int64_t qovs_flow_count(qvs *vs)
{
    int64_t now = qovs_now_ns();
    if (vs->count >= 0 && now - vs->count_ns < QOVS_COUNT_FRESH_NS)
        return vs->count;
    const char *argv[] = {"ovs-ofctl", "-O", "OpenFlow13", "dump-aggregate", vs->bridge, NULL};
    qbuf out;
    qbuf_init(&out, 0);
    int64_t n = -1;
    const char *c;
    if (qovs_exec(vs->rundir, argv, NULL, &out, NULL) == 0 && out.data &&
        (c = strstr(out.data, "flow_count=")))
        n = strtoll(c + 11, NULL, 10);
    qbuf_free(&out);
    vs->count = n;
    vs->count_ns = now;
    return n;
}

/* The flows on the bridge by cookie, into have. Reading every flow back
 * costs more than computing them, so when the table asked for is the one
 * this process last saw fully installed, the bridge holds as many flows
 * and the last full check is recent, the table is taken as installed. */
static int qovs_verify(qvs *vs, const qvs_map *want, qvs_map *have, char *err, size_t errlen)
{
    int64_t total = 0, now = qovs_now_ns();
    const char *key;
    qj *val;
    for (size_t i = 0; i < qvs_map_end(want); i++)
        if (qvs_map_at(want, i, &key, &val))
            total += val->u.i;
    if (vs->installed && vs->installed == vs->memo_id &&
        now - vs->verified_ns < QOVS_VERIFY_NS && qovs_flow_count(vs) == total) {
        for (size_t i = 0; i < qvs_map_end(want); i++)
            if (qvs_map_at(want, i, &key, &val))
                qvs_map_put(have, key, qj_clone(val));
        return 0;
    }
    if (qovs_installed(vs, have, err, errlen) < 0)
        return -1;
    bool all = qvs_map_size(have) == qvs_map_size(want);
    for (size_t i = 0; all && i < qvs_map_end(want); i++)
        if (qvs_map_at(want, i, &key, &val)) {
            const qj *h = qvs_map_get(have, key);
            all = h && h->u.i == val->u.i;
        }
    /* Equal counts per cookie say "installed as wanted" (what a dump
     * reports); only this process's own install says which flows exactly
     * (installed_flows, what an incremental install diffs against). */
    vs->installed = all ? vs->memo_id : 0;
    if (!all) {
        free(vs->installed_flows);
        vs->installed_flows = NULL;
    }
    vs->verified_ns = now;
    return 0;
}

static bool qovs_needs_nic(const char *id)
{
    return !strncmp(id, "port/", 5) || !strncmp(id, "acl/", 4);
}

/* The port id of a port/ or acl/ id, in buf. */
static const char *qovs_nic_of(const char *id, char *buf, size_t n)
{
    const char *k = strchr(id, '/') + 1, *slash = strchr(k, '/');
    snprintf(buf, n, "%.*s", slash ? (int)(slash - k) : (int)strlen(k), k);
    return buf;
}

static int64_t qovs_count(const qvs_map *counts, uint64_t cookie)
{
    char key[32];
    snprintf(key, sizeof key, "0x%" PRIx64, cookie);
    const qj *n = qvs_map_get(counts, key);
    return n ? n->u.i : 0;
}

static int qovs_ensure(qvs *vs, const qvs_map *state, qvs_map *bad_bridges, char *err,
                       size_t errlen);

static int qovs_dump(qvs *vs, qvs_observed *ret, char *err, size_t errlen)
{
    qvs_observed_init(ret);
    vs->last_look_ns = qovs_now_ns();
    qovs_view v;
    if (qovs_look(vs, &v, err, errlen) < 0) {
        qovs_view_free(&v);
        return -1;
    }
    if (!v.bridge) {
        /* The integration bridge is set-up, not intent (as Neutron's agent
         * makes br-int at start): without it no VM interface can appear. */
        qvs_map *none = qvs_map_new(), *bad = qvs_map_new();
        int rc = qovs_ensure(vs, none, bad, err, errlen);
        vs->view_dirty = true;
        qvs_map_free(none);
        qvs_map_free(bad);
        qovs_view_free(&v);
        if (rc < 0 || qovs_look(vs, &v, err, errlen) < 0) {
            qovs_view_free(&v);
            return -1;
        }
    }
    const qvs_map *state = qovs_state(vs, err, errlen);
    if (!state) {
        qovs_view_free(&v);
        return -1;
    }
    const char *key;
    qj *val;
    for (size_t i = 0; i < qvs_map_end(v.nics); i++)
        if (qvs_map_at(v.nics, i, &key, &val))
            qvs_map_put(ret->nics, key, qj_clone(val));
    /* An object is there when its flows are: compare what the objects ask
     * for with what the bridge holds, cookie by cookie. */
    qvs_map *have = qvs_map_new();
    const qvs_map *want, *problems;
    const char *flows;
    qovs_table(vs, &v, state, &flows, &want, &problems);
    int rc = 0;
    if (v.bridge && qovs_verify(vs, want, have, err, errlen) < 0)
        rc = -1;
    bool base_ok = v.bridge &&
                   qovs_count(want, QOVS_COOKIE_BASE) == qovs_count(have, QOVS_COOKIE_BASE);
    for (size_t i = 0; rc == 0 && base_ok && i < qvs_map_end(state); i++) {
        if (!qvs_map_at(state, i, &key, &val) || qvs_map_get(problems, key))
            continue;
        char nic[256];
        if (qovs_needs_nic(key) && !qvs_map_get(v.nics, qovs_nic_of(key, nic, sizeof nic))) {
            /* Its VM interface is gone (Nova unplugs before it deletes the
             * port) while qhv still holds the object, and its flows may
             * still steer to an ofport the next interface can get: reported,
             * so that the agent deletes it (the agent wants port/ and acl/
             * objects only on a present NIC) and the table is installed
             * without it. */
            qvs_map_put(ret->objects, key, qj_clone(val));
            continue;
        }
        uint64_t ck = qovs_cookie(key);
        if (qovs_count(want, ck) != qovs_count(have, ck))
            continue;   /* flows missing or stale: not installed as wanted */
        qvs_map_put(ret->objects, key, qj_clone(val));
    }
    qvs_map_free(have);
    qovs_view_free(&v);
    return rc;
}

static bool qovs_changed(qvs *vs)
{
    /* ovs-vswitchd restarted (its flows are gone), an Interface row changed
     * (a VM interface plugged or unplugged, an ofport assigned), or time for
     * a full look. */
    const char *rundir = *vs->rundir ? vs->rundir : "/var/run/openvswitch";
    char *pidfile = xasprintf("%s/ovs-vswitchd.pid", rundir);
    struct stat st;
    bool changed = false;
    if (stat(pidfile, &st) == 0) {
        changed = st.st_mtim.tv_sec != vs->pid_mtime.tv_sec ||
                  st.st_mtim.tv_nsec != vs->pid_mtime.tv_nsec;
        if (changed)
            vs->count = -1;     /* a new ovs-vswitchd starts with no flows */
        vs->pid_mtime = st.st_mtim;
    }
    free(pidfile);
    if (!vs->monitor.pid) {
        char *db = xasprintf("unix:%s/db.sock", rundir);
        const char *argv[] = {"ovsdb-client", "monitor", db, "Open_vSwitch", "Interface",
                              "name,ofport,external_ids", NULL};
        if (qovs_watch_start(&vs->monitor, vs->rundir, argv) == 0)
            changed = vs->view_dirty = true;    /* what happened while not watching */
        free(db);
    }
    if (qovs_watch_poll(&vs->monitor) != 0)
        changed = vs->view_dirty = true;    /* a change, or the monitor died */
    int64_t every = vs->monitor.pid ? QOVS_RESCAN_NS : QOVS_RESCAN_UNWATCHED_NS;
    return changed || qovs_now_ns() - vs->last_look_ns >= every;
}

static void qovs_result(qvs_op *op, int error, const char *why)
{
    op->error = error;
    snprintf(op->why, sizeof op->why, "%s", why);
}

/* Creates the integration bridge, the GRE port and the patches to the
 * physical bridges the port objects name (idempotent). */
static int qovs_ensure(qvs *vs, const qvs_map *state, qvs_map *bad_bridges, char *err,
                       size_t errlen)
{
    const char *key;
    qj *val;
    qvs_map *bridges = qvs_map_new();
    for (size_t i = 0; i < qvs_map_end(state); i++) {
        if (!qvs_map_at(state, i, &key, &val) || strncmp(key, "port/", 5))
            continue;
        const char *type = qj_get_str(val, "network_type"), *br = qj_get_str(val, "vswitch");
        if (type && br && qovs_uses_patch(type) &&
            !qvs_map_get(bridges, br))
            qvs_map_put(bridges, br, NULL);
    }
    char **args = xcalloc(64 + 24 * qvs_map_size(bridges), sizeof *args);
    size_t n = 0;
#define A(s) (args[n++] = xstrdup(s))
#define AF(...) (args[n++] = xasprintf(__VA_ARGS__))
    A("ovs-vsctl");
    A("--timeout=10");
    A("--may-exist");
    A("add-br");
    A(vs->bridge);
    A("--");
    A("set");
    A("Bridge");
    A(vs->bridge);
    AF("datapath_type=%s", vs->datapath);
    A("fail_mode=secure");
    A("protocols=OpenFlow10,OpenFlow13");
    if (*vs->local_ip) {
        A("--");
        A("--may-exist");
        A("add-port");
        A(vs->bridge);
        A(QOVS_GRE);
        A("--");
        A("set");
        A("Interface");
        A(QOVS_GRE);
        A("type=gre");
        A("options:remote_ip=flow");
        A("options:key=flow");
        AF("options:local_ip=%s", vs->local_ip);
    }
    for (size_t i = 0; i < qvs_map_end(bridges); i++) {
        if (!qvs_map_at(bridges, i, &key, NULL))
            continue;
        /* The physical bridge is the operator's: it must exist. */
        const char *probe[] = {"ovs-vsctl", "--timeout=10", "br-exists", key, NULL};
        if (strlen(key) > 12 || qovs_exec(vs->rundir, probe, NULL, NULL, NULL) != 0) {
            qvs_map_put(bad_bridges, key, NULL);
            continue;
        }
        A("--");
        A("--may-exist");
        A("add-port");
        A(vs->bridge);
        AF("qi-%s", key);
        A("--");
        A("set");
        A("Interface");
        AF("qi-%s", key);
        A("type=patch");
        AF("options:peer=qp-%s", key);
        A("--");
        A("--may-exist");
        A("add-port");
        A(key);
        AF("qp-%s", key);
        A("--");
        A("set");
        A("Interface");
        AF("qp-%s", key);
        A("type=patch");
        AF("options:peer=qi-%s", key);
    }
#undef A
#undef AF
    qbuf e;
    qbuf_init(&e, 0);
    int rc = qovs_exec(vs->rundir, (const char *const *)args, NULL, NULL, &e);
    if (rc != 0)
        snprintf(err, errlen, "ovs-vsctl: %s", e.data);
    qbuf_free(&e);
    for (size_t i = 0; i < n; i++)
        free(args[i]);
    free(args);
    qvs_map_free(bridges);
    return rc == 0 ? 0 : -1;
}

/* Makes the bridge's table flows. When the bridge holds the table this
 * process last installed (as many flows), only the difference goes, as one
 * OpenFlow bundle (add replaces a flow with the same identity; delete_strict
 * removes one); otherwise the whole table through --bundle replace-flows,
 * which diffs on the switch. Either is atomic; unchanged flows are left
 * alone. */
static int qovs_install(qvs *vs, const char *flows, char *err, size_t errlen)
{
    qbuf diff, e;
    qbuf_init(&diff, 0);
    qbuf_init(&e, 0);
    bool incremental = false;
    if (vs->installed_flows) {
        size_t had = qovs_flows_diff(vs->installed_flows, flows, &diff);
        incremental = qovs_flow_count(vs) == (int64_t)had;
    }
    int rc = 0;
    if (!incremental) {
        const char *argv[] = {"ovs-ofctl", "-O", "OpenFlow13", "--bundle", "replace-flows",
                              vs->bridge, "-", NULL};
        rc = qovs_exec(vs->rundir, argv, flows, NULL, &e);
    } else if (diff.len) {
        const char *argv[] = {"ovs-ofctl", "-O", "OpenFlow13", "bundle", vs->bridge, "-", NULL};
        rc = qovs_exec(vs->rundir, argv, diff.data, NULL, &e);
    }
    free(vs->installed_flows);
    vs->installed_flows = NULL;
    vs->installed = 0;
    vs->count = -1;     /* the confirming dump counts again */
    if (rc != 0) {
        snprintf(err, errlen, "ovs-ofctl %s: %s", incremental ? "bundle" : "replace-flows",
                 e.data ? e.data : "");
    } else {
        vs->installed_flows = xstrdup(flows);
        vs->installed = vs->memo_id;
    }
    qbuf_free(&diff);
    qbuf_free(&e);
    return rc == 0 ? 0 : -1;
}

/* True if the bridge already has what qovs_ensure would create for state:
 * then an operate costs no OVSDB transaction. */
static bool qovs_ready(const qvs *vs, const qovs_view *v, const qvs_map *state)
{
    if (!v->bridge || (*vs->local_ip && !v->gre))
        return false;
    const char *key;
    qj *val;
    for (size_t i = 0; i < qvs_map_end(state); i++) {
        if (!qvs_map_at(state, i, &key, &val) || strncmp(key, "port/", 5))
            continue;
        const char *type = qj_get_str(val, "network_type"), *br = qj_get_str(val, "vswitch");
        if (type && br && qovs_uses_patch(type) &&
            !qvs_map_get(v->patches, br))
            return false;
    }
    return true;
}

static size_t qovs_operate(qvs *vs, qvs_op *ops, size_t n)
{
    char err[512] = "";
    size_t failed = 0;
    qvs_map *state = qovs_state_edit(vs, err, sizeof err);
    bool committed = false;
    qovs_view v = {0};
    if (!state || qovs_look(vs, &v, err, sizeof err) < 0) {
        for (size_t i = 0; i < n; i++)
            qovs_result(&ops[i], -EIO, err);
        qovs_view_free(&v);
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        qvs_op *op = &ops[i];
        char nic[256];
        qovs_result(op, 0, "");
        if (qvs_kind_rank(op->id) < 0) {
            qovs_result(op, -EINVAL, "unknown object kind");
        } else if (op->type == QVS_DELETE) {
            qvs_map_del(state, op->id);
        } else if (!op->value) {
            qovs_result(op, -EINVAL, "no value");
        } else if (qovs_needs_nic(op->id) &&
                   !qvs_map_get(v.nics, qovs_nic_of(op->id, nic, sizeof nic))) {
            qovs_result(op, -ENOENT, "no such VM interface on the integration bridge");
        } else {
            qvs_map_put(state, op->id, qj_clone(op->value));
        }
    }
    qvs_map *bad = qvs_map_new();
    int rc = 0;
    if (!qovs_ready(vs, &v, state)) {
        rc = qovs_ensure(vs, state, bad, err, sizeof err);
        vs->view_dirty = true;
        qovs_view_free(&v);
        if (rc == 0)
            rc = qovs_look(vs, &v, err, sizeof err);
    }
    /* Ports of a physical bridge that is not there cannot be wired. */
    const char *key;
    qj *val;
    for (size_t i = 0; i < n; i++) {
        const qj *br = ops[i].value ? qj_get(ops[i].value, "vswitch") : NULL;
        if (!ops[i].error && !strncmp(ops[i].id, "port/", 5) && qj_as_str(br) &&
            qvs_map_get(bad, qj_as_str(br))) {
            qovs_result(&ops[i], -ENOENT, "its physical bridge does not exist (see [ovs] "
                                          "bridge_mappings)");
            qvs_map_del(state, ops[i].id);
        }
    }
    qvs_map_free(bad);
    const qvs_map *counts, *problems;
    const char *flows = "";
    if (rc == 0) {
        qovs_table(vs, &v, state, &flows, &counts, &problems);
        for (size_t i = 0; i < qvs_map_end(problems); i++) {
            if (!qvs_map_at(problems, i, &key, &val))
                continue;
            for (size_t k = 0; k < n; k++)
                if (!ops[k].error && !strcmp(ops[k].id, key))
                    qovs_result(&ops[k], -EINVAL, qj_as_str(val));
        }
        rc = qovs_state_commit(vs, err, sizeof err);
        committed = true;
    }
    if (!committed)
        qovs_state_drop(vs);    /* the edits did not reach the file: forget them */
    if (rc == 0)
        rc = qovs_install(vs, flows, err, sizeof err);
    for (size_t i = 0; i < n; i++) {
        if (rc < 0 && !ops[i].error)
            qovs_result(&ops[i], -EIO, err);
        if (ops[i].error)
            failed++;
    }
    qovs_view_free(&v);
    return failed;
}

static int qovs_plug_port(qvs *vs, const char *port_id, const char *mac, const char *netns,
                          const char *ifname, char *err, size_t errlen)
{
    int rc = qovs_plug(vs->rundir, vs->bridge, port_id, mac, netns, ifname, err, errlen);
    vs->view_dirty = true;      /* a new interface: look again */
    return rc;
}

static int qovs_unplug_port(qvs *vs, const char *port_id, char *err, size_t errlen)
{
    int rc = qovs_unplug(vs->rundir, vs->bridge, port_id, err, errlen);
    vs->view_dirty = true;
    return rc;
}

const qvs_class qvs_ovs_class = {
    .name = "ovs",
    .port_filter = true,
    .open = qovs_open,
    .close = qovs_close,
    .dump = qovs_dump,
    .changed = qovs_changed,
    .operate = qovs_operate,
    .plug = qovs_plug_port,
    .unplug = qovs_unplug_port,
};
