/* json: strict RFC 8259 parser, builder and emitter (see json.h).
 *
 * The parser is recursive descent; recursion is bounded by max_depth, which
 * also bounds the recursion of qj_free/qj_clone/qj_equal/qj_emit on parsed
 * trees. Items of open containers are collected on a scratch stack shared by
 * all nesting levels and copied once into an exact-size array when the
 * container closes, so parsing does not realloc per item.
 *
 * A string node normally holds its bytes in the same allocation, right after
 * the node (u.str.s == (char *)(v + 1)); only qj_str_take keeps a separate
 * buffer. So u.str.s must never be freed or stolen by callers; replacing it
 * with another malloc'd buffer is fine. */
#include "lib/json.h"
#include "lib/util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QJ_DEFAULT_DEPTH 64
/* Objects with at least this many members switch duplicate detection from a
 * linear scan to a hash set, so that a hostile {"k1":..,"k2":..,...} with
 * 100k keys cannot cost O(n^2) string compares. */
#define QJ_KEYSET_MIN 32

/* Byte classes used by both the string scanner and the emitter:
 * 0 plain ASCII, 1 '"', 2 '\\', 3 control (< 0x20), 4 non-ASCII. */
static const unsigned char str_cls[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* ------------------------------------------------------------------------
 * UTF-8 */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 table 3-7), or 0
 * if it is overlong, a surrogate, above U+10FFFF, or truncated by end. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t avail = (size_t)(end - p);
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)               /* stray continuation, or overlong C0/C1 */
        return 0;
    if (c < 0xE0)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (avail < 3)
            return 0;
        if (c == 0xE0)
            lo = 0xA0;          /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F;          /* U+D800..U+DFFF */
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c < 0xF5) {
        if (avail < 4)
            return 0;
        if (c == 0xF0)
            lo = 0x90;          /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F;          /* above U+10FFFF */
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 &&
               (p[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

static size_t utf8_put(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Four hex digits at p (caller checked 4 bytes exist), or -1. */
static int32_t hex4(const unsigned char *p)
{
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        int32_t d;
        if (c - '0' < 10u)
            d = (int32_t)(c - '0');
        else if ((c | 0x20) - 'a' < 6u)
            d = (int32_t)((c | 0x20) - 'a' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* ------------------------------------------------------------------------
 * Nodes */

static qj *qj_node(qj_type t)
{
    qj *v = xmalloc(sizeof *v);
    memset(v, 0, sizeof *v);
    v->type = t;
    return v;
}

void qj_free(qj *v)
{
    if (!v)
        return;
    switch (v->type) {
    case QJ_STRING:
        if (v->u.str.s != (char *)(v + 1))   /* not stored inline */
            free(v->u.str.s);
        break;
    case QJ_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++)
            qj_free(v->u.arr.v[i]);
        free(v->u.arr.v);
        break;
    case QJ_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++) {
            free(v->u.obj.m[i].key);
            qj_free(v->u.obj.m[i].val);
        }
        free(v->u.obj.m);
        break;
    default:
        break;
    }
    free(v);
}

qj *qj_null(void) { return qj_node(QJ_NULL); }

qj *qj_bool(bool b)
{
    qj *v = qj_node(QJ_BOOL);
    v->u.b = b;
    return v;
}

qj *qj_int(int64_t i)
{
    qj *v = qj_node(QJ_INT);
    v->u.i = i;
    return v;
}

qj *qj_double(double d)
{
    qj *v = qj_node(QJ_DOUBLE);
    v->u.d = d;
    return v;
}

/* Strings are stored right after the node, in the same allocation: one
 * malloc per string instead of two. Only qj_str_take stores a separate
 * buffer; qj_free tells the two apart by address. */
static qj *str_node(size_t len)
{
    qj *v = xmalloc(sizeof *v + len + 1);
    memset(v, 0, sizeof *v);
    v->type = QJ_STRING;
    v->u.str.s = (char *)(v + 1);
    v->u.str.s[len] = '\0';
    v->u.str.len = len;
    return v;
}

qj *qj_strn(const char *s, size_t len)
{
    qj *v = str_node(len);
    if (len)
        memcpy(v->u.str.s, s, len);
    return v;
}

/* A NULL string becomes JSON null: handy for optional fields. */
qj *qj_str(const char *s) { return s ? qj_strn(s, strlen(s)) : qj_null(); }

qj *qj_str_take(char *s)
{
    if (!s)
        return qj_null();
    qj *v = qj_node(QJ_STRING);
    v->u.str.s = s;
    v->u.str.len = strlen(s);
    return v;
}

qj *qj_array(void) { return qj_node(QJ_ARRAY); }
qj *qj_object(void) { return qj_node(QJ_OBJECT); }

qj *qj_clone(const qj *v)
{
    if (!v)
        return NULL;
    switch (v->type) {
    case QJ_NULL:
        return qj_null();
    case QJ_BOOL:
        return qj_bool(v->u.b);
    case QJ_INT:
        return qj_int(v->u.i);
    case QJ_DOUBLE:
        return qj_double(v->u.d);
    case QJ_STRING:
        return qj_strn(v->u.str.s, v->u.str.len);
    case QJ_ARRAY: {
        qj *c = qj_array();
        size_t n = v->u.arr.n;
        if (n) {
            c->u.arr.v = xmalloc(n * sizeof *c->u.arr.v);
            for (size_t i = 0; i < n; i++)
                c->u.arr.v[i] = qj_clone(v->u.arr.v[i]);
        }
        c->u.arr.n = c->u.arr.cap = n;
        return c;
    }
    case QJ_OBJECT: {
        qj *c = qj_object();
        size_t n = v->u.obj.n;
        if (n) {
            c->u.obj.m = xmalloc(n * sizeof *c->u.obj.m);
            for (size_t i = 0; i < n; i++) {
                c->u.obj.m[i].key = xstrdup(v->u.obj.m[i].key);
                c->u.obj.m[i].val = qj_clone(v->u.obj.m[i].val);
            }
        }
        c->u.obj.n = c->u.obj.cap = n;
        return c;
    }
    }
    return NULL;
}

static qj_member *qj_find(const qj *obj, const char *key, size_t *idx)
{
    if (!obj || obj->type != QJ_OBJECT || !key)
        return NULL;
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        qj_member *m = &obj->u.obj.m[i];
        if (m->key[0] == key[0] && !strcmp(m->key, key)) {
            if (idx)
                *idx = i;
            return m;
        }
    }
    return NULL;
}

bool qj_equal(const qj *a, const qj *b)
{
    if (a == b)
        return true;
    if (!a || !b || a->type != b->type)
        return false;
    switch (a->type) {
    case QJ_NULL:
        return true;
    case QJ_BOOL:
        return a->u.b == b->u.b;
    case QJ_INT:
        return a->u.i == b->u.i;
    case QJ_DOUBLE:
        /* NaN equals NaN so that a value always equals its clone. */
        return a->u.d == b->u.d || (isnan(a->u.d) && isnan(b->u.d));
    case QJ_STRING:
        return a->u.str.len == b->u.str.len &&
               !memcmp(a->u.str.s, b->u.str.s, a->u.str.len);
    case QJ_ARRAY:
        if (a->u.arr.n != b->u.arr.n)
            return false;
        for (size_t i = 0; i < a->u.arr.n; i++)
            if (!qj_equal(a->u.arr.v[i], b->u.arr.v[i]))
                return false;
        return true;
    case QJ_OBJECT:
        /* Keys are unique, so equal counts plus a->b containment suffice. */
        if (a->u.obj.n != b->u.obj.n)
            return false;
        for (size_t i = 0; i < a->u.obj.n; i++) {
            const qj_member *ma = &a->u.obj.m[i];
            const qj_member *mb = &b->u.obj.m[i];
            /* Same position first: the common case (clones, round trips). */
            if (strcmp(ma->key, mb->key) && !(mb = qj_find(b, ma->key, NULL)))
                return false;
            if (!qj_equal(ma->val, mb->val))
                return false;
        }
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------------
 * Containers and getters */

void qj_append(qj *arr, qj *v)
{
    if (!arr || arr->type != QJ_ARRAY) {
        qj_free(v);
        return;
    }
    if (!v)
        v = qj_null();
    if (arr->u.arr.n == arr->u.arr.cap) {
        arr->u.arr.cap = arr->u.arr.cap ? arr->u.arr.cap * 2 : 4;
        arr->u.arr.v = xrealloc(arr->u.arr.v, arr->u.arr.cap * sizeof *arr->u.arr.v);
    }
    arr->u.arr.v[arr->u.arr.n++] = v;
}

void qj_set(qj *obj, const char *key, qj *v)
{
    if (!obj || obj->type != QJ_OBJECT || !key) {
        qj_free(v);
        return;
    }
    if (!v)
        v = qj_null();
    qj_member *m = qj_find(obj, key, NULL);
    if (m) {
        qj_free(m->val);
        m->val = v;
        return;
    }
    qj_set_new(obj, key, v);
}

void qj_set_new(qj *obj, const char *key, qj *v)
{
    if (!obj || obj->type != QJ_OBJECT || !key) {
        qj_free(v);
        return;
    }
    if (!v)
        v = qj_null();
    qj_member *m;
    if (obj->u.obj.n == obj->u.obj.cap) {
        obj->u.obj.cap = obj->u.obj.cap ? obj->u.obj.cap * 2 : 8;
        obj->u.obj.m = xrealloc(obj->u.obj.m, obj->u.obj.cap * sizeof *obj->u.obj.m);
    }
    m = &obj->u.obj.m[obj->u.obj.n++];
    m->key = xstrdup(key);
    m->val = v;
}

qj *qj_take(qj *obj, const char *key)
{
    size_t i;
    qj_member *m = qj_find(obj, key, &i);
    if (!m)
        return NULL;
    qj *v = m->val;
    free(m->key);
    obj->u.obj.n--;
    memmove(m, m + 1, (obj->u.obj.n - i) * sizeof *m);  /* keeps order */
    return v;
}

bool qj_remove(qj *obj, const char *key)
{
    qj *v = qj_take(obj, key);
    if (!v)
        return false;
    qj_free(v);
    return true;
}

qj *qj_get(const qj *obj, const char *key)
{
    qj_member *m = qj_find(obj, key, NULL);
    return m ? m->val : NULL;
}

qj *qj_at(const qj *arr, size_t i)
{
    if (!arr || arr->type != QJ_ARRAY || i >= arr->u.arr.n)
        return NULL;
    return arr->u.arr.v[i];
}

size_t qj_len(const qj *v)
{
    if (!v)
        return 0;
    switch (v->type) {
    case QJ_ARRAY:
        return v->u.arr.n;
    case QJ_OBJECT:
        return v->u.obj.n;
    case QJ_STRING:
        return v->u.str.len;
    default:
        return 0;
    }
}

const char *qj_as_str(const qj *v)
{
    return v && v->type == QJ_STRING ? v->u.str.s : NULL;
}

bool qj_is(const qj *v, qj_type t) { return v && v->type == t; }

int64_t qj_get_int(const qj *obj, const char *key, int64_t def)
{
    const qj *v = qj_get(obj, key);
    return qj_is(v, QJ_INT) ? v->u.i : def;
}

bool qj_get_bool(const qj *obj, const char *key, bool def)
{
    const qj *v = qj_get(obj, key);
    return qj_is(v, QJ_BOOL) ? v->u.b : def;
}

const char *qj_get_str(const qj *obj, const char *key)
{
    return qj_as_str(qj_get(obj, key));
}

/* ------------------------------------------------------------------------
 * Parser */

typedef struct keyslot {
    size_t idx;     /* member index + 1 relative to the object's base; 0 = empty */
    uint32_t hash;
} keyslot;

typedef struct keyset {
    keyslot *slot;
    size_t mask;
} keyset;

typedef struct parser {
    const unsigned char *start, *p, *end;
    size_t depth, max_depth;
    const unsigned char *err_at;
    const char *err_msg;            /* NULL while there is no error */
    qj **vs;                        /* scratch: items of open arrays */
    size_t vn, vcap;
    qj_member *ms;                  /* scratch: members of open objects */
    size_t mn, mcap;
    bool vs_heap, ms_heap;          /* initial scratch lives on qj_parse's stack */
} parser;

static bool perr(parser *ps, const unsigned char *at, const char *msg)
{
    ps->err_at = at;
    ps->err_msg = msg;
    return false;
}

static inline bool is_digit(unsigned char c) { return (unsigned)c - '0' < 10u; }

static inline void skip_ws(parser *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

static void push_item(parser *ps, qj *v)
{
    if (ps->vn == ps->vcap) {
        size_t cap = ps->vcap * 2;
        qj **nv = ps->vs_heap ? xrealloc(ps->vs, cap * sizeof *nv) : xmalloc(cap * sizeof *nv);
        if (!ps->vs_heap)
            memcpy(nv, ps->vs, ps->vn * sizeof *nv);
        ps->vs = nv;
        ps->vcap = cap;
        ps->vs_heap = true;
    }
    ps->vs[ps->vn++] = v;
}

static void push_member(parser *ps, char *key, qj *v)
{
    if (ps->mn == ps->mcap) {
        size_t cap = ps->mcap * 2;
        qj_member *nm = ps->ms_heap ? xrealloc(ps->ms, cap * sizeof *nm) : xmalloc(cap * sizeof *nm);
        if (!ps->ms_heap)
            memcpy(nm, ps->ms, ps->mn * sizeof *nm);
        ps->ms = nm;
        ps->mcap = cap;
        ps->ms_heap = true;
    }
    ps->ms[ps->mn].key = key;
    ps->ms[ps->mn].val = v;
    ps->mn++;
}

/* Validates the string literal whose opening quote is at q, without
 * decoding. Sets *close to the closing quote and *outlen to the decoded
 * length; *esc tells whether any escape is present, *nul whether a \u0000. */
static bool scan_string(parser *ps, const unsigned char *q, const unsigned char **close,
                        size_t *outlen, bool *esc, bool *nul)
{
    const unsigned char *p = q + 1, *end = ps->end;
    size_t saved = 0;   /* bytes by which escapes shrink when decoded */
    *esc = *nul = false;
    for (;;) {
        while (p < end && !str_cls[*p])
            p++;
        if (p >= end)
            return perr(ps, end, "unterminated string");
        switch (str_cls[*p]) {
        case 1:
            *close = p;
            *outlen = (size_t)(p - q - 1) - saved;
            return true;
        case 3:
            return perr(ps, p, "unescaped control character in string");
        case 4: {
            size_t n = utf8_seq(p, end);
            if (!n)
                return perr(ps, p, "invalid UTF-8 in string");
            p += n;
            break;
        }
        default: /* backslash */
            *esc = true;
            if (end - p < 2)
                return perr(ps, end, "unterminated string");
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                saved += 1;
                break;
            case 'u': {
                int32_t cp = end - p >= 6 ? hex4(p + 2) : -1;
                if (cp < 0)
                    return perr(ps, p, "invalid \\u escape in string");
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return perr(ps, p, "unpaired surrogate in \\u escape");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - p < 8 || p[6] != '\\' || p[7] != 'u')
                        return perr(ps, p, "unpaired surrogate in \\u escape");
                    int32_t lo = end - p >= 12 ? hex4(p + 8) : -1;
                    if (lo < 0)
                        return perr(ps, p + 6, "invalid \\u escape in string");
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return perr(ps, p, "unpaired surrogate in \\u escape");
                    p += 12;
                    saved += 12 - 4;
                    break;
                }
                if (cp == 0)
                    *nul = true;
                p += 6;
                saved += 6 - (cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3);
                break;
            }
            default:
                return perr(ps, p, "invalid escape in string");
            }
            break;
        }
    }
}

/* Decodes the already validated body [p, close) into o. */
static void decode_string(const unsigned char *p, const unsigned char *close, unsigned char *o)
{
    while (p < close) {
        const unsigned char *run = p;
        while (p < close && *p != '\\')
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p >= close)
            break;
        switch (p[1]) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t cp = (uint32_t)hex4(p + 2);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo = (uint32_t)hex4(p + 8);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            o += utf8_put(o, cp);
            p += 4;
            break;
        }
        default: *o++ = p[1]; break;  /* " \ / */
        }
        p += 2;
    }
}

