/* objmap: a hash map from string keys to JSON values, in insertion order.
 * The agent keeps plans, desired and observed switch objects in these (a
 * host can hold tens of thousands of lookup records; qj objects look keys up
 * by linear scan, which would make every diff quadratic).
 *
 * Ownership: qvs_map_new() returns a map freed with qvs_map_free() (accepts
 * NULL), which frees every key and value. qvs_map_put takes ownership of the
 * value; qvs_map_get and qvs_map_at return borrowed pointers, valid until the
 * entry is replaced or removed; qvs_map_take hands a value to the caller. */
#ifndef QHV_VSWITCH_OBJMAP_H
#define QHV_VSWITCH_OBJMAP_H
#include <stdbool.h>
#include <stddef.h>
#include "lib/json.h"

typedef struct qvs_map qvs_map;

qvs_map *qvs_map_new(void);
void qvs_map_free(qvs_map *m);
size_t qvs_map_size(const qvs_map *m);
/* Borrowed value for key, or NULL. */
qj *qvs_map_get(const qvs_map *m, const char *key);
/* Sets key to val (takes it; NULL is stored as JSON null), replacing the old
 * value in place (keeping its position). */
void qvs_map_put(qvs_map *m, const char *key, qj *val);
/* Detaches and returns key's value (caller frees), or NULL if absent. */
qj *qvs_map_take(qvs_map *m, const char *key);
/* Removes key; false if it was absent. */
bool qvs_map_del(qvs_map *m, const char *key);
void qvs_map_clear(qvs_map *m);

/* Iteration in insertion order:
 *   for (size_t i = 0; i < qvs_map_end(m); i++)
 *       if (qvs_map_at(m, i, &key, &val)) ...
 * Removing entries while iterating is fine (they are skipped); adding new
 * keys while iterating is not (an insertion may compact the entries). */
size_t qvs_map_end(const qvs_map *m);
bool qvs_map_at(const qvs_map *m, size_t i, const char **key, qj **val);

/* Moves the members of a JSON object into a new map; obj is left an empty
 * object (the caller still frees it). NULL or a non-object gives an empty map. */
qvs_map *qvs_map_from_object(qj *obj);
/* A new JSON object with copies of the entries (caller frees). */
qj *qvs_map_to_object(const qvs_map *m);
/* The same, moving the values out: m is left empty. */
qj *qvs_map_move_to_object(qvs_map *m);
/* True if both maps hold the same keys with equal values. */
bool qvs_map_equal(const qvs_map *a, const qvs_map *b);

#endif
