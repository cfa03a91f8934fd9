#include "server/novasend.h"
#include "lib/httpc.h"
#include "lib/kslogin.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/util.h"
#include "store/outbox.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events per POST: ~150 bytes each, well under Nova's default 112 KiB body. */
#define QNOVA_BATCH 200

struct qnovasend {
    qmodel *m;
    const qconf *c;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping, woken;
    /* Guarded by lock (read by qnovasend_status on API threads). */
    char endpoint[1024];          /* Nova's API URL, "" until known */
    char last_error[512];
    int64_t last_answer_at;       /* wall seconds */
    _Atomic int64_t sent, rejected, failed_attempts;
    /* The thread's own. */
    qhttpc *http;
    qhttpc_tls tls;
    qkl_token token;
    bool have_token;
    uint64_t token_renew_us;      /* monotonic time to log in again */
};

typedef enum { QNS_IDLE, QNS_ANSWERED, QNS_FAILED, QNS_STOPPED } qns_result;

static void qnovasend_wake(void *arg)
{
    qnovasend *s = arg;
    pthread_mutex_lock(&s->lock);
    s->woken = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void qnovasend_set(qnovasend *s, char *field, size_t n, const char *text)
{
    pthread_mutex_lock(&s->lock);
    snprintf(field, n, "%s", text);
    pthread_mutex_unlock(&s->lock);
}

static bool qnovasend_stopping(qnovasend *s)
{
    pthread_mutex_lock(&s->lock);
    bool stop = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

/* One exchange, abandoned as soon as the server stops. 1 done (*ret
 * filled), 0 stopped. */
static int qnovasend_call(qnovasend *s, const qhttpc_req *req, qhttpc_resp *ret)
{
    qhttpc_call *call = qhttpc_start(s->http, req);
    while (!qhttpc_done(call)) {
        if (qnovasend_stopping(s)) {
            qhttpc_call_free(call);
            return 0;
        }
        qhttpc_wait(s->http, 200);
    }
    qhttpc_result(call, ret);
    qhttpc_call_free(call);
    return 1;
}

static bool qnovasend_password(const qconf *c)
{
    return !strcmp(c->nova_auth_type, "password") || !strcmp(c->nova_auth_type, "v3password");
}

/* A token (and, without endpoint_override, Nova's URL from the catalogue).
 * 1 ready, 0 stopped, -1 with why. */
static int qnovasend_login(qnovasend *s, char *why, size_t whylen)
{
    const qconf *c = s->c;
    if (!qnovasend_password(c)) {
        qnovasend_set(s, s->endpoint, sizeof s->endpoint, c->nova_endpoint_override);
        return 1;
    }
    if (s->have_token && qhv_now_us() < s->token_renew_us)
        return 1;
    s->have_token = false;
    qkl_creds cr = {c->nova_auth_url, c->nova_username, c->nova_password, c->nova_project_name,
                    c->nova_user_domain_name, c->nova_project_domain_name};
    qkl_login *l = qkl_login_new(&cr);
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", NULL};
    qhttpc_req req = {.method = "POST", .url = l->url, .headers = headers, .body = l->body,
                      .body_len = strlen(l->body), .timeout_ms = c->nova_timeout * 1000,
                      .max_body = 16u << 20, .tls = &s->tls,
                      .capture_header = "X-Subject-Token"};
    qhttpc_resp r;
    int done = qnovasend_call(s, &req, &r);
    qkl_login_free(l);
    if (!done)
        return 0;
    int rc = -1;
    if (r.status == 0) {
        snprintf(why, whylen, "Keystone unreachable at %.300s: %.200s", c->nova_auth_url, r.error);
    } else if (qkl_parse_answer(r.status, r.header, r.body.data, r.body.len, &s->token, why,
                                whylen) == 0) {
        char *url = *c->nova_endpoint_override
                        ? xstrdup(c->nova_endpoint_override)
                        : qkl_catalog_url(r.body.data, r.body.len, "compute",
                                          c->nova_endpoint_type, c->nova_region_name, why,
                                          whylen);
        if (url) {
            qnovasend_set(s, s->endpoint, sizeof s->endpoint, url);
            free(url);
            s->have_token = true;
            s->token_renew_us = qhv_now_us() + (uint64_t)s->token.renew_after * 1000000u;
            rc = 1;
        }
    }
    qhttpc_resp_free(&r);
    return rc;
}

static char *qnovasend_body(const qoutbox_event *evs, size_t n)
{
    qj *list = qj_array();
    for (size_t i = 0; i < n; i++) {
        qj *o = qj_object();
        qj_set(o, "name", qj_str(evs[i].name));
        qj_set(o, "server_uuid", qj_str(evs[i].server_uuid));
        qj_set(o, "tag", qj_str(evs[i].tag));
        if (*evs[i].status)
            qj_set(o, "status", qj_str(evs[i].status));
        qj_append(list, o);
    }
    qj *root = qj_object();
    qj_set(root, "events", list);
    char *text = qj_to_string(root);
    qj_free(root);
    return text;
}

static const char *qnovasend_meaning(int64_t code)
{
    switch (code) {
    case 404: return "Nova knows no such instance";
    case 422: return "the instance has no host yet";
    case 400: return "Nova refused the event";
    default: return "Nova did not accept it";
    }
}

/* Nova answered 200 or 207: one code per event, in the order sent. */
static void qnovasend_per_event(qnovasend *s, const qoutbox_event *evs, size_t n, int status,
                                const qhttpc_resp *r)
{
    qj_limits lim = {.max_depth = 16};
    qj *doc = qj_parse(r->body.data, r->body.len, &lim, NULL);
    const qj *answers = qj_get(doc, "events");
    for (size_t i = 0; i < n; i++) {
        const qj *a = qj_len(answers) == n ? qj_at(answers, i) : NULL;
        int64_t code = qj_get_int(a, "code", status == 200 ? 200 : 0);
        if (code == 200) {
            atomic_fetch_add(&s->sent, 1);
            QLOG_I("nova", "event %s%s%s for server %s port %s: accepted by Nova", evs[i].name,
                   *evs[i].status ? " " : "", evs[i].status, evs[i].server_uuid, evs[i].tag);
        } else {
            atomic_fetch_add(&s->rejected, 1);
            QLOG_W("nova", "event %s%s%s for server %s port %s: Nova answered %lld (%s); "
                           "dropped", evs[i].name, *evs[i].status ? " " : "", evs[i].status,
                   evs[i].server_uuid, evs[i].tag, (long long)code,
                   code ? qnovasend_meaning(code) : "no code for it in the answer");
        }
    }
    qj_free(doc);
}

/* The whole request was refused for a reason resending cannot change. */
static void qnovasend_refused(qnovasend *s, const qoutbox_event *evs, size_t n, int status,
                              const qhttpc_resp *r)
{
    atomic_fetch_add(&s->rejected, (int64_t)n);
    const char *why = status == 404 ? "no instance found for any event"
                      : status == 422 ? "no event's instance has a host"
                      : status == 403 ? "[nova] username lacks Nova's "
                                        "os-server-external-events:create policy"
                                      : "Nova refused the request";
    bool quiet = status == 404 || status == 422;
    for (size_t i = 0; i < n; i++)
        qlog(quiet ? QLOG_WARN : QLOG_ERROR, "nova",
             "event %s%s%s for server %s port %s: Nova answered %d (%s: %.200s); dropped",
             evs[i].name, *evs[i].status ? " " : "", evs[i].status, evs[i].server_uuid,
             evs[i].tag, status, why, r->body.data ? r->body.data : "");
}

/* Sends the oldest pending events once (logging in again once on a 401);
 * *full: the batch was as large as a batch may be (more are likely). */
static qns_result qnovasend_batch(qnovasend *s, bool *full)
{
    *full = false;
    qstore *st = s->m->store;
    qerr e;
    qoutbox_event *evs = xcalloc(QNOVA_BATCH, sizeof *evs);
    int n = qoutbox_list(st, evs, QNOVA_BATCH, &e);
    if (n <= 0) {
        if (n < 0) {
            char why[sizeof s->last_error];
            snprintf(why, sizeof why, "cannot read the outbox: %.400s", e.msg);
            qnovasend_set(s, s->last_error, sizeof s->last_error, why);
            atomic_fetch_add(&s->failed_attempts, 1);
        }
        free(evs);
        return n < 0 ? QNS_FAILED : QNS_IDLE;
    }
    *full = n == QNOVA_BATCH;
    int64_t *ids = xcalloc((size_t)n, sizeof *ids);
    for (int i = 0; i < n; i++)
        ids[i] = evs[i].id;
    char *body = qnovasend_body(evs, (size_t)n);
    char why[768] = "";
    qns_result res = QNS_FAILED;
    for (int attempt = 0; attempt < 2; attempt++) {
        int lr = qnovasend_login(s, why, sizeof why);
        if (lr <= 0) {
            res = lr == 0 ? QNS_STOPPED : QNS_FAILED;
            break;
        }
        char endpoint[sizeof s->endpoint];
        pthread_mutex_lock(&s->lock);
        snprintf(endpoint, sizeof endpoint, "%s", s->endpoint);
        pthread_mutex_unlock(&s->lock);
        char *url = xasprintf("%s/os-server-external-events", endpoint);
        const char *tok = qnovasend_password(s->c) ? s->token.token
                          : !strcmp(s->c->nova_auth_type, "admin_token") ? s->c->nova_token
                                                                          : NULL;
        char *auth = tok ? xasprintf("X-Auth-Token: %s", tok) : NULL;
        const char *headers[] = {"Content-Type: application/json", "Accept: application/json",
                                 "X-OpenStack-Nova-API-Version: 2.1",
                                 "OpenStack-API-Version: compute 2.1", auth, NULL};
        qhttpc_req req = {.method = "POST", .url = url, .headers = headers, .body = body,
                          .body_len = strlen(body), .timeout_ms = s->c->nova_timeout * 1000,
                          .max_body = 4u << 20, .tls = &s->tls};
        qhttpc_resp r;
        int done = qnovasend_call(s, &req, &r);
        free(url);
        if (auth) {
            qplat_wipe(auth, strlen(auth));
            free(auth);
        }
        if (!done) {
            res = QNS_STOPPED;
            break;
        }
        int status = r.status;
        if (status == 401 && qnovasend_password(s->c) && attempt == 0) {
            s->have_token = false;       /* expired or revoked: log in again, once */
            qhttpc_resp_free(&r);
            continue;
        }
        if (status == 200 || status == 207) {
            qnovasend_per_event(s, evs, (size_t)n, status, &r);
            res = QNS_ANSWERED;
        } else if (status >= 400 && status < 500 && status != 401 && status != 408 &&
                   status != 429) {
            qnovasend_refused(s, evs, (size_t)n, status, &r);
            res = QNS_ANSWERED;
        } else if (status == 0) {
            snprintf(why, sizeof why, "Nova unreachable at %.300s: %.200s", endpoint, r.error);
        } else {
            snprintf(why, sizeof why, "Nova answered %d: %.200s", status,
                     r.body.data ? r.body.data : "");
        }
        if (res == QNS_ANSWERED) {
            pthread_mutex_lock(&s->lock);
            s->last_answer_at = qhv_wall_seconds();
            s->last_error[0] = '\0';
            pthread_mutex_unlock(&s->lock);
        }
        qhttpc_resp_free(&r);
        break;
    }
    if (res == QNS_ANSWERED && qoutbox_remove(st, ids, (size_t)n, &e) < 0)
        QLOG_E("nova", "cannot remove %d answered events from the outbox: %s (they will be "
                       "sent again)", n, e.msg);
    if (res == QNS_FAILED) {
        atomic_fetch_add(&s->failed_attempts, 1);
        qnovasend_set(s, s->last_error, sizeof s->last_error, why);
        if (qoutbox_note_failure(st, ids, (size_t)n, qhv_wall_seconds(), why, &e) < 0)
            QLOG_E("nova", "cannot note the failed attempt in the outbox: %s", e.msg);
    }
    free(body);
    free(ids);
    free(evs);
    return res;
}

/* How often a server whose sender is not the one sending asks again. */
#define QNOVA_LEAD_RETRY_US (2 * 1000000ull)

static void *qnovasend_main(void *arg)
{
    qnovasend *s = arg;
    /* At start: send what a previous run left pending. */
    bool recheck = true;
    uint64_t not_before = 0;
    int failures = 0;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!s->stopping) {
            uint64_t now = qhv_now_us();
            if ((s->woken || recheck) && now >= not_before)
                break;
            if (s->woken || recheck) {
                struct timespec ts;
                qhv_deadline(&ts, (long)((not_before - now + 999) / 1000));
                pthread_cond_timedwait(&s->cond, &s->lock, &ts);
            } else {
                pthread_cond_wait(&s->cond, &s->lock);
            }
        }
        bool stop = s->stopping;
        s->woken = false;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
        /* Batches start send_events_interval apart: counted from this
         * batch's start, so Nova's own time to answer is not added to the
         * wait of the events that come meanwhile. */
        uint64_t started = qhv_now_us();
        if (!qstore_lead(s->m->store, "nova-events")) {
            /* Another server on the database sends (one sender, so each
             * event goes once); ask again in a while, should it go. */
            recheck = true;
            not_before = started + QNOVA_LEAD_RETRY_US;
            continue;
        }
        bool full;
        qns_result r = qnovasend_batch(s, &full);
        if (r == QNS_STOPPED)
            break;
        if (r == QNS_IDLE) {
            recheck = false;
        } else if (r == QNS_ANSWERED) {
            if (failures)
                QLOG_I("nova", "Nova answers again after %d failed attempts", failures);
            failures = 0;
            recheck = true;      /* more may have come meanwhile, or more than a batch */
            /* A backlog (after an outage) goes in full batches back to back:
             * the interval is there to gather small ones, not to slow it. */
            not_before = full ? 0 : started + (uint64_t)s->c->send_events_interval * 1000000u;
        } else {
            failures++;
            int64_t delay = failures >= 30 ? s->c->nova_retry_max_interval
                                           : (int64_t)1 << (failures - 1);
            if (delay > s->c->nova_retry_max_interval)
                delay = s->c->nova_retry_max_interval;
            char last[sizeof s->last_error];
            pthread_mutex_lock(&s->lock);
            snprintf(last, sizeof last, "%s", s->last_error);
            pthread_mutex_unlock(&s->lock);
            QLOG_W("nova", "events not sent (attempt %d): %s; next attempt in %lld s", failures,
                   last, (long long)delay);
            recheck = true;
            not_before = qhv_now_us() + (uint64_t)delay * 1000000u;
        }
    }
    return NULL;
}

