#include "agent/config.h"
#include "lib/addr.h"
#include "lib/ini.h"
#include "lib/log.h"
#include "lib/opt.h"
#include "lib/plat.h"
#include "lib/util.h"
#include <stdlib.h>
#include <string.h>

#define O(sec, key, type, field, def, min, max, help) \
    {sec, key, type, offsetof(qag_conf, field), def, min, max, help}

static const qopt qag_opts[] = {
    O("DEFAULT", "host", QOPT_STR, host, "", 0, 0,
      "This hypervisor's name, as Nova sets binding:host_id (empty: the hostname)"),
    O("DEFAULT", "log_file", QOPT_STR, log_file, "", 0, 0, "Log to this file instead of stderr"),
    O("DEFAULT", "debug", QOPT_BOOL, debug, "false", 0, 0, "Log at DEBUG level"),
    O("agent", "server_url", QOPT_STR, server_url, "http://127.0.0.1:9696", 0, 0,
      "qhv-server's API endpoint (the host channel is under /channel/v1/); several servers "
      "of one cluster separated by commas: the agent moves to the next when one fails"),
    O("agent", "auth_token", QOPT_STR, auth_token, "", 0, 0,
      "This host's channel token (qhv-server --agent-token HOST prints it); empty in "
      "keystone mode ([keystone_authtoken] auth_url set)"),
    O("agent", "backend", QOPT_STR, backend, "dummy", 0, 0,
      "Virtual switch backend: dummy, ovs, hyperv"),
    O("agent", "report_interval", QOPT_INT, report_interval, "30", 1, 3600,
      "Seconds between heartbeats (the server's answer overrides it)"),
    O("agent", "poll_wait", QOPT_INT, poll_wait, "30", 0, 60,
      "Longest wait of one plan long-poll, in seconds"),
    O("agent", "physical_network_vswitch_mappings", QOPT_STR, physical_network_vswitch_mappings,
      "", 0, 0, "pattern:vswitch,... for flat and vlan networks (shell wildcards over the "
                "physical network name, first match wins)"),
    O("agent", "local_network_vswitch", QOPT_STR, local_network_vswitch, "private", 0, 0,
      "vSwitch of local networks"),
    O("agent", "tunnel_vswitch", QOPT_STR, tunnel_vswitch, "", 0, 0,
      "vSwitch of nvgre and ip_rewrite networks (empty: the mapping of the empty physical "
      "network name, else the first mapping's vswitch)"),
    O("agent", "provider_address", QOPT_STR, provider_address, "", 0, 0,
      "This host's provider address (PA) for NVGRE"),
    O("agent", "availability_zone", QOPT_STR, availability_zone, "nova", 0, 0,
      "This host's availability zone (reported; GET /v2.0/availability_zones lists them)"),
    O("agent", "network_types", QOPT_STR, network_types, "local,flat,vlan,nvgre,ip_rewrite", 0, 0,
      "Network types this agent serves (reported to the server, which binds with them, "
      "less those its backend cannot carry on this host)"),
    O("agent", "vif_type", QOPT_STR, vif_type, "", 0, 0,
      "binding:vif_type of the ports this agent serves (hyperv or ovs; empty: ovs for the "
      "ovs backend, else hyperv)"),
    O("agent", "max_batch", QOPT_INT, max_batch, "256", 1, 100000,
      "Most switch operations in one backend call"),
    O("ssl", "ca_file", QOPT_STR, ssl_ca_file, "", 0, 0,
      "https:// server_url: trust this PEM CA file instead of the system's CAs"),
    O("ssl", "insecure", QOPT_BOOL, ssl_insecure, "false", 0, 0,
      "https:// server_url: do not verify the server's certificate (labs only; logged as a "
      "warning)"),
    O("ssl", "cert_file", QOPT_STR, ssl_cert_file, "", 0, 0,
      "PEM client certificate presented to the server (needed when it sets [ssl] ca_file)"),
    O("ssl", "key_file", QOPT_STR, ssl_key_file, "", 0, 0, "The client certificate's PEM key"),
    O("keystone_authtoken", "auth_url", QOPT_STR, ks_auth_url, "", 0, 0,
      "Keystone mode: log in here (v3 password method) and present the token as X-Auth-Token "
      "instead of [agent] auth_token"),
    O("keystone_authtoken", "username", QOPT_STR, ks_username, "", 0, 0,
      "This host's agent user (the server expects qhv-agent-<host> by default)"),
    O("keystone_authtoken", "password", QOPT_STR, ks_password, "", 0, 0, "Its password"),
    O("keystone_authtoken", "project_name", QOPT_STR, ks_project_name, "service", 0, 0,
      "Project the token is scoped to (where the user holds the agent role)"),
    O("keystone_authtoken", "user_domain_name", QOPT_STR, ks_user_domain_name, "Default", 0, 0,
      "The user's domain"),
    O("keystone_authtoken", "project_domain_name", QOPT_STR, ks_project_domain_name, "Default",
      0, 0, "The project's domain"),
    O("keystone_authtoken", "cafile", QOPT_STR, ks_cafile, "", 0, 0,
      "https:// auth_url: trust this PEM CA file instead of the system's CAs"),
    O("keystone_authtoken", "insecure", QOPT_BOOL, ks_insecure, "false", 0, 0,
      "https:// auth_url: do not verify Keystone's certificate (labs only)"),
    O("dummy", "state_file", QOPT_STR, dummy_state_file, "", 0, 0,
      "The dummy backend's JSON switch state (shared with qhvctl dummy)"),
    O("ovs", "integration_bridge", QOPT_STR, ovs_integration_bridge, "br-int", 0, 0,
      "The bridge the VM interfaces are on (created by the agent; its flows are qhv's)"),
    O("ovs", "bridge_mappings", QOPT_STR, ovs_bridge_mappings, "", 0, 0,
      "physical_network:bridge,... for flat and vlan networks (the Open vSwitch agent's "
      "name for [agent] physical_network_vswitch_mappings; the bridges are the operator's)"),
    O("ovs", "datapath_type", QOPT_STR, ovs_datapath_type, "system", 0, 0,
      "datapath_type of the integration bridge: system (kernel) or netdev (userspace)"),
    O("ovs", "ovs_rundir", QOPT_STR, ovs_rundir, "", 0, 0,
      "OVS_RUNDIR of the Open vSwitch instance to drive (empty: the tools' default)"),
    O("ovs", "state_file", QOPT_STR, ovs_state_file, "", 0, 0,
      "Where the agent keeps the objects it installed (empty: "
      "<ovs_rundir>/qhv-<integration_bridge>.json)"),
    O("hyperv", "transport", QOPT_STR, hyperv_transport, "com", 0, 0,
      "How the hyperv backend reaches WMI: com (Windows) or model (an in-memory model of "
      "Hyper-V kept in model_file: tests, labs, dry runs on Linux)"),
    O("hyperv", "model_file", QOPT_STR, hyperv_model_file, "", 0, 0,
      "transport = model: the model's JSON state (empty: memory only; `qhvctl wmimodel FILE "
      "...` sets it up)"),
    O("hyperv", "state_file", QOPT_STR, hyperv_state_file, "", 0, 0,
      "Where the agent keeps what it asked Hyper-V for, so that a restart writes nothing when "
      "nothing changed (empty: memory only; every restart then rewrites qhv's settings once)"),
    O("hyperv", "windows_version", QOPT_STR, hyperv_windows_version, "", 0, 0,
      "Act as on this Windows version (6.2, 6.3, 10.0.14393, 10.0.17763, ...; empty: "
      "Win32_OperatingSystem's): decides extended ACLs (6.3+) and HNV v1 (before 10.0.17763)"),
    O("hyperv", "provider_interface", QOPT_STR, hyperv_provider_interface, "", 0, 0,
      "The physical NIC bound to the external vSwitch that carries provider traffic (NVGRE, IP "
      "rewrite): its interface alias (Ethernet 2) or MAC (00-15-5D-01-02-03); preferred over "
      "provider_interface_index. Its provider addresses are qhv's; the PA must not also be "
      "configured on the host's own IP stack"),
    O("hyperv", "provider_interface_index", QOPT_INT, hyperv_provider_interface_index, "0", 0,
      4294967295LL, "InterfaceIndex of that NIC when provider_interface is empty (0: none "
      "named; indexes can change across reboots, an alias or MAC does not)"),
    O("hyperv", "provider_prefix_length", QOPT_INT, hyperv_provider_prefix_length, "24", 0, 128,
      "PrefixLength of the provider addresses"),
    O("hyperv", "provider_vlan_id", QOPT_INT, hyperv_provider_vlan_id, "0", 0, 4094,
      "VlanID of the provider addresses (0: untagged)"),
    O("hyperv", "provider_next_hop", QOPT_STR, hyperv_provider_next_hop, "", 0, 0,
      "Provider route 0.0.0.0/0 (or ::/0) via this gateway (empty: no provider route)"),
    O("hyperv", "job_wait_ms", QOPT_INT, hyperv_job_wait_ms, "2000", 0, 60000,
      "Longest wait for Hyper-V jobs in one batch; a job still running then is picked up later"),
    O("hyperv", "port_acls_2012", QOPT_STR, hyperv_port_acls_2012, "on-link", 0, 0,
      "Windows Server 2012 only (port ACLs match addresses only): on-link = deny what the "
      "security groups do not allow by address, except the network's own subnets, IPv6 "
      "link-local and the DHCP broadcast (DHCP and neighbour discovery keep working); none = "
      "no port ACLs (security groups not enforced, reported)"),
    O("dhcp", "enabled", QOPT_BOOL, dhcp_enabled, "false", 0, 0,
      "Make this host a network node: serve DHCP (dnsmasq) and metadata for the networks the "
      "server schedules to it (ovs backend; docs/network-node.md)"),
    O("dhcp", "state_path", QOPT_STR, dhcp_state_path, "/var/lib/qhv/dhcp", 0, 0,
      "Where each served network keeps its dnsmasq files and leases (kept across restarts)"),
    O("dhcp", "namespace_prefix", QOPT_STR, dhcp_namespace_prefix, "qdhcp-", 0, 0,
      "Network namespace of a served network: this prefix + the network id"),
    O("dhcp", "dnsmasq", QOPT_STR, dhcp_dnsmasq, "dnsmasq", 0, 0,
      "The dnsmasq program (Debian: dnsmasq-base)"),
    O("dhcp", "enable_isolated_metadata", QOPT_BOOL, dhcp_isolated_metadata, "true", 0, 0,
      "Serve http://169.254.169.254/ in each network's namespace (a route to it is pushed "
      "by DHCP, option 121) and proxy it to Nova's metadata API"),
    O("dhcp", "metadata_port", QOPT_INT, dhcp_metadata_port, "80", 1, 65535,
      "The metadata proxy's port on 169.254.169.254"),
    O("DEFAULT", "nova_metadata_host", QOPT_STR, nova_metadata_host, "127.0.0.1", 0, 0,
      "Nova's metadata API host (reached from the agent's own namespace)"),
    O("DEFAULT", "nova_metadata_port", QOPT_INT, nova_metadata_port, "8775", 1, 65535,
      "Nova's metadata API port"),
    O("DEFAULT", "nova_metadata_protocol", QOPT_STR, nova_metadata_protocol, "http", 0, 0,
      "http or https"),
    O("DEFAULT", "nova_metadata_insecure", QOPT_BOOL, nova_metadata_insecure, "false", 0, 0,
      "https: do not verify Nova's certificate (labs only)"),
    O("DEFAULT", "metadata_proxy_shared_secret", QOPT_STR, metadata_proxy_shared_secret, "", 0,
      0, "Signs X-Instance-ID (X-Instance-ID-Signature, HMAC-SHA256): Nova's [neutron] "
         "metadata_proxy_shared_secret"),
};

