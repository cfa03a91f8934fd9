/* qhvctl: the operator's tool for what the openstack CLI does not cover:
 * agents and their applied revisions, a host's plan, waiting until every
 * live agent has applied a revision, and the dummy backend's state files. */
#include "ctl/qhvctl.h"
#include "agent/explain.h"
#include "agent/servers.h"
#include "lib/httpc.h"
#include "lib/json.h"
#include "lib/kslogin.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

static const char *qctl_url = "http://127.0.0.1:9696";
/* qctl_url's list (lib/urls.h) and the server in use: each request starts
 * at the last one that answered. */
static qurls qctl_urls;
static qag_servers qctl_servers;
static qhttpc_tls qctl_tls;             /* --os-cacert, --insecure, --os-cert/--os-key */
static char *qctl_auth_header;          /* "X-Auth-Token: ..." or NULL (noauth server) */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qhvctl [OPTIONS] COMMAND ...\n\n"
            "  --url URL[,URL]   qhv-server's API (default: $QHV_URL, else\n"
            "                    http://127.0.0.1:9696); several servers of one cluster:\n"
            "                    each command tries them in order until one answers (no\n"
            "                    answer or 503: the next; says on stderr when it skipped one)\n"
            "  --os-cacert FILE  https: trust this PEM CA (default: $OS_CACERT, else the\n"
            "                    system's CAs); also used for Keystone\n"
            "  --insecure        https: do not verify certificates (labs only)\n"
            "  --os-cert FILE    client certificate (default: $OS_CERT), for a server that\n"
            "  --os-key FILE     requires one; its key (default: $OS_KEY)\n"
            "  --os-token T      Keystone token sent as X-Auth-Token (default: $OS_TOKEN);\n"
            "                    without one, $OS_AUTH_URL, $OS_USERNAME, $OS_PASSWORD,\n"
            "                    $OS_PROJECT_NAME (and $OS_USER_DOMAIN_NAME,\n"
            "                    $OS_PROJECT_DOMAIN_NAME, default Default) log in with a\n"
            "                    password as the openstack CLI does\n\n"
            "Commands:\n"
            "  agents                           agents: host, alive, applied revision\n"
            "  ports HOST                       ports bound to HOST: status, and the problem\n"
            "                                   HOST's agent reports (e.g. held by a foreign\n"
            "                                   object)\n"
            "  plan HOST [--token T] [--fresh]  HOST's plan, pretty-printed (T: the host's\n"
            "                                   channel token, default $QHV_AGENT_TOKEN;\n"
            "                                   --fresh: recomputed, bypassing the feed)\n"
            "  explain HOST [--token T] [--config-file F]... [--windows-version V]\n"
            "                                   the PowerShell that gives HOST's Hyper-V the\n"
            "                                   state of its plan (vSwitch names, provider\n"
            "                                   address and interface, Windows version from the\n"
            "                                   agent's heartbeat, or from its configuration\n"
            "                                   files F): what HOST's qhv-agent --dry-run prints\n"
            "  nova-events [--limit N] [--json]\n"
            "                                   events for Nova not yet answered (oldest\n"
            "                                   first: attempts, last error) and the counters\n"
            "                                   of sent, rejected and dropped events\n"
            "  wait [--revision R] [--timeout S]\n"
            "                                   exit 0 once every live agent has applied R\n"
            "                                   (default: the server's current revision), 1 after\n"
            "                                   S seconds (default 60)\n"
            "  dummy FILE nic add|del PORT_ID   a VM NIC appears / goes (with its port and acl\n"
            "                                   objects)\n"
            "  dummy FILE fault fail N [KIND]   fail the Nth next op (of KIND only)\n"
            "  dummy FILE fault slow MS         every op takes MS ms\n"
            "  dummy FILE fault clear           no faults\n"
            "  dummy FILE vanish KIND/KEY       the object disappears at the next dump\n"
            "  dummy FILE foreign add KIND/KEY JSON\n"
            "                                   an object someone else owns\n"
            "  dummy FILE dump                  the whole state (JSON)\n"
            "  dummy FILE counters [reset]      operation counters (JSON), or zero them\n"
            "  wmimodel FILE switch add NAME    the WMI model of [hyperv] transport = model:\n"
            "  wmimodel FILE nic add|del PORT_ID [MAC12 [VM]]\n"
            "  wmimodel FILE reboot|dump [CLASS] a vSwitch, a VM NIC, a reboot (NetWNV objects\n"
            "                                   go), its instances (JSON)\n");
}

