/* ovs_flows: the OpenFlow 1.3 table of the integration bridge, computed in
 * full from the switch objects (src/agent/desired.h) and the bridge's
 * topology. A pure function, so that it is tested without Open vSwitch and
 * so that the table is always installed whole (ovs-ofctl --bundle
 * replace-flows: unchanged flows are untouched, the rest changes at once).
 *
 * The pipeline (docs/ovs.md):
 *   0  classify: a VM port → network in metadata, its ofport in reg6 (and
 *      its conntrack zone); the GRE port by tun_id VSID<<8/0xffffff00 from
 *      the provider address of a host holding a port of the VSID (its lookup
 *      records) and a physical bridge's patch by VLAN → network, then table 30
 *   10 anti-spoofing (port security): the port's MAC and addresses only
 *   20 egress security group: ct(zone=reg6) → 21 rules, ct(commit)
 *   30 delivery from the wire: local MAC → reg7 → 50; broadcast to each
 *      local port
 *   40 forwarding from a local port: remote MAC (lookup record) → GRE with
 *      tun_id VSID<<8 | flow hash to the record's provider address; local
 *      MAC → reg7 → 50; broadcast to local ports, remote hosts or the
 *      physical network; vlan/flat unknown unicast → the physical network
 *   35/36/41 IP rewrite: provider ↔ customer addresses in and out
 *   50 ingress security group: ct(zone=reg7) → 51 rules, ct(commit), output
 * Remote groups are conjunctive matches: one flow per member address of an
 * address_set lists the conjunctions of every rule naming the set, so a
 * membership change adds or removes one flow per set, not every port's rules.
 *
 * Ownership: qovs_flows fills caller-owned out and counts. */
#ifndef QHV_VSWITCH_OVS_FLOWS_H
#define QHV_VSWITCH_OVS_FLOWS_H
#include <stdint.h>
#include "lib/buf.h"
#include "vswitch/objmap.h"

typedef struct qovs_topo {
    int gre_ofport;             /* the NVGRE tunnel port, 0 if none */
    const char *local_ip;       /* this host's provider address ("" if none) */
    const qvs_map *patches;     /* physical bridge name → int: its patch ofport on br-int */
    const qvs_map *nics;        /* port id → int: the VM interface's ofport */
} qovs_topo;

/* The cookie of the flows an object generates (never 0). */
uint64_t qovs_cookie(const char *id);
/* The cookie of the flows that belong to no object (defaults). */
#define QOVS_COOKIE_BASE 0x71680000000000ULL

/* Appends the table to out, one flow per line, sorted, in ovs-ofctl syntax.
 * counts gets "0x<cookie>" → int: how many flows carry each cookie.
 * problems gets object id → string for what could not be translated (the
 * object is left out). */
void qovs_flows(const qovs_topo *t, const qvs_map *objects, qbuf *out, qvs_map *counts,
                qvs_map *problems);

/* Appends to out the OpenFlow bundle ("flow add LINE" for a new or changed
 * flow, "flow delete_strict IDENTITY" for a gone one) that turns table old
 * into table cur, both as qovs_flows writes them (sorted by identity: one
 * merge pass). Returns the number of flows in old. */
size_t qovs_flows_diff(const char *old, const char *cur, qbuf *out);

/* Appends to out the masked matches "value/mask" covering [lo, hi] (port
 * ranges), separated by '\n'. For tests. */
void qovs_port_masks(int lo, int hi, qbuf *out);

#endif
