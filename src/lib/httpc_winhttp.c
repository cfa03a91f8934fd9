/* httpc with WinHTTP (Windows): one WinHTTP session per client (its
 * connection pool keeps connections alive between calls), one worker thread
 * per call running WinHTTP's synchronous API, so that the agent's
 * single-threaded loop keeps the interface's asynchronous shape.
 *
 * A call's worker owns the call's fields until it sets `finished`; the
 * loop's thread then joins it (qhttpc_wait) and only reads them. Cancelling
 * (qhttpc_call_free of a running call, or its timeout expiring) closes the
 * request handle from the loop's thread, WinHTTP's documented way to abort
 * a synchronous call; `lock` keeps that close and the worker's own close
 * from both happening. qhttpc_call_free never waits for a worker: one still
 * running is orphaned and frees its call itself when WinHTTP lets go (Wine,
 * for one, finishes a receive in progress first). Workers hold a reference
 * on the client's session, so that qhttpc_free does not wait either.
 *
 * TLS: 1.2 and 1.3 enabled on the session explicitly (WINHTTP_OPTION_SECURE_PROTOCOLS;
 * WinHTTP's default on Windows 8/Server 2012 is SSL3 and TLS 1.0 only, and
 * qhv-server speaks TLS 1.2+), or TLS 1.2 alone where WinHTTP refuses the
 * TLS 1.3 flag (before Windows 11/Server 2022); if WinHTTP refuses even
 * that, https:// calls fail saying so. Certificates: the Windows
 * certificate store by default; [ssl] insecure turns
 * WinHTTP's checks off; [ssl] ca_file verifies the server against that file
 * only (lib/cachain_win.h), before the request goes out: in the
 * SENDING_REQUEST notification, which comes after the handshake and before
 * any byte of the request. Client certificates (cert_file/key_file) are not
 * supported: such calls fail and say so. Proxies: WinHTTP's own setting
 * (netsh winhttp show proxy; direct by default). Redirects are not followed,
 * as with libcurl's default. */
#include "lib/httpc.h"
#include "lib/httpc_impl.h"
#include "lib/cachain_win.h"
#include "lib/util.h"
#include <windows.h>
#include <winhttp.h>
#include <process.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Older SDK headers lack them (values of Microsoft's winhttp.h). */
#ifndef WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_2
#define WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_2 0x00000800
#endif
#ifndef WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_3
#define WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_3 0x00002000
#endif

#define QHTTPC_DEFAULT_TIMEOUT_MS 30000L
#define QHTTPC_DEFAULT_CONNECT_MS 5000L
#define QHTTPC_DEFAULT_MAX_BODY ((size_t)64 << 20)

struct qhttpc {
    HINTERNET session;
    HANDLE wake;                /* auto-reset: some call finished */
    qhttpc_call *calls;         /* every call not yet freed */
    volatile LONG refs;         /* the owner's, and one per running worker */
    char tls_error[200];        /* why TLS 1.2 could not be enabled ("" = it is) */
};

struct qhttpc_call {
    qhttpc *client;
    qhttpc_call *next;
    /* The request, copied at start (read by the worker). */
    wchar_t *url, *method, *headers, *capture;
    char *body;
    size_t body_len;
    char *ca_file;
    bool https, insecure;
    DWORD timeout_ms, connect_ms;
    uint64_t deadline_us;       /* the whole exchange's end (the loop enforces it) */
    /* Worker ↔ loop. */
    HANDLE thread;
    CRITICAL_SECTION lock;      /* guards req and cancelled */
    HINTERNET req;
    bool cancelled;
    char cancel_why[128];
    bool finished;              /* the worker is done with resp */
    bool orphaned;              /* freed by its owner while running: the worker frees it */
    /* Worker only, until finished. */
    qcachain *cas;
    wchar_t *host;
    bool verify_failed, verified;
    char verify_why[256];
    qhttpc_resp resp;
    /* Loop only. */
    bool done;                  /* finished seen and the worker joined */
};

static wchar_t *qhttpc_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    if (n <= 0)
        n = 1;
    wchar_t *w = xcalloc((size_t)n, sizeof *w);
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

static char *qhttpc_narrow(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    if (n <= 0)
        n = 1;
    char *s = xcalloc((size_t)n, 1);
    WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    return s;
}

static void qhttpc_error_text(DWORD e, char *out, size_t len);

