/* pg_listen: other servers' commits, heard (store.h, qstore_listen). A
 * thread with its own session LISTENs on qhv_changes and, on every other
 * server's notification and at least every second, reads the table of
 * changes past the last revision it passed on: notifications only wake it,
 * the table is the truth, so a lost notification or connection loses
 * nothing. Every
 * commit publishes, so a revision missing from the table was pruned: the
 * listener is then told to assume everything changed. The leader of
 * "prune-changes" deletes rows older than ten minutes beyond the newest
 * 10,000, every minute. */
#include "store/pg_int.h"
#include "lib/log.h"
#include "lib/util.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QPG_LISTEN_BATCH 1000
#define QPG_PRUNE_EVERY 60
#define QPG_PRUNE_AGE 600
#define QPG_PRUNE_KEEP 10000

struct qpg_listener {
    qpg *s;
    void (*fn)(void *, int64_t, const char *);
    void *arg;
    pthread_t thread;
    int wake[2];
    PGconn *pg;
    int64_t last;
    bool prune_lead;
    int64_t next_prune;
};

/* One snapshot: the committed revision, and the changes past last. */
static const char qpg_sql_changes[] =
    "SELECT m.value, c.revision, c.server, c.note FROM meta m LEFT JOIN LATERAL "
    "(SELECT revision, server, note FROM changes WHERE revision > $1::bigint "
    "ORDER BY revision LIMIT " QPG_STR(QPG_LISTEN_BATCH) ") c ON true "
    "WHERE m.key = 'revision' ORDER BY c.revision";

static int64_t qpg_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? -1 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Told that revisions were skipped: everything may have changed. */
static void qpg_listen_gap(qpg_listener *l, int64_t newest)
{
    QLOG_W("store", "changes after revision %lld were pruned before this server read them "
                    "(newest %lld): assuming everything changed", (long long)l->last,
           (long long)newest);
    l->fn(l->arg, newest, NULL);
    l->last = newest;
}

/* Passes on every change past l->last; -1 when the session failed. */
static int qpg_listen_catch_up(qpg_listener *l)
{
    for (;;) {
        char last[24];
        snprintf(last, sizeof last, "%lld", (long long)l->last);
        const char *v[1] = {last};
        PGresult *r = PQexecParams(l->pg, qpg_sql_changes, 1, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
            char msg[256];
            qpg_message(l->pg, r, msg, sizeof msg);
            QLOG_W("store", "reading other servers' changes: %s", msg);
            PQclear(r);
            return PQstatus(l->pg) == CONNECTION_OK ? 0 : -1;
        }
        int n = PQntuples(r);
        int64_t newest = qpg_i64(r, 0, 0);
        if (newest >= 0 && newest < l->last) {
            /* The database went back (restored from a backup, or a crash
             * took the last commits, whose flush no client was told of but
             * that servers may have seen): every plan must be computed
             * again, and revisions continue from here. */
            QLOG_W("store", "the database's revision went back from %lld to %lld: "
                            "assuming everything changed", (long long)l->last, (long long)newest);
            PQclear(r);
            l->last = newest;
            l->fn(l->arg, newest, NULL);
            continue;
        }
        int got = 0;
        bool gap = false;
        for (int i = 0; i < n && !gap; i++) {
            int64_t rev = qpg_i64(r, i, 1);
            if (rev < 0)
                break;
            got++;
            if (rev > l->last + 1) {
                gap = true;
                break;
            }
            if (strcmp(PQgetvalue(r, i, 2), l->s->server) != 0)
                l->fn(l->arg, rev, PQgetvalue(r, i, 3));
            l->last = rev;
        }
        PQclear(r);
        if (gap || (got < QPG_LISTEN_BATCH && newest > l->last)) {
            qpg_listen_gap(l, newest);
            return 0;
        }
        if (got < QPG_LISTEN_BATCH)
            return 0;
    }
}

static void qpg_listen_prune(qpg_listener *l)
{
    int64_t now = qhv_wall_seconds();
    if (now < l->next_prune)
        return;
    l->next_prune = now + QPG_PRUNE_EVERY;
    if (!l->prune_lead) {
        PGresult *r = PQexec(l->pg, "SELECT pg_try_advisory_lock(" QPG_STR(QPG_LOCK_DUTY_CLASS)
                                    ", hashtext('prune-changes'))");
        l->prune_lead = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                        PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (!l->prune_lead)
            return;
    }
    char before[24];
    snprintf(before, sizeof before, "%lld", (long long)(now - QPG_PRUNE_AGE));
    const char *v[1] = {before};
    PGresult *r = PQexecParams(l->pg,
                               "DELETE FROM changes WHERE created < $1::bigint AND revision <= "
                               "(SELECT max(revision) - " QPG_STR(QPG_PRUNE_KEEP)
                               " FROM changes)",
                               1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char msg[256];
        qpg_message(l->pg, r, msg, sizeof msg);
        QLOG_W("store", "pruning the table of changes: %s", msg);
    } else if (atoi(PQcmdTuples(r)) > 0) {
        QLOG_D("store", "pruned %s changes", PQcmdTuples(r));
    }
    PQclear(r);
}

