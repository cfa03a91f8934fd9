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
} qmodel;

/* One write operation: a request's transaction. */
typedef struct qop {
    qmodel *m;
    const qctx *ctx;
    int64_t now;             /* wall clock seconds for timestamps */
    bool internal;           /* creating on the server's own behalf (no policy/quota) */
} qop;

qmodel *qmodel_new(qstore *store, const qconf *conf);
void qmodel_free(qmodel *m);

#endif
