#include "agent/explain.h"
#include "agent/auth.h"
#include "agent/desired.h"
#include "agent/servers.h"
#include "lib/httpc.h"
#include "lib/util.h"
#include "vswitch/hyperv/powershell.h"
#include "vswitch/vswitch.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t qag_explain(const qag_plan *plan, const qag_conf *conf, const char *windows_version,
                   qbuf *out)
{
    qvs_map *nics = qvs_map_new();
    const char *key;
    for (size_t i = 0; i < qtm_end(plan->sec[QAG_SEC_PORTS]); i++)
        if (qtm_at(plan->sec[QAG_SEC_PORTS], i, &key, NULL, NULL))
            qvs_map_put(nics, key, qj_object());
    qag_desired d;
    qag_desired_compute(plan, conf, nics, &d);
    qhyv_ps_opts o = {
        .windows_version = windows_version ? windows_version : conf->hyperv_windows_version,
        .pa = {.address = conf->provider_address,
               .interface = conf->hyperv_provider_interface,
               .ifindex = conf->hyperv_provider_interface_index,
               .prefix_len = conf->hyperv_provider_prefix_length,
               .vlan = conf->hyperv_provider_vlan_id,
               .next_hop = conf->hyperv_provider_next_hop}};
    qbuf_printf(out, "# host %s, plan revision %lld\n", conf->host, (long long)plan->revision);
    size_t n = qhyv_ps_emit(d.objects, &o, out);
    for (size_t i = 0; i < d.nports; i++)
        if (d.ports[i].problem)
            qbuf_printf(out, "# port %s is not wired: %s\n", d.ports[i].id, d.ports[i].problem);
    qag_desired_free(&d);
    qvs_map_free(nics);
    return n;
}

/* The Windows version a dry run assumes: [hyperv] windows_version, else
 * the one the hyperv backend finds (what the agent reports in its
 * heartbeat, so that qhvctl explain prints the same), else NULL (the
 * default). Opening the backend writes nothing. */
static char *qag_dry_run_version(const qag_conf *conf)
{
    if (*conf->hyperv_windows_version || strcmp(conf->backend, "hyperv"))
        return NULL;
    char err[256];
    const qvs_class *cls = qvs_class_find(conf->backend, err, sizeof err);
    qvs_options vo;
    qag_conf_backend_options(conf, &vo);
    vo.hyperv_state_file = NULL;    /* a look at the host, not the agent's state */
    qvs *vs = NULL;
    char *version = NULL;
    if (cls && cls->capabilities && cls->open(&vo, &vs, err, sizeof err) == 0) {
        qj *caps = cls->capabilities(vs);
        const char *v = qj_get_str(caps, "windows_version");
        version = v ? xstrdup(v) : NULL;
        qj_free(caps);
        cls->close(vs);
    }
    return version;
}

int qag_dry_run(const qag_conf *conf, FILE *out, char *err, size_t errlen)
{
    qhttpc *http = qhttpc_new();
    qag_auth *auth = qag_auth_new(conf, http, err, errlen);
    if (!auth) {
        qhttpc_free(http);
        return -1;
    }
    /* Keystone mode: wait (at most 30 s) for the login. */
    uint64_t until = qhv_now_us() + 30000000u;
    while (!qag_auth_header(auth, qhv_now_us()) && qhv_now_us() < until) {
        qhttpc_wait(http, 100);
        qag_auth_tick(auth, qhv_now_us());
    }
    int rc = -1;
    const char *cred = qag_auth_header(auth, qhv_now_us());
    if (!cred) {
        snprintf(err, errlen, "no credential for the host channel (Keystone login failed?)");
    } else {
        char *path = xasprintf("/channel/v1/hosts/%s/plan", conf->host);
        const char *headers[] = {cred, "Accept: application/json", NULL};
        qhttpc_req req = {.method = "GET", .headers = headers, .timeout_ms = 30000,
                          .tls = qag_auth_server_tls(auth)};
        qhttpc_resp r;
        qag_servers servers;
        qag_servers_init(&servers, &conf->servers);
        char *skipped;
        int status = qag_servers_request(&servers, http, path, &req, &r, &skipped);
        qj *answer = status == 200 ? qj_parse(r.body.data, r.body.len, NULL, NULL) : NULL;
        if (status != 200)
            snprintf(err, errlen, "%s%s%s%s: %s", skipped ? "skipped " : "",
                     skipped ? skipped : "", skipped ? "; " : "", qag_servers_url(&servers),
                     status < 0 ? r.error : r.body.data ? r.body.data : "no answer");
        else if (skipped)
            fprintf(stderr, "qhv-agent: skipped %s; used %s\n", skipped,
                    qag_servers_url(&servers));
        free(skipped);
        qhttpc_resp_free(&r);
        free(path);
        qag_plan plan;
        qag_plan_init(&plan);
        if (answer && qag_plan_apply(&plan, answer, err, errlen) >= 0) {
            qbuf b;
            qbuf_init(&b, 0);
            char *version = qag_dry_run_version(conf);
            qag_explain(&plan, conf, version, &b);
            free(version);
            fputs(b.data ? b.data : "", out);
            qbuf_free(&b);
            rc = 0;
        } else if (status == 200 && !answer) {
            snprintf(err, errlen, "the plan is not JSON");
        }
        qj_free(answer);
        qag_plan_free(&plan);
    }
    qag_auth_free(auth);
    qhttpc_free(http);
    return rc;
}
