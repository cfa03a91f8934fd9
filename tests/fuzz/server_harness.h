/* The fuzz targets' qhv-server (fuzz_api, fuzz_report): the API handler
 * (qapi_handle) on a real model and a SQLite database seeded with a network
 * n1, its subnet 10.0.0.0/24, a security group sg1 of project p1 and a port
 * p1 bound to host hv1; requests given as text, run as the http layer runs
 * them, and their answers checked. The listener itself (server/http.c) is
 * not run: this harness stands in for its suspend/resume.
 *
 * A request as text:
 *     METHOD PATH[?QUERY]\n
 *     Header: value\n ...
 *     \n
 *     BODY
 * Path and query are percent-decoded as the listener decodes them; header
 * names are looked up case-insensitively. @N, @S, @G, @P and @T stand for
 * the seeded objects' ids (which the server makes, differently each run)
 * and hv1's agent token (fz_expand).
 *
 * Deterministic: fz_settle rebuilds the server from a copy of the seeded
 * database after a request that changed it or went to the host channel
 * (whose feed keeps per-host state), so every input meets the same server. */
#ifndef QHV_FUZZ_SERVER_HARNESS_H
#define QHV_FUZZ_SERVER_HARNESS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/json.h"
#include "server/http.h"

#define FZ_MAX_HEADERS 16
#define FZ_MAX_QUERY 32

/* One request's decoded parts; also the request's stand-in connection. */
typedef struct fz_request {
    char method[32];
    char *path;
    size_t nquery;
    struct { const char *key, *value; } query[FZ_MAX_QUERY];
    size_t nheaders;
    struct { char *name, *value; } headers[FZ_MAX_HEADERS];
    qhttp_field fields[FZ_MAX_HEADERS];     /* the same, as the handler sees them */
    const char *body;
    size_t body_len;
    char *scratch;          /* owns path, query and header strings */
} fz_request;

/* Sets up and seeds the server (from LLVMFuzzerInitialize); removed at exit. */
void fz_server_init(void);
/* The input with its placeholders replaced (caller frees). */
char *fz_expand(const uint8_t *data, size_t size, size_t *len);
/* Splits text into r; false if it has no request line. fz_free(r) either way. */
bool fz_parse(const uint8_t *data, size_t size, fz_request *r);
void fz_free(fz_request *r);
/* Runs r through the handler; with check, aborts on an answer that is not
 * what its status promises (fz_check). Returns the status, and the answer
 * in *out if out (caller frees). */
int fz_run(fz_request *r, bool check, qj **out);
/* True if the database is no longer the seeded one. */
bool fz_changed(void);
/* Back to the seeded server if r may have changed it. */
void fz_settle(const fz_request *r);

#endif
