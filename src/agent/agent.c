#include "agent/agent.h"
#include "agent/auth.h"
#include "agent/desired.h"
#include "agent/dhcp.h"
#include "agent/heap.h"
#include "agent/plan.h"
#include "agent/reconcile.h"
#include "agent/servers.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "vswitch/vswitch.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#endif

#define QAG_TICK_US 200000u             /* backend change poll */
#define QAG_TRIM_IDLE_US 1000000u       /* heap trim after this long without a reconcile */
/* A full reconcile at least this often even when the backend reports no
 * change (a safety net: changed() is what normally triggers one). */
#define QAG_RESYNC_MIN_S 60
#define QAG_BUDGET_US 1000000u          /* switch work per loop turn */
#define QAG_BATCH_TARGET_US 500000u     /* aim of one operate() call */
#define QAG_CHAN_BASE_US 1000000u       /* channel errors: 1 s doubling ... */
#define QAG_CHAN_CAP_US 30000000u       /* ... to 30 s */
#define QAG_REPORT_TIMEOUT_MS 15000L
#define QAG_MAX_ANSWER ((size_t)256 << 20)
#define QAG_REPORT_CHUNK 500            /* port statuses per report (~32 KB) */
#define QAG_PROBLEM_DETAILS 20          /* port problems listed in a heartbeat */
#define QAG_PROBLEM_LEN 255             /* longest problem text reported */

typedef enum { QAG_ST_NONE, QAG_ST_ACTIVE, QAG_ST_DOWN } qag_status;
static const char *const qag_status_names[] = {"NONE", "ACTIVE", "DOWN"};

struct qag {
    const qag_conf *conf;
    const qvs_class *cls;
    qvs *vs;
    qhttpc *http;
    qag_auth *auth;
    qag_dhcp *dhcp;             /* a network node's DHCP and metadata (NULL: not one) */
    bool dhcp_sync;             /* the plan changed since the last DHCP sync */
    unsigned watch_gen, report_gen;     /* credential generation each call used */
    /* The server in use ([agent] server_url, a list: agent/servers.h). After
     * a move the first report goes to the new server before its watch, as on
     * start: the server then computes the plan with this agent alive. */
    qag_servers servers;
    bool heard_here;            /* a report reached the server in use */

    /* The plan and the watch. */
    qag_plan plan;
    qhttpc_call *watch;
    bool watch_since;           /* the call in flight asked for a delta */
    uint64_t watch_started_us;
    bool want_full;             /* next fetch without since */
    uint64_t watch_next_us;
    unsigned watch_failures;

    /* Reconcile. */
    bool need_reconcile;
    bool all_ok;                /* the last reconcile confirmed everything */
    uint64_t poll_next_us, resync_next_us, dump_retry_us;
    uint64_t trim_due_us;       /* 0: nothing to give back */
    unsigned dump_failures;
    size_t batch;               /* ops in the next operate() call */
    size_t prev_batch;          /* the last call's size and duration */
    uint64_t prev_took;
    qag_retry retry;
    /* Port id → status name now, the one the server has, the problem logged.
     * Textmaps: updated in place, they allocate nothing in a steady state
     * (small blocks allocated at every reconcile land among its freed
     * garbage and keep those pages resident). */
    qtm *current, *reported, *problems;
    /* Object id → why: desired objects a foreign object holds (the last
     * dump's conflicts), and those whose op was refused with -EPERM (until
     * an op on them succeeds or none is needed). A port that needs one is
     * DOWN with that reason as its problem. */
    qtm *held, *denied;
    qtm *failing;               /* object id → why its last op failed (not -EPERM,
                                 * not a job still running): its port is DOWN */
    bool problems_changed;      /* the heartbeat's port problems are stale */
    int64_t applied;            /* highest revision fully applied; -1 */
    int64_t digest_rev;         /* the plan revision digest is of; -1 */
    uint64_t digest;
    bool applied_urgent;        /* a content change of the plan awaits its report */

    /* Reports. */
    qhttpc_call *report;
    qj *inflight_ports;         /* [{"id","status"}] of the report in flight */
    int64_t inflight_applied;
    bool inflight_urgent;
    bool started;               /* a report with start_flag succeeded */
    bool report_now;
    size_t report_chunk;        /* most statuses in one report; halved on 413 */
    int64_t report_interval;
    int64_t applied_reported;
    uint64_t report_next_us, report_backoff_us;
    unsigned report_failures;
};

static uint64_t qag_min(uint64_t a, uint64_t b) { return a < b ? a : b; }

qag *qag_new(const qag_conf *conf, char *err, size_t errlen)
{
    for (const char *p = conf->host; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("-._", *p))) {
            snprintf(err, errlen, "host name '%s' has characters the channel does not accept "
                                  "(letters, digits, '-', '.', '_'): set [DEFAULT] host",
                     conf->host);
            return NULL;
        }
    }
    qhttpc *http = qhttpc_new();
    qag_auth *auth = qag_auth_new(conf, http, err, errlen);
    if (!auth) {
        qhttpc_free(http);
        return NULL;
    }
    const qvs_class *cls = qvs_class_find(conf->backend, err, errlen);
    qvs_options vo;
    qag_conf_backend_options(conf, &vo);
    qvs *vs;
    if (!cls || cls->open(&vo, &vs, err, errlen) < 0) {
        qag_auth_free(auth);
        qhttpc_free(http);
        return NULL;
    }
    qag_dhcp *dhcp = NULL;
#ifndef _WIN32
    if (conf->dhcp_enabled && !(dhcp = qag_dhcp_new(conf, cls, vs, err, errlen))) {
        cls->close(vs);
        qag_auth_free(auth);
        qhttpc_free(http);
        return NULL;
    }
