/*
 * assocdiff.h: the differential oracle of the associations fast path, shared by tests/test_assocscan.c
 * and the libFuzzer target tests/fuzz/fuzz_assocscan.c.
 *
 * One body is run through hg_body_process twice with the same rules, once with `fast` set (the
 * scanner first, the jansson path when it declines) and once without (the jansson path alone), and
 * everything a caller can see is compared: return code, canonical bytes, received, forwarded,
 * duplicates, coerced, dropped_fields, the pair list, the SHA-256, and every violation (in, code,
 * message, and the count beyond the list's limit). The scanner is also called on its own, on a
 * result filled with a marker pattern, to check that a decline leaves it untouched. Everything runs
 * on an exact-size heap copy of the body, so that under AddressSanitizer a read past its end fails.
 *
 * The one accepted difference is the intended one (assocscan.h): the scanner forwards a body that
 * the jansson path refuses only because an integer id is beyond 64 bits. That is checked too: the
 * body with every integer id written as a string must be forwarded by the jansson path with the
 * same bytes, counts and pairs, and one coerced id fewer per integer id.
 */
#ifndef HUBGATE_TESTS_ASSOCDIFF_H
#define HUBGATE_TESTS_ASSOCDIFF_H

#include <stddef.h>

#include "normalize.h"

typedef struct st_hg_assocdiff_t {
    int taken;     /* the scanner took the body */
    int wider;     /* ... and the jansson path refused it (an integer id beyond 64 bits, verified) */
    char why[512]; /* what differed, when hg_assocdiff returns -1 */
} hg_assocdiff_t;

/* compares the two paths on buf[0..len) under rules (its `fast` is ignored); 0 when they agree */
int hg_assocdiff(const hg_body_rules_t *rules, const char *buf, size_t len, hg_assocdiff_t *d);

#endif
