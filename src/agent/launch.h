/* launch: one run of qhv-agent from its configuration files to its stop,
 * shared by the console program (main.c) and the Windows service
 * (service_win.c): load the options, set up the log, run the loop until
 * *stop is non-zero, free everything.
 *
 * fallback_log: where to log when [DEFAULT] log_file is empty (NULL =
 * stderr); a service has no console to write to. Returns the process exit
 * status: 0 after a requested stop, 2 when the agent could not start (the
 * reason is on stderr and in the log). */
#ifndef QHV_AGENT_LAUNCH_H
#define QHV_AGENT_LAUNCH_H
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

int qag_launch(const char *const *files, size_t nfiles, const char *fallback_log,
               volatile sig_atomic_t *stop);

/* qhv-agent --dry-run: loads the options, prints the PowerShell for the
 * host's plan to out (src/agent/explain.h). Returns the exit status: 0, 1
 * when the plan could not be had, 2 for bad options. */
int qag_launch_dry_run(const char *const *files, size_t nfiles, FILE *out);

#endif
