/* hv_file: the few file and time services of the hyperv backend and the WMI
 * model that differ between POSIX and Windows (the backend is built for
 * both): whole-file read, atomic replace, a file's identity, a short sleep.
 * (When the tree's platform layer lib/plat.h is on this branch, these
 * become calls to it.)
 *
 * Ownership: qhyv_read_file returns a buffer the caller frees. */
#ifndef QHV_VSWITCH_HYPERV_HV_FILE_H
#define QHV_VSWITCH_HYPERV_HV_FILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The file's bytes (NUL-terminated, *len without it), or NULL with errno
 * (ENOENT for a missing file). */
char *qhyv_read_file(const char *path, size_t *len);
/* Writes text to path through "<path>.tmp" and an atomic replace; 0 or -1. */
int qhyv_write_file(const char *path, const char *text);

/* Changes whenever the file is rewritten (size, modification time, inode). */
typedef struct qhyv_fileid {
    bool exists;
    uint64_t ino, size;
    int64_t mtime_ns;
} qhyv_fileid;
void qhyv_file_id(const char *path, qhyv_fileid *ret);
bool qhyv_fileid_same(const qhyv_fileid *a, const qhyv_fileid *b);

void qhyv_sleep_ms(long ms);

#endif
