/* Entries live in an array in insertion order (a removed entry keeps its
 * place with off == QTM_GONE until the next compaction); an open-addressing
 * index of entry positions (+1; 0 = empty, QTM_GONE = removed) finds them.
 * Nothing moves on removal: compactions happen in qtm_put only. */
#include "lib/textmap.h"
#include "lib/util.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QTM_GONE UINT32_MAX

typedef struct qtm_entry {
    uint32_t off;       /* of "key\0value\0" in the arena; QTM_GONE: removed */
    uint32_t klen, vlen;
    uint32_t hash;
} qtm_entry;

struct qtm {
    char *text;
    size_t tlen, tcap;      /* arena bytes used (live and garbage), allocated */
    size_t garbage;         /* bytes of replaced and removed entries */
    qtm_entry *e;
    size_t n, cap;          /* entries used (live and removed), allocated */
    size_t live;
    uint32_t *index;        /* mask + 1 slots */
    size_t mask;
    size_t used;            /* index slots not empty (live + removed marks) */
};

/* Offsets are 32 bits: a plan of 4 GiB is not one to survive anyway. */
static void qtm_too_big(void)
{
    fputs("textmap: more than 4 GiB of text\n", stderr);
    abort();
}

static uint32_t qtm_hash(const char *k, size_t len)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

qtm *qtm_new(void)
{
    qtm *m = xcalloc(1, sizeof *m);
    m->mask = 15;
    m->index = xcalloc(m->mask + 1, sizeof *m->index);
    return m;
}

void qtm_clear(qtm *m)
{
    if (!m)
        return;
    m->tlen = m->garbage = 0;
    m->n = m->live = m->used = 0;
    memset(m->index, 0, (m->mask + 1) * sizeof *m->index);
}

void qtm_free(qtm *m)
{
    if (!m)
        return;
    free(m->text);
    free(m->e);
    free(m->index);
    free(m);
}

size_t qtm_size(const qtm *m) { return m ? m->live : 0; }

size_t qtm_bytes(const qtm *m)
{
    return m ? sizeof *m + m->tcap + m->cap * sizeof *m->e + (m->mask + 1) * sizeof *m->index
             : 0;
}

static const char *qtm_key(const qtm *m, const qtm_entry *e) { return m->text + e->off; }
static const char *qtm_val(const qtm *m, const qtm_entry *e)
{
    return m->text + e->off + e->klen + 1;
}

/* The index slot holding key, or the slot where it would go (*found false). */
static size_t qtm_slot(const qtm *m, const char *key, size_t klen, uint32_t h, bool *found)
{
    size_t i = h & m->mask, first_gone = SIZE_MAX;
    for (;;) {
        uint32_t v = m->index[i];
        if (v == 0) {
            *found = false;
            return first_gone != SIZE_MAX ? first_gone : i;
        }
        if (v == QTM_GONE) {
            if (first_gone == SIZE_MAX)
                first_gone = i;
        } else {
            const qtm_entry *e = &m->e[v - 1];
            if (e->hash == h && e->klen == klen && !memcmp(qtm_key(m, e), key, klen)) {
                *found = true;
                return i;
            }
        }
        i = (i + 1) & m->mask;
    }
}

/* Rebuilds the index for the live entries, with mask + 1 slots. */
static void qtm_reindex(qtm *m, size_t mask)
{
    free(m->index);
    m->mask = mask;
    m->index = xcalloc(mask + 1, sizeof *m->index);
    for (size_t k = 0; k < m->n; k++) {
        if (m->e[k].off == QTM_GONE)
            continue;
        size_t i = m->e[k].hash & mask;
        while (m->index[i])
            i = (i + 1) & mask;
        m->index[i] = (uint32_t)(k + 1);
    }
    m->used = m->live;
}

/* Drops removed entries from the array (positions change: reindex after). */
static void qtm_compact_entries(qtm *m)
{
    size_t w = 0;
    for (size_t k = 0; k < m->n; k++)
        if (m->e[k].off != QTM_GONE)
            m->e[w++] = m->e[k];
    m->n = w;
}

/* Copies the live text into a new arena with room for need more bytes. */
static void qtm_compact_text(qtm *m, size_t need)
{
    size_t live = m->tlen - m->garbage;
    size_t cap = live + need + (live + need) / 8 + 256;
    char *t = xmalloc(cap), *w = t;
    for (size_t k = 0; k < m->n; k++) {
        qtm_entry *e = &m->e[k];
        if (e->off == QTM_GONE)
            continue;
        size_t sz = (size_t)e->klen + e->vlen + 2;
        memcpy(w, m->text + e->off, sz);
        e->off = (uint32_t)(w - t);
        w += sz;
    }
    free(m->text);
    m->text = t;
    m->tlen = (size_t)(w - t);
    m->tcap = cap;
    m->garbage = 0;
}

/* Room for need more arena bytes: compacts when a quarter of the text is
 * garbage (garbage is written memory: it counts in the footprint, while
 * capacity not yet written does not), else grows by half. */
static void qtm_reserve(qtm *m, size_t need)
{
    if (m->tlen + need <= m->tcap)
        return;
    if (m->garbage > 4096 && m->garbage * 4 > m->tlen) {
        qtm_compact_text(m, need);
        return;
    }
    size_t cap = m->tcap ? m->tcap : 1024;
    while (cap < m->tlen + need)
        cap += cap / 2;
    if (cap >= QTM_GONE)
        qtm_too_big();
    m->text = xrealloc(m->text, cap);
    m->tcap = cap;
}

