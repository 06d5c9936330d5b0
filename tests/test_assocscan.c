/*
 * test_assocscan.c: the associations fast path (assocscan.h) against the jansson path it replaces.
 *
 * The proof is differential (tests/assocdiff.h): every body below, generated or written by hand,
 * goes through hg_body_process with and without `fast`, and everything a caller sees must be the
 * same, refusals included (every violation's in, code and message), except the one intended
 * difference (integer ids beyond 64 bits), which is verified on its own terms. Bodies in the
 * scanner's grammar must also be taken by it, so that a scanner declining everything cannot pass.
 *
 * Corpora (deterministic: a fixed seed): random valid bodies of 1 to 50 inputs (whitespace, key
 * order, integer, padded and plain string ids, leading zeros, 19 and 20 digits, repeated pairs,
 * max_inputs, max_json_depth and unknown_fields variants); the same with one fault per body at the
 * token level (unknown members, escapes, repeated keys, wrong types, non-ASCII, ...); every
 * single-byte deletion, insertion and replacement and every truncation of small valid bodies.
 * Then the configuration side: which schema documents make a route eligible, and that a loaded
 * configuration sets `fast` on exactly those routes.
 */
#include "assocdiff.h"
#include "assocgen.h"
#include "assocpairs.h"
#include "assocscan.h"
#include "config.h"
#include "util.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define B(s) s, sizeof(s) - 1
#define ONE "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}"

/* ---- helpers ---- */

static char *srcpath(const char *rel)
{
    const char *srcdir = getenv("HUBGATE_SRCDIR");
    ck_assert_msg(srcdir != NULL, "HUBGATE_SRCDIR is not set");
    return hg_xasprintf("%s/%s", srcdir, rel);
}

static hg_schema_t *load_schema(void)
{
    char *path = srcpath("schemas/batch-associate-default.request.json");
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    int eligible = 0;
    hg_schema_t *s = hg_body_schema_load(path, &eligible, &errors);
    ck_assert_msg(s != NULL, "%s: %s", path, errors.count != 0 ? errors.items[0].message : "?");
    ck_assert_int_eq(eligible, 1);
    hg_violations_clear(&errors);
    free(path);
    return s;
}

static hg_body_rules_t rules_of(const hg_schema_t *schema, int reject, size_t max_inputs, size_t max_depth)
{
    hg_body_rules_t r = {HG_NORMALIZE_ASSOCIATIONS, schema, reject, max_inputs, max_depth, 1};
    return r;
}

/* runs the oracle and fails the test with the body shown when the paths differ */
static hg_assocdiff_t diff(const hg_body_rules_t *rules, const char *buf, size_t len)
{
    hg_assocdiff_t d;
    if (hg_assocdiff(rules, buf, len, &d) != 0)
        ck_abort_msg("%s\nbody (%zu bytes, max_inputs %zu, max_depth %zu, reject %d): %.*s", d.why, len, rules->max_inputs,
                     rules->max_depth, rules->reject_unknown, (int)(len < 600 ? len : 600), buf);
    return d;
}

/* lower-case hex SHA-256 of a string, computed here rather than by the code under test (static buffer) */
/* ---- id keys: equal keys for equal digit strings, and only then ---- */

START_TEST(id_keys)
{
    static const struct {
        const char *s;
        size_t max, len; /* bytes offered, digits counted */
        int valid;
    } cases[] = {
        {"", 0, 0, 0},
        {"x", 1, 0, 0},
        {"0", 1, 1, 1},
        {"7}", 2, 1, 1},
        {"12 ", 3, 2, 1},
        {"1234567890123456789", 19, 19, 1},
        {"12345678901234567890", 20, 20, 1},
        {"12345678901234567890\"", 21, 20, 1},
        {"123456789012345678901", 21, 21, 0},
        {"1234567890123456789012345", 25, 21, 0}, /* a longer run is followed no further */
        {"99999999999999999999", 20, 20, 1},
        {"1234", 2, 2, 1}, /* max bounds the read */
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        size_t len = 99;
        hg_assoc_key_t key = hg_assoc_digits(cases[i].s, cases[i].max, &len);
        ck_assert_msg(len == cases[i].len, "%s: len %zu", cases[i].s, len);
        ck_assert_msg((key != 0) == cases[i].valid, "%s: key", cases[i].s);
    }
    /* distinct strings, distinct keys: leading zeros, the 20th digit, the largest values */
    static const char *const ids[] = {"0",
                                      "00",
                                      "000",
                                      "1",
                                      "01",
                                      "10",
                                      "9223372036854775807",
                                      "9223372036854775808",
                                      "18446744073709551615",
                                      "18446744073709551616",
                                      "12345678901234567890",
                                      "12345678901234567891",
                                      "99999999999999999999",
                                      "09999999999999999999",
                                      "9999999999999999999"};
    size_t n = sizeof(ids) / sizeof(ids[0]);
    for (size_t i = 0; i != n; ++i) {
        hg_assoc_key_t a = hg_assoc_id_key(ids[i], strlen(ids[i]));
        ck_assert_msg(a != 0, "%s", ids[i]);
        for (size_t j = 0; j != n; ++j)
            ck_assert_msg((a == hg_assoc_id_key(ids[j], strlen(ids[j]))) == (i == j), "%s vs %s", ids[i], ids[j]);
    }
    ck_assert(hg_assoc_id_key("12a", 3) == 0);
    ck_assert(hg_assoc_id_key("123456789012345678901", 21) == 0);
    ck_assert(hg_assoc_id_key("", 0) == 0);
}
END_TEST