#endif
    qag *a = xcalloc(1, sizeof *a);
    a->dhcp = dhcp;
    a->conf = conf;
    a->cls = cls;
    a->vs = vs;
    a->http = http;
    a->auth = auth;
    qag_servers_init(&a->servers, &conf->servers);
    qag_plan_init(&a->plan);
    qag_retry_init(&a->retry);
    a->current = qtm_new();
    a->reported = qtm_new();
    a->problems = qtm_new();
    a->held = qtm_new();
    a->denied = qtm_new();
    a->failing = qtm_new();
    a->applied = a->applied_reported = a->digest_rev = -1;
    a->batch = 1;       /* sized from measured calls: qag_batch_learn */
    a->report_now = true;
    a->report_chunk = QAG_REPORT_CHUNK;
    a->report_interval = conf->report_interval;
    return a;
}

void qag_free(qag *a)
{
    if (!a)
        return;
    qhttpc_call_free(a->watch);
    qhttpc_call_free(a->report);
    qag_auth_free(a->auth);
    qhttpc_free(a->http);
    qj_free(a->inflight_ports);
#ifndef _WIN32
    qag_dhcp_free(a->dhcp);
#endif
    a->cls->close(a->vs);
    qag_plan_free(&a->plan);
    qag_retry_free(&a->retry);
    qtm_free(a->current);
    qtm_free(a->reported);
    qtm_free(a->problems);
    qtm_free(a->held);
    qtm_free(a->denied);
    qtm_free(a->failing);
    free(a);
}

/* ---------- reconcile ---------- */

static qag_status qag_status_of(const qtm *m, const char *id)
{
    const char *v = qtm_get(m, id, NULL);
    return !v ? QAG_ST_NONE : !strcmp(v, "ACTIVE") ? QAG_ST_ACTIVE : QAG_ST_DOWN;
}

static void qag_status_put(qtm *m, const char *id, qag_status st)
{
    qtm_put(m, id, qag_status_names[st], strlen(qag_status_names[st]));
}

static const char *qag_op_name(qvs_op_type t)
{
    return t == QVS_CREATE ? "create" : t == QVS_UPDATE ? "update" : "delete";
}

/* Sizes the next batch from how long this one took. A call costs about
 * F + c*n: a fixed cost F (the dummy rewrites its file, Hyper-V makes a WMI
 * round trip) and c per op. F and c are estimated from the last two calls of
 * different sizes; the batch aims at QAG_BATCH_TARGET_US, or, when F alone is
 * near that, at per-op work about equal to F (amortising it). Slow ops (large
 * c) keep batches small, so one call never blocks the loop for long. */
static void qag_batch_learn(qag *a, size_t b, uint64_t took)
{
    double c, f, n, target = QAG_BATCH_TARGET_US;
    if (a->prev_batch && a->prev_batch != b) {
        c = ((double)took - (double)a->prev_took) / ((double)b - (double)a->prev_batch);
        if (c < 1)
            c = 1;
        f = (double)took - c * (double)b;
        if (f < 0)
            f = 0;
    } else {
        c = (double)took / (double)b;
        f = 0;
    }
    n = 2 * f < target ? (target - f) / c : f / c;
    double lo = (double)b / 4, hi = (double)b * 4, max = (double)a->conf->max_batch;
    n = n < lo ? lo : n > hi ? hi : n;
    n = n < 1 ? 1 : n > max ? max : n;
    size_t next = (size_t)n;
    /* No second point yet: probe a larger batch if this one was quick enough. */
    if (next == b && (!a->prev_batch || a->prev_batch == b) && took < 2 * (uint64_t)target &&
        b < (size_t)a->conf->max_batch)
        next = b * 2;
    a->prev_batch = b;
    a->prev_took = took;
    a->batch = next;
}

/* Applies the ops that may run now, in batches, within the time budget.
 * Returns the number attempted; *left is set if some were left for later. */
static size_t qag_operate(qag *a, qag_diff *d, uint64_t start_us, bool *left)
{
    *left = false;
    qvs_op *ready = xcalloc(d->nops ? d->nops : 1, sizeof *ready);
    size_t n = 0, done = 0, failed = 0;
    uint64_t now = qhv_now_us();
    for (size_t i = 0; i < d->nops; i++)
        if (qag_retry_ready(&a->retry, &d->ops[i], now))
            ready[n++] = d->ops[i];
    while (done < n) {
        if (qhv_now_us() - start_us >= QAG_BUDGET_US) {
            *left = true;
            break;
        }
        size_t b = qag_min(n - done, a->batch);
        uint64_t t0 = qhv_now_us();
        a->cls->operate(a->vs, ready + done, b);
        qag_batch_learn(a, b, qhv_now_us() - t0 + 1);
        now = qhv_now_us();
        for (size_t i = done; i < done + b; i++) {
            qvs_op *op = &ready[i];
            if (op->error == -EPERM)
                qtm_put(a->denied, op->id, op->why[0] ? op->why : "refused: someone else's object",
                        strlen(op->why[0] ? op->why : "refused: someone else's object"));
            else
                qtm_del(a->denied, op->id);
            /* A failed op leaves its port not configured (the hyperv
             * backend disables it): DOWN with the reason until it passes. */
            if (op->error && op->error != -EPERM && op->error != -EINPROGRESS)
                qtm_put(a->failing, op->id, op->why[0] ? op->why : "no reason given",
                        strlen(op->why[0] ? op->why : "no reason given"));
            else
                qtm_del(a->failing, op->id);
            if (!op->error) {
                qag_retry_clear(&a->retry, op->id);
                QLOG_D("agent", "%s %s", qag_op_name(op->type), op->id);
                continue;
            }
            failed++;
            unsigned att = qag_retry_failed(&a->retry, op, now);
            QLOG_W("agent", "%s %s failed: %s (error %d); attempt %u, retry in %llu ms",
                   qag_op_name(op->type), op->id, op->why[0] ? op->why : "no reason given",
                   op->error, att,
                   (unsigned long long)(qag_backoff_us(att, QAG_RETRY_BASE_US,
                                                       QAG_RETRY_CAP_US) / 1000));
        }
        done += b;
    }
    if (done)
        QLOG_I("agent", "applied %zu switch operations (%zu failed, %zu waiting to retry, "
                        "%zu left for the next turn)",
               done, failed, d->nops - n, n - done);
    free(ready);
    return done;
}

