/* ovs_exec: runs Open vSwitch's command-line tools (ovs-vsctl, ovs-ofctl)
 * for the ovs backend, with OVS_RUNDIR pointing at the instance to talk to.
 * Why the tools rather than OVSDB JSON-RPC and OpenFlow on the sockets: see
 * docs/ovs.md (Debian ships no OVS library; the tools are the stable,
 * documented interface, and one call carries a whole transaction or table).
 *
 * Ownership: qovs_exec fills caller-initialised qbufs; a qovs_watch owns its
 * child process and pipe until qovs_watch_stop. */
#ifndef QHV_VSWITCH_OVS_EXEC_H
#define QHV_VSWITCH_OVS_EXEC_H
#include "lib/buf.h"

/* Runs argv (argv[0] looked up in PATH) with OVS_RUNDIR=rundir when rundir
 * is not empty, feeding it input (may be NULL) on stdin. Collects stdout
 * into out and stderr into err (either may be NULL). Returns the exit
 * status, or -1 if it could not be run (err says why). */
int qovs_exec(const char *rundir, const char *const *argv, const char *input, qbuf *out,
              qbuf *err);

/* A long-running tool whose output is watched (ovsdb-client monitor). */
typedef struct qovs_watch {
    int pid;        /* 0: not running */
    int fd;         /* its stdout, non-blocking; -1 when not running */
} qovs_watch;

/* Starts argv as qovs_exec does, stdin and stderr to /dev/null. 0 or -1. */
int qovs_watch_start(qovs_watch *w, const char *rundir, const char *const *argv);
/* Drains what the tool printed since the last call: 1 if it printed
 * something, 0 if not, -1 if it has exited (then it is reaped and w is
 * reset). */
int qovs_watch_poll(qovs_watch *w);
/* Stops and reaps it (accepts a watch that is not running). */
void qovs_watch_stop(qovs_watch *w);

#endif
