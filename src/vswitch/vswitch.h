/* vswitch: the interface between qhv-agent and a host's virtual switch, in
 * the style of Open vSwitch's providers (lib/netdev-provider.h): a backend is
 * a struct of function pointers (qvs_class) with a documented life cycle and a
 * batched operate() in which every op carries its own result.
 *
 * THE MODEL. The switch, as far as qhv is concerned, is a set of objects, each
 * named by an id "KIND/KEY" and holding a JSON value:
 *
 *   port/<port id>                 the switch port of a VM NIC: vswitch, vlan or
 *                                  vsid, admin state, port security flags
 *                                  (mac_spoofing, dhcp_guard, router_guard) and
 *                                  the addresses the VM may use
 *   address_set/<group id>/<ethertype>  the member addresses of a remote
 *                                  security group, referenced by acl rules (so
 *                                  that a membership change rewrites one object,
 *                                  not every port's rules)
 *   acl/<port id>/<direction>      the rule list the backend must enforce on
 *                                  that port for ingress or egress
 *   lookup_record/<vsid>/<ca>/<mac> NVGRE / IP-rewrite lookup record
 *   customer_route/<vsid>/<prefix> a route of a virtual subnet's routing domain
 *   provider_address/<address>     a provider address this host owns
 *
 * The values are produced by the agent's translator (src/agent/desired.h
 * documents every field); a backend turns them into its own dialect and
 * dumps them back in the same form, so that "equal" means "installed as
 * wanted". KIND never contains '/'; KEY may.
 *
 * VM NICs are discovered, never created: a VM NIC is named by the Neutron
 * port id it plugs (as Nova's Hyper-V driver names it; on OVS, the
 * interface's external_ids:iface-id). port/ and acl/ objects can exist only on
 * a NIC that is present, and go away with it: a backend that still holds one
 * once its NIC is gone reports it in dump(), so that the agent deletes it.
 *
 * OWNERSHIP OF SWITCH STATE. A backend reports the objects qhv created
 * (observed.objects) apart from the objects someone else created
 * (observed.foreign). The agent never modifies or deletes a foreign object,
 * and a backend refuses to (-EPERM), so that an operator's own settings
 * survive the agent.
 *
 * LIFE CYCLE.
 *   open(options)   → a handle, or -1 with a reason. Cheap: no switch writes.
 *   dump(handle)    → observed: NICs present, qhv's objects, foreign objects.
 *                     Read-only with respect to qhv's intent (a backend may
 *                     have to refresh caches).
 *   changed(handle) → optional, cheap (called every ~200 ms): true if the
 *                     switch may have changed since the last dump or operate
 *                     (the agent then dumps). NULL: the agent dumps on every
 *                     loop iteration.
 *   operate(handle, ops, n) → applies a batch in order. Every op gets its own
 *                     result in op->error; one failing op does not stop the
 *                     others. Ops are idempotent: create of an object qhv
 *                     already has sets it (as update), update of a missing
 *                     object creates it, delete of a missing object succeeds.
 *   close(handle)   → releases the handle (accepts NULL). Leaves the switch
 *                     as it is: objects outlive the agent.
 *
 * Backends do not log (the agent does, with the context it has); they return
 * errors with a reason. */
#ifndef QHV_VSWITCH_H
#define QHV_VSWITCH_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/json.h"
#include "vswitch/objmap.h"

typedef struct qvs qvs;     /* a backend's handle; each backend defines it */
struct qwmi_transport;      /* src/vswitch/hyperv/wmi.h */

/* Options of every backend ([dummy] ..., later [hyperv] ..., [ovs] ...).
 * Borrowed by open() for its duration only. */
typedef struct qvs_options {
    const char *dummy_state_file;
    const char *provider_address;       /* [agent] provider_address */
    const char *ovs_integration_bridge; /* [ovs] ... */
    const char *ovs_datapath_type;
    const char *ovs_rundir;
    const char *ovs_state_file;
    /* [hyperv] (docs/hyperv.md) */
    const struct qwmi_transport *hyperv_transport;  /* tests: use this one (borrowed) */
    const char *hyperv_transport_name;  /* "com" (Windows) or "model" */
    const char *hyperv_model_file;      /* the model's state file */
    const char *hyperv_state_file;      /* qhv's intents beside Hyper-V */
    const char *hyperv_windows_version; /* "" = ask Win32_OperatingSystem */
    const char *hyperv_pa_interface;    /* the provider NIC: alias or MAC ("" = by index) */
    long hyperv_pa_ifindex, hyperv_pa_prefix_len, hyperv_pa_vlan;
    const char *hyperv_pa_next_hop;
    const char *hyperv_port_acls_2012;  /* "on-link" (default) or "none" */
    int hyperv_job_wait_ms;             /* longest wait for jobs in one operate() */
} qvs_options;