static void qag_set_status(qag *a, const char *id, qag_status st)
{
    qag_status_put(a->current, id, st);
    if (qag_status_of(a->reported, id) != st)
        a->report_now = true;
}

/* Logs a port's problem once per change; a change makes the next
 * heartbeat carry the problems at once. */
static void qag_note_problem(qag *a, const char *id, const char *problem)
{
    const char *prev = qtm_get(a->problems, id, NULL);
    if (problem && (!prev || strcmp(prev, problem))) {
        QLOG_W("agent", "port %s cannot be wired: %s", id, problem);
        qtm_put(a->problems, id, problem, strlen(problem));
        a->problems_changed = a->report_now = true;
    } else if (!problem && prev) {
        QLOG_I("agent", "port %s: its problem is gone", id);
        qtm_del(a->problems, id);
        a->problems_changed = a->report_now = true;
    }
}

/* The first object p needs that is held by someone else, was refused with
 * -EPERM, or whose op failed, described in buf; NULL if none. */
static const char *qag_port_held(const qag *a, const qag_dport *p, char *buf, size_t n)
{
    for (size_t k = 0; k < p->ndeps; k++) {
        const char *why = qtm_get(a->held, p->deps[k], NULL);
        if (why) {
            snprintf(buf, n, "%s is held by a foreign object: %s", p->deps[k], why);
            return buf;
        }
        if ((why = qtm_get(a->denied, p->deps[k], NULL))) {
            snprintf(buf, n, "%s was refused (someone else's object): %s", p->deps[k], why);
            return buf;
        }
        if ((why = qtm_get(a->failing, p->deps[k], NULL))) {
            snprintf(buf, n, "%s could not be applied: %s", p->deps[k], why);
            return buf;
        }
    }
    return NULL;
}

/* held := the conflicts of this dump (logged once when they appear). */
static void qag_note_held(qag *a, const qag_diff *d, const qvs_observed *obs)
{
    qvs_map *now = qvs_map_new();
    for (size_t i = 0; i < d->nconflicts; i++) {
        const char *why = qj_get_str(qvs_map_get(obs->foreign, d->conflicts[i]), "why");
        qvs_map_put(now, d->conflicts[i], qj_str(why && *why ? why : "an object qhv did not "
                                                                    "make has its id"));
    }
    const char *id;
    for (size_t i = 0; i < qtm_end(a->held); i++)
        if (qtm_at(a->held, i, &id, NULL, NULL) && !qvs_map_get(now, id)) {
            QLOG_I("agent", "%s is no longer held by a foreign object", id);
            qtm_del(a->held, id);
        }
    qj *v;
    for (size_t i = 0; i < qvs_map_end(now); i++) {
        if (!qvs_map_at(now, i, &id, &v))
            continue;
        const char *prev = qtm_get(a->held, id, NULL), *why = qj_as_str(v);
        if (!prev || strcmp(prev, why)) {
            QLOG_W("agent", "%s is held by a foreign object (%s): not touching it", id, why);
            qtm_put(a->held, id, why, strlen(why));
        }
    }
    qvs_map_free(now);
    /* A refusal stands while an op on the object is still needed. */
    qvs_map *need = qvs_map_new();
    for (size_t i = 0; i < d->nops; i++)
        qvs_map_put(need, d->ops[i].id, qj_null());
    qtm *const until_done[] = {a->denied, a->failing};
    for (size_t m = 0; m < QHV_ARRAY_SIZE(until_done); m++)
        for (size_t i = 0; i < qtm_end(until_done[m]); i++)
            if (qtm_at(until_done[m], i, &id, NULL, NULL) && !qvs_map_get(need, id))
                qtm_del(until_done[m], id);
    qvs_map_free(need);
}

static bool qag_same_keys(const qvs_map *x, const qvs_map *y)
{
    if (qvs_map_size(x) != qvs_map_size(y))
        return false;
    const char *k;
    for (size_t i = 0; i < qvs_map_end(x); i++)
        if (qvs_map_at(x, i, &k, NULL) && !qvs_map_get(y, k))
            return false;
    return true;
}

