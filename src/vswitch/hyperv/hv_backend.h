/* hv_backend: what the files of the hyperv backend share (internal to
 * src/vswitch/hyperv/; the backend's interface is hyperv.h): the handle, the
 * view of what Hyper-V holds, a port's state in it and its work in an
 * operate(). Files: hyperv.c (the class: intents, dump, operate, open),
 * hv_view.c (enumerations, a port's state), hv_ports.c (port/ and acl/:
 * projection and the calls), hv_netwnv.c (lookup_record/, customer_route/,
 * provider_address/).
 *
 * Ownership: an hv_view owns its rows and indexes (hv_view_free); an hv_pf
 * borrows rows from its view (hv_pf_free frees its own arrays only); an
 * hv_pw owns its strings and arrays (hv_pw_free). */
#ifndef QHV_VSWITCH_HYPERV_HV_BACKEND_H
#define QHV_VSWITCH_HYPERV_HV_BACKEND_H
#include "vswitch/hyperv/hyperv.h"
#include "vswitch/hyperv/hv_wnv.h"
#include "vswitch/hyperv/wmi.h"
#include "lib/util.h"
#include <stdio.h>
#include <string.h>

#define HV_C_SWITCH "Msvm_VirtualEthernetSwitch"
#define HV_C_NIC "Msvm_SyntheticEthernetPortSettingData"
#define HV_C_ALLOC "Msvm_EthernetPortAllocationSettingData"
#define HV_C_VLAN "Msvm_EthernetSwitchPortVlanSettingData"
#define HV_C_SEC "Msvm_EthernetSwitchPortSecuritySettingData"
#define HV_C_VSMS "Msvm_VirtualSystemManagementService"
#define HV_C_VSSD "Msvm_VirtualSystemSettingData"
#define HV_C_LEGACY "Msvm_EmulatedEthernetPortSettingData"
#define HV_REALIZED "Microsoft:Hyper-V:System:Realized"
#define HV_CONN_SUBTYPE "Microsoft:Hyper-V:Ethernet Connection"
#define HV_CONN_DEFAULT_NAME "Dynamic Ethernet Switch Port" /* what New-VM, Add- and
                                                            * Connect-VMNetworkAdapter name it */
#define HV_MARK "qhv"                      /* Name of qhv's ACL entries */
#define HV_OWN_HISTORY 16                  /* feature InstanceIDs remembered per port */
#define HV_RESCAN_US 2000000u              /* look at Hyper-V every 2 s (as WITHIN 2) */

enum { V_SW, V_VSSD, V_NIC, V_LEGACY, V_ALLOC, V_VLAN, V_SEC, V_ACL, V_LR, V_CR, V_PA, V_PR,
       V_N };

struct qvs {
    qwmi_transport t;
    bool own_transport;
    char *state_file;           /* NULL: intents in memory only */
    qvs_map *intent;            /* id → the value qhv asked for */
    qvs_map *own;               /* port id → {"alloc": InstanceID, "feat": [InstanceID...]}:
                                 * the connection and the VLAN/security settings qhv
                                 * made or adopted, as Hyper-V named them (state file) */
    qj *conn_default;           /* Hyper-V's default connection settings (the
                                 * ...\Default allocation), read at open */
    int64_t rule_nat, rule_encap, type_static, type_l2only; /* NetWNV numbers, from the
                                 * classes' ValueMap qualifiers on this host */
    char wnv_problem[256];      /* why NetWNV objects cannot be made here, or "" */
    char version[32];
    int major, minor;
    long build;
    bool extended;              /* extended ACLs (6.3+) */
    int acl_dialect;            /* QHYV_ACL_* (hv_acl.h) */
    bool acl_none_2012;         /* [hyperv] port_acls_2012 = none */
    bool wnv;                   /* HNV v1 present (build < 17763) */
    bool has_type;              /* lookup record Type (6.3+) */
    char *pa_addr, *pa_next_hop, *pa_if;
    qhyv_pa_conf pa;
    int job_wait_ms;
    char *vsms;                 /* the management service's path */
    qvs_map *pending;           /* port id → a job still running */
    uint64_t last_look_us;
    struct hv_view *cache;      /* the last dump's view, for the operate that
                                 * follows it (none of qhv's writes since) */
};

#define HV_CACHE_US 2000000u       /* a dump's view serves an operate this long */


/* ---------- small helpers ---------- */

static inline void hv_result(qvs_op *op, int error, const char *why)
{
    op->error = error;
    qhv_strlcpy(op->why, why, sizeof op->why);
}

static inline bool hv_streq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

/* Every member of want (but __CLASS and __PATH) equal in have. */
static inline bool hv_props_match(const qj *want, const qj *have)
{
    if (!want || !have)
        return false;
    for (size_t i = 0; i < want->u.obj.n; i++) {
        const char *k = want->u.obj.m[i].key;
        if (!strcmp(k, "__CLASS") || !strcmp(k, "__PATH"))
            continue;
        if (!qj_equal(want->u.obj.m[i].val, qj_get(have, k)))
            return false;
    }
    return true;
}

