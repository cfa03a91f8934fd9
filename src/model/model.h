/* model: the tenant network model behind the API. The resource engine
 * (resource.h) runs every resource from its attribute table; the per-resource
 * files (network.c, subnet.c, port.c, ...) add the rules a table cannot say.
 *
 * Ownership: qmodel_new returns a model the caller frees with qmodel_free
 * (accepts NULL); the store and the configuration are borrowed and must
 * outlive the model. */
#ifndef QHV_MODEL_H
#define QHV_MODEL_H
#include <stdbool.h>
#include <stdint.h>
#include "lib/err.h"
#include "lib/json.h"
#include "model/config.h"
#include "store/store.h"
#include "model/touch.h"

/* Who is asking. Built in one place (server/identity.c) from the request. */
typedef struct qctx {
    char project_id[256];
    char user_id[256];
    bool is_admin;
    bool read_only;          /* reader role: may read, not write */
} qctx;

typedef struct qmodel {
    qstore *store;
    const qconf *conf;
    /* Told after every committed write that touched something a host plan
     * reads, with its revision, in commit order (called under the store's
     * write lock: keep it short). The plan feed. */
    /* Atomic: the feed clears it at shutdown while API threads may commit. */
    void (*_Atomic on_commit)(void *ctx, const qtouch *t, int64_t revision);
    void *commit_ctx;
    /* The revision of the last write that touched a plan, set before its
     * COMMIT (so a reader that sees the revision also sees this): a host
     * plan checked at an older revision may be stale. */
    _Atomic int64_t planned_rev;
    /* Told after a commit that recorded events for Nova (the sender wakes;
     * called outside the write lock). */
    void (*_Atomic on_nova_events)(void *ctx);
    void *nova_ctx;
    /* Other servers' commits: the newest revision up to which every one has
     * been heard and told to on_commit (qmodel_heard); INT64_MAX when no
     * other server can write (SQLite), so that only planned_rev counts. */
    _Atomic int64_t heard_rev;
    /* Events dropped from a full outbox since start (model/nova.c). */
    _Atomic int64_t nova_dropped;
} qmodel;

/* One write operation: a request's transaction. */
typedef struct qop {
    qmodel *m;
    const qctx *ctx;
    int64_t now;             /* wall clock seconds for timestamps */
    bool internal;           /* creating on the server's own behalf (no policy/quota) */
    qtouch touched;          /* what this write changed, for host plans */
    qtouch_set created;      /* ids created by this op (a bulk request's own items) */
    bool nova_events;        /* this write recorded events for Nova (model/nova.h) */
    int64_t revision;        /* set by qmodel_finish: the revision committed */
} qop;

/* Ends a write op: commits (rc == 0) or rolls back, tells on_commit, and
 * frees op->touched. Returns rc or -1 if the commit failed. */
int qmodel_finish(qop *op, int rc, qerr *e);

/* The documents sql selects (its first column, a JSON body; arg, when not
 * NULL, bound to ?1), parsed into a new array *ret that the caller frees;
 * *ret is NULL when it fails. */
int qmodel_docs(const qmodel *m, const char *sql, const char *arg, qj **ret, qerr *e);
/* The same with the first column as strings (ids, addresses). */
int qmodel_texts(const qmodel *m, const char *sql, const char *arg, qj **ret, qerr *e);

/* Told by the store's listener (qstore_listen) of a commit another server
 * made (note: what it touched, qtouch_to_note; NULL: unknown, revisions were
 * missed): passes it on to on_commit and on_nova_events as if it were ours. */
void qmodel_heard(void *m, int64_t revision, const char *note);

qmodel *qmodel_new(qstore *store, const qconf *conf);
void qmodel_free(qmodel *m);

#endif