static void qag_conf_warn(const char *msg) { QLOG_W("config", "%s", msg); }

void qag_conf_backend_options(const qag_conf *c, qvs_options *o)
{
    *o = (qvs_options){.dummy_state_file = c->dummy_state_file,
                       .provider_address = c->provider_address,
                       .ovs_integration_bridge = c->ovs_integration_bridge,
                       .ovs_datapath_type = c->ovs_datapath_type,
                       .ovs_rundir = c->ovs_rundir,
                       .ovs_state_file = c->ovs_state_file,
                       .hyperv_transport_name = c->hyperv_transport,
                       .hyperv_model_file = c->hyperv_model_file,
                       .hyperv_state_file = c->hyperv_state_file,
                       .hyperv_windows_version = c->hyperv_windows_version,
                       .hyperv_pa_interface = c->hyperv_provider_interface,
                       .hyperv_pa_ifindex = (long)c->hyperv_provider_interface_index,
                       .hyperv_pa_prefix_len = (long)c->hyperv_provider_prefix_length,
                       .hyperv_pa_vlan = (long)c->hyperv_provider_vlan_id,
                       .hyperv_pa_next_hop = c->hyperv_provider_next_hop,
                       .hyperv_port_acls_2012 = c->hyperv_port_acls_2012,
                       .hyperv_job_wait_ms = (int)c->hyperv_job_wait_ms};
}

