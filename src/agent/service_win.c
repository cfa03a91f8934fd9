/* qhv-agent as a Windows service (agent/service.h). */
#include "agent/service.h"
#include "agent/config.h"
#include "agent/launch.h"
#include "lib/buf.h"
#include "lib/util.h"
#include <windows.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QAG_SERVICE_DISPLAY "qhv agent (Neutron networking for Hyper-V)"
#define QAG_SERVICE_DESCRIPTION                                                             \
    "Keeps this host's Hyper-V virtual switch matching the plan of qhv-server (VLAN, NVGRE, " \
    "security groups), and reports port status and heartbeats."

/* How long the service waits for its backend to open before it stops with
 * QAG_EXIT_BACKEND_WAIT (the restart actions then start it again). */
#define QAG_SVC_BACKEND_WAIT_S 600
/* The wait hint while starting: pending() advances the checkpoint about
 * every second, well within it. */
#define QAG_SVC_START_HINT_MS 10000

/* What ServiceMain needs from main(): the dispatcher passes nothing else. */
static const char *const *qag_svc_files;
static size_t qag_svc_nfiles;
static SERVICE_STATUS_HANDLE qag_svc_handle;
static SERVICE_STATUS qag_svc_status;
static CRITICAL_SECTION qag_svc_lock;   /* the loop's thread and the control handler's */
static CONDITION_VARIABLE qag_svc_idle; /* signalled when a SetServiceStatus call ends */
static volatile sig_atomic_t qag_svc_stop;
/* Under qag_svc_lock: */
static bool qag_svc_stopping;           /* a stop was asked: START_PENDING, RUNNING are stale */
static bool qag_svc_stopped;            /* STOPPED reported: nothing may follow */
static bool qag_svc_busy;               /* a SetServiceStatus call is in progress */

/* Reports state, one SetServiceStatus call at a time and in the order of the
 * decisions, without holding the lock during the call: under Wine,
 * SetServiceStatus(STOPPED) waits for the dispatcher's lock, which is held
 * while the control handler runs, so the handler must never wait for the
 * loop's thread (handler = true: if a report is in progress, it skips its
 * own). Once a stop is asked a late START_PENDING or RUNNING is dropped, and
 * nothing follows STOPPED (a late STOP_PENDING would stand for good under
 * Wine's service manager; Windows' may have let go of the handle). */
static void qag_svc_report_from(bool handler, DWORD state, DWORD exit_code, DWORD wait_hint)
{
    EnterCriticalSection(&qag_svc_lock);
    if (state == SERVICE_STOP_PENDING)
        qag_svc_stopping = true;
    while (qag_svc_busy && !handler)
        SleepConditionVariableCS(&qag_svc_idle, &qag_svc_lock, INFINITE);
    bool stale = qag_svc_busy || qag_svc_stopped ||
                 (qag_svc_stopping && state != SERVICE_STOP_PENDING && state != SERVICE_STOPPED);
    if (!stale) {
        qag_svc_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
        qag_svc_status.dwCurrentState = state;
        /* Starting (waiting for the backend) it can be stopped too, where the
         * service manager passes the control on. */
        qag_svc_status.dwControlsAccepted =
            state == SERVICE_RUNNING || state == SERVICE_START_PENDING
                ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN
                : 0;
        qag_svc_status.dwWin32ExitCode = exit_code ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
        qag_svc_status.dwServiceSpecificExitCode = exit_code;
        qag_svc_status.dwWaitHint = wait_hint;
        if (state == SERVICE_RUNNING || state == SERVICE_STOPPED)
            qag_svc_status.dwCheckPoint = 0;
        else
            qag_svc_status.dwCheckPoint++;
        qag_svc_stopped = state == SERVICE_STOPPED;
        SERVICE_STATUS copy = qag_svc_status;
        qag_svc_busy = true;
        LeaveCriticalSection(&qag_svc_lock);
        SetServiceStatus(qag_svc_handle, &copy);
        EnterCriticalSection(&qag_svc_lock);
        qag_svc_busy = false;
        WakeAllConditionVariable(&qag_svc_idle);
    }
    LeaveCriticalSection(&qag_svc_lock);
}

static void qag_svc_report(DWORD state, DWORD exit_code, DWORD wait_hint)
{
    qag_svc_report_from(false, state, exit_code, wait_hint);
}

/* Runs on the dispatcher's thread: say so to the service manager, then ask
 * the loop to stop (it notices within one tick), so that its STOPPED cannot
 * come before this STOP_PENDING. */
