/* launch: one run of qhv-agent from its configuration files to its stop,
 * shared by the console program (main.c) and the Windows service
 * (service_win.c): load the options, set up the log, run the loop until
 * *stop is non-zero, free everything.
 *
 * fallback_log: where to log when [DEFAULT] log_file is empty (NULL =
 * stderr); a service has no console to write to. Returns the process exit
 * status: 0 after a requested stop, 2 when the agent could not start (the
 * reason is on stderr and in the log), 3 when it waited for its backend in
 * vain (qag_launch_wait). */
#ifndef QHV_AGENT_LAUNCH_H
#define QHV_AGENT_LAUNCH_H
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#define QAG_EXIT_CANNOT_START 2
#define QAG_EXIT_BACKEND_WAIT 3

int qag_launch(const char *const *files, size_t nfiles, const char *fallback_log,
               volatile sig_atomic_t *stop);

/* How a service waits for its backend: at boot Hyper-V's management
 * service (vmms, the WMI provider) may come up after the agent. When the
 * agent cannot be set up with valid options (its backend does not open),
 * it tries again after 1 s, 2 s, 4 s ... 30 s, for up to max_s seconds,
 * then gives up (QAG_EXIT_BACKEND_WAIT). Not retried: bad options, and
 * "Hyper-V is absent" (no virtualization namespace: no Hyper-V role). */
typedef struct qag_launch_wait {
    unsigned max_s;
    void (*pending)(void *ctx);     /* about every second while not yet started */
    void (*started)(void *ctx);     /* once set up, before the loop runs */
    void *ctx;
} qag_launch_wait;

/* qag_launch, waiting for the backend as wait says (NULL: not at all). */
int qag_launch_waiting(const char *const *files, size_t nfiles, const char *fallback_log,
                       volatile sig_atomic_t *stop, const qag_launch_wait *wait);

/* qhv-agent --dry-run: loads the options, prints the PowerShell for the
 * host's plan to out (src/agent/explain.h). Returns the exit status: 0, 1
 * when the plan could not be had, 2 for bad options. */
int qag_launch_dry_run(const char *const *files, size_t nfiles, FILE *out);

#endif
