#include "vswitch/ovs_exec.h"
#include "lib/proc.h"
#include "lib/util.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int qovs_exec(const char *rundir, const char *const *argv, const char *input, qbuf *out,
              qbuf *err)
{
    char *var = rundir && *rundir ? xasprintf("OVS_RUNDIR=%s", rundir) : NULL;
    const char *env[] = {var, NULL};
    int rc = qproc_run(argv, env, input, out, err);
    free(var);
    return rc;
}

int qovs_watch_start(qovs_watch *w, const char *rundir, const char *const *argv)
{
    int p[2];
    w->pid = 0;
    w->fd = -1;
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(p[1], 1);
        dup2(null, 2);
        close(p[0]);
        close(p[1]);
        if (rundir && *rundir)
            setenv("OVS_RUNDIR", rundir, 1);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    w->pid = pid;
    w->fd = p[0];
    return 0;
}

int qovs_watch_poll(qovs_watch *w)
{
    if (!w->pid)
        return -1;
    char chunk[8192];
    int got = 0;
    for (;;) {
        ssize_t r = read(w->fd, chunk, sizeof chunk);
        if (r > 0) {
            got = 1;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return got;
        qovs_watch_stop(w);     /* EOF or error: the tool is gone */
        return -1;
    }
}

void qovs_watch_stop(qovs_watch *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->pid > 0) {
        kill(w->pid, SIGTERM);
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    w->pid = 0;
    w->fd = -1;
}
