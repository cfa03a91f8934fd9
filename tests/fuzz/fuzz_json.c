/* libFuzzer target for lib/json: whatever parses must survive
 * emit -> re-parse -> equal -> emit again byte-identical, in both compact
 * and pretty form, and clones must be equal and emit identically. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *emit(const qj *v, bool pretty, size_t *len)
{
    qbuf b;
    qbuf_init(&b, 0);
    if (!qj_emit(v, &b, pretty))
        abort();   /* unlimited buffer: emission cannot fail */
    char *s = qbuf_steal(&b, len);
    qbuf_free(&b);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qj_error err;
    /* A small depth limit now and then exercises the limit path too. */
    qj_limits lim = {.max_depth = size && data[0] == '[' && size % 7 == 0 ? 5 : 0};
    qj *v = qj_parse((const char *)data, size, &lim, &err);
    if (!v) {
        /* The error must point inside (or just past) the input. */
        if (err.offset > size || err.line < 1 || err.column < 1 || !err.msg[0])
            abort();
        return 0;
    }

    size_t len1, len2;
    char *out1 = emit(v, false, &len1);
    if (strlen(out1) != len1)   /* NUL only ever appears escaped */
        abort();
    qj *w = qj_parse(out1, len1, NULL, &err);
    if (!w || !qj_equal(v, w) || !qj_equal(w, v))
        abort();
    char *out2 = emit(w, false, &len2);
    if (len1 != len2 || memcmp(out1, out2, len1))
        abort();

    /* Pretty output parses back to the same tree. */
    size_t plen;
    char *pretty = emit(v, true, &plen);
    qj *p = qj_parse(pretty, plen, NULL, &err);
    if (!p || !qj_equal(v, p))
        abort();

    /* A clone is equal, independent and emits the same bytes. */
    qj *c = qj_clone(v);
    size_t clen;
    char *cout = emit(c, false, &clen);
    if (!qj_equal(v, c) || clen != len1 || memcmp(cout, out1, len1))
        abort();
    if (qj_is(c, QJ_OBJECT) && qj_len(c)) {
        char *key = strdup(c->u.obj.m[0].key);
        qj *taken = qj_take(c, key);
        if (!taken || qj_get(c, key) || qj_equal(v, c))
            abort();
        qj_set(c, key, taken);   /* re-adding at the end keeps object equality */
        if (!qj_equal(v, c))
            abort();
        free(key);
    } else if (qj_is(c, QJ_ARRAY)) {
        qj_append(c, qj_null());
        if (qj_equal(v, c))
            abort();
    }

    free(cout);
    qj_free(c);
    qj_free(p);
    free(pretty);
    free(out2);
    qj_free(w);
    free(out1);
    qj_free(v);
    return 0;
}
