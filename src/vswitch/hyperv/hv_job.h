/* hv_job: Msvm method calls and the jobs they start. A batch's calls are
 * all started first (qhyv_call_start), then their jobs are polled together
 * (qhyv_calls_wait) with get() for at most wait_ms, so that one slow job does
 * not hold the agent's loop: a job still running then is -EINPROGRESS (a
 * retryable error; the caller remembers the job and looks at it again).
 * Failures keep WMI's words: "AddFeatureSettings: job failed: <ErrorDescription>
 * (ErrorCode N)", or the ReturnValue with its meaning.
 *
 * Ownership: a qhyv_call's out and job are the call's; qhyv_call_clear frees
 * them (accepts a cleared call). */
#ifndef QHV_VSWITCH_HYPERV_HV_JOB_H
#define QHV_VSWITCH_HYPERV_HV_JOB_H
#include "vswitch/hyperv/wmi.h"

typedef struct qhyv_call {
    const char *method;
    qj *out;            /* the out parameters (NULL if the transport failed) */
    char *job;          /* the job path while it runs */
    int error;          /* 0, negative errno, -EINPROGRESS while the job runs */
    char why[256];
    size_t owner;       /* the caller's tag (a port index) */
} qhyv_call;

/* Calls method on the object at path. Never blocks on a job. */
void qhyv_call_start(const qwmi_transport *t, const char *path, const char *method, const qj *in,
                     size_t owner, qhyv_call *c);
/* Polls the running jobs of calls[0..n) until all ended or wait_ms passed. */
void qhyv_calls_wait(const qwmi_transport *t, qhyv_call *calls, size_t n, int wait_ms);
/* Looks at a job once: 1 running, 0 completed, QHYV_JOB_GONE (2) when it
 * is no longer there to ask (finished and removed: the caller reads the
 * outcome from Hyper-V's objects), < 0 failed (why filled; a completed job
 * with an ErrorCode is a failure). */
#define QHYV_JOB_GONE 2
int qhyv_job_poll(const qwmi_transport *t, const char *job, char *why, size_t whylen);
void qhyv_call_clear(qhyv_call *c);

/* The errno of an Msvm method ReturnValue or job ErrorCode (documented
 * 32768–32779 codes; anything else -EIO), and its name. */
int qhyv_rv_errno(int64_t rv);
const char *qhyv_rv_name(int64_t rv);

#endif
