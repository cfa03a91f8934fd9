/* wmi_schema: the documented WMI class schema (wmi_schema.h), from
 * hyperv-schema.json, which the build embeds as a C string
 * (cmake/embed-json.cmake: qhv_hyperv_schema_json) and which is parsed here
 * once, on first use, into static arrays kept for the process's life. */
#include "vswitch/hyperv/wmi_schema.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/json.h"

#ifdef _WIN32
#include <windows.h>
#define schema_yield() Sleep(0)
#else
#include <sched.h>
#define schema_yield() sched_yield()
#endif

extern const char qhv_hyperv_schema_json[];

static qwmi_class_schema *g_classes;
static size_t g_nclasses;
static const char *g_commit = "";
static qj *g_root;              /* the parsed data; every string points into it */
/* 0 not loaded, 1 loading, 2 loaded (also when the data was unusable: then
 * there are no classes, and that was said on stderr once). */
static atomic_int g_state;

static int ci_cmp(const void *a, const void *b)
{
    return strcasecmp(((const qwmi_class_schema *)a)->name,
                      ((const qwmi_class_schema *)b)->name);
}

static int ci_prop_cmp(const void *a, const void *b)
{
    return strcasecmp(((const qwmi_prop_schema *)a)->name,
                      ((const qwmi_prop_schema *)b)->name);
}

/* A JSON array of strings as a static NULL-free array of n pointers; the
 * strings are the parsed tree's (kept for good). false if not all strings. */
static bool str_array(const qj *a, const char *const **ret, size_t *n)
{
    size_t len = qj_len(a);
    *ret = NULL;
    *n = 0;
    if (!a || a->type != QJ_ARRAY)
        return a == NULL;
    if (len == 0)
        return true;
    const char **v = calloc(len, sizeof(*v));
    if (!v)
        return false;
    for (size_t i = 0; i < len; i++) {
        v[i] = qj_as_str(qj_at(a, i));
        if (!v[i]) {
            free(v);
            return false;
        }
    }
    *ret = v;
    *n = len;
    return true;
}

static bool load_prop(qwmi_prop_schema *p, const char *name, const qj *o)
{
    if (!qj_is(o, QJ_OBJECT))
        return false;
    p->name = name;
    p->type = qj_get_str(o, "type");
    if (!p->type)
        return false;
    p->array = qj_get_bool(o, "array", false);
    p->key = qj_get_bool(o, "key", false);
    p->writable = qj_get_bool(o, "writable", false);
    p->wmidataid = (int)qj_get_int(o, "wmidataid", 0);
    p->maxlen = (long)qj_get_int(o, "maxlen", -1);
    const qj *d = qj_get(o, "default");
    p->default_json = d ? qj_to_string(d) : NULL;
    if (d && !p->default_json)
        return false;
    p->fixed = qj_get_str(o, "fixed");
    size_t nmap = 0, nval = 0;
    if (!str_array(qj_get(o, "valuemap"), &p->valuemap, &nmap) ||
        !str_array(qj_get(o, "values"), &p->values, &nval))
        return false;
    if (nmap != nval)
        return false;
    p->nvalues = nmap;
    return true;
}

static bool load_class(qwmi_class_schema *c, const char *name, const qj *o)
{
    if (!qj_is(o, QJ_OBJECT))
        return false;
    c->name = name;
    c->ns = qj_get_str(o, "namespace");
    const qj *props = qj_get(o, "properties");
    if (!c->ns || !qj_is(props, QJ_OBJECT))
        return false;
    size_t n = props->u.obj.n;
    qwmi_prop_schema *v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!load_prop(&v[i], props->u.obj.m[i].key, props->u.obj.m[i].val))
            return false;       /* a broken build: leaks, said by the caller */
    qsort(v, n, sizeof(*v), ci_prop_cmp);
    c->props = v;
    c->nprops = n;
    return true;
}

static bool load(void)
{
    const char *text = qhv_hyperv_schema_json;
    qj_error err;
    qj *root = qj_parse(text, strlen(text), NULL, &err);
    if (!root) {
        fprintf(stderr, "wmi_schema: embedded hyperv-schema.json: line %zu: %s\n",
                err.line, err.msg);
        return false;
    }
    g_root = root;              /* kept for good: the strings point into it */
    const char *commit = qj_get_str(qj_get(root, "source"), "commit");
    const qj *classes = qj_get(root, "classes");
    if (!commit || !qj_is(classes, QJ_OBJECT))
        return false;
    size_t n = classes->u.obj.n;
    qwmi_class_schema *v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!load_class(&v[i], classes->u.obj.m[i].key, classes->u.obj.m[i].val)) {
            fprintf(stderr, "wmi_schema: embedded hyperv-schema.json: class %s malformed\n",
                    classes->u.obj.m[i].key);
            return false;
        }
    qsort(v, n, sizeof(*v), ci_cmp);
    g_classes = v;
    g_nclasses = n;
    g_commit = commit;
    return true;
}

static void ensure_loaded(void)
{
    if (atomic_load_explicit(&g_state, memory_order_acquire) == 2)
        return;
    int expected = 0;
    if (atomic_compare_exchange_strong(&g_state, &expected, 1)) {
        if (!load()) {
            g_classes = NULL;
            g_nclasses = 0;
        }
        atomic_store_explicit(&g_state, 2, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&g_state, memory_order_acquire) != 2)
        schema_yield();
}

const qwmi_class_schema *qwmi_schema_class(const char *name)
{
    if (!name)
        return NULL;
    ensure_loaded();
    qwmi_class_schema k = { .name = name };
    return bsearch(&k, g_classes, g_nclasses, sizeof(k), ci_cmp);
}

const qwmi_prop_schema *qwmi_schema_prop(const qwmi_class_schema *c, const char *name)
{
    if (!c || !name)
        return NULL;
    qwmi_prop_schema k = { .name = name };
    return bsearch(&k, c->props, c->nprops, sizeof(k), ci_prop_cmp);
}

/* A ValueMap entry as a number; false for ranges ("32768..65535") and "..". */
static bool map_number(const char *s, int64_t *ret)
{
    if (!s || !*s)
        return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *ret = v;
    return true;
}

bool qwmi_schema_value(const qwmi_prop_schema *p, const char *name, int64_t *ret)
{
    if (!p || !name)
        return false;
    for (size_t i = 0; i < p->nvalues; i++)
        if (strcasecmp(p->values[i], name) == 0) {
            int64_t v;
            if (!map_number(p->valuemap[i], &v))
                return false;
            if (ret)
                *ret = v;
            return true;
        }
    return false;
}

const char *qwmi_schema_value_name(const qwmi_prop_schema *p, int64_t v)
{
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->nvalues; i++) {
        int64_t m;
        if (map_number(p->valuemap[i], &m) && m == v)
            return p->values[i];
    }
    return NULL;
}

const char *qwmi_schema_source_commit(void)
{
    ensure_loaded();
    return g_commit;
}

const qwmi_class_schema *qwmi_schema_classes(size_t *n)
{
    ensure_loaded();
    if (n)
        *n = g_nclasses;
    return g_classes;
}
