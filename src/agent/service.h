/* service: qhv-agent as a Windows service (service_win.c; Windows only).
 *
 * The service manager starts "qhv-agent.exe --service --config-file ...";
 * qag_service_dispatch hands the process to it (StartServiceCtrlDispatcher),
 * runs the agent as qag_launch_waiting does, and stops it cleanly on
 * SERVICE_CONTROL_STOP or SHUTDOWN (the loop notices within one tick, 200
 * ms, and the service reports STOPPED once the agent has freed everything).
 * Without a log_file the service logs to qhv-agent.log beside the .exe.
 *
 * Starting: START_PENDING (a new checkpoint about every second, wait hint
 * 10 s) until the agent is set up with its backend open, then RUNNING. A
 * backend that does not open (at boot VMMS may come up after the agent) is
 * tried again with back-off for up to 10 minutes; then the service stops
 * with service-specific exit code 3 (launch.h). Bad options or "Hyper-V is
 * absent" stop it at once with code 2. A stop with a non-zero code counts
 * as a failure: the restart actions apply (failure-actions flag).
 *
 * All three return the process exit status (0 = done) and say on stderr
 * what went wrong. */
#ifndef QHV_AGENT_SERVICE_H
#define QHV_AGENT_SERVICE_H
#include <stddef.h>

#define QAG_SERVICE_NAME "qhv-agent"

int qag_service_dispatch(const char *const *files, size_t nfiles);
/* Registers the service (automatic start, LocalSystem, depending on Winmgmt,
 * and on vmms too when files say backend = hyperv; restart after 5 s, 30 s,
 * then every 60 s on a crash and on a stop with a non-zero exit code) with
 * this executable and files (made absolute) on its command line. Files must
 * load (2 otherwise). A setting the service manager refuses (as Wine's does
 * the failure-actions flag) is a warning on stderr, not a failure. */
int qag_service_install(const char *const *files, size_t nfiles);
/* Stops the service if it runs, and unregisters it. */
int qag_service_remove(void);

#endif
