/* explain: a host plan as the PowerShell that gives a Hyper-V host the same
 * switch state (src/vswitch/hyperv/powershell.h), for qhv-agent --dry-run
 * and qhvctl explain HOST. Every port of the plan counts as having its VM NIC
 * (the plan says what should be, whatever VMs run now); ports the agent
 * could not wire (no vSwitch mapping, a type not served) are listed as such.
 *
 * Ownership: text is appended to the caller's qbuf. */
#ifndef QHV_AGENT_EXPLAIN_H
#define QHV_AGENT_EXPLAIN_H
#include "agent/config.h"
#include "agent/plan.h"
#include "lib/buf.h"

/* windows_version: NULL for conf's [hyperv] windows_version (else 10.0.14393).
 * Returns the number of commands. */
size_t qag_explain(const qag_plan *plan, const qag_conf *conf, const char *windows_version,
                   qbuf *out);

/* qhv-agent --dry-run: fetches the host's plan once (with the agent's
 * credentials) and prints qag_explain's text to out. 0, or -1 with err. */
int qag_dry_run(const qag_conf *conf, FILE *out, char *err, size_t errlen);

#endif
