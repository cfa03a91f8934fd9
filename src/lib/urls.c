#include "lib/urls.h"
#include "lib/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool qurls_space(char c) { return c == ' ' || c == '\t'; }

static char qurls_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Length of "scheme://authority" in u (u starts with http:// or https://). */
static size_t qurls_origin_len(const char *u)
{
    const char *host = strstr(u, "://") + 3;
    return (size_t)(host - u) + strcspn(host, "/");
}

/* The same server: scheme and authority without case, the path exactly. */
static bool qurls_same(const char *x, const char *y)
{
    size_t ox = qurls_origin_len(x), oy = qurls_origin_len(y);
    if (ox != oy)
        return false;
    for (size_t i = 0; i < ox; i++)
        if (qurls_lower(x[i]) != qurls_lower(y[i]))
            return false;
    return !strcmp(x + ox, y + oy);
}

/* NULL if item (trimmed, non-empty) is a URL we take, else why not. */
static const char *qurls_check(const char *item)
{
    const char *host;
    if (!strncmp(item, "http://", 7))
        host = item + 7;
    else if (!strncmp(item, "https://", 8))
        host = item + 8;
    else
        return "must start with http:// or https://";
    if (!*host || *host == '/' || *host == ':')
        return "has no host";
    for (const char *p = item; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "has whitespace or a control character";
        if (*p == '?' || *p == '#')
            return "has a query or fragment (give the API's base URL)";
    }
    return NULL;
}

static int qurls_fail(qurls *out, char *err, size_t errlen, const char *what, size_t index,
                      const char *item, size_t len, const char *why)
{
    snprintf(err, errlen, "%s: item %zu ('%.*s') %s", what, index, (int)(len > 200 ? 200 : len),
             item, why);
    qurls_free(out);
    return -1;
}

int qurls_parse(qurls *out, const char *text, const char *what, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = text ? text : "";
    size_t index = 0;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        index++;
        while (len && qurls_space(*p)) {
            p++;
            len--;
        }
        while (len && qurls_space(p[len - 1]))
            len--;
        if (!len) {
            if (!end && index == 1)
                snprintf(err, errlen, "%s is empty: give one URL or several separated by "
                                      "commas", what);
            else
                snprintf(err, errlen, "%s: item %zu is empty (URLs are separated by single "
                                      "commas)", what, index);
            qurls_free(out);
            return -1;
        }
        char *item = xstrndup(p, len);
        const char *why = qurls_check(item);
        size_t l = strlen(item);
        while (!why && l && item[l - 1] == '/')
            item[--l] = '\0';
        char dup[64];
        for (size_t i = 0; !why && i < out->n; i++)
            if (qurls_same(out->v[i], item)) {
                snprintf(dup, sizeof dup, "repeats item %zu (list each server once)", i + 1);
                why = dup;
            }
        if (why) {
            int rc = qurls_fail(out, err, errlen, what, index, p, len, why);
            free(item);
            return rc;
        }
        out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        out->v[out->n++] = item;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

void qurls_free(qurls *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n; i++)
        free(u->v[i]);
    free(u->v);
    u->v = NULL;
    u->n = 0;
}

bool qurls_any_https(const qurls *u)
{
    for (size_t i = 0; u && i < u->n; i++)
        if (!strncmp(u->v[i], "https://", 8))
            return true;
    return false;
}
