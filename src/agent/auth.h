/* auth: what qhv-agent presents on the host channel, and the TLS settings of
 * its connections.
 *
 * - Agent token mode ([agent] auth_token): "X-Qhv-Agent-Token: <token>".
 * - Keystone mode ([keystone_authtoken] auth_url): the agent logs in with
 *   its user's password (lib/kslogin.h), presents "X-Auth-Token: <token>",
 *   logs in again before the token expires (min(120 s, half its lifetime)
 *   before) and when the server answers 401. Failed logins are retried with
 *   backoff (1 s doubling to 30 s). Logins run on the agent's HTTP client,
 *   so the agent's loop never blocks on Keystone.
 *
 * Ownership: qag_auth_new returns an auth freed with qag_auth_free (accepts
 * NULL); it keeps pointers into conf, which must outlive it. Header strings
 * it returns stay valid until the next qag_auth_* call. */
#ifndef QHV_AGENT_AUTH_H
#define QHV_AGENT_AUTH_H
#include <stdint.h>
#include "agent/config.h"
#include "lib/httpc.h"

typedef struct qag_auth qag_auth;

qag_auth *qag_auth_new(const qag_conf *conf, qhttpc *http, char *err, size_t errlen);
void qag_auth_free(qag_auth *a);

/* TLS settings of requests to qhv-server ([ssl]). */
const qhttpc_tls *qag_auth_server_tls(const qag_auth *a);
/* The credential header for channel requests, or NULL while there is none
 * (keystone mode before the first login succeeded, or after the token
 * expired). */
const char *qag_auth_header(const qag_auth *a, uint64_t now_us);
/* Drives the Keystone login (starts one when due, collects a finished one);
 * call after every qhttpc_wait. Returns when it next needs to be called
 * (UINT64_MAX: only when a call completes). */
uint64_t qag_auth_tick(qag_auth *a, uint64_t now_us);
/* Which credential qag_auth_header returns now: a number that changes with
 * every new Keystone token (for qag_auth_refused). */
unsigned qag_auth_generation(const qag_auth *a);
/* The server answered 401 to a request made with the credential of
 * generation gen: in keystone mode, drop that token and log in again (an
 * older generation's refusal is ignored: its token was replaced already). */
void qag_auth_refused(qag_auth *a, unsigned gen, uint64_t now_us);

#endif
