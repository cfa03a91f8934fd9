/* rbac: RBAC policies of networks (Neutron's rbac-policies extension):
 * access_as_shared and access_as_external to one project or to '*'; and of
 * subnet pools (rbac-subnetpool): access_as_shared, whose '*' policy is the
 * pool's `shared` as the network's is.
 * A network's `shared` is its '*' access_as_shared policy (kept in the
 * network's document, so visibility stays one SQL condition) and, as shown
 * to a project, true also when a policy targets that project;
 * router:external is kept with the access_as_external policies as Neutron
 * keeps them. Policies are documents whose parent_id is their network. */
#ifndef QHV_MODEL_RBAC_H
#define QHV_MODEL_RBAC_H
#include "model/resource.h"

extern const qresource qres_rbac_policy;

/* SQL on a network row r: a policy of the network targets the caller's
 * project (?2 of the engine's visibility query) or every project. */
#define QRBAC_NETWORK_VISIBLE_SQL \
    "r.id IN (SELECT p.parent_id FROM resources p WHERE p.kind = 'rbac_policy' AND " \
    "json_extract(p.body, '$.target_tenant') IN (?2, '*'))"
/* SQL: an access_as_shared policy of the object whose id is column col
 * targets the caller's project. */
#define QRBAC_SHARED_WITH_SQL(col) \
    col " IN (SELECT p.parent_id FROM resources p WHERE p.kind = 'rbac_policy' AND " \
    "json_extract(p.body, '$.action') = 'access_as_shared' AND " \
    "json_extract(p.body, '$.target_tenant') = ?2)"
/* The same for a row r whose parent_id is a network. */
#define QRBAC_PARENT_SHARED_SQL QRBAC_SHARED_WITH_SQL("r.parent_id")

/* True if an access_as_shared policy of object id targets project. */
int qrbac_shared_with(qstore *s, const char *id, const char *project, qerr *e);

/* Network hooks: after a network is created (its '*' policies for shared
 * and router:external), when shared or router:external change (policies
 * made or removed; unsharing refused while other projects use it), and
 * before it is deleted (its policies go). */
int qrbac_network_created(qop *op, qj *net, qerr *e);
int qrbac_network_updated(qop *op, const qj *old, const qj *net, qerr *e);
int qrbac_network_deleted(qop *op, const qj *net, qerr *e);
/* Subnet pool hooks: after create (its '*' policy when shared), before
 * delete (its policies go). */
int qrbac_subnetpool_created(qop *op, qj *pool, qerr *e);
int qrbac_subnetpool_deleted(qop *op, const qj *pool, qerr *e);
/* A network's or pool's shared as Neutron shows it to ctx. */
int qrbac_shared_show(const qmodel *m, const qctx *ctx, qj *obj, qerr *e);
/* Their shared filter as Neutron's: shared with every project or, by a
 * policy, with the caller's. */
extern const qsql_filter qrbac_shared_sql_filters[];

#endif