void qag_conf_print_help(FILE *f) { qopt_print_help(f, qag_opts, QHV_ARRAY_SIZE(qag_opts)); }

static void qag_conf_free_derived(qag_conf *c)
{
    for (size_t i = 0; i < c->n_mappings; i++) {
        free(c->mappings[i].pattern);
        free(c->mappings[i].vswitch);
        free(c->mappings[i].text);
    }
    free(c->mappings);
    c->mappings = NULL;
    c->n_mappings = 0;
    for (size_t i = 0; i < c->n_types; i++)
        free(c->types[i]);
    free(c->types);
    c->types = NULL;
    c->n_types = 0;
    qurls_free(&c->servers);
}

void qag_conf_free(qag_conf *c)
{
    if (!c)
        return;
    qag_conf_free_derived(c);
    qopt_free_values(qag_opts, QHV_ARRAY_SIZE(qag_opts), c);
}

/* The trimmed, non-empty tokens of a comma list (caller frees each and the array). */
static char **qag_conf_split(const char *list, size_t *n)
{
    char *copy = xstrdup(list), *save = NULL;
    char **out = NULL;
    *n = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t l = strlen(t);
        while (l && (t[l - 1] == ' ' || t[l - 1] == '\t'))
            t[--l] = '\0';
        if (!*t)
            continue;
        out = xrealloc(out, (*n + 1) * sizeof *out);
        out[(*n)++] = xstrdup(t);
    }
    free(copy);
    return out;
}

