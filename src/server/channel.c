#include "server/channel.h"
#include "model/agent.h"
#include "model/plan.h"
#include "server/feed.h"
#include "server/identity.h"
#include "server/novasend.h"
#include "lib/json.h"
#include "lib/util.h"
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qchan_host_token(const char *master, const char *host, char out[QCHAN_TOKEN_LEN + 1])
{
    unsigned char mac[32];
    char *msg = xasprintf("qhv-agent:%s", host);
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, master, strlen(master), msg, strlen(msg), mac);
    free(msg);
    if (rc < 0)
        return -1;
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

/* Constant time: the comparison must not tell how much of a guess is right. */
static bool qchan_token_ok(const char *given, const char *want)
{
    size_t n = strlen(want);
    if (!given || strlen(given) != n)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(given[i] ^ want[i]);
    return diff == 0;
}



/* Who may speak for host: its derived agent token (X-Qhv-Agent-Token) or,
 * in keystone mode with [agent] keystone_role, a Keystone token of its agent
 * user (X-Auth-Token; server/identity.h). An agent token, when present,
 * decides alone. 0, or -1 with resp filled (401/403/503). */
static int qchan_authorize(qapi *api, const qhttp_req *req, const char *host, qhttp_resp *resp)
{
    const char *master = api->conf->agent_auth_token;
    const char *agent_token = qhttp_header(req, "X-Qhv-Agent-Token");
    bool keystone = qidentity_agent_enabled(api->conf);
    if (keystone && !agent_token && qhttp_header(req, "X-Auth-Token")) {
        qerr e;
        if (qidentity_agent(api->conf, req, host, &e) == 0)
            return 0;
        if (e.code == QE_UNAUTHORIZED)
            resp->www_authenticate = qidentity_challenge();
        qhttp_error(resp, &e);
        return -1;
    }
    char want[QCHAN_TOKEN_LEN + 1];
    if (!*master || qchan_host_token(master, host, want) < 0) {
        resp->www_authenticate = keystone ? qidentity_challenge() : "QHV-Agent-Token";
        qhttp_fail(resp, QE_UNAUTHORIZED,
                   keystone ? "Present a Keystone token of this host's agent user (X-Auth-Token): "
                              "agent tokens are disabled ([agent] auth_token is not set)."
                            : "The host channel is disabled: [agent] auth_token is not set on "
                              "the server.");
        return -1;
    }
    if (!qchan_token_ok(agent_token, want)) {
        resp->www_authenticate = "QHV-Agent-Token";
        qhttp_fail(resp, QE_UNAUTHORIZED, "Missing or wrong agent token for this host.");
        return -1;
    }
    if (req->who)
        snprintf(req->who, QHTTP_WHO_LEN, "agent token of %.128s", host);
    return 0;
}

static bool qchan_host_ok(const char *h)
{
    size_t n = strlen(h);
    if (!n || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
              (h[i] >= '0' && h[i] <= '9') || strchr("-._", h[i])))
            return false;
    return true;
}

static const char *qchan_query(const qhttp_req *req, const char *key)
{
    for (size_t i = 0; i < req->nquery; i++)
        if (!strcmp(req->query[i].key, key))
            return req->query[i].value;
    return NULL;
}

/* GET .../plan[?since=R[&wait=S]] */
static void qchan_plan(qapi *api, const qhttp_req *req, const char *host, qhttp_resp *resp)
{
    qerr e;
    qj *out = NULL;
    const char *since_s = qchan_query(req, "since"), *wait_s = qchan_query(req, "wait");
    int64_t since = -1, wait = 30;
    if ((since_s && qhv_parse_i64(since_s, 0, INT64_MAX, &since) < 0) ||
        (wait_s && qhv_parse_i64(wait_s, 0, 60, &wait) < 0)) {
        qhttp_fail(resp, QE_BAD_REQUEST, "since must be a revision (>= 0) and wait 0 to 60 "
                                         "seconds");
        return;
    }
    if (qchan_query(req, "fresh")) {
        /* A full recompute that bypasses the feed: what its incremental
         * answers are checked against (tests, qhvctl plan --fresh). */
        if (qplan_compute(api->model, host, NULL, &out, &e) < 0)
            qhttp_error(resp, &e);
        else
            qhttp_json(resp, 200, out);
        return;
    }
    if (!since_s) {
        if (qfeed_full(api->feed, host, &out, &e) < 0)
            qhttp_error(resp, &e);
        else
            qhttp_json(resp, 200, out);
        return;
    }
    if (req->resumed) {
        /* Woken by the feed (change or time up): answer now. */
        qfeed_waiter_free(*req->slot);
        *req->slot = NULL;
        wait = 0;
    }
    int rc = qfeed_watch(api->feed, host, since, (int)wait, req->conn, req->slot, &out, &e);
    if (rc < 0)
        qhttp_error(resp, &e);
    else if (rc == 0)
        resp->suspend = true;
    else
        qhttp_json(resp, 200, out);
}

