#include "agent/launch.h"
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/explain.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/util.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Says why the agent cannot start, on stderr and, when the log goes to a
 * file, there too (a service's only output). */
static int qag_launch_fail(bool logging, const char *msg)
{
    fprintf(stderr, "qhv-agent: %s\n", msg);
    if (logging)
        QLOG_E("agent", "cannot start: %s", msg);
    return QAG_EXIT_CANNOT_START;
}

/* What the COM transport says when root\virtualization\v2 does not exist
 * (src/vswitch/hyperv/wmi_com.h): no Hyper-V role, which waiting cannot fix. */
#define QAG_LAUNCH_ABSENT "Hyper-V is absent: "

/* Sleeps ms (or until *stop), calling wait->pending about every second. */
static void qag_launch_sleep(const qag_launch_wait *wait, uint64_t ms,
                             volatile sig_atomic_t *stop)
{
    uint64_t end = qhv_now_us() + ms * 1000u, next_pending = 0;
    for (uint64_t now = qhv_now_us(); now < end && !*stop; now = qhv_now_us()) {
        if (wait->pending && now >= next_pending) {
            wait->pending(wait->ctx);
            next_pending = now + 1000000u;
        }
        uint64_t left = (end - now) / 1000u;
        qplat_sleep_ms(left < 200 ? (long)left + 1 : 200);
    }
}

/* qag_new, tried again while the backend does not open (wait). NULL with
 * *rc = the exit status when it gives up or *stop is set. */
static qag *qag_launch_new(const qag_conf *conf, const qag_launch_wait *wait, bool logging,
                           volatile sig_atomic_t *stop, int *rc)
{
    char err[1024];
    uint64_t start = qhv_now_us();
    uint64_t delay_ms = 1000;
    for (unsigned attempt = 1;; attempt++) {
        qag *a = qag_new(conf, err, sizeof err);
        if (a)
            return a;
        if (!wait || !strncmp(err, QAG_LAUNCH_ABSENT, strlen(QAG_LAUNCH_ABSENT))) {
            *rc = qag_launch_fail(logging, err);
            return NULL;
        }
        uint64_t waited_s = (qhv_now_us() - start) / 1000000u;
        if (waited_s + delay_ms / 1000u > wait->max_s) {
            char msg[1200];
            snprintf(msg, sizeof msg, "backend %s did not open in %llu s (%u attempts): %s",
                     conf->backend, (unsigned long long)waited_s, attempt, err);
            fprintf(stderr, "qhv-agent: %s\n", msg);
            if (logging)
                QLOG_E("agent", "cannot start: %s", msg);
            *rc = QAG_EXIT_BACKEND_WAIT;
            return NULL;
        }
        QLOG_W("agent", "cannot start yet (attempt %u): %s; retrying in %llu s (for up to %u s)",
               attempt, err, (unsigned long long)(delay_ms / 1000u), wait->max_s);
        qag_launch_sleep(wait, delay_ms, stop);
        if (*stop) {
            *rc = 0;
            return NULL;
        }
        delay_ms = delay_ms * 2 > 30000 ? 30000 : delay_ms * 2;
    }
}

int qag_launch(const char *const *files, size_t nfiles, const char *fallback_log,
               volatile sig_atomic_t *stop)
{
    return qag_launch_waiting(files, nfiles, fallback_log, stop, NULL);
}

int qag_launch_waiting(const char *const *files, size_t nfiles, const char *fallback_log,
                       volatile sig_atomic_t *stop, const qag_launch_wait *wait)
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
    int rc = 0;
    qag *a = qag_launch_new(&conf, wait, log_file != NULL, stop, &rc);
    if (a) {
        if (wait && wait->started)
            wait->started(wait->ctx);
        qag_run(a, stop);
        qag_free(a);
    }
    qag_conf_free(&conf);
    return rc;
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
