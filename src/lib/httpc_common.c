/* httpc_common: the parts of src/lib/httpc.h that only use its other
 * functions, shared by both implementations (httpc.c with libcurl,
 * httpc_winhttp.c with WinHTTP). */
#include "lib/httpc.h"
#include <stdlib.h>

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