static void qag_reconcile(qag *a)
{
    uint64_t start = qhv_now_us();
    char err[512];
    qvs_observed obs;
    a->need_reconcile = false;
    if (a->cls->dump(a->vs, &obs, err, sizeof err) < 0) {
        qvs_observed_free(&obs);
        a->dump_failures++;
        uint64_t delay = qag_backoff_us(a->dump_failures, QAG_RETRY_BASE_US, QAG_RETRY_CAP_US);
        QLOG_W("agent", "backend %s: dump failed: %s; retry in %llu ms", a->cls->name, err,
               (unsigned long long)(delay / 1000));
        a->dump_retry_us = start + delay;
        a->need_reconcile = true;
        a->all_ok = false;
        return;
    }
    a->dump_failures = 0;
    a->dump_retry_us = 0;
    qag_desired des;
    qag_desired_compute(&a->plan, a->conf, obs.nics, &des);
    qag_diff diff;
    qag_diff_compute(des.objects, &obs, &diff);
    qag_retry_prune(&a->retry, &diff);
    size_t nops = diff.nops, nconflicts = diff.nconflicts;
    qag_note_held(a, &diff, &obs);
    bool left = false;
    size_t attempted = qag_operate(a, &diff, start, &left);
    if (left)
        a->need_reconcile = true;
    qvs_observed conf_obs = {0};
    const qvs_observed *seen = &obs;
    if (attempted) {
        /* Confirm: what the switch holds now, not what operate() said. The
         * first look is not needed any more (but for its NICs). */
        qag_diff_free(&diff);
        qvs_map_free(obs.objects);
        qvs_map_free(obs.foreign);
        obs.objects = qvs_map_new();
        obs.foreign = qvs_map_new();
        if (a->cls->dump(a->vs, &conf_obs, err, sizeof err) == 0) {
            seen = &conf_obs;
            if (!qag_same_keys(obs.nics, conf_obs.nics))
                a->need_reconcile = true;   /* NICs came or went meanwhile */
        } else {
            QLOG_W("agent", "backend %s: confirming dump failed: %s", a->cls->name, err);
            a->need_reconcile = true;
        }
    }
    /* Confirmation and statuses. */
    bool all_ok = seen == &conf_obs || !attempted;
    size_t unconfirmed = 0;
    const char *id;
    qj *val;
    for (size_t i = 0; i < qvs_map_end(des.objects); i++)
        if (qvs_map_at(des.objects, i, &id, &val) &&
            !qj_equal(val, qvs_map_get(seen->objects, id)))
            unconfirmed++;
    if (unconfirmed || nconflicts)
        all_ok = false;
    size_t active = 0, down = 0, pending = 0;
    for (size_t i = 0; i < des.nports; i++) {
        const qag_dport *p = &des.ports[i];
        const char *problem = p->problem;
        char held[QAG_PROBLEM_LEN + 1];
        qag_status st;
        if (!p->nic) {
            st = QAG_ST_DOWN;
        } else {
            bool ok = !p->problem;
            for (size_t k = 0; ok && k < p->ndeps; k++)
                ok = qj_equal(qvs_map_get(des.objects, p->deps[k]),
                              qvs_map_get(seen->objects, p->deps[k]));
            if (p->problem)
                all_ok = false;
            if (ok) {
                st = p->admin_up ? QAG_ST_ACTIVE : QAG_ST_DOWN;
            } else if (!problem && (problem = qag_port_held(a, p, held, sizeof held))) {
                /* Someone else's object, or a failure: not pending. */
                st = QAG_ST_DOWN;
            } else {
                /* Pending: keep what the server has; DOWN if it has nothing. */
                pending++;
                st = qag_status_of(a->current, p->id);
                if (st == QAG_ST_NONE)
                    st = QAG_ST_DOWN;
            }
        }
        qag_note_problem(a, p->id, problem);
        if (st == QAG_ST_ACTIVE)
            active++;
        else
            down++;
        qag_set_status(a, p->id, st);
    }
    /* Forget ports that left the plan (every port of the plan has a status). */
    qtm *const mine[] = {a->current, a->reported, a->problems};
    const qtm *planned = a->plan.sec[QAG_SEC_PORTS];
    for (size_t m = 0; m < QHV_ARRAY_SIZE(mine); m++)
        for (size_t i = 0; i < qtm_end(mine[m]); i++)
            if (qtm_at(mine[m], i, &id, NULL, NULL) && !qtm_get(planned, id, NULL)) {
                qtm_del(mine[m], id);
                if (mine[m] == a->problems)
                    a->problems_changed = a->report_now = true;
            }
    a->all_ok = all_ok && !left && qag_retry_count(&a->retry) == 0;
    if (a->all_ok && a->plan.revision > a->applied) {
        a->applied = a->plan.revision;
        if (a->applied_urgent)
            a->report_now = true;
    }
    QLOG_D("agent", "reconciled plan %lld: %zu objects desired, %zu ops (%zu attempted), "
                    "%zu unconfirmed, %zu conflicts; ports %zu active, %zu down (%zu pending); "
                    "applied %lld",
           (long long)a->plan.revision, qvs_map_size(des.objects), nops, attempted,
           unconfirmed, nconflicts, active, down, pending, (long long)a->applied);
    qag_diff_free(&diff);
    qag_desired_free(&des);
    qvs_observed_free(&conf_obs);
    qvs_observed_free(&obs);
    a->trim_due_us = qhv_now_us() + QAG_TRIM_IDLE_US;
}

/* A large reconcile leaves much freed memory: once the agent has been idle
 * a while, give it back, so that its footprint is what it holds (the plan),
 * not its peak; the same a while after channel answers (qag_run). (Not
 * after every reconcile: walking the heap costs as much as a small
 * reconcile, and changes come in bursts.) */
static void qag_trim(qag *a)
{
    a->trim_due_us = 0;
    if (a->cls->release)
        a->cls->release(a->vs);
    size_t in_use, free_bytes;
    qag_heap_trim(&in_use, &free_bytes);
    QLOG_D("agent", "heap in use %zu KiB, free %zu KiB; the plan holds %zu KiB (%zu ports)",
           in_use / 1024, free_bytes / 1024, qag_plan_bytes(&a->plan) / 1024,
           qtm_size(a->plan.sec[QAG_SEC_PORTS]));
}

/* ---------- the channel ---------- */