int qag_conf_set_mappings(qag_conf *c, const char *list, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->n_mappings; i++) {
        free(c->mappings[i].pattern);
        free(c->mappings[i].vswitch);
        free(c->mappings[i].text);
    }
    free(c->mappings);
    c->mappings = NULL;
    c->n_mappings = 0;
    size_t n;
    char **items = qag_conf_split(list, &n);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        /* The vswitch is after the last ':' (as the server reads the mappings). */
        char *colon = strrchr(items[i], ':');
        if (rc == 0 && (!colon || colon == items[i] || !colon[1])) {
            snprintf(err, errlen, "[agent] physical_network_vswitch_mappings: '%s' is not "
                                  "pattern:vswitch", items[i]);
            rc = -1;
        }
        if (rc == 0) {
            c->mappings = xrealloc(c->mappings, (c->n_mappings + 1) * sizeof *c->mappings);
            qag_mapping *m = &c->mappings[c->n_mappings++];
            m->text = xstrdup(items[i]);
            m->pattern = xstrndup(items[i], (size_t)(colon - items[i]));
            m->vswitch = xstrdup(colon + 1);
        }
        free(items[i]);
    }
    free(items);
    return rc;
}

static const char *const qag_known_types[] = {"local", "flat", "vlan", "nvgre", "ip_rewrite"};