/* ---- hand-written cases: what is taken, what is declined, and what each path answers ---- */

struct scan_case {
    const char *name;
    const char *body;
    size_t len;
    int taken;
    const char *canon; /* when taken: the canonical body */
    size_t received, duplicates, coerced;
};

#define TAKEN(name, body, canon, received, duplicates, coerced)                                                                    \
    {                                                                                                                              \
        name, B(body), 1, canon, received, duplicates, coerced                                                                     \
    }
#define DECLINED(name, body)                                                                                                       \
    {                                                                                                                              \
        name, B(body), 0, NULL, 0, 0, 0                                                                                            \
    }
#define IN1(from, to) "{\"inputs\":[{\"from\":" from ",\"to\":" to "}]}"
#define ID(x) "{\"id\":" x "}"

static const struct scan_case scan_cases[] = {
    TAKEN("canonical", ONE, ONE, 1, 0, 0),
    TAKEN("pretty, keys reversed", "\r\n\t{ \"inputs\" :\n[ { \"to\" : { \"id\" : \"2\" } ,\t\"from\":{\"id\":\"1\"} } ] }\n\n",
          ONE, 1, 0, 0),
    TAKEN("integer ids", IN1(ID("1"), ID("2")), ONE, 1, 0, 2),
    TAKEN("integer zero", IN1(ID("0"), ID("2")), "{\"inputs\":[{\"from\":{\"id\":\"0\"},\"to\":{\"id\":\"2\"}}]}", 1, 0, 2),
    TAKEN("padded ids", IN1(ID("\"  1\""), ID("\"2 \"")), ONE, 1, 0, 2),
    TAKEN("leading zeros in strings stay", IN1(ID("\"007\""), ID("\"2\"")),
          "{\"inputs\":[{\"from\":{\"id\":\"007\"},\"to\":{\"id\":\"2\"}}]}", 1, 0, 0),
    TAKEN("20 digits", IN1(ID("\"12345678901234567890\""), ID("\"2\"")),
          "{\"inputs\":[{\"from\":{\"id\":\"12345678901234567890\"},\"to\":{\"id\":\"2\"}}]}", 1, 0, 0),
    TAKEN("largest 64-bit integer", IN1(ID("9223372036854775807"), ID("\"2\"")),
          "{\"inputs\":[{\"from\":{\"id\":\"9223372036854775807\"},\"to\":{\"id\":\"2\"}}]}", 1, 0, 1),
    TAKEN("20 digits apart only in the last",
          "{\"inputs\":[{\"from\":{\"id\":\" 12345678901234567890\"},\"to\":{\"id\":\"1\"}},"
          "{\"from\":{\"id\":\"12345678901234567891\"},\"to\":{\"id\":\"1\"}},{\"from\":{\"id\":\"12345678901234567890\"},"
          "\"to\":{\"id\":1}}]}",
          "{\"inputs\":[{\"from\":{\"id\":\"12345678901234567890\"},\"to\":{\"id\":\"1\"}},{\"from\":{\"id\":"
          "\"12345678901234567891\"},\"to\":{\"id\":\"1\"}}]}",
          3, 1, 2),
    TAKEN("duplicates after coercion",
          "{\"inputs\":[{\"from\":{\"id\":1},\"to\":{\"id\":\"2\"}},{\"from\":{\"id\":\"2\"},\"to\":{\"id\":\"1\"}},"
          "{\"to\":{\"id\":2},\"from\":{\"id\":\" 1\"}},{\"from\":{\"id\":\"01\"},\"to\":{\"id\":\"2\"}}]}",
          "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}},{\"from\":{\"id\":\"2\"},\"to\":{\"id\":\"1\"}},"
          "{\"from\":{\"id\":\"01\"},\"to\":{\"id\":\"2\"}}]}",
          4, 1, 3),

    /* what the jansson path forwards, but the scanner leaves to it */
    DECLINED("-0", IN1(ID("-0"), ID("\"2\""))),
    DECLINED("escaped key", "{\"\\u0069nputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}"),
    DECLINED("escaped digit", IN1(ID("\"\\u0031\""), ID("\"2\""))),
    DECLINED("tab-padded id", IN1(ID("\"\\t1\""), ID("\"2\""))),
    DECLINED("unknown member at the top", "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}],\"x\":1}"),
    DECLINED("unknown member first", "{\"x\":1,\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}"),
    DECLINED("unknown member in an input", "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"},\"types\":[]}]}"),
    DECLINED("unknown member in a side", IN1("{\"id\":\"1\",\"type\":\"contact\"}", ID("\"2\""))),

    /* what both refuse, each in its way: the jansson path reports */
    DECLINED("empty", ""),
    DECLINED("whitespace", " \n"),
    DECLINED("byte order mark", "\xEF\xBB\xBF" ONE),
    DECLINED("trailing garbage", ONE "x"),
    DECLINED("two values", ONE ONE),
    DECLINED("truncated", "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]"),
    DECLINED("empty inputs", "{\"inputs\":[]}"),
    DECLINED("no inputs", "{}"),
    DECLINED("inputs not an array", "{\"inputs\":{}}"),
    DECLINED("trailing comma", "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}},]}"),
    DECLINED("repeated from", "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"from\":{\"id\":\"2\"}}]}"),
    DECLINED("repeated inputs", "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}],\"inputs\":[]}"),
    DECLINED("repeated id", IN1("{\"id\":\"1\",\"id\":\"1\"}", ID("\"2\""))),
    DECLINED("to alone", "{\"inputs\":[{\"to\":{\"id\":\"2\"}}]}"),
    DECLINED("three members", "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"},\"to\":{\"id\":\"2\"}}]}"),
    DECLINED("leading zero integer", IN1(ID("01"), ID("\"2\""))),
    DECLINED("negative", IN1(ID("-1"), ID("\"2\""))),
    DECLINED("fraction", IN1(ID("1.0"), ID("\"2\""))),
    DECLINED("exponent", IN1(ID("1e3"), ID("\"2\""))),
    DECLINED("21 digits", IN1(ID("\"123456789012345678901\""), ID("\"2\""))),
    DECLINED("21-digit integer", IN1(ID("123456789012345678901"), ID("\"2\""))),
    DECLINED("empty id", IN1(ID("\"\""), ID("\"2\""))),
    DECLINED("spaces only", IN1(ID("\"   \""), ID("\"2\""))),
    DECLINED("inner space", IN1(ID("\"1 2\""), ID("\"2\""))),
    DECLINED("letters", IN1(ID("\"12a\""), ID("\"2\""))),
    DECLINED("raw tab in an id", IN1(ID("\"\t1\""), ID("\"2\""))),
    DECLINED("raw NUL in an id", IN1(ID("\"1\0\""), ID("\"2\""))),
    DECLINED("non-ASCII digits", IN1(ID("\"\xD9\xA1\""), ID("\"2\""))),
    DECLINED("invalid UTF-8", IN1(ID("\"1\xFF\""), ID("\"2\""))),
    DECLINED("id null", IN1(ID("null"), ID("\"2\""))),
    DECLINED("id object", IN1(ID("{\"id\":\"1\"}"), ID("\"2\""))),
    DECLINED("side a string", IN1("\"1\"", ID("\"2\""))),
    DECLINED("input an array", "{\"inputs\":[[]]}"),
    DECLINED("form feed as whitespace", "{\f\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}"),
    DECLINED("key in another case", "{\"Inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}"),
};