static DWORD WINAPI qag_svc_control(DWORD control, DWORD type, LPVOID data, LPVOID ctx)
{
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        qag_svc_report_from(true, SERVICE_STOP_PENDING, 0, 5000);
        qag_svc_stop = 1;
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

/* While the backend does not open: still starting (a new checkpoint). */
static void qag_svc_pending(void *ctx)
{
    qag_svc_report(SERVICE_START_PENDING, 0, QAG_SVC_START_HINT_MS);
}

static void qag_svc_started(void *ctx)
{
    qag_svc_report(SERVICE_RUNNING, 0, 0);
}

/* <directory of this .exe>\name, newly allocated. */
static char *qag_svc_beside_exe(const char *name)
{
    char exe[MAX_PATH];
    DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
    if (!n || n >= sizeof exe)
        return xstrdup(name);
    char *slash = strrchr(exe, '\\');
    if (slash)
        slash[1] = '\0';
    return xasprintf("%s%s", exe, name);
}

static void WINAPI qag_svc_main(DWORD argc, LPSTR *argv)
{
    qag_svc_handle = RegisterServiceCtrlHandlerExA(QAG_SERVICE_NAME, qag_svc_control, NULL);
    if (!qag_svc_handle)
        return;
    /* RUNNING once the agent is set up, its backend open. */
    qag_svc_report(SERVICE_START_PENDING, 0, QAG_SVC_START_HINT_MS);
    /* A service has no console: without [DEFAULT] log_file, log beside the .exe. */
    char *log = qag_svc_beside_exe("qhv-agent.log");
    qag_launch_wait wait = {.max_s = QAG_SVC_BACKEND_WAIT_S,
                            .pending = qag_svc_pending,
                            .started = qag_svc_started};
    int rc = qag_launch_waiting(qag_svc_files, qag_svc_nfiles, log, &qag_svc_stop, &wait);
    free(log);
    /* A non-zero code is a failure for the service manager: with the
     * failure-actions flag set at install, it restarts the service. */
    qag_svc_report(SERVICE_STOPPED, (DWORD)rc, 0);
}

int qag_service_dispatch(const char *const *files, size_t nfiles)
{
    qag_svc_files = files;
    qag_svc_nfiles = nfiles;
    InitializeCriticalSection(&qag_svc_lock);
    InitializeConditionVariable(&qag_svc_idle);
    SERVICE_TABLE_ENTRYA table[] = {{(LPSTR)QAG_SERVICE_NAME, qag_svc_main}, {NULL, NULL}};
    if (!StartServiceCtrlDispatcherA(table)) {
        DWORD e = GetLastError();
        if (e == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
            fprintf(stderr, "qhv-agent: --service is for the service manager; run without it "
                            "in a console, or install the service with --install-service\n");
        else
            fprintf(stderr, "qhv-agent: StartServiceCtrlDispatcher failed (error %lu)\n",
                    (unsigned long)e);
        return 1;
    }
    return 0;
}

static void qag_svc_error(const char *what)
{
    DWORD e = GetLastError();
    char text[256];
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e,
                             0, text, sizeof text, NULL);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    fprintf(stderr, "qhv-agent: %s: %s (error %lu)%s\n", what, n ? text : "failed",
            (unsigned long)e,
            e == ERROR_ACCESS_DENIED ? "; run from an elevated (administrator) prompt" : "");
}

/* s (ANSI code page) as UTF-16. */
static wchar_t *qag_svc_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_ACP, 0, s, -1, NULL, 0);
    wchar_t *w = xcalloc(n > 0 ? (size_t)n : 1, sizeof *w);
    if (n > 0)
        MultiByteToWideChar(CP_ACP, 0, s, -1, w, n);
    return w;
}