/* Call only while qag_auth_header gives a credential (qag_run checks). */
static qhttpc_call *qag_get(qag *a, const char *url, long timeout_ms)
{
    const char *headers[] = {qag_auth_header(a->auth, qhv_now_us()), "Accept: application/json",
                             NULL};
    qhttpc_req req = {.method = "GET", .url = url, .headers = headers, .timeout_ms = timeout_ms,
                      .max_body = QAG_MAX_ANSWER, .tls = qag_auth_server_tls(a->auth)};
    a->watch_gen = qag_auth_generation(a->auth);
    return qhttpc_start(a->http, &req);
}

static void qag_watch_start(qag *a)
{
    char *url;
    a->watch_since = a->plan.revision >= 0 && !a->want_full;
    int64_t wait = a->conf->poll_wait;
    if (a->watch_since)
        url = xasprintf("%s/channel/v1/hosts/%s/plan?since=%lld&wait=%lld",
                        qag_servers_url(&a->servers), a->conf->host,
                        (long long)a->plan.revision, (long long)wait);
    else
        url = xasprintf("%s/channel/v1/hosts/%s/plan", qag_servers_url(&a->servers),
                        a->conf->host);
    a->watch = qag_get(a, url, (long)(wait + 15) * 1000L);
    a->watch_started_us = qhv_now_us();
    free(url);
}

/* A short description of a failed exchange for the log. */
static void qag_describe(const qhttpc_resp *r, char *out, size_t n)
{
    if (r->status == 0 && r->tls_failed)
        snprintf(out, n, "TLS: %s (check [ssl] ca_file, cert_file, key_file)", r->error);
    else if (r->status == 0)
        snprintf(out, n, "%s", r->error);
    else
        snprintf(out, n, "HTTP %d: %.200s", r->status, r->body.data);
}

/* The server in use failed a call (what: which, why: how) and there are
 * others: move to the next. The other call in flight went to the failed
 * server too: it is dropped and made again on the next one (a report's
 * statuses are not marked reported until a server takes them). The plan and
 * what is applied stay: the next watch asks since the plan's revision. */
static void qag_failover(qag *a, const char *what, const char *why)
{
    const char *from = qag_servers_url(&a->servers);
    bool round_done;
    uint64_t delay = qag_servers_failed(&a->servers, &round_done);
    const char *to = qag_servers_url(&a->servers);
    if (round_done)
        QLOG_W("agent", "%s %s: %s; all %zu servers failed in turn: moving to %s in %llu ms",
               what, from, why, a->conf->servers.n, to, (unsigned long long)(delay / 1000));
    else
        QLOG_W("agent", "%s %s: %s; moving to %s", what, from, why, to);
    qhttpc_call_free(a->watch);
    a->watch = NULL;
    qhttpc_call_free(a->report);
    a->report = NULL;
    uint64_t now = qhv_now_us();
    a->heard_here = false;
    a->report_now = true;
    a->report_backoff_us = now + delay;
    a->watch_next_us = now + delay;
}

/* A server answered (not a failure that moves on): once after a move, say
 * that the agent now uses it and where it resumes. */
static void qag_server_answered(qag *a)
{
    if (qag_servers_answered(&a->servers))
        QLOG_I("agent", "now using server %s: resuming from plan revision %lld (applied %lld)",
               qag_servers_url(&a->servers), (long long)a->plan.revision,
               (long long)a->applied);
}

static bool qag_can_move(const qag *a, int status)
{
    return a->conf->servers.n > 1 && qag_servers_unavailable(status);
}

static void qag_watch_done(qag *a)
{
    qhttpc_resp r;
    int status = qhttpc_result(a->watch, &r);
    qhttpc_call_free(a->watch);
    a->watch = NULL;
    uint64_t now = qhv_now_us();
    char why[512] = "";
    qj *answer = NULL;
    if (status == 200) {
        qj_error je;
        answer = qj_parse(r.body.data, r.body.len, NULL, &je);
        if (!answer)
            snprintf(why, sizeof why, "the plan is not JSON: %s", je.msg);
    } else {
        qag_describe(&r, why, sizeof why);
        if (status == 401)
            qag_auth_refused(a->auth, a->watch_gen, now);
    }
    qhttpc_resp_free(&r);
    if (qag_can_move(a, status)) {
        qj_free(answer);
        qag_failover(a, "plan from", why);
        return;
    }
    qag_server_answered(a);
    int changed = -1;
    if (answer) {
        bool full = qj_get(answer, "plan") != NULL;
        int64_t before = a->plan.revision;
        changed = qag_plan_apply(&a->plan, answer, why, sizeof why);
        QLOG_D("agent", "plan answer: %s, revision %lld (had %lld): %s", full ? "full" : "delta",
               (long long)a->plan.revision, (long long)before,
               changed < 0 ? why : changed ? "changed" : "unchanged");
        if (changed >= 0) {
            a->want_full = false;
            a->watch_failures = 0;
            /* A full plan answering a watch: the server could not diff (it
             * restarted) or does not know deltas; don't spin on the latter. */
            a->watch_next_us = full && a->watch_since ? now + 1000000u : now;
            /* An empty delta long before the wait was up: a server shutting
             * down answers every watch at once; don't spin on it either. */
            const qj *delta = qj_get(answer, "delta");
            if (delta && !qj_len(delta) && a->conf->poll_wait > 0 &&
                now - a->watch_started_us < 100000u)
                a->watch_next_us = now + 1000000u;
            if (before < 0 || full)
                QLOG_I("agent", "plan of revision %lld: %zu ports, %zu networks, %zu lookup "
                                "records",
                       (long long)a->plan.revision, qtm_size(a->plan.sec[QAG_SEC_PORTS]),
                       qtm_size(a->plan.sec[QAG_SEC_NETWORKS]),
                       qtm_size(a->plan.sec[QAG_SEC_LOOKUP]));
            else if (changed)
                QLOG_I("agent", "plan changed: revision %lld (since %lld)",
                       (long long)a->plan.revision, (long long)before);
            if (changed || before < 0) {
                a->need_reconcile = true;
                a->dhcp_sync = true;
                a->applied_urgent = true;
                a->all_ok = false;
            } else if (a->all_ok && !a->need_reconcile && a->plan.revision > a->applied) {
                /* Unchanged up to a newer revision and everything confirmed. */
                a->applied = a->plan.revision;
            }
        } else {
            a->want_full = true;    /* refetch in full; keep applying what we have */
        }
        qj_free(answer);
    }
    if (changed < 0) {
        a->watch_failures++;
        uint64_t delay = qag_backoff_us(a->watch_failures, QAG_CHAN_BASE_US, QAG_CHAN_CAP_US);
        QLOG_W("agent", "plan from %s: %s; retry in %llu ms", qag_servers_url(&a->servers), why,
               (unsigned long long)(delay / 1000));
        a->watch_next_us = now + delay;
    }
}

