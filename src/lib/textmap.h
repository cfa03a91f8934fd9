/* textmap: a compact map from string keys to text values, in insertion
 * order. Every key and value lives in one text arena (key NUL value NUL),
 * found through one entry array and one index array: three allocations
 * however many entries, 20 bytes of bookkeeping per entry. The agent keeps
 * its host plan in these (a host holds ten and more lookup records per local
 * port; as JSON trees they cost a dozen small allocations each, and the heap
 * they scatter over cannot be given back: issue 4's agent memory figure).
 *
 * A replaced or removed entry leaves its text behind as garbage until the
 * arena is compacted (when it is a quarter of the text).
 *
 * Ownership: qtm_new() returns a map freed with qtm_free() (accepts NULL).
 * qtm_put copies key and value (which must not point into the same map). Pointers returned by qtm_get and qtm_at are
 * borrowed and valid only until the next qtm_put, qtm_del or qtm_clear on
 * the map (the arena may move). */
#ifndef QHV_TEXTMAP_H
#define QHV_TEXTMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qtm qtm;

qtm *qtm_new(void);
void qtm_free(qtm *m);
void qtm_clear(qtm *m);
size_t qtm_size(const qtm *m);
/* key's value (NUL-terminated; *len its length if len is non-NULL), or NULL. */
const char *qtm_get(const qtm *m, const char *key, size_t *len);
/* Sets key to val[0..len) (val may hold NULs; it is stored NUL-terminated).
 * A new key goes last; a replaced one keeps its position. Returns false if
 * the key already had exactly this value (then nothing changes). */
bool qtm_put(qtm *m, const char *key, const char *val, size_t len);
/* Removes key; false if it was absent. */
bool qtm_del(qtm *m, const char *key);
/* True if both hold the same keys with the same values (order aside). */
bool qtm_equal(const qtm *a, const qtm *b);
/* Bytes allocated for the map (arena, entries, index). */
size_t qtm_bytes(const qtm *m);
/* A digest of m's entries filed under name, independent of their order:
 * the sum (mod 2^64) of one 64-bit hash per (name, key, value), the same on
 * every platform. The digests of several maps add up to the digest of them
 * all: a server and an agent holding the same plan, section by section,
 * get the same number (docs/host-channel.md, applied_digest). */
uint64_t qtm_digest(const qtm *m, const char *name);

/* Iteration in insertion order:
 *   for (size_t i = 0; i < qtm_end(m); i++)
 *       if (qtm_at(m, i, &key, &val, &len)) ...
 * Removing the current entry while iterating is fine; adding is not. Any of
 * key, val, len may be NULL. */
size_t qtm_end(const qtm *m);
bool qtm_at(const qtm *m, size_t i, const char **key, const char **val, size_t *len);

#endif
