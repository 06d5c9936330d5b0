/*
 * reqid.c: request id validation and UUIDv7 generation. See reqid.h.
 */
#include "reqid.h"
#include "util.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

int hg_reqid_is_valid(const char *s, size_t len)
{
    if (len == 0 || len > HG_REQID_MAX)
        return 0;
    for (size_t i = 0; i != len; ++i) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
                 c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

void hg_uuid7_format(char *out, uint64_t unix_ms, const uint8_t random[10])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    for (int i = 0; i != 6; ++i)
        b[i] = (uint8_t)(unix_ms >> (8 * (5 - i)));
    b[6] = (uint8_t)(0x70 | (random[0] & 0x0f)); /* version 7 */
    b[7] = random[1];
    b[8] = (uint8_t)(0x80 | (random[2] & 0x3f)); /* variant 10 */
    for (int i = 9; i != 16; ++i)
        b[i] = random[i - 6];
    size_t o = 0;
    for (int i = 0; i != 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
}

void hg_rng_seed(hg_rng_t *rng)
{
    do {
        if (RAND_bytes((unsigned char *)rng->s, sizeof(rng->s)) != 1)
            abort();
    } while ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t hg_rng_next(hg_rng_t *rng)
{
    uint64_t *s = rng->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void hg_uuid7_next(hg_rng_t *rng, char *out)
{
    uint64_t a = hg_rng_next(rng), b = hg_rng_next(rng);
    uint8_t random[10];
    memcpy(random, &a, 8);
    memcpy(random + 8, &b, 2);
    hg_uuid7_format(out, hg_now_ms(), random);
}

void hg_uuid7_new(char *out)
{
    uint8_t random[10];
    if (RAND_bytes(random, sizeof(random)) != 1)
        abort(); /* no randomness: nothing sane to do */
    hg_uuid7_format(out, hg_now_ms(), random);
}
