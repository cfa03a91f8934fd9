#include "agent/launch.h"
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/explain.h"
#include "lib/log.h"
#include <stdbool.h>
#include <stdio.h>

/* Says why the agent cannot start, on stderr and, when the log goes to a
 * file, there too (a service's only output). */
static int qag_launch_fail(bool logging, const char *msg)
{
    fprintf(stderr, "qhv-agent: %s\n", msg);
    if (logging)
        QLOG_E("agent", "cannot start: %s", msg);
    return 2;
}

int qag_launch(const char *const *files, size_t nfiles, const char *fallback_log,
               volatile sig_atomic_t *stop)
{
    qag_conf conf;
    char err[1024];
    if (qag_conf_load(&conf, files, nfiles, err, sizeof err) < 0) {
        if (fallback_log)
            qlog_set_file(fallback_log);
        qag_conf_free(&conf);
        return qag_launch_fail(fallback_log != NULL, err);
    }
    if (conf.debug)
        qlog_set_level(QLOG_DEBUG);
    const char *log_file = *conf.log_file ? conf.log_file : fallback_log;
    if (log_file && qlog_set_file(log_file) < 0) {
        snprintf(err, sizeof err, "cannot open log_file %s", log_file);
        qag_conf_free(&conf);
        return qag_launch_fail(false, err);
    }
    qag *a = qag_new(&conf, err, sizeof err);
    if (!a) {
        qag_conf_free(&conf);
        return qag_launch_fail(log_file != NULL, err);
    }
    qag_run(a, stop);
    qag_free(a);
    qag_conf_free(&conf);
    return 0;
}

int qag_launch_dry_run(const char *const *files, size_t nfiles, FILE *out)
{
    qag_conf conf;
    char err[1024];
    if (qag_conf_load(&conf, files, nfiles, err, sizeof err) < 0) {
        qag_conf_free(&conf);
        return qag_launch_fail(false, err);
    }
    if (conf.debug)
        qlog_set_level(QLOG_DEBUG);
    int rc = qag_dry_run(&conf, out, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "qhv-agent: --dry-run: %s\n", err);
    qag_conf_free(&conf);
    return rc < 0 ? 1 : 0;
}
