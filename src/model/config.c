#include "model/config.h"
#include "lib/ini.h"
#include "lib/log.h"
#include "lib/opt.h"
#include "lib/util.h"
#include <fnmatch.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define O(sec, key, type, field, def, min, max, help) \
    {sec, key, type, offsetof(qconf, field), def, min, max, help}

static const qopt qconf_opts[] = {
    O("DEFAULT", "bind_host", QOPT_STR, bind_host, "127.0.0.1", 0, 0,
      "Address the API listens on (loopback by default: noauth trusts every caller)"),
    O("DEFAULT", "bind_port", QOPT_INT, bind_port, "9696", 0, 65535, "API port (0 = pick a free one)"),
    O("DEFAULT", "base_mac", QOPT_STR, base_mac, "fa:16:3e:00:00:00", 0, 0,
      "MAC prefix for generated port MACs; bytes that are 00 are randomised"),
    O("DEFAULT", "mac_generation_retries", QOPT_INT, mac_generation_retries, "16", 1, 1000,
      "Attempts to find a free generated MAC on a network"),
    O("DEFAULT", "default_project_id", QOPT_STR, default_project_id, "fake_project_id", 0, 0,
      "noauth: project of requests that carry no identity headers"),
    O("DEFAULT", "auth_strategy", QOPT_STR, auth_strategy, "noauth", 0, 0,
      "noauth (identity from X-Project-Id/X-Roles headers, else admin of default_project_id) "
      "or keystone (X-Auth-Token validated with Keystone, see [keystone_authtoken])"),
    O("DEFAULT", "api_workers", QOPT_INT, api_workers, "8", 1, 256,
      "Threads serving API requests"),
    O("DEFAULT", "global_physnet_mtu", QOPT_INT, global_physnet_mtu, "1500", 68, 65535,
      "MTU of the underlying physical network; NVGRE networks get this minus 42"),
    O("DEFAULT", "max_dns_nameservers", QOPT_INT, max_dns_nameservers, "5", 0, 1000,
      "Maximum DNS nameservers per subnet"),
    O("DEFAULT", "max_subnet_host_routes", QOPT_INT, max_subnet_host_routes, "20", 0, 1000,
      "Maximum host routes per subnet"),
    O("DEFAULT", "max_allowed_address_pair", QOPT_INT, max_allowed_address_pair, "10", 0, 1000,
      "Maximum allowed address pairs per port"),
    O("DEFAULT", "pagination_max_limit", QOPT_INT, pagination_max_limit, "-1", -1, INT32_MAX,
      "Largest page a list returns (-1 = no limit)"),
    O("DEFAULT", "state_path", QOPT_STR, state_path, "/var/lib/qhv", 0, 0,
      "Directory for the SQLite database when [database] connection is empty"),
    O("DEFAULT", "log_file", QOPT_STR, log_file, "", 0, 0, "Log to this file instead of stderr"),
    O("DEFAULT", "debug", QOPT_BOOL, debug, "false", 0, 0, "Log at DEBUG level"),
    O("DEFAULT", "client_header_timeout", QOPT_INT, client_header_timeout, "10", 1, 3600,
      "Seconds a client has to send a request's headers, from its connecting or from the "
      "previous answer on the connection; then the connection is closed"),
    O("DEFAULT", "max_connections", QOPT_INT, max_connections, "8192", 16, 1000000,
      "API connections served at once (agents' long-polls included); beyond, a small "
      "reserve is accepted and answered 503"),
    O("DEFAULT", "max_connections_per_address", QOPT_INT, max_connections_per_address, "512",
      0, 1000000, "API connections from one client address at once (0 = no limit); beyond, 503"),
    O("DEFAULT", "max_request_header_size", QOPT_INT, max_request_header_size, "32768", 4096,
      1048576, "Longest request URI, and largest request headers, accepted (bytes); beyond, "
      "414 or 431"),
    O("DEFAULT", "dhcp_agents_per_network", QOPT_INT, dhcp_agents_per_network, "1", 1, 64,
      "DHCP agents (network nodes) each network with a DHCP-enabled subnet is scheduled to "
      "(2 or more: DHCP high availability)"),
    O("DEFAULT", "dhcp_lease_duration", QOPT_INT, dhcp_lease_duration, "86400", -1, INT32_MAX,
      "DHCP lease time in seconds the network nodes give (-1 = infinite)"),
    O("DEFAULT", "dns_domain", QOPT_STR, dns_domain, "openstacklocal", 0, 0,
      "Domain the network nodes' DHCP servers give VMs (and resolve host names in)"),
    O("DEFAULT", "allow_automatic_dhcp_failover", QOPT_BOOL, allow_automatic_dhcp_failover,
      "true", 0, 0, "Move the networks of a DHCP agent that is dead (no heartbeat for "
      "[agent] agent_down_time) to live ones"),
    O("database", "connection", QOPT_STR, db_connection, "", 0, 0,
      "sqlite:///relative/path, sqlite:////absolute/path (empty: $state_path/qhv.sqlite), or "
      "postgresql://user:password@host:port/dbname (also postgresql+psycopg2://): several "
      "qhv-servers on one database (docs/operations.md)"),
    O("database", "max_pool_size", QOPT_INT, db_max_pool_size, "5", 1, 10000,
      "PostgreSQL: connections this server keeps open (one per thread that uses the "
      "database: api_workers + 4 at most)"),
    O("database", "max_overflow", QOPT_INT, db_max_overflow, "50", 0, 10000,
      "PostgreSQL: connections beyond max_pool_size it may open when more threads need one"),
    O("database", "pool_timeout", QOPT_INT, db_pool_timeout, "30", 0, 3600,
      "PostgreSQL: seconds to wait for the database to accept a connection at start"),
    O("database", "connection_recycle_time", QOPT_INT, db_connection_recycle_time, "3600", 0,
      INT32_MAX, "PostgreSQL: seconds after which a connection is replaced at the start of its "
      "next transaction (0 = never)"),
    O("database", "sqlite_synchronous", QOPT_STR, sqlite_synchronous, "FULL", 0, 0,
      "FULL (an acknowledged write survives a process crash, an OS crash or power loss, and "
      "the filesystem turning read-only) or NORMAL (only a process crash; several times the "
      "writes per second on a disk with slow fsync): docs/operations.md"),
    O("ml2", "type_drivers", QOPT_STR, type_drivers, "local,flat,vlan,nvgre,ip_rewrite", 0, 0,
      "Network types this server accepts"),
    O("ml2", "tenant_network_types", QOPT_STR, tenant_network_types, "nvgre,vlan", 0, 0,
      "Types for networks created without provider attributes, in order of preference"),
    O("ml2_type_flat", "flat_networks", QOPT_STR, flat_networks, "*", 0, 0,
      "Physical networks allowed for flat networks ('*' = any)"),
    O("ml2_type_vlan", "network_vlan_ranges", QOPT_STR, network_vlan_ranges, "", 0, 0,
      "physnet[:min:max],... ; ranges are used for tenant networks"),
    O("ml2_type_nvgre", "vsid_ranges", QOPT_STR, vsid_ranges, "5000:16777214", 0, 0,
      "min:max,... virtual subnet IDs for tenant nvgre and ip_rewrite networks (4096-16777214)"),
    O("oslo_middleware", "max_request_body_size", QOPT_INT, max_request_body_size, "114688", 1024,
      INT32_MAX, "Largest request body accepted (bytes); larger gets 413"),
    O("ip_rewrite", "provider_pools", QOPT_STR, rewrite_provider_pools, "", 0, 0,
      "host:cidr,... provider address pool of each host for ip_rewrite ports (one address "
      "per customer address)"),
    O("agent", "auth_token", QOPT_STR, agent_auth_token, "", 0, 0,
      "Shared secret agents present on the host channel (empty: the channel refuses every agent)"),
    O("agent", "report_interval", QOPT_INT, report_interval, "30", 1, 3600,
      "Seconds between agent heartbeats (told to agents)"),
    O("agent", "agent_down_time", QOPT_INT, agent_down_time, "75", 2, 86400,
      "Seconds without a heartbeat after which an agent is dead"),
    O("agent", "keystone_role", QOPT_STR, agent_keystone_role, "", 0, 0,
      "auth_strategy = keystone: agents may also present a Keystone token (X-Auth-Token) of a "
      "user holding this role (e.g. qhv-agent; empty: agent tokens only)"),
    O("agent", "keystone_host_binding", QOPT_STR, agent_keystone_host_binding, "user_name", 0, 0,
      "Which hosts a Keystone agent may act for: user_name (only the host whose name follows "
      "keystone_user_prefix in its user name) or any (every host: one shared agent user)"),
    O("agent", "keystone_user_prefix", QOPT_STR, agent_keystone_user_prefix, "qhv-agent-", 0, 0,
      "keystone_host_binding = user_name: the agent user of host H is named prefix + H"),
    O("agent", "keystone_user_domain_name", QOPT_STR, agent_keystone_user_domain_name, "Default",
      0, 0, "Domain the agent users must belong to (so that another domain's administrator "
            "cannot make a look-alike agent user)"),
    O("agent", "dhcp_agent_hosts", QOPT_STR, dhcp_agent_hosts, "*", 0, 0,
      "Hosts whose agents may take the DHCP role (network nodes): comma-separated shell "
      "patterns; a report with dhcp = true from any other host is taken without it"),
    O("quotas", "quota_network", QOPT_INT, quota_network, "100", -1, INT32_MAX, "Networks per project (-1 = unlimited)"),
    O("quotas", "quota_subnet", QOPT_INT, quota_subnet, "100", -1, INT32_MAX, "Subnets per project"),
    O("quotas", "quota_port", QOPT_INT, quota_port, "500", -1, INT32_MAX, "Ports per project"),
    O("quotas", "quota_security_group", QOPT_INT, quota_security_group, "10", -1, INT32_MAX,
      "Security groups per project"),
    O("quotas", "quota_security_group_rule", QOPT_INT, quota_security_group_rule, "100", -1,
      INT32_MAX, "Security group rules per project"),
    O("quotas", "quota_rbac_policy", QOPT_INT, quota_rbac_policy, "10", -1, INT32_MAX,
      "RBAC policies per project (the '*' policies of its shared and external networks "
      "count)"),
    O("keystone_authtoken", "www_authenticate_uri", QOPT_STR, ks_www_authenticate_uri, "", 0, 0,
      "Keystone's public URI, named in 401 answers (WWW-Authenticate: Keystone uri=...); "
      "empty: auth_url"),
    O("keystone_authtoken", "auth_url", QOPT_STR, ks_auth_url, "", 0, 0,
      "Keystone URL the server validates tokens at (http(s)://host:port[/v3]); empty: "
      "www_authenticate_uri"),
    O("keystone_authtoken", "auth_type", QOPT_STR, ks_auth_type, "password", 0, 0,
      "How the server authenticates itself to Keystone (only password)"),
    O("keystone_authtoken", "username", QOPT_STR, ks_username, "", 0, 0,
      "The server's service user (needs the admin or service role to validate tokens)"),
    O("keystone_authtoken", "password", QOPT_STR, ks_password, "", 0, 0,
      "The service user's password (keep this file readable by the server only)"),
    O("keystone_authtoken", "project_name", QOPT_STR, ks_project_name, "service", 0, 0,
      "Project the service token is scoped to"),
    O("keystone_authtoken", "user_domain_name", QOPT_STR, ks_user_domain_name, "Default", 0, 0,
      "Domain of the service user"),
    O("keystone_authtoken", "project_domain_name", QOPT_STR, ks_project_domain_name, "Default",
      0, 0, "Domain of the service project"),
    O("keystone_authtoken", "token_cache_size", QOPT_INT, ks_token_cache_size, "10000", 0,
      1000000, "Validated tokens kept in memory (least recently used go first; 0 = no cache)"),
    O("keystone_authtoken", "token_cache_time", QOPT_INT, ks_token_cache_time, "300", 0, 86400,
      "Longest time a validation result is reused, in seconds (never past the token's expiry; "
      "a revoked token may be accepted this long)"),
    O("keystone_authtoken", "http_connect_timeout", QOPT_INT, ks_http_connect_timeout, "5", 1, 300,
      "Seconds to connect to Keystone"),
    O("keystone_authtoken", "http_request_timeout", QOPT_INT, ks_http_request_timeout, "10", 1,
      300, "Seconds for a whole Keystone request; beyond it the API request is answered 503"),
    O("keystone_authtoken", "cafile", QOPT_STR, ks_cafile, "", 0, 0,
      "PEM CA bundle to verify an https Keystone (empty: the system's)"),
    O("keystone_authtoken", "insecure", QOPT_BOOL, ks_insecure, "false", 0, 0,
      "Do not verify Keystone's certificate (testing only)"),
    O("DEFAULT", "notify_nova_on_port_status_changes", QOPT_BOOL,
      notify_nova_on_port_status_changes, "true", 0, 0,
      "Send Nova network-vif-plugged/unplugged when a compute port's status changes"),
    O("DEFAULT", "notify_nova_on_port_data_changes", QOPT_BOOL, notify_nova_on_port_data_changes,
      "true", 0, 0, "Send Nova network-changed/network-vif-deleted when a compute port's fixed "
                    "IPs change or it is deleted"),
    O("DEFAULT", "send_events_interval", QOPT_INT, send_events_interval, "2", 0, 3600,
      "Seconds between two batches of events sent to Nova"),
    O("nova", "auth_type", QOPT_STR, nova_auth_type, "password", 0, 0,
      "password (Keystone v3 login, Nova's endpoint from the catalogue), none (no token) or "
      "admin_token (sends token); the last two need endpoint_override"),
    O("nova", "auth_url", QOPT_STR, nova_auth_url, "", 0, 0,
      "Keystone URL (http(s)://host:port[/v3]); empty with no endpoint_override: Nova is not "
      "told anything"),
    O("nova", "username", QOPT_STR, nova_username, "", 0, 0,
      "User events are sent as (needs Nova's os-server-external-events:create policy)"),
    O("nova", "password", QOPT_STR, nova_password, "", 0, 0, "Its password"),
    O("nova", "project_name", QOPT_STR, nova_project_name, "service", 0, 0, "Its project"),
    O("nova", "user_domain_name", QOPT_STR, nova_user_domain_name, "Default", 0, 0,
      "The user's domain"),
    O("nova", "project_domain_name", QOPT_STR, nova_project_domain_name, "Default", 0, 0,
      "The project's domain"),
    O("nova", "region_name", QOPT_STR, nova_region_name, "", 0, 0,
      "Region of Nova's endpoint in the catalogue (empty: any)"),
    O("nova", "endpoint_type", QOPT_STR, nova_endpoint_type, "public", 0, 0,
      "Catalogue interface of Nova's endpoint: public, internal or admin"),
    O("nova", "endpoint_override", QOPT_STR, nova_endpoint_override, "", 0, 0,
      "Nova's API URL with its /v2.1 (instead of the catalogue)"),
    O("nova", "token", QOPT_STR, nova_token, "", 0, 0,
      "auth_type = admin_token: the X-Auth-Token sent (labs; Nova's noauth2 takes admin:admin)"),
    O("nova", "cafile", QOPT_STR, nova_cafile, "", 0, 0,
      "PEM CAs to verify Keystone and Nova over https (empty: the system's)"),
    O("nova", "certfile", QOPT_STR, nova_certfile, "", 0, 0,
      "PEM client certificate presented to Keystone and Nova (empty: none)"),
    O("nova", "keyfile", QOPT_STR, nova_keyfile, "", 0, 0, "Its PEM private key"),
    O("nova", "insecure", QOPT_BOOL, nova_insecure, "false", 0, 0,
      "Do not verify Keystone's and Nova's certificates (labs only)"),
    O("nova", "timeout", QOPT_INT, nova_timeout, "30", 1, 600,
      "Seconds one request to Keystone or Nova may take"),
    O("nova", "max_pending_events", QOPT_INT, nova_max_pending_events, "10000", 1, 10000000,
      "Events the outbox holds; beyond, the oldest is dropped (logged)"),
    O("nova", "retry_max_interval", QOPT_INT, nova_retry_max_interval, "60", 1, 3600,
      "Longest wait between two attempts while Nova or Keystone fails"),
    O("ssl", "cert_file", QOPT_STR, ssl_cert_file, "", 0, 0,
      "PEM certificate (chain) of the API listener; set = the API speaks HTTPS only"),
    O("ssl", "key_file", QOPT_STR, ssl_key_file, "", 0, 0,
      "PEM private key of cert_file"),
    O("ssl", "ca_file", QOPT_STR, ssl_ca_file, "", 0, 0,
      "PEM CA certificates; set = every client must present a certificate signed by one"),
};

