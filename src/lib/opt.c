#include "lib/opt.h"
#include "lib/util.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int qopt_parse_bool(const char *s, int *ret)
{
    static const char *const t[] = {"true", "yes", "on", "1"};
    static const char *const f[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, t[i])) { *ret = 1; return 0; }
        if (!strcasecmp(s, f[i])) { *ret = 0; return 0; }
    }
    return -1;
}

static int qopt_set(const qopt *o, void *conf, const char *val, char *why, size_t whylen)
{
    char *base = conf;
    switch (o->type) {
    case QOPT_STR: {
        char **p = (char **)(base + o->offset);
        free(*p);
        *p = xstrdup(val);
        return 0;
    }
    case QOPT_INT: {
        int64_t v;
        if (qhv_parse_i64(val, o->min, o->max, &v) < 0) {
            snprintf(why, whylen, "'%s' is not an integer in [%lld, %lld]", val,
                     (long long)o->min, (long long)o->max);
            return -1;
        }
        *(int64_t *)(base + o->offset) = v;
        return 0;
    }
    case QOPT_BOOL: {
        int b;
        if (qopt_parse_bool(val, &b) < 0) {
            snprintf(why, whylen, "'%s' is not a boolean (true/false)", val);
            return -1;
        }
        *(bool *)(base + o->offset) = b;
        return 0;
    }
    }
    return -1;
}

int qopt_apply(const qopt *opts, size_t n, void *conf, const qini *ini,
               void (*warn)(const char *msg), char *err, size_t errlen)
{
    char why[256];
    for (size_t i = 0; i < n; i++) {
        if (qopt_set(&opts[i], conf, opts[i].def, why, sizeof why) < 0) {
            snprintf(err, errlen, "built-in default of [%s] %s: %s", opts[i].section,
                     opts[i].key, why);
            return -1;
        }
    }
    if (!ini)
        return 0;
    for (size_t j = 0; j < qini_count(ini); j++) {
        const qini_entry *e = qini_at(ini, j);
        const qopt *o = NULL;
        for (size_t i = 0; i < n && !o; i++)
            if (!strcmp(opts[i].section, e->section) && !strcmp(opts[i].key, e->key))
                o = &opts[i];
        if (!o) {
            if (warn) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s:%d: unknown option [%s] %s (ignored)", e->file,
                         e->line, e->section, e->key);
                warn(msg);
            }
            continue;
        }
        if (qopt_set(o, conf, e->value, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%d: [%s] %s: %s", e->file, e->line, e->section, e->key, why);
            return -1;
        }
    }
    return 0;
}

void qopt_free_values(const qopt *opts, size_t n, void *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < n; i++) {
        if (opts[i].type == QOPT_STR) {
            char **p = (char **)((char *)conf + opts[i].offset);
            free(*p);
            *p = NULL;
        }
    }
}

void qopt_print_help(FILE *f, const qopt *opts, size_t n)
{
    const char *section = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!section || strcmp(section, opts[i].section)) {
            section = opts[i].section;
            fprintf(f, "\n[%s]\n", section);
        }
        fprintf(f, "  %-32s %s (default: %s)\n", opts[i].key, opts[i].help,
                *opts[i].def ? opts[i].def : "\"\"");
    }
}

int qopt_load_files(const qopt *opts, size_t n, void *conf, const char *const *files,
                    size_t nfiles, void (*warn)(const char *msg), char *err, size_t errlen)
{
    qini *ini = qini_new();
    for (size_t i = 0; i < nfiles; i++) {
        if (qini_load_file(ini, files[i], err, errlen) < 0) {
            qini_free(ini);
            return -1;
        }
    }
    int rc = qopt_apply(opts, n, conf, ini, warn, err, errlen);
    qini_free(ini);
    return rc;
}
