/* Entries live in an array in insertion order (a removed entry keeps its
 * slot with key == NULL until the next compaction); an open-addressing index
 * of entry positions (+1; 0 = empty, QVS_MAP_GONE = removed) finds them. */
#include "vswitch/objmap.h"
#include "lib/util.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define QVS_MAP_GONE SIZE_MAX

typedef struct qvs_map_entry {
    char *key;          /* NULL: removed */
    qj *val;
    uint32_t hash;
} qvs_map_entry;

struct qvs_map {
    qvs_map_entry *e;
    size_t n, cap;      /* entries used (live and removed), allocated */
    size_t live;
    size_t *index;      /* mask + 1 slots */
    size_t mask;
    size_t used;        /* index slots not empty (live + removed marks) */
};

static uint32_t qvs_map_hash(const char *k)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

qvs_map *qvs_map_new(void)
{
    qvs_map *m = xcalloc(1, sizeof *m);
    m->mask = 15;
    m->index = xcalloc(m->mask + 1, sizeof *m->index);
    return m;
}

void qvs_map_clear(qvs_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].key);
        qj_free(m->e[i].val);
    }
    m->n = m->live = m->used = 0;
    memset(m->index, 0, (m->mask + 1) * sizeof *m->index);
}

void qvs_map_free(qvs_map *m)
{
    if (!m)
        return;
    qvs_map_clear(m);
    free(m->e);
    free(m->index);
    free(m);
}

size_t qvs_map_size(const qvs_map *m) { return m ? m->live : 0; }

/* The index slot holding key, or the slot where it would go (*found false). */
static size_t qvs_map_slot(const qvs_map *m, const char *key, uint32_t h, bool *found)
{
    size_t i = h & m->mask, first_gone = SIZE_MAX;
    for (;;) {
        size_t v = m->index[i];
        if (v == 0) {
            *found = false;
            return first_gone != SIZE_MAX ? first_gone : i;
        }
        if (v == QVS_MAP_GONE) {
            if (first_gone == SIZE_MAX)
                first_gone = i;
        } else {
            const qvs_map_entry *en = &m->e[v - 1];
            if (en->hash == h && !strcmp(en->key, key)) {
                *found = true;
                return i;
            }
        }
        i = (i + 1) & m->mask;
    }
}

/* Rebuilds entries (dropping removed ones) and the index with room for want. */
static void qvs_map_rebuild(qvs_map *m, size_t want)
{
    size_t w = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].key)
            m->e[w++] = m->e[i];
    m->n = w;
    size_t slots = 16;
    while (slots < want * 2)
        slots *= 2;
    free(m->index);
    m->mask = slots - 1;
    m->index = xcalloc(slots, sizeof *m->index);
    for (size_t i = 0; i < m->n; i++) {
        size_t s = m->e[i].hash & m->mask;
        while (m->index[s])
            s = (s + 1) & m->mask;
        m->index[s] = i + 1;
    }
    m->used = m->n;
}

qj *qvs_map_get(const qvs_map *m, const char *key)
{
    if (!m || !key || !m->live)
        return NULL;
    bool found;
    size_t s = qvs_map_slot(m, key, qvs_map_hash(key), &found);
    return found ? m->e[m->index[s] - 1].val : NULL;
}

void qvs_map_put(qvs_map *m, const char *key, qj *val)
{
    if (!val)
        val = qj_null();
    uint32_t h = qvs_map_hash(key);
    bool found;
    size_t s = qvs_map_slot(m, key, h, &found);
    if (found) {
        qvs_map_entry *en = &m->e[m->index[s] - 1];
        qj_free(en->val);
        en->val = val;
        return;
    }
    if ((m->used + 1) * 4 > (m->mask + 1) * 3 || m->n > 2 * m->live + 16) {
        qvs_map_rebuild(m, m->live + 1);
        s = qvs_map_slot(m, key, h, &found);
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->e = xrealloc(m->e, m->cap * sizeof *m->e);
    }
    m->e[m->n] = (qvs_map_entry){xstrdup(key), val, h};
    if (m->index[s] == 0)
        m->used++;
    m->index[s] = ++m->n;
    m->live++;
}

qj *qvs_map_take(qvs_map *m, const char *key)
{
    if (!m || !key || !m->live)
        return NULL;
    bool found;
    size_t s = qvs_map_slot(m, key, qvs_map_hash(key), &found);
    if (!found)
        return NULL;
    qvs_map_entry *en = &m->e[m->index[s] - 1];
    qj *v = en->val;
    free(en->key);
    en->key = NULL;
    en->val = NULL;
    m->index[s] = QVS_MAP_GONE;
    m->live--;
    return v;
}

bool qvs_map_del(qvs_map *m, const char *key)
{
    if (!qvs_map_get(m, key))
        return false;
    qj_free(qvs_map_take(m, key));
    return true;
}

size_t qvs_map_end(const qvs_map *m) { return m ? m->n : 0; }

bool qvs_map_at(const qvs_map *m, size_t i, const char **key, qj **val)
{
    if (!m || i >= m->n || !m->e[i].key)
        return false;
    if (key)
        *key = m->e[i].key;
    if (val)
        *val = m->e[i].val;
    return true;
}

qvs_map *qvs_map_from_object(qj *obj)
{
    qvs_map *m = qvs_map_new();
    if (!qj_is(obj, QJ_OBJECT))
        return m;
    qvs_map_rebuild(m, obj->u.obj.n);
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        qj_member *mb = &obj->u.obj.m[i];
        qvs_map_put(m, mb->key, mb->val);
        free(mb->key);
    }
    free(obj->u.obj.m);
    obj->u.obj.m = NULL;
    obj->u.obj.n = obj->u.obj.cap = 0;
    return m;
}

qj *qvs_map_to_object(const qvs_map *m)
{
    qj *o = qj_object();
    if (!m || !m->live)
        return o;
    /* Keys are unique here: fill the members directly rather than through
     * qj_set, whose duplicate check is a linear scan. */
    o->u.obj.m = xmalloc(m->live * sizeof *o->u.obj.m);
    o->u.obj.cap = m->live;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->e[i].key)
            continue;
        o->u.obj.m[o->u.obj.n++] = (qj_member){xstrdup(m->e[i].key), qj_clone(m->e[i].val)};
    }
    return o;
}

qj *qvs_map_move_to_object(qvs_map *m)
{
    qj *o = qj_object();
    if (!m || !m->live)
        return o;
    o->u.obj.m = xmalloc(m->live * sizeof *o->u.obj.m);
    o->u.obj.cap = m->live;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->e[i].key)
            continue;
        o->u.obj.m[o->u.obj.n++] = (qj_member){m->e[i].key, m->e[i].val};
        m->e[i].key = NULL;
        m->e[i].val = NULL;
    }
    qvs_map_clear(m);
    return o;
}

bool qvs_map_equal(const qvs_map *a, const qvs_map *b)
{
    if (qvs_map_size(a) != qvs_map_size(b))
        return false;
    for (size_t i = 0; i < qvs_map_end(a); i++) {
        const char *k;
        qj *v;
        if (qvs_map_at(a, i, &k, &v) && !qj_equal(v, qvs_map_get(b, k)))
            return false;
    }
    return true;
}
