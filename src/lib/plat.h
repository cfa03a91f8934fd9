/* plat: the few operating-system services the agent and its libraries need
 * beyond C11, with one implementation per platform: plat_posix.c (Linux, the
 * calls the code made before this layer existed, so its behaviour is
 * unchanged) and plat_win.c (Windows, Win32 only: no POSIX emulation DLL).
 *
 * Only what differs lives here: clocks, sleeping, randomness, the host
 * name, wildcard matching, stop requests (signals / console events), and the
 * file operations the dummy backend's state file and the log need (a lock,
 * an identity that changes when someone rewrites the file, atomic replace).
 *
 * Ownership: qplat_lock_file returns a lock released (and freed) by
 * qplat_unlock_file, which accepts NULL. Nothing else returns memory. */
#ifndef QHV_PLAT_H
#define QHV_PLAT_H
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic clock, microseconds. */
uint64_t qplat_monotonic_us(void);
/* Wall clock: microseconds since 1970-01-01 UTC. */
int64_t qplat_wall_us(void);
/* Broken-down UTC time of t (seconds since the epoch). */
void qplat_gmtime(int64_t t, struct tm *ret);
/* The inverse: seconds since the epoch of a UTC broken-down time, or -1. */
int64_t qplat_timegm(struct tm *tm);
void qplat_sleep_ms(long ms);

/* Fills buf with cryptographically random bytes; aborts if the system
 * cannot (nothing sensible is left to do). */
void qplat_random_bytes(void *buf, size_t n);
/* Zeroes a secret in a way the compiler does not remove. */
void qplat_wipe(void *p, size_t n);

/* This machine's host name; 0 or -1. */
int qplat_hostname(char *buf, size_t len);
/* The process id (for unique temporary names). */
long qplat_pid(void);

/* Shell wildcard match, as fnmatch(pattern, s, 0): '*', '?', '[...]' with
 * ranges and '!' or '^' negation, '\' escapes. */
bool qplat_fnmatch(const char *pattern, const char *s);

/* Makes the usual stop requests set *flag (to a non-zero value): SIGINT and
 * SIGTERM on POSIX (SIGPIPE ignored); Ctrl-C, Ctrl-Break, console close,
 * logoff and shutdown on Windows. */
void qplat_on_stop(volatile sig_atomic_t *flag);

/* Log output: a descriptor to append lines to (-1 if path cannot be opened),
 * and a write of one whole line. Descriptor 2 is stderr. */
int qplat_log_open(const char *path);
void qplat_log_write(int fd, const char *line, size_t n);

/* A file's identity: it changes whenever the file is rewritten by
 * qplat_replace_file (a new file takes the old one's name) or modified. */
typedef struct qplat_fileid {
    bool exists;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
} qplat_fileid;

/* *ret = path's identity (exists false if it is missing); 0, or -1 with
 * errno set on another error. */
int qplat_file_id(const char *path, qplat_fileid *ret);
bool qplat_fileid_same(const qplat_fileid *a, const qplat_fileid *b);

/* An exclusive advisory lock between processes, held on the file lock_path
 * (created if missing) until qplat_unlock_file. NULL with err on failure. */
typedef struct qplat_lock qplat_lock;
qplat_lock *qplat_lock_file(const char *lock_path, char *err, size_t errlen);
void qplat_unlock_file(qplat_lock *l);

/* Atomically replaces path with the file tmp (rename over it); 0 or -1 with
 * errno set. */
int qplat_replace_file(const char *tmp, const char *path);

#endif
