#include "server/feed.h"
#include "server/http.h"
#include "model/agent.h"
#include "model/dhcp.h"
#include "model/plan.h"
#include "model/resources.h"
#include "lib/log.h"
#include "lib/textmap.h"
#include "lib/util.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QFEED_RING 64            /* deltas kept per host ... */
#define QFEED_RING_BYTES (1u << 20)  /* ... within this much text (the newest always) */
#define QFEED_DEBOUNCE_US 10000  /* batch the commits of 10 ms */
#define QFEED_TICK_MS 100        /* deadline resolution of waiting agents */
#define QFEED_FEW_HOSTS 64       /* served hosts asked one by one (qfeed_affected) */

/* Plans and deltas are kept as compact JSON text: a hundred hosts' plans
 * as trees took about 2 MiB each (issue 4's server RSS); answers are built
 * from the text when asked for. */
typedef struct qfeed_delta {
    int64_t rev;
    char *text;            /* {"<section>": {"set": {...}, "removed": [...]}} */
    size_t len;
} qfeed_delta;

typedef struct qfeed_sec {
    char *name;
    qtm *m;                /* key → the value's compact JSON text */
} qfeed_sec;

typedef struct qfeed_host {
    char *host;
    bool has_plan;
    qfeed_sec *secs;       /* the plan's sections, in its order */
    size_t nsecs;
    int64_t plan_rev;      /* revision of the last change */
    int64_t digest_rev;    /* the plan_rev digest is of; -1 none */
    uint64_t digest;       /* of the plan (qtm_digest), computed when asked */
    int64_t checked_rev;   /* the plan is this up to this revision */
    int64_t base_rev;      /* deltas after this revision are all in the ring */
    bool stale;            /* a refresh the feed owed it failed: recompute on next use */
    qfeed_delta ring[QFEED_RING];
    size_t nring;          /* oldest at index 0 */
    size_t ring_bytes;
    struct qfeed_host *next;
} qfeed_host;

typedef struct qfeed_waiter {
    qfeed *feed;
    void *conn;
    char host[256];
    int64_t since;
    uint64_t deadline_us;
    bool linked;
    struct qfeed_waiter *next;
} qfeed_waiter;

struct qfeed {
    qmodel *m;
    pthread_mutex_t pending_lock;
    qtouch pending;        /* what commits touched since the last refresh */
    int64_t pending_rev;   /* the revision of the last commit merged into pending */
    int64_t processed_rev; /* every plan-touching commit up to this revision has been
                            * processed: hosts it concerned were refreshed (feed lock) */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool dirty;     /* set by commits without the lock: writers never wait for plans */
    bool stopping;
    qfeed_host *hosts;
    qplan_cache *cache;    /* shared parts of plans at one revision (feed lock) */
    qfeed_waiter *waiters;
    pthread_t thread;
    bool running;
};

/* ---------- plans and deltas ---------- */

static int qfeed_cmp_member(const void *a, const void *b)
{
    return strcmp((*(const qj_member *const *)a)->key, (*(const qj_member *const *)b)->key);
}

static int qfeed_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static qtm *qfeed_section(const qfeed_host *h, const char *name)
{
    for (size_t i = 0; i < h->nsecs; i++)
        if (!strcmp(h->secs[i].name, name))
            return h->secs[i].m;
    return NULL;
}

static void qfeed_plan_free(qfeed_host *h)
{
    for (size_t i = 0; i < h->nsecs; i++) {
        free(h->secs[i].name);
        qtm_free(h->secs[i].m);
    }
    free(h->secs);
    h->secs = NULL;
    h->nsecs = 0;
    h->has_plan = false;
}

/* Replaces h's plan with plan (sections only), and returns the difference
 * from the one it had, section by section:
 *   {"<section>": {"set": {...}, "removed": [...]}}
 * with keys sorted (NULL if h had no plan). Sections plan does not have are
 * left as they were (a plan always has all of them). */
