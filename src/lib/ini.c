/* ini: entries in load order plus an open-addressing hash on section+key, so
 * loading stays linear even for a huge (or hostile) file. */
#include "lib/ini.h"
#include "lib/util.h"
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INI_MAX_LINE (64 * 1024)
#define INI_MAX_FILE (64 * 1024 * 1024)

struct qini {
    qini_entry *v;     /* strings are owned (xstrdup) despite the const view */
    size_t n, cap;
    size_t *slots;     /* index+1 into v, 0 = empty; size is a power of two */
    size_t nslots;
};

qini *qini_new(void) { return xcalloc(1, sizeof(qini)); }

static void entry_free(qini_entry *e)
{
    free((char *)e->section);
    free((char *)e->key);
    free((char *)e->value);
    free((char *)e->file);
}

void qini_free(qini *ini)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->n; i++)
        entry_free(&ini->v[i]);
    free(ini->v);
    free(ini->slots);
    free(ini);
}

/* FNV-1a over section, a separator that cannot occur in C strings, and key. */
static size_t hash_sk(const char *section, const char *key)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = section; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0) * 1099511628211ull;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return (size_t)h;
}

/* Slot holding section/key, or the empty slot where it would go. */
static size_t *find_slot(const qini *ini, const char *section, const char *key)
{
    size_t mask = ini->nslots - 1;
    for (size_t i = hash_sk(section, key) & mask;; i = (i + 1) & mask) {
        size_t *s = &ini->slots[i];
        if (!*s)
            return s;
        const qini_entry *e = &ini->v[*s - 1];
        if (!strcmp(e->section, section) && !strcmp(e->key, key))
            return s;
    }
}

static void rehash(qini *ini, size_t nslots)
{
    free(ini->slots);
    ini->slots = xcalloc(nslots, sizeof *ini->slots);
    ini->nslots = nslots;
    for (size_t i = 0; i < ini->n; i++)
        *find_slot(ini, ini->v[i].section, ini->v[i].key) = i + 1;
}

/* Inserts or overrides in place, so an overridden key keeps its position. */
static void set_entry(qini *ini, const char *section, const char *key, const char *value,
                      const char *file, int line)
{
    /* Keep the load factor at or below 1/2 so probing always terminates fast. */
    if ((ini->n + 1) * 2 > ini->nslots)
        rehash(ini, ini->nslots ? ini->nslots * 2 : 64);
    size_t *s = find_slot(ini, section, key);
    if (*s) {
        qini_entry *e = &ini->v[*s - 1];
        free((char *)e->value);
        free((char *)e->file);
        e->value = xstrdup(value);
        e->file = xstrdup(file);
        e->line = line;
        return;
    }
    if (ini->n == ini->cap) {
        ini->cap = ini->cap ? ini->cap * 2 : 16;
        ini->v = xrealloc(ini->v, ini->cap * sizeof *ini->v);
    }
    qini_entry *e = &ini->v[ini->n++];
    e->section = xstrdup(section);
    e->key = xstrdup(key);
    e->value = xstrdup(value);
    e->file = xstrdup(file);
    e->line = line;
    *s = ini->n;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    QHV_PRINTF(3, 4);
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

/* Trims [*b, *e) in place. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_ws(**b))
        (*b)++;
    while (*e > *b && is_ws((*e)[-1]))
        (*e)--;
}

/* Parses text[0..len) into a scratch qini first and merges only on success,
 * so a file with an error changes nothing. */
static int load_mem(qini *ini, const char *name, const char *text, size_t len, char *err,
                    size_t errlen)
{
    qini *tmp = qini_new();
    char *section = xstrdup("DEFAULT");
    int lineno = 0, rc = -1;
    const char *p = text, *end = text + len;
    /* A UTF-8 BOM written by some editors is not part of the first line. */
    if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
        p += 3;
    while (p < end) {
        lineno++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *b = p, *e = nl ? nl : end;
        p = nl ? nl + 1 : end;
        if (e > b && e[-1] == '\r')
            e--;
        size_t n = e > b ? (size_t)(e - b) : 0;   /* never negative: says so to GCC -O3 */
        if (n > INI_MAX_LINE) {
            seterr(err, errlen, "%s:%d: line longer than %d bytes", name, lineno, INI_MAX_LINE);
            goto out;
        }
        if (memchr(b, '\0', n)) {
            seterr(err, errlen, "%s:%d: NUL byte in line", name, lineno);
            goto out;
        }
        trim(&b, &e);
        if (b == e || *b == '#' || *b == ';')
            continue;
        if (*b == '[') {
            const char *close = memchr(b, ']', (size_t)(e - b));
            if (!close) {
                seterr(err, errlen, "%s:%d: missing ']' in section header", name, lineno);
                goto out;
            }
            if (close + 1 != e) {
                seterr(err, errlen, "%s:%d: unexpected text after section header", name,
                       lineno);
                goto out;
            }
            const char *nb = b + 1, *ne = close;
            trim(&nb, &ne);
            if (nb == ne) {
                seterr(err, errlen, "%s:%d: empty section name", name, lineno);
                goto out;
            }
            free(section);
            section = xstrndup(nb, (size_t)(ne - nb));
            continue;
        }
        const char *eq = memchr(b, '=', (size_t)(e - b));
        if (!eq) {
            seterr(err, errlen, "%s:%d: expected 'key = value' or '[section]'", name, lineno);
            goto out;
        }
        const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
        trim(&kb, &ke);
        trim(&vb, &ve);
        if (kb == ke) {
            seterr(err, errlen, "%s:%d: empty key before '='", name, lineno);
            goto out;
        }
        char *key = xstrndup(kb, (size_t)(ke - kb));
        char *value = xstrndup(vb, (size_t)(ve - vb));
        set_entry(tmp, section, key, value, name, lineno);
        free(key);
        free(value);
    }
    for (size_t i = 0; i < tmp->n; i++) {
        const qini_entry *t = &tmp->v[i];
        set_entry(ini, t->section, t->key, t->value, t->file, t->line);
    }
    rc = 0;
out:
    free(section);
    qini_free(tmp);
    return rc;
}

int qini_load_string(qini *ini, const char *name, const char *text, char *err, size_t errlen)
{
    return load_mem(ini, name, text, strlen(text), err, errlen);
}

int qini_load_file(qini *ini, const char *path, char *err, size_t errlen)
{
    /* Binary mode: we strip "\r" ourselves, identically on every platform. */
    FILE *f = fopen(path, "rb");
    if (!f) {
        seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t len = 0, cap = 4096;
    char *data = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= INI_MAX_FILE) {
                seterr(err, errlen, "%s: file larger than %d bytes", path, INI_MAX_FILE);
                goto fail;
            }
            cap *= 2;
            data = xrealloc(data, cap);
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        seterr(err, errlen, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    int rc = load_mem(ini, path, data, len, err, errlen);
    free(data);
    return rc;
fail:
    fclose(f);
    free(data);
    return -1;
}

const qini_entry *qini_find(const qini *ini, const char *section, const char *key)
{
    if (!ini || !ini->nslots)
        return NULL;
    size_t *s = find_slot(ini, section, key);
    return *s ? &ini->v[*s - 1] : NULL;
}

size_t qini_count(const qini *ini) { return ini ? ini->n : 0; }

const qini_entry *qini_at(const qini *ini, size_t i)
{
    return ini && i < ini->n ? &ini->v[i] : NULL;
}
