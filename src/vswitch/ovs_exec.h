/* ovs_exec: runs Open vSwitch's command-line tools (ovs-vsctl, ovs-ofctl)
 * for the ovs backend, with OVS_RUNDIR pointing at the instance to talk to.
 * Why the tools rather than OVSDB JSON-RPC and OpenFlow on the sockets: see
 * docs/ovs.md (Debian ships no OVS library; the tools are the stable,
 * documented interface, and one call carries a whole transaction or table).
 *
 * Ownership: qovs_exec fills caller-initialised qbufs. */
#ifndef QHV_VSWITCH_OVS_EXEC_H
#define QHV_VSWITCH_OVS_EXEC_H
#include "lib/buf.h"

/* Runs argv (argv[0] looked up in PATH) with OVS_RUNDIR=rundir when rundir
 * is not empty, feeding it input (may be NULL) on stdin. Collects stdout
 * into out and stderr into err (either may be NULL). Returns the exit
 * status, or -1 if it could not be run (err says why). */
int qovs_exec(const char *rundir, const char *const *argv, const char *input, qbuf *out,
              qbuf *err);

#endif
