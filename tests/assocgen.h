/*
 * assocgen.h: deterministic generators of associations bodies for tests/test_assocscan.c.
 *
 * A splitmix64 sequence (the same on every machine for a seed) drives a body writer that produces
 * bodies in the fast path's grammar (assocscan.h) with every freedom it allows: whitespace between
 * any tokens, either key order, ids as plain, space-padded or integer values, leading zeros in
 * strings, 19 and 20 digits (integers beyond 64 bits included), repeated pairs from a small pool of
 * ids. With a fault, one input (or the top level) carries one thing outside the grammar, so the
 * scanner must decline the body.
 *
 * Lifetimes: a hg_gen_buf_t belongs to its caller, who frees its p; everything else is plain values.
 */
#ifndef HUBGATE_TESTS_ASSOCGEN_H
#define HUBGATE_TESTS_ASSOCGEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_hg_gen_buf_t {
    char *p; /* NUL-terminated (heap), NULL before the first write */
    size_t len, cap;
} hg_gen_buf_t;

typedef enum {
    HG_GEN_FAULT_NONE,
    HG_GEN_FAULT_UNKNOWN_MEMBER, /* at the top, in an input or in a side */
    HG_GEN_FAULT_REPEAT_KEY,     /* "id" twice in a side, and maybe "to" twice in the input */
    HG_GEN_FAULT_ESCAPED_KEY,    /* "inp\u0075ts" or "\u0069d" */
    HG_GEN_FAULT_BAD_ID,         /* -1, 1.5, null, "1 2", "\t1", 21 digits, ... */
    HG_GEN_FAULT_MISSING_SIDE,   /* an input with one member */
    HG_GEN_FAULT_NON_ASCII,      /* UTF-8 in an id */
    HG_GEN_FAULT_DEEP,           /* an id that is an array 10 or 40 deep */
    HG_GEN_FAULT_EXTRA_COMMA,    /* a comma before the closing bracket */
    HG_GEN_FAULT_COUNT
} hg_gen_fault_t;

/* the next number of the splitmix64 sequence of *s */
uint64_t hg_gen_next(uint64_t *s);
/* a number in [0, n) */
size_t hg_gen_below(uint64_t *s, size_t n);
void hg_gen_add(hg_gen_buf_t *b, const char *s, size_t n);
void hg_gen_adds(hg_gen_buf_t *b, const char *s);
/* replaces b's contents with a body of n (>= 1) inputs, carrying fault f (HG_GEN_FAULT_NONE: in the grammar) */
void hg_gen_body(hg_gen_buf_t *b, uint64_t *s, size_t n, hg_gen_fault_t f);

#endif