static void qconf_warn(const char *msg) { QLOG_W("config", "%s", msg); }

void qconf_print_help(FILE *f) { qopt_print_help(f, qconf_opts, QHV_ARRAY_SIZE(qconf_opts)); }

/* Splits a comma list into trimmed tokens; calls fn for each non-empty one. */
static int qconf_each_token(const char *list, int (*fn)(qconf *, const char *, char *, size_t),
                            qconf *c, char *err, size_t errlen)
{
    char *copy = xstrdup(list), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t l = strlen(t);
        while (l && (t[l - 1] == ' ' || t[l - 1] == '\t'))
            t[--l] = '\0';
        if (*t)
            rc = fn(c, t, err, errlen);
    }
    free(copy);
    return rc;
}

static const char *const qconf_known_types[] = {"local", "flat", "vlan", "nvgre", "ip_rewrite"};

static bool qconf_known_type(const char *t)
{
    for (size_t i = 0; i < QHV_ARRAY_SIZE(qconf_known_types); i++)
        if (!strcmp(t, qconf_known_types[i]))
            return true;
    return false;
}

static int qconf_add_type(qconf *c, const char *t, char *err, size_t errlen)
{
    if (!qconf_known_type(t) || c->n_types == 8) {
        snprintf(err, errlen, "[ml2] type_drivers: unknown network type '%s' "
                              "(known: local, flat, vlan, nvgre, ip_rewrite)", t);
        return -1;
    }
    snprintf(c->type_list[c->n_types++], 16, "%s", t);
    return 0;
}

