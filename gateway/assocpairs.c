/*
 * assocpairs.c: deduplication, canonical body, pair list and SHA-256 of an associations body. See
 * assocpairs.h. Moved out of normalize.c so that the jansson path and the scanner (assocscan.c)
 * forward through one implementation.
 */
#include "assocpairs.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <string.h>

hg_assoc_key_t hg_assoc_digits(const char *s, size_t max, size_t *len)
{
    /* 19 digits fit 64 bits; only a 20th needs the wide multiply, and a 21st is only counted */
    uint64_t v = 0;
    size_t i = 0, head = max < 19 ? max : 19;
    unsigned d;
    while (i != head && (d = (unsigned)(unsigned char)s[i] - '0') <= 9) {
        v = v * 10 + d;
        ++i;
    }
    hg_assoc_key_t key = v;
    if (i == 19 && i != max && (d = (unsigned)(unsigned char)s[i] - '0') <= 9) {
        key = key * 10 + d;
        if (++i != max && (unsigned)(unsigned char)s[i] - '0' <= 9)
            ++i;
    }
    *len = i;
    return i >= 1 && i <= HG_ASSOC_ID_MAX_DIGITS ? key * 32 + i : 0;
}

hg_assoc_key_t hg_assoc_id_key(const char *s, size_t len)
{
    size_t n;
    hg_assoc_key_t key = hg_assoc_digits(s, len, &n);
    return n == len ? key : 0;
}

static int cmp_key(hg_assoc_key_t a, hg_assoc_key_t b)
{
    return a < b ? -1 : a > b;
}

static int cmp_pairs(const void *x, const void *y, void *arg)
{
    const hg_assoc_pair_t *pairs = arg, *a = &pairs[*(const size_t *)x], *b = &pairs[*(const size_t *)y];
    int r = cmp_key(a->key[0], b->key[0]);
    if (r == 0)
        r = cmp_key(a->key[1], b->key[1]);
    if (r == 0)
        r = cmp_key(*(const size_t *)x, *(const size_t *)y);
    return r;
}

/* O(n log n) whatever the ids: sort indices by key, a repeat sorts right after its earlier twin */
size_t hg_assoc_mark_duplicates_sorted(hg_assoc_pair_t *pairs, size_t n)
{
    size_t *order = hg_xmalloc(n * sizeof(*order));
    for (size_t i = 0; i != n; ++i) {
        order[i] = i;
        pairs[i].dup = 0;
    }
    qsort_r(order, n, sizeof(*order), cmp_pairs, pairs);
    size_t dups = 0;
    for (size_t j = 1; j < n; ++j) {
        const hg_assoc_pair_t *prev = &pairs[order[j - 1]];
        hg_assoc_pair_t *cur = &pairs[order[j]];
        if (cur->key[0] == prev->key[0] && cur->key[1] == prev->key[1]) {
            cur->dup = 1;
            ++dups;
        }
    }
    free(order);
    return dups;
}

#define MAX_PROBE 32
#define SMALL_BODY 16 /* pairs up to which comparing each with all before it is cheaper than a hash set */

static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15u;
    return h ^ (h >> 29);
}

/*
 * O(n) on the usual body: pairs go into an open-addressing set in the client's order, so a repeat meets
 * its earlier twin. The hash is keyed with a random seed drawn per body, so no body can aim at
 * collisions; a probe run longer than MAX_PROBE anyway gives up (-1), and the caller sorts instead.
 */
static int mark_by_hash(hg_assoc_pair_t *pairs, size_t n, size_t *dups)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    uint64_t seed;
    if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
        return -1;
    uint32_t *slots = hg_xcalloc(cap, sizeof(*slots)); /* index + 1 of the pair there; 0 = empty */
    *dups = 0;
    for (size_t i = 0; i != n; ++i) {
        hg_assoc_pair_t *p = &pairs[i];
        uint64_t h = mix(mix(mix(mix(seed, (uint64_t)p->key[0]), (uint64_t)(p->key[0] >> 64)), (uint64_t)p->key[1]),
                         (uint64_t)(p->key[1] >> 64));
        size_t at = (size_t)h & (cap - 1), probe = 0;
        p->dup = 0;
        for (; slots[at] != 0; at = (at + 1) & (cap - 1)) {
            const hg_assoc_pair_t *q = &pairs[slots[at] - 1];
            if (q->key[0] == p->key[0] && q->key[1] == p->key[1]) {
                p->dup = 1;
                ++*dups;
                break;
            }
            if (++probe == MAX_PROBE) {
                free(slots);
                return -1;
            }
        }
        if (!p->dup)
            slots[at] = (uint32_t)(i + 1);
    }
    free(slots);
    return 0;
}