/* Parses the string literal at ps->p into a new NUL-terminated buffer, or
 * into a new string node when node is non-NULL. */
static bool parse_str(parser *ps, char **out, qj **node, size_t *len, bool *nul)
{
    const unsigned char *close;
    size_t n;
    bool esc;
    char *s;
    if (!scan_string(ps, ps->p, &close, &n, &esc, nul))
        return false;
    if (node) {
        *node = str_node(n);
        s = (*node)->u.str.s;
    } else {
        s = xmalloc(n + 1);
    }
    if (esc)
        decode_string(ps->p + 1, close, (unsigned char *)s);
    else
        memcpy(s, ps->p + 1, n);
    s[n] = '\0';
    ps->p = close + 1;
    *out = s;
    *len = n;
    return true;
}

static bool parse_number(parser *ps, qj **out)
{
    const unsigned char *start = ps->p, *p = start, *end = ps->end;
    bool neg = false, is_int = true;
    uint64_t mag = 0;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return perr(ps, p, "invalid number: expected digit");
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return perr(ps, start, "invalid number: leading zero");
    } else {
        const unsigned char *d0 = p;
        while (p < end && is_digit(*p))
            mag = mag * 10 + (uint64_t)(*p++ - '0');   /* wraps past 19 digits; checked below */
        if (p - d0 > 19)
            mag = UINT64_MAX;
    }
    if (p < end && *p == '.') {
        is_int = false;
        p++;
        if (p >= end || !is_digit(*p))
            return perr(ps, p, "invalid number: expected digit after '.'");
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_int = false;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return perr(ps, p, "invalid number: expected digit in exponent");
        while (p < end && is_digit(*p))
            p++;
    }
    if (is_int) {
        if (mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
            return perr(ps, start, "integer out of range");
        *out = qj_int(!neg ? (int64_t)mag
                          : mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag);
    } else {
        /* strtod needs a terminator the input may lack. */
        size_t n = (size_t)(p - start);
        char small[64];
        char *buf = n < sizeof small ? small : xmalloc(n + 1);
        memcpy(buf, start, n);
        buf[n] = '\0';
        double d = strtod(buf, NULL);
        if (buf != small)
            free(buf);
        if (isinf(d))   /* would be emitted as null: refuse rather than change type */
            return perr(ps, start, "number out of range");
        *out = qj_double(d);
    }
    ps->p = p;
    return true;
}