/* pairwise (small bodies), the hash set and the sorting fallback mark exactly the same repeats (the first stays) */
START_TEST(dedup_methods_agree)
{
    uint64_t state = 42;
    for (int round = 0; round != 240; ++round) {
        size_t n = round < 40 ? (size_t)round + 1 : (size_t)(round * 37 % 500) + 1; /* every small size, then some */
        hg_assoc_pair_t *a = calloc(n, sizeof(*a)), *b = calloc(n, sizeof(*b));
        for (size_t i = 0; i != n; ++i) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            /* few distinct values, so that repeats are common; both keys matter */
            a[i].key[0] = (hg_assoc_key_t)((state >> 33) % 7 + 1) * 32 + 1;
            a[i].key[1] = (hg_assoc_key_t)((state >> 45) % (round % 5 + 2) + 1) * 32 + 1;
        }
        memcpy(b, a, n * sizeof(*a));
        size_t da = hg_assoc_mark_duplicates(a, n), db = hg_assoc_mark_duplicates_sorted(b, n);
        ck_assert_uint_eq(da, db);
        for (size_t i = 0; i != n; ++i) {
            ck_assert_msg(a[i].dup == b[i].dup, "round %d, pair %zu: %d vs %d", round, i, a[i].dup, b[i].dup);
            int earlier = 0;
            for (size_t j = 0; j != i && !earlier; ++j)
                earlier = a[j].key[0] == a[i].key[0] && a[j].key[1] == a[i].key[1];
            ck_assert_int_eq(a[i].dup, earlier);
        }
        free(a);
        free(b);
    }
}
END_TEST

