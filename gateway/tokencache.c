/*
 * tokencache.c: fixed-capacity hash table (chained through entry indices) with
 * an intrusive LRU list; no allocation after creation. See tokencache.h.
 */
#include "tokencache.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

typedef struct st_entry_t {
    unsigned char key[HG_TOKENCACHE_KEY_SIZE];
    hg_principal_t *principal; /* NULL: the slot is free */
    int64_t valid_from, valid_until;
    uint64_t generation;
    uint32_t chain;      /* next entry in the bucket, or in the free list */
    uint32_t prev, next; /* LRU list: head is the most recent */
} entry_t;

struct st_hg_tokencache_t {
    size_t capacity, count;
    entry_t *entries;
    uint32_t *buckets; /* first entry of each chain, NIL when empty */
    size_t mask;       /* buckets - 1 */
    uint32_t free_list, head, tail;
    hg_sha256_t *sha256;
    uint64_t hits, misses;
};

hg_tokencache_t *hg_tokencache_new(size_t capacity)
{
    hg_tokencache_t *c = hg_xcalloc(1, sizeof(*c));
    c->sha256 = hg_sha256_new();
    if (capacity >= NIL)
        capacity = NIL - 1;
    c->capacity = capacity;
    c->head = c->tail = c->free_list = NIL;
    if (capacity == 0)
        return c;
    size_t nb = 1;
    while (nb < capacity * 2)
        nb *= 2;
    c->mask = nb - 1;
    c->buckets = hg_xmalloc(nb * sizeof(*c->buckets));
    for (size_t i = 0; i != nb; ++i)
        c->buckets[i] = NIL;
    c->entries = hg_xcalloc(capacity, sizeof(*c->entries));
    for (size_t i = capacity; i != 0; --i) {
        c->entries[i - 1].chain = c->free_list;
        c->free_list = (uint32_t)(i - 1);
    }
    return c;
}

void hg_tokencache_free(hg_tokencache_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i != c->capacity; ++i)
        hg_principal_release(c->entries[i].principal);
    free(c->entries);
    free(c->buckets);
    hg_sha256_free(c->sha256);
    free(c);
}

void hg_tokencache_key(hg_tokencache_t *c, const char *token, size_t len, unsigned char key[HG_TOKENCACHE_KEY_SIZE])
{
    _Static_assert(HG_TOKENCACHE_KEY_SIZE == 32, "the key is a SHA-256 digest");
    hg_sha256(c->sha256, token, len, key);
}

static size_t bucket_of(const hg_tokencache_t *c, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof(h));
    return (size_t)h & c->mask;
}

static void lru_unlink(hg_tokencache_t *c, uint32_t i)
{
    entry_t *e = &c->entries[i];
    if (e->prev != NIL)
        c->entries[e->prev].next = e->next;
    else
        c->head = e->next;
    if (e->next != NIL)
        c->entries[e->next].prev = e->prev;
    else
        c->tail = e->prev;
}

static void lru_push_front(hg_tokencache_t *c, uint32_t i)
{
    entry_t *e = &c->entries[i];
    e->prev = NIL;
    e->next = c->head;
    if (c->head != NIL)
        c->entries[c->head].prev = i;
    c->head = i;
    if (c->tail == NIL)
        c->tail = i;
}

static void remove_entry(hg_tokencache_t *c, uint32_t i)
{
    entry_t *e = &c->entries[i];
    uint32_t *link = &c->buckets[bucket_of(c, e->key)];
    while (*link != i)
        link = &c->entries[*link].chain;
    *link = e->chain;
    lru_unlink(c, i);
    hg_principal_release(e->principal);
    e->principal = NULL;
    e->chain = c->free_list;
    c->free_list = i;
    --c->count;
}

static uint32_t find(const hg_tokencache_t *c, const unsigned char *key)
{
    for (uint32_t i = c->buckets[bucket_of(c, key)]; i != NIL; i = c->entries[i].chain)
        if (memcmp(c->entries[i].key, key, HG_TOKENCACHE_KEY_SIZE) == 0)
            return i;
    return NIL;
}

static void count(uint64_t *counter)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

hg_principal_t *hg_tokencache_get(hg_tokencache_t *c, const unsigned char key[HG_TOKENCACHE_KEY_SIZE], int64_t now,
                                  uint64_t generation)
{
    if (c->capacity == 0)
        return NULL;
    uint32_t i = find(c, key);
    if (i != NIL) {
        entry_t *e = &c->entries[i];
        if (e->generation == generation && now >= e->valid_from && now < e->valid_until) {
            lru_unlink(c, i);
            lru_push_front(c, i);
            count(&c->hits);
            return e->principal;
        }
        remove_entry(c, i);
    }
    count(&c->misses);
    return NULL;
}

void hg_tokencache_put(hg_tokencache_t *c, const unsigned char key[HG_TOKENCACHE_KEY_SIZE], hg_principal_t *p, int64_t valid_from,
                       int64_t valid_until, uint64_t generation)
{
    if (c->capacity == 0 || valid_until <= valid_from)
        return;
    uint32_t i = find(c, key);
    if (i != NIL)
        remove_entry(c, i);
    if (c->free_list == NIL)
        remove_entry(c, c->tail);
    i = c->free_list;
    entry_t *e = &c->entries[i];
    c->free_list = e->chain;
    memcpy(e->key, key, HG_TOKENCACHE_KEY_SIZE);
    e->principal = hg_principal_retain(p);
    e->valid_from = valid_from;
    e->valid_until = valid_until;
    e->generation = generation;
    size_t b = bucket_of(c, key);
    e->chain = c->buckets[b];
    c->buckets[b] = i;
    lru_push_front(c, i);
    ++c->count;
}

void hg_tokencache_stats(const hg_tokencache_t *c, uint64_t *hits, uint64_t *misses)
{
    *hits = __atomic_load_n(&c->hits, __ATOMIC_RELAXED);
    *misses = __atomic_load_n(&c->misses, __ATOMIC_RELAXED);
}

size_t hg_tokencache_count(const hg_tokencache_t *c)
{
    return c->count;
}
