/*
 * assocscan.c: the single-pass scanner of associations bodies, and the configuration-time test of
 * whether a route may use it. See assocscan.h.
 *
 * The grammar is small enough to follow token by token with one pointer: every token is either a
 * fixed literal ("inputs", "from", "to", "id", punctuation) or an id, and anything unexpected
 * declines. An input in the compact form most clients send is first matched as two fixed strings
 * around its ids (scan_input_compact); any other spelling goes through the token-by-token reader
 * (scan_input), so the compact lane is only a shortcut to the same answer. Ids are never copied: a
 * pair points at the digits inside the client's buffer (an integer's digits are its decimal string,
 * a padded string's digits are its trimmed value), and assocpairs.c copies them into the canonical
 * body. The pair array is sized from the body's length (no input is shorter than 31 bytes plus its
 * comma), so it is allocated once.
 */
#include "assocscan.h"
#include "assocpairs.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* the depth of an accepted body: object, "inputs" array, input object, from/to object */
#define BODY_DEPTH 4
/* the shortest input, {"from":{"id":0},"to":{"id":0}}, and the comma before the next one */
#define MIN_INPUT_BYTES 32

#define WS_MASK ((1ull << ' ') | (1ull << '\t') | (1ull << '\n') | (1ull << '\r'))

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *e)
{
    while (p != e && *p <= ' ' && (WS_MASK >> *p & 1) != 0)
        ++p;
    return p;
}

/* the literal lit (a string constant) at p, then p moves past it; else the function returns NULL (declines) */
#define EXPECT(lit)                                                                                                                \
    do {                                                                                                                           \
        if ((size_t)(e - p) < sizeof(lit) - 1 || memcmp(p, lit, sizeof(lit) - 1) != 0)                                             \
            return NULL;                                                                                                           \
        p += sizeof(lit) - 1;                                                                                                      \
    } while (0)
#define EXPECT_CHAR(c)                                                                                                             \
    do {                                                                                                                           \
        if (p == e || *p != (c))                                                                                                   \
            return NULL;                                                                                                           \
        ++p;                                                                                                                       \
    } while (0)
#define WS() (p = skip_ws(p, e))

/*
 * The id value at p (after "id" and its colon) into pair->id/len/key[side]: a string of spaces,
 * 1 to 20 digits and spaces, or a JSON integer of 1 to 20 digits. Returns the position after it,
 * or NULL to decline; *coerced counts an integer or a padded string.
 */
static const unsigned char *scan_id(const unsigned char *p, const unsigned char *e, hg_assoc_pair_t *pair, int side,
                                    size_t *coerced)
{
    const unsigned char *digits;
    size_t len;
    hg_assoc_key_t key;
    if (p == e)
        return NULL;
    if (*p == '"') {
        const unsigned char *open = ++p;
        while (p != e && *p == ' ')
            ++p;
        digits = p;
        key = hg_assoc_digits((const char *)p, (size_t)(e - p), &len);
        p += len;
        const unsigned char *end = p;
        while (p != e && *p == ' ')
            ++p;
        if (key == 0 || p == e || *p != '"')
            return NULL; /* not 1 to 20 digits, or not a string of them */
        if (digits != open || end != p)
            ++*coerced; /* padded: trimmed */
        ++p;
    } else {
        digits = p;
        key = hg_assoc_digits((const char *)p, (size_t)(e - p), &len);
        if (key == 0 || (*digits == '0' && len > 1))
            return NULL; /* not 1 to 20 digits, or a leading zero (invalid JSON) */
        p += len;
        ++*coerced;
    }
    pair->id[side] = (const char *)digits;
    pair->len[side] = (unsigned char)len;
    pair->key[side] = key;
    return p;
}

/*
 * One input at p (its opening brace) in the compact form {"from":{"id":ID},"to":{"id":ID}} that
 * canonical and most machine-written bodies use: two fixed strings compared at once instead of
 * sixteen tokens. NULL (with *coerced as it was) when the input is written any other way.
 */
static const unsigned char *scan_input_compact(const unsigned char *p, const unsigned char *e, hg_assoc_pair_t *pair,
                                               size_t *coerced)
{
    size_t was = *coerced;
    if ((size_t)(e - p) < 14 || memcmp(p, "{\"from\":{\"id\":", 14) != 0 || (p = scan_id(p + 14, e, pair, 0, coerced)) == NULL)
        goto Fail;
    if ((size_t)(e - p) < 13 || memcmp(p, "},\"to\":{\"id\":", 13) != 0 || (p = scan_id(p + 13, e, pair, 1, coerced)) == NULL)
        goto Fail;
    if ((size_t)(e - p) < 2 || p[0] != '}' || p[1] != '}')
        goto Fail;
    return p + 2;
Fail:
    *coerced = was;
    return NULL;
}