static int qconf_add_tenant_type(qconf *c, const char *t, char *err, size_t errlen)
{
    if (!qconf_type_enabled(c, t) || !strcmp(t, "flat") || c->n_tenant_types == 8) {
        snprintf(err, errlen, "[ml2] tenant_network_types: '%s' is not a tenant type "
                              "enabled in type_drivers (flat cannot be one)", t);
        return -1;
    }
    snprintf(c->tenant_types[c->n_tenant_types++], 16, "%s", t);
    return 0;
}

static int qconf_add_vlan(qconf *c, const char *t, char *err, size_t errlen)
{
    qvlan_range r = {0};
    const char *colon = strchr(t, ':');
    size_t plen = colon ? (size_t)(colon - t) : strlen(t);
    if (!plen || plen > 64 || c->n_vlan_ranges == 64) {
        snprintf(err, errlen, "[ml2_type_vlan] network_vlan_ranges: bad entry '%s'", t);
        return -1;
    }
    memcpy(r.physnet, t, plen);
    if (colon) {
        char lo[16], hi[16];
        const char *c2 = strchr(colon + 1, ':');
        if (!c2 || (size_t)(c2 - colon - 1) >= sizeof lo || strlen(c2 + 1) >= sizeof hi)
            goto bad;
        snprintf(lo, sizeof lo, "%.*s", (int)(c2 - colon - 1), colon + 1);
        snprintf(hi, sizeof hi, "%s", c2 + 1);
        if (qhv_parse_i64(lo, 1, 4094, &r.min) < 0 || qhv_parse_i64(hi, 1, 4094, &r.max) < 0 ||
            r.min > r.max)
            goto bad;
    }
    c->vlan_ranges[c->n_vlan_ranges++] = r;
    return 0;
bad:
    snprintf(err, errlen, "[ml2_type_vlan] network_vlan_ranges: '%s' is not physnet:min:max "
                          "with 1 <= min <= max <= 4094", t);
    return -1;
}