START_TEST(scan_case)
{
    const struct scan_case *c = &scan_cases[_i];
    hg_schema_t *schema = load_schema();
    hg_body_rules_t rules = rules_of(schema, 0, 2000, 32);
    for (int reject = 0; reject != 2; ++reject) {
        rules.reject_unknown = reject;
        hg_assocdiff_t d = diff(&rules, c->body, c->len);
        ck_assert_msg(d.taken == c->taken, "%s: taken %d", c->name, d.taken);
        ck_assert_int_eq(d.wider, 0);
    }
    if (c->taken) {
        hg_body_result_t r;
        ck_assert_int_eq(hg_assoc_scan(&rules, c->body, c->len, &r), 1);
        ck_assert_msg(r.body_len == strlen(c->canon) && memcmp(r.body, c->canon, r.body_len) == 0, "%s: %.*s", c->name,
                      (int)r.body_len, r.body);
        ck_assert_uint_eq(r.received, c->received);
        ck_assert_uint_eq(r.duplicates, c->duplicates);
        ck_assert_uint_eq(r.forwarded, c->received - c->duplicates);
        ck_assert_uint_eq(r.num_pairs, r.forwarded);
        ck_assert_uint_eq(r.coerced, c->coerced);
        ck_assert_uint_eq(r.dropped_fields, 0);
        hg_body_result_dispose(&r);
    }
    hg_schema_free(schema);
}
END_TEST

/* ---- the preconditions: mode, flag, depth, max_inputs ---- */

START_TEST(scan_only_where_allowed)
{
    hg_schema_t *schema = load_schema();
    hg_body_result_t r;
    hg_body_rules_t rules = rules_of(schema, 0, 2000, 32);
    rules.fast = 0;
    ck_assert_int_eq(hg_assoc_scan(&rules, B(ONE), &r), 0);
    rules = rules_of(schema, 0, 2000, 32);
    rules.mode = HG_NORMALIZE_NONE;
    ck_assert_int_eq(hg_assoc_scan(&rules, B(ONE), &r), 0);
    /* mode none with `fast` (never set by the loader): hg_body_process still forwards the client's bytes */
    hg_violations_t errors;
    hg_violations_init(&errors, HG_VIOLATIONS_MAX);
    ck_assert_int_eq(hg_body_process(&rules, B(" " ONE), &r, &errors), 0);
    ck_assert_ptr_null(r.body);
    hg_body_result_dispose(&r);

    /* depth: the body is 4 deep */
    for (size_t depth = 1; depth != 6; ++depth) {
        rules = rules_of(schema, 0, 2000, depth);
        hg_assocdiff_t d = diff(&rules, B(ONE));
        ck_assert_int_eq(d.taken, depth >= 4);
    }
    hg_violations_clear(&errors);
    hg_schema_free(schema);
}
END_TEST

/* a body of n inputs (i, i % distinct) as plain strings: `distinct` different pairs */
static char *make_body(size_t n, size_t distinct, size_t *len)
{
    hg_gen_buf_t b = {0};
    hg_gen_adds(&b, "{\"inputs\":[");
    for (size_t i = 0; i != n; ++i) {
        char one[96];
        snprintf(one, sizeof(one), "%s{\"from\":{\"id\":\"%zu\"},\"to\":{\"id\":%zu}}", i != 0 ? "," : "", 100 + i % distinct,
                 i % distinct);
        hg_gen_adds(&b, one);
    }
    hg_gen_adds(&b, "]}");
    *len = b.len;
    return b.p;
}

