/* channel: the host channel's server side (docs/host-channel.md). Agents
 * present a per-host token derived from [agent] auth_token; a request for
 * host H is accepted only with H's token, so one agent cannot read another
 * host's plan or speak for its ports. */
#ifndef QHV_SERVER_CHANNEL_H
#define QHV_SERVER_CHANNEL_H
#include <stddef.h>
#include "server/api.h"

#define QCHAN_TOKEN_LEN 64   /* hex of HMAC-SHA256 */

/* The token of host under master secret (hex, NUL-terminated). -1 on error. */
int qchan_host_token(const char *master, const char *host, char out[QCHAN_TOKEN_LEN + 1]);
/* Handles /channel/v1/... (segments after "channel"). */
void qchan_handle(qapi *api, const qhttp_req *req, size_t nseg, char (*seg)[QAPI_MAX_SEGMENT],
                  qhttp_resp *resp);

#endif