int qctl_get(const char *path, const char *token, qj **ret, char *err, size_t errlen)
{
    *ret = NULL;
    char *tok = token ? xasprintf("X-Qhv-Agent-Token: %s", token) : NULL;
    /* An agent token (plan) decides alone on the channel; else the
     * Keystone token, if any. */
    const char *headers[] = {"Accept: application/json", tok ? tok : qctl_auth_header, NULL};
    qhttpc *c = qhttpc_new();
    qhttpc_req req = {.method = "GET", .headers = headers, .timeout_ms = 30000,
                      .tls = &qctl_tls};
    qhttpc_resp r;
    char *skipped;
    int status = qag_servers_request(&qctl_servers, c, path, &req, &r, &skipped);
    char *url = xasprintf("%s%s", qag_servers_url(&qctl_servers), path);
    if (skipped && (status < 0 || status == 503))
        fprintf(stderr, "qhvctl: no server answered: skipped %s\n", skipped);
    else if (skipped)
        fprintf(stderr, "qhvctl: skipped %s; used %s\n", skipped,
                qag_servers_url(&qctl_servers));
    free(skipped);
    if (status < 0 && r.tls_failed)
        snprintf(err, errlen, "%s: %s (see --os-cacert, --os-cert, --os-key)", url, r.error);
    else if (status < 0)
        snprintf(err, errlen, "%s: %s", url, r.error);
    else
        *ret = qj_parse(r.body.data, r.body.len, NULL, NULL);
    if (status >= 400) {
        const char *msg = qj_get_str(qj_get(*ret, "NeutronError"), "message");
        snprintf(err, errlen, "%s: HTTP %d: %s", url, status, msg ? msg : r.body.data);
    }
    qhttpc_resp_free(&r);
    qhttpc_free(c);
    free(tok);
    free(url);
    return status;
}

static int qctl_cmp_host(const void *a, const void *b)
{
    const char *x = qj_get_str(*(qj *const *)a, "host"), *y = qj_get_str(*(qj *const *)b, "host");
    return strcmp(x ? x : "", y ? y : "");
}

static int64_t qctl_applied(const qj *agent)
{
    return qj_get_int(qj_get(agent, "configurations"), "applied_revision", -1);
}

static bool qctl_alive(const qj *agent)
{
    return qj_get_bool(agent, "alive", false);
}

/* A network node's DHCP role is a second row of its host ("DHCP agent"):
 * not the agent that applies the plan. */
static bool qctl_is_dhcp_row(const qj *agent)
{
    const char *t = qj_get_str(agent, "agent_type");
    return t && !strcmp(t, "DHCP agent");
}

/* The host's own agent in an agents list (its DHCP row aside), or NULL. */
static const qj *qctl_host_agent(const qj *body)
{
    const qj *list = qj_get(body, "agents");
    for (size_t i = 0; i < qj_len(list); i++)
        if (!qctl_is_dhcp_row(qj_at(list, i)))
            return qj_at(list, i);
    return NULL;
}