START_TEST(max_inputs_edges)
{
    hg_schema_t *schema = load_schema();
    static const struct {
        size_t n, distinct, max;
        int taken;
    } cases[] = {
        {1, 1, 1, 1},          {2, 2, 1, 0},    {2, 1, 1, 1},       {2000, 2000, 2000, 1}, {2001, 2001, 2000, 0},
        {2001, 2000, 2000, 1}, {4000, 1, 1, 1}, {2500, 2500, 0, 1}, {10, 10, 9, 0},        {10, 10, 11, 1},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        size_t len;
        char *body = make_body(cases[i].n, cases[i].distinct, &len);
        hg_body_rules_t rules = rules_of(schema, 0, cases[i].max, 32);
        hg_assocdiff_t d = diff(&rules, body, len);
        ck_assert_msg(d.taken == cases[i].taken, "case %zu: taken %d", i, d.taken);
        free(body);
    }
    hg_schema_free(schema);
}
END_TEST

START_TEST(integers_beyond_64_bits)
{
    /* the intended difference: the scanner forwards, the jansson path refuses */
    hg_schema_t *schema = load_schema();
    static const char *const bodies[] = {
        IN1(ID("9223372036854775808"), ID("\"2\"")),
        IN1(ID("\"1\""), ID("99999999999999999999")),
        "{\"inputs\":[{\"from\":{\"id\":18446744073709551616},\"to\":{\"id\":1}},{\"from\":{\"id\":\"18446744073709551616\"},"
        "\"to\":{\"id\":\" 1 \"}}]}",
    };
    static const char *const canon[] = {
        "{\"inputs\":[{\"from\":{\"id\":\"9223372036854775808\"},\"to\":{\"id\":\"2\"}}]}",
        "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"99999999999999999999\"}}]}",
        "{\"inputs\":[{\"from\":{\"id\":\"18446744073709551616\"},\"to\":{\"id\":\"1\"}}]}",
    };
    static const size_t coerced[] = {1, 1, 3}, duplicates[] = {0, 0, 1};
    for (size_t i = 0; i != 3; ++i) {
        hg_body_rules_t rules = rules_of(schema, 0, 2000, 32);
        hg_assocdiff_t d = diff(&rules, bodies[i], strlen(bodies[i]));
        ck_assert_int_eq(d.taken, 1);
        ck_assert_int_eq(d.wider, 1);
        hg_body_result_t r;
        hg_violations_t errors;
        hg_violations_init(&errors, HG_VIOLATIONS_MAX);
        ck_assert_int_eq(hg_body_process(&rules, bodies[i], strlen(bodies[i]), &r, &errors), 0);
        ck_assert_uint_eq(r.body_len, strlen(canon[i]));
        ck_assert_int_eq(memcmp(r.body, canon[i], r.body_len), 0);
        ck_assert_uint_eq(r.coerced, coerced[i]);
        ck_assert_uint_eq(r.duplicates, duplicates[i]);
        hg_body_result_dispose(&r);
        /* without the fast path: refused as before */
        rules.fast = 0;
        ck_assert_int_eq(hg_body_process(&rules, bodies[i], strlen(bodies[i]), &r, &errors), -1);
        ck_assert_uint_eq(errors.count, 1);
        ck_assert_str_eq(errors.items[0].code, "invalid_json");
        ck_assert_ptr_nonnull(strstr(errors.items[0].message, "is too large (beyond 64 bits)"));
        hg_body_result_dispose(&r);
        hg_violations_clear(&errors);
    }
    hg_schema_free(schema);
}
END_TEST

/* ---- generated bodies (tests/assocgen.h) ---- */

static hg_body_rules_t random_rules(uint64_t *s, const hg_schema_t *schema, size_t n)
{
    size_t max_inputs = hg_gen_below(s, 4) == 0 ? n - hg_gen_below(s, n < 3 ? n : 3) : hg_gen_below(s, 8) == 0 ? 0 : 2000;
    size_t max_depth = hg_gen_below(s, 10) == 0 ? 3 + hg_gen_below(s, 3) : 32;
    return rules_of(schema, (int)hg_gen_below(s, 2), max_inputs, max_depth);
}

START_TEST(random_valid_bodies)
{
    hg_schema_t *schema = load_schema();
    uint64_t seed = 20240501;
    hg_gen_buf_t b = {0};
    size_t taken = 0, wider = 0, over = 0, shallow = 0;
    for (int i = 0; i != 6000; ++i) {
        size_t n = 1 + hg_gen_below(&seed, 50);
        hg_gen_body(&b, &seed, n, HG_GEN_FAULT_NONE);
        hg_body_rules_t rules = random_rules(&seed, schema, n);
        hg_assocdiff_t d = diff(&rules, b.p, b.len);
        taken += d.taken;
        wider += d.wider;
        if (!d.taken) {
            /* declined only for a precondition: too shallow a limit, or too many pairs */
            if (rules.max_depth < 4) {
                ++shallow;
                continue;
            }
            hg_body_rules_t unlimited = rules;
            unlimited.max_inputs = 0;
            hg_body_result_t r;
            ck_assert_msg(hg_assoc_scan(&unlimited, b.p, b.len, &r) == 1, "declined: %s", b.p);
            ck_assert_uint_gt(r.forwarded, rules.max_inputs);
            ck_assert_uint_ne(rules.max_inputs, 0);
            ++over;
            hg_body_result_dispose(&r);
        }
    }
    fprintf(stderr, "random valid bodies: 6000, taken %zu (beyond 64 bits %zu), over max_inputs %zu, depth limit below 4 %zu\n",
            taken, wider, over, shallow);
    ck_assert_uint_gt(taken, 4500);
    ck_assert_uint_gt(wider, 100);
    ck_assert_uint_gt(over, 100);
    ck_assert_uint_gt(shallow, 100);
    free(b.p);
    hg_schema_free(schema);
}
END_TEST

