#include "lib/proc.h"
#ifndef _WIN32
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

static void qproc_close2(int p[2])
{
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
}

int qproc_run(const char *const *argv, const char *const *env, const char *input, qbuf *out,
              qbuf *err)
{
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
    if (pipe(pin) < 0 || pipe(pout) < 0 || pipe(perr) < 0) {
        if (err)
            qbuf_printf(err, "pipe: %s", strerror(errno));
        qproc_close2(pin);
        qproc_close2(pout);
        qproc_close2(perr);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        if (err)
            qbuf_printf(err, "fork: %s", strerror(errno));
        qproc_close2(pin);
        qproc_close2(pout);
        qproc_close2(perr);
        return -1;
    }
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        qproc_close2(pin);
        qproc_close2(pout);
        qproc_close2(perr);
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
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

#else
typedef int qproc_windows_has_no_fork;
#endif
