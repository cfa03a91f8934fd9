/* resources: the registry of API resources served by the engine. */
#ifndef QHV_MODEL_RESOURCES_H
#define QHV_MODEL_RESOURCES_H
#include "model/resource.h"

extern const qresource qres_network;
extern const qresource qres_subnet;
extern const qresource qres_port;

/* By collection name ("networks"), or NULL. */
const qresource *qres_by_collection(const char *collection);
size_t qres_count(void);
const qresource *qres_at(size_t i);

#define QHV_DEVICE_OWNER_DHCP "network:dhcp"

#endif