/* TLS 1.2 and 1.3, else TLS 1.2 alone (WinHTTP before Windows 11/Server
 * 2022 refuses the TLS 1.3 flag with ERROR_INVALID_PARAMETER); if even that
 * is refused, c->tls_error says why and https:// calls fail with it rather
 * than fall back to WinHTTP's defaults (SSL3/TLS 1.0 on Windows 8/2012). */
static void qhttpc_secure_protocols(qhttpc *c)
{
    DWORD p = WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_2 | WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_3;
    if (WinHttpSetOption(c->session, WINHTTP_OPTION_SECURE_PROTOCOLS, &p, sizeof p))
        return;
    p = WINHTTP_FLAG_SECURE_PROTOCOL_TLS1_2;
    if (WinHttpSetOption(c->session, WINHTTP_OPTION_SECURE_PROTOCOLS, &p, sizeof p))
        return;
    char why[160];
    qhttpc_error_text(GetLastError(), why, sizeof why);
    snprintf(c->tls_error, sizeof c->tls_error,
             "WinHTTP refused to enable TLS 1.2 (WINHTTP_OPTION_SECURE_PROTOCOLS): %s", why);
}

qhttpc *qhttpc_new(void)
{
    qhttpc *c = xcalloc(1, sizeof *c);
    c->session = WinHttpOpen(L"qhv-agent", WINHTTP_ACCESS_TYPE_DEFAULT_PROXY,
                             WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
    c->wake = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (!c->session || !c->wake)
        abort();    /* out of resources, as xmalloc */
    c->refs = 1;
    qhttpc_secure_protocols(c);
    return c;
}

static void qhttpc_unref(qhttpc *c)
{
    if (InterlockedDecrement(&c->refs) == 0) {
        WinHttpCloseHandle(c->session);
        CloseHandle(c->wake);
        free(c);
    }
}

static bool qhttpc_finished(qhttpc_call *call)
{
    EnterCriticalSection(&call->lock);
    bool f = call->finished;
    LeaveCriticalSection(&call->lock);
    return f;
}

/* Aborts a running call (its worker's blocking WinHTTP call returns). */
static void qhttpc_cancel(qhttpc_call *call, const char *why)
{
    EnterCriticalSection(&call->lock);
    if (!call->cancelled) {
        call->cancelled = true;
        snprintf(call->cancel_why, sizeof call->cancel_why, "%s", why);
    }
    if (call->req) {
        WinHttpCloseHandle(call->req);
        call->req = NULL;
    }
    LeaveCriticalSection(&call->lock);
}

/* Joins a finished call's worker (it is returning, if not gone). */
static void qhttpc_join(qhttpc_call *call)
{
    if (call->thread) {
        WaitForSingleObject(call->thread, INFINITE);
        CloseHandle(call->thread);
        call->thread = NULL;
    }
    call->done = true;
}

static void qhttpc_call_destroy(qhttpc_call *call)
{
    if (call->thread)
        CloseHandle(call->thread);
    DeleteCriticalSection(&call->lock);
    qhttpc_resp_free(&call->resp);
    qcachain_free(call->cas);
    free(call->url);
    free(call->method);
    free(call->headers);
    free(call->capture);
    free(call->body);
    free(call->ca_file);
    free(call->host);
    free(call);
}

void qhttpc_call_free(qhttpc_call *call)
{
    if (!call)
        return;
    for (qhttpc_call **p = &call->client->calls; *p; p = &(*p)->next) {
        if (*p == call) {
            *p = call->next;
            break;
        }
    }
    if (!call->done) {
        qhttpc_cancel(call, "cancelled");
        EnterCriticalSection(&call->lock);
        bool running = !call->finished;
        call->orphaned = running;
        LeaveCriticalSection(&call->lock);
        if (running)
            return;     /* the worker frees it */
        qhttpc_join(call);
    }
    qhttpc_call_destroy(call);
}

void qhttpc_free(qhttpc *c)
{
    if (!c)
        return;
    while (c->calls)
        qhttpc_call_free(c->calls);
    qhttpc_unref(c);    /* orphaned workers may still hold the session */
}

/* The names of the WinHTTP errors a client meets (FormatMessage may have no
 * text for them, as under Wine). */
static const char *qhttpc_error_name(DWORD e)
{
    switch (e) {
    case ERROR_WINHTTP_TIMEOUT: return "ERROR_WINHTTP_TIMEOUT";
    case ERROR_WINHTTP_NAME_NOT_RESOLVED: return "ERROR_WINHTTP_NAME_NOT_RESOLVED";
    case ERROR_WINHTTP_CANNOT_CONNECT: return "ERROR_WINHTTP_CANNOT_CONNECT";
    case ERROR_WINHTTP_CONNECTION_ERROR: return "ERROR_WINHTTP_CONNECTION_ERROR";
    case ERROR_WINHTTP_INVALID_SERVER_RESPONSE: return "ERROR_WINHTTP_INVALID_SERVER_RESPONSE";
    case ERROR_WINHTTP_OPERATION_CANCELLED: return "ERROR_WINHTTP_OPERATION_CANCELLED";
    case ERROR_WINHTTP_SECURE_FAILURE: return "ERROR_WINHTTP_SECURE_FAILURE";
    case ERROR_WINHTTP_SECURE_CHANNEL_ERROR: return "ERROR_WINHTTP_SECURE_CHANNEL_ERROR";
    case ERROR_WINHTTP_SECURE_INVALID_CA: return "ERROR_WINHTTP_SECURE_INVALID_CA";
    case ERROR_WINHTTP_SECURE_INVALID_CERT: return "ERROR_WINHTTP_SECURE_INVALID_CERT";
    case ERROR_WINHTTP_SECURE_CERT_DATE_INVALID: return "ERROR_WINHTTP_SECURE_CERT_DATE_INVALID";
    case ERROR_WINHTTP_SECURE_CERT_CN_INVALID: return "ERROR_WINHTTP_SECURE_CERT_CN_INVALID";
    case ERROR_WINHTTP_SECURE_CERT_REVOKED: return "ERROR_WINHTTP_SECURE_CERT_REVOKED";
    case ERROR_WINHTTP_SECURE_CERT_REV_FAILED: return "ERROR_WINHTTP_SECURE_CERT_REV_FAILED";
    case ERROR_WINHTTP_SECURE_CERT_WRONG_USAGE: return "ERROR_WINHTTP_SECURE_CERT_WRONG_USAGE";
    case ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED: return "ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED";
    default: return NULL;
    }
}

/* WinHTTP's (or the system's) text for error e. */
static void qhttpc_error_text(DWORD e, char *out, size_t len)
{
    const char *name = qhttpc_error_name(e);
    char text[200];
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_HMODULE | FORMAT_MESSAGE_FROM_SYSTEM |
                                 FORMAT_MESSAGE_IGNORE_INSERTS,
                             GetModuleHandleA("winhttp.dll"), e, 0, text, sizeof text, NULL);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ' ||
                 text[n - 1] == '.'))
        text[--n] = '\0';
    if (n)
        snprintf(out, len, "%s (WinHTTP error %lu%s%s)", text, (unsigned long)e,
                 name ? " " : "", name ? name : "");
    else
        snprintf(out, len, "WinHTTP error %lu%s%s", (unsigned long)e, name ? " " : "",
                 name ? name : "");
}

