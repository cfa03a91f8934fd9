/* quota: per-project limits on networks, subnets, ports, security groups and
 * rules. Defaults come from [quotas]; admins override them per project.
 * Checked at create inside the write transaction, so concurrent creates
 * cannot overshoot (writes are serialised). */
#ifndef QHV_MODEL_QUOTA_H
#define QHV_MODEL_QUOTA_H
#include "model/resource.h"

/* Fails with OverQuota if one more r would exceed project's limit. */
int qquota_check(qop *op, const qresource *r, const char *project_id, qerr *e);
/* The same for n more at once (a security group's initial rules). */
int qquota_check_n(qop *op, const qresource *r, const char *project_id, int64_t n, qerr *e);

/* API: GET /quotas, GET/PUT/DELETE /quotas/{project}, /default, /details.
 * what: NULL (the quota), "default" or "details". Returns the response. */
int qquota_list_request(qmodel *m, const qctx *ctx, qj **ret, qerr *e);
int qquota_show_request(qmodel *m, const qctx *ctx, const char *project, const char *what,
                        qj **ret, qerr *e);
int qquota_update_request(qmodel *m, const qctx *ctx, const char *project, const qj *body,
                          qj **ret, qerr *e);
int qquota_delete_request(qmodel *m, const qctx *ctx, const char *project, qerr *e);

#endif
