/* powershell: the PowerShell an operator would type to give a Hyper-V host
 * the switch objects of a plan (src/agent/desired.h), in the canonical
 * forms of hyperv-semantics.md §5.3; shared by qhv-agent --dry-run and
 * qhvctl explain HOST. It describes the whole state, not a diff, and uses
 * the same ACL expansion and weights as the hyperv backend (hv_acl.h), so
 * that what it prints is what the backend installs on an empty port.
 *
 * VM NICs are selected by name (the port id, as Nova names them):
 *   $nic = Get-VMNetworkAdapter -All | Where-Object Name -eq '<port id>'
 *
 * Ownership: the caller's qbuf receives the text. */
#ifndef QHV_VSWITCH_HYPERV_POWERSHELL_H
#define QHV_VSWITCH_HYPERV_POWERSHELL_H
#include "lib/buf.h"
#include "vswitch/hyperv/hv_wnv.h"
#include "vswitch/objmap.h"

typedef struct qhyv_ps_opts {
    const char *windows_version;    /* "6.2", "6.3", "10.0.17763" ...; NULL: 10.0.14393 */
    qhyv_pa_conf pa;                /* the provider address's interface */
} qhyv_ps_opts;

/* Appends the commands for objects (id → value) to out; returns the number
 * of commands (comments not counted). */
size_t qhyv_ps_emit(const qvs_map *objects, const qhyv_ps_opts *o, qbuf *out);

#endif
