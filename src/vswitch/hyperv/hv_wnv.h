/* hv_wnv: NetWNV (HNV v1) instances in root\StandardCimv2 from qhv's
 * lookup_record/, customer_route/ and provider_address/ values, and the
 * markers that tell qhv's objects from an operator's:
 *   - lookup records: Context "qhv" (a free comment) and VMName = the port id;
 *   - customer and provider routes: CustomerID QHYV_CUSTOMER_ID (a constant
 *     GUID standing for "managed by qhv"; their only free RW property);
 *   - provider addresses have no free property: those on [hyperv]
 *     provider_interface_index are qhv's (the operator delegates that
 *     interface's HNV provider addresses by naming it: this host's PA and
 *     the IP-rewrite PAs the server allocates); those elsewhere are foreign.
 * Rule and Type are written in the host's numbers, read by name from the
 * classes' ValueMap qualifiers at start (hv_netwnv.c): the public numbers
 * disagree (os-win 0/1, microsoft/wmi 1-based; docs/hyperv.md).
 *
 * Ownership: returned values and strings belong to the caller. */
#ifndef QHV_VSWITCH_HYPERV_HV_WNV_H
#define QHV_VSWITCH_HYPERV_HV_WNV_H
#include <stdbool.h>
#include <stdint.h>
#include "lib/json.h"
#include "vswitch/objmap.h"

#define QHYV_LR_CLASS "MSFT_NetVirtualizationLookupRecordSettingData"
#define QHYV_CR_CLASS "MSFT_NetVirtualizationCustomerRouteSettingData"
#define QHYV_PA_CLASS "MSFT_NetVirtualizationProviderAddressSettingData"
#define QHYV_PR_CLASS "MSFT_NetVirtualizationProviderRouteSettingData"
#define QHYV_CONTEXT "qhv"
#define QHYV_CUSTOMER_ID "{71687600-0000-4000-8000-716876000001}"
/* qhv's codes for Rule and Type (os-win's numbers, kept as codes only). */
#define QHYV_RULE_NAT 0
#define QHYV_RULE_ENCAP 1
#define QHYV_TYPE_STATIC 0
#define QHYV_TYPE_L2ONLY 3

/* Where the provider address lives ([hyperv] options). */
typedef struct qhyv_pa_conf {
    const char *address;        /* [agent] provider_address */
    const char *interface;      /* [hyperv] provider_interface: alias or MAC ("" or
                                 * NULL: ifindex alone names it) */
    int64_t ifindex, prefix_len, vlan;
    const char *next_hop;       /* provider route 0.0.0.0/0 via ("": none) */
} qhyv_pa_conf;

/* "fa:16:3e:00:00:05" → "FA163E000005" (NetWNV's form); NULL if not a MAC. */
char *qhyv_mac12(const char *mac);
/* "FA163E000005" → "fa:16:3e:00:00:05" (the plan's form). */
char *qhyv_mac_colon(const char *mac12);
/* The routing domain of a network: "{<network id>}" for a UUID, else a GUID
 * derived from it (stable). */
char *qhyv_routing_domain(const char *network);

/* Instances. has_type: 2012 R2+ (-Type exists). NULL if value lacks a field;
 * qhyv_wnv_l2only is NULL without has_type (on 2012 a CustomerAddress
 * 0.0.0.0 record is a gateway wildcard). Rule and Type carry qhv's own
 * codes (QHYV_RULE_*, QHYV_TYPE_*): the backend turns them into the host's
 * numbers, found by name in the class's ValueMap (hv_netwnv.c). */
qj *qhyv_wnv_lookup(const qj *value, bool has_type);
qj *qhyv_wnv_l2only(int64_t vsid, const char *mac, const char *pa, const char *port_id,
                    bool has_type);
qj *qhyv_wnv_route(const qj *value);
qj *qhyv_wnv_pa(const qhyv_pa_conf *c);
qj *qhyv_wnv_provider_route(const qhyv_pa_conf *c);

/* Whether a customer_route/ value goes via the first address of its
 * virtual subnet (an on-link IPv4 route of the same vsid among objects, the
 * customer_route/ ids and values of a plan): HNV v1's distributed router
 * answers that address on every host, so such a route points at the router
 * itself and is neither written nor scripted (networking-hyperv's NVGRE
 * spec: "cannot have a gateway ending in .1"). prefix (may be NULL) gets
 * that on-link prefix. */
bool qhyv_wnv_via_first_address(const qvs_map *objects, const qj *route, char *prefix, size_t n);

#endif
