#include "server/identity.h"
#include "server/keystone.h"
#include "lib/log.h"
#include "lib/util.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Set by qidentity_init before the listener starts, read-only while it runs. */
static qks *qidentity_ks;
static char qidentity_challenge_value[600];

/* True if the comma-separated role list names role (case-insensitive). */
static bool qidentity_has_role(const char *roles, const char *role)
{
    size_t rl = strlen(role);
    const char *p = roles;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && p[n - 1] == ' ')
            n--;
        if (n == rl && !strncasecmp(p, role, rl))
            return true;
        p = end;
    }
    return false;
}

int qidentity_init(const qconf *c, qerr *e)
{
    if (strcmp(c->auth_strategy, "keystone"))
        return 0;
    const char *url = *c->ks_auth_url ? c->ks_auth_url : c->ks_www_authenticate_uri;
    const char *public_uri = *c->ks_www_authenticate_uri ? c->ks_www_authenticate_uri : url;
    snprintf(qidentity_challenge_value, sizeof qidentity_challenge_value, "Keystone uri=\"%s\"",
             public_uri);
    qks_config kc = {
        .auth_url = url,
        .username = c->ks_username,
        .password = c->ks_password,
        .project_name = c->ks_project_name,
        .user_domain_name = c->ks_user_domain_name,
        .project_domain_name = c->ks_project_domain_name,
        .cache_size = (size_t)c->ks_token_cache_size,
        .cache_time = c->ks_token_cache_time,
        .connect_timeout_ms = (long)c->ks_http_connect_timeout * 1000,
        .request_timeout_ms = (long)c->ks_http_request_timeout * 1000,
        .cafile = c->ks_cafile,
        .insecure = c->ks_insecure,
        .agent_role = c->agent_keystone_role,
    };
    qidentity_ks = qks_new(&kc, e);
    if (!qidentity_ks)
        return -1;
    QLOG_I("identity", "auth_strategy keystone: tokens validated at %s as user %s (project %s), "
                       "cache %lld tokens for up to %lld s",
           url, c->ks_username, c->ks_project_name, (long long)c->ks_token_cache_size,
           (long long)c->ks_token_cache_time);
    if (*c->agent_keystone_role)
        QLOG_I("identity", "host channel: Keystone users of domain %s with role %s act as "
                           "agents for %s", c->agent_keystone_user_domain_name,
               c->agent_keystone_role,
               !strcmp(c->agent_keystone_host_binding, "any")
                   ? "any host (keystone_host_binding = any)"
                   : "the host their user name names (keystone_user_prefix + host)");
    return 0;
}

void qidentity_shutdown(void)
{
    if (!qidentity_ks)
        return;
    qks_stats st;
    qks_get_stats(qidentity_ks, &st);
    QLOG_I("identity", "keystone: %llu requests answered from the token cache, %llu validations "
                       "and %llu service logins sent to Keystone, %llu requests refused 503",
           (unsigned long long)st.cache_hits, (unsigned long long)st.validations,
           (unsigned long long)st.service_auths, (unsigned long long)st.failures);
    qks_free(qidentity_ks);
    qidentity_ks = NULL;
    qidentity_challenge_value[0] = '\0';
}

const char *qidentity_challenge(void)
{
    return qidentity_ks ? qidentity_challenge_value : NULL;
}

static int qidentity_keystone(const qhttp_req *req, qctx *ret, qerr *e)
{
    const char *token = qhttp_header(req, "X-Auth-Token");
    if (!token || !*token)
        return qerr_set(e, QE_UNAUTHORIZED, "The request you have made requires "
                                            "authentication.");
    qks_token t;
    if (qks_validate(qidentity_ks, token, &t, e) < 0)
        return -1;
    if (!t.project_scoped)
        return qerr_set(e, QE_FORBIDDEN, "qhv-server accepts project-scoped tokens only (this "
                                         "token is scoped to a domain or the system, or "
                                         "unscoped)");
    if (t.roles == QKS_ROLE_AGENT)
        return qerr_set(e, QE_FORBIDDEN, "The agent role gives access to the host channel only, "
                                         "not to the API");
    snprintf(ret->project_id, sizeof ret->project_id, "%s", t.project_id);
    snprintf(ret->user_id, sizeof ret->user_id, "%s", t.user_id);
    ret->is_admin = t.roles & QKS_ROLE_ADMIN;
    ret->read_only = !ret->is_admin && (t.roles & QKS_ROLE_READER) &&
                     !(t.roles & QKS_ROLE_MEMBER);
    if (req->who)
        snprintf(req->who, QHTTP_WHO_LEN, "user %.64s project %.64s%s", t.user_id, t.project_id,
                 ret->is_admin ? " admin" : ret->read_only ? " reader" : "");
    return 0;
}

