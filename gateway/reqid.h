/*
 * reqid.h: request ids.
 *
 * Every request carries one id: the caller's `X-Request-Id` when it is well
 * formed ([A-Za-z0-9._:-]{1,128}), else a new UUID version 7 (RFC 9562: 48
 * bits of Unix milliseconds, then random bits), so ids sort by time in the
 * audit store. The id is sent upstream, returned to the client and used as
 * the `correlationId` of every error body the gateway writes.
 */
#ifndef HUBGATE_REQID_H
#define HUBGATE_REQID_H

#include <stddef.h>
#include <stdint.h>

#define HG_REQID_MAX 128
#define HG_UUID_LEN 36

/* 1 when the caller's id may be used as it is */
int hg_reqid_is_valid(const char *s, size_t len);
/* writes a UUIDv7 for the given time and 10 random bytes into out (HG_UUID_LEN + 1 bytes, NUL-terminated) */
void hg_uuid7_format(char *out, uint64_t unix_ms, const uint8_t random[10]);
/* a new UUIDv7 from the wall clock and OpenSSL's CSPRNG */
void hg_uuid7_new(char *out);

/*
 * A per-thread generator for request ids: xoshiro256** seeded once from OpenSSL's CSPRNG. Request ids
 * need to be unique, not secret, and RAND_bytes on every request costs a lock and a getpid().
 * Lifetime: one per worker thread, never shared.
 */
typedef struct st_hg_rng_t {
    uint64_t s[4];
} hg_rng_t;
void hg_rng_seed(hg_rng_t *rng);
uint64_t hg_rng_next(hg_rng_t *rng);
/* a new UUIDv7 from the wall clock and rng */
void hg_uuid7_next(hg_rng_t *rng, char *out);

#endif