/* one input at p (its opening brace), written any way the grammar allows; NULL to decline */
static const unsigned char *scan_input(const unsigned char *p, const unsigned char *e, hg_assoc_pair_t *pair, size_t *coerced)
{
    int seen = 0;
    EXPECT_CHAR('{');
    for (int member = 0; member != 2; ++member) {
        int side;
        WS();
        if (member != 0) {
            EXPECT_CHAR(',');
            WS();
        }
        if ((size_t)(e - p) >= 6 && memcmp(p, "\"from\"", 6) == 0) {
            side = 0;
            p += 6;
        } else if ((size_t)(e - p) >= 4 && memcmp(p, "\"to\"", 4) == 0) {
            side = 1;
            p += 4;
        } else {
            return NULL;
        }
        if ((seen & (1 << side)) != 0)
            return NULL; /* a repeated key */
        seen |= 1 << side;
        WS();
        EXPECT_CHAR(':');
        WS();
        EXPECT_CHAR('{');
        WS();
        EXPECT("\"id\"");
        WS();
        EXPECT_CHAR(':');
        WS();
        if ((p = scan_id(p, e, pair, side, coerced)) == NULL)
            return NULL;
        WS();
        EXPECT_CHAR('}');
    }
    WS();
    EXPECT_CHAR('}');
    return p;
}

/* the body up to and including the opening bracket of "inputs"; NULL to decline */
static const unsigned char *scan_head(const unsigned char *p, const unsigned char *e)
{
    WS();
    EXPECT_CHAR('{');
    WS();
    EXPECT("\"inputs\"");
    WS();
    EXPECT_CHAR(':');
    WS();
    EXPECT_CHAR('[');
    return p;
}

int hg_assoc_scan(const hg_body_rules_t *rules, const char *buf, size_t len, hg_body_result_t *out)
{
    if (rules->mode != HG_NORMALIZE_ASSOCIATIONS || !rules->fast || rules->max_depth < BODY_DEPTH)
        return 0;
    const unsigned char *p = (const unsigned char *)buf, *e = p + len, *q;
    if ((p = scan_head(p, e)) == NULL)
        return 0;
    size_t cap = len / MIN_INPUT_BYTES + 1, n = 0, coerced = 0;
    hg_assoc_pair_t *pairs = hg_xmalloc(cap * sizeof(*pairs));
    for (;;) {
        if (n == cap)
            goto Decline; /* cannot happen (see MIN_INPUT_BYTES); kept so that no body can write past the array */
        hg_assoc_pair_t *pair = &pairs[n++];
        p = skip_ws(p, e);
        if ((q = scan_input_compact(p, e, pair, &coerced)) == NULL && (q = scan_input(p, e, pair, &coerced)) == NULL)
            goto Decline;
        p = skip_ws(q, e);
        if (p == e)
            goto Decline;
        if (*p == ']')
            break;
        if (*p++ != ',')
            goto Decline;
    }
    p = skip_ws(p + 1, e);
    if (p == e || *p != '}' || skip_ws(p + 1, e) != e)
        goto Decline;

    size_t duplicates = hg_assoc_mark_duplicates(pairs, n);
    if (rules->max_inputs != 0 && n - duplicates > rules->max_inputs)
        goto Decline; /* the jansson path reports maxItems */
    out->received = n;
    out->duplicates = duplicates;
    out->coerced = coerced;
    out->dropped_fields = 0;
    hg_assoc_emit(pairs, n, n - duplicates, out);
    free(pairs);
    return 1;

Decline:
    free(pairs);
    return 0;
}

/* ---- when a route may use it ---- */

int hg_body_rules_fast_eligible(const json_t *schema_doc)
{
    json_t *shipped = json_loads(hg_assoc_schema_text, JSON_REJECT_DUPLICATES, NULL);
    if (shipped == NULL)
        abort(); /* the build embeds a file that every test loads: cannot happen */
    int eligible = schema_doc != NULL && json_equal(shipped, schema_doc);
    json_decref(shipped);
    return eligible;
}

hg_schema_t *hg_body_schema_load(const char *path, int *eligible, hg_violations_t *errors)
{
    *eligible = 0;
    json_t *doc = hg_schema_read(path, errors);
    if (doc == NULL)
        return NULL;
    hg_schema_t *s = hg_schema_compile(doc, path, errors);
    *eligible = s != NULL && hg_body_rules_fast_eligible(doc);
    json_decref(doc);
    return s;
}
