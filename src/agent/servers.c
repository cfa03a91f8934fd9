#include "agent/servers.h"
#include "agent/reconcile.h"
#include "lib/buf.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

void qag_servers_init(qag_servers *s, const qurls *urls)
{
    *s = (qag_servers){.urls = urls};
}

const char *qag_servers_url(const qag_servers *s) { return s->urls->v[s->cur]; }

bool qag_servers_unavailable(int status) { return status < 0 || status >= 500; }

uint64_t qag_servers_failed(qag_servers *s, bool *round_done)
{
    size_t n = s->urls->n;
    s->failed++;
    s->cur = (s->cur + 1) % n;
    s->moved = true;
    *round_done = s->failed % n == 0;
    if (!*round_done)
        return 0;
    return qag_backoff_us((unsigned)(s->failed / n), QAG_SERVERS_BASE_US, QAG_SERVERS_CAP_US);
}

bool qag_servers_answered(qag_servers *s)
{
    bool first = s->moved;
    s->failed = 0;
    s->moved = false;
    return first;
}

/* A short reason for a failure, for *skipped. */
static void qag_servers_why(int status, const qhttpc_resp *r, qbuf *b)
{
    if (status < 0)
        qbuf_printf(b, "%s", r->error);
    else
        qbuf_printf(b, "HTTP %d", status);
}

int qag_servers_request(qag_servers *s, qhttpc *c, const char *path, const qhttpc_req *req,
                        qhttpc_resp *ret, char **skipped)
{
    *skipped = NULL;
    qbuf why;
    qbuf_init(&why, 0);
    int status = -1;
    for (size_t tried = 0; tried < s->urls->n; tried++) {
        if (tried)
            qhttpc_resp_free(ret);
        char *url = xasprintf("%s%s", qag_servers_url(s), path);
        qhttpc_req r = *req;
        r.url = url;
        status = qhttpc_request(c, &r, ret);
        free(url);
        if (status >= 0 && status != 503)
            break;
        if (tried + 1 == s->urls->n)
            break;      /* none answered: stay, say the last failure */
        qbuf_printf(&why, "%s%s (", why.len ? "; " : "", qag_servers_url(s));
        qag_servers_why(status, ret, &why);
        qbuf_puts(&why, ")");
        s->cur = (s->cur + 1) % s->urls->n;
    }
    if (why.len)
        *skipped = qbuf_steal(&why, NULL);
    qbuf_free(&why);
    return status;
}