static bool parse_value(parser *ps, qj **out);

static bool parse_array(parser *ps, qj **out)
{
    size_t base = ps->vn;
    if (++ps->depth > ps->max_depth)
        return perr(ps, ps->p, "nesting too deep");
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            qj *v;
            if (!parse_value(ps, &v))
                goto fail;
            push_item(ps, v);
            skip_ws(ps);
            if (ps->p >= ps->end) {
                perr(ps, ps->p, "unexpected end of input");
                goto fail;
            }
            if (*ps->p == ',') {
                ps->p++;
                skip_ws(ps);
                continue;
            }
            if (*ps->p == ']') {
                ps->p++;
                break;
            }
            perr(ps, ps->p, "expected ',' or ']' in array");
            goto fail;
        }
    }
    qj *a = qj_array();
    size_t n = ps->vn - base;
    if (n) {
        a->u.arr.v = xmalloc(n * sizeof *a->u.arr.v);
        memcpy(a->u.arr.v, ps->vs + base, n * sizeof *a->u.arr.v);
    }
    a->u.arr.n = a->u.arr.cap = n;
    ps->vn = base;
    ps->depth--;
    *out = a;
    return true;
fail:
    for (size_t i = base; i < ps->vn; i++)
        qj_free(ps->vs[i]);
    ps->vn = base;
    return false;
}

