/* The helpers handlers call (server/http.h): header lookup and the bodies
 * of answers. Apart from the listener so that the fuzz harness can run the
 * handler without it. */
#include "server/http.h"
#include "server/http_conn.h"
#include "lib/json.h"
#include <string.h>
#include <strings.h>

const char *qhttp_header(const qhttp_req *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (!strcasecmp(req->headers[i].name, name))
            return req->headers[i].value;
    return NULL;
}

void qhttp_error_body(qhttp_resp *resp, int status, const char *type, const char *msg,
                      const char *detail)
{
    resp->status = status;
    qbuf_reset(&resp->body);
    qbuf_puts(&resp->body, "{\"NeutronError\":{\"type\":");
    qj_emit_string(&resp->body, type, strlen(type));
    qbuf_puts(&resp->body, ",\"message\":");
    qj_emit_string(&resp->body, msg, strlen(msg));
    qbuf_puts(&resp->body, ",\"detail\":");
    qj_emit_string(&resp->body, detail, strlen(detail));
    qbuf_puts(&resp->body, "}}");
}

void qhttp_error(qhttp_resp *resp, const qerr *e)
{
    qhttp_error_body(resp, qerr_status(e->code), qerr_type(e->code), e->msg, e->detail);
}

void qhttp_fail(qhttp_resp *resp, qerr_code code, const char *msg)
{
    qerr e;
    qerr_set(&e, code, "%s", msg);
    qhttp_error(resp, &e);
}

void qhttp_json(qhttp_resp *resp, int status, qj *body)
{
    resp->status = status;
    qbuf_reset(&resp->body);
    qj_emit(body, &resp->body, false);
    qj_free(body);
}
