/* pg_sql: SQLite's spelling rewritten for PostgreSQL (rules in pg_sql.h).
 * A single pass over the text that copies string literals and quoted
 * identifiers untouched; json_extract's first argument is rewritten by the
 * same pass, recursively. */
#include "store/pg_sql.h"
#include "lib/buf.h"
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct qpg_rw {
    qbuf out;
    int maxparam;
    uint64_t used;
    bool ignore_pending;   /* INSERT OR IGNORE seen: ON CONFLICT DO NOTHING owed */
    bool bad;
} qpg_rw;

static bool qpg_ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

static const char *qpg_skip_ws(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

/* The keyword kw at p (followed by a non-identifier character)? Returns the
 * position after it, or NULL. The caller checks what precedes p. */
static const char *qpg_kw(const char *p, const char *end, const char *kw)
{
    size_t n = strlen(kw);
    if ((size_t)(end - p) < n || strncasecmp(p, kw, n) != 0)
        return NULL;
    if (p + n < end && qpg_ident_char(p[n]))
        return NULL;
    return p + n;
}

/* The keywords of the NULL-terminated list, separated by whitespace. */
static const char *qpg_kws(const char *p, const char *end, const char *const *kws)
{
    for (size_t i = 0; kws[i]; i++) {
        if (i) {
            const char *q = qpg_skip_ws(p, end);
            if (q == p)
                return NULL;
            p = q;
        }
        p = qpg_kw(p, end, kws[i]);
        if (!p)
            return NULL;
    }
    return p;
}

/* An identifier, possibly qualified (a.b), at p: the position after it. */
static const char *qpg_ident(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && (qpg_ident_char(*q) || *q == '.'))
        q++;
    return q == p ? NULL : q;
}

/* The end of the quoted run starting at p (quote q, doubled to escape). */
static const char *qpg_quoted_end(const char *p, const char *end, char q)
{
    p++;
    while (p < end) {
        if (*p == q) {
            if (p + 1 < end && p[1] == q) {
                p += 2;
                continue;
            }
            return p + 1;
        }
        p++;
    }
    return end;
}

static void qpg_rw_range(qpg_rw *rw, const char *p, const char *end);

/* Appends s as the body of a SQL string literal (quotes doubled). */
static void qpg_put_lit(qbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            qbuf_putc(b, '\'');
        qbuf_putc(b, s[i]);
    }
}

/* The keys of a JSON path literal's body ($.a."b:c".d, quotes of the SQL
 * literal already removed and '' undone) into keys[]; the count, or -1. */
static int qpg_json_path(const char *p, const char *end, const char *keys[], size_t lens[],
                         int max)
{
    if (end - p < 2 || p[0] != '$' || p[1] != '.')
        return -1;
    p += 1;
    int n = 0;
    while (p < end) {
        if (*p != '.' || n == max)
            return -1;
        p++;
        if (p < end && *p == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            if (!q)
                return -1;
            keys[n] = p + 1;
            lens[n++] = (size_t)(q - p - 1);
            p = q + 1;
        } else {
            const char *q = p;
            while (q < end && *q != '.' && *q != '[')
                q++;
            if (q == p || (q < end && *q == '['))
                return -1;
            keys[n] = p;
            lens[n++] = (size_t)(q - p);
            p = q;
        }
    }
    return n ? n : -1;
}

/* Emits the jsonb accessor of the path: -> 'k' or #> '{"a","b"}' (text:
 * ->> and #>>). */
static void qpg_put_access(qbuf *b, const char *keys[], const size_t lens[], int n, bool text)
{
    if (n == 1) {
        qbuf_puts(b, text ? " ->> '" : " -> '");
        qpg_put_lit(b, keys[0], lens[0]);
        qbuf_putc(b, '\'');
        return;
    }
    qbuf_puts(b, text ? " #>> '{" : " #> '{");
    for (int i = 0; i < n; i++) {
        qbuf_puts(b, i ? ",\"" : "\"");
        for (size_t j = 0; j < lens[i]; j++) {
            if (keys[i][j] == '"' || keys[i][j] == '\\')
                qbuf_putc(b, '\\');
            if (keys[i][j] == '\'')
                qbuf_putc(b, '\'');
            qbuf_putc(b, keys[i][j]);
        }
        qbuf_putc(b, '"');
    }
    qbuf_puts(b, "}'");
}

/* After json_extract(...): a comparison with a bare number? Sets op ("=" or
 * "<>") and the number's extent; returns the position after it or NULL. */
