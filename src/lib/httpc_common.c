/* httpc_common: the parts of src/lib/httpc.h that only use its other
 * functions, shared by both implementations (httpc.c with libcurl,
 * httpc_winhttp.c with WinHTTP). */
#include "lib/httpc.h"
#include "lib/httpc_impl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qhttpc_resp_hand_over(bool done, qhttpc_resp *held, qhttpc_resp *ret)
{
    memset(ret, 0, sizeof *ret);
    qbuf_init(&ret->body, 0);
    if (!done) {
        snprintf(ret->error, sizeof ret->error, "call not finished");
        return -1;
    }
    qbuf_free(&ret->body);
    *ret = *held;
    memset(held, 0, sizeof *held);
    qbuf_init(&held->body, 1);
    return ret->status > 0 ? ret->status : -1;
}

int qhttpc_request(qhttpc *c, const qhttpc_req *req, qhttpc_resp *ret)
{
    qhttpc_call *call = qhttpc_start(c, req);
    while (!qhttpc_done(call))
        qhttpc_wait(c, 1000);
    int rc = qhttpc_result(call, ret);
    qhttpc_call_free(call);
    return rc;
}

void qhttpc_resp_free(qhttpc_resp *r)
{
    if (!r)
        return;
    qbuf_free(&r->body);
    free(r->header);
    r->header = NULL;
    r->status = 0;
}