START_TEST(random_faulty_bodies)
{
    hg_schema_t *schema = load_schema();
    uint64_t seed = 7;
    hg_gen_buf_t b = {0};
    size_t taken = 0, refused = 0, forwarded = 0;
    for (int i = 0; i != 6000; ++i) {
        size_t n = 1 + hg_gen_below(&seed, 12);
        hg_gen_fault_t f = (hg_gen_fault_t)(1 + hg_gen_below(&seed, HG_GEN_FAULT_COUNT - 1));
        hg_gen_body(&b, &seed, n, f);
        hg_body_rules_t rules = random_rules(&seed, schema, n);
        hg_assocdiff_t d = diff(&rules, b.p, b.len);
        ck_assert_msg(!d.taken, "fault %d taken: %s", (int)f, b.p);
        hg_body_result_t r;
        hg_violations_t errors;
        hg_violations_init(&errors, HG_VIOLATIONS_MAX);
        if (hg_body_process(&rules, b.p, b.len, &r, &errors) == 0)
            ++forwarded;
        else
            ++refused;
        taken += d.taken;
        hg_body_result_dispose(&r);
        hg_violations_clear(&errors);
    }
    fprintf(stderr, "random faulty bodies: 6000, declined by the scanner, then forwarded %zu, refused %zu\n", forwarded, refused);
    ck_assert_uint_gt(forwarded, 500); /* unknown members dropped, escapes, -0, tab padding, ... */
    ck_assert_uint_gt(refused, 2000);
    free(b.p);
    hg_schema_free(schema);
}
END_TEST

/* every single-byte deletion, insertion and replacement, and every truncation, of a small body */
static void mutate_all(const hg_schema_t *schema, const char *body, size_t *taken, size_t *runs)
{
    size_t len = strlen(body);
    char *m = hg_xmalloc(len + 2);
    hg_body_rules_t rules[2] = {rules_of(schema, 0, 2000, 32), rules_of(schema, 1, 1, 32)};
    for (int r = 0; r != 2; ++r) {
        for (size_t at = 0; at <= len; ++at) {
            /* truncation to `at` bytes and deletion of byte `at` */
            *taken += diff(&rules[r], body, at).taken;
            if (at < len) {
                memcpy(m, body, at);
                memcpy(m + at, body + at + 1, len - at - 1);
                *taken += diff(&rules[r], m, len - 1).taken;
                *runs += 2;
            }
            for (int c = 0; c != 256; ++c) {
                /* insertion before `at`, replacement of `at` */
                memcpy(m, body, at);
                m[at] = (char)c;
                memcpy(m + at + 1, body + at, len - at);
                *taken += diff(&rules[r], m, len + 1).taken;
                ++*runs;
                if (at < len && (unsigned char)body[at] != c) {
                    memcpy(m, body, len);
                    m[at] = (char)c;
                    *taken += diff(&rules[r], m, len).taken;
                    ++*runs;
                }
            }
        }
    }
    free(m);
}

START_TEST(single_byte_mutations)
{
    static const char *const bodies[] = {
        ONE,
        "{\"inputs\":[{\"to\":{\"id\":2},\"from\":{\"id\":\" 10 \"}},{\"from\":{\"id\":10},\"to\":{\"id\":\"2\"}}]}",
        " { \"inputs\" : [ { \"from\" : { \"id\" : 9223372036854775807 } , \"to\" : { \"id\" : \"0\" } } ] } ",
    };
    hg_schema_t *schema = load_schema();
    size_t taken = 0, runs = 0;
    for (size_t i = 0; i != sizeof(bodies) / sizeof(bodies[0]); ++i)
        mutate_all(schema, bodies[i], &taken, &runs);
    fprintf(stderr, "single-byte mutations: %zu bodies, %zu taken by the scanner\n", runs, taken);
    ck_assert_uint_gt(runs, 100000);
    ck_assert_uint_gt(taken, 1000); /* digits for digits, whitespace inserted, ... */
    hg_schema_free(schema);
}
END_TEST