static int qconf_add_vsid(qconf *c, const char *t, char *err, size_t errlen)
{
    qid_range r;
    char lo[16], hi[16];
    const char *colon = strchr(t, ':');
    if (!colon || (size_t)(colon - t) >= sizeof lo || strlen(colon + 1) >= sizeof hi ||
        c->n_vsid == 64)
        goto bad;
    snprintf(lo, sizeof lo, "%.*s", (int)(colon - t), t);
    snprintf(hi, sizeof hi, "%s", colon + 1);
    if (qhv_parse_i64(lo, 4096, 16777214, &r.min) < 0 ||
        qhv_parse_i64(hi, 4096, 16777214, &r.max) < 0 || r.min > r.max)
        goto bad;
    c->vsid[c->n_vsid++] = r;
    return 0;
bad:
    snprintf(err, errlen, "[ml2_type_nvgre] vsid_ranges: '%s' is not min:max with "
                          "4096 <= min <= max <= 16777214", t);
    return -1;
}

/* An http(s) URL with a host and nothing a header or log line could be broken with. */
static bool qconf_url_ok(const char *u)
{
    size_t skip = !strncmp(u, "http://", 7) ? 7 : !strncmp(u, "https://", 8) ? 8 : 0;
    if (!skip || !u[skip] || u[skip] == '/')
        return false;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' || (unsigned char)*p >= 0x7f)
            return false;
    return true;
}

