/*
 * tokencache.h: a per-thread cache of verified tokens.
 *
 * Verifying an RS256 token costs tens of microseconds, an ES256 one about a
 * hundred; a client sends the same token for minutes. The cache maps the
 * SHA-256 of the whole token to the principal it verified to, so a repeat costs
 * one hash and one lookup. An entry is used only while the token would still
 * verify: from valid_from (nbf/iat minus leeway) until valid_until (exp plus
 * leeway, bounded by the caller, e.g. 300 s after insertion), and only while
 * the key sets are the generation it was verified with (a JWKS refresh that
 * removes a key invalidates every entry). Only passes are stored. At most
 * `capacity` entries, least recently used evicted first. Hits and misses are
 * counted for /metrics.
 *
 * Lifetime: per thread (one per worker, no locks inside). Counters may be read
 * from another thread (hg_tokencache_stats uses relaxed atomic loads).
 */
#ifndef HUBGATE_TOKENCACHE_H
#define HUBGATE_TOKENCACHE_H

#include "principal.h"

#include <stddef.h>
#include <stdint.h>

#define HG_TOKENCACHE_KEY_SIZE 32

typedef struct st_hg_tokencache_t hg_tokencache_t;

/* capacity 0 makes a cache that stores nothing and counts nothing */
hg_tokencache_t *hg_tokencache_new(size_t capacity);
/* releases every principal it holds (NULL is fine) */
void hg_tokencache_free(hg_tokencache_t *c);

/* the cache key: SHA-256 of the token */
void hg_tokencache_key(hg_tokencache_t *c, const char *token, size_t len, unsigned char key[HG_TOKENCACHE_KEY_SIZE]);

/*
 * The principal cached under key (borrowed: retain it to keep it), or NULL.
 * An entry that is out of its validity or of another generation is dropped.
 * Counts a hit or a miss.
 */
hg_principal_t *hg_tokencache_get(hg_tokencache_t *c, const unsigned char key[HG_TOKENCACHE_KEY_SIZE], int64_t now,
                                  uint64_t generation);

/* stores a verified principal (the cache takes its own reference); evicts the least recently used entry when full */
void hg_tokencache_put(hg_tokencache_t *c, const unsigned char key[HG_TOKENCACHE_KEY_SIZE], hg_principal_t *p, int64_t valid_from,
                       int64_t valid_until, uint64_t generation);

void hg_tokencache_stats(const hg_tokencache_t *c, uint64_t *hits, uint64_t *misses);
/* entries stored now */
size_t hg_tokencache_count(const hg_tokencache_t *c);

#endif
