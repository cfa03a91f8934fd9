#include "vswitch/ovs_exec.h"
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

static void qovs_close2(int p[2])
{
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
}

int qovs_exec(const char *rundir, const char *const *argv, const char *input, qbuf *out,
              qbuf *err)
{
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
    if (pipe(pin) < 0 || pipe(pout) < 0 || pipe(perr) < 0) {
        if (err)
            qbuf_printf(err, "pipe: %s", strerror(errno));
        qovs_close2(pin);
        qovs_close2(pout);
        qovs_close2(perr);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        if (err)
            qbuf_printf(err, "fork: %s", strerror(errno));
        qovs_close2(pin);
        qovs_close2(pout);
        qovs_close2(perr);
        return -1;
    }
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        qovs_close2(pin);
        qovs_close2(pout);
        qovs_close2(perr);
        if (rundir && *rundir)
            setenv("OVS_RUNDIR", rundir, 1);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    /* Feed stdin while draining stdout and stderr, so that no pipe fills. */
    const char *in = input ? input : "";
    size_t inlen = strlen(in), inoff = 0;
    if (!inlen) {
        close(pin[1]);
        pin[1] = -1;
    } else {
        fcntl(pin[1], F_SETFL, fcntl(pin[1], F_GETFL) | O_NONBLOCK);
    }
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    int fds[2] = {pout[0], perr[0]};
    qbuf *dst[2] = {out, err};
    bool open_[2] = {true, true};
    char chunk[8192];
    while (open_[0] || open_[1] || pin[1] >= 0) {
        struct pollfd pf[3];
        int n = 0, which[3];
        for (int i = 0; i < 2; i++)
            if (open_[i]) {
                pf[n] = (struct pollfd){fds[i], POLLIN, 0};
                which[n++] = i;
            }
        if (pin[1] >= 0) {
            pf[n] = (struct pollfd){pin[1], POLLOUT, 0};
            which[n++] = 2;
        }
        if (poll(pf, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < n; k++) {
            if (!pf[k].revents)
                continue;
            if (which[k] == 2) {
                ssize_t w = write(pin[1], in + inoff, inlen - inoff);
                if (w > 0)
                    inoff += (size_t)w;
                if (w < 0 && errno != EAGAIN && errno != EINTR)
                    inoff = inlen;      /* the tool went away: stop feeding it */
                if (inoff >= inlen) {
                    close(pin[1]);
                    pin[1] = -1;
                }
                continue;
            }
            int i = which[k];
            ssize_t r = read(fds[i], chunk, sizeof chunk);
            if (r > 0) {
                if (dst[i])
                    qbuf_append(dst[i], chunk, (size_t)r);
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                open_[i] = false;
            }
        }
    }
    signal(SIGPIPE, old);
    close(pout[0]);
    close(perr[0]);
    if (pin[1] >= 0)
        close(pin[1]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status))
        return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
    if (err)
        qbuf_printf(err, "%s killed by signal %d", argv[0], WTERMSIG(status));
    return -1;
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