/* GET /channel/v1/nova-events[?limit=N]: the outbox (qhvctl nova-events). */
static void qchan_nova_events(qapi *api, const qhttp_req *req, qhttp_resp *resp)
{
    qctx ctx;
    qerr e;
    if (qidentity_from_request(api->conf, req, &ctx, &e) < 0) {
        qhttp_error(resp, &e);
        return;
    }
    if (!ctx.is_admin) {
        qhttp_fail(resp, QE_POLICY, "rule:get_nova_events is disallowed by policy");
        return;
    }
    if (strcmp(req->method, "GET")) {
        resp->allow = "GET";
        qhttp_fail(resp, QE_METHOD_NOT_ALLOWED, "The server could not comply with the request "
                                               "since it is either malformed or otherwise "
                                               "incorrect.");
        return;
    }
    int64_t limit = 100;
    for (size_t i = 0; i < req->nquery; i++)
        if (!strcmp(req->query[i].key, "limit") &&
            qhv_parse_i64(req->query[i].value, 1, 10000, &limit) < 0) {
            qhttp_fail(resp, QE_BAD_REQUEST, "limit must be an integer from 1 to 10000");
            return;
        }
    qj *out;
    if (qnovasend_outbox(api->nova, api->model, (size_t)limit, &out, &e) < 0) {
        qhttp_error(resp, &e);
        return;
    }
    qj *root = qj_object();
    qj_set(root, "nova_events", out);
    qhttp_json(resp, 200, root);
}

void qchan_handle(qapi *api, const qhttp_req *req, size_t nseg, char (*seg)[QAPI_MAX_SEGMENT],
                  qhttp_resp *resp)
{
    if (nseg == 3 && !strcmp(seg[1], "v1") && !strcmp(seg[2], "status")) {
        /* Operators' view (qhvctl wait): API identity, admins only. */
        qctx ctx;
        qerr e;
        qj *out;
        if (qidentity_from_request(api->conf, req, &ctx, &e) < 0) {
            qhttp_error(resp, &e);
        } else if (!ctx.is_admin) {
            qhttp_fail(resp, QE_POLICY, "rule:get_channel_status is disallowed by policy");
        } else if (qfeed_status(api->feed, &out, &e) < 0) {
            qhttp_error(resp, &e);
        } else {
            qj_set(out, "nova_events", qnovasend_status(api->nova, api->model));
            qhttp_json(resp, 200, out);
        }
        return;
    }
    if (nseg == 3 && !strcmp(seg[1], "v1") && !strcmp(seg[2], "nova-events")) {
        qchan_nova_events(api, req, resp);
        return;
    }
    /* channel v1 hosts {host} {plan|report} */
    if (nseg != 5 || strcmp(seg[1], "v1") || strcmp(seg[2], "hosts") ||
        (strcmp(seg[4], "plan") && strcmp(seg[4], "report"))) {
        qhttp_fail(resp, QE_NOT_FOUND, "The resource could not be found.");
        return;
    }
    const char *host = seg[3];
    if (!qchan_host_ok(host)) {
        qhttp_fail(resp, QE_BAD_REQUEST, "Invalid host name");
        return;
    }
    /* A long-poll woken by the feed was authorized when it arrived: its
     * token may have expired since (agents renew tokens while a watch is
     * open), and a request is authorized once, as keystonemiddleware does. */
    if (!req->resumed && qchan_authorize(api, req, host, resp) < 0)
        return;
    qerr e;
    qj *out = NULL;
    if (!strcmp(seg[4], "plan")) {
        if (strcmp(req->method, "GET")) {
            resp->allow = "GET";
            qhttp_fail(resp, QE_METHOD_NOT_ALLOWED, "Use GET for a plan.");
        } else {
            qchan_plan(api, req, host, resp);
        }
        return;
    }
    if (strcmp(req->method, "POST")) {
        resp->allow = "POST";
        qhttp_fail(resp, QE_METHOD_NOT_ALLOWED, "Use POST for a report.");
        return;
    }
    qj_error je;
    qj *body = qj_parse(req->body, req->body_len, NULL, &je);
    if (!body) {
        qerr_set(&e, QE_BAD_REQUEST, "Body contains invalid data");
        snprintf(e.detail, sizeof e.detail, "%s at line %zu, column %zu", je.msg, je.line,
                 je.column);
        qhttp_error(resp, &e);
        return;
    }
    if (qagent_report_request(api->model, host, body, &out, &e) < 0)
        qhttp_error(resp, &e);
    else
        qhttp_json(resp, 200, out);
    qj_free(body);
}
