/* servers: which qhv-server of a cluster a client talks to, and when it
 * moves to the next ([agent] server_url, qhvctl --url: a list, lib/urls.h).
 * The servers of one cluster share one database, so any of them serves a
 * host's plan and takes its reports; the order of the list is the order of
 * preference.
 *
 * - qhv-agent (asynchronous calls): when the current server does not answer
 *   or answers 5xx, qag_servers_failed moves to the next URL (wrapping round)
 *   and says how long to wait before trying it: nothing within a round, a
 *   backoff after every full round of all servers (1 s doubling to 30 s),
 *   reset when a server answers. The agent stays on the server it moved to
 *   (it does not go back to an earlier one while this one answers).
 * - qhvctl, the agent's --dry-run (blocking): qag_servers_request tries the
 *   servers in turn, from the current one, until one answers anything but
 *   503; no answer (refused, reset, timeout, TLS) and 503 move on.
 *
 * Ownership: a qag_servers borrows its qurls, which must outlive it; it
 * holds nothing else (no destructor). *skipped strings are the caller's. */
#ifndef QHV_AGENT_SERVERS_H
#define QHV_AGENT_SERVERS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/httpc.h"
#include "lib/urls.h"

#define QAG_SERVERS_BASE_US 1000000u    /* after a full round: 1 s doubling ... */
#define QAG_SERVERS_CAP_US 30000000u    /* ... to 30 s */

typedef struct qag_servers {
    const qurls *urls;
    size_t cur;                 /* index of the server in use */
    unsigned failed;            /* servers failed in a row since one answered */
    bool moved;                 /* moved since the current server last answered */
} qag_servers;

void qag_servers_init(qag_servers *s, const qurls *urls);
/* The URL in use (no trailing '/'). */
const char *qag_servers_url(const qag_servers *s);
/* The agent's rule: status (qhttpc_result's: -1 for no answer) says the
 * server cannot serve now: no answer, or 5xx (a server that lost its
 * database answers 503). */
bool qag_servers_unavailable(int status);
/* The current server failed: moves to the next. Returns the delay before
 * the next attempt (0 within a round); *round_done is set when every server
 * has now failed in this round. */
uint64_t qag_servers_failed(qag_servers *s, bool *round_done);
/* The current server answered. true if that is its first answer since the
 * agent moved to it. */
bool qag_servers_answered(qag_servers *s);

/* Blocking: sends req (its url ignored) to <server>path on each server in
 * turn, from the current one, until one answers other than 503; s stays on
 * that one. Returns its status and *ret (qhttpc_request's), or the last
 * server's failure when none answered. *skipped (NULL when the first
 * server tried answered) says which servers were skipped and why. */
int qag_servers_request(qag_servers *s, qhttpc *c, const char *path, const qhttpc_req *req,
                        qhttpc_resp *ret, char **skipped);

#endif
