/*
 * outcome.h: HubSpot's outcome from its answer, read as the bytes stream by.
 *
 * The audit wants two members of HubSpot's top-level answer object: "status"
 * (COMPLETE, PENDING, ...) and "numErrors". HubSpot writes "status" last, after
 * `results`, so a reader that keeps only a prefix of the body misses it, and
 * parsing a whole batch answer into a tree costs the event loop hundreds of
 * microseconds. This scanner is a small state machine fed chunk by chunk: it
 * keeps no copy of the body, skips nested values by counting brackets, and
 * notes the two members when it meets them at depth 1. Anything that is not
 * an object at the top, or is malformed, simply leaves them unknown.
 *
 * Lifetime: one per answer, on the stack or in the request's pool; no heap.
 */
#ifndef HUBGATE_OUTCOME_H
#define HUBGATE_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#define HG_OUTCOME_STATUS_MAX 32

typedef struct st_hg_outcome_t {
    /* results */
    char status[HG_OUTCOME_STATUS_MAX + 1]; /* "" when absent, not a string, or longer than the maximum */
    int64_t num_errors;                     /* -1 when absent or not a non-negative integer */
    /* scanner state */
    unsigned depth;
    uint8_t state, in_string, escape, failed;
    uint8_t key_kind;   /* which member the current top-level key names */
    uint8_t value_kind; /* which member the value being read belongs to */
    char key[16];
    size_t key_len, value_len;
    char value[HG_OUTCOME_STATUS_MAX + 1];
} hg_outcome_t;

void hg_outcome_init(hg_outcome_t *o);
/* feeds the next bytes of the body */
void hg_outcome_feed(hg_outcome_t *o, const char *buf, size_t len);

#endif
