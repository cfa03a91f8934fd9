/* wmi_path: parsing and comparing WMI object paths (wmi_path.h). */
#include "vswitch/hyperv/wmi_path.h"
#include "lib/buf.h"
#include "lib/util.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QWP_MAX_KEYS 8

typedef struct qwp {
    char *cls;
    size_t n;
    char *k[QWP_MAX_KEYS], *v[QWP_MAX_KEYS];
} qwp;

static void qwp_free(qwp *p)
{
    free(p->cls);
    for (size_t i = 0; i < p->n; i++) {
        free(p->k[i]);
        free(p->v[i]);
    }
    memset(p, 0, sizeof *p);
}

static char *qwp_lower(char *s)
{
    for (char *c = s; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return s;
}

/* Skips "[\\SERVER\]namespace:": up to the first ':' before any quoted
 * value (a class name holds none). */
static const char *qwp_rel(const char *s)
{
    const char *q = strchr(s, '"'), *c = strchr(s, ':');
    return c && (!q || c < q) ? c + 1 : s;
}

static int qwp_parse(const char *path, qwp *p)
{
    memset(p, 0, sizeof *p);
    if (!path)
        return -1;
    const char *s = qwp_rel(path);
    size_t cl = strcspn(s, ".=");
    if (!cl)
        return -1;
    p->cls = xstrndup(s, cl);
    s += cl;
    if (!strcmp(s, "=@"))
        return 0;
    if (*s != '.')
        goto bad;
    s++;
    for (;;) {
        size_t kl = strcspn(s, "=");
        if (!kl || s[kl] != '=' || p->n == QWP_MAX_KEYS)
            goto bad;
        char *k = xstrndup(s, kl);
        s += kl + 1;
        qbuf b;
        qbuf_init(&b, 0);
        if (*s == '"') {
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\' && (s[1] == '\\' || s[1] == '"'))
                    s++;
                qbuf_putc(&b, *s);
            }
            if (*s != '"') {
                free(k);
                qbuf_free(&b);
                goto bad;
            }
            s++;
        } else {
            size_t vl = strcspn(s, ",");
            qbuf_printf(&b, "%.*s", (int)vl, s);
            s += vl;
        }
        p->k[p->n] = k;
        p->v[p->n] = qbuf_steal(&b, NULL);
        qbuf_free(&b);
        p->n++;
        if (!*s)
            return 0;
        if (*s != ',')
            goto bad;
        s++;
    }
bad:
    qwp_free(p);
    return -1;
}

static int qwp_cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *qwmi_path_key(const char *path)
{
    qwp p;
    if (qwp_parse(path, &p) < 0)
        return NULL;
    char *pairs[QWP_MAX_KEYS];
    for (size_t i = 0; i < p.n; i++) {
        qbuf b;
        qbuf_init(&b, 0);
        qbuf_printf(&b, "%s=\"", qwp_lower(p.k[i]));
        for (const char *c = qwp_lower(p.v[i]); *c; c++) {
            if (*c == '\\' || *c == '"')
                qbuf_putc(&b, '\\');
            qbuf_putc(&b, *c);
        }
        qbuf_putc(&b, '"');
        pairs[i] = qbuf_steal(&b, NULL);
        qbuf_free(&b);
    }
    qsort(pairs, p.n, sizeof pairs[0], qwp_cmp_key);
    qbuf b;
    qbuf_init(&b, 0);
    qbuf_puts(&b, qwp_lower(p.cls));
    qbuf_puts(&b, p.n ? "." : "=@");
    for (size_t i = 0; i < p.n; i++) {
        qbuf_printf(&b, "%s%s", i ? "," : "", pairs[i]);
        free(pairs[i]);
    }
    qwp_free(&p);
    char *out = qbuf_steal(&b, NULL);
    qbuf_free(&b);
    return out;
}

bool qwmi_path_same(const char *a, const char *b)
{
    char *ka = qwmi_path_key(a), *kb = qwmi_path_key(b);
    bool same = ka && kb && !strcmp(ka, kb);
    free(ka);
    free(kb);
    return same;
}

char *qwmi_path_class(const char *path)
{
    qwp p;
    if (qwp_parse(path, &p) < 0)
        return NULL;
    char *c = xstrdup(p.cls);
    qwp_free(&p);
    return c;
}

char *qwmi_path_value(const char *path, const char *k)
{
    qwp p;
    if (qwp_parse(path, &p) < 0)
        return NULL;
    char *v = NULL;
    for (size_t i = 0; i < p.n && !v; i++)
        if (!strcasecmp(p.k[i], k))
            v = xstrdup(p.v[i]);
    qwp_free(&p);
    return v;
}