static uint32_t key_hash(const char *k, size_t n)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

static void keyset_insert(keyset *ks, uint32_t h, size_t idx)
{
    size_t i = h & ks->mask;
    while (ks->slot[i].idx)
        i = (i + 1) & ks->mask;
    ks->slot[i].idx = idx;
    ks->slot[i].hash = h;
}

/* True if key is already a member of the object being parsed (members
 * ps->ms[base..mn)); otherwise records it as the next member. */
static bool key_seen(parser *ps, size_t base, keyset *ks, const char *key, size_t klen)
{
    const qj_member *m = ps->ms + base;
    size_t n = ps->mn - base;
    if (n < QJ_KEYSET_MIN) {
        for (size_t i = 0; i < n; i++)
            if (m[i].key[0] == key[0] && !strcmp(m[i].key, key))
                return true;
        return false;
    }
    if (!ks->slot || (n + 1) * 2 > ks->mask + 1) {
        size_t cap = ks->slot ? (ks->mask + 1) * 2 : QJ_KEYSET_MIN * 4;
        free(ks->slot);
        ks->slot = xcalloc(cap, sizeof *ks->slot);
        ks->mask = cap - 1;
        for (size_t i = 0; i < n; i++)
            keyset_insert(ks, key_hash(m[i].key, strlen(m[i].key)), i + 1);
    }
    uint32_t h = key_hash(key, klen);
    for (size_t i = h & ks->mask; ks->slot[i].idx; i = (i + 1) & ks->mask)
        if (ks->slot[i].hash == h && !strcmp(m[ks->slot[i].idx - 1].key, key))
            return true;
    keyset_insert(ks, h, n + 1);
    return false;
}