START_TEST(hostile_bodies)
{
    hg_schema_t *schema = load_schema();
    hg_body_rules_t rules = rules_of(schema, 0, 2000, 32);
    /* nesting: a million brackets, and 33 levels inside an input */
    size_t big = 1000000;
    char *deep = hg_xmalloc(big);
    memset(deep, '[', big);
    ck_assert_int_eq(diff(&rules, deep, big).taken, 0);
    memset(deep, '{', big);
    ck_assert_int_eq(diff(&rules, deep, big).taken, 0);
    free(deep);
    hg_gen_buf_t b = {0};
    hg_gen_adds(&b, "{\"inputs\":[{\"from\":{\"id\":");
    for (int i = 0; i != 33; ++i)
        hg_gen_adds(&b, "[");
    for (int i = 0; i != 33; ++i)
        hg_gen_adds(&b, "]");
    hg_gen_adds(&b, "},\"to\":{\"id\":\"1\"}}]}");
    ck_assert_int_eq(diff(&rules, b.p, b.len).taken, 0);

    /* 30000 inputs of one byte of whitespace each way: the pair array's bound holds */
    b.len = 0;
    hg_gen_adds(&b, "{\"inputs\":[");
    for (int i = 0; i != 30000; ++i)
        hg_gen_adds(&b, i != 0 ? ",{\"from\":{\"id\":0},\"to\":{\"id\":0}}" : "{\"from\":{\"id\":0},\"to\":{\"id\":0}}");
    hg_gen_adds(&b, "]}");
    hg_assocdiff_t d = diff(&rules, b.p, b.len);
    ck_assert_int_eq(d.taken, 1);
    /* the same minus the closing brace, and with a byte >= 0x80 at the very end */
    ck_assert_int_eq(diff(&rules, b.p, b.len - 1).taken, 0);
    hg_gen_adds(&b, "\x80");
    ck_assert_int_eq(diff(&rules, b.p, b.len).taken, 0);
    free(b.p);
    hg_schema_free(schema);
}
END_TEST

/* ---- eligibility: which schema documents, and the loaded configuration ---- */

