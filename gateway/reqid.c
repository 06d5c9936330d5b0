/*
 * reqid.c: request id validation and UUIDv7 generation. See reqid.h.
 */
#include "reqid.h"
#include "util.h"

#include <openssl/rand.h>
#include <stdlib.h>

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

void hg_uuid7_new(char *out)
{
    uint8_t random[10];
    if (RAND_bytes(random, sizeof(random)) != 1)
        abort(); /* no randomness: nothing sane to do */
    hg_uuid7_format(out, hg_now_ms(), random);
}
