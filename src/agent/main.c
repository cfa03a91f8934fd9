/* qhv-agent: the per-hypervisor agent (src/agent/agent.h). A console
 * program; on Windows also a service (src/agent/service.h). */
#include "agent/config.h"
#include "agent/heap.h"
#include "agent/launch.h"
#ifdef _WIN32
#include "agent/service.h"
#endif
#include "lib/plat.h"
#include "lib/util.h"
#include "vswitch/hyperv/hv_selftest.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t qag_stop;

/* --selftest: [hyperv] transport, model_file and windows_version apply. */
static int selftest(const char *const *files, size_t nfiles, const char *report, bool json)
{
    qag_conf c;
    char err[512];
    if (qag_conf_load(&c, files, nfiles, err, sizeof err) < 0) {
        fprintf(stderr, "qhv-agent: %s\n", err);
        qag_conf_free(&c);
        return 2;
    }
    qhyv_selftest_cli o = {.transport = c.hyperv_transport, .model_file = c.hyperv_model_file,
                           .windows_version = c.hyperv_windows_version, .report_file = report,
                           .json = json};
    int rc = qhyv_selftest_main(&o, stdout, stderr);
    qag_conf_free(&c);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: qhv-agent [--config-file FILE]... [--dry-run] [--help]\n"
#ifdef _WIN32
               "       qhv-agent --install-service [--config-file FILE]...\n"
               "       qhv-agent --remove-service\n"
#endif
               "       qhv-agent --selftest [--selftest-report FILE] [--json] [--config-file FILE]...\n"
               "\n"
               "  --config-file FILE  read options from FILE (repeatable; later files win)\n"
               "  --dry-run           fetch this host's plan once and print the PowerShell an\n"
               "                      operator would type for the same Hyper-V state; change\n"
               "                      nothing\n"
               "  --selftest          make a scratch internal switch and VM, drive every Hyper-V\n"
               "                      operation the agent uses through them, remove them, print\n"
               "                      a pass/fail table (docs/hyperv-selftest.md); exit 0 only\n"
               "                      when every step passed\n"
               "  --selftest-report FILE  also write the JSON report (attach it to a bug)\n"
               "  --json              print the JSON report instead of the table\n"
#ifdef _WIN32
               "  --install-service   register the Windows service '" QAG_SERVICE_NAME "'\n"
               "                      (automatic start, LocalSystem) running this program\n"
               "                      with these --config-file options (absolute paths)\n"
               "  --remove-service    stop and unregister that service\n"
               "  --service           run as that service (the service manager passes it)\n"
#endif
               "\nOptions (INI sections and keys):\n");
    qag_conf_print_help(f);
}

int main(int argc, char **argv)
{
    qag_heap_setup(argv);
    const char **files = xcalloc((size_t)argc + 1, sizeof *files);
    size_t nfiles = 0;
    enum { RUN, DRY_RUN, SERVICE, INSTALL, REMOVE, SELFTEST } mode = RUN;
    const char *report = NULL;
    bool json = false;
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
            mode = DRY_RUN;
        } else if (!strcmp(argv[i], "--selftest")) {
            mode = SELFTEST;
        } else if (!strcmp(argv[i], "--selftest-report") && i + 1 < argc) {
            mode = SELFTEST;
            report = argv[++i];
        } else if (!strcmp(argv[i], "--json")) {
            mode = SELFTEST;
            json = true;
#ifdef _WIN32
        } else if (!strcmp(argv[i], "--service")) {
            mode = SERVICE;
        } else if (!strcmp(argv[i], "--install-service")) {
            mode = INSTALL;
        } else if (!strcmp(argv[i], "--remove-service")) {
            mode = REMOVE;
#endif
        } else {
            fprintf(stderr, "qhv-agent: unknown argument '%s' (see --help)\n", argv[i]);
            free(files);
            return 2;
        }
    }
    int rc;
    switch (mode) {
#ifdef _WIN32
    case SERVICE:
        rc = qag_service_dispatch(files, nfiles);
        break;
    case INSTALL:
        rc = qag_service_install(files, nfiles);
        break;
    case REMOVE:
        rc = qag_service_remove();
        break;
#endif
    case SELFTEST:
        rc = selftest(files, nfiles, report, json);
        break;
    case DRY_RUN:
        rc = qag_launch_dry_run(files, nfiles, stdout);
        break;
    default:
        qplat_on_stop(&qag_stop);
        rc = qag_launch(files, nfiles, NULL, &qag_stop);
        break;
    }
    free(files);
    return rc;
}