/* WinHTTP's errors that mean the TLS layer refused us once connected over
 * https, or the server dropped the connection without an answer (a refused
 * or unreachable TCP connection is not among them). */
static bool qhttpc_tls_error(DWORD e)
{
    switch (e) {
    case ERROR_WINHTTP_SECURE_FAILURE:
    case ERROR_WINHTTP_SECURE_CERT_DATE_INVALID:
    case ERROR_WINHTTP_SECURE_CERT_CN_INVALID:
    case ERROR_WINHTTP_SECURE_INVALID_CA:
    case ERROR_WINHTTP_SECURE_CERT_REV_FAILED:
    case ERROR_WINHTTP_SECURE_CHANNEL_ERROR:
    case ERROR_WINHTTP_SECURE_INVALID_CERT:
    case ERROR_WINHTTP_SECURE_CERT_REVOKED:
    case ERROR_WINHTTP_SECURE_CERT_WRONG_USAGE:
    case ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED:
    case ERROR_WINHTTP_CONNECTION_ERROR:
    case ERROR_WINHTTP_INVALID_SERVER_RESPONSE:
        return true;
    default:
        return false;
    }
}

/* Verifies the server against ca_file in the notification that comes after
 * the handshake and before the request is sent; a failure closes the
 * request, so that nothing (no credential) reaches that server. */