/* Appends key NUL val NUL to the arena; returns its offset. */
static uint32_t qtm_append(qtm *m, const char *key, size_t klen, const char *val, size_t len)
{
    qtm_reserve(m, klen + len + 2);
    uint32_t off = (uint32_t)m->tlen;
    memcpy(m->text + m->tlen, key, klen + 1);
    memcpy(m->text + m->tlen + klen + 1, val, len);
    m->text[m->tlen + klen + 1 + len] = '\0';
    m->tlen += klen + len + 2;
    return off;
}

/* key's entry and its index slot, or NULL. */
static qtm_entry *qtm_find(const qtm *m, const char *key, size_t *slot)
{
    if (!m || !key)
        return NULL;
    size_t klen = strlen(key);
    bool found;
    *slot = qtm_slot(m, key, klen, qtm_hash(key, klen), &found);
    return found ? &m->e[m->index[*slot] - 1] : NULL;
}

const char *qtm_get(const qtm *m, const char *key, size_t *len)
{
    size_t s;
    const qtm_entry *e = qtm_find(m, key, &s);
    if (!e)
        return NULL;
    if (len)
        *len = e->vlen;
    return qtm_val(m, e);
}

bool qtm_put(qtm *m, const char *key, const char *val, size_t len)
{
    size_t klen = strlen(key);
    if (len >= QTM_GONE || klen >= QTM_GONE)
        qtm_too_big();
    uint32_t h = qtm_hash(key, klen);
    bool found;
    size_t s = qtm_slot(m, key, klen, h, &found);
    if (found) {
        qtm_entry *e = &m->e[m->index[s] - 1];
        if (e->vlen == len && !memcmp(qtm_val(m, e), val, len))
            return false;
        m->garbage += (size_t)e->klen + e->vlen + 2;
        e->off = QTM_GONE;      /* not counted by a compaction in qtm_append */
        uint32_t off = qtm_append(m, key, klen, val, len);
        e = &m->e[m->index[s] - 1];
        e->off = off;
        e->vlen = (uint32_t)len;
        return true;
    }
    if (m->n == m->cap) {
        if (m->live < m->n / 2) {
            qtm_compact_entries(m);
            qtm_reindex(m, m->mask);
        } else {
            m->cap = m->cap ? m->cap * 2 : 16;
            m->e = xrealloc(m->e, m->cap * sizeof *m->e);
        }
    }
    if ((m->used + 1) * 4 > (m->mask + 1) * 3) {
        size_t mask = m->mask;
        while ((m->live + 1) * 2 > mask + 1)
            mask = mask * 2 + 1;
        qtm_reindex(m, mask);
    }
    s = qtm_slot(m, key, klen, h, &found);
    uint32_t off = qtm_append(m, key, klen, val, len);
    qtm_entry *e = &m->e[m->n];
    e->off = off;
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)len;
    e->hash = h;
    if (m->index[s] == 0)
        m->used++;
    m->index[s] = (uint32_t)(++m->n);
    m->live++;
    return true;
}

bool qtm_del(qtm *m, const char *key)
{
    size_t s;
    qtm_entry *e = qtm_find(m, key, &s);
    if (!e)
        return false;
    m->garbage += (size_t)e->klen + e->vlen + 2;
    e->off = QTM_GONE;
    m->index[s] = QTM_GONE;
    m->live--;
    return true;
}

bool qtm_equal(const qtm *a, const qtm *b)
{
    if (qtm_size(a) != qtm_size(b))
        return false;
    const char *k, *v;
    size_t len, blen;
    for (size_t i = 0; i < qtm_end(a); i++) {
        if (!qtm_at(a, i, &k, &v, &len))
            continue;
        const char *bv = qtm_get(b, k, &blen);
        if (!bv || blen != len || memcmp(bv, v, len))
            return false;
    }
    return true;
}

size_t qtm_end(const qtm *m) { return m ? m->n : 0; }

bool qtm_at(const qtm *m, size_t i, const char **key, const char **val, size_t *len)
{
    if (!m || i >= m->n || m->e[i].off == QTM_GONE)
        return false;
    const qtm_entry *e = &m->e[i];
    if (key)
        *key = qtm_key(m, e);
    if (val)
        *val = qtm_val(m, e);
    if (len)
        *len = e->vlen;
    return true;
}

/* FNV-1a over name NUL key NUL value, then a finalizer (splitmix64's) so that
 * the sum of many entries' hashes mixes every bit. */
static uint64_t qtm_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t qtm_digest(const qtm *m, const char *name)
{
    uint64_t sum = 0;
    const char *key, *val;
    size_t len;
    for (size_t i = 0; i < qtm_end(m); i++) {
        if (!qtm_at(m, i, &key, &val, &len))
            continue;
        uint64_t h = qtm_fnv(0xcbf29ce484222325ULL, name, strlen(name) + 1);
        h = qtm_fnv(h, key, strlen(key) + 1);
        h = qtm_fnv(h, val, len);
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebULL;
        h ^= h >> 31;
        sum += h;
    }
    return sum;
}
