/* wmi_model_query: the WQL the model answers:
 *   SELECT * FROM Class [WHERE Prop = 'v' | Prop LIKE 'pattern' [AND ...]]
 * Keywords, property names and comparisons are case-insensitive (as WQL's
 * string comparisons are); in a literal `\\` is a backslash and `\'` a
 * quote; LIKE knows `%` (any run) and `_` (one character). */
#include "vswitch/hyperv/wmi_model_int.h"
#include "lib/util.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

typedef struct qwm_cond {
    char *prop, *val;
    bool like;
} qwm_cond;

#define QWM_MAXCONDS 16

typedef struct qwm_wql_parsed {
    char *cls;
    size_t n;
    qwm_cond c[QWM_MAXCONDS];
} qwm_wql_parsed;

static void qwm_wql_free(qwm_wql_parsed *q)
{
    free(q->cls);
    for (size_t i = 0; i < q->n; i++) {
        free(q->c[i].prop);
        free(q->c[i].val);
    }
}

static void qwm_skip(const char **s)
{
    while (isspace((unsigned char)**s))
        (*s)++;
}

/* The keyword kw (case-insensitive, then not an identifier character). */
static bool qwm_kw(const char **s, const char *kw)
{
    qwm_skip(s);
    size_t n = strlen(kw);
    if (strncasecmp(*s, kw, n) || isalnum((unsigned char)(*s)[n]) || (*s)[n] == '_')
        return false;
    *s += n;
    return true;
}

static char *qwm_ident(const char **s)
{
    qwm_skip(s);
    const char *t = *s;
    while (isalnum((unsigned char)*t) || *t == '_')
        t++;
    if (t == *s)
        return NULL;
    char *id = xstrndup(*s, (size_t)(t - *s));
    *s = t;
    return id;
}

/* A literal: 'text' or "text" (with \ escapes), or a bare number/TRUE/FALSE. */
static char *qwm_literal(const char **s)
{
    qwm_skip(s);
    char q = **s;
    if (q != '\'' && q != '"') {
        const char *t = *s;
        while (*t && !isspace((unsigned char)*t))
            t++;
        char *v = t > *s ? xstrndup(*s, (size_t)(t - *s)) : NULL;
        *s = t;
        return v;
    }
    qbuf b;
    qbuf_init(&b, 0);
    const char *t = *s + 1;
    for (; *t && *t != q; t++) {
        if (*t == '\\' && t[1])
            t++;
        qbuf_putc(&b, *t);
    }
    if (*t != q) {
        qbuf_free(&b);
        return NULL;
    }
    *s = t + 1;
    char *v = b.len ? qbuf_steal(&b, NULL) : xstrdup("");
    qbuf_free(&b);
    return v;
}

static int qwm_cond_parse(const char **s, qwm_cond *c)
{
    c->prop = qwm_ident(s);
    if (!c->prop)
        return -1;
    qwm_skip(s);
    if (**s == '=')
        (*s)++;
    else if (qwm_kw(s, "LIKE"))
        c->like = true;
    else
        return -1;
    c->val = qwm_literal(s);
    return c->val ? 0 : -1;
}

static int qwm_wql_parse(const char *wql, qwm_wql_parsed *q)
{
    memset(q, 0, sizeof *q);
    const char *s = wql;
    qwm_skip(&s);
    if (!qwm_kw(&s, "SELECT"))
        return -1;
    qwm_skip(&s);
    if (*s++ != '*' || !qwm_kw(&s, "FROM") || !(q->cls = qwm_ident(&s)))
        return -1;
    if (qwm_kw(&s, "WHERE")) {
        do {
            if (q->n == QWM_MAXCONDS || qwm_cond_parse(&s, &q->c[q->n++]) < 0)
                return -1;
        } while (qwm_kw(&s, "AND"));
    }
    qwm_skip(&s);
    return *s ? -1 : 0;
}

bool qwm_like(const char *s, const char *pat)
{
    for (; *pat; pat++, s++) {
        if (*pat == '%') {
            for (const char *t = s;; t++) {
                if (qwm_like(t, pat + 1))
                    return true;
                if (!*t)
                    return false;
            }
        }
        if (!*s || (*pat != '_' && tolower((unsigned char)*pat) != tolower((unsigned char)*s)))
            return false;
    }
    return !*s;
}

/* The property's value as WQL compares it (NULL: null, an array, absent). */
static char *qwm_value_text(const qj *v)
{
    if (qj_is(v, QJ_STRING))
        return xstrdup(v->u.str.s);
    if (qj_is(v, QJ_BOOL))
        return xstrdup(v->u.b ? "TRUE" : "FALSE");
    if (qj_is(v, QJ_INT) || qj_is(v, QJ_DOUBLE))
        return qj_to_string(v);
    return NULL;
}

static bool qwm_match(const qj *inst, const qwm_wql_parsed *q)
{
    for (size_t i = 0; i < q->n; i++) {
        char *v = qwm_value_text(qj_get(inst, q->c[i].prop));
        if (!v) {
            /* Property names are case-insensitive too. */
            for (size_t k = 0; k < inst->u.obj.n && !v; k++)
                if (!strcasecmp(inst->u.obj.m[k].key, q->c[i].prop))
                    v = qwm_value_text(inst->u.obj.m[k].val);
        }
        bool ok = v && (q->c[i].like ? qwm_like(v, q->c[i].val) : !strcasecmp(v, q->c[i].val));
        free(v);
        if (!ok)
            return false;
    }
    return true;
}

int qwm_wql(const qwmi *w, const char *wql, char **cls, qj **rows, char *err, size_t errlen)
{
    qwm_wql_parsed q;
    *cls = NULL;
    *rows = NULL;
    if (qwm_wql_parse(wql, &q) < 0) {
        qwm_wql_free(&q);
        qwm_err(err, errlen, "invalid query (WBEM_E_INVALID_QUERY 0x80041017): the model "
                             "understands SELECT * FROM C [WHERE P = 'v' | P LIKE 'p' [AND ...]], "
                             "not: %s", wql);
        return -EINVAL;
    }
    qj *out = qj_array();
    const char *k;
    qj *i;
    for (size_t x = 0; x < qvs_map_end(w->inst); x++) {
        if (!qvs_map_at(w->inst, x, &k, &i) || !qwm_is(i, q.cls) || !qwm_match(i, &q))
            continue;
        qj *p = qwm_public(i);
        if (p)
            qj_append(out, p);
    }
    *cls = xstrdup(q.cls);
    *rows = out;
    qwm_wql_free(&q);
    return 0;
}