qnovasend *qnovasend_start(qmodel *m)
{
    const qconf *c = m->conf;
    if (!c->nova_enabled) {
        QLOG_I("nova", "[nova] names no Nova (auth_url and endpoint_override empty): Nova is "
                       "not told about ports (docs/nova.md)");
        return NULL;
    }
    qnovasend *s = xcalloc(1, sizeof *s);
    s->m = m;
    s->c = c;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->http = qhttpc_new();
    s->tls.ca_file = c->nova_cafile;
    s->tls.insecure = c->nova_insecure;
    s->tls.cert_file = c->nova_certfile;
    s->tls.key_file = c->nova_keyfile;
    if (c->nova_insecure)
        QLOG_W("nova", "[nova] insecure = true: Keystone's and Nova's certificates are not "
                       "verified");
    m->nova_ctx = s;
    atomic_store(&m->on_nova_events, qnovasend_wake);
    if (pthread_create(&s->thread, NULL, qnovasend_main, s) != 0) {
        QLOG_E("nova", "cannot start the sender thread: events stay in the outbox");
        atomic_store(&m->on_nova_events, NULL);
        qhttpc_free(s->http);
        free(s);
        return NULL;
    }
    QLOG_I("nova", "events go to Nova (%s; auth_type %s), every %lld s at most",
           *c->nova_endpoint_override ? c->nova_endpoint_override : "endpoint from the catalogue",
           c->nova_auth_type, (long long)c->send_events_interval);
    return s;
}