/* noauth's identity headers, checked before any is believed: a header that is
 * present must say something. An empty or blank X-Project-Id used to fall
 * through to "no identity headers" = admin, so a client that claimed to be a
 * reader of a project became admin; the same for roles or a user claimed
 * without a project. Such a request is 401, never the default admin. */
static int qidentity_noauth_headers(const qhttp_req *req, const char **project, qerr *e)
{
    static const char *const names[] = {"X-Project-Id", "X-Tenant-Id", "X-Roles", "X-User-Id"};
    const char *v[4];
    for (size_t i = 0; i < 4; i++) {
        v[i] = qhttp_header(req, names[i]);
        if (v[i] && !v[i][strspn(v[i], " \t")])
            return qerr_set(e, QE_UNAUTHORIZED, "The %s header is empty: send a value or leave "
                                                "the header out", names[i]);
    }
    if (v[0] && v[1] && strcmp(v[0], v[1]))
        return qerr_set(e, QE_BAD_REQUEST, "X-Project-Id and X-Tenant-Id name different "
                                           "projects");
    *project = v[0] ? v[0] : v[1];
    if (!*project && (v[2] || v[3]))
        return qerr_set(e, QE_UNAUTHORIZED, "%s names an identity without a project: send "
                                            "X-Project-Id too", v[2] ? "X-Roles" : "X-User-Id");
    return 0;
}

int qidentity_from_request(const qconf *c, const qhttp_req *req, qctx *ret, qerr *e)
{
    memset(ret, 0, sizeof *ret);
    if (qidentity_ks)
        return qidentity_keystone(req, ret, e);
    const char *project;
    if (qidentity_noauth_headers(req, &project, e) < 0)
        return -1;
    const char *roles = qhttp_header(req, "X-Roles");
    const char *user = qhttp_header(req, "X-User-Id");
    if (!project) {
        snprintf(ret->project_id, sizeof ret->project_id, "%s", c->default_project_id);
        ret->is_admin = true;
    } else {
        if (strlen(project) >= sizeof ret->project_id)
            return qerr_set(e, QE_BAD_REQUEST, "X-Project-Id is too long");
        snprintf(ret->project_id, sizeof ret->project_id, "%s", project);
        ret->is_admin = roles && qidentity_has_role(roles, "admin");
        ret->read_only = !ret->is_admin && roles && qidentity_has_role(roles, "reader") &&
                         !qidentity_has_role(roles, "member");
    }
    if (user && strlen(user) >= sizeof ret->user_id)
        return qerr_set(e, QE_BAD_REQUEST, "X-User-Id is too long");
    snprintf(ret->user_id, sizeof ret->user_id, "%s", user ? user : "");
    return 0;
}

bool qidentity_agent_enabled(const qconf *c)
{
    return qidentity_ks && *c->agent_keystone_role;
}

int qidentity_agent(const qconf *c, const qhttp_req *req, const char *host, qerr *e)
{
    if (!qidentity_agent_enabled(c))
        return qerr_set(e, QE_UNAUTHORIZED, "Keystone tokens are not accepted on the host "
                                            "channel ([agent] keystone_role is not set).");
    const char *token = qhttp_header(req, "X-Auth-Token");
    if (!token || !*token)
        return qerr_set(e, QE_UNAUTHORIZED, "The request you have made requires "
                                            "authentication.");
    qks_token t;
    if (qks_validate(qidentity_ks, token, &t, e) < 0)
        return -1;
    if (req->who)
        snprintf(req->who, QHTTP_WHO_LEN, "agent user %.64s (%.64s)", t.user_name, t.user_id);
    if (!(t.roles & QKS_ROLE_AGENT) || !t.project_scoped)
        return qerr_set(e, QE_FORBIDDEN, "This user may not act as an agent: it needs the "
                                         "agent role (%s) in a project-scoped token",
                        c->agent_keystone_role);
    if (strcmp(t.user_domain_name, c->agent_keystone_user_domain_name))
        return qerr_set(e, QE_FORBIDDEN, "Agent users must belong to the domain %s",
                        c->agent_keystone_user_domain_name);
    if (!strcmp(c->agent_keystone_host_binding, "any"))
        return 0;
    size_t pl = strlen(c->agent_keystone_user_prefix);
    if (strncmp(t.user_name, c->agent_keystone_user_prefix, pl) || strcmp(t.user_name + pl, host))
        return qerr_set(e, QE_FORBIDDEN, "Agent user %s may act only for the host its name "
                                         "names (%s<host>), not for %s",
                        t.user_name, c->agent_keystone_user_prefix, host);
    return 0;
}
