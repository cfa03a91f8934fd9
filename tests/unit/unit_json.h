/* unit_json: JSON test inputs for the cmocka unit tests. Include after
 * <cmocka.h>. */
#ifndef QHV_TESTS_UNIT_JSON_H
#define QHV_TESTS_UNIT_JSON_H
#include <string.h>
#include "lib/json.h"

/* text parsed (the caller frees), or the test fails naming the bad text. */
static inline qj *J(const char *text)
{
    qj_error e;
    qj *v = qj_parse(text, strlen(text), NULL, &e);
    if (!v)
        fail_msg("bad test JSON: %s: %s", text, e.msg);
    return v;
}

#endif