static bool parse_object(parser *ps, qj **out)
{
    size_t base = ps->mn;
    keyset ks = {NULL, 0};
    if (++ps->depth > ps->max_depth)
        return perr(ps, ps->p, "nesting too deep");
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            const unsigned char *kat = ps->p;
            char *key;
            size_t klen;
            bool nul;
            qj *v;
            if (kat >= ps->end) {
                perr(ps, kat, "unexpected end of input");
                goto fail;
            }
            if (*kat != '"') {
                perr(ps, kat, "expected string key in object");
                goto fail;
            }
            if (!parse_str(ps, &key, NULL, &klen, &nul))
                goto fail;
            if (nul) {
                free(key);
                perr(ps, kat, "object key contains NUL");
                goto fail;
            }
            if (key_seen(ps, base, &ks, key, klen)) {
                free(key);
                perr(ps, kat, "duplicate object key");
                goto fail;
            }
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                perr(ps, ps->p, ps->p >= ps->end ? "unexpected end of input"
                                                 : "expected ':' after object key");
                goto fail;
            }
            ps->p++;
            skip_ws(ps);
            if (!parse_value(ps, &v)) {
                free(key);
                goto fail;
            }
            push_member(ps, key, v);
            skip_ws(ps);
            if (ps->p >= ps->end) {
                perr(ps, ps->p, "unexpected end of input");
                goto fail;
            }
            if (*ps->p == ',') {
                ps->p++;
                skip_ws(ps);
                continue;
            }
            if (*ps->p == '}') {
                ps->p++;
                break;
            }
            perr(ps, ps->p, "expected ',' or '}' in object");
            goto fail;
        }
    }
    free(ks.slot);
    qj *o = qj_object();
    size_t n = ps->mn - base;
    if (n) {
        o->u.obj.m = xmalloc(n * sizeof *o->u.obj.m);
        memcpy(o->u.obj.m, ps->ms + base, n * sizeof *o->u.obj.m);
    }
    o->u.obj.n = o->u.obj.cap = n;
    ps->mn = base;
    ps->depth--;
    *out = o;
    return true;
