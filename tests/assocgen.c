/*
 * assocgen.c: deterministic generators of associations bodies. See assocgen.h.
 */
#include "assocgen.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* splitmix64: small, fast, and the same sequence everywhere */
uint64_t hg_gen_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

size_t hg_gen_below(uint64_t *s, size_t n)
{
    return (size_t)(hg_gen_next(s) % n);
}

void hg_gen_add(hg_gen_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = hg_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void hg_gen_adds(hg_gen_buf_t *b, const char *s)
{
    hg_gen_add(b, s, strlen(s));
}

static const char *const spaces[] = {"", "", "", " ", "\n", "\t", "\r\n", "  ", "\n    "};

static void ws(hg_gen_buf_t *b, uint64_t *s, int pretty)
{
    if (pretty)
        hg_gen_adds(b, spaces[hg_gen_below(s, sizeof(spaces) / sizeof(spaces[0]))]);
}

static void pad(hg_gen_buf_t *b, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        hg_gen_adds(b, " ");
}

/* an id: digits from a small pool (so that pairs repeat) or random, written as a plain, padded or integer id */
static void gen_id(hg_gen_buf_t *b, uint64_t *s, int pretty, const char *pool)
{
    char digits[24];
    size_t n;
    if (hg_gen_below(s, 3) != 0) {
        n = (size_t)snprintf(digits, sizeof(digits), "%s", pool);
    } else {
        size_t k = hg_gen_below(s, 16);
        n = k == 0 ? 20 : k == 1 ? 19 : 1 + hg_gen_below(s, 18);
        for (size_t i = 0; i != n; ++i)
            digits[i] = (char)('0' + hg_gen_below(s, 10));
        digits[n] = '\0';
    }
    size_t form = hg_gen_below(s, 4);
    if (form == 0 && (digits[0] != '0' || n == 1)) {
        hg_gen_add(b, digits, n); /* may be beyond 64 bits: the intended difference */
        return;
    }
    hg_gen_adds(b, "\"");
    if (form == 1 || form == 3)
        pad(b, 1 + hg_gen_below(s, 3));
    hg_gen_add(b, digits, n);
    if (form == 2 || form == 3)
        pad(b, 1 + hg_gen_below(s, 2));
    hg_gen_adds(b, "\"");
}

/* a fault for the token-level corpus: what replaces a piece of a valid body */
static const char *const bad_ids[] = {
    "-1",
    "-0",
    "1.5",
    "1e2",
    "01",
    "null",
    "true",
    "[]",
    "{}",
    "\"\"",
    "\"a\"",
    "\"1 2\"",
    "\"\\t1\"",
    "\"\\n\"",
    "\"\\u0031\"",
    "\"1\\\"\"",
    "\"+1\"",
    "1E400",
    "\"0x1\"",
    "\"123456789012345678901\"",
    "123456789012345678901",
    "99999999999999999999999",
    "\" \\u00a01\"",
    "-",
    "\"1",
};

static void gen_side(hg_gen_buf_t *b, uint64_t *s, int pretty, hg_gen_fault_t f, const char *pool)
{
    hg_gen_adds(b, "{");
    ws(b, s, pretty);
    if (f == HG_GEN_FAULT_UNKNOWN_MEMBER)
        hg_gen_adds(b, "\"type\":\"contact\",");
    hg_gen_adds(b, f == HG_GEN_FAULT_ESCAPED_KEY ? "\"\\u0069d\"" : "\"id\"");
    ws(b, s, pretty);
    hg_gen_adds(b, ":");
    ws(b, s, pretty);
    if (f == HG_GEN_FAULT_BAD_ID)
        hg_gen_adds(b, bad_ids[hg_gen_below(s, sizeof(bad_ids) / sizeof(bad_ids[0]))]);
    else if (f == HG_GEN_FAULT_NON_ASCII)
        hg_gen_adds(b, hg_gen_below(s, 2) == 0 ? "\"1\xC3\xA9\"" : "\"\xEF\xBC\x91\"");
    else if (f == HG_GEN_FAULT_DEEP)
        for (size_t i = 0, n = hg_gen_below(s, 2) == 0 ? 10 : 40; i != 2 * n + 1; ++i)
            hg_gen_adds(b, i < n ? "[" : i == n ? "\"1\"" : "]");
    else
        gen_id(b, s, pretty, pool);
    if (f == HG_GEN_FAULT_REPEAT_KEY)
        hg_gen_adds(b, ",\"id\":\"1\"");
    ws(b, s, pretty);
    hg_gen_adds(b, "}");
}

/* one input (or the top level) carries the fault, if any */
void hg_gen_body(hg_gen_buf_t *b, uint64_t *s, size_t n, hg_gen_fault_t f)
{
    static const char *const pool[] = {"1", "2", "10", "0", "007", "123456789", "9223372036854775807"};
    int pretty = hg_gen_below(s, 2) == 0;
    int top = f == HG_GEN_FAULT_UNKNOWN_MEMBER || f == HG_GEN_FAULT_ESCAPED_KEY;
    size_t faulty = hg_gen_below(s, n + (size_t)top); /* n: the top level */
    b->len = 0;
    ws(b, s, pretty);
    hg_gen_adds(b, "{");
    ws(b, s, pretty);
    if (f == HG_GEN_FAULT_UNKNOWN_MEMBER && faulty == n)
        hg_gen_adds(b, "\"x\":{\"a\":[1,2]},");
    hg_gen_adds(b, f == HG_GEN_FAULT_ESCAPED_KEY && faulty == n ? "\"inp\\u0075ts\"" : "\"inputs\"");
    ws(b, s, pretty);
    hg_gen_adds(b, ":");
    ws(b, s, pretty);
    hg_gen_adds(b, "[");
    for (size_t i = 0; i != n; ++i) {
        hg_gen_fault_t here = i == faulty ? f : HG_GEN_FAULT_NONE;
        ws(b, s, pretty);
        if (i != 0) {
            hg_gen_adds(b, ",");
            ws(b, s, pretty);
        }
        hg_gen_adds(b, "{");
        ws(b, s, pretty);
        int to_first = hg_gen_below(s, 2) == 0;
        hg_gen_fault_t side_fault = here == HG_GEN_FAULT_UNKNOWN_MEMBER && hg_gen_below(s, 2) == 0 ? HG_GEN_FAULT_NONE : here;
        if (here == HG_GEN_FAULT_UNKNOWN_MEMBER && side_fault == HG_GEN_FAULT_NONE)
            hg_gen_adds(b, "\"types\":[],");
        for (int k = 0; k != 2; ++k) {
            int side = k ^ to_first;
            if (here == HG_GEN_FAULT_MISSING_SIDE && k == 1)
                break;
            if (k != 0) {
                ws(b, s, pretty);
                hg_gen_adds(b, ",");
                ws(b, s, pretty);
            }
            hg_gen_adds(b, side == 0 ? "\"from\"" : "\"to\"");
            ws(b, s, pretty);
            hg_gen_adds(b, ":");
            ws(b, s, pretty);
            gen_side(b, s, pretty, k == 1 || here == HG_GEN_FAULT_MISSING_SIDE ? side_fault : HG_GEN_FAULT_NONE,
                     pool[hg_gen_below(s, sizeof(pool) / sizeof(pool[0]))]);
        }
        if (here == HG_GEN_FAULT_REPEAT_KEY && hg_gen_below(s, 2) == 0)
            hg_gen_adds(b, ",\"to\":{\"id\":\"3\"}");
        ws(b, s, pretty);
        hg_gen_adds(b, "}");
    }
    if (f == HG_GEN_FAULT_EXTRA_COMMA)
        hg_gen_adds(b, ",");
    ws(b, s, pretty);
    hg_gen_adds(b, "]");
    ws(b, s, pretty);
    hg_gen_adds(b, "}");
    ws(b, s, pretty);
}
