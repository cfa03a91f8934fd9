/* qhv-agent: the per-hypervisor agent (src/agent/agent.h). */
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/explain.h"
#include "lib/log.h"
#include "lib/util.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t qag_stop;

static void qag_on_signal(int sig) { qag_stop = sig; }

static void usage(FILE *f)
{
    fprintf(f, "usage: qhv-agent [--config-file FILE]... [--dry-run] [--help]\n\n"
               "  --config-file FILE  read options from FILE (repeatable; later files win)\n"
               "  --dry-run           fetch this host's plan once and print the PowerShell an\n"
               "                      operator would type for the same Hyper-V state; change\n"
               "                      nothing\n\n"
               "Options (INI sections and keys):\n");
    qag_conf_print_help(f);
}

int main(int argc, char **argv)
{
    const char **files = xcalloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0;
    bool dry_run = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            free(files);
            return 0;
        } else if (!strcmp(argv[i], "--config-file") && i + 1 < argc) {
            files[nfiles++] = argv[++i];
        } else if (!strncmp(argv[i], "--config-file=", 14)) {
            files[nfiles++] = argv[i] + 14;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry_run = true;
        } else {
            fprintf(stderr, "qhv-agent: unknown argument '%s' (see --help)\n", argv[i]);
            free(files);
            return 2;
        }
    }
    qag_conf conf;
    char err[1024];
    int rc = qag_conf_load(&conf, files, nfiles, err, sizeof err);
    free(files);
    if (rc < 0) {
        fprintf(stderr, "qhv-agent: %s\n", err);
        qag_conf_free(&conf);
        return 2;
    }
    if (conf.debug)
        qlog_set_level(QLOG_DEBUG);
    if (*conf.log_file && qlog_set_file(conf.log_file) < 0) {
        fprintf(stderr, "qhv-agent: cannot open log_file %s\n", conf.log_file);
        qag_conf_free(&conf);
        return 2;
    }
    if (dry_run) {
        rc = qag_dry_run(&conf, stdout, err, sizeof err);
        if (rc < 0)
            fprintf(stderr, "qhv-agent: --dry-run: %s\n", err);
        qag_conf_free(&conf);
        return rc < 0 ? 1 : 0;
    }
    qag *a = qag_new(&conf, err, sizeof err);
    if (!a) {
        fprintf(stderr, "qhv-agent: %s\n", err);
        qag_conf_free(&conf);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = qag_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    qag_run(a, &qag_stop);
    qag_free(a);
    qag_conf_free(&conf);
    return 0;
}
