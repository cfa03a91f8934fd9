/* resources: the registry of API resources served by the engine. */
#ifndef QHV_MODEL_RESOURCES_H
#define QHV_MODEL_RESOURCES_H
#include "model/resource.h"

extern const qresource qres_network;
extern const qresource qres_subnet;
extern const qresource qres_port;
extern const qresource qres_agent;

/* By URL segment ("networks", "security-groups"), or NULL. */
const qresource *qres_by_path(const char *segment);
/* The URL segment of r. */
const char *qres_path(const qresource *r);
size_t qres_count(void);
const qresource *qres_at(size_t i);

/* Whether the caller may add subnets or ports to net: 0 as its owner (or
 * an admin), 1 as another project on a shared network; otherwise -1 with e
 * set to the 404 Neutron gives (the network stays hidden). */
int qnet_usable(qop *op, const qj *net, qerr *e);

#define QHV_DEVICE_OWNER_DHCP "network:dhcp"

/* True for router interface ports (no automatic SLAAC addresses). */
bool qport_is_router(const qj *port);

#endif
