#include "model/model.h"
#include "lib/util.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

qmodel *qmodel_new(qstore *store, const qconf *conf)
{
    qmodel *m = xcalloc(1, sizeof *m);
    m->store = store;
    m->conf = conf;
    atomic_store(&m->heard_rev, qstore_is_shared(store) ? qstore_revision(store) : INT64_MAX);
    return m;
}

void qmodel_free(qmodel *m) { free(m); }

static void qmodel_max(_Atomic int64_t *v, int64_t rev)
{
    int64_t cur = atomic_load(v);
    while (cur < rev && !atomic_compare_exchange_weak(v, &cur, rev))
        ;
}

typedef struct qmodel_commit {
    qmodel *m;
    const qtouch *touched;
    int64_t rev;
} qmodel_commit;

static void qmodel_committed(void *arg)
{
    qmodel_commit *c = arg;
    void (*fn)(void *, const qtouch *, int64_t) = atomic_load(&c->m->on_commit);
    if (fn && c->touched)
        fn(c->m->commit_ctx, c->touched, c->rev);
    /* Our own commit is heard as soon as made, when every revision before
     * it was (the listener passes on only other servers' commits): without
     * this, a server alone on a shared database would take every plan as
     * possibly stale. */
    int64_t before = c->rev - 1;
    atomic_compare_exchange_strong(&c->m->heard_rev, &before, c->rev);
}

int qmodel_finish(qop *op, int rc, qerr *e)
{
    qmodel *m = op->m;
    int64_t rev = rc == 0 ? qstore_bump_revision(m->store, e) : -1;
    if (rc == 0 && rev < 0)
        rc = -1;
    bool planned = !qtouch_empty(&op->touched);
    if (rc == 0 && qstore_is_shared(m->store)) {
        /* Every commit, also one that touched nothing: the other servers
         * then see every revision, so a missing one means missed changes. */
        char *note = qtouch_to_note(&op->touched, op->nova_events);
        rc = qstore_publish(m->store, rev, note, e);
        free(note);
    }
    if (rc == 0) {
        /* Before COMMIT: should the commit fail, plans are merely re-checked. */
        if (planned)
            qmodel_max(&m->planned_rev, rev);
        qmodel_commit c = {m, planned ? &op->touched : NULL, rev};
        rc = qstore_commit_then(m->store, qmodel_committed, &c, e);
        if (rc == 0)
            op->revision = rev;
    } else {
        qstore_rollback(m->store);
    }
    if (rc == 0 && op->nova_events) {
        void (*wake)(void *) = atomic_load(&m->on_nova_events);
        if (wake)
            wake(m->nova_ctx);
    }
    op->nova_events = false;
    qtouch_clear(&op->touched);
    qtouch tmp = {.hosts = op->created};
    qtouch_clear(&tmp);
    memset(&op->created, 0, sizeof op->created);
    return rc < 0 ? -1 : 0;
}

void qmodel_heard(void *arg, int64_t revision, const char *note)
{
    qmodel *m = arg;
    qtouch t = {0};
    bool nova = false;
    if (!note || qtouch_from_note(note, &t, &nova) < 0) {
        t.all = true;      /* missed or unreadable: every plan may have changed */
        nova = true;
    }
    if (!qtouch_empty(&t)) {
        qmodel_max(&m->planned_rev, revision);
        void (*fn)(void *, const qtouch *, int64_t) = atomic_load(&m->on_commit);
        if (fn)
            fn(m->commit_ctx, &t, revision);
    }
    qtouch_clear(&t);
    qmodel_max(&m->heard_rev, revision);
    void (*wake)(void *) = atomic_load(&m->on_nova_events);
    if (nova && wake)
        wake(m->nova_ctx);
}

/* The rows of sql(arg) into a new array: each first column parsed as JSON
 * (docs) or as a string. */
static int qmodel_rows(const qmodel *m, const char *sql, const char *arg, bool docs, qj **ret, qerr *e)
{
    *ret = NULL;
    qstmt *st = qstore_stmt(m->store, sql, e);
    if (!st)
        return -1;
    *ret = qj_array();
    if (arg)
        qstmt_bind_text(st, 1, arg, -1, QSTORE_TRANSIENT);
    int rc;
    while ((rc = qstmt_step(st)) == QSTORE_ROW) {
        const char *text = qstmt_column_text(st, 0);
        qj *o = !text ? NULL
                : docs ? qj_parse(text, (size_t)qstmt_column_bytes(st, 0), NULL, NULL)
                       : qj_str(text);
        if (o)
            qj_append(*ret, o);
    }
    qstmt_reset(st);
    if (rc == QSTORE_DONE)
        return 0;
    qj_free(*ret);
    *ret = NULL;
    return qstore_fail(m->store, e, sql);
}

int qmodel_docs(const qmodel *m, const char *sql, const char *arg, qj **ret, qerr *e)
{
    return qmodel_rows(m, sql, arg, true, ret, e);
}

int qmodel_texts(const qmodel *m, const char *sql, const char *arg, qj **ret, qerr *e)
{
    return qmodel_rows(m, sql, arg, false, ret, e);
}
