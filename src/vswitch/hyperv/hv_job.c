#include "vswitch/hyperv/hv_job.h"
#include "lib/plat.h"
#include "lib/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int64_t rv;
    int err;
    const char *name;
} qhyv_rvs[] = {
    {32768, -EIO, "failed"},          {32769, -EACCES, "access denied"},
    {32770, -EOPNOTSUPP, "not supported"}, {32771, -EIO, "status unknown"},
    {32772, -ETIMEDOUT, "timeout"},   {32773, -EINVAL, "invalid parameter"},
    {32774, -EBUSY, "system in use"}, {32775, -EAGAIN, "invalid state for this operation"},
    {32776, -EINVAL, "incorrect data type"}, {32777, -EAGAIN, "system not available"},
    {32778, -ENOMEM, "out of memory"}, {32779, -ENOENT, "file not found"},
    /* The generic codes the method pages list before the Msvm ones. */
    {1, -EOPNOTSUPP, "not supported"}, {2, -EIO, "failed"}, {3, -ETIMEDOUT, "timeout"},
    {4, -EINVAL, "invalid parameter"},
};

int qhyv_rv_errno(int64_t rv)
{
    for (size_t i = 0; i < sizeof qhyv_rvs / sizeof qhyv_rvs[0]; i++)
        if (qhyv_rvs[i].rv == rv)
            return qhyv_rvs[i].err;
    return -EIO;
}

const char *qhyv_rv_name(int64_t rv)
{
    for (size_t i = 0; i < sizeof qhyv_rvs / sizeof qhyv_rvs[0]; i++)
        if (qhyv_rvs[i].rv == rv)
            return qhyv_rvs[i].name;
    return "unknown return value";
}

void qhyv_call_start(const qwmi_transport *t, const char *path, const char *method, const qj *in,
                     size_t owner, qhyv_call *c)
{
    memset(c, 0, sizeof *c);
    c->method = method;
    c->owner = owner;
    char err[256] = "";
    int rc = t->cls->call(t->w, QWMI_NS_VIRT, path, method, in, &c->out, err, sizeof err);
    if (rc < 0) {
        c->error = rc;
        snprintf(c->why, sizeof c->why, "%s: %.200s", method, err);
        return;
    }
    const qj *rv = qj_get(c->out, "ReturnValue");
    int64_t v = qj_is(rv, QJ_INT) ? rv->u.i : -1;
    if (v == QWMI_RET_OK)
        return;
    if (v == QWMI_RET_JOB_STARTED && qj_get_str(c->out, "Job")) {
        c->job = xstrdup(qj_get_str(c->out, "Job"));
        c->error = -EINPROGRESS;
        snprintf(c->why, sizeof c->why, "%s: job %s still running", method, c->job);
        return;
    }
    c->error = qhyv_rv_errno(v);
    snprintf(c->why, sizeof c->why, "%s: ReturnValue %lld (%s)%s%.160s", method, (long long)v,
             qhyv_rv_name(v), err[0] ? ": " : "", err);
}

int qhyv_job_poll(const qwmi_transport *t, const char *job, char *why, size_t whylen)
{
    qj *j = NULL;
    char err[256] = "";
    int rc = t->cls->get(t->w, QWMI_NS_VIRT, job, &j, err, sizeof err);
    if (rc == -ENOENT) {
        /* Finished and removed (TimeBeforeRemoval): its outcome is read from
         * Hyper-V's objects by the caller's verification. */
        return QHYV_JOB_GONE;
    }
    if (rc < 0) {
        snprintf(why, whylen, "job %s: %s", job, err);
        return rc;
    }
    const qj *st = qj_get(j, "JobState");
    int64_t s = qj_is(st, QJ_INT) ? st->u.i : 0;
    const qj *ec = qj_get(j, "ErrorCode");
    int64_t code = qj_is(ec, QJ_INT) ? ec->u.i : 0;
    const char *d = qj_get_str(j, "ErrorDescription");
    int out = 1;
    if ((s == 7 || s == 32768) && !code) {
        out = 0;
    } else if (s == 7 || s == 32768 || (s >= 8 && s <= 10)) {
        /* A completed job with an ErrorCode failed too (os-win's jobutils). */
        snprintf(why, whylen, "job %s: %s (ErrorCode %lld)",
                 s >= 8 ? "failed" : "completed with an error", d && *d ? d : "no description",
                 (long long)code);
        out = code ? qhyv_rv_errno(code) : -EIO;
    }
    qj_free(j);
    return out;
}

void qhyv_calls_wait(const qwmi_transport *t, qhyv_call *calls, size_t n, int wait_ms)
{
    uint64_t deadline = qhv_now_us() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000u;
    for (unsigned round = 0;; round++) {
        size_t running = 0;
        for (size_t i = 0; i < n; i++) {
            qhyv_call *c = &calls[i];
            if (!c->job)
                continue;
            char why[200] = "";
            int rc = qhyv_job_poll(t, c->job, why, sizeof why);
            if (rc == 1) {
                running++;
                continue;
            }
            if (rc == QHYV_JOB_GONE)
                rc = 0;     /* the caller verifies what Hyper-V holds */
            c->error = rc;
            if (rc < 0)
                snprintf(c->why, sizeof c->why, "%s: %.200s", c->method, why);
            else
                c->why[0] = '\0';
            free(c->job);
            c->job = NULL;
        }
        if (!running || qhv_now_us() >= deadline)
            return;
        /* 1, 2, 4 ... ms, at most 50 ms between looks. */
        qplat_sleep_ms(round < 6 ? 1L << round : 50);
    }
}

void qhyv_call_clear(qhyv_call *c)
{
    qj_free(c->out);
    free(c->job);
    c->out = NULL;
    c->job = NULL;
}
