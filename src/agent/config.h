/* config: qhv-agent's options (the names of the Hyper-V Neutron agent
 * wherever it has the option), the table they are parsed from, and derived
 * values (the parsed vswitch mappings and network types).
 *
 * Ownership: qag_conf_load fills a caller's struct; qag_conf_free frees what
 * it holds (accepts NULL, and a struct that failed to load). */
#ifndef QHV_AGENT_CONFIG_H
#define QHV_AGENT_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lib/urls.h"
#include "vswitch/vswitch.h"

typedef struct qag_mapping {
    char *pattern;      /* shell wildcard over physical network names */
    char *vswitch;
    char *text;         /* "pattern:vswitch" as configured */
} qag_mapping;

typedef struct qag_conf {
    /* [DEFAULT] */
    char *host;
    char *log_file;
    bool debug;
    /* [agent] */
    char *server_url;
    char *auth_token;
    char *backend;
    int64_t report_interval;
    int64_t poll_wait;
    char *physical_network_vswitch_mappings;
    char *local_network_vswitch;
    char *tunnel_vswitch;
    char *provider_address;
    char *availability_zone;
    char *network_types;
    char *vif_type;
    int64_t max_batch;
    /* [ssl]: how the agent checks qhv-server's certificate (https://) */
    char *ssl_ca_file;
    bool ssl_insecure;
    char *ssl_cert_file;
    char *ssl_key_file;
    /* [keystone_authtoken]: keystone mode (auth_url set) */
    char *ks_auth_url;
    char *ks_username;
    char *ks_password;
    char *ks_project_name;
    char *ks_user_domain_name;
    char *ks_project_domain_name;
    char *ks_cafile;
    bool ks_insecure;
    /* [dummy] */
    char *dummy_state_file;
    /* [ovs] */
    char *ovs_integration_bridge;
    char *ovs_bridge_mappings;
    char *ovs_datapath_type;
    char *ovs_rundir;
    char *ovs_state_file;
    /* [hyperv] */
    char *hyperv_transport;
    char *hyperv_model_file;
    char *hyperv_state_file;
    char *hyperv_windows_version;
    char *hyperv_provider_interface;        /* alias or MAC ("" = by index) */
    int64_t hyperv_provider_interface_index;
    int64_t hyperv_provider_prefix_length;
    int64_t hyperv_provider_vlan_id;
    char *hyperv_provider_next_hop;
    int64_t hyperv_job_wait_ms;
    char *hyperv_port_acls_2012;            /* "on-link" or "none" */
    /* [dhcp]: a network node (docs/network-node.md) */
    bool dhcp_enabled;
    char *dhcp_state_path;
    char *dhcp_namespace_prefix;
    char *dhcp_dnsmasq;
    bool dhcp_isolated_metadata;
    int64_t dhcp_metadata_port;
    /* [DEFAULT] metadata proxy: Neutron's names */
    char *nova_metadata_host;
    int64_t nova_metadata_port;
    char *nova_metadata_protocol;
    char *metadata_proxy_shared_secret;
    bool nova_metadata_insecure;

    /* Derived. */
    qurls servers;      /* server_url's list: the cluster's servers, in order */
    qag_mapping *mappings;
    size_t n_mappings;
    char **types;
    size_t n_types;
} qag_conf;

/* Defaults, then the files in order (a later file overrides an earlier one).
 * -1 with a message in err on an unreadable file or a bad value. */
int qag_conf_load(qag_conf *c, const char *const *files, size_t nfiles, char *err,
                  size_t errlen);
void qag_conf_free(qag_conf *c);
/* The backend's options from c (borrowing c's strings). */
void qag_conf_backend_options(const qag_conf *c, qvs_options *o);
void qag_conf_print_help(FILE *f);

/* Parses "pattern:vswitch,..." into c->mappings (replacing them). */
int qag_conf_set_mappings(qag_conf *c, const char *list, char *err, size_t errlen);
/* The vswitch of the first mapping whose pattern matches physnet, or NULL. */
const char *qag_conf_vswitch_for(const qag_conf *c, const char *physnet);
bool qag_conf_has_type(const qag_conf *c, const char *type);


#endif
