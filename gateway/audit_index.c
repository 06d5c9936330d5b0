/*
 * audit_index.c: keys and Bloom filters of the audit store's block index. The
 * hash reads its input as little-endian 64-bit words, so a store written on
 * one machine reads the same on another. See audit_index.h.
 */
#include "audit_index.h"
#include "util.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#define BITS_PER_KEY 12

void hg_audit_keys_clear(hg_audit_keys_t *k)
{
    k->n = 0;
}

void hg_audit_keys_dispose(hg_audit_keys_t *k)
{
    free(k->v);
    *k = (hg_audit_keys_t){0};
}

static void keys_push(hg_audit_keys_t *k, uint64_t key)
{
    if (k->n == k->cap) {
        k->cap = k->cap != 0 ? k->cap * 2 : 256;
        k->v = hg_xrealloc(k->v, k->cap * sizeof(*k->v));
    }
    k->v[k->n++] = key;
}

/* a bijective 64-bit mixer (the finalizer of splitmix64's relatives: two multiply-xorshift rounds) */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

uint64_t hg_audit_key(int kind, const char *s, size_t n)
{
    uint64_t h = mix(0x9e3779b97f4a7c15ULL ^ (uint64_t)(unsigned char)kind ^ ((uint64_t)n << 8));
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = mix(h ^ le64toh(w));
    }
    uint64_t w = 0;
    for (size_t i = 0; i != n; ++i)
        w |= (uint64_t)(unsigned char)s[i] << (8 * i);
    return mix(h ^ w ^ 0x2545f4914f6cdd1dULL);
}

static void push_text(hg_audit_keys_t *k, int kind, const char *s)
{
    if (s != NULL)
        keys_push(k, hg_audit_key(kind, s, strlen(s)));
}

int64_t hg_audit_id_number(const char *s, size_t *len)
{
    int64_t v = 0;
    size_t n = 0;
    for (unsigned d; n != HG_AUDIT_ID_MAX_NUMBER_DIGITS && (d = (unsigned)(s[n] - '0')) <= 9; ++n)
        v = v * 10 + d;
    if (s[n] == '\0' && n != 0 && (s[0] != '0' || n == 1)) {
        *len = n;
        return v;
    }
    *len = n + strlen(s + n);
    return -1;
}

uint64_t hg_audit_object_number_key(uint64_t number)
{
    return mix(0x3c6ef372fe94f82bULL ^ number); /* one mix instead of hashing the digits */
}

uint64_t hg_audit_object_key(const char *id)
{
    size_t n;
    int64_t number = hg_audit_id_number(id, &n);
    return number >= 0 ? hg_audit_object_number_key((uint64_t)number) : hg_audit_key(HG_AUDIT_KEY_OBJECT, id, n);
}

void hg_audit_keys_push(hg_audit_keys_t *k, uint64_t key)
{
    keys_push(k, key);
}

void hg_audit_field_keys(const hg_audit_record_t *r, hg_audit_keys_t *fields)
{
    push_text(fields, HG_AUDIT_KEY_REQUEST_ID, r->request_id);
    push_text(fields, HG_AUDIT_KEY_SUBJECT, r->subject);
    push_text(fields, HG_AUDIT_KEY_CLIENT, r->client);
    push_text(fields, HG_AUDIT_KEY_ROUTE, r->route);
    push_text(fields, HG_AUDIT_KEY_DECISION, r->decision);
    if (r->status >= 100 && r->status <= 999) {
        char status[3] = {(char)('0' + r->status / 100), (char)('0' + r->status / 10 % 10), (char)('0' + r->status % 10)};
        keys_push(fields, hg_audit_key(HG_AUDIT_KEY_STATUS, status, 3));
        keys_push(fields, hg_audit_key(HG_AUDIT_KEY_STATUS_CLASS, status, 1));
    }
}

void hg_audit_keys_of(const hg_audit_record_t *r, hg_audit_keys_t *fields, hg_audit_keys_t *objects)
{
    hg_audit_field_keys(r, fields);
    for (size_t i = 0; i != 2 * r->num_pairs; ++i)
        keys_push(objects, hg_audit_object_key(r->pairs[i]));
}

size_t hg_audit_bloom_size(size_t nkeys)
{
    size_t bytes = (nkeys * BITS_PER_KEY + 7) / 8;
    return bytes < 64 ? 64 : (bytes + 63) / 64 * 64;
}

/*
 * A split block Bloom filter (as Apache Parquet specifies one): the key's high half picks one 32-byte
 * block, its low half one bit in each of the block's eight 32-bit words, through eight odd multipliers.
 * A key costs one cache line to add or test, against eight for a classic filter, for slightly more false
 * positives at the same size. Words are stored little-endian: bit b of word w is bit b % 8 of byte
 * 4 w + b / 8, whatever the machine.
 */
static const uint32_t salt[8] = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU, 0xa2b7289dU,
                                 0x705495c7U, 0x2df1424bU, 0x9efc4947U, 0x5c6bfb31U};

static uint8_t *block_of(uint8_t *bloom, size_t bytes, uint64_t key)
{
    uint64_t blocks = bytes / 32;
    return bloom + 32 * (size_t)(((key >> 32) * blocks) >> 32);
}

/* the key's mask for each of a block's eight words: one bit per word */
static void masks_of(uint64_t key, uint32_t mask[8])
{
    for (unsigned w = 0; w != 8; ++w)
        mask[w] = 1u << (((uint32_t)key * salt[w]) >> 27);
}

/* the block's words as stored: little-endian 32-bit words (plain loads and stores on little-endian machines) */
void hg_audit_bloom_build(const uint64_t *keys, size_t nkeys, uint8_t *bloom, size_t bytes)
{
    memset(bloom, 0, bytes);
    for (size_t k = 0; k != nkeys; ++k) {
        uint8_t *block = block_of(bloom, bytes, keys[k]);
        uint32_t words[8], mask[8];
        memcpy(words, block, sizeof(words));
        masks_of(keys[k], mask);
        for (unsigned w = 0; w != 8; ++w) /* eight lanes: the compiler makes this one vector operation */
            words[w] |= htole32(mask[w]);
        memcpy(block, words, sizeof(words));
    }
}

int hg_audit_bloom_may_contain(const uint8_t *bloom, size_t bytes, uint64_t key)
{
    if (bytes < 32)
        return 1;
    uint32_t words[8], mask[8];
    memcpy(words, block_of((uint8_t *)bloom, bytes, key), sizeof(words));
    masks_of(key, mask);
    for (unsigned w = 0; w != 8; ++w)
        if ((le32toh(words[w]) & mask[w]) == 0)
            return 0;
    return 1;
}