static int qconf_check_keystone(qconf *c, char *err, size_t errlen)
{
    if (strcmp(c->auth_strategy, "keystone"))
        return 0;
    const char *u = *c->ks_auth_url ? c->ks_auth_url : c->ks_www_authenticate_uri;
    if (!*u) {
        snprintf(err, errlen, "[keystone_authtoken] auth_url (or www_authenticate_uri) must be "
                              "set with auth_strategy = keystone");
        return -1;
    }
    const char *bad = !qconf_url_ok(u) ? u
                      : *c->ks_www_authenticate_uri && !qconf_url_ok(c->ks_www_authenticate_uri)
                          ? c->ks_www_authenticate_uri : NULL;
    if (bad) {
        snprintf(err, errlen, "[keystone_authtoken]: '%s' is not an http:// or https:// URL",
                 bad);
        return -1;
    }
    if (strcmp(c->ks_auth_type, "password")) {
        snprintf(err, errlen, "[keystone_authtoken] auth_type: '%s' is not supported (password)",
                 c->ks_auth_type);
        return -1;
    }
    if (!*c->ks_username || !*c->ks_password || !*c->ks_project_name) {
        snprintf(err, errlen, "[keystone_authtoken] username, password and project_name must be "
                              "set with auth_strategy = keystone (the server's service user)");
        return -1;
    }
    return 0;
}

