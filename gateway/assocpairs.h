/*
 * assocpairs.h: the end of the associations body pipeline, shared by its two front ends.
 *
 * Whatever read the body (normalize.c's jansson path, or the single-pass scanner of assocscan.h),
 * what is forwarded is decided here, by one implementation: the (from, to) pairs go, in the client's
 * order, into a hash set keyed with a random seed per body, so every repeat of an earlier pair is
 * found in O(n); should a probe run grow long anyway, the pairs are sorted by their id keys instead
 * (O(n log n) whatever the ids: no crafted body makes deduplication quadratic). Then the canonical body
 *     {"inputs":[{"from":{"id":"1"},"to":{"id":"2"}}]}
 * and the audit's pair list are written from the pairs left.
 *
 * Lifetimes: per request. A pair's ids are borrowed (from the parsed tree or the client's buffer)
 * and must outlive hg_assoc_emit, which copies them into the result.
 */
#ifndef HUBGATE_ASSOCPAIRS_H
#define HUBGATE_ASSOCPAIRS_H

#include <stddef.h>

#include "normalize.h"

#define HG_ASSOC_ID_MAX_DIGITS 20

/* value * 32 + length: equal keys <=> equal digit strings (leading zeros count); 0 = no valid id */
typedef unsigned __int128 hg_assoc_key_t;

typedef struct st_hg_assoc_pair_t {
    hg_assoc_key_t key[2]; /* from, to */
    const char *id[2];     /* borrowed, not NUL-terminated */
    unsigned char len[2];
    unsigned char dup; /* set by hg_assoc_mark_duplicates */
} hg_assoc_pair_t;

/*
 * The run of ASCII digits at s (at most max bytes read; a run is followed no further than 21 digits):
 * its length in *len, and its key when that is 1 to HG_ASSOC_ID_MAX_DIGITS, else 0 (no valid key has it).
 */
hg_assoc_key_t hg_assoc_digits(const char *s, size_t max, size_t *len);
/* the key of a string of 1 to HG_ASSOC_ID_MAX_DIGITS ASCII digits; 0 for anything else */
hg_assoc_key_t hg_assoc_id_key(const char *s, size_t len);

/* marks every repeat of an earlier (from, to) in pairs[0..n) (dup = 1, others 0); returns the number of repeats */
size_t hg_assoc_mark_duplicates(hg_assoc_pair_t *pairs, size_t n);
/* the same by sorting, O(n log n) whatever the ids: what hg_assoc_mark_duplicates falls back to */
size_t hg_assoc_mark_duplicates_sorted(hg_assoc_pair_t *pairs, size_t n);

/*
 * Writes the pairs of pairs[0..n) not marked as repeats (`forwarded` of them) into out: body,
 * body_len, pairs, num_pairs and forwarded (the other counts are the caller's).
 */
void hg_assoc_emit(const hg_assoc_pair_t *pairs, size_t n, size_t forwarded, hg_body_result_t *out);

#endif
