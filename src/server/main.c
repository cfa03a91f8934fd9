/* qhv-server: the Networking API v2.0 for Hyper-V hosts. */
#include "lib/log.h"
#include "lib/util.h"
#include "model/config.h"
#include "model/model.h"
#include "server/api.h"
#include "server/channel.h"
#include "server/dhcpwatch.h"
#include "server/feed.h"
#include "server/http.h"
#include "server/identity.h"
#include "server/novasend.h"
#include "server/tls.h"
#include "store/copy.h"
#include "store/dbsync.h"
#include "store/store.h"
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t qhv_stop;

static void qhv_on_signal(int sig) { qhv_stop = sig; }

static void usage(FILE *f)
{
    fprintf(f, "usage: qhv-server [--config-file FILE]... [--agent-token HOST] [--db-sync]\n"
               "                  [--db-copy FROM TO] [--help]\n\n"
               "  --agent-token HOST  print the host channel token of HOST's agent and exit\n"
               "  --db-sync           migrate [database] connection to this build's schema\n"
               "                      and exit (the server also migrates at start)\n"
               "  --db-copy FROM TO   copy the database FROM into the empty database TO\n"
               "                      (connection strings: sqlite:///path, postgresql://...),\n"
               "                      verify every row, and exit\n\n"
               "Serves the Networking API v2.0 (Neutron) for qhv. Options are read from the\n"
               "INI files in order; a later file overrides an earlier one.\n\nOptions:\n");
    qconf_print_help(f);
}