int qag_service_install(const char *const *files, size_t nfiles)
{
    char exe[MAX_PATH];
    DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
    if (!n || n >= sizeof exe) {
        qag_svc_error("GetModuleFileName");
        return 1;
    }
    /* The service starts in %SystemRoot%\System32: paths must be absolute. */
    qbuf cmd;
    qbuf_init(&cmd, 0);
    qbuf_printf(&cmd, "\"%s\" --service", exe);
    for (size_t i = 0; i < nfiles; i++) {
        char full[MAX_PATH];
        DWORD fl = GetFullPathNameA(files[i], sizeof full, full, NULL);
        if (!fl || fl >= sizeof full || GetFileAttributesA(full) == INVALID_FILE_ATTRIBUTES) {
            fprintf(stderr, "qhv-agent: config file %s not found\n", files[i]);
            qbuf_free(&cmd);
            return 2;
        }
        qbuf_printf(&cmd, " --config-file \"%s\"", full);
    }
    /* The backend decides the dependencies: WMI (Winmgmt) always; for
     * hyperv also Hyper-V's management service (vmms), its WMI provider. */
    qag_conf conf;
    char err[1024];
    if (qag_conf_load(&conf, files, nfiles, err, sizeof err) < 0) {
        fprintf(stderr, "qhv-agent: %s\n", err);
        qag_conf_free(&conf);
        qbuf_free(&cmd);
        return 2;
    }
    bool hyperv = !strcmp(conf.backend, "hyperv");
    qag_conf_free(&conf);
    const wchar_t *deps = hyperv ? L"Winmgmt\0vmms\0" : L"Winmgmt\0";  /* + the literal's \0 */
    SC_HANDLE scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_CREATE_SERVICE);
    if (!scm) {
        qag_svc_error("OpenSCManager");
        qbuf_free(&cmd);
        return 1;
    }
    /* CreateServiceW: Wine's CreateServiceA stores a dependency list of
     * more than one name with garbage after the first. */
    wchar_t *wcmd = qag_svc_wide(cmd.data);
    SC_HANDLE svc = CreateServiceW(scm, L"" QAG_SERVICE_NAME, L"" QAG_SERVICE_DISPLAY,
                                   SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                                   SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, wcmd, NULL, NULL,
                                   deps, NULL /* LocalSystem */, NULL);
    free(wcmd);
    if (!svc) {
        qag_svc_error("CreateService " QAG_SERVICE_NAME);
        CloseServiceHandle(scm);
        qbuf_free(&cmd);
        return 1;
    }
    SERVICE_DESCRIPTIONA desc = {(LPSTR)QAG_SERVICE_DESCRIPTION};
    if (!ChangeServiceConfig2A(svc, SERVICE_CONFIG_DESCRIPTION, &desc))
        qag_svc_error("warning: ChangeServiceConfig2 (description)");
    /* Restart after a failure: 5 s, 30 s, then every 60 s (count reset daily). */
    SC_ACTION actions[] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 30000},
                           {SC_ACTION_RESTART, 60000}};
    SERVICE_FAILURE_ACTIONSA fa = {86400, NULL, NULL, 3, actions};
    if (!ChangeServiceConfig2A(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
        qag_svc_error("warning: ChangeServiceConfig2 (restart actions)");
    /* A failure is a crash, and also a stop with a non-zero exit code (the
     * agent could not start, or its backend did not open in time). */
    SERVICE_FAILURE_ACTIONS_FLAG flag = {TRUE};
    if (!ChangeServiceConfig2A(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag))
        qag_svc_error("warning: ChangeServiceConfig2 (restart after a non-crash failure)");
    printf("installed service %s: %s\ndepends on: %s\nstart it with: sc start %s\n",
           QAG_SERVICE_NAME, cmd.data, hyperv ? "Winmgmt, vmms" : "Winmgmt", QAG_SERVICE_NAME);
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    qbuf_free(&cmd);
    return 0;
}

int qag_service_remove(void)
{
    SC_HANDLE scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_CONNECT);
    if (!scm) {
        qag_svc_error("OpenSCManager");
        return 1;
    }
    SC_HANDLE svc = OpenServiceA(scm, QAG_SERVICE_NAME, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE);
    if (!svc) {
        qag_svc_error("OpenService " QAG_SERVICE_NAME);
        CloseServiceHandle(scm);
        return 1;
    }
    SERVICE_STATUS st;
    if (ControlService(svc, SERVICE_CONTROL_STOP, &st)) {
        /* Wait (up to 30 s) for it to stop, so that the binary can be replaced. */
        for (int i = 0; i < 300 && QueryServiceStatus(svc, &st) &&
                        st.dwCurrentState != SERVICE_STOPPED;
             i++)
            Sleep(100);
    }
    int rc = 0;
    if (!DeleteService(svc)) {
        qag_svc_error("DeleteService " QAG_SERVICE_NAME);
        rc = 1;
    } else {
        printf("removed service %s\n", QAG_SERVICE_NAME);
    }
    CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return rc;
}