static inline qj *hv_idx(size_t i) { return qj_int((int64_t)i); }

static inline const qj *hv_row(const qj *rows, const qvs_map *m, const char *key)
{
    const qj *i = key ? qvs_map_get(m, key) : NULL;
    return qj_is(i, QJ_INT) ? qj_at(rows, (size_t)i->u.i) : NULL;
}


typedef struct hv_view hv_view;
struct hv_view {
    qj *rows[V_N];
    qvs_map *sw;        /* switch name → index */
    qvs_map *nic;       /* port id → index */
    qvs_map *alloc;     /* NIC path (qwmi_path_key) → index */
    qvs_map *vssd;      /* realized VSSD InstanceID (lower case) → index */
    qvs_map *legacy;    /* port id → index of a legacy NIC named by it */
    qvs_map *feat;      /* allocation InstanceID → {"vlan": i, "sec": i, "acl": [i...]} */
    qvs_map *lr;        /* "<vsid>/<ca>/<MAC12>" → index */
    qvs_map *cr;        /* "<vsid>/<prefix>" → index */
    qvs_map *pa;        /* address → index */
    qvs_map *pr;        /* "<ifindex>/<prefix>" → index */
    uint64_t loaded_us;
};


/* A port's state in the view. */
typedef struct hv_pf {
    const qj *nic, *vssd, *alloc, *vlan, *sec;
    const char *foreign;        /* why the port is someone else's, or NULL (→ why) */
    char why[200];
    bool adopt;                 /* a connection qhv has no record of, to adopt with
                                 * its VLAN and security settings */
    qj *acl[3];                 /* qhv's entries by Direction (1, 2): borrowed rows */
    qvs_map *taken[3];          /* weights of everyone's entries by Direction */
} hv_pf;


typedef struct hv_pw {
    char *id;
    hv_pf pf;
    const qj *port;             /* port/ intent after this batch, or NULL */
    const qj *acl[3];           /* acl/ intents by Direction */
    int error;
    char why[256];
    char problem[3][256];
    char *alloc_path;
    qj *alloc_row;              /* the connection as last read (owned) */
    qj *removes, *mods, *adds;  /* VLAN removal, security change, VLAN+security adds */
    qj *acl_adds, *acl_removes;
    bool vlan_add, sec_add, sec_mod, drop;
    bool wrote_features;        /* verify before enabling */
    bool enable;                /* enable the connection once verified */
    bool disable_failed;        /* failed: leave it disabled (fail closed) */
    bool acl_gone[3];           /* this batch deletes acl/<id>/<direction> */
} hv_pw;


/* hyperv.c */
qvs_map *hv_sets(const qvs_map *intent);
void hv_intent_save(qvs *vs);

/* hv_view.c */
int hv_view_load(qvs *vs, hv_view *v, char *err, size_t errlen);
void hv_view_free(hv_view *v);
void hv_view_drop_cache(qvs *vs);
void hv_pf_get(const qvs *vs, const hv_view *v, const char *port, hv_pf *pf);
/* The realized VSSD InstanceID prefix of an InstanceID ("Microsoft:<GUID>"),
 * lower-cased, in buf. */
const char *hv_vssd_of(const char *iid, char *buf, size_t n);
/* Whether iid is in the port's ownership record (case-insensitive). */
bool hv_own_has(const qvs *vs, const char *port, const char *iid);
/* Records the connection (a new one resets the history) and features. */
void hv_own_alloc(qvs *vs, const char *port, const char *alloc_iid);
void hv_own_feat(qvs *vs, const char *port, const char *iid);
void hv_pf_free(hv_pf *pf);

/* hv_ports.c */
bool hv_port_ok(const qvs *vs, const hv_view *v, const hv_pf *pf, const char *id,
                const qj *port);
bool hv_acl_ok(const qvs *vs, const hv_pf *pf, int dir, const qj *acl, const qvs_map *sets);
int hv_dir(const char *id);
/* The lookup record with want's key (VSID, CA, MAC) in the view, or NULL. */
const qj *hv_lr_of(const hv_view *v, const qj *want);
const char *hv_port_of(const char *id, char *buf, size_t n);
void hv_ports(qvs *vs, const hv_view *v, qvs_map *next, hv_pw *pw, size_t n);
void hv_pw_free(hv_pw *w);

/* hv_netwnv.c */
bool hv_wnv_ours(const qvs *vs, const char *id, const qj *have);
bool hv_wnv_ok(const qvs *vs, const hv_view *v, const char *id, const qj *value);
/* A NetWNV instance with qhv's Rule/Type codes in the host's numbers
 * (caller frees); hv_wnv_from_host turns a row's back, in place. */
qj *hv_wnv_to_host(const qvs *vs, const qj *inst);
void hv_wnv_from_host(const qvs *vs, qj *row);
void hv_wnv_apply(qvs *vs, const hv_view *v, const qvs_map *next, qvs_op *op);

#endif
