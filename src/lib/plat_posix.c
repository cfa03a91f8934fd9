/* plat on Linux (POSIX + getrandom/flock): the calls the code made directly
 * before the platform layer existed. */
#include "lib/plat.h"
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

uint64_t qplat_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t qplat_wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void qplat_gmtime(int64_t t, struct tm *ret)
{
    time_t tt = (time_t)t;
    gmtime_r(&tt, ret);
}

int64_t qplat_timegm(struct tm *tm)
{
    time_t t = timegm(tm);
    return t == (time_t)-1 ? -1 : (int64_t)t;
}

void qplat_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void qplat_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

void qplat_wipe(void *p, size_t n) { explicit_bzero(p, n); }

int qplat_hostname(char *buf, size_t len)
{
    if (gethostname(buf, len) < 0)
        return -1;
    buf[len - 1] = '\0';
    return 0;
}

long qplat_pid(void) { return (long)getpid(); }

bool qplat_fnmatch(const char *pattern, const char *s) { return fnmatch(pattern, s, 0) == 0; }

static volatile sig_atomic_t *qplat_stop_flag;

static void qplat_on_signal(int sig) { *qplat_stop_flag = sig; }

void qplat_on_stop(volatile sig_atomic_t *flag)
{
    qplat_stop_flag = flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = qplat_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int qplat_log_open(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

void qplat_log_write(int fd, const char *line, size_t n)
{
    ssize_t w = write(fd, line, n);     /* one write(): lines from threads do not mix */
    (void)w;
}

int qplat_file_id(const char *path, qplat_fileid *ret)
{
    memset(ret, 0, sizeof *ret);
    struct stat st;
    if (stat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    ret->exists = true;
    ret->dev = (uint64_t)st.st_dev;
    ret->ino = (uint64_t)st.st_ino;
    ret->size = (uint64_t)st.st_size;
    ret->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return 0;
}

bool qplat_fileid_same(const qplat_fileid *a, const qplat_fileid *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime_ns == b->mtime_ns;
}

struct qplat_lock {
    int fd;
};

qplat_lock *qplat_lock_file(const char *lock_path, char *err, size_t errlen)
{
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", lock_path, strerror(errno));
        return NULL;
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "flock %s: %s", lock_path, strerror(errno));
            close(fd);
            return NULL;
        }
    }
    qplat_lock *l = malloc(sizeof *l);
    if (!l)
        abort();
    l->fd = fd;
    return l;
}

void qplat_unlock_file(qplat_lock *l)
{
    if (!l)
        return;
    close(l->fd);   /* releases the flock */
    free(l);
}

int qplat_replace_file(const char *tmp, const char *path) { return rename(tmp, path); }