static qj *qfeed_replace(qfeed_host *h, const qj *plan)
{
    bool had = h->has_plan;
    qj *d = had ? qj_object() : NULL;
    qbuf b;
    qbuf_init(&b, 0);
    for (size_t i = 0; i < plan->u.obj.n; i++) {
        const char *sec = plan->u.obj.m[i].key;
        const qj *nv = plan->u.obj.m[i].val;
        qtm *old = qfeed_section(h, sec), *cur = qtm_new();
        size_t nn = qj_is(nv, QJ_OBJECT) ? nv->u.obj.n : 0, nset = 0, nrem = 0;
        const qj_member **set = xcalloc(nn + 1, sizeof *set);
        for (size_t k = 0; k < nn; k++) {
            const qj_member *mb = &nv->u.obj.m[k];
            qbuf_reset(&b);
            qj_emit(mb->val, &b, false);
            size_t olen;
            const char *ov = qtm_get(old, mb->key, &olen);
            if (had && (!ov || olen != b.len || memcmp(ov, b.data, olen)))
                set[nset++] = mb;
            qtm_put(cur, mb->key, b.data, b.len);
        }
        const char **rem = xcalloc(qtm_size(old) + 1, sizeof *rem);
        const char *key;
        for (size_t k = 0; had && k < qtm_end(old); k++)
            if (qtm_at(old, k, &key, NULL, NULL) && !qtm_get(cur, key, NULL))
                rem[nrem++] = key;
        if (nset || nrem) {
            qsort(set, nset, sizeof *set, qfeed_cmp_member);
            qsort(rem, nrem, sizeof *rem, qfeed_cmp_str);
            qj *so = qj_object(), *ra = qj_array();
            for (size_t k = 0; k < nset; k++)
                qj_set_new(so, set[k]->key, qj_clone(set[k]->val));
            for (size_t k = 0; k < nrem; k++)
                qj_append(ra, qj_str(rem[k]));
            qj *o = qj_object();
            qj_set(o, "set", so);
            qj_set(o, "removed", ra);
            qj_set(d, sec, o);
        }
        free(set);
        free(rem);
        if (old) {
            for (size_t k = 0; k < h->nsecs; k++)
                if (h->secs[k].m == old)
                    h->secs[k].m = cur;
            qtm_free(old);
        } else {
            h->secs = xrealloc(h->secs, (h->nsecs + 1) * sizeof *h->secs);
            h->secs[h->nsecs++] = (qfeed_sec){xstrdup(sec), cur};
        }
    }
    qbuf_free(&b);
    h->has_plan = true;
    return d;
}

/* h's plan as a tree (caller frees). */
static qj *qfeed_plan_tree(const qfeed_host *h)
{
    qj *plan = qj_object();
    for (size_t i = 0; i < h->nsecs; i++) {
        qj *o = qj_object();
        const char *key, *text;
        size_t len;
        for (size_t k = 0; k < qtm_end(h->secs[i].m); k++)
            if (qtm_at(h->secs[i].m, k, &key, &text, &len)) {
                qj *v = qj_parse(text, len, NULL, NULL);    /* our own text */
                qj_set_new(o, key, v ? v : qj_null());
            }
        qj_set_new(plan, h->secs[i].name, o);
    }
    return plan;
}

/* Folds delta b into accumulated delta a (whole objects: last write wins). */
static void qfeed_compose(qj *a, const qj *b)
{
    for (size_t i = 0; i < b->u.obj.n; i++) {
        const char *sec = b->u.obj.m[i].key;
        const qj *bs = b->u.obj.m[i].val;
        qj *as = qj_get(a, sec);
        if (!as) {
            qj_set(a, sec, qj_clone(bs));
            continue;
        }
        qj *aset = qj_get(as, "set"), *arem = qj_get(as, "removed");
        const qj *bset = qj_get(bs, "set"), *brem = qj_get(bs, "removed");
        for (size_t k = 0; k < bset->u.obj.n; k++) {
            const char *key = bset->u.obj.m[k].key;
            qj_set(aset, key, qj_clone(bset->u.obj.m[k].val));
            qj *keep = qj_array();
            for (size_t r = 0; r < qj_len(arem); r++)
                if (strcmp(qj_as_str(qj_at(arem, r)), key))
                    qj_append(keep, qj_clone(qj_at(arem, r)));
            qj_set(as, "removed", keep);
            arem = keep;
        }
        for (size_t r = 0; r < qj_len(brem); r++) {
            const char *key = qj_as_str(qj_at(brem, r));
            qj_remove(aset, key);
            bool present = false;
            for (size_t x = 0; x < qj_len(arem) && !present; x++)
                present = !strcmp(qj_as_str(qj_at(arem, x)), key);
            if (!present)
                qj_append(arem, qj_str(key));
        }
    }
}

