/* service: qhv-agent as a Windows service (service_win.c; Windows only).
 *
 * The service manager starts "qhv-agent.exe --service --config-file ...";
 * qag_service_dispatch hands the process to it (StartServiceCtrlDispatcher),
 * runs the agent as qag_launch does, and stops it cleanly on
 * SERVICE_CONTROL_STOP or SHUTDOWN (the loop notices within one tick, 200
 * ms, and the service reports STOPPED once the agent has freed everything).
 * Without a log_file the service logs to qhv-agent.log beside the .exe.
 *
 * All three return the process exit status (0 = done) and say on stderr
 * what went wrong. */
#ifndef QHV_AGENT_SERVICE_H
#define QHV_AGENT_SERVICE_H
#include <stddef.h>

#define QAG_SERVICE_NAME "qhv-agent"

int qag_service_dispatch(const char *const *files, size_t nfiles);
/* Registers the service (automatic start, LocalSystem, restart on failure)
 * with this executable and files (made absolute) on its command line. */
int qag_service_install(const char *const *files, size_t nfiles);
/* Stops the service if it runs, and unregisters it. */
int qag_service_remove(void);

#endif
