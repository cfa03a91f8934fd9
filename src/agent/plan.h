/* plan: the agent's copy of its host plan (docs/host-channel.md), section by
 * section in hash maps, and the application of the channel's answers: a full
 * plan replaces it, a delta patches it ("set" objects whole, "removed" keys).
 *
 * Ownership: the struct is the caller's; qag_plan_init/qag_plan_free manage
 * the maps it holds (free accepts NULL). Values in the sections belong to
 * the plan; lookups return borrowed pointers. */
#ifndef QHV_AGENT_PLAN_H
#define QHV_AGENT_PLAN_H
#include <stdint.h>
#include "lib/json.h"
#include "vswitch/objmap.h"

typedef enum {
    QAG_SEC_PORTS, QAG_SEC_NETWORKS, QAG_SEC_GROUPS, QAG_SEC_SETS, QAG_SEC_LOOKUP,
    QAG_SEC_ROUTES, QAG_SEC_PAS, QAG_NSEC
} qag_section;

/* "ports", "networks", "security_groups", "address_sets", "lookup_records",
 * "customer_routes", "provider_addresses" */
extern const char *const qag_plan_sections[QAG_NSEC];

typedef struct qag_plan {
    int64_t revision;           /* the plan is the server's as of this revision; -1: none yet */
    qvs_map *sec[QAG_NSEC];     /* key → value; lookup_records values are packed (below) */
} qag_plan;

/* A host holds every lookup record of its virtual subnets (ten and more per
 * local port): the plan keeps each as its JSON text, one allocation instead
 * of a tree of fourteen (issue 4's agent memory figure). This returns a
 * record's value as a tree (caller frees), or NULL if stored is not one. */
qj *qag_plan_unpack(const qj *stored);

void qag_plan_init(qag_plan *p);
void qag_plan_free(qag_plan *p);

/* Applies a channel answer:
 *   {"revision": R, "plan": {...}}                 replaces the plan
 *   {"revision": R, "since": S, "delta": {...}}    patches it (S must be p->revision)
 * Values are moved out of resp (the caller still frees it). Returns 1 if the
 * plan's content changed, 0 if only its revision moved, -1 with err if the
 * answer is malformed or does not apply (then p is unchanged). Unknown
 * sections are ignored. */
int qag_plan_apply(qag_plan *p, qj *resp, char *err, size_t errlen);

#endif