static void CALLBACK qhttpc_on_status(HINTERNET h, DWORD_PTR ctx, DWORD status, LPVOID info,
                                      DWORD info_len)
{
    qhttpc_call *call = (qhttpc_call *)ctx;
    if (status != WINHTTP_CALLBACK_STATUS_SENDING_REQUEST || !call || !call->cas)
        return;
    PCCERT_CONTEXT cert = NULL;
    DWORD len = sizeof cert;
    if (!WinHttpQueryOption(h, WINHTTP_OPTION_SERVER_CERT_CONTEXT, &cert, &len) || !cert) {
        snprintf(call->verify_why, sizeof call->verify_why,
                 "the server's certificate is not available for verification");
        call->verify_failed = true;
    } else {
        call->verify_failed = qcachain_verify(call->cas, cert, call->host, call->verify_why,
                                              sizeof call->verify_why) < 0;
        call->verified = !call->verify_failed;
        CertFreeCertificateContext(cert);
    }
    if (call->verify_failed)
        qhttpc_cancel(call, "server certificate rejected");
}

/* The value of the response header call->capture, or NULL. */
static char *qhttpc_query_header(HINTERNET req, const wchar_t *name)
{
    DWORD len = 0;
    WinHttpQueryHeaders(req, WINHTTP_QUERY_CUSTOM, name, NULL, &len, WINHTTP_NO_HEADER_INDEX);
    if (GetLastError() != ERROR_INSUFFICIENT_BUFFER || !len)
        return NULL;
    wchar_t *w = xcalloc(len / sizeof(wchar_t) + 1, sizeof *w);
    char *v = NULL;
    if (WinHttpQueryHeaders(req, WINHTTP_QUERY_CUSTOM, name, w, &len,
                            WINHTTP_NO_HEADER_INDEX)) {
        char *s = qhttpc_narrow(w), *p = s;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t l = strlen(p);
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        v = xstrndup(p, l);
        free(s);
    }
    free(w);
    return v;
}

/* One exchange; returns 0, or the WinHTTP error that ended it. */
static DWORD qhttpc_exchange(qhttpc_call *call, HINTERNET conn, const wchar_t *path)
{
    HINTERNET req = WinHttpOpenRequest(conn, call->method, path, NULL, WINHTTP_NO_REFERER,
                                       WINHTTP_DEFAULT_ACCEPT_TYPES,
                                       call->https ? WINHTTP_FLAG_SECURE : 0);
    if (!req)
        return GetLastError();
    EnterCriticalSection(&call->lock);
    bool cancelled = call->cancelled;
    if (!cancelled)
        call->req = req;
    LeaveCriticalSection(&call->lock);
    if (cancelled) {
        WinHttpCloseHandle(req);
        return ERROR_WINHTTP_OPERATION_CANCELLED;
    }
    /* Every step may take the whole timeout; the loop enforces the total. */
    WinHttpSetTimeouts(req, (int)call->connect_ms, (int)call->connect_ms, (int)call->timeout_ms,
                       (int)call->timeout_ms);
    DWORD policy = WINHTTP_OPTION_REDIRECT_POLICY_NEVER;
    WinHttpSetOption(req, WINHTTP_OPTION_REDIRECT_POLICY, &policy, sizeof policy);
    DWORD nocookies = WINHTTP_DISABLE_COOKIES;
    WinHttpSetOption(req, WINHTTP_OPTION_DISABLE_FEATURE, &nocookies, sizeof nocookies);
    if (call->https && (call->insecure || call->cas)) {
        /* ca_file: WinHTTP's own check would judge the chain by the Windows
         * store (which does not know that CA, nor complete a chain the
         * server sent without it); the callback checks everything instead
         * (chain to the file's CAs, validity, usage, name). */
        DWORD flags = SECURITY_FLAG_IGNORE_UNKNOWN_CA | SECURITY_FLAG_IGNORE_CERT_DATE_INVALID |
                      SECURITY_FLAG_IGNORE_CERT_CN_INVALID |
                      SECURITY_FLAG_IGNORE_CERT_WRONG_USAGE;
        WinHttpSetOption(req, WINHTTP_OPTION_SECURITY_FLAGS, &flags, sizeof flags);
    }
    if (call->cas)
        WinHttpSetStatusCallback(req, qhttpc_on_status, WINHTTP_CALLBACK_FLAG_SEND_REQUEST, 0);
    DWORD blen = (DWORD)call->body_len;
    if (!WinHttpSendRequest(req, call->headers, (DWORD)-1L,
                            call->body ? call->body : WINHTTP_NO_REQUEST_DATA, blen, blen,
                            (DWORD_PTR)call) ||
        !WinHttpReceiveResponse(req, NULL))
        return GetLastError();
    DWORD status = 0, len = sizeof status;
    if (!WinHttpQueryHeaders(req, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER,
                             WINHTTP_HEADER_NAME_BY_INDEX, &status, &len,
                             WINHTTP_NO_HEADER_INDEX))
        return GetLastError();
    if (call->capture)
        call->resp.header = qhttpc_query_header(req, call->capture);
    char chunk[65536];
    for (;;) {
        DWORD n = 0;
        if (!WinHttpReadData(req, chunk, sizeof chunk, &n))
            return GetLastError();
        if (!n)
            break;
        if (!qbuf_append(&call->resp.body, chunk, n))
            return ERROR_NOT_ENOUGH_MEMORY;     /* over max_body: told apart below */
    }
    call->resp.status = (int)status;
    return 0;
}

