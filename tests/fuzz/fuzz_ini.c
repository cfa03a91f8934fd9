/* libFuzzer target for lib/ini, the reader of qhv-server.conf and
 * qhv-agent.conf. The input is written to a file and read as qhv reads its
 * configuration (qini_load_file: NUL bytes, "\r", long lines all reach the
 * parser). Any text either loads or is refused with a message; what
 * loads can be found again by section and key, and a second load of the
 * same text (a later --config-file) keeps every key with the later file's
 * line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <unistd.h>

#include "lib/ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One scratch file per process, removed at exit. */
static char fuzz_ini_path[64];

static void fuzz_ini_unlink(void) { unlink(fuzz_ini_path); }

static const char *fuzz_ini_write(const uint8_t *data, size_t size)
{
    if (!fuzz_ini_path[0]) {
        snprintf(fuzz_ini_path, sizeof fuzz_ini_path, "/tmp/qhv-fuzz-ini-XXXXXX");
        int fd = mkstemp(fuzz_ini_path);
        if (fd < 0)
            abort();
        close(fd);
        atexit(fuzz_ini_unlink);
    }
    FILE *f = fopen(fuzz_ini_path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        abort();
    return fuzz_ini_path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[256] = "";
    qini *ini = qini_new();
    if (qini_load_file(ini, fuzz_ini_write(data, size), err, sizeof err) < 0) {
        if (!err[0])
            abort();   /* a refusal says why */
        qini_free(ini);
        free(text);
        return 0;
    }
    size_t n = qini_count(ini);
    for (size_t i = 0; i < n; i++) {
        const qini_entry *en = qini_at(ini, i);
        if (!en || !en->section || !en->key || !en->value || en->line < 1)
            abort();
        const qini_entry *f = qini_find(ini, en->section, en->key);
        if (!f)
            abort();
    }
    if (qini_at(ini, n))
        abort();
    /* The same text again as a later file overrides key by key: the count stays. */
    if (qini_load_string(ini, "b.conf", text, err, sizeof err) < 0 || qini_count(ini) != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        const qini_entry *en = qini_at(ini, i);
        const qini_entry *f = qini_find(ini, en->section, en->key);
        if (!f || strcmp(f->file, "b.conf"))
            abort();
    }
    qini_free(ini);
    free(text);
    return 0;
}
