/* libFuzzer target for the host channel's report decoder: what an agent
 * posts to /channel/v1/hosts/{host}/report (its heartbeat: agent type,
 * configurations, which the server sanitizes, and port statuses;
 * qagent_report_request). The input is the body; it is posted for host hv1
 * with hv1's agent token on the seeded server of server_harness.h, whose
 * port p1 is bound to hv1 (the body may name it "@P").
 *
 * Checked: the answer is what its status promises (as in fuzz_api), a
 * refused report changed nothing, and whatever a report stored leaves the
 * server able to compute hv1's plan and to list and show the agents and
 * the port (200 each). */
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

/* A request from text; must answer 200. */
static void expect_ok(const char *text)
{
    fz_request r;
    size_t len;
    char *t = fz_expand((const uint8_t *)text, strlen(text), &len);
    if (!fz_parse((const uint8_t *)t, len, &r))
        abort();
    int status = fz_run(&r, true, NULL);
    if (status != 200) {
        fprintf(stderr, "fuzz_report: after the report, %s -> %d\n", t, status);
        abort();
    }
    fz_free(&r);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char head[] = "POST /channel/v1/hosts/hv1/report\n"
                               "X-Qhv-Agent-Token: @T\n"
                               "Content-Type: application/json\n\n";
    /* Placeholders in the body too: "@P" is the port bound to hv1. */
    size_t hlen = strlen(head), len;
    uint8_t *raw = malloc(hlen + size);
    memcpy(raw, head, hlen);
    memcpy(raw + hlen, data, size);
    char *text = fz_expand(raw, hlen + size, &len);
    free(raw);
    fz_request r;
    if (!fz_parse((const uint8_t *)text, len, &r))
        abort();
    int status = fz_run(&r, true, NULL);
    if (status >= 400 && fz_changed()) {
        fprintf(stderr, "fuzz_report: status %d but the database changed\n", status);
        abort();
    }
    if (status == 200) {
        expect_ok("GET /channel/v1/hosts/hv1/plan?fresh=1\nX-Qhv-Agent-Token: @T\n");
        expect_ok("GET /v2.0/agents\n");
        expect_ok("GET /v2.0/ports/@P\n");
    }
    fz_settle(&r);
    fz_free(&r);
    free(text);
    return 0;
}