static int qctl_agents(int argc, char **argv)
{
    if (argc) {
        fprintf(stderr, "usage: qhvctl agents\n");
        return 2;
    }
    char err[1024];
    qj *body;
    if (qctl_get("/v2.0/agents", NULL, &body, err, sizeof err) != 200) {
        fprintf(stderr, "qhvctl: %s\n", err);
        qj_free(body);
        return 1;
    }
    qj *list = qj_get(body, "agents");
    if (qj_is(list, QJ_ARRAY) && list->u.arr.n)
        qsort(list->u.arr.v, list->u.arr.n, sizeof *list->u.arr.v, qctl_cmp_host);
    printf("%-24s %-5s %-8s %-20s %-20s %s\n", "HOST", "ALIVE", "APPLIED", "TYPE", "BACKEND",
           "HEARTBEAT");
    for (size_t i = 0; i < qj_len(list); i++) {
        const qj *a = qj_at(list, i);
        int64_t ap = qctl_applied(a);
        char applied[24];
        snprintf(applied, sizeof applied, ap >= 0 ? "%lld" : "-", (long long)ap);
        const char *backend = qj_get_str(qj_get(a, "configurations"), "backend");
        const char *hb = qj_get_str(a, "heartbeat_timestamp");
        const char *type = qj_get_str(a, "agent_type");
        printf("%-24s %-5s %-8s %-20s %-20s %s\n", qj_get_str(a, "host"),
               qctl_alive(a) ? "yes" : "no", applied, type ? type : "-",
               backend ? backend : "-", hb ? hb : "-");
    }
    qj_free(body);
    return 0;
}

static int qctl_cmp_port(const void *a, const void *b)
{
    const char *x = qj_get_str(*(qj *const *)a, "id"), *y = qj_get_str(*(qj *const *)b, "id");
    return strcmp(x ? x : "", y ? y : "");
}

/* qhvctl ports HOST: the ports bound to HOST, their status and the problem
 * HOST's agent reported for them (configurations.port_problem_details). */
static int qctl_ports(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: qhvctl ports HOST\n");
        return 2;
    }
    const char *host = argv[0];
    char err[1024];
    qj *agents = NULL, *ports = NULL;
    char *path = xasprintf("/v2.0/agents?host=%s", host);
    int st = qctl_get(path, NULL, &agents, err, sizeof err);
    free(path);
    if (st != 200) {
        fprintf(stderr, "qhvctl: %s\n", err);
        qj_free(agents);
        return 1;
    }
    const qj *conf = qj_get(qctl_host_agent(agents), "configurations");
    const qj *details = qj_get(conf, "port_problem_details");
    path = xasprintf("/v2.0/ports?binding:host_id=%s", host);
    st = qctl_get(path, NULL, &ports, err, sizeof err);
    free(path);
    if (st != 200) {
        fprintf(stderr, "qhvctl: %s\n", err);
        qj_free(agents);
        qj_free(ports);
        return 1;
    }
    qj *list = (qj *)qj_get(ports, "ports");
    if (qj_is(list, QJ_ARRAY) && list->u.arr.n)
        qsort(list->u.arr.v, list->u.arr.n, sizeof *list->u.arr.v, qctl_cmp_port);
    printf("%-36s %-6s %s\n", "PORT", "STATUS", "PROBLEM");
    size_t shown = 0;
    for (size_t i = 0; i < qj_len(list); i++) {
        const qj *p = qj_at(list, i);
        const char *id = qj_get_str(p, "id"), *problem = NULL;
        for (size_t k = 0; id && k < qj_len(details); k++)
            if (qj_get_str(qj_at(details, k), "port_id") &&
                !strcmp(qj_get_str(qj_at(details, k), "port_id"), id))
                problem = qj_get_str(qj_at(details, k), "problem");
        shown += problem != NULL;
        const char *status = qj_get_str(p, "status");
        printf("%-36s %-6s %s\n", id ? id : "-", status ? status : "-", problem ? problem : "-");
    }
    int64_t total = qj_get_int(conf, "port_problems", 0);
    if (!conf)
        printf("(no heartbeat of %s: no problems known)\n", host);
    else if (total > (int64_t)shown)
        printf("(%s reports %lld ports with a problem; %zu shown: the heartbeat lists the first "
               "ones by port id)\n", host, (long long)total, shown);
    qj_free(agents);
    qj_free(ports);
    return 0;
}

