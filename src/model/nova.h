/* nova: which events Nova must hear about a port change, by Neutron's rules
 * (neutron/notifiers/nova.py), and their recording in the outbox inside the
 * change's own transaction (store/outbox.h); server/novasend.c sends them.
 *
 * For ports whose device_owner starts with "compute:" and whose device_id
 * is a UUID (an instance): server_uuid = device_id, tag = port id.
 *   status (notify_nova_on_port_status_changes):
 *     created, DOWN or BUILD -> ACTIVE   network-vif-plugged   completed
 *     created, DOWN or BUILD -> ERROR    network-vif-plugged   failed
 *     binding:vif_type -> binding_failed network-vif-plugged   failed
 *     ACTIVE -> DOWN                     network-vif-unplugged completed
 *   data (notify_nova_on_port_data_changes):
 *     deleted                            network-vif-deleted   (no status)
 *     fixed_ips changed                  network-changed       (no status)
 *
 * Ownership: events are values in the caller's array. */
#ifndef QHV_MODEL_NOVA_H
#define QHV_MODEL_NOVA_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/json.h"
#include "model/model.h"
#include "store/outbox.h"

#define QNOVA_MAX_EVENTS 3

/* A port's change old -> new (old NULL: created; new NULL: deleted) gives
 * these events (at most QNOVA_MAX_EVENTS, in the order Nova should see
 * them); returns how many. Only name, server_uuid, tag and status are set. */
size_t qnova_port_events(const qconf *c, const qj *old, const qj *new,
                         qoutbox_event out[QNOVA_MAX_EVENTS]);
/* true if port is an instance's (compute: owner, device_id a UUID). */
bool qnova_is_compute_port(const qj *port);

/* The port hook of the resource engine (qresource.on_written): records the
 * change's events in the outbox, inside op's transaction, when [nova] names
 * a Nova. Never fails the write for a full outbox (drops the oldest). */
int qnova_port_written(qop *op, const qj *old, const qj *new, qerr *e);

#endif