static int qag_cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* configurations.port_problems (how many ports have one) and
 * port_problem_details (the first QAG_PROBLEM_DETAILS by port id:
 * {"port_id", "status", "problem"}); docs/host-channel.md. */
static void qag_report_problems(qag *a, qj *conf)
{
    size_t n = qtm_size(a->problems), k = 0;
    const char **ids = xcalloc(n ? n : 1, sizeof *ids);
    const char *id;
    for (size_t i = 0; i < qtm_end(a->problems) && k < n; i++)
        if (qtm_at(a->problems, i, &id, NULL, NULL))
            ids[k++] = id;
    qsort(ids, k, sizeof *ids, qag_cmp_str);
    qj *list = qj_array();
    for (size_t i = 0; i < k && i < QAG_PROBLEM_DETAILS; i++) {
        const char *why = qtm_get(a->problems, ids[i], NULL);
        size_t len = strlen(why);
        if (len > QAG_PROBLEM_LEN) {
            len = QAG_PROBLEM_LEN;
            while (len && ((unsigned char)why[len] & 0xC0) == 0x80)
                len--;      /* not inside a UTF-8 sequence */
        }
        qj *p = qj_object();
        qj_set(p, "port_id", qj_str(ids[i]));
        qag_status st = qag_status_of(a->current, ids[i]);
        qj_set(p, "status", qj_str(qag_status_names[st == QAG_ST_NONE ? QAG_ST_DOWN : st]));
        qj_set(p, "problem", qj_strn(why, len));
        qj_append(list, p);
    }
    free(ids);
    qj_set(conf, "port_problems", qj_int((int64_t)k));
    qj_set(conf, "port_problem_details", list);
    a->problems_changed = false;
}

static void qag_report_start(qag *a)
{
    const qag_conf *c = a->conf;
    qj *conf = qj_object();
    qj_set(conf, "backend", qj_str(c->backend));
    qj_set(conf, "vif_type", qj_str(c->vif_type));
    /* What the host can serve: the configured types the backend can carry. */
    qj *caps = a->cls->capabilities ? a->cls->capabilities(a->vs) : NULL;
    const qj *can = qj_get(caps, "network_types");
    qj *types = qj_array();
    for (size_t i = 0; i < c->n_types; i++) {
        bool ok = !can;
        for (size_t k = 0; !ok && k < qj_len(can); k++)
            ok = qj_as_str(qj_at(can, k)) && !strcmp(qj_as_str(qj_at(can, k)), c->types[i]);
        if (ok)
            qj_append(types, qj_str(c->types[i]));
    }
    qj_set(conf, "network_types", types);
    qj *maps = qj_array();
    for (size_t i = 0; i < c->n_mappings; i++)
        qj_append(maps, qj_str(c->mappings[i].text));
    qj_set(conf, "vswitch_mappings", maps);
    if (*c->provider_address)
        qj_set(conf, "provider_address", qj_str(c->provider_address));
    /* What qhvctl explain needs to print what --dry-run prints (the
     * configuration qag_explain reads; the server validates each). */
    qj_set(conf, "local_network_vswitch", qj_str(c->local_network_vswitch));
    qj_set(conf, "tunnel_vswitch", qj_str(c->tunnel_vswitch));
    if (!strcmp(c->vif_type, "hyperv")) {
        if (*c->hyperv_provider_interface)
            qj_set(conf, "provider_interface", qj_str(c->hyperv_provider_interface));
        qj_set(conf, "provider_interface_index", qj_int(c->hyperv_provider_interface_index));
        qj_set(conf, "provider_prefix_length", qj_int(c->hyperv_provider_prefix_length));
        qj_set(conf, "provider_vlan_id", qj_int(c->hyperv_provider_vlan_id));
        if (*c->hyperv_provider_next_hop)
            qj_set(conf, "provider_next_hop", qj_str(c->hyperv_provider_next_hop));
        if (*c->hyperv_windows_version)
            qj_set(conf, "windows_version", qj_str(c->hyperv_windows_version));
    }
    qag_report_problems(a, conf);
    if (a->dhcp) {
        /* The DHCP role (docs/network-node.md). */
        qj_set(conf, "dhcp", qj_bool(true));
#ifndef _WIN32
        qj_set(conf, "dhcp_networks", qj_int((int64_t)qag_dhcp_served(a->dhcp)));
#endif
    }
    const qj *pf = qj_get(caps, "port_filter");
    qj_set(conf, "port_filter", qj_bool(qj_is(pf, QJ_BOOL) ? pf->u.b : a->cls->port_filter));
    if (caps)
        qj_set(conf, "backend_capabilities", caps);
    if (a->applied >= 0)
        qj_set(conf, "applied_revision", qj_int(a->applied));
    /* What it applied, for a server that knows the plan by content only (one
     * this agent is not connected to: docs/host-channel.md). */
    if (a->applied >= 0 && a->applied == a->plan.revision) {
        if (a->digest_rev != a->plan.revision) {
            a->digest = qag_plan_digest(&a->plan);
            a->digest_rev = a->plan.revision;
        }
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)a->digest);
        qj_set(conf, "applied_digest", qj_str(hex));
    }
    qj *agent = qj_object();
    qj_set(agent, "agent_type", qj_str(!strcmp(c->vif_type, "ovs") ? "Open vSwitch agent"
                                                                   : "HyperV agent"));
    qj_set(agent, "binary", qj_str("qhv-agent"));
    qj_set(agent, "host", qj_str(c->host));
    if (*c->availability_zone)
        qj_set(agent, "availability_zone", qj_str(c->availability_zone));
    if (!a->started)
        qj_set(agent, "start_flag", qj_bool(true));
    qj_set(agent, "configurations", conf);
    qj *ports = qj_array();
    const char *id, *st;
    /* At most report_chunk statuses: a body the server refuses (413) would
     * also lose the heartbeat. The rest follow at once. */
    for (size_t i = 0; i < qtm_end(a->current) && qj_len(ports) < a->report_chunk; i++) {
        if (!qtm_at(a->current, i, &id, &st, NULL) ||
            qag_status_of(a->reported, id) == qag_status_of(a->current, id))
            continue;
        qj *p = qj_object();
        qj_set(p, "id", qj_str(id));
        qj_set(p, "status", qj_str(st));
        qj_append(ports, p);
    }
    qj *body = qj_object();
    qj_set(body, "agent", agent);
    qj_set(body, "ports", qj_clone(ports));
    char *text = qj_to_string(body);
    qj_free(body);
    qj_free(a->inflight_ports);
    a->inflight_ports = ports;
    a->inflight_applied = a->applied;
    a->inflight_urgent = a->applied_urgent;
    char *url = xasprintf("%s/channel/v1/hosts/%s/report", qag_servers_url(&a->servers),
                          c->host);
    const char *headers[] = {qag_auth_header(a->auth, qhv_now_us()),
                             "Content-Type: application/json", "Accept: application/json", NULL};
    qhttpc_req req = {.method = "POST", .url = url, .headers = headers, .body = text,
                      .body_len = strlen(text), .timeout_ms = QAG_REPORT_TIMEOUT_MS,
                      .tls = qag_auth_server_tls(a->auth)};
    a->report_gen = qag_auth_generation(a->auth);
    a->report = qhttpc_start(a->http, &req);
    free(url);
    free(text);
    a->report_now = false;
}