static const char *qpg_num_compare(const char *p, const char *end, const char **op,
                                   const char **num, size_t *numlen)
{
    p = qpg_skip_ws(p, end);
    if (end - p >= 2 && (!strncmp(p, "!=", 2) || !strncmp(p, "<>", 2))) {
        *op = "<>";
        p += 2;
    } else if (end - p >= 2 && !strncmp(p, "==", 2)) {
        *op = "=";
        p += 2;
    } else if (p < end && *p == '=') {
        *op = "=";
        p += 1;
    } else {
        return NULL;
    }
    p = qpg_skip_ws(p, end);
    const char *n0 = p;
    if (p < end && *p == '-')
        p++;
    const char *d0 = p;
    while (p < end && isdigit((unsigned char)*p))
        p++;
    if (p == d0)
        return NULL;
    if (p < end && *p == '.') {
        p++;
        while (p < end && isdigit((unsigned char)*p))
            p++;
    }
    if (p < end && (qpg_ident_char(*p) || *p == '.'))
        return NULL;
    *num = n0;
    *numlen = (size_t)(p - n0);
    return p;
}

/* json_extract at p (its name already matched up to name_end). Returns the
 * position after what it consumed, or NULL (then it is copied as is). */
static const char *qpg_json_extract(qpg_rw *rw, const char *name_end, const char *end)
{
    const char *p = qpg_skip_ws(name_end, end);
    if (p >= end || *p != '(')
        return NULL;
    const char *e0 = ++p;
    int depth = 0;
    while (p < end) {
        if (*p == '\'' || *p == '"') {
            p = qpg_quoted_end(p, end, *p);
            continue;
        }
        if (*p == '(')
            depth++;
        else if (*p == ')' && depth-- == 0)
            return NULL;
        else if (*p == ',' && depth == 0)
            break;
        p++;
    }
    if (p >= end)
        return NULL;
    const char *e1 = p;
    p = qpg_skip_ws(p + 1, end);
    if (p >= end || *p != '\'')
        return NULL;
    const char *l1 = qpg_quoted_end(p, end, '\'');
    /* The literal's body with '' undone (paths rarely hold quotes). */
    char path[256];
    size_t pl = 0;
    for (const char *q = p + 1; q < l1 - 1 && pl < sizeof path - 1; q++) {
        if (*q == '\'' && q + 1 < l1 - 1 && q[1] == '\'')
            q++;
        path[pl++] = *q;
    }
    const char *close = qpg_skip_ws(l1, end);
    if (close >= end || *close != ')')
        return NULL;
    const char *keys[16];
    size_t lens[16];
    int nk = qpg_json_path(path, path + pl, keys, lens, 16);
    if (nk < 0)
        return NULL;
    const char *op = NULL, *num = NULL;
    size_t numlen = 0;
    const char *after = qpg_num_compare(close + 1, end, &op, &num, &numlen);
    qbuf_puts(&rw->out, "((");
    qpg_rw_range(rw, qpg_skip_ws(e0, e1), e1);
    while (rw->out.len && isspace((unsigned char)rw->out.data[rw->out.len - 1]))
        rw->out.data[--rw->out.len] = '\0';
    qbuf_puts(&rw->out, ")::jsonb");
    qpg_put_access(&rw->out, keys, lens, nk, !after);
    qbuf_putc(&rw->out, ')');
    if (!after)
        return close + 1;
    bool neg = !strcmp(op, "<>");
    if (numlen == 1 && (*num == '0' || *num == '1')) {
        qbuf_printf(&rw->out, " %sIN ('%s'::jsonb, '%c'::jsonb)", neg ? "NOT " : "",
                    *num == '1' ? "true" : "false", *num);
    } else {
        qbuf_printf(&rw->out, " %s '", op);
        qbuf_append(&rw->out, num, numlen);
        qbuf_puts(&rw->out, "'::jsonb");
    }
    return after;
}

/* CROSS JOIN at p followed by "t [alias] ON"? The position after JOIN. */
static const char *qpg_cross_join_on(const char *p, const char *end)
{
    static const char *const kws[] = {"CROSS", "JOIN", NULL};
    const char *q = qpg_kws(p, end, kws);
    if (!q)
        return NULL;
    const char *r = qpg_skip_ws(q, end);
    if (r == q || !(r = qpg_ident(r, end)))
        return NULL;
    for (int i = 0; i < 2; i++) {
        const char *w = qpg_skip_ws(r, end);
        if (w == r)
            return NULL;
        if (qpg_kw(w, end, "ON"))
            return q;
        if (i || qpg_kw(w, end, "AS") || !(r = qpg_ident(w, end)))
            return NULL;
    }
    return NULL;
}