fail:
    free(ks.slot);
    for (size_t i = base; i < ps->mn; i++) {
        free(ps->ms[i].key);
        qj_free(ps->ms[i].val);
    }
    ps->mn = base;
    return false;
}

static bool parse_literal(parser *ps, const char *lit, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n))
        return perr(ps, ps->p, "invalid literal");
    ps->p += n;
    return true;
}

/* Expects ps->p at the first byte of a value (whitespace skipped). */
static bool parse_value(parser *ps, qj **out)
{
    if (ps->p >= ps->end)
        return perr(ps, ps->p, "unexpected end of input");
    switch (*ps->p) {
    case '{':
        return parse_object(ps, out);
    case '[':
        return parse_array(ps, out);
    case '"': {
        char *s;
        size_t len;
        bool nul;
        return parse_str(ps, &s, out, &len, &nul);
    }
    case 't':
        if (!parse_literal(ps, "true", 4))
            return false;
        *out = qj_bool(true);
        return true;
    case 'f':
        if (!parse_literal(ps, "false", 5))
            return false;
        *out = qj_bool(false);
        return true;
    case 'n':
        if (!parse_literal(ps, "null", 4))
            return false;
        *out = qj_null();
        return true;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(ps, out);
    default:
        return perr(ps, ps->p, "unexpected character, expected a JSON value");
    }
}

