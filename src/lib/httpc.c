/* httpc with libcurl: one multi handle per client (its connection cache keeps
 * connections alive between calls), one easy handle per call. */
#include "lib/httpc.h"
#include "lib/httpc_impl.h"
#include "lib/util.h"
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define QHTTPC_DEFAULT_TIMEOUT_MS 30000L
#define QHTTPC_DEFAULT_CONNECT_MS 5000L
#define QHTTPC_DEFAULT_MAX_BODY ((size_t)64 << 20)

struct qhttpc {
    CURLM *multi;
    qhttpc_call *calls;         /* every call not yet freed */
};

struct qhttpc_call {
    qhttpc *client;
    qhttpc_call *next;
    CURL *easy;                 /* NULL once done */
    struct curl_slist *headers;
    bool done;
    bool https;                 /* the URL's scheme, for resp.tls_failed */
    char *capture;              /* response header name to keep, or NULL */
    qhttpc_resp resp;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t qhttpc_once = PTHREAD_ONCE_INIT;

static void qhttpc_global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

qhttpc *qhttpc_new(void)
{
    pthread_once(&qhttpc_once, qhttpc_global_init);
    qhttpc *c = xcalloc(1, sizeof *c);
    c->multi = curl_multi_init();
    if (!c->multi)
        abort();    /* out of memory, as xmalloc */
    return c;
}

static void qhttpc_release_easy(qhttpc_call *call)
{
    if (call->easy) {
        curl_multi_remove_handle(call->client->multi, call->easy);
        curl_easy_cleanup(call->easy);
        call->easy = NULL;
    }
    curl_slist_free_all(call->headers);
    call->headers = NULL;
}

void qhttpc_call_free(qhttpc_call *call)
{
    if (!call)
        return;
    qhttpc_release_easy(call);
    for (qhttpc_call **p = &call->client->calls; *p; p = &(*p)->next) {
        if (*p == call) {
            *p = call->next;
            break;
        }
    }
    qhttpc_resp_free(&call->resp);
    free(call->capture);
    free(call);
}

void qhttpc_free(qhttpc *c)
{
    if (!c)
        return;
    while (c->calls)
        qhttpc_call_free(c->calls);
    curl_multi_cleanup(c->multi);
    free(c);
}

static size_t qhttpc_write(char *p, size_t size, size_t n, void *arg)
{
    qhttpc_call *call = arg;
    size_t len = size * n;
    if (!qbuf_append(&call->resp.body, p, len))
        return 0;   /* over max_body: curl fails the transfer (CURLE_WRITE_ERROR) */
    return len;
}

/* Keeps the value of the header named call->capture (the last one seen: a
 * redirect or 100-continue would come before the final answer's). */
static size_t qhttpc_header(char *p, size_t size, size_t n, void *arg)
{
    qhttpc_call *call = arg;
    size_t len = size * n, nl = strlen(call->capture);
    if (len > nl && p[nl] == ':' && !strncasecmp(p, call->capture, nl)) {
        const char *v = p + nl + 1;
        size_t vl = len - nl - 1;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' ||
                      v[vl - 1] == '\t'))
            vl--;
        free(call->resp.header);
        call->resp.header = xstrndup(v, vl);
    }
    return len;
}

/* curl's results that mean the TLS layer refused us, once connected over
 * https (a refused or dropped TCP connection is not among them). */
static bool qhttpc_tls_code(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return true;
    default:
        return false;
    }
}

static void qhttpc_fail(qhttpc_call *call, const char *msg)
{
    qhttpc_release_easy(call);
    call->resp.status = 0;
    snprintf(call->resp.error, sizeof call->resp.error, "%s", msg);
    call->done = true;
}

qhttpc_call *qhttpc_start(qhttpc *c, const qhttpc_req *req)
{
    qhttpc_call *call = xcalloc(1, sizeof *call);
    call->client = c;
    call->next = c->calls;
    c->calls = call;
    qbuf_init(&call->resp.body, req->max_body ? req->max_body : QHTTPC_DEFAULT_MAX_BODY);
    call->easy = curl_easy_init();
    if (!call->easy) {
        qhttpc_fail(call, "curl_easy_init failed");
        return call;
    }
    CURL *e = call->easy;
    call->https = !strncasecmp(req->url, "https://", 8);
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms
                                                                : QHTTPC_DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms > 0
                                                       ? req->connect_timeout_ms
                                                       : QHTTPC_DEFAULT_CONNECT_MS);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, qhttpc_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(e, CURLOPT_PRIVATE, call);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
    if (req->capture_header && *req->capture_header) {
        call->capture = xstrdup(req->capture_header);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, qhttpc_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
    }
    /* libcurl copies these strings (and reuses a connection only for the
     * same TLS settings). */
    const qhttpc_tls *tls = req->tls;
    if (tls && tls->ca_file && *tls->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, tls->ca_file);
    if (tls && tls->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (tls && tls->cert_file && *tls->cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, tls->cert_file);
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (tls && tls->key_file && *tls->key_file) {
        curl_easy_setopt(e, CURLOPT_SSLKEY, tls->key_file);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    }
    const char *method = req->method ? req->method : "GET";
    if (req->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body);
        if (strcmp(method, "POST"))
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET")) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    /* No "Expect: 100-continue" round trip for larger bodies. */
    call->headers = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        call->headers = curl_slist_append(call->headers, req->headers[i]);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, call->headers);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
        qhttpc_fail(call, "curl_multi_add_handle failed");
    return call;
}

/* Collects finished transfers; returns how many. */
static int qhttpc_collect(qhttpc *c)
{
    int done = 0, left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        qhttpc_call *call = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
        if (!call)
            continue;
        CURLcode rc = msg->data.result;
        if (rc == CURLE_OK) {
            long status = 0;
            curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
            call->resp.status = (int)status;
            call->resp.error[0] = '\0';
            qhttpc_release_easy(call);
            call->done = true;
        } else {
            char why[256];
            if (rc == CURLE_WRITE_ERROR && call->resp.body.overflow)
                snprintf(why, sizeof why, "response larger than %zu bytes", call->resp.body.max);
            else
                snprintf(why, sizeof why, "%s", call->errbuf[0] ? call->errbuf
                                                                : curl_easy_strerror(rc));
            qhttpc_fail(call, why);
            call->resp.tls_failed = call->https && qhttpc_tls_code(rc);
        }
        done++;
    }
    return done;
}

int qhttpc_wait(qhttpc *c, int timeout_ms)
{
    uint64_t deadline = qhv_now_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
    int done = 0;
    for (;;) {
        int running = 0;
        curl_multi_perform(c->multi, &running);
        done += qhttpc_collect(c);
        uint64_t now = qhv_now_us();
        if (done || now >= deadline)
            return done;
        int ms = (int)((deadline - now + 999) / 1000);
        if (!running) {
            /* Nothing to drive: just sleep out the timeout (the caller's tick). */
            struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            return done;
        }
        curl_multi_poll(c->multi, NULL, 0, ms, NULL);
    }
}

bool qhttpc_done(const qhttpc_call *call) { return call && call->done; }

int qhttpc_result(qhttpc_call *call, qhttpc_resp *ret)
{
    return qhttpc_resp_hand_over(call && call->done, call ? &call->resp : NULL, ret);
}