static int qconf_check_agent(qconf *c, char *err, size_t errlen)
{
    if (strcmp(c->agent_keystone_host_binding, "user_name") &&
        strcmp(c->agent_keystone_host_binding, "any")) {
        snprintf(err, errlen, "[agent] keystone_host_binding: '%s' is not user_name or any",
                 c->agent_keystone_host_binding);
        return -1;
    }
    if (*c->agent_keystone_role && strcmp(c->auth_strategy, "keystone")) {
        snprintf(err, errlen, "[agent] keystone_role needs auth_strategy = keystone");
        return -1;
    }
    if (*c->agent_keystone_role && !*c->agent_keystone_user_domain_name) {
        snprintf(err, errlen, "[agent] keystone_user_domain_name must name the agent users' "
                              "domain");
        return -1;
    }
    return 0;
}

static int qconf_check_nova(qconf *c, char *err, size_t errlen)
{
    const char *t = c->nova_auth_type;
    bool password = !strcmp(t, "password") || !strcmp(t, "v3password");
    if (!password && strcmp(t, "none") && strcmp(t, "admin_token")) {
        snprintf(err, errlen, "[nova] auth_type: '%s' is not supported (password, v3password, "
                              "none, admin_token)", t);
        return -1;
    }
    if (strcmp(c->nova_endpoint_type, "public") && strcmp(c->nova_endpoint_type, "internal") &&
        strcmp(c->nova_endpoint_type, "admin")) {
        snprintf(err, errlen, "[nova] endpoint_type: '%s' is not public, internal or admin",
                 c->nova_endpoint_type);
        return -1;
    }
    const char *bad = *c->nova_auth_url && !qconf_url_ok(c->nova_auth_url) ? c->nova_auth_url
                      : *c->nova_endpoint_override && !qconf_url_ok(c->nova_endpoint_override)
                          ? c->nova_endpoint_override : NULL;
    if (bad) {
        snprintf(err, errlen, "[nova]: '%s' is not an http:// or https:// URL", bad);
        return -1;
    }
    if (!*c->nova_certfile != !*c->nova_keyfile) {
        snprintf(err, errlen, "[nova] certfile and keyfile must be set together");
        return -1;
    }
    c->nova_enabled = *c->nova_auth_url || *c->nova_endpoint_override;
    if (!c->nova_enabled)
        return 0;
    if (password && (!*c->nova_auth_url || !*c->nova_username || !*c->nova_password ||
                     !*c->nova_project_name)) {
        snprintf(err, errlen, "[nova] auth_type = %s needs auth_url, username, password and "
                              "project_name", t);
        return -1;
    }
    if (!password && !*c->nova_endpoint_override) {
        snprintf(err, errlen, "[nova] auth_type = %s needs endpoint_override (Nova's URL)", t);
        return -1;
    }
    if (!strcmp(t, "admin_token") && !*c->nova_token) {
        snprintf(err, errlen, "[nova] auth_type = admin_token needs token");
        return -1;
    }
    for (const char *p = c->nova_token; *p; p++)
        if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f) {
            snprintf(err, errlen, "[nova] token: only printable ASCII can be sent in a header");
            return -1;
        }
    return 0;
}

