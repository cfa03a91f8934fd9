/* The listener's request parser (server/http_parse.c): a request head,
 * whole and split at a point the input chooses (the parser must give the
 * same answer), then what follows it as a chunked body. Checks that spans
 * stay inside the head, that a refusal has a status the listener answers,
 * and that a chunked body never outgrows its bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "server/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_span_ok(const qhp_head *h, qhp_span s)
{
    if (s.off > h->pos || s.len > h->pos - s.off)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] % (size > 1 ? size : 1);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    qhp_head h = {.max_target = 512, .max_fields = 1024};
    qhp_error err = {0};
    qhp_result r = qhp_head_feed(&h, text, len, &err);
    qhp_head s = {.max_target = 512, .max_fields = 1024};
    qhp_error serr = {0};
    qhp_result sr = qhp_head_feed(&s, text, split < len ? split : len, &serr);
    if (sr == QHP_MORE)
        sr = qhp_head_feed(&s, text, len, &serr);
    if (sr != r || (r == QHP_ERROR && serr.status != err.status) ||
        (r == QHP_DONE && s.pos != h.pos))
        abort();
    if (r == QHP_ERROR && err.status != 400 && err.status != 413 && err.status != 414 &&
        err.status != 417 && err.status != 431 && err.status != 501 && err.status != 505)
        abort();
    if (r == QHP_DONE) {
        fz_span_ok(&h, h.method);
        fz_span_ok(&h, h.target);
        for (size_t i = 0; i < h.nfields; i++) {
            fz_span_ok(&h, h.fields[i].name);
            fz_span_ok(&h, h.fields[i].value);
        }
        qhp_chunked c;
        qhp_chunked_init(&c, 256);
        qbuf body;
        qbuf_init(&body, 1024);
        size_t used;
        qhp_result cr = qhp_chunked_feed(&c, text + h.pos, len - h.pos, &used, &body, &err);
        if (used > len - h.pos || body.len > 1024 || (cr == QHP_MORE && used != len - h.pos))
            abort();
        qbuf_free(&body);
    }
    qhp_head_free(&h);
    qhp_head_free(&s);
    return 0;
}