static qfeed_host *qfeed_find(qfeed *f, const char *host)
{
    for (qfeed_host *h = f->hosts; h; h = h->next)
        if (!strcmp(h->host, host))
            return h;
    return NULL;
}

static void qfeed_ring_drop_oldest(qfeed_host *h)
{
    h->base_rev = h->ring[0].rev;
    h->ring_bytes -= h->ring[0].len;
    free(h->ring[0].text);
    memmove(h->ring, h->ring + 1, (h->nring - 1) * sizeof h->ring[0]);
    h->nring--;
}

/* Recomputes h's plan; records a delta if it changed. Feed lock held. */
static int qfeed_refresh(qfeed *f, qfeed_host *h, qerr *e)
{
    qj *out;
    if (qplan_compute(f->m, h->host, f->cache, &out, e) < 0)
        return -1;
    int64_t rev = qj_get(out, "revision")->u.i;
    bool had = h->has_plan;
    qj *d = qfeed_replace(h, qj_get(out, "plan"));
    qj_free(out);
    if (!had) {
        h->plan_rev = h->checked_rev = h->base_rev = rev;
        return 0;
    }
    h->checked_rev = rev;
    if (!qj_len(d)) {
        qj_free(d);
        return 0;
    }
    /* An agent further behind than the ring reaches gets the whole plan. */
    char *text = qj_to_string(d);
    qj_free(d);
    size_t len = strlen(text);
    if (h->nring == QFEED_RING)
        qfeed_ring_drop_oldest(h);
    while (h->nring && h->ring_bytes + len > QFEED_RING_BYTES)
        qfeed_ring_drop_oldest(h);
    h->ring[h->nring++] = (qfeed_delta){rev, text, len};
    h->ring_bytes += len;
    h->plan_rev = rev;
    return 0;
}

static qfeed_host *qfeed_get(qfeed *f, const char *host, qerr *e)
{
    qfeed_host *h = qfeed_find(f, host);
    if (!h) {
        h = xcalloc(1, sizeof *h);
        h->host = xstrdup(host);
        h->digest_rev = -1;
        h->next = f->hosts;
        f->hosts = h;
    }
    if (h->has_plan && !h->stale) {
        int64_t rev = qstore_revision(f->m->store);
        /* Read after the revision: a plan-touching commit sets planned_rev
         * before it becomes visible. */
        int64_t planned = atomic_load(&f->m->planned_rev);
        if (h->checked_rev >= rev)
            return h;
        /* Other servers' commits up to rev heard (so told to on_commit,
         * which sets dirty until the feed has processed them). */
        bool heard = atomic_load(&f->m->heard_rev) >= rev;
        if (planned <= f->processed_rev && heard && !atomic_load(&f->dirty) && rev >= 0) {
            /* Every commit that could change a plan up to rev has been
             * processed, and h was refreshed if one concerned it: commits
             * since (port status, heartbeats) change no plan. */
            h->checked_rev = rev;
            return h;
        }
    }
    if (qfeed_refresh(f, h, e) < 0)
        return NULL;
    h->stale = false;
    return h;
}

static qj *qfeed_full_response(const qfeed_host *h)
{
    qj *o = qj_object();
    qj_set(o, "host", qj_str(h->host));
    qj_set(o, "revision", qj_int(h->checked_rev));
    qj_set(o, "plan", qfeed_plan_tree(h));
    return o;
}

/* A delta answer from since, or NULL if since can't be diffed from. */
static qj *qfeed_delta_response(const qfeed_host *h, int64_t since)
{
    if (since < h->base_rev || since > h->checked_rev)
        return NULL;
    qj *acc = qj_object();
    for (size_t i = 0; i < h->nring; i++) {
        if (h->ring[i].rev <= since)
            continue;
        qj *d = qj_parse(h->ring[i].text, h->ring[i].len, NULL, NULL);
        if (d)      /* our own text */
            qfeed_compose(acc, d);
        qj_free(d);
    }
    qj *o = qj_object();
    qj_set(o, "host", qj_str(h->host));
    qj_set(o, "revision", qj_int(h->checked_rev));
    qj_set(o, "since", qj_int(since));
    qj_set(o, "delta", acc);
    return o;
}