static int qconf_check_ssl(qconf *c, char *err, size_t errlen)
{
    if (!*c->ssl_cert_file != !*c->ssl_key_file) {
        snprintf(err, errlen, "[ssl] cert_file and key_file must be set together");
        return -1;
    }
    if (*c->ssl_ca_file && !*c->ssl_cert_file) {
        snprintf(err, errlen, "[ssl] ca_file needs cert_file and key_file (client certificates "
                              "are checked only on HTTPS)");
        return -1;
    }
    return 0;
}

static int qconf_derive(qconf *c, char *err, size_t errlen)
{
    qmac m;
    if (qmac_parse(c->base_mac, &m) < 0 || qmac_is_multicast(&m)) {
        snprintf(err, errlen, "[DEFAULT] base_mac: '%s' is not a unicast MAC", c->base_mac);
        return -1;
    }
    memcpy(c->base_mac_bytes, m.b, 6);
    /* Neutron keeps the bytes up to the last non-zero one and randomises the rest. */
    c->base_mac_fixed = 0;
    for (int i = 0; i < 6; i++)
        if (m.b[i])
            c->base_mac_fixed = i + 1;
    if (c->base_mac_fixed > 5) {
        snprintf(err, errlen, "[DEFAULT] base_mac: '%s' leaves no byte to randomise", c->base_mac);
        return -1;
    }
    if (strcmp(c->auth_strategy, "noauth") && strcmp(c->auth_strategy, "keystone")) {
        snprintf(err, errlen, "[DEFAULT] auth_strategy: '%s' is not supported (noauth, keystone)",
                 c->auth_strategy);
        return -1;
    }
    if (qconf_check_keystone(c, err, errlen) < 0 || qconf_check_agent(c, err, errlen) < 0 ||
        qconf_check_ssl(c, err, errlen) < 0 || qconf_check_nova(c, err, errlen) < 0)
        return -1;
    if (strcasecmp(c->sqlite_synchronous, "NORMAL") && strcasecmp(c->sqlite_synchronous, "FULL")) {
        snprintf(err, errlen, "[database] sqlite_synchronous: '%s' is not NORMAL or FULL",
                 c->sqlite_synchronous);
        return -1;
    }
    if (!*c->db_connection) {
        snprintf(c->db_path, sizeof c->db_path, "%s/qhv.sqlite", c->state_path);
    } else if (!strncmp(c->db_connection, "sqlite:///", 10) && c->db_connection[10]) {
        snprintf(c->db_path, sizeof c->db_path, "%s", c->db_connection + 10);
    } else if (!strncmp(c->db_connection, "postgresql://", 13) ||
               !strncmp(c->db_connection, "postgresql+psycopg2://", 22) ||
               !strncmp(c->db_connection, "postgres://", 11)) {
        c->db_path[0] = '\0';
    } else {
        snprintf(err, errlen, "[database] connection: '%s' is neither sqlite:///path nor "
                              "postgresql://user:password@host:port/dbname", c->db_connection);
        return -1;
    }
    c->n_types = c->n_tenant_types = c->n_vlan_ranges = c->n_vsid = 0;
    if (qconf_each_token(c->type_drivers, qconf_add_type, c, err, errlen) ||
        qconf_each_token(c->tenant_network_types, qconf_add_tenant_type, c, err, errlen) ||
        qconf_each_token(c->network_vlan_ranges, qconf_add_vlan, c, err, errlen) ||
        qconf_each_token(c->vsid_ranges, qconf_add_vsid, c, err, errlen))
        return -1;
    return 0;
}

