/* identity: who a request acts for. The one place that reads identity from
 * a request, so that Keystone tokens slot in here later.
 * noauth (Neutron's behaviour): no identity headers = admin of
 * [DEFAULT] default_project_id; X-Project-Id (or X-Tenant-Id) = that project,
 * admin only if X-Roles names "admin". */
#ifndef QHV_SERVER_IDENTITY_H
#define QHV_SERVER_IDENTITY_H
#include "model/model.h"
#include "server/http.h"

int qidentity_from_request(const qconf *c, const qhttp_req *req, qctx *ret, qerr *e);

#endif
