/* libFuzzer target for where an API request enters qhv-server: the router
 * (qapi_handle: path splitting, /v2.0 and /channel routes, collections,
 * members, tags, quotas, extensions), query parsing (filters, fields,
 * sorting, paging, the channel's since/wait), the identity headers (noauth:
 * X-Project-Id, X-Tenant-Id, X-Roles, X-User-Id; the channel's
 * X-Qhv-Agent-Token), If-Match and request bodies. The input is one request
 * as text, run on the seeded server of server_harness.h (which also says
 * how the text is read).
 *
 * Checked on every request: the status is 2xx or 4xx (5xx: a server error on
 * client input) and the body is what the status promises (a JSON object; a
 * NeutronError with type, message and detail for an error; empty for 204;
 * Allow with a 405), and a refused request changed nothing (the database is
 * still the seeded one; one known exception, below). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_server_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_request r;
    size_t len;
    char *text = fz_expand(data, size, &len);
    if (fz_parse((const uint8_t *)text, len, &r)) {
        int status = fz_run(&r, true, NULL);
        if (status >= 400 && fz_changed()) {
            fprintf(stderr, "fuzz_api: status %d but the database changed\n", status);
            abort();
        }
        fz_settle(&r);
    }
    fz_free(&r);
    free(text);
    return 0;
}
