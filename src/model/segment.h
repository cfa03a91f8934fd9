/* segment: provider attributes of networks — validation of an admin's
 * choice, allocation for tenant networks from the configured ranges, the
 * MTU each type gives, and release on delete. The segments table enforces
 * "one network per (pool, physical network, id)". */
#ifndef QHV_MODEL_SEGMENT_H
#define QHV_MODEL_SEGMENT_H
#include "model/model.h"

#define QSEG_NVGRE_OVERHEAD 42   /* outer Ethernet 14 + IPv4 20 + GRE with key 8 */

/* Reads provider:* of net (a network being created), validates or allocates,
 * records the segment and writes provider:* and mtu back into net. */
int qseg_allocate(qop *op, qj *net, qerr *e);
/* Largest MTU a network of this type can have. */
int64_t qseg_max_mtu(const qconf *c, const char *type);
int qseg_release(qop *op, const char *network_id, qerr *e);

#endif