void qnovasend_stop(qnovasend *s)
{
    if (!s)
        return;
    atomic_store(&s->m->on_nova_events, NULL);
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    qhttpc_free(s->http);
    qplat_wipe(&s->token, sizeof s->token);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

qj *qnovasend_status(qnovasend *s, qmodel *m)
{
    qj *o = qj_object();
    qerr e;
    qj_set(o, "enabled", qj_bool(s != NULL));
    /* Read even when no Nova is configured: events an earlier run left. */
    int64_t pending = qoutbox_count(m->store, &e);
    qj_set(o, "pending", qj_int(pending < 0 ? 0 : pending));
    qj_set(o, "sent", qj_int(s ? atomic_load(&s->sent) : 0));
    qj_set(o, "rejected", qj_int(s ? atomic_load(&s->rejected) : 0));
    qj_set(o, "dropped", qj_int(atomic_load(&m->nova_dropped)));
    qj_set(o, "failed_attempts", qj_int(s ? atomic_load(&s->failed_attempts) : 0));
    if (s) {
        pthread_mutex_lock(&s->lock);
        qj_set(o, "endpoint", qj_str(s->endpoint));
        qj_set(o, "last_error", qj_str(s->last_error));
        if (s->last_answer_at) {
            char ts[21];
            qhv_format_time(s->last_answer_at, ts);
            qj_set(o, "last_answer_at", qj_str(ts));
        } else {
            qj_set(o, "last_answer_at", qj_null());
        }
        pthread_mutex_unlock(&s->lock);
    }
    return o;
}

int qnovasend_outbox(qnovasend *s, qmodel *m, size_t limit, qj **ret, qerr *e)
{
    *ret = NULL;
    qoutbox_event *evs = xcalloc(limit ? limit : 1, sizeof *evs);
    int n = qoutbox_list(m->store, evs, limit, e);
    if (n < 0) {
        free(evs);
        return -1;
    }
    qj *o = qnovasend_status(s, m);
    qj *list = qj_array();
    int64_t now = qhv_wall_seconds();
    for (int i = 0; i < n; i++) {
        qj *ev = qj_object();
        char ts[21];
        qj_set(ev, "id", qj_int(evs[i].id));
        qj_set(ev, "name", qj_str(evs[i].name));
        qj_set(ev, "server_uuid", qj_str(evs[i].server_uuid));
        qj_set(ev, "tag", qj_str(evs[i].tag));
        qj_set(ev, "status", *evs[i].status ? qj_str(evs[i].status) : qj_null());
        qhv_format_time(evs[i].created, ts);
        qj_set(ev, "created_at", qj_str(ts));
        qj_set(ev, "age", qj_int(now - evs[i].created));
        qj_set(ev, "attempts", qj_int(evs[i].attempts));
        qj_set(ev, "last_error", qj_str(evs[i].last_error));
        qj_append(list, ev);
    }
    qj_set(o, "events", list);
    free(evs);
    *ret = o;
    return 0;
}
