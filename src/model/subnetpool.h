/* subnetpool: subnet pools (Neutron's subnet_allocation and
 * default-subnetpools) and the allocation of a new subnet's prefix from one.
 * Allocation runs inside the subnet's write transaction, and writes are
 * serialised, so concurrent creates never get overlapping prefixes. */
#ifndef QHV_MODEL_SUBNETPOOL_H
#define QHV_MODEL_SUBNETPOOL_H
#include "model/resource.h"

extern const qresource qres_subnetpool;

/* For a subnet being created (converted attributes in sub): resolves its
 * pool (subnetpool_id, or the default pool with use_default_subnetpool) and
 * sets its cidr from the pool (prefixlen, the pool's default_prefixlen, the
 * gateway's prefix or the cidr asked for), as Neutron does; removes the
 * request-only prefixlen and use_default_subnetpool. A subnet without a
 * pool must have a cidr. */
int qsubnetpool_allocate(qop *op, qj *sub, qerr *e);
/* Neutron's rule for a new subnet beside a sibling on its network: of one
 * IP version, both from the same pool or both from none (400). */
int qsubnetpool_check_affinity(const qj *sub, const qj *sibling, qerr *e);

/* PUT /v2.0/subnetpools/{id}/add_prefixes or remove_prefixes with
 * {"prefixes": [...]} (subnetpool-prefix-ops): the pool's prefixes grow, or
 * lose what no subnet uses. *ret: {"prefixes": [...]}, the caller's. */
int qsubnetpool_prefixes_request(qmodel *m, const qctx *ctx, const char *id, bool add,
                                 const qj *body, qj **ret, qerr *e);

#endif
