#include "server/identity.h"
#include "lib/util.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

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

int qidentity_from_request(const qconf *c, const qhttp_req *req, qctx *ret, qerr *e)
{
    memset(ret, 0, sizeof *ret);
    const char *project = qhttp_header(req, "X-Project-Id");
    if (!project)
        project = qhttp_header(req, "X-Tenant-Id");
    const char *roles = qhttp_header(req, "X-Roles");
    const char *user = qhttp_header(req, "X-User-Id");
    if (!project || !*project) {
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
    snprintf(ret->user_id, sizeof ret->user_id, "%s", user ? user : "");
    return 0;
}