static int qctl_plan(int argc, char **argv)
{
    const char *host = NULL, *token = getenv("QHV_AGENT_TOKEN");
    bool fresh = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--token") && i + 1 < argc)
            token = argv[++i];
        else if (!strcmp(argv[i], "--fresh"))
            fresh = true;
        else if (!host && argv[i][0] != '-')
            host = argv[i];
        else
            host = NULL, argc = -1;
    }
    if (!host || argc < 0 || (!token && !qctl_auth_header)) {
        fprintf(stderr, "usage: qhvctl plan HOST --token T [--fresh] (or $QHV_AGENT_TOKEN, or "
                        "a Keystone token of HOST's agent user)\n");
        return 2;
    }
    char *path = xasprintf("/channel/v1/hosts/%s/plan%s", host, fresh ? "?fresh=1" : "");
    char err[1024];
    qj *body;
    int status = qctl_get(path, token, &body, err, sizeof err);
    free(path);
    if (status != 200 || !body) {
        fprintf(stderr, "qhvctl: %s\n", status == 200 ? "the plan is not JSON" : err);
        qj_free(body);
        return 1;
    }
    qbuf b;
    qbuf_init(&b, 0);
    qj_emit(body, &b, true);
    printf("%s\n", b.data);
    qbuf_free(&b);
    qj_free(body);
    return 0;
}

/* Completes conf from HOST's heartbeat: what the agent reported. */
/* *version (caller frees) gets the agent's Windows version when it reported one. */
static void qctl_conf_from_agent(const char *host, qag_conf *conf, char **version)
{
    char *path = xasprintf("/v2.0/agents?host=%s", host);
    char err[1024];
    qj *body = NULL;
    int status = qctl_get(path, NULL, &body, err, sizeof err);
    free(path);
    const qj *c = status == 200 ? qj_get(qctl_host_agent(body), "configurations") : NULL;
    const qj *maps = qj_get(c, "vswitch_mappings");
    qbuf b;
    qbuf_init(&b, 0);
    for (size_t i = 0; i < qj_len(maps); i++)
        if (qj_as_str(qj_at(maps, i)))
            qbuf_printf(&b, "%s%s", b.len ? "," : "", qj_as_str(qj_at(maps, i)));
    if (b.len)
        qag_conf_set_mappings(conf, b.data, err, sizeof err);
    qbuf_free(&b);
    /* The rest of what qag_explain reads (the server kept only values of
     * the right form: src/model/agent.c). */
    static const struct { const char *key; size_t off; } strs[] = {
        {"provider_address", offsetof(qag_conf, provider_address)},
        {"local_network_vswitch", offsetof(qag_conf, local_network_vswitch)},
        {"tunnel_vswitch", offsetof(qag_conf, tunnel_vswitch)},
        {"provider_interface", offsetof(qag_conf, hyperv_provider_interface)},
        {"provider_next_hop", offsetof(qag_conf, hyperv_provider_next_hop)},
        {"windows_version", offsetof(qag_conf, hyperv_windows_version)},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        const char *v = qj_get_str(c, strs[i].key);
        if (v) {
            char **field = (char **)((char *)conf + strs[i].off);
            free(*field);
            *field = xstrdup(v);
        }
    }
    static const struct { const char *key; size_t off; } ints[] = {
        {"provider_interface_index", offsetof(qag_conf, hyperv_provider_interface_index)},
        {"provider_prefix_length", offsetof(qag_conf, hyperv_provider_prefix_length)},
        {"provider_vlan_id", offsetof(qag_conf, hyperv_provider_vlan_id)},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (qj_is(qj_get(c, ints[i].key), QJ_INT))
            *(int64_t *)((char *)conf + ints[i].off) = qj_get_int(c, ints[i].key, 0);
    /* The version the backend found (or was told) first, as the agent's
     * own dry run (qag_dry_run) does. */
    const char *v = qj_get_str(qj_get(c, "backend_capabilities"), "windows_version");
    if (!v)
        v = qj_get_str(c, "windows_version");
    if (v)
        *version = xstrdup(v);
    if (!c)
        fprintf(stderr, "qhvctl: no heartbeat of %s: vSwitch names and the provider address "
                        "are the defaults\n", host);
    qj_free(body);
}

static int qctl_explain(int argc, char **argv)
{
    const char *host = NULL, *token = getenv("QHV_AGENT_TOKEN"), *version = NULL;
    const char **files = xcalloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0;
    bool bad = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--token") && i + 1 < argc)
            token = argv[++i];
        else if (!strcmp(argv[i], "--config-file") && i + 1 < argc)
            files[nfiles++] = argv[++i];
        else if (!strcmp(argv[i], "--windows-version") && i + 1 < argc)
            version = argv[++i];
        else if (!host && argv[i][0] != '-')
            host = argv[i];
        else
            bad = true;
    }
    if (!host || bad || (!token && !qctl_auth_header)) {
        fprintf(stderr, "usage: qhvctl explain HOST --token T [--config-file F]... "
                        "[--windows-version V]\n");
        free(files);
        return 2;
    }
    qag_conf conf;
    char err[1024];
    if (qag_conf_load(&conf, files, nfiles, err, sizeof err) < 0) {
        fprintf(stderr, "qhvctl: %s\n", err);
        qag_conf_free(&conf);
        free(files);
        return 2;
    }
    free(files);
    free(conf.host);
    conf.host = xstrdup(host);
    char *reported = NULL;
    if (!nfiles)
        qctl_conf_from_agent(host, &conf, &reported);
    if (!version)
        version = reported;
    char *path = xasprintf("/channel/v1/hosts/%s/plan", host);
    qj *body;
    int status = qctl_get(path, token, &body, err, sizeof err);
    free(path);
    qag_plan plan;
    qag_plan_init(&plan);
    int rc = 1;
    if (status != 200 || !body)
        fprintf(stderr, "qhvctl: %s\n", status == 200 ? "the plan is not JSON" : err);
    else if (qag_plan_apply(&plan, body, err, sizeof err) < 0)
        fprintf(stderr, "qhvctl: %s\n", err);
    else
        rc = 0;
    if (rc == 0) {
        qbuf b;
        qbuf_init(&b, 0);
        qag_explain(&plan, &conf, version && *version ? version : NULL, &b);
        fputs(b.data ? b.data : "", stdout);
        qbuf_free(&b);
    }
    qag_plan_free(&plan);
    qj_free(body);
    qag_conf_free(&conf);
    free(reported);
    return rc;
}

