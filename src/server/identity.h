/* identity: who a request acts for. The one place that reads identity from
 * a request ([DEFAULT] auth_strategy):
 *
 * noauth (Neutron's behaviour): no identity headers = admin of
 * [DEFAULT] default_project_id; X-Project-Id (or X-Tenant-Id) = that project,
 * admin only if X-Roles names "admin". A header that is present but empty or
 * blank, X-Roles or X-User-Id without a project, is 401 (never the default
 * admin); X-Project-Id and X-Tenant-Id naming different projects is 400.
 *
 * keystone: X-Auth-Token is required and validated with Keystone
 * (server/keystone.c); project, user and roles come from the token and the
 * X-Project-Id, X-Tenant-Id, X-Roles and X-User-Id headers are ignored. A
 * missing, invalid, expired or revoked token is 401 (the listener adds
 * WWW-Authenticate: Keystone uri="..."), a token not scoped to a project 403,
 * Keystone unreachable 503.
 *
 * Both map roles onto qctx the same way: "admin" = is_admin; "reader"
 * without "member" (nor "admin") = read_only; any other project role acts
 * as a member of the project. A token whose only role is [agent] keystone_role
 * is refused (403): agent users reach the host channel, nothing else.
 *
 * qidentity_init once at start (before the listener starts) and
 * qidentity_shutdown after it stopped: in between, qidentity_from_request
 * may be called from any thread. */
#ifndef QHV_SERVER_IDENTITY_H
#define QHV_SERVER_IDENTITY_H
#include "model/model.h"
#include "server/http.h"

/* Sets up c's auth_strategy (keystone: the validator and its cache). c must
 * outlive qidentity_shutdown. -1 with e on a bad configuration. */
int qidentity_init(const qconf *c, qerr *e);
/* Frees what qidentity_init set up (logs the Keystone counters); safe to
 * call without qidentity_init. */
void qidentity_shutdown(void);
/* The WWW-Authenticate value of 401 answers (Keystone uri="..."), or NULL
 * with noauth. Valid until qidentity_shutdown. */
const char *qidentity_challenge(void);

int qidentity_from_request(const qconf *c, const qhttp_req *req, qctx *ret, qerr *e);

/* The host channel in keystone mode ([agent] keystone_role set): true if
 * agents may present a Keystone token. */
bool qidentity_agent_enabled(const qconf *c);
/* 0 if req's X-Auth-Token is a Keystone token that may act as the agent of
 * host: a project-scoped token holding [agent] keystone_role, of a user in
 * keystone_user_domain_name, named keystone_user_prefix + host (unless
 * keystone_host_binding = any). Else -1 with e: QE_UNAUTHORIZED (no, invalid
 * or expired token; also when keystone agents are not enabled),
 * QE_FORBIDDEN (valid token, not this host's agent), QE_UNAVAILABLE
 * (Keystone could not say). */
int qidentity_agent(const qconf *c, const qhttp_req *req, const char *host, qerr *e);

#endif