static int qag_conf_derive(qag_conf *c, char *err, size_t errlen)
{
    if (!*c->host) {
        char name[256];
        if (qplat_hostname(name, sizeof name) < 0) {
            snprintf(err, errlen, "[DEFAULT] host is empty and gethostname failed");
            return -1;
        }
        name[sizeof name - 1] = '\0';
        free(c->host);
        c->host = xstrdup(name);
    }
    if (qurls_parse(&c->servers, c->server_url, "[agent] server_url", err, errlen) < 0)
        return -1;
    if (!*c->ssl_cert_file != !*c->ssl_key_file) {
        snprintf(err, errlen, "[ssl] cert_file and key_file must be set together");
        return -1;
    }
    if (*c->ssl_ca_file && c->ssl_insecure) {
        snprintf(err, errlen, "[ssl] ca_file and insecure = true contradict each other: "
                              "choose one");
        return -1;
    }
    if (*c->ks_auth_url) {
        if (strncmp(c->ks_auth_url, "http://", 7) && strncmp(c->ks_auth_url, "https://", 8)) {
            snprintf(err, errlen, "[keystone_authtoken] auth_url must start with http:// or "
                                  "https://");
            return -1;
        }
        if (!*c->ks_username || !*c->ks_password || !*c->ks_project_name) {
            snprintf(err, errlen, "[keystone_authtoken] username, password and project_name "
                                  "must be set with auth_url (keystone mode)");
            return -1;
        }
        if (*c->auth_token) {
            snprintf(err, errlen, "set either [agent] auth_token (agent token) or "
                                  "[keystone_authtoken] auth_url (Keystone), not both");
            return -1;
        }
    }
    if (*c->ovs_bridge_mappings && *c->physical_network_vswitch_mappings) {
        snprintf(err, errlen, "set either [ovs] bridge_mappings or [agent] "
                              "physical_network_vswitch_mappings (the same option), not both");
        return -1;
    }
    if (qag_conf_set_mappings(c, *c->ovs_bridge_mappings ? c->ovs_bridge_mappings
                                                         : c->physical_network_vswitch_mappings,
                              err, errlen) < 0)
        return -1;
    if (!*c->vif_type) {
        free(c->vif_type);
        c->vif_type = xstrdup(!strcmp(c->backend, "ovs") ? "ovs" : "hyperv");
    }
    if (strcmp(c->hyperv_port_acls_2012, "on-link") && strcmp(c->hyperv_port_acls_2012, "none")) {
        snprintf(err, errlen, "[hyperv] port_acls_2012: '%s' is neither on-link nor none",
                 c->hyperv_port_acls_2012);
        return -1;
    }
    qmac mac;
    if (*c->hyperv_provider_interface && qmac_parse(c->hyperv_provider_interface, &mac) < 0 &&
        !qhv_ifalias_ok(c->hyperv_provider_interface)) {
        snprintf(err, errlen, "[hyperv] provider_interface: '%s' is neither an interface alias "
                              "(letters, digits, spaces, ._-()#,+) nor a MAC address "
                              "(00-15-5D-01-02-03)", c->hyperv_provider_interface);
        return -1;
    }
    if (strcmp(c->nova_metadata_protocol, "http") && strcmp(c->nova_metadata_protocol, "https")) {
        snprintf(err, errlen, "[DEFAULT] nova_metadata_protocol: '%s' is neither http nor https",
                 c->nova_metadata_protocol);
        return -1;
    }
    if (c->dhcp_enabled && (!*c->dhcp_state_path || !*c->dhcp_namespace_prefix ||
                            strchr(c->dhcp_namespace_prefix, '/'))) {
        snprintf(err, errlen, "[dhcp] state_path and namespace_prefix (without '/') must be set "
                              "on a network node");
        return -1;
    }
    c->types = qag_conf_split(c->network_types, &c->n_types);
    for (size_t i = 0; i < c->n_types; i++) {
        bool known = false;
        for (size_t k = 0; k < QHV_ARRAY_SIZE(qag_known_types); k++)
            known = known || !strcmp(c->types[i], qag_known_types[k]);
        if (!known) {
            snprintf(err, errlen, "[agent] network_types: unknown type '%s' (known: local, "
                                  "flat, vlan, nvgre, ip_rewrite)", c->types[i]);
            return -1;
        }
    }
    return 0;
}

int qag_conf_load(qag_conf *c, const char *const *files, size_t nfiles, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (qopt_load_files(qag_opts, QHV_ARRAY_SIZE(qag_opts), c, files, nfiles, qag_conf_warn, err, errlen) < 0)
        return -1;
    return qag_conf_derive(c, err, errlen);
}

const char *qag_conf_vswitch_for(const qag_conf *c, const char *physnet)
{
    for (size_t i = 0; i < c->n_mappings; i++)
        if (qplat_fnmatch(c->mappings[i].pattern, physnet))
            return c->mappings[i].vswitch;
    return NULL;
}

bool qag_conf_has_type(const qag_conf *c, const char *type)
{
    for (size_t i = 0; type && i < c->n_types; i++)
        if (!strcmp(c->types[i], type))
            return true;
    return false;
}