static void qctl_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One look at the server: 1 if every live agent has applied rev (*rev set
 * from the server if < 0), 0 if not yet (behind: who), -1 on error. */
static int qctl_wait_check(int64_t *rev, char *behind, size_t blen, char *err, size_t errlen)
{
    qj *body;
    int status = qctl_get("/channel/v1/status", NULL, &body, err, errlen);
    int rc = 1;
    behind[0] = '\0';
    size_t used = 0;
    if (status == 200) {
        /* An agent has applied rev if its applied revision reaches it, or if
         * it is in sync now (it applied its plan's last change) and now is at
         * or past rev. */
        const qj *now = qj_get(body, "revision");
        int64_t cur = qj_is(now, QJ_INT) ? now->u.i : -1;
        if (*rev < 0)
            *rev = cur;
        const qj *hosts = qj_get(body, "hosts");
        for (size_t i = 0; i < qj_len(hosts); i++) {
            const qj *h = qj_at(hosts, i), *ap = qj_get(h, "applied_revision");
            const qj *sync = qj_get(h, "in_sync");
            if (!qctl_alive(h))
                continue;
            bool ok = (qj_is(ap, QJ_INT) && ap->u.i >= *rev) ||
                      (qj_is(sync, QJ_BOOL) && sync->u.b && cur >= *rev);
            if (!ok) {
                rc = 0;
                used += (size_t)snprintf(behind + used, used < blen ? blen - used : 0, "%s%s",
                                         used ? ", " : "", qj_get_str(h, "host"));
            }
        }
    } else if (status == 404) {
        /* A server without /channel/v1/status: the agents' applied revisions. */
        qj_free(body);
        if (*rev < 0) {
            snprintf(err, errlen, "the server has no /channel/v1/status: give --revision");
            return -2;
        }
        status = qctl_get("/v2.0/agents", NULL, &body, err, errlen);
        if (status != 200) {
            qj_free(body);
            return -1;
        }
        const qj *list = qj_get(body, "agents");
        for (size_t i = 0; i < qj_len(list); i++) {
            const qj *a = qj_at(list, i);
            if (qctl_alive(a) && !qctl_is_dhcp_row(a) && qctl_applied(a) < *rev) {
                rc = 0;
                used += (size_t)snprintf(behind + used, used < blen ? blen - used : 0, "%s%s",
                                         used ? ", " : "", qj_get_str(a, "host"));
            }
        }
    } else {
        rc = -1;
    }
    qj_free(body);
    return rc;
}