/* A session that LISTENs; NULL (why logged once by the caller) if none. */
static PGconn *qpg_listen_connect(qpg_listener *l, char *why, size_t n)
{
    PGconn *pg = qpg_connect(l->s, why, n);
    if (!pg)
        return NULL;
    PGresult *r = PQexec(pg, "LISTEN " QPG_CHANNEL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        qpg_message(pg, r, why, n);
    PQclear(r);
    if (!ok) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* Sets *others when one of the notifications libpq holds is of another
 * server's commit (their payload starts with the server's id). */
static void qpg_listen_drain(qpg_listener *l, bool *others)
{
    size_t n = strlen(l->s->server);
    PGnotify *nf;
    while ((nf = PQnotifies(l->pg))) {
        if (strncmp(nf->extra, l->s->server, n) != 0 || nf->extra[n] != ' ')
            *others = true;
        PQfreemem(nf);
    }
}

/* Waits up to ms for the session or the wake pipe: 1 when told to stop.
 * *others: a notification of another server's commit (or the session
 * failed) came, so the table is worth reading before the second is up.
 * Notifications that arrived while the last catch-up ran were read off the
 * socket by that query and wait in libpq: then it does not wait at all. */
static int qpg_listen_wait(qpg_listener *l, int ms, bool *others)
{
    if (l->pg)
        qpg_listen_drain(l, others);
    struct pollfd p[2] = {{.fd = l->wake[0], .events = POLLIN},
                          {.fd = l->pg ? PQsocket(l->pg) : -1, .events = POLLIN}};
    int rc = poll(p, l->pg ? 2 : 1, *others ? 0 : ms);
    if (rc > 0 && (p[0].revents & POLLIN))
        return 1;
    if (rc > 0 && l->pg && (p[1].revents & (POLLIN | POLLERR | POLLHUP))) {
        if (!PQconsumeInput(l->pg)) {
            *others = true;   /* the lost session shows in the next query */
            return 0;
        }
        qpg_listen_drain(l, others);
    }
    return 0;
}

static void *qpg_listen_main(void *arg)
{
    qpg_listener *l = arg;
    int backoff = 1;
    bool lost_said = false;
    bool ignored = false;
    uint64_t read_at = 0;
    for (;;) {
        if (!l->pg) {
            if (qpg_listen_wait(l, backoff * 1000, &ignored))
                break;
            char why[256];
            l->pg = qpg_listen_connect(l, why, sizeof why);
            if (!l->pg) {
                if (!lost_said)
                    QLOG_W("store", "listening to other servers: %s (retrying)", why);
                lost_said = true;
                backoff = backoff < 5 ? backoff + 1 : 5;
                continue;
            }
            QLOG_I("store", "listening to other servers again, from revision %lld",
                   (long long)l->last);
            backoff = 1;
            lost_said = false;
            l->prune_lead = false;
        } else {
            /* Read on another server's commit, and at least every second
             * (a notification may be lost; our own commits are read then). */
            uint64_t now = qhv_now_us();
            int ms = read_at + 1000000 > now ? (int)((read_at + 1000000 - now) / 1000) : 0;
            bool others = false;
            if (qpg_listen_wait(l, ms, &others))
                break;
            if (!others && qhv_now_us() < read_at + 1000000)
                continue;
        }
        read_at = qhv_now_us();
        if (qpg_listen_catch_up(l) < 0 || PQstatus(l->pg) != CONNECTION_OK) {
            QLOG_W("store", "listening to other servers: the connection was lost; reconnecting");
            PQfinish(l->pg);
            l->pg = NULL;
            continue;
        }
        qpg_listen_prune(l);
    }
    return NULL;
}

int qpg_listen_start(qpg *s, void (*fn)(void *, int64_t, const char *), void *arg, qerr *e)
{
    if (s->listener)
        return qerr_set(e, QE_INTERNAL, "already listening");
    qpg_listener *l = xcalloc(1, sizeof *l);
    l->s = s;
    l->fn = fn;
    l->arg = arg;
    l->next_prune = qhv_wall_seconds() + QPG_PRUNE_EVERY;
    char why[256];
    if (pipe(l->wake) < 0) {
        free(l);
        return qerr_set(e, QE_INTERNAL, "listen: pipe: %s", strerror(errno));
    }
    l->pg = qpg_listen_connect(l, why, sizeof why);
    PGresult *r = l->pg ? PQexec(l->pg, "SELECT value FROM meta WHERE key = 'revision'") : NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        l->last = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else if (l->pg)
        qpg_message(l->pg, r, why, sizeof why);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!ok || pthread_create(&l->thread, NULL, qpg_listen_main, l) != 0) {
        if (l->pg)
            PQfinish(l->pg);
        close(l->wake[0]);
        close(l->wake[1]);
        free(l);
        return qerr_set(e, QE_STORAGE, "cannot listen to the other servers' changes: %s",
                        ok ? "no thread" : why);
    }
    s->listener = l;
    return 0;
}

void qpg_listen_stop(qpg *s)
{
    qpg_listener *l = s->listener;
    if (!l)
        return;
    ssize_t w;
    do
        w = write(l->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(l->thread, NULL);
    if (l->pg)
        PQfinish(l->pg);
    close(l->wake[0]);
    close(l->wake[1]);
    free(l);
    s->listener = NULL;
}