/* What a dump returns. Every member is owned by the struct:
 * qvs_observed_free() frees them (and accepts NULL). */
typedef struct qvs_observed {
    qvs_map *nics;      /* port id → backend details of the VM NIC (may be {}) */
    qvs_map *objects;   /* id → value: the objects qhv owns */
    qvs_map *foreign;   /* id → value: objects qhv must not touch */
} qvs_observed;

void qvs_observed_init(qvs_observed *o);
void qvs_observed_free(qvs_observed *o);

typedef enum { QVS_CREATE, QVS_UPDATE, QVS_DELETE } qvs_op_type;

typedef struct qvs_op {
    qvs_op_type type;
    const char *id;         /* "KIND/KEY", borrowed */
    const qj *value;        /* create/update: the whole value, borrowed; delete: NULL */
    /* Results, written by operate(): */
    int error;              /* 0, or a negative errno: -EPERM (foreign object),
                             * -ENOENT (no such VM NIC), -EINVAL (bad value),
                             * -EIO (the switch failed), -ETIMEDOUT ... */
    char why[128];          /* "" or a reason for the error */
} qvs_op;

typedef struct qvs_class {
    const char *name;       /* "dummy", "hyperv", "ovs" */
    bool port_filter;       /* enforces acl/ objects exactly (reported to the server) */
    int (*open)(const qvs_options *opt, qvs **ret, char *err, size_t errlen);
    void (*close)(qvs *vs);
    /* Fills *ret (initialised by the callee; freed by the caller with
     * qvs_observed_free, also on failure). -1 with err on failure. */
    int (*dump)(qvs *vs, qvs_observed *ret, char *err, size_t errlen);
    bool (*changed)(qvs *vs);     /* may be NULL */
    /* Applies ops[0..n) in order and sets each op's error. Returns the number
     * of ops that failed. */
    size_t (*operate)(qvs *vs, qvs_op *ops, size_t n);
    /* Optional: what this host can really serve, as JSON (caller frees):
     * {"network_types": [...], "port_filter": bool, ...}. The agent reports
     * it in its heartbeat instead of its configuration alone. */
    qj *(*capabilities)(qvs *vs);
    /* Optional: drop what is cached between calls; the agent calls it once
     * it has been idle a while, before giving memory back. */
    void (*release)(qvs *vs);
    /* Optional (a network node's own ports: docs/network-node.md): makes an
     * interface called ifname in the network namespace netns (by name) the
     * switch port of port_id with MAC mac, as the VM NIC of that port would
     * be (it then appears in dump()'s nics and is wired from the plan).
     * Idempotent: an interface already plugged so is left as it is. -1 with
     * err on failure. */
    int (*plug)(qvs *vs, const char *port_id, const char *mac, const char *netns,
                const char *ifname, char *err, size_t errlen);
    /* Optional: removes what plug made for port_id (nothing there: 0). */
    int (*unplug)(qvs *vs, const char *port_id, char *err, size_t errlen);
    /* Optional: a backend that serves a network node's DHCP itself (the
     * dummy backend records what it would serve): the plan's dhcp_networks
     * and dhcp_hosts (borrowed objects), whenever they may have changed;
     * it plugs the DHCP ports (dhcp_networks[*].port) as NICs. With it the
     * agent runs no DHCP server of its own. -1 with err on failure. */
    int (*serve_dhcp)(qvs *vs, const qj *networks, const qj *hosts, char *err, size_t errlen);
} qvs_class;

/* The backend called name, or NULL with a reason in err (an unknown name, or
 * a backend not built on this platform). */
const qvs_class *qvs_class_find(const char *name, char *err, size_t errlen);

/* The kinds, in the order creates are applied (deletes go in reverse): what
 * an object refers to is installed before it. */
extern const char *const qvs_kinds[];
extern const size_t qvs_n_kinds;
/* The rank of id's kind in qvs_kinds, or -1 for an unknown kind. */
int qvs_kind_rank(const char *id);
/* Writes the kind of id ("port" for "port/abc") into out; false if id has no
 * '/' or the kind does not fit. */
bool qvs_id_kind(const char *id, char *out, size_t outlen);
/* The key of id (the part after the first '/'), or NULL. */
const char *qvs_id_key(const char *id);

#endif