static unsigned __stdcall qhttpc_worker(void *arg)
{
    qhttpc_call *call = arg;
    char why[256] = "";
    DWORD e = 0;
    URL_COMPONENTS uc;
    memset(&uc, 0, sizeof uc);
    uc.dwStructSize = sizeof uc;
    uc.dwHostNameLength = uc.dwUrlPathLength = uc.dwExtraInfoLength = (DWORD)-1;
    HINTERNET conn = NULL;
    if (call->ca_file && call->https) {
        call->cas = qcachain_load(call->ca_file, why, sizeof why);
        if (!call->cas)
            call->resp.tls_failed = true;
    }
    if (!why[0] && !WinHttpCrackUrl(call->url, 0, 0, &uc)) {
        snprintf(why, sizeof why, "bad URL");
    } else if (!why[0]) {
        call->host = xcalloc(uc.dwHostNameLength + 1, sizeof *call->host);
        memcpy(call->host, uc.lpszHostName, uc.dwHostNameLength * sizeof *call->host);
        /* The path and the query are contiguous in the URL. */
        size_t plen = uc.dwUrlPathLength + uc.dwExtraInfoLength;
        wchar_t *path = xcalloc(plen + 2, sizeof *path);
        if (plen)
            memcpy(path, uc.lpszUrlPath, plen * sizeof *path);
        else
            path[0] = L'/';
        conn = WinHttpConnect(call->client->session, call->host, uc.nPort, 0);
        e = conn ? qhttpc_exchange(call, conn, path) : GetLastError();
        free(path);
    }
    EnterCriticalSection(&call->lock);
    if (call->req) {
        WinHttpCloseHandle(call->req);
        call->req = NULL;
    }
    bool cancelled = call->cancelled;
    LeaveCriticalSection(&call->lock);
    if (conn)
        WinHttpCloseHandle(conn);
    if (!why[0] && call->verify_failed) {
        snprintf(why, sizeof why, "%s", call->verify_why);
        call->resp.tls_failed = true;
    } else if (!why[0] && !e && call->cas && !call->verified) {
        /* Never take an answer from a server nobody verified. */
        snprintf(why, sizeof why, "the server's certificate was not verified against ca_file "
                                  "(WinHTTP gave no SENDING_REQUEST notification)");
        call->resp.tls_failed = true;
    } else if (!why[0] && e) {
        if (cancelled) {
            snprintf(why, sizeof why, "%s", call->cancel_why);
        } else if (e == ERROR_NOT_ENOUGH_MEMORY && call->resp.body.overflow) {
            snprintf(why, sizeof why, "response larger than %zu bytes", call->resp.body.max);
        } else {
            qhttpc_error_text(e, why, sizeof why);
            call->resp.tls_failed = call->https && qhttpc_tls_error(e);
        }
    }
    if (why[0]) {
        call->resp.status = 0;
        snprintf(call->resp.error, sizeof call->resp.error, "%s", why);
    }
    /* Publishes resp to the loop's thread (the lock is a barrier), then
     * wakes it; or, orphaned, frees the call. */
    qhttpc *c = call->client;
    EnterCriticalSection(&call->lock);
    call->finished = true;
    bool orphaned = call->orphaned;
    LeaveCriticalSection(&call->lock);
    if (orphaned)
        qhttpc_call_destroy(call);
    else
        SetEvent(c->wake);
    qhttpc_unref(c);
    return 0;
}

/* Joins a call that failed before its worker started. */
static void qhttpc_fail(qhttpc_call *call, const char *msg)
{
    call->resp.status = 0;
    snprintf(call->resp.error, sizeof call->resp.error, "%s", msg);
    call->finished = true;
    SetEvent(call->client->wake);
}

