/* api: routes Networking API v2.0 requests to the resource engine and
 * shapes the answers (version discovery, extensions, collections, links). */
#ifndef QHV_SERVER_API_H
#define QHV_SERVER_API_H
#include "model/model.h"
#include "server/http.h"

struct qfeed;
struct qnovasend;

/* Longest path segment accepted (a tag may be 255 characters percent-encoded). */
#define QAPI_MAX_SEGMENT 1024

typedef struct qapi {
    qmodel *model;
    const qconf *conf;
    struct qfeed *feed;      /* host plan feed (channel watch) */
    struct qnovasend *nova;  /* events to Nova; NULL when [nova] names none */
} qapi;

/* The qhttp handler; ctx is a qapi. */
void qapi_handle(void *ctx, const qhttp_req *req, qhttp_resp *resp);

#endif
