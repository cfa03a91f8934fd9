#include "agent/auth.h"
#include "agent/reconcile.h"
#include "lib/kslogin.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QAG_AUTH_BASE_US 1000000u       /* failed logins: 1 s doubling ... */
#define QAG_AUTH_CAP_US 30000000u       /* ... to 30 s */
#define QAG_AUTH_TIMEOUT_MS 30000L

struct qag_auth {
    const qag_conf *conf;
    qhttpc *http;
    qhttpc_tls server_tls, keystone_tls;
    char *header;                       /* current credential header, NULL if none */
    /* Keystone mode only. */
    qkl_login *login;                   /* NULL in agent token mode */
    qhttpc_call *call;                  /* the login in flight */
    uint64_t renew_us, expire_us;       /* of the current token */
    uint64_t next_try_us;               /* no login before (backoff) */
    unsigned failures;
    bool logged_in_once;
    unsigned generation;
};

static void qag_auth_drop(qag_auth *a)
{
    if (a->header) {
        qplat_wipe(a->header, strlen(a->header));
        free(a->header);
        a->header = NULL;
    }
}

qag_auth *qag_auth_new(const qag_conf *c, qhttpc *http, char *err, size_t errlen)
{
    bool keystone = *c->ks_auth_url;
    if (!keystone && !*c->auth_token) {
        snprintf(err, errlen, "[agent] auth_token is empty (qhv-server --agent-token %s prints "
                              "this host's token) and [keystone_authtoken] auth_url is not set",
                 c->host);
        return NULL;
    }
    qag_auth *a = xcalloc(1, sizeof *a);
    a->conf = c;
    a->http = http;
    a->server_tls = (qhttpc_tls){.ca_file = c->ssl_ca_file, .insecure = c->ssl_insecure,
                                 .cert_file = c->ssl_cert_file, .key_file = c->ssl_key_file};
    a->keystone_tls = (qhttpc_tls){.ca_file = c->ks_cafile, .insecure = c->ks_insecure};
    bool https = qurls_any_https(&c->servers);
    if (https && c->ssl_insecure)
        QLOG_W("agent", "[ssl] insecure = true: qhv-server's certificate is NOT verified, "
                        "anyone on the path can pose as the server; set [ssl] ca_file outside "
                        "labs");
    if (!https && (*c->ssl_ca_file || *c->ssl_cert_file || c->ssl_insecure))
        QLOG_W("agent", "[ssl] options are ignored: server_url %s has no https:// URL",
               c->server_url);
    if (keystone && c->ks_insecure && !strncmp(c->ks_auth_url, "https://", 8))
        QLOG_W("agent", "[keystone_authtoken] insecure = true: Keystone's certificate is NOT "
                        "verified (the password goes to whoever answers); set cafile outside "
                        "labs");
    if (keystone) {
        qkl_creds cr = {c->ks_auth_url, c->ks_username, c->ks_password, c->ks_project_name,
                        c->ks_user_domain_name, c->ks_project_domain_name};
        a->login = qkl_login_new(&cr);
    } else {
        a->header = xasprintf("X-Qhv-Agent-Token: %s", c->auth_token);
    }
    return a;
}

void qag_auth_free(qag_auth *a)
{
    if (!a)
        return;
    qhttpc_call_free(a->call);
    qkl_login_free(a->login);
    qag_auth_drop(a);
    free(a);
}

const qhttpc_tls *qag_auth_server_tls(const qag_auth *a) { return &a->server_tls; }

const char *qag_auth_header(const qag_auth *a, uint64_t now_us)
{
    if (a->login && a->header && now_us >= a->expire_us)
        return NULL;
    return a->header;
}

static void qag_auth_start(qag_auth *a)
{
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json",
                             NULL};
    qhttpc_req req = {.method = "POST", .url = a->login->url, .headers = headers,
                      .body = a->login->body, .body_len = strlen(a->login->body),
                      .timeout_ms = QAG_AUTH_TIMEOUT_MS, .max_body = (size_t)1 << 20,
                      .tls = &a->keystone_tls, .capture_header = "X-Subject-Token"};
    a->call = qhttpc_start(a->http, &req);
}

static void qag_auth_done(qag_auth *a, uint64_t now)
{
    qhttpc_resp r;
    int status = qhttpc_result(a->call, &r);
    qhttpc_call_free(a->call);
    a->call = NULL;
    char why[512];
    qkl_token t;
    int rc = -1;
    if (status < 0)
        snprintf(why, sizeof why, "Keystone unreachable at %s: %s", a->login->url, r.error);
    else
        rc = qkl_parse_answer(status, r.header, r.body.data, r.body.len, &t, why, sizeof why);
    if (r.header)
        qplat_wipe(r.header, strlen(r.header));
    qhttpc_resp_free(&r);
    if (rc < 0) {
        a->failures++;
        uint64_t delay = qag_backoff_us(a->failures, QAG_AUTH_BASE_US, QAG_AUTH_CAP_US);
        a->next_try_us = now + delay;
        QLOG_W("agent", "Keystone login as %s (project %s): %s; retry in %llu ms",
               a->conf->ks_username, a->conf->ks_project_name, why,
               (unsigned long long)(delay / 1000));
        return;
    }
    qag_auth_drop(a);
    a->header = xasprintf("X-Auth-Token: %s", t.token);
    a->generation++;
    qplat_wipe(&t.token, sizeof t.token);
    a->failures = 0;
    a->expire_us = now + (uint64_t)t.lifetime * 1000000u;
    a->renew_us = now + (uint64_t)t.renew_after * 1000000u;
    a->next_try_us = a->renew_us;
    if (!a->logged_in_once)
        QLOG_I("agent", "logged in to Keystone at %s as %s (project %s); token valid %lld s, "
                        "renewed after %lld s", a->login->url, a->conf->ks_username,
               a->conf->ks_project_name, (long long)t.lifetime, (long long)t.renew_after);
    else
        QLOG_I("agent", "Keystone token renewed (valid %lld s)", (long long)t.lifetime);
    a->logged_in_once = true;
}

uint64_t qag_auth_tick(qag_auth *a, uint64_t now)
{
    if (!a->login)
        return UINT64_MAX;
    if (a->call) {
        if (!qhttpc_done(a->call))
            return UINT64_MAX;      /* its completion wakes the loop */
        qag_auth_done(a, now);
    }
    bool due = !a->header || now >= a->renew_us;
    if (due && now >= a->next_try_us) {
        qag_auth_start(a);
        return UINT64_MAX;
    }
    return due ? a->next_try_us : a->renew_us;
}

unsigned qag_auth_generation(const qag_auth *a) { return a->generation; }

void qag_auth_refused(qag_auth *a, unsigned gen, uint64_t now)
{
    if (!a->login || !a->header || gen != a->generation)
        return;     /* agent token mode, or a token already replaced */
    QLOG_W("agent", "qhv-server refused the Keystone token (401): logging in again");
    qag_auth_drop(a);
    if (a->next_try_us > now && !a->failures)
        a->next_try_us = now;
}
