/* rewrite: provider addresses for ip_rewrite ("IP address rewrite") ports.
 * Hyper-V's TranslationMethodNat needs one provider address per customer
 * address, owned by the host that holds the VM. The server allocates them
 * from the host's pool ([ip_rewrite] provider_pools = HOST:CIDR,...) when a
 * port on an ip_rewrite network is bound there, and frees them when the
 * port leaves, changes addresses or is deleted. */
#ifndef QHV_MODEL_REWRITE_H
#define QHV_MODEL_REWRITE_H
#include "model/model.h"

/* Makes the allocations of port match its binding and fixed IPs (port is
 * the document as it will be stored). fresh: the port is being created, so
 * it has none yet (not looked up: fewer statements inside the write lock). */
int qrewrite_sync_port(qop *op, const qj *port, bool fresh, qerr *e);
int qrewrite_release_port(qop *op, const char *port_id, qerr *e);
/* The provider address of (port, customer address) into out, 1 if any. */
int qrewrite_lookup(qop *op, const char *port_id, const char *ca, char out[QADDR_STRLEN], qerr *e);
/* Every provider address allocated on host (caller owns the array). */
int qrewrite_host_addresses(qop *op, const char *host, qj **ret, qerr *e);

#endif