static void qpg_owe_ignore(qpg_rw *rw, bool space_after)
{
    if (!rw->ignore_pending)
        return;
    while (rw->out.len && isspace((unsigned char)rw->out.data[rw->out.len - 1]))
        rw->out.data[--rw->out.len] = '\0';
    qbuf_puts(&rw->out, space_after ? " ON CONFLICT DO NOTHING " : " ON CONFLICT DO NOTHING");
    rw->ignore_pending = false;
}

static void qpg_rw_range(qpg_rw *rw, const char *p, const char *end)
{
    static const char *const indexed[] = {"INDEXED", "BY", NULL};
    static const char *const ignore[] = {"INSERT", "OR", "IGNORE", "INTO", NULL};
    const char *start = p;
    int depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '\'' || c == '"') {
            const char *q = qpg_quoted_end(p, end, c);
            qbuf_append(&rw->out, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if (c == '-' && p + 1 < end && p[1] == '-') {
            const char *q = memchr(p, '\n', (size_t)(end - p));
            q = q ? q : end;
            qbuf_append(&rw->out, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if (c == '?') {
            p++;
            int n = 0;
            if (p < end && isdigit((unsigned char)*p)) {
                while (p < end && isdigit((unsigned char)*p) && n <= QPG_SQL_MAX_PARAMS)
                    n = n * 10 + (*p++ - '0');
            } else {
                n = rw->maxparam + 1;
            }
            if (n < 1 || n > QPG_SQL_MAX_PARAMS) {
                rw->bad = true;
                return;
            }
            rw->used |= UINT64_C(1) << (n - 1);
            if (n > rw->maxparam)
                rw->maxparam = n;
            qbuf_printf(&rw->out, "$%d", n);
            continue;
        }
        if (c == '(' || c == ')') {
            depth += c == '(' ? 1 : -1;
            qbuf_putc(&rw->out, c);
            p++;
            continue;
        }
        if (c == ';' && depth == 0) {
            qpg_owe_ignore(rw, false);
            qbuf_putc(&rw->out, c);
            p++;
            continue;
        }
        bool word_start = qpg_ident_char(c) && (p == start || !qpg_ident_char(p[-1]));
        if (!word_start || isdigit((unsigned char)c)) {
            qbuf_putc(&rw->out, c);
            p++;
            continue;
        }
        const char *q;
        if ((q = qpg_kws(p, end, indexed))) {
            const char *r = qpg_skip_ws(q, end);
            const char *id = qpg_ident(r, end);
            if (r != q && id) {
                p = qpg_skip_ws(id, end);
                continue;
            }
        }
        if ((q = qpg_kws(p, end, ignore))) {
            qbuf_puts(&rw->out, "INSERT INTO");
            rw->ignore_pending = true;
            p = q;
            continue;
        }
        if (depth == 0 && rw->ignore_pending && (q = qpg_kw(p, end, "RETURNING"))) {
            qpg_owe_ignore(rw, true);
            qbuf_append(&rw->out, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if ((q = qpg_cross_join_on(p, end))) {
            qbuf_puts(&rw->out, "JOIN");
            p = q;
            continue;
        }
        if ((q = qpg_kw(p, end, "json_extract")) && (q = qpg_json_extract(rw, q, end))) {
            p = q;
            continue;
        }
        if (rw->bad)
            return;
        /* Any other word: copied whole, so that no rule matches inside it. */
        q = p;
        while (q < end && qpg_ident_char(*q))
            q++;
        qbuf_append(&rw->out, p, (size_t)(q - p));
        p = q;
    }
}

int qpg_sql_rewrite(const char *in, qpg_sql *out)
{
    qpg_rw rw = {.maxparam = 0};
    qbuf_init(&rw.out, 0);
    qpg_rw_range(&rw, in, in + strlen(in));
    qpg_owe_ignore(&rw, false);
    out->sql = NULL;
    out->nparams = rw.maxparam;
    out->used = rw.used;
    if (rw.bad) {
        qbuf_free(&rw.out);
        return -1;
    }
    out->sql = qbuf_steal(&rw.out, NULL);
    qbuf_free(&rw.out);
    return 0;
}
