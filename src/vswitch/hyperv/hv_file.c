#include "vswitch/hyperv/hv_file.h"
#include "lib/buf.h"
#include "lib/util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#endif

char *qhyv_read_file(const char *path, size_t *len)
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
    fclose(f);
    qbuf_putc(&b, '\0');
    char *s = qbuf_steal(&b, len);
    qbuf_free(&b);
    if (len && *len)
        (*len)--;
    return s;
}

int qhyv_write_file(const char *path, const char *text)
{
    char *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = -1;
    if (f) {
        bool ok = fputs(text, f) >= 0;
        ok = fclose(f) == 0 && ok;
#ifdef _WIN32
        /* rename() does not replace an existing file on Windows. */
        rc = ok && MoveFileExA(tmp, path, MOVEFILE_REPLACE_EXISTING) ? 0 : -1;
#else
        rc = ok && rename(tmp, path) == 0 ? 0 : -1;
#endif
        if (rc < 0)
            remove(tmp);
    }
    free(tmp);
    return rc;
}

void qhyv_file_id(const char *path, qhyv_fileid *ret)
{
    memset(ret, 0, sizeof *ret);
    struct stat st;
    if (stat(path, &st) < 0)
        return;
    ret->exists = true;
    ret->ino = (uint64_t)st.st_ino;
    ret->size = (uint64_t)st.st_size;
#ifdef _WIN32
    ret->mtime_ns = (int64_t)st.st_mtime * 1000000000;
#else
    ret->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
#endif
}

bool qhyv_fileid_same(const qhyv_fileid *a, const qhyv_fileid *b)
{
    return a->exists == b->exists && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns;
}

void qhyv_sleep_ms(long ms)
{
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
#endif
}