static void fill_error(qj_error *err, const char *text, size_t off, const char *msg)
{
    size_t line = 1, col_start = 0;
    for (size_t i = 0; i < off; i++)
        if (text[i] == '\n') {
            line++;
            col_start = i + 1;
        }
    err->offset = off;
    err->line = line;
    err->column = off - col_start + 1;   /* in bytes */
    snprintf(err->msg, sizeof err->msg, "%s", msg);
}

qj *qj_parse(const char *text, size_t len, const qj_limits *lim, qj_error *err)
{
    qj *vs0[64];
    qj_member ms0[32];
    parser ps;
    qj *v = NULL;
    if (!text) {
        text = "";
        len = 0;
    }
    if (lim && lim->max_size && len > lim->max_size) {
        if (err)
            fill_error(err, text, lim->max_size, "input exceeds maximum size");
        return NULL;
    }
    ps.start = ps.p = (const unsigned char *)text;
    ps.end = ps.start + len;
    ps.depth = 0;
    ps.max_depth = lim && lim->max_depth ? lim->max_depth : QJ_DEFAULT_DEPTH;
    ps.err_at = NULL;
    ps.err_msg = NULL;
    ps.vs = vs0;
    ps.vn = 0;
    ps.vcap = QHV_ARRAY_SIZE(vs0);
    ps.ms = ms0;
    ps.mn = 0;
    ps.mcap = QHV_ARRAY_SIZE(ms0);
    ps.vs_heap = ps.ms_heap = false;

    skip_ws(&ps);
    if (parse_value(&ps, &v)) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            perr(&ps, ps.p, "trailing characters after JSON value");
            qj_free(v);
            v = NULL;
        }
    } else {
        v = NULL;
    }
    if (ps.vs_heap)
        free(ps.vs);
    if (ps.ms_heap)
        free(ps.ms);
    if (!v && err)
        fill_error(err, text, (size_t)(ps.err_at - ps.start), ps.err_msg);
    return v;
}

/* ------------------------------------------------------------------------
 * Emitter
 *
 * Output is staged in a stack buffer and handed to the qbuf in large chunks:
 * one qbuf_append per token was the dominant emission cost. */

typedef struct emitter {
    qbuf *b;
    size_t n;
    bool fail;      /* the qbuf hit its maximum; stop writing */
    char buf[4096];
} emitter;

static void em_flush(emitter *e)
{
    if (e->n && !e->fail && !qbuf_append(e->b, e->buf, e->n))
        e->fail = true;
    e->n = 0;
}

static inline void em_put(emitter *e, const void *p, size_t n)
{
    if (n > sizeof e->buf - e->n) {
        em_flush(e);
        if (n > sizeof e->buf) {
            if (!e->fail && !qbuf_append(e->b, p, n))
                e->fail = true;
            return;
        }
    }
    memcpy(e->buf + e->n, p, n);
    e->n += n;
}

static inline void em_putc(emitter *e, char c)
{
    if (e->n == sizeof e->buf)
        em_flush(e);
    e->buf[e->n++] = c;
}

static const char hexdig[] = "0123456789abcdef";

/* Invalid UTF-8 (possible only in strings built through the API) is written
 * as U+FFFD per bad byte, so the output is always valid JSON. */
static void em_string(emitter *e, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;
    char u[6] = {'\\', 'u', '0', '0', 0, 0};
    em_putc(e, '"');
    while (p < end) {
        unsigned char c = *p;
        unsigned char k = str_cls[c];
        if (!k) {
            p++;
            continue;
        }
        if (k == 4) {
            size_t n = utf8_seq(p, end);
            if (n) {
                p += n;
                continue;
            }
        }
        em_put(e, run, (size_t)(p - run));
        switch (k) {
        case 1: em_put(e, "\\\"", 2); break;
        case 2: em_put(e, "\\\\", 2); break;
        case 4: em_put(e, "\xEF\xBF\xBD", 3); break;
        default:
            switch (c) {
            case '\b': em_put(e, "\\b", 2); break;
            case '\f': em_put(e, "\\f", 2); break;
            case '\n': em_put(e, "\\n", 2); break;
            case '\r': em_put(e, "\\r", 2); break;
            case '\t': em_put(e, "\\t", 2); break;
            default:
                u[4] = hexdig[c >> 4];
                u[5] = hexdig[c & 15];
                em_put(e, u, 6);
                break;
            }
        }
        run = ++p;
    }
    em_put(e, run, (size_t)(p - run));
    em_putc(e, '"');
}