static void qag_report_done(qag *a)
{
    qhttpc_resp r;
    int status = qhttpc_result(a->report, &r);
    qhttpc_call_free(a->report);
    a->report = NULL;
    uint64_t now = qhv_now_us();
    if (qag_can_move(a, status)) {
        char why[512];
        qag_describe(&r, why, sizeof why);
        qhttpc_resp_free(&r);
        qag_failover(a, "report to", why);
        return;
    }
    qag_server_answered(a);
    if (status == 413 && a->report_chunk > 1) {
        a->report_chunk /= 2;
        QLOG_W("agent", "report too large for the server: %zu port statuses per report from now",
               a->report_chunk);
        qhttpc_resp_free(&r);
        a->report_now = true;
        return;
    }
    if (status != 200) {
        char why[512];
        qag_describe(&r, why, sizeof why);
        if (status == 401)
            qag_auth_refused(a->auth, a->report_gen, now);
        qhttpc_resp_free(&r);
        a->report_failures++;
        uint64_t delay = qag_backoff_us(a->report_failures, QAG_CHAN_BASE_US, QAG_CHAN_CAP_US);
        QLOG_W("agent", "report to %s: %s; retry in %llu ms", qag_servers_url(&a->servers), why,
               (unsigned long long)(delay / 1000));
        a->report_backoff_us = now + delay;
        a->report_now = true;   /* what it carried is still to be said */
        return;
    }
    qj *ans = qj_parse(r.body.data, r.body.len, NULL, NULL);
    qhttpc_resp_free(&r);
    const qj *iv = qj_get(ans, "report_interval");
    if (qj_is(iv, QJ_INT) && iv->u.i > 0 && iv->u.i <= 86400 && iv->u.i != a->report_interval) {
        QLOG_I("agent", "report_interval %lld s (from the server)", (long long)iv->u.i);
        a->report_interval = iv->u.i;
    }
    qj_free(ans);
    size_t n = qj_len(a->inflight_ports);
    for (size_t i = 0; i < n; i++) {
        const qj *p = qj_at(a->inflight_ports, i);
        const char *st = qj_get_str(p, "status");
        qag_status_put(a->reported, qj_get_str(p, "id"),
                       !strcmp(st, "ACTIVE") ? QAG_ST_ACTIVE : QAG_ST_DOWN);
    }
    if (!a->started)
        QLOG_I("agent", "registered with %s as host %s (backend %s)", qag_servers_url(&a->servers),
               a->conf->host, a->cls->name);
    if (n || a->inflight_applied != a->applied_reported)
        QLOG_I("agent", "reported %zu port statuses, applied revision %lld", n,
               (long long)a->inflight_applied);
    a->started = true;
    a->heard_here = true;
    a->applied_reported = a->inflight_applied;
    if (a->inflight_urgent && a->inflight_applied == a->applied)
        a->applied_urgent = false;
    a->report_failures = 0;
    a->report_backoff_us = 0;
    a->report_next_us = now + (uint64_t)a->report_interval * 1000000u;
    /* Anything that changed while this one was in flight? */
    const char *id;
    for (size_t i = 0; i < qtm_end(a->current); i++)
        if (qtm_at(a->current, i, &id, NULL, NULL) &&
            qag_status_of(a->reported, id) != qag_status_of(a->current, id))
            a->report_now = true;
    if (a->applied_urgent && a->applied != a->applied_reported)
        a->report_now = true;
}

