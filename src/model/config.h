/* config: qhv-server's options (Neutron's names wherever Neutron has the
 * option), the table they are parsed from, and the derived values the model
 * needs (parsed ranges, base MAC). Owned by the server's main; the model
 * reads it and never changes it after qconf_load(). */
#ifndef QHV_MODEL_CONFIG_H
#define QHV_MODEL_CONFIG_H
#include "store/store.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "lib/addr.h"

typedef struct qvlan_range {
    char physnet[65];
    int64_t min, max;      /* 0/0 when the physnet is listed without a range */
} qvlan_range;

typedef struct qid_range {
    int64_t min, max;
} qid_range;

typedef struct qconf {
    /* [DEFAULT] */
    char *bind_host;
    int64_t bind_port;
    char *base_mac;
    int64_t mac_generation_retries;
    char *default_project_id;
    char *auth_strategy;
    int64_t api_workers;
    int64_t global_physnet_mtu;
    int64_t max_dns_nameservers;
    int64_t max_subnet_host_routes;
    int64_t max_allowed_address_pair;
    int64_t pagination_max_limit;
    char *state_path;
    char *log_file;
    bool debug;
    int64_t client_header_timeout;          /* the API listener's limits (server/http.h) */
    int64_t max_connections;
    int64_t max_connections_per_address;
    int64_t max_request_header_size;
    int64_t dhcp_agents_per_network;        /* DHCP agents (network nodes) per network */
    int64_t dhcp_lease_duration;            /* seconds; -1 = infinite (Neutron's) */
    char *dns_domain;                       /* the domain dnsmasq serves host names in */
    bool allow_automatic_dhcp_failover;     /* move a dead agent's networks elsewhere */
    /* [database] */
    char *db_connection;
    char *sqlite_synchronous;
    int64_t db_max_pool_size;
    int64_t db_max_overflow;
    int64_t db_pool_timeout;
    int64_t db_connection_recycle_time;
    /* [ml2] */
    char *type_drivers;
    char *tenant_network_types;
    /* [ml2_type_flat] / [ml2_type_vlan] / [ml2_type_nvgre] */
    char *flat_networks;
    char *network_vlan_ranges;
    char *vsid_ranges;
    /* [oslo_middleware] */
    int64_t max_request_body_size;
    /* [ip_rewrite] */
    char *rewrite_provider_pools;
    /* [agent] */
    char *agent_auth_token;
    int64_t report_interval;
    int64_t agent_down_time;
    char *agent_keystone_role;             /* "" = agents authenticate with agent tokens only */
    char *agent_keystone_host_binding;     /* "user_name" or "any" */
    char *agent_keystone_user_prefix;
    char *agent_keystone_user_domain_name;
    char *dhcp_agent_hosts;                /* hosts that may take the DHCP role (patterns) */
    /* [quotas] */
    int64_t quota_network, quota_subnet, quota_port;
    int64_t quota_security_group, quota_security_group_rule;
    int64_t quota_rbac_policy;
    /* [keystone_authtoken] (auth_strategy = keystone; keystonemiddleware's names) */
    char *ks_www_authenticate_uri;
    char *ks_auth_url;
    char *ks_auth_type;
    char *ks_username;
    char *ks_password;
    char *ks_project_name;
    char *ks_user_domain_name;
    char *ks_project_domain_name;
    int64_t ks_token_cache_size;
    int64_t ks_token_cache_time;
    int64_t ks_http_connect_timeout;
    int64_t ks_http_request_timeout;
    char *ks_cafile;
    bool ks_insecure;
    /* Nova notifications ([DEFAULT], Neutron's names; docs/nova.md) */
    bool notify_nova_on_port_status_changes;
    bool notify_nova_on_port_data_changes;
    int64_t send_events_interval;
    /* [nova] (keystoneauth's names) */
    char *nova_auth_type;                  /* password, v3password, none, admin_token */
    char *nova_auth_url;
    char *nova_username;
    char *nova_password;
    char *nova_project_name;
    char *nova_user_domain_name;
    char *nova_project_domain_name;
    char *nova_region_name;
    char *nova_endpoint_type;              /* public, internal, admin */
    char *nova_endpoint_override;
    char *nova_token;
    char *nova_cafile;
    char *nova_certfile;
    char *nova_keyfile;
    bool nova_insecure;
    int64_t nova_timeout;
    int64_t nova_max_pending_events;
    int64_t nova_retry_max_interval;
    /* [ssl] (TLS on the API listener when cert_file is set) */
    char *ssl_cert_file;
    char *ssl_key_file;
    char *ssl_ca_file;

    /* Derived by qconf_load. */
    char db_path[4096];      /* the SQLite file ("" on PostgreSQL) */
    uint8_t base_mac_bytes[6];
    int base_mac_fixed;            /* leading bytes of base_mac kept (non-zero prefix) */
    qvlan_range vlan_ranges[64];
    size_t n_vlan_ranges;
    qid_range vsid[64];
    size_t n_vsid;
    char tenant_types[8][16];
    size_t n_tenant_types;
    char type_list[8][16];
    size_t n_types;
    bool nova_enabled;             /* [nova] names a Nova: events are recorded and sent */
} qconf;

/* Loads defaults then each file in order. Returns -1 with a message. */
int qconf_load(qconf *c, const char *const *files, size_t nfiles, char *err, size_t errlen);
void qconf_free(qconf *c);     /* frees option strings; accepts NULL */
/* The store's options from [database] (pointers into c; migrate: true). */
qstore_opts qconf_store_opts(const qconf *c);
void qconf_print_help(FILE *f);
/* true if host may take the DHCP role ([agent] dhcp_agent_hosts). */
bool qconf_dhcp_host_allowed(const qconf *c, const char *host);
/* true if type (e.g. "vlan") is in [ml2] type_drivers. */
bool qconf_type_enabled(const qconf *c, const char *type);
/* true if physnet may carry flat networks ([ml2_type_flat] flat_networks). */
bool qconf_flat_allowed(const qconf *c, const char *physnet);
/* true if physnet is named in network_vlan_ranges. */
bool qconf_vlan_physnet_known(const qconf *c, const char *physnet);

#endif
