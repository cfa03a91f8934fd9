/* az: availability zones (availability_zone, network_availability_zone).
 * A zone is what qhv-agents report as their availability_zone; qhv's agents
 * serve networks (the DHCP role included), so every zone is a "network"
 * zone. A network's availability_zones are the zones of the agents whose
 * hosts hold its DHCP ports (Neutron: of the DHCP agents hosting it).
 *
 * Every qj returned is owned by the caller. */
#ifndef QHV_MODEL_AZ_H
#define QHV_MODEL_AZ_H
#include "model/resource.h"

/* GET /v2.0/availability_zones: {"availability_zones": [{name, resource,
 * state}]}, state "available" when one of the zone's agents is
 * admin_state_up (as Neutron: liveness does not count); filters name,
 * resource, state (availability_zone_filter) and fields=. */
int qaz_list_request(qmodel *m, const qctx *ctx, const qquery *q, qj **ret, qerr *e);

/* Attribute check of a network's availability_zone_hints: a list of
 * distinct names of at most 255 characters, each a known zone (404
 * AvailabilityZoneNotFound otherwise). */
int qaz_check_hints(qop *op, const qattr *a, qj **v, qerr *e);

/* Sets net's availability_zones (sorted). */
int qaz_network_view(const qmodel *m, qj *net, qerr *e);

#endif