/* ---------- the loop ---------- */

static uint64_t qag_report_due(const qag *a)
{
    uint64_t due = a->report_next_us;
    if (a->report_now)
        due = a->report_backoff_us;     /* 0 when not backing off: now */
    return due;
}

/* A careless underlay: the provider address on a bridge that is also a
 * physical network's (an OVS bridge's internal port bears its name). A VM on
 * that network can then put packets on the underlay, addressed to the
 * hosts' provider addresses; the flows take NVGRE only from the hosts of a
 * VSID, but a VM whose address is a provider address would still pass for
 * that host (docs/ovs.md, "Laying out the underlay"). */
static void qag_warn_careless_underlay(const qag_conf *c)
{
#ifndef _WIN32
    struct in_addr pa;
    struct ifaddrs *ifs;
    if (!*c->provider_address || inet_pton(AF_INET, c->provider_address, &pa) != 1 ||
        getifaddrs(&ifs) != 0)
        return;
    for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
            ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr.s_addr != pa.s_addr)
            continue;
        for (size_t k = 0; k < c->n_mappings; k++)
            if (!strcmp(c->mappings[k].vswitch, i->ifa_name))
                QLOG_W("agent", "provider address %s is on %s, the bridge of physical network "
                       "%s: its VMs can reach the underlay; give the provider address a "
                       "bridge of its own (docs/ovs.md, \"Laying out the underlay\")",
                       c->provider_address, i->ifa_name, c->mappings[k].pattern);
    }
    freeifaddrs(ifs);
#else
    (void)c;    /* Hyper-V: the provider address is on the host's NIC, not a vswitch */
#endif
}

void qag_run(qag *a, volatile sig_atomic_t *stop)
{
    qag_warn_careless_underlay(a->conf);
    QLOG_I("agent", "qhv-agent for host %s: server %s, backend %s; allocator: %s", a->conf->host,
           a->conf->server_url, a->cls->name, qag_heap_describe());
    if (a->conf->servers.n > 1)
        QLOG_I("agent", "%zu servers: starting with %s, moving to the next when one fails",
               a->conf->servers.n, qag_servers_url(&a->servers));
    uint64_t now = qhv_now_us();
    a->resync_next_us = now;
    while (!*stop) {
        now = qhv_now_us();
        uint64_t auth_next = qag_auth_tick(a->auth, now);
        bool auth = qag_auth_header(a->auth, now) != NULL;
        if (auth && !a->report && now >= qag_report_due(a))
            qag_report_start(a);
        if (auth && !a->watch && a->heard_here && now >= a->watch_next_us)
            qag_watch_start(a);
        if (a->plan.revision >= 0 && now >= a->dump_retry_us) {
            bool go = a->need_reconcile || now >= a->resync_next_us ||
                      qag_retry_next(&a->retry) <= now;
            if (!go && now >= a->poll_next_us) {
                a->poll_next_us = now + QAG_TICK_US;
                go = !a->cls->changed || a->cls->changed(a->vs);
            }
            if (go) {
                if (now >= a->resync_next_us) {
                    int64_t every = a->report_interval > QAG_RESYNC_MIN_S ? a->report_interval
                                                                           : QAG_RESYNC_MIN_S;
                    a->resync_next_us = now + (uint64_t)every * 1000000u;
                }
                qag_reconcile(a);
                now = qhv_now_us();
            }
        }
#ifndef _WIN32
        if (a->dhcp && a->plan.revision >= 0 &&
            (a->dhcp_sync || qag_dhcp_due(a->dhcp, now) <= now)) {
            a->dhcp_sync = false;
            qag_dhcp_sync(a->dhcp, &a->plan);
            now = qhv_now_us();
        }
#endif
        if (a->trim_due_us && now >= a->trim_due_us)
            qag_trim(a);
        /* Sleep until the next thing to do (HTTP answers wake us earlier). */
        uint64_t next = qag_min(now + QAG_TICK_US, auth_next);
        if (a->trim_due_us)
            next = qag_min(next, a->trim_due_us);
        if (a->plan.revision >= 0) {
            next = qag_min(next, a->poll_next_us);
            next = qag_min(next, a->resync_next_us);
            next = qag_min(next, qag_retry_next(&a->retry));
            if (a->need_reconcile)
                next = qag_min(next, a->dump_retry_us > now ? a->dump_retry_us : now);
        }
        /* Without a credential (a Keystone login in flight or backing off)
         * the channel waits: its due times must not spin the loop. */
        if (auth && !a->report)
            next = qag_min(next, qag_report_due(a));
        if (auth && !a->watch && a->heard_here)
            next = qag_min(next, a->watch_next_us);
        int ms = next > now ? (int)((next - now + 999) / 1000) : 0;
        qhttpc_wait(a->http, ms);
        bool answered = false;
        if (a->watch && qhttpc_done(a->watch)) {
            qag_watch_done(a);
            answered = true;
        }
        if (a->report && qhttpc_done(a->report)) {
            qag_report_done(a);
            answered = true;
        }
        /* A heartbeat or an empty long-poll answer touches pages a trim
         * gave back; left alone, an idle agent's footprint creeps up to
         * what its channel touched since its last reconcile. */
        if (answered && !a->trim_due_us)
            a->trim_due_us = qhv_now_us() + QAG_TRIM_IDLE_US;
    }
    QLOG_I("agent", "stopping");
}
