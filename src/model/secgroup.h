/* secgroup: security groups and their rules, the project's default group,
 * and the security groups of ports. A group's document embeds its rules
 * (as Neutron returns them); each rule is also a resource of its own. */
#ifndef QHV_MODEL_SECGROUP_H
#define QHV_MODEL_SECGROUP_H
#include "model/resource.h"

extern const qresource qres_security_group;
extern const qresource qres_security_group_rule;

/* The project's default group id (created with Neutron's default rules on
 * first use) into out. Inside a write op. */
int qsg_ensure_default(qop *op, const char *project, char out[37], qerr *e);
/* Same, in a transaction of its own (for reads that must show it). When the
 * database cannot be written (QE_STORAGE) the group is not created and 0 is
 * returned: the read answers what exists, a later one creates it. */
int qsg_ensure_default_request(qmodel *m, const qctx *ctx, qerr *e);
/* 1 if the caller's project has no default group yet, 0 if it has, -1 on
 * error (a read without the write lock). */
int qsg_default_missing(qmodel *m, const qctx *ctx, qerr *e);
/* Resolves port.security_groups on create (old = NULL) or update: the
 * default group when none is given and port security is on; checks the given
 * groups exist for the port's project; refuses groups without port
 * security; records membership. */
int qsg_port_assign(qop *op, qj *port, const qj *old, const qj *changes, qerr *e);
int qsg_port_release(qop *op, const char *port_id, qerr *e);

#endif
