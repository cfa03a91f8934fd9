/* file: whole-file reads and atomic whole-file replacement, for the state
 * files of the agent's backends and the WMI model (POSIX and Windows, over
 * lib/plat.h).
 *
 * Ownership: qfile_read returns a buffer the caller frees. */
#ifndef QHV_FILE_H
#define QHV_FILE_H
#include <stdbool.h>
#include <stddef.h>

/* The file's bytes, NUL-terminated (*len without the NUL; len may be NULL),
 * or NULL with errno set (ENOENT for a missing file). */
char *qfile_read(const char *path, size_t *len);

/* Writes text to "<path>.tmp.<pid>" (flushed to disk if sync) and replaces path
 * with it atomically: a crash leaves the old or the new file. 0, or -1 with
 * errno set (the temporary file is removed). */
int qfile_write_atomic(const char *path, const char *text, bool sync);

#endif