int qfeed_full(qfeed *f, const char *host, qj **ret, qerr *e)
{
    pthread_mutex_lock(&f->lock);
    qfeed_host *h = qfeed_get(f, host, e);
    *ret = h ? qfeed_full_response(h) : NULL;
    pthread_mutex_unlock(&f->lock);
    return h ? 0 : -1;
}

int qfeed_watch(qfeed *f, const char *host, int64_t since, int wait_s, void *conn, void **slot,
                qj **ret, qerr *e)
{
    *ret = NULL;
    pthread_mutex_lock(&f->lock);
    qfeed_host *h = qfeed_get(f, host, e);
    int rc = -1;
    if (h) {
        if (since < h->base_rev || since > h->checked_rev) {
            *ret = qfeed_full_response(h);
            rc = 1;
        } else if (h->plan_rev > since || wait_s <= 0 || f->stopping) {
            *ret = qfeed_delta_response(h, since);
            rc = 1;
        } else {
            qfeed_waiter *w = xcalloc(1, sizeof *w);
            w->feed = f;
            w->conn = conn;
            snprintf(w->host, sizeof w->host, "%s", host);
            w->since = since;
            w->deadline_us = qhv_now_us() + (uint64_t)wait_s * 1000000u;
            w->linked = true;
            w->next = f->waiters;
            f->waiters = w;
            *slot = w;
            qhttp_suspend(conn);   /* under the lock: no resume can come first */
            rc = 0;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static void qfeed_unlink(qfeed *f, qfeed_waiter *w)
{
    for (qfeed_waiter **p = &f->waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    w->linked = false;
}

void qfeed_waiter_free(void *slot)
{
    qfeed_waiter *w = slot;
    if (!w)
        return;
    pthread_mutex_lock(&w->feed->lock);
    if (w->linked)
        qfeed_unlink(w->feed, w);
    pthread_mutex_unlock(&w->feed->lock);
    free(w);
}

void qfeed_waiter_gone(void *slot)
{
    qfeed_waiter *w = slot;
    pthread_mutex_lock(&w->feed->lock);
    if (w->linked) {            /* not yet woken: once woken, the resume is on its way */
        qfeed_unlink(w->feed, w);
        qhttp_resume(w->conn);
    }
    pthread_mutex_unlock(&w->feed->lock);
}

/* Wakes waiters whose host changed or whose time is up. Lock held. */
static void qfeed_wake(qfeed *f, bool all)
{
    uint64_t now = qhv_now_us();
    qfeed_waiter **p = &f->waiters;
    while (*p) {
        qfeed_waiter *w = *p;
        qfeed_host *h = qfeed_find(f, w->host);
        if (all || now >= w->deadline_us || (h && h->plan_rev > w->since)) {
            *p = w->next;
            w->linked = false;
            qhttp_resume(w->conn);
        } else {
            p = &w->next;
        }
    }
}

static int qfeed_affected(qfeed *f, const qtouch *t, qtouch_set *hosts);

static void *qfeed_main(void *arg)
{
    qfeed *f = arg;
    pthread_mutex_lock(&f->lock);
    while (!f->stopping) {
        if (!atomic_load(&f->dirty)) {
            struct timespec ts;
            qhv_deadline(&ts, QFEED_TICK_MS);
            pthread_cond_timedwait(&f->cond, &f->lock, &ts);
        }
        if (atomic_load(&f->dirty) && !f->stopping) {
            pthread_mutex_unlock(&f->lock);
            struct timespec d = {0, QFEED_DEBOUNCE_US * 1000L};
            nanosleep(&d, NULL);
            pthread_mutex_lock(&f->lock);
            atomic_store(&f->dirty, false);
            pthread_mutex_lock(&f->pending_lock);
            qtouch t = f->pending;
            int64_t upto = f->pending_rev;
            memset(&f->pending, 0, sizeof f->pending);
            pthread_mutex_unlock(&f->pending_lock);
            qtouch_set hosts = {0};
            bool all = t.all;
            /* No host served: nobody to tell. Not knowing whom: everyone. */
            if (!all && f->hosts && qfeed_affected(f, &t, &hosts) < 0) {
                QLOG_W("feed", "which plans changed could not be read: recomputing every plan");
                all = true;
            }
            for (qfeed_host *h = f->hosts; h; h = h->next) {
                bool affected = all;
                for (size_t i = 0; i < hosts.n && !affected; i++)
                    affected = !strcmp(hosts.v[i], h->host);
                qerr e;
                if (affected && (h->stale = qfeed_refresh(f, h, &e) < 0))
                    QLOG_E("feed", "plan of %s: %s", h->host, e.msg);
            }
            if (upto > f->processed_rev)
                f->processed_rev = upto;
            qtouch done = {.hosts = hosts};
            qtouch_clear(&done);
            qtouch_clear(&t);
        }
        qfeed_wake(f, false);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

static void qfeed_on_commit(void *ctx, const qtouch *t, int64_t revision)
{
    qfeed *f = ctx;
    pthread_mutex_lock(&f->pending_lock);
    qtouch_merge(&f->pending, t);
    /* Ours come in order (the store's write lock); another server's may
     * come after a newer one of ours (the store's listener). */
    if (revision > f->pending_rev)
        f->pending_rev = revision;
    pthread_mutex_unlock(&f->pending_lock);
    /* A wakeup lost between the feed's check and its wait costs at most one
     * tick; taking the feed lock here would make every writer wait for plans. */
    atomic_store(&f->dirty, true);
    pthread_cond_signal(&f->cond);
}

/* ---------- which hosts a change concerns ---------- */

static const char qfeed_sql_net_hosts[] =
    "SELECT DISTINCT host FROM resources INDEXED BY resources_parent WHERE kind='port' AND "
    "parent_id=?1 AND host!=''";
static const char qfeed_sql_net_dhcp_hosts[] =
    "SELECT DISTINCT host FROM resources INDEXED BY resources_parent WHERE kind='port' AND "
    "parent_id=?1 AND host!='' AND json_extract(body, '$.device_owner')='network:dhcp'";
static const char qfeed_sql_net_type[] =
    "SELECT json_extract(body, '$.\"provider:network_type\"') FROM resources "
    "WHERE kind='network' AND id=?1";
static const char qfeed_sql_group_hosts[] =
    /* From the group's members to their hosts (a scalar subquery: both
     * engines then walk port_sgs first, never every port). */
    "SELECT DISTINCT h FROM (SELECT (SELECT r.host FROM resources r WHERE r.kind='port' AND "
    "r.id=s.port_id) AS h FROM port_sgs s WHERE s.sg_id=?1) t WHERE h != ''";
static const char qfeed_sql_host_in_group[] =
    "SELECT 1 FROM resources r INDEXED BY resources_host WHERE r.kind='port' AND r.host=?1 AND "
    "EXISTS (SELECT 1 FROM port_sgs s WHERE s.port_id=r.id AND s.sg_id=?2) LIMIT 1";
static const char qfeed_sql_referrers[] =
    "SELECT DISTINCT parent_id FROM resources WHERE kind='security_group_rule' AND "
    "json_extract(body, '$.remote_group_id')=?1";
static const char qfeed_sql_host_networks[] =
    "SELECT DISTINCT parent_id FROM resources INDEXED BY resources_host WHERE kind='port' AND "
    "host=?1";

/* Adds the first column of every row of sql(arg) to out: 0, or -1 when
 * the store fails (the caller then cannot know whom a change concerns). */
static int qfeed_collect(qfeed *f, const char *sql, const char *arg, qtouch_set *out)
{
    qerr e;
    qstmt *st = qstore_stmt(f->m->store, sql, &e);
    if (!st)
        return -1;
    qstmt_bind_text(st, 1, arg, -1, QSTORE_TRANSIENT);
    int rc;
    while ((rc = qstmt_step(st)) == QSTORE_ROW)
        if (qstmt_column_text(st, 0))
            qtouch_add(out, (const char *)qstmt_column_text(st, 0));
    qstmt_reset(st);
    return rc == QSTORE_DONE ? 0 : -1;
}

/* 1 if sql(a, b) gives a row, 0 if not, -1 when the store fails. */
static int qfeed_exists(qfeed *f, const char *sql, const char *a, const char *b)
{
    qerr e;
    return qstore_query_row(f->m->store, sql, a, b, NULL, NULL, 0, &e);
}

/* 1 if the network is virtualized (NVGRE, IP rewrite), 0 if not, -1. */
static int qfeed_virtualized(qfeed *f, const char *network_id)
{
    qtouch_set t = {0};
    int rc = qfeed_collect(f, qfeed_sql_net_type, network_id, &t);
    if (rc == 0)
        rc = t.n && (!strcmp(t.v[0], "nvgre") || !strcmp(t.v[0], "ip_rewrite"));
    qtouch tmp = {.networks = t};
    qtouch_clear(&tmp);
    return rc;
}

/* The hosts whose plans t may change:
 * - hosts named (their ports or their agent changed); an agent's provider
 *   address is in the lookup tables of every host on its virtual networks;
 * - every host on a network or subnet that changed;
 * - every host on a virtual network where a port changed (lookup records);
 * - the DHCP nodes of a network where a port changed (dhcp_hosts);
 * - hosts with ports in a changed group, or in a group whose rules name a
 *   changed group as remote (address sets).
 * 0, or -1 when the store failed (hosts is then incomplete). */
static int qfeed_affected(qfeed *f, const qtouch *t, qtouch_set *hosts)
{
    qtouch extra = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t->hosts.n; i++) {
        qtouch_add(hosts, t->hosts.v[i]);
        rc = qfeed_collect(f, qfeed_sql_host_networks, t->hosts.v[i], &extra.port_networks);
    }
    for (size_t i = 0; rc == 0 && i < t->networks.n; i++)
        rc = qfeed_collect(f, qfeed_sql_net_hosts, t->networks.v[i], hosts);
    for (int pass = 0; pass < 2; pass++) {
        const qtouch_set *nets = pass ? &extra.port_networks : &t->port_networks;
        for (size_t i = 0; rc == 0 && i < nets->n; i++) {
            int v = qfeed_virtualized(f, nets->v[i]);
            rc = v < 0 ? -1 : v ? qfeed_collect(f, qfeed_sql_net_hosts, nets->v[i], hosts) : 0;
        }
    }
    for (size_t i = 0; rc == 0 && i < t->port_networks.n; i++)
        rc = qfeed_collect(f, qfeed_sql_net_dhcp_hosts, t->port_networks.v[i], hosts);
    for (size_t i = 0; rc == 0 && i < t->groups.n; i++) {
        qtouch_add(&extra.groups, t->groups.v[i]);
        rc = qfeed_collect(f, qfeed_sql_referrers, t->groups.v[i], &extra.groups);
    }
    /* The hosts of a group's members: asked of each host this feed serves
     * while they are few (a lookup per port of the host), since walking
     * the members of a large group (every port of a project in its default
     * group) for each batch of commits costs more than the commits. */
    size_t served = 0;
    for (qfeed_host *h = f->hosts; h && served <= QFEED_FEW_HOSTS; h = h->next)
        served++;
    for (size_t i = 0; rc == 0 && i < extra.groups.n; i++) {
        if (served > QFEED_FEW_HOSTS) {
            rc = qfeed_collect(f, qfeed_sql_group_hosts, extra.groups.v[i], hosts);
            continue;
        }
        for (qfeed_host *h = f->hosts; rc == 0 && h; h = h->next) {
            if (qtouch_has(hosts, h->host))
                continue;
            int in = qfeed_exists(f, qfeed_sql_host_in_group, h->host, extra.groups.v[i]);
            if (in > 0)
                qtouch_add(hosts, h->host);
            rc = in < 0 ? -1 : 0;
        }
    }
    qtouch_clear(&extra);
    return rc;
}

qfeed *qfeed_new(qmodel *m)
{
    qfeed *f = xcalloc(1, sizeof *f);
    f->m = m;
    f->cache = qplan_cache_new();
    pthread_mutex_init(&f->lock, NULL);
    pthread_mutex_init(&f->pending_lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    if (pthread_create(&f->thread, NULL, qfeed_main, f) == 0)
        f->running = true;
    m->commit_ctx = f;
    atomic_store(&m->on_commit, qfeed_on_commit);
    return f;
}

void qfeed_shutdown(qfeed *f)
{
    if (!f)
        return;
    atomic_store(&f->m->on_commit, NULL);
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    qfeed_wake(f, true);
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    if (f->running)
        pthread_join(f->thread, NULL);
    f->running = false;
}

void qfeed_free(qfeed *f)
{
    if (!f)
        return;
    qfeed_shutdown(f);
    qfeed_host *h = f->hosts;
    while (h) {
        qfeed_host *n = h->next;
        for (size_t i = 0; i < h->nring; i++)
            free(h->ring[i].text);
        qfeed_plan_free(h);
        free(h->host);
        free(h);
        h = n;
    }
    qtouch_clear(&f->pending);
    qplan_cache_free(f->cache);
    pthread_mutex_destroy(&f->lock);
    pthread_mutex_destroy(&f->pending_lock);
    pthread_cond_destroy(&f->cond);
    free(f);
}

/* True if hex is the digest of h's plan (feed lock held). */
static bool qfeed_digest_is(qfeed_host *h, const char *hex)
{
    if (h->digest_rev != h->plan_rev) {
        h->digest = 0;
        for (size_t i = 0; i < h->nsecs; i++)
            h->digest += qtm_digest(h->secs[i].m, h->secs[i].name);
        h->digest_rev = h->plan_rev;
    }
    char mine[17];
    snprintf(mine, sizeof mine, "%016llx", (unsigned long long)h->digest);
    return !strcmp(mine, hex);
}

int qfeed_status(qfeed *f, qj **ret, qerr *e)
{
    *ret = NULL;
    qctx admin = {.is_admin = true};
    qj *list = NULL;
    qlist_page page;
    if (qres_list_request(f->m, &admin, &qres_agent, NULL, &list, &page, e) < 0)
        return -1;
    qj *agents = qj_get(list, "agents"), *hosts = qj_array();
    int64_t rev = qstore_revision(f->m->store);
    int rc = rev < 0 ? qstore_fail(f->m->store, e, "revision") : 0;
    for (size_t i = 0; rc == 0 && i < qj_len(agents); i++) {
        const qj *a = qj_at(agents, i);
        const char *host = qj_get_str(a, "host");
        const char *type = qj_get_str(a, "agent_type");
        if (type && !strcmp(type, QDHCP_AGENT_TYPE))
            continue;   /* the host's own agent row speaks for its plan */
        const qj *conf = qj_get(a, "configurations");
        const qj *applied = qj_get(conf, "applied_revision");
        const char *digest = qj_get_str(conf, "applied_digest");
        int64_t ap = qj_is(applied, QJ_INT) ? applied->u.i : -1;
        pthread_mutex_lock(&f->lock);
        qfeed_host *h = qfeed_get(f, host, e);
        int64_t plan_rev = h ? h->plan_rev : -1;
        /* Behind by revision, yet maybe not by content: this server may have
         * first computed the plan after its last change (its agent talks to
         * another server). The same plan is in sync whatever its revision. */
        bool same = h && ap >= 0 && ap < plan_rev && digest && qfeed_digest_is(h, digest);
        pthread_mutex_unlock(&f->lock);
        if (!h) {
            rc = -1;
            break;
        }
        qj *o = qj_object();
        qj_set(o, "host", qj_str(host));
        qj_set(o, "alive", qj_clone(qj_get(a, "alive")));
        qj_set(o, "plan_revision", qj_int(plan_rev));
        qj_set(o, "applied_revision", qj_int(ap));
        qj_set(o, "in_sync", qj_bool(ap >= plan_rev || same));
        qj_append(hosts, o);
    }
    qj_free(list);
    if (rc < 0) {
        qj_free(hosts);
        return -1;
    }
    *ret = qj_object();
    qj_set(*ret, "revision", qj_int(rev));
    qj_set(*ret, "hosts", hosts);
    return 0;
}
