/* ini: OpenStack-style INI files ("[section]", "key = value", '#' and ';'
 * comments at line start, continuation lines not supported). Several files
 * can be loaded into one qini; a later file overrides an earlier one key by
 * key, as oslo.config does with repeated --config-file.
 *
 * Ownership: qini_new() returns an object the caller frees with qini_free()
 * (accepts NULL). Strings returned by lookups are borrowed from the qini. */
#ifndef QHV_INI_H
#define QHV_INI_H
#include <stddef.h>

typedef struct qini qini;

typedef struct qini_entry {
    const char *section;   /* "DEFAULT" for keys before any section header */
    const char *key;       /* as written, trimmed */
    const char *value;     /* trimmed; surrounding double quotes are NOT removed */
    const char *file;      /* which file set it */
    int line;              /* 1-based line in that file */
} qini_entry;

qini *qini_new(void);
void qini_free(qini *ini);
/* Loads a file. On error returns -1 and writes "FILE:LINE: reason" into err. */
int qini_load_file(qini *ini, const char *path, char *err, size_t errlen);
/* Same, from memory (name is used in error messages). */
int qini_load_string(qini *ini, const char *name, const char *text, char *err, size_t errlen);
/* The entry for section/key (section names are case-sensitive, as oslo's;
 * "DEFAULT" is the default section), or NULL. */
const qini_entry *qini_find(const qini *ini, const char *section, const char *key);
/* All entries in load order (later overrides already merged). */
size_t qini_count(const qini *ini);
const qini_entry *qini_at(const qini *ini, size_t i);

#endif