static char *write_temp(const char *dir, const char *name, const char *text)
{
    char *path = hg_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

START_TEST(eligible_documents)
{
    json_t *doc = json_loads(hg_assoc_schema_text, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(hg_body_rules_fast_eligible(doc), 1);
    ck_assert_int_eq(hg_body_rules_fast_eligible(NULL), 0);
    /* the shipped file is what was embedded */
    char *path = srcpath("schemas/batch-associate-default.request.json");
    json_t *file = json_load_file(path, 0, NULL);
    ck_assert_int_eq(hg_body_rules_fast_eligible(file), 1);
    /* any change, even one that means the same, is not eligible */
    json_object_set_new(file, "description", json_string("changed"));
    ck_assert_int_eq(hg_body_rules_fast_eligible(file), 0);
    json_object_set(file, "description", json_object_get(doc, "description"));
    ck_assert_int_eq(hg_body_rules_fast_eligible(file), 1);
    json_t *id = json_object_get(json_object_get(json_object_get(json_object_get(file, "$defs"), "record"), "properties"), "id");
    json_object_set_new(id, "pattern", json_string("^[0-9]{1,19}$"));
    ck_assert_int_eq(hg_body_rules_fast_eligible(file), 0);
    json_decref(file);
    json_decref(doc);
    free(path);
}
END_TEST

START_TEST(schema_load_like_hg_schema_load)
{
    char dir[] = "/tmp/test_assocscan.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *bad = write_temp(dir, "bad.json", "{\"type\":\"object\",}");
    char *other = write_temp(dir, "other.json", "{\"type\":\"object\"}");
    char *wrong = write_temp(dir, "wrong.json", "{\"type\":\"objekt\"}");
    char *missing = hg_xasprintf("%s/missing.json", dir);
    const char *paths[] = {bad, other, wrong, missing};
    for (size_t i = 0; i != 4; ++i) {
        hg_violations_t a, b;
        hg_violations_init(&a, 10);
        hg_violations_init(&b, 10);
        int eligible = 7;
        hg_schema_t *sa = hg_body_schema_load(paths[i], &eligible, &a), *sb = hg_schema_load(paths[i], &b);
        ck_assert_int_eq(eligible, 0);
        ck_assert_int_eq(sa != NULL, sb != NULL);
        ck_assert_int_eq(sa != NULL, i == 1);
        ck_assert_uint_eq(a.count, b.count);
        ck_assert_uint_eq(a.count, i == 1 ? 0 : 1);
        for (size_t k = 0; k != a.count; ++k) {
            ck_assert_str_eq(a.items[k].in, b.items[k].in);
            ck_assert_str_eq(a.items[k].code, b.items[k].code);
            ck_assert_str_eq(a.items[k].message, b.items[k].message);
        }
        hg_schema_free(sa);
        hg_schema_free(sb);
        hg_violations_clear(&a);
        hg_violations_clear(&b);
    }
    for (size_t i = 0; i != 4; ++i) {
        unlink(paths[i]);
        free((char *)paths[i]);
    }
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(configuration_sets_fast)
{
    setenv("HUBSPOT_TOKEN", "pat-test", 1);
    /* the shipped configuration: one associations route with the shipped schema */
    char *conf = srcpath("conf/hubgate.yaml");
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_config_t *c = hg_config_load(conf, &errors);
    ck_assert_msg(c != NULL, "%s", errors.count != 0 ? errors.items[0].message : "?");
    ck_assert_uint_eq(c->num_routes, 1);
    ck_assert_int_eq(c->routes[0].body.fast, 1);
    hg_config_release(c);
    free(conf);

    /* the shipped schema (drop or reject), a copy with another description, normalize: none */
    char dir[] = "/tmp/test_assocscan.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    json_t *doc = json_loads(hg_assoc_schema_text, 0, NULL);
    json_object_set_new(doc, "description", json_string("a local copy"));
    char *text = json_dumps(doc, 0);
    char *copy = write_temp(dir, "copy.json", text);
    char *shipped = srcpath("schemas/batch-associate-default.request.json");
    char *key = srcpath("conf/keys/k1.pub.pem");
    char *yaml = hg_xasprintf(
        "listen: [\"127.0.0.1:18080\"]\n"
        "upstream: {credential: {mode: passthrough}}\n"
        "auth: {issuers: [{issuer: i, keys: [{kid: k1, alg: RS256, pem_file: \"%s\"}]}]}\n"
        "routes:\n"
        "  - {name: a, path: \"/a/{fromObjectType}/{toObjectType}\", scopes_any: [s], schema: \"%s\"}\n"
        "  - {name: b, path: \"/b/{fromObjectType}/{toObjectType}\", scopes_any: [s], schema: \"%s\"}\n"
        "  - {name: c, path: \"/c/{fromObjectType}/{toObjectType}\", scopes_any: [s], schema: \"%s\", normalize: none}\n"
        "  - {name: e, path: \"/e/{fromObjectType}/{toObjectType}\", scopes_any: [s], schema: \"%s\", unknown_fields: reject}\n"
        "audit: {sqlite: null}\n"
        "admin: {listen: null}\n",
        key, shipped, copy, shipped, shipped);
    char *yaml_path = write_temp(dir, "hubgate.yaml", yaml);
    c = hg_config_load(yaml_path, &errors);
    ck_assert_msg(c != NULL, "%s", errors.count != 0 ? errors.items[0].message : "?");
    ck_assert_uint_eq(c->num_routes, 4);
    static const int want[] = {1, 0, 0, 1};
    for (size_t i = 0; i != 4; ++i)
        ck_assert_msg(c->routes[i].body.fast == want[i], "route %s: fast %d", c->routes[i].name, c->routes[i].body.fast);
    ck_assert_ptr_nonnull(c->routes[1].schema);
    hg_config_release(c);
    unlink(copy);
    unlink(yaml_path);
    ck_assert_int_eq(rmdir(dir), 0);
    free(yaml_path);
    free(yaml);
    free(key);
    free(shipped);
    free(copy);
    free(text);
    json_decref(doc);
    hg_violations_clear(&errors);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("assocscan");
    TCase *tc = tcase_create("cases");
    tcase_add_test(tc, id_keys);
    tcase_add_test(tc, dedup_methods_agree);
    tcase_add_loop_test(tc, scan_case, 0, (int)(sizeof(scan_cases) / sizeof(scan_cases[0])));
    tcase_add_test(tc, scan_only_where_allowed);
    tcase_add_test(tc, integers_beyond_64_bits);
    suite_add_tcase(s, tc);
    tc = tcase_create("differential");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, max_inputs_edges);
    tcase_add_test(tc, random_valid_bodies);
    tcase_add_test(tc, random_faulty_bodies);
    tcase_add_test(tc, single_byte_mutations);
    tcase_add_test(tc, hostile_bodies);
    suite_add_tcase(s, tc);
    tc = tcase_create("eligibility");
    tcase_add_test(tc, eligible_documents);
    tcase_add_test(tc, schema_load_like_hg_schema_load);
    tcase_add_test(tc, configuration_sets_fast);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
