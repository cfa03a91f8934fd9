/* proc: runs a program to its end, feeding its stdin and collecting its
 * stdout and stderr (POSIX only: its users, the ovs backend's tools and the
 * network node's ip, nsenter and dnsmasq, are Linux-only; the Windows build
 * compiles this file empty).
 *
 * Ownership: qproc_run appends to caller-initialised qbufs. */
#ifndef QHV_PROC_H
#define QHV_PROC_H
#include "lib/buf.h"

/* Runs argv (argv[0] looked up in PATH) with env ("NAME=value", NULL-
 * terminated; may be NULL) added to the environment, feeding it input (may
 * be NULL) on stdin. Collects stdout into out and stderr into err (either
 * may be NULL). Returns the exit status, or -1 if it could not be run or was
 * killed (err says why). */
int qproc_run(const char *const *argv, const char *const *env, const char *input, qbuf *out,
              qbuf *err);

#endif
