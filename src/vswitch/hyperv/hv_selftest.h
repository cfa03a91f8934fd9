/* hv_selftest: `qhv-agent --selftest`, the first thing an operator runs on
 * a new Hyper-V host (docs/hyperv-selftest.md).
 *
 * It makes a scratch internal virtual switch and a never-started VM with one
 * synthetic NIC named by a fresh UUID (as Nova names a NIC by its Neutron
 * port), all through WMI (Msvm_VirtualEthernetSwitchManagementService and
 * Msvm_VirtualSystemManagementService DefineSystem, AddResourceSettings),
 * then drives every kind of object through the hyperv backend itself
 * (qvs_hyperv_class opened on the same transport with its own scratch state
 * file): connection disabled and enabled, VLAN, guards and MAC spoofing on
 * and off, extended ACLs (6.3+) or port ACLs (6.2) with an address set, and
 * where HNV v1 exists (build < 17763) a provider address and route on the
 * scratch switch's host vNIC, VSID (nvgre, with the port's L2Only record),
 * Encap and Nat lookup records and a customer route. Each step is read back
 * with a dump (the object must be reported installed as wanted) and timed.
 * Everything it made is removed again (backend deletes, then DestroySystem of
 * the VM and of the switch), also after a failing step; what could not be
 * removed is reported.
 *
 * The same code runs on the in-memory model (wmi_model.h), which serves the
 * creation and destruction methods (wmi_model_systems.c).
 *
 * Ownership: a report's strings and arrays are its own
 * (qhyv_selftest_report_free, which accepts a zeroed report); options are
 * borrowed for the call; qhyv_selftest_json returns a value the caller
 * frees. */
#ifndef QHV_VSWITCH_HYPERV_HV_SELFTEST_H
#define QHV_VSWITCH_HYPERV_HV_SELFTEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "lib/json.h"
#include "vswitch/hyperv/wmi.h"

typedef enum { QHYV_ST_PASS, QHYV_ST_FAIL, QHYV_ST_SKIP } qhyv_selftest_result;

typedef struct qhyv_selftest_step {
    char *name;                 /* "create internal switch", "VLAN", ... */
    qhyv_selftest_result result;
    double ms;                  /* wall time of the step */
    char *detail;               /* fail: the error (WMI's words); skip: why;
                                 * pass: "" or a note */
} qhyv_selftest_step;

typedef struct qhyv_selftest_wmi_error {
    char *step;                 /* the step it happened in */
    char *call;                 /* "call DefineSystem", "get Msvm_ConcreteJob...", ... */
    char *text;                 /* the transport's error text */
} qhyv_selftest_wmi_error;

typedef struct qhyv_selftest_report {
    char *windows_version;
    char *transport;            /* the transport's class name ("com", "model") */
    char *switch_name, *vm_name, *port_id;
    qhyv_selftest_step *steps;
    size_t nsteps;
    char **leftovers;           /* what cleanup could not remove */
    size_t nleftovers;
    qhyv_selftest_wmi_error *errors;   /* every error the transport reported */
    size_t nerrors;
    bool passed;                /* every step passed or was skipped as not
                                 * applicable, and nothing was left behind */
} qhyv_selftest_report;

typedef struct qhyv_selftest_opts {
    const qwmi_transport *transport;   /* required (borrowed) */
    const char *windows_version;       /* NULL or "": Win32_OperatingSystem's */
    const char *state_file;            /* the backend's scratch state file (NULL:
                                        * memory only); removed at the end */
    int job_wait_ms;                   /* longest wait for one job (0: 60000) */
    /* Tests: called before each step with its name (faults go in here). */
    void (*before_step)(void *ctx, const char *step);
    void *ctx;
} qhyv_selftest_opts;

/* Runs the self-test; fills *r (zeroed first). Returns 0 when r->passed. */
int qhyv_selftest_run(const qhyv_selftest_opts *o, qhyv_selftest_report *r);
void qhyv_selftest_report_free(qhyv_selftest_report *r);

/* The pass/fail table (step, result, milliseconds, the error on failure). */
void qhyv_selftest_print(const qhyv_selftest_report *r, FILE *f);
/* The JSON report to attach to a bug. */
qj *qhyv_selftest_json(const qhyv_selftest_report *r);
/* The step called name, or NULL. */
const qhyv_selftest_step *qhyv_selftest_find(const qhyv_selftest_report *r, const char *name);

/* qhv-agent --selftest: opens the transport ("com": Windows' WMI; "model":
 * the in-memory model, kept in model_file if set, playing windows_version),
 * runs, prints the table on out (or, with json, the JSON report), writes the
 * JSON report to report_file if set. Exit status: 0 every step passed, 1 a
 * step failed or something was left behind, 2 it could not run (Hyper-V
 * absent: the reason on err, starting "Hyper-V is absent: "). */
typedef struct qhyv_selftest_cli {
    const char *transport;      /* "com" (default) or "model" */
    const char *model_file;
    const char *windows_version;
    const char *report_file;    /* NULL: none */
    bool json;
} qhyv_selftest_cli;
int qhyv_selftest_main(const qhyv_selftest_cli *c, FILE *out, FILE *err);


#endif