int qconf_load(qconf *c, const char *const *files, size_t nfiles, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (qopt_load_files(qconf_opts, QHV_ARRAY_SIZE(qconf_opts), c, files, nfiles, qconf_warn, err, errlen) < 0)
        return -1;
    return qconf_derive(c, err, errlen);
}

void qconf_free(qconf *c)
{
    qopt_free_values(qconf_opts, QHV_ARRAY_SIZE(qconf_opts), c);
}

/* Does an item of list (separated by commas or blanks) match s? With glob
 * the items are shell patterns, else names or "*". */
static bool qconf_list_match(const char *list, const char *s, bool glob)
{
    char *copy = xstrdup(list), *save = NULL;
    bool ok = false;
    for (char *t = strtok_r(copy, ", \t", &save); t && !ok; t = strtok_r(NULL, ", \t", &save))
        ok = glob ? fnmatch(t, s, 0) == 0 : !strcmp(t, "*") || !strcmp(t, s);
    free(copy);
    return ok;
}

bool qconf_dhcp_host_allowed(const qconf *c, const char *host)
{
    return qconf_list_match(c->dhcp_agent_hosts, host, true);
}

bool qconf_type_enabled(const qconf *c, const char *type)
{
    for (size_t i = 0; i < c->n_types; i++)
        if (!strcmp(c->type_list[i], type))
            return true;
    return false;
}

bool qconf_flat_allowed(const qconf *c, const char *physnet)
{
    return qconf_list_match(c->flat_networks, physnet, false);
}

bool qconf_vlan_physnet_known(const qconf *c, const char *physnet)
{
    for (size_t i = 0; i < c->n_vlan_ranges; i++)
        if (!strcmp(c->vlan_ranges[i].physnet, physnet))
            return true;
    return false;
}

qstore_opts qconf_store_opts(const qconf *c)
{
    qstore_opts o = {
        .connection = c->db_connection,
        .sqlite_path = c->db_path,
        .sqlite_synchronous = c->sqlite_synchronous,
        .max_pool_size = (int)c->db_max_pool_size,
        .max_overflow = (int)c->db_max_overflow,
        .pool_timeout = (int)c->db_pool_timeout,
        .connection_recycle_time = (int)c->db_connection_recycle_time,
        .migrate = true,
    };
    return o;
}