qhttpc_call *qhttpc_start(qhttpc *c, const qhttpc_req *req)
{
    qhttpc_call *call = xcalloc(1, sizeof *call);
    call->client = c;
    call->next = c->calls;
    c->calls = call;
    InitializeCriticalSection(&call->lock);
    qbuf_init(&call->resp.body, req->max_body ? req->max_body : QHTTPC_DEFAULT_MAX_BODY);
    const qhttpc_tls *tls = req->tls;
    if (tls && ((tls->cert_file && *tls->cert_file) || (tls->key_file && *tls->key_file))) {
        qhttpc_fail(call, "client certificates ([ssl] cert_file, key_file) are not supported "
                          "by qhv-agent on Windows (WinHTTP client): see docs/windows.md");
        return call;
    }
    if (strncasecmp(req->url, "http://", 7) && strncasecmp(req->url, "https://", 8)) {
        qhttpc_fail(call, "only http:// and https:// URLs are supported");
        return call;
    }
    call->https = !strncasecmp(req->url, "https://", 8);
    if (call->https && c->tls_error[0]) {
        call->resp.tls_failed = true;
        qhttpc_fail(call, c->tls_error);
        return call;
    }
    call->url = qhttpc_wide(req->url);
    call->method = qhttpc_wide(req->method ? req->method : "GET");
    qbuf h;
    qbuf_init(&h, 0);
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        qbuf_printf(&h, "%s\r\n", req->headers[i]);
    call->headers = h.len ? qhttpc_wide(h.data) : NULL;
    qbuf_free(&h);
    if (req->body) {
        call->body = xmalloc(req->body_len + 1);
        memcpy(call->body, req->body, req->body_len);
        call->body_len = req->body_len;
    }
    if (req->capture_header && *req->capture_header)
        call->capture = qhttpc_wide(req->capture_header);
    if (tls && tls->ca_file && *tls->ca_file)
        call->ca_file = xstrdup(tls->ca_file);
    call->insecure = tls && tls->insecure;
    long total = req->timeout_ms > 0 ? req->timeout_ms : QHTTPC_DEFAULT_TIMEOUT_MS;
    call->timeout_ms = (DWORD)total;
    call->connect_ms = (DWORD)(req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                           : QHTTPC_DEFAULT_CONNECT_MS);
    call->deadline_us = qhv_now_us() + (uint64_t)total * 1000u;
    /* Created suspended: call->thread is set before the worker can read it. */
    InterlockedIncrement(&c->refs);
    uintptr_t t = _beginthreadex(NULL, 0, qhttpc_worker, call, CREATE_SUSPENDED, NULL);
    if (!t) {
        qhttpc_unref(c);
        qhttpc_fail(call, "cannot start a thread for the call");
        return call;
    }
    call->thread = (HANDLE)t;
    ResumeThread(call->thread);
    return call;
}

/* Joins finished calls and cancels overdue ones; returns how many finished.
 * *next_deadline: the earliest deadline of the calls still running. */
static int qhttpc_reap(qhttpc *c, uint64_t now, uint64_t *next_deadline, bool *running)
{
    int n = 0;
    *running = false;
    for (qhttpc_call *call = c->calls; call; call = call->next) {
        if (call->done)
            continue;
        if (qhttpc_finished(call)) {
            qhttpc_join(call);
            n++;
            continue;
        }
        *running = true;
        if (now >= call->deadline_us) {
            char why[128];
            snprintf(why, sizeof why, "timed out after %lu ms", (unsigned long)call->timeout_ms);
            qhttpc_cancel(call, why);
        } else if (call->deadline_us < *next_deadline) {
            *next_deadline = call->deadline_us;
        }
    }
    return n;
}

int qhttpc_wait(qhttpc *c, int timeout_ms)
{
    uint64_t deadline = qhv_now_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
    int done = 0;
    for (;;) {
        uint64_t now = qhv_now_us(), next = deadline;
        bool running;
        done += qhttpc_reap(c, now, &next, &running);
        if (done || now >= deadline)
            return done;
        DWORD ms = (DWORD)((next > now ? next - now : 0) + 999) / 1000;
        if (!running) {
            /* Nothing to drive: just sleep out the timeout (the caller's tick). */
            Sleep(ms);
            return done;
        }
        WaitForSingleObject(c->wake, ms);
    }
}

bool qhttpc_done(const qhttpc_call *call) { return call && call->done; }

int qhttpc_result(qhttpc_call *call, qhttpc_resp *ret)
{
    return qhttpc_resp_hand_over(call && call->done, call ? &call->resp : NULL, ret);
}