/*
 * A small body: each pair against those before it. No seed to draw (RAND_bytes was 4% of an event loop's
 * time on 1-input requests), no allocation, and at most SMALL_BODY * (SMALL_BODY - 1) / 2 comparisons.
 */
static size_t mark_small(hg_assoc_pair_t *pairs, size_t n)
{
    size_t dups = 0;
    for (size_t i = 0; i != n; ++i) {
        hg_assoc_pair_t *p = &pairs[i];
        p->dup = 0;
        for (size_t j = 0; j != i && !p->dup; ++j)
            p->dup = !pairs[j].dup && pairs[j].key[0] == p->key[0] && pairs[j].key[1] == p->key[1];
        dups += p->dup;
    }
    return dups;
}

size_t hg_assoc_mark_duplicates(hg_assoc_pair_t *pairs, size_t n)
{
    size_t dups;
    if (n <= SMALL_BODY)
        return mark_small(pairs, n);
    if (n < UINT32_MAX / 2 && mark_by_hash(pairs, n, &dups) == 0)
        return dups;
    return hg_assoc_mark_duplicates_sorted(pairs, n);
}

#define BODY_HEAD "{\"inputs\":["
#define PAIR_HEAD "{\"from\":{\"id\":\""
#define PAIR_MID "\"},\"to\":{\"id\":\""
#define PAIR_TAIL "\"}}"
#define BODY_TAIL "]}"
#define LIT(s) (sizeof(s) - 1)

static char *put(char *p, const void *src, size_t len)
{
    memcpy(p, src, len);
    return p + len;
}

void hg_assoc_emit(const hg_assoc_pair_t *pairs, size_t n, size_t forwarded, hg_body_result_t *out)
{
    size_t body_len = LIT(BODY_HEAD) + LIT(BODY_TAIL) + (forwarded != 0 ? forwarded - 1 : 0), ids_len = 0;
    for (size_t i = 0; i != n; ++i)
        if (!pairs[i].dup)
            ids_len += pairs[i].len[0] + pairs[i].len[1];
    body_len += forwarded * (LIT(PAIR_HEAD) + LIT(PAIR_MID) + LIT(PAIR_TAIL)) + ids_len;

    char *b = out->body = hg_xmalloc(body_len);
    out->pairs = hg_xmalloc(2 * forwarded * sizeof(char *) + ids_len + 2 * forwarded);
    char *strings = (char *)(out->pairs + 2 * forwarded);
    size_t k = 0;
    b = put(b, BODY_HEAD, LIT(BODY_HEAD));
    for (size_t i = 0; i != n; ++i) {
        const hg_assoc_pair_t *p = &pairs[i];
        if (p->dup)
            continue;
        if (k != 0)
            *b++ = ',';
        b = put(b, PAIR_HEAD, LIT(PAIR_HEAD));
        b = put(b, p->id[0], p->len[0]);
        b = put(b, PAIR_MID, LIT(PAIR_MID));
        b = put(b, p->id[1], p->len[1]);
        b = put(b, PAIR_TAIL, LIT(PAIR_TAIL));
        for (int side = 0; side != 2; ++side) {
            out->pairs[2 * k + side] = strings;
            strings = put(strings, p->id[side], p->len[side]);
            *strings++ = '\0';
        }
        ++k;
    }
    b = put(b, BODY_TAIL, LIT(BODY_TAIL));
    out->body_len = (size_t)(b - out->body);
    out->num_pairs = forwarded;
    out->forwarded = forwarded;
}
