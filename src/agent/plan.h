/* plan: the agent's copy of its host plan (docs/host-channel.md), section by
 * section, and the application of the channel's answers: a full plan
 * replaces it, a delta patches it ("set" objects whole, "removed" keys).
 *
 * Each section is a textmap of key -> the value's compact JSON text: a host
 * holds ten and more lookup records per local port, and a tree of a dozen
 * small allocations per value scatters over a heap that cannot be given back
 * (issue 4's agent memory figure). Readers parse what they use.
 *
 * Ownership: the struct is the caller's; qag_plan_init/qag_plan_free manage
 * the maps it holds (free accepts NULL). Texts from the sections are
 * borrowed (valid until the plan changes); qag_plan_get and
 * qag_plan_section return trees the caller frees. */
#ifndef QHV_AGENT_PLAN_H
#define QHV_AGENT_PLAN_H
#include <stdint.h>
#include "lib/json.h"
#include "lib/textmap.h"
#include "vswitch/objmap.h"

typedef enum {
    QAG_SEC_PORTS, QAG_SEC_NETWORKS, QAG_SEC_GROUPS, QAG_SEC_SETS, QAG_SEC_LOOKUP,
    QAG_SEC_ROUTES, QAG_SEC_PAS, QAG_SEC_DHCP_NETS, QAG_SEC_DHCP_HOSTS, QAG_NSEC
} qag_section;

/* "ports", "networks", "security_groups", "address_sets", "lookup_records",
 * "customer_routes", "provider_addresses", and on a network node (docs/
 * network-node.md) "dhcp_networks", "dhcp_hosts" */
extern const char *const qag_plan_sections[QAG_NSEC];

typedef struct qag_plan {
    int64_t revision;           /* the plan is the server's as of this revision; -1: none yet */
    qtm *sec[QAG_NSEC];         /* key → compact JSON text of the value */
} qag_plan;

/* Section s's value of key as a tree (caller frees), or NULL if absent. */
qj *qag_plan_get(const qag_plan *p, qag_section s, const char *key);
/* A value's text as a tree (caller frees); NULL for NULL. */
qj *qag_plan_parse(const char *text, size_t len);
/* Section s as a map of trees (caller frees): for the small sections a
 * computation reads over and over (networks, groups, address sets). */
qvs_map *qag_plan_section(const qag_plan *p, qag_section s);
/* Bytes the plan holds. */
size_t qag_plan_bytes(const qag_plan *p);
/* The plan's digest (qtm_digest of every section under its name): equal to
 * the server's of the same plan. */
uint64_t qag_plan_digest(const qag_plan *p);

void qag_plan_init(qag_plan *p);
void qag_plan_free(qag_plan *p);

/* Applies a channel answer:
 *   {"revision": R, "plan": {...}}                 replaces the plan
 *   {"revision": R, "since": S, "delta": {...}}    patches it (S must be p->revision)
 * resp stays the caller's. Returns 1 if the
 * plan's content changed, 0 if only its revision moved, -1 with err if the
 * answer is malformed or does not apply (then p is unchanged). Unknown
 * sections are ignored. */
int qag_plan_apply(qag_plan *p, const qj *resp, char *err, size_t errlen);

#endif
