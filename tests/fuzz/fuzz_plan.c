/* libFuzzer target for the agent's plan parser (agent/plan.c): the channel's
 * answers an agent applies to its copy of the host plan. The input is up to
 * four answers separated by NUL bytes (JSON text never holds a raw NUL),
 * applied in turn to one plan, so that deltas meet a plan they may patch.
 *
 * Checked on every answer: a refused answer (-1) leaves the plan exactly as
 * it was and says why; 0 means only the revision moved; 1 means the content
 * changed; the revision is the answer's after either. Every value the plan
 * holds parses back (the sections are kept as compact JSON text). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The plan's content as one tree (compared with qj_equal: the order of
 * keys does not matter). Every stored value must parse back. */
static qj *snapshot(const qag_plan *p)
{
    qj *all = qj_object();
    for (int s = 0; s < QAG_NSEC; s++) {
        qvs_map *m = qag_plan_section(p, (qag_section)s);
        const char *key;
        qj *val;
        for (size_t i = 0; i < qvs_map_end(m); i++)
            if (qvs_map_at(m, i, &key, &val) && !val)
                abort();   /* a stored text that does not parse */
        qj_set(all, qag_plan_sections[s], qvs_map_move_to_object(m));
        qvs_map_free(m);
    }
    return all;
}

static void apply_one(qag_plan *p, const char *text, size_t len)
{
    qj *resp = qj_parse(text, len, NULL, NULL);
    if (!resp)
        return;
    qj *before = snapshot(p);
    int64_t rev_before = p->revision;
    char err[256] = "";
    int rc = qag_plan_apply(p, resp, err, sizeof err);
    qj *after = snapshot(p);
    bool same = qj_equal(before, after);
    if (rc < 0) {
        if (!err[0] || !same || p->revision != rev_before)
            abort();
    } else {
        if (rc != 0 && rc != 1)
            abort();
        /* Not the converse: a delta that removes a key and sets it again
         * to the same value reports a change. */
        if (rc == 0 && !same)
            abort();
        if (p->revision != qj_get(resp, "revision")->u.i)
            abort();
    }
    qj_free(before);
    qj_free(after);
    qj_free(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qag_plan p;
    qag_plan_init(&p);
    const char *s = (const char *)data, *end = s + size;
    for (int n = 0; n < 4 && s <= end; n++) {
        const char *nul = memchr(s, '\0', (size_t)(end - s));
        size_t len = nul ? (size_t)(nul - s) : (size_t)(end - s);
        apply_one(&p, s, len);
        if (!nul)
            break;
        s = nul + 1;
    }
    (void)qag_plan_bytes(&p);
    qag_plan_free(&p);
    return 0;
}
