/* plan: the model compiled into what one host needs (DESIGN.md, "The host
 * plan and the channel"). A full recompute from the store each time: the
 * plan of a host is a pure function of the committed model, so an
 * incremental version can always be checked against it.
 *
 * Sections are objects keyed by a stable id, so that two plans diff
 * section by section into added/changed/removed:
 *   ports             port id -> {id, mac_address, fixed_ips, allowed_address_pairs,
 *                      network_id, admin_state_up, port_security_enabled,
 *                      security_groups, vif_type}
 *   networks          network id -> {id, network_type, physical_network,
 *                      segmentation_id, mtu, admin_state_up, subnets: [...]}
 *   security_groups   group id -> {id, rules: [...]}
 *   address_sets      group id -> [member addresses] (remote groups of the rules)
 *   lookup_records    "VSID/CA/MAC" -> {vsid, customer_address, mac_address,
 *                      provider_address, rule: encap|rewrite, host, port_id}
 *   customer_routes   "VSID/prefix" -> {vsid, routing_domain, destination, next_hop}
 *   provider_addresses address -> {address, host}
 */
#ifndef QHV_MODEL_PLAN_H
#define QHV_MODEL_PLAN_H
#include "model/model.h"

/* What is the same in every host's plan at one revision (a virtual subnet's
 * lookup table, a group's members), kept to compute many hosts' plans after
 * one write at the cost of one. Not thread-safe: one user at a time (the
 * feed, under its lock). qplan_cache_free accepts NULL. */
typedef struct qplan_cache qplan_cache;
qplan_cache *qplan_cache_new(void);
void qplan_cache_free(qplan_cache *c);

/* {"host", "revision", "plan": {...sections}} for host (caller owns). cache
 * may be NULL (then everything is read from the store). */
int qplan_compute(qmodel *m, const char *host, qplan_cache *cache, qj **ret, qerr *e);

#endif