int main(int argc, char **argv)
{
    const char **files = xcalloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0;
    const char *token_host = NULL;
    bool db_sync = false;
    const char *copy_from = NULL, *copy_to = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(files);
            return 0;
        } else if (!strcmp(argv[i], "--config-file") && i + 1 < argc) {
            files[nfiles++] = argv[++i];
        } else if (!strcmp(argv[i], "--agent-token") && i + 1 < argc) {
            token_host = argv[++i];
        } else if (!strcmp(argv[i], "--db-sync")) {
            db_sync = true;
        } else if (!strcmp(argv[i], "--db-copy") && i + 2 < argc) {
            copy_from = argv[++i];
            copy_to = argv[++i];
        } else if (!strncmp(argv[i], "--config-file=", 14)) {
            files[nfiles++] = argv[i] + 14;
        } else {
            fprintf(stderr, "qhv-server: unknown argument '%s' (see --help)\n", argv[i]);
            free(files);
            return 2;
        }
    }
    /* A few arenas, not one per API thread: large list responses would
     * otherwise leave each thread's arena holding its peak. */
    mallopt(M_ARENA_MAX, 2);
    qconf conf;
    char err[1024];
    if (qconf_load(&conf, files, nfiles, err, sizeof err) < 0) {
        fprintf(stderr, "qhv-server: %s\n", err);
        qconf_free(&conf);
        free(files);
        return 2;
    }
    free(files);
    if (token_host) {
        /* The per-host token an agent on token_host configures. */
        char tok[QCHAN_TOKEN_LEN + 1];
        int rc = 1;
        if (!*conf.agent_auth_token)
            fprintf(stderr, "qhv-server: [agent] auth_token is not set\n");
        else if (qchan_host_token(conf.agent_auth_token, token_host, tok) == 0)
            rc = printf("%s\n", tok) < 0;
        qconf_free(&conf);
        return rc;
    }
    if (db_sync || copy_from) {
        /* Database tools: they run and exit, the server does not start. */
        qstore_opts so = qconf_store_opts(&conf);
        qerr e;
        int rc = db_sync ? qdbsync_run(&so, stdout, &e)
                         : qcopy_run(&so, copy_from, copy_to, stdout, &e);
        if (rc < 0)
            fprintf(stderr, "qhv-server: %s: %s\n", db_sync ? "--db-sync" : "--db-copy", e.msg);
        qconf_free(&conf);
        return rc < 0 ? 1 : 0;
    }
    if (conf.debug)
        qlog_set_level(QLOG_DEBUG);
    if (*conf.log_file && qlog_set_file(conf.log_file) < 0) {
        fprintf(stderr, "qhv-server: cannot open log_file %s\n", conf.log_file);
        qconf_free(&conf);
        return 2;
    }
    qerr e;
    qtls_material tls = {0};
    if (*conf.ssl_cert_file &&
        qtls_load(conf.ssl_cert_file, conf.ssl_key_file, conf.ssl_ca_file, &tls, &e) < 0) {
        fprintf(stderr, "qhv-server: %s\n", e.msg);
        qconf_free(&conf);
        return 2;
    }
    if (qidentity_init(&conf, &e) < 0) {
        fprintf(stderr, "qhv-server: %s\n", e.msg);
        qtls_material_free(&tls);
        qconf_free(&conf);
        return 2;
    }
    qstore_opts so = qconf_store_opts(&conf);
    qstore *store = qstore_open(&so, &e);
    if (!store) {
        fprintf(stderr, "qhv-server: database: %s\n", e.msg);
        qidentity_shutdown();
        qtls_material_free(&tls);
        qconf_free(&conf);
        return 1;
    }
    qmodel *model = qmodel_new(store, &conf);
    qfeed *feed = qfeed_new(model);
    /* Before the listener: events pending from a previous run go first. */
    qnovasend *nova = qnovasend_start(model);
    /* Commits of other servers on a shared database reach the feed (and
     * the Nova sender) as ours do; heard from before any agent can ask for
     * a plan, so that none is computed before a change it misses. */
    if (qstore_listen(store, qmodel_heard, model, &e) < 0) {
        fprintf(stderr, "qhv-server: %s\n", e.msg);
        qnovasend_stop(nova);
        qfeed_free(feed);
        qmodel_free(model);
        qstore_close(store);
        qtls_material_free(&tls);
        qidentity_shutdown();
        qconf_free(&conf);
        return 1;
    }
    qapi api = {model, &conf, feed, nova};
    qhttp_config hc = {conf.bind_host, (int)conf.bind_port, (unsigned)conf.api_workers,
                       (size_t)conf.max_request_body_size, qidentity_challenge(),
                       tls.cert_pem, tls.key_pem, tls.ca_pem,
                       (unsigned)conf.client_header_timeout, (unsigned)conf.max_connections,
                       conf.max_connections_per_address ? (int)conf.max_connections_per_address
                                                        : -1,
                       (size_t)conf.max_request_header_size};
    qhttp *http = qhttp_start(&hc, qapi_handle, &api, &e);
    qtls_material_free(&tls);      /* the listener has its own copy */
    if (http) {
        qhttp_set_slot_free(http, qfeed_waiter_free);
        qhttp_set_slot_gone(http, qfeed_waiter_gone);
    }
    if (!http) {
        fprintf(stderr, "qhv-server: %s\n", e.msg);
        qstore_unlisten(store);
        qnovasend_stop(nova);
        qfeed_free(feed);
        qmodel_free(model);
        qstore_close(store);
        qidentity_shutdown();
        qconf_free(&conf);
        return 1;
    }
    qdhcpwatch *dhcpwatch = qdhcpwatch_start(model);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = qhv_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    QLOG_I("server", "qhv-server listening on %s:%d (%s, auth_strategy %s%s, database %s, "
                     "schema %d, revision %lld)",
           conf.bind_host, qhttp_port(http), *conf.ssl_cert_file ? "HTTPS" : "HTTP",
           conf.auth_strategy, *conf.ssl_ca_file ? ", client certificates required" : "",
           qstore_where(store), qstore_schema_version(store), (long long)qstore_revision(store));
    if (!*conf.ssl_cert_file && !strcmp(conf.auth_strategy, "keystone") &&
        strcmp(conf.bind_host, "127.0.0.1") && strcmp(conf.bind_host, "::1"))
        QLOG_W("server", "auth_strategy keystone without [ssl] cert_file on %s: tokens and "
                         "agent tokens cross the network in clear text", conf.bind_host);
    while (!qhv_stop)
        pause();
    QLOG_I("server", "stopping on signal %d", (int)qhv_stop);
    qdhcpwatch_stop(dhcpwatch);
    qstore_unlisten(store);
    qfeed_shutdown(feed);      /* wakes agents waiting on the channel */
    qhttp_stop(http);
    qnovasend_stop(nova);      /* what it has not sent stays in the outbox */
    qidentity_shutdown();
    qfeed_free(feed);
    qmodel_free(model);
    qstore_close(store);
    qconf_free(&conf);
    return 0;
}