static int qctl_wait(int argc, char **argv)
{
    int64_t rev = -1, timeout = 60;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--revision") && i + 1 < argc &&
            qhv_parse_i64(argv[i + 1], 0, INT64_MAX, &rev) == 0) {
            i++;
        } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc &&
                   qhv_parse_i64(argv[i + 1], 0, 86400, &timeout) == 0) {
            i++;
        } else {
            fprintf(stderr, "usage: qhvctl wait [--revision R] [--timeout S]\n");
            return 2;
        }
    }
    uint64_t start = qhv_now_us(), deadline = start + (uint64_t)timeout * 1000000u;
    char behind[1024] = "", err[1024] = "";
    for (;;) {
        int rc = qctl_wait_check(&rev, behind, sizeof behind, err, sizeof err);
        if (rc == 1) {
            printf("every live agent has applied revision %lld (%.1f s)\n", (long long)rev,
                   (double)(qhv_now_us() - start) / 1e6);
            return 0;
        }
        if (rc == -2) {
            fprintf(stderr, "qhvctl: %s\n", err);
            return 2;
        }
        if (qhv_now_us() >= deadline)
            break;
        qctl_sleep_ms(100);
    }
    if (*behind)
        fprintf(stderr, "qhvctl: timeout: not applied revision %lld yet: %s\n", (long long)rev,
                behind);
    else
        fprintf(stderr, "qhvctl: timeout: %s\n", *err ? err : "no answer");
    return 1;
}

static const char *qctl_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The X-Auth-Token header: the given token, else a password login from the
 * OS_* variables, else none. 0, or -1 after printing why. */
static int qctl_auth(const char *token)
{
    if (token) {
        qctl_auth_header = xasprintf("X-Auth-Token: %s", token);
        return 0;
    }
    const char *url = qctl_env("OS_AUTH_URL"), *user = qctl_env("OS_USERNAME");
    const char *pw = qctl_env("OS_PASSWORD");
    if (!url || !user || !pw)
        return 0;
    qkl_creds cr = {url, user, pw, qctl_env("OS_PROJECT_NAME"), qctl_env("OS_USER_DOMAIN_NAME"),
                    qctl_env("OS_PROJECT_DOMAIN_NAME")};
    if (!cr.project_name) {
        fprintf(stderr, "qhvctl: OS_PROJECT_NAME is not set (qhv-server takes project-scoped "
                        "tokens)\n");
        return -1;
    }
    qkl_login *l = qkl_login_new(&cr);
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", NULL};
    qhttpc_req req = {.method = "POST", .url = l->url, .headers = headers, .body = l->body,
                      .body_len = strlen(l->body), .timeout_ms = 30000, .tls = &qctl_tls,
                      .capture_header = "X-Subject-Token"};
    qhttpc *c = qhttpc_new();
    qhttpc_resp r;
    int status = qhttpc_request(c, &req, &r);
    char why[512];
    qkl_token *t = xcalloc(1, sizeof *t);
    int rc = -1;
    if (status < 0)
        snprintf(why, sizeof why, "%s", r.error);
    else
        rc = qkl_parse_answer(status, r.header, r.body.data, r.body.len, t, why, sizeof why);
    if (rc == 0)
        qctl_auth_header = xasprintf("X-Auth-Token: %s", t->token);
    else
        fprintf(stderr, "qhvctl: Keystone login at %s as %s: %s\n", l->url, user, why);
    explicit_bzero(t, sizeof *t);
    free(t);
    qhttpc_resp_free(&r);
    qhttpc_free(c);
    qkl_login_free(l);
    return rc;
}