static size_t fmt_int(int64_t i, char *out)
{
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    return len;
}

/* Shortest of %.15g/%.16g/%.17g that reads back exactly (17 always does);
 * ".0" is added when needed so the text re-parses as a double, not an int. */
static size_t fmt_double(double d, char *out, size_t cap)
{
    int n = 0;
    if (!isfinite(d)) {
        memcpy(out, "null", 4);
        return 4;
    }
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".e")) {
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return (size_t)n;
}

static void em_indent(emitter *e, size_t level)
{
    static const char spaces[] = "\n                                ";
    size_t n = level * 2;
    em_putc(e, '\n');
    while (n) {
        size_t k = n < sizeof spaces - 2 ? n : sizeof spaces - 2;
        em_put(e, spaces + 1, k);
        n -= k;
    }
}

static void em_value(emitter *e, const qj *v, bool pretty, size_t level)
{
    char tmp[40];
    if (e->fail)
        return;
    if (!v) {
        em_put(e, "null", 4);
        return;
    }
    switch (v->type) {
    case QJ_NULL:
        em_put(e, "null", 4);
        break;
    case QJ_BOOL:
        if (v->u.b)
            em_put(e, "true", 4);
        else
            em_put(e, "false", 5);
        break;
    case QJ_INT:
        em_put(e, tmp, fmt_int(v->u.i, tmp));
        break;
    case QJ_DOUBLE:
        em_put(e, tmp, fmt_double(v->u.d, tmp, sizeof tmp));
        break;
    case QJ_STRING:
        em_string(e, v->u.str.s, v->u.str.len);
        break;
    case QJ_ARRAY:
        if (!v->u.arr.n) {
            em_put(e, "[]", 2);
            break;
        }
        em_putc(e, '[');
        for (size_t i = 0; i < v->u.arr.n && !e->fail; i++) {
            if (i)
                em_putc(e, ',');
            if (pretty)
                em_indent(e, level + 1);
            em_value(e, v->u.arr.v[i], pretty, level + 1);
        }
        if (pretty)
            em_indent(e, level);
        em_putc(e, ']');
        break;
    case QJ_OBJECT:
        if (!v->u.obj.n) {
            em_put(e, "{}", 2);
            break;
        }
        em_putc(e, '{');
        for (size_t i = 0; i < v->u.obj.n && !e->fail; i++) {
            const qj_member *m = &v->u.obj.m[i];
            if (i)
                em_putc(e, ',');
            if (pretty)
                em_indent(e, level + 1);
            em_string(e, m->key, strlen(m->key));
            if (pretty)
                em_put(e, ": ", 2);
            else
                em_putc(e, ':');
            em_value(e, m->val, pretty, level + 1);
        }
        if (pretty)
            em_indent(e, level);
        em_putc(e, '}');
        break;
    }
}

bool qj_emit_string(qbuf *b, const char *s, size_t len)
{
    emitter e;
    e.b = b;
    e.n = 0;
    e.fail = b->overflow;
    em_string(&e, s, len);
    em_flush(&e);
    return !e.fail;
}

bool qj_emit(const qj *v, qbuf *b, bool pretty)
{
    emitter e;
    e.b = b;
    e.n = 0;
    e.fail = b->overflow;
    em_value(&e, v, pretty, 0);
    em_flush(&e);
    return !e.fail;
}

char *qj_to_string(const qj *v)
{
    qbuf b;
    qbuf_init(&b, 0);
    qj_emit(v, &b, false);
    char *s = qbuf_steal(&b, NULL);
    qbuf_free(&b);   /* steal leaves a fresh empty buffer behind */
    return s;
}
