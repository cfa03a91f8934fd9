#include "lib/file.h"
#include "lib/buf.h"
#include "lib/plat.h"
#include "lib/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

char *qfile_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    qbuf b;
    qbuf_init(&b, 0);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        qbuf_append(&b, chunk, n);
    int failed = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (failed) {
        qbuf_free(&b);
        errno = failed;
        return NULL;
    }
    qbuf_putc(&b, '\0');
    size_t total;
    char *s = qbuf_steal(&b, &total);
    qbuf_free(&b);
    if (len)
        *len = total - 1;
    return s;
}

int qfile_write_atomic(const char *path, const char *text, bool sync)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, qplat_pid());   /* one per process */
    FILE *f = fopen(tmp, "wb");
    int rc = -1, saved = 0;
    if (f) {
        bool ok = fputs(text, f) >= 0;
        ok = fflush(f) == 0 && ok;
#ifndef _WIN32
        if (sync)
            ok = fsync(fileno(f)) == 0 && ok;
#else
        (void)sync;
#endif
        saved = ok ? 0 : errno;
        ok = fclose(f) == 0 && ok;
        rc = ok && qplat_replace_file(tmp, path) == 0 ? 0 : -1;
        if (rc < 0) {
            saved = saved ? saved : errno;
            remove(tmp);
        }
    } else {
        saved = errno;
    }
    free(tmp);
    if (rc < 0)
        errno = saved;
    return rc;
}