int main(int argc, char **argv)
{
    const char *env = getenv("QHV_URL"), *url_from = "the default URL";
    if (env && *env) {
        qctl_url = env;
        url_from = "$QHV_URL";
    }
    const char *token = qctl_env("OS_TOKEN");
    qctl_tls.ca_file = qctl_env("OS_CACERT");
    qctl_tls.cert_file = qctl_env("OS_CERT");
    qctl_tls.key_file = qctl_env("OS_KEY");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--url") && i + 1 < argc) {
            qctl_url = argv[++i];
            url_from = "--url";
        } else if (!strncmp(argv[i], "--url=", 6)) {
            qctl_url = argv[i] + 6;
            url_from = "--url";
        } else if (!strcmp(argv[i], "--os-cacert") && i + 1 < argc) {
            qctl_tls.ca_file = argv[++i];
        } else if (!strcmp(argv[i], "--os-cert") && i + 1 < argc) {
            qctl_tls.cert_file = argv[++i];
        } else if (!strcmp(argv[i], "--os-key") && i + 1 < argc) {
            qctl_tls.key_file = argv[++i];
        } else if (!strcmp(argv[i], "--os-token") && i + 1 < argc) {
            token = argv[++i];
        } else if (!strcmp(argv[i], "--insecure")) {
            qctl_tls.insecure = true;
        } else {
            fprintf(stderr, "qhvctl: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (!qctl_tls.cert_file != !qctl_tls.key_file) {
        fprintf(stderr, "qhvctl: --os-cert and --os-key go together\n");
        return 2;
    }
    if (qctl_tls.insecure)
        fprintf(stderr, "qhvctl: warning: --insecure: certificates are not verified\n");
    const char *cmd0 = argv[i];
    /* The dummy subcommands read local files: no server, no login. */
    if (strcmp(cmd0, "dummy") && strcmp(cmd0, "wmimodel")) {
        char err[1024];
        if (qurls_parse(&qctl_urls, qctl_url, url_from, err, sizeof err) < 0) {
            fprintf(stderr, "qhvctl: %s\n", err);
            return 2;
        }
        qag_servers_init(&qctl_servers, &qctl_urls);
        if (qctl_auth(token) < 0) {
            qurls_free(&qctl_urls);
            return 1;
        }
    }
    const char *cmd = argv[i++];
    int rc;
    if (!strcmp(cmd, "agents"))
        rc = qctl_agents(argc - i, argv + i);
    else if (!strcmp(cmd, "plan"))
        rc = qctl_plan(argc - i, argv + i);
    else if (!strcmp(cmd, "ports"))
        rc = qctl_ports(argc - i, argv + i);
    else if (!strcmp(cmd, "explain"))
        rc = qctl_explain(argc - i, argv + i);
    else if (!strcmp(cmd, "nova-events"))
        rc = qctl_nova_events(argc - i, argv + i);
    else if (!strcmp(cmd, "wait"))
        rc = qctl_wait(argc - i, argv + i);
    else if (!strcmp(cmd, "dummy"))
        rc = qctl_dummy(argc - i, argv + i);
    else if (!strcmp(cmd, "wmimodel"))
        rc = qctl_wmimodel(argc - i, argv + i);
    else {
        fprintf(stderr, "qhvctl: unknown command '%s' (see --help)\n", cmd);
        rc = 2;
    }
    qurls_free(&qctl_urls);
    if (qctl_auth_header) {
        explicit_bzero(qctl_auth_header, strlen(qctl_auth_header));
        free(qctl_auth_header);
    }
    return rc;
}
