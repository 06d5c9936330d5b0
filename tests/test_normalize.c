/*
 * test_normalize.c: the request body pipeline (CONTRACT.md sections 4 step 6 and 6) and the object
 * type path step. Every case asserts the exact outcome: the canonical bytes and the counts of a
 * forwarded body, or every violation (in, code, message) of a refused one.
 *
 * The "schema" cases run what production runs: the shipped schema
 * schemas/batch-associate-default.request.json (found through HUBGATE_SRCDIR), strict parse,
 * coercion, prune or reject, validation, deduplication, max_inputs. The "shape" cases run a route
 * without a schema, where the pipeline's own shape check is all that stands between the client and
 * the canonical body.
 */
#include "normalize.h"
#include "util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SDK_MESSAGE                                                                                                                \
    "required property \"from\" is missing (HubSpot's Node SDK sends \"to\" alone when a caller writes \"from\" instead of its "   \
    "model's \"_from\")"
#define ONE "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}"
#define B(s) s, sizeof(s) - 1

struct want_violation {
    const char *in, *code, *message;
};

struct body_case {
    const char *name;
    const char *body;
    size_t len;
    int reject;        /* unknown_fields: reject */
    const char *canon; /* the canonical body; NULL: refused */
    size_t received, forwarded, duplicates, coerced, dropped;
    struct want_violation v[8]; /* the refusal's violations, in order (a NULL `in` ends the list) */
};

static hg_schema_t *load_schema(void)
{
    const char *srcdir = getenv("HUBGATE_SRCDIR");
    ck_assert_msg(srcdir != NULL, "HUBGATE_SRCDIR is not set");
    char *path = hg_xasprintf("%s/schemas/batch-associate-default.request.json", srcdir);
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_schema_t *s = hg_schema_load(path, &errors);
    ck_assert_msg(s != NULL, "%s: %s", path, errors.count != 0 ? errors.items[0].message : "?");
    hg_violations_clear(&errors);
    free(path);
    return s;
}

/* prints a violation as a C literal, for a person writing the expectation of a new case */
static void dump_string(const char *s)
{
    fputc('"', stderr);
    for (; *s != '\0'; ++s) {
        if (*s == '"' || *s == '\\')
            fputc('\\', stderr);
        fputc(*s, stderr);
    }
    fputc('"', stderr);
}

static void dump(const hg_violations_t *errors)
{
    for (size_t i = 0; i != errors->count; ++i) {
        fputs("  {", stderr);
        dump_string(errors->items[i].in);
        fputs(", ", stderr);
        dump_string(errors->items[i].code);
        fputs(", ", stderr);
        dump_string(errors->items[i].message);
        fputs("},\n", stderr);
    }
}

static void run_case(const struct body_case *c, const hg_schema_t *schema)
{
    hg_body_rules_t rules = {HG_NORMALIZE_ASSOCIATIONS, schema, c->reject, 2000, 32};
    hg_body_result_t r;
    hg_violations_t errors;
    hg_violations_init(&errors, HG_VIOLATIONS_MAX);
    int ret = hg_body_process(&rules, c->body, c->len, &r, &errors);
    if ((ret == 0) != (c->canon != NULL))
        dump(&errors);
    ck_assert_msg((ret == 0) == (c->canon != NULL), "%s: returned %d", c->name, ret);
    ck_assert_uint_eq(r.received, c->received);
    ck_assert_uint_eq(r.coerced, c->coerced);
    ck_assert_uint_eq(r.dropped_fields, c->dropped);
    if (ret == 0) {
        ck_assert_uint_eq(errors.count, 0);
        ck_assert_ptr_nonnull(r.body);
        ck_assert_msg(r.body_len == strlen(c->canon) && memcmp(r.body, c->canon, r.body_len) == 0, "%s: body %.*s", c->name,
                      (int)r.body_len, r.body);
        ck_assert_uint_eq(r.forwarded, c->forwarded);
        ck_assert_uint_eq(r.duplicates, c->duplicates);
        ck_assert_uint_eq(r.num_pairs, c->forwarded);
    } else {
        size_t n = 0;
        while (n != 8 && c->v[n].in != NULL)
            ++n;
        if (errors.count != n)
            dump(&errors);
        ck_assert_msg(errors.count == n, "%s: %zu violations, want %zu", c->name, errors.count, n);
        for (size_t i = 0; i != n; ++i) {
            ck_assert_str_eq(errors.items[i].in, c->v[i].in);
            ck_assert_str_eq(errors.items[i].code, c->v[i].code);
            ck_assert_str_eq(errors.items[i].message, c->v[i].message);
        }
        ck_assert_ptr_null(r.body);
        ck_assert_ptr_null(r.pairs);
        ck_assert_uint_eq(r.forwarded, 0);
    }
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
}

/* ---- a route without a schema: the pipeline's own shape check ---- */

static const struct body_case shape_cases[] = {
    {"one pair", B(ONE), 0, ONE, 1, 1, 0, 0, 0},
    {"keys in any order, whitespace",
     B(" {\n \"inputs\" : [ { \"to\" : { \"id\" : \"2\" } , \"from\" : { \"id\" : \"1\" } } ]\n}\n"), 0, ONE, 1, 1, 0, 0, 0},
    {"integer and padded ids", B("{\"inputs\":[{\"from\":{\"id\":1},\"to\":{\"id\":\" \\t2\\r\\n\"}}]}"), 0, ONE, 1, 1, 0, 2, 0},
    {"unknown members dropped and counted",
     B("{\"x\":1,\"inputs\":[{\"from\":{\"id\":\"1\",\"type\":\"contact\"},\"to\":{\"id\":\"2\"},\"types\":[]}],\"y\":{}}"), 0, ONE,
     1, 1, 0, 0, 4},
    {"unknown members refused",
     B("{\"x\":1,\"inputs\":[{\"from\":{\"id\":\"1\",\"a/b\":0},\"to\":{\"id\":\"2\"},\"t~\":[]}]}"),
     1,
     NULL,
     1,
     0,
     0,
     0,
     0,
     {{"/x", "additionalProperties", "property \"x\" is not allowed"},
      {"/inputs/0/t~0", "additionalProperties", "property \"t~\" is not allowed"},
      {"/inputs/0/from/a~1b", "additionalProperties", "property \"a/b\" is not allowed"}}},
    {"duplicates keep the first",
     B("{\"inputs\":[{\"from\":{\"id\":\"3\"},\"to\":{\"id\":\"4\"}},{\"from\":{\"id\":1},\"to\":{\"id\":2}},"
       "{\"from\":{\"id\":\"3\"},\"to\":{\"id\":\"4\"}},{\"from\":{\"id\":\" 1\"},\"to\":{\"id\":\"2\"}}]}"),
     0, "{\"inputs\":[{\"from\":{\"id\":\"3\"},\"to\":{\"id\":\"4\"}},{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}", 4, 2, 2,
     3, 0},
    {"not an object", B("[]"), 0, NULL, 0, 0, 0, 0, 0, {{"", "type", "must be an object, not an array"}}},
    {"no inputs", B("{}"), 0, NULL, 0, 0, 0, 0, 0, {{"/inputs", "required", "required property \"inputs\" is missing"}}},
    {"inputs null", B("{\"inputs\":null}"), 0, NULL, 0, 0, 0, 0, 0, {{"/inputs", "type", "must be an array, not null"}}},
    {"inputs empty", B("{\"inputs\":[]}"), 0, NULL, 0, 0, 0, 0, 0, {{"/inputs", "minItems", "must have at least 1 item, has 0"}}},
    {"every kind of bad input",
     B("{\"inputs\":[7,{\"to\":{\"id\":\"2\"}},{\"from\":\"1\",\"to\":{}},{\"from\":{\"id\":1.0},\"to\":{\"id\":"
       "\"123456789012345678901\"}}]}"),
     0,
     NULL,
     4,
     0,
     0,
     0,
     0,
     {{"/inputs/0", "type", "must be an object, not an integer"},
      {"/inputs/1/from", "required", SDK_MESSAGE},
      {"/inputs/2/from", "type", "must be an object, not a string"},
      {"/inputs/2/to/id", "required", "required property \"id\" is missing"},
      {"/inputs/3/from/id", "type", "must be a string, not a number"},
      {"/inputs/3/to/id", "pattern", "must match the pattern ^[0-9]{1,20}$"}}},
    {"bad ids",
     B("{\"inputs\":[{\"from\":{\"id\":-1},\"to\":{\"id\":\"1 2\"}}]}"),
     0,
     NULL,
     1,
     0,
     0,
     0,
     0,
     {{"/inputs/0/from/id", "type", "must be a string, not an integer"},
      {"/inputs/0/to/id", "pattern", "must match the pattern ^[0-9]{1,20}$"}}},
};

START_TEST(shape_case)
{
    run_case(&shape_cases[_i], NULL);
}
END_TEST

/* ---- the shipped schema: hostile and malformed bodies ---- */

#define IN1(from, to) "{\"inputs\":[{\"from\":" from ",\"to\":" to "}]}"
#define ID(x) "{\"id\":" x "}"
#define REFUSED(name, body, reject, received, coerced, dropped, ...)                                                               \
    {                                                                                                                              \
        name, B(body), reject, NULL, received, 0, 0, coerced, dropped,                                                             \
        {                                                                                                                          \
            __VA_ARGS__                                                                                                            \
        }                                                                                                                          \
    }
#define FORWARDED(name, body, reject, canon, received, forwarded, duplicates, coerced, dropped)                                    \
    {                                                                                                                              \
        name, B(body), reject, canon, received, forwarded, duplicates, coerced, dropped                                            \
    }
#define BAD_ID(name, id, coerced, code, message)                                                                                   \
    REFUSED(name, IN1(ID(id), ID("\"2\"")), 0, 1, coerced, 0, {"/inputs/0/from/id", code, message})
#define PATTERN "must match the pattern ^[0-9]{1,20}$"

static const struct body_case schema_cases[] = {
    /* what the strict parser refuses */
    REFUSED("empty body", "", 0, 0, 0, 0, {"", "invalid_json", "invalid JSON at line 1, column 1 (byte 0): empty body"}),
    REFUSED("whitespace only", " \r\n\t", 0, 0, 0, 0,
            {"", "invalid_json", "invalid JSON at line 2, column 2 (byte 4): empty body"}),
    REFUSED("byte order mark", "\xEF\xBB\xBF" ONE, 0, 0, 0, 0,
            {"", "invalid_json", "invalid JSON at line 1, column 1 (byte 0): a byte order mark (BOM) is not allowed"}),
    REFUSED("trailing garbage", ONE "x", 0, 0, 0, 0,
            {"", "invalid_json", "invalid JSON at line 1, column 49 (byte 48): unexpected data after the JSON value"}),
    REFUSED("two values", ONE ONE, 0, 0, 0, 0,
            {"", "invalid_json", "invalid JSON at line 1, column 49 (byte 48): unexpected data after the JSON value"}),
    REFUSED("truncated", "{\"inputs\":[{\"from\":{\"id\":\"1\"}", 0, 0, 0, 0,
            {"", "invalid_json", "invalid JSON at line 1, column 30 (byte 29): unexpected end of input"}),
    REFUSED("single quotes", "{'inputs':[]}", 0, 0, 0, 0,
            {"", "invalid_json", "invalid JSON at line 1, column 2 (byte 1): string or '}' expected near '''"}),
    REFUSED("comment", "{\"inputs\":[]} /* hi */", 0, 0, 0, 0,
            {"", "invalid_json", "invalid JSON at line 1, column 15 (byte 14): unexpected data after the JSON value"}),
    REFUSED("NaN id", IN1(ID("NaN"), ID("\"2\"")), 0, 0, 0, 0,
            {"", "invalid_json", "invalid JSON at line 1, column 26 (byte 25): invalid token near 'NaN'"}),
    REFUSED(
        "raw newline in a string", IN1(ID("\"1\n\""), ID("\"2\"")), 0, 0, 0, 0,
        {"", "invalid_json", "invalid JSON at line 1, column 28 (byte 27): control character 0x0A in a string must be escaped"}),
    REFUSED("invalid UTF-8 byte", IN1(ID("\"1\xFF\""), ID("\"2\"")), 0, 0, 0, 0,
            {"", "invalid_utf8", "invalid JSON at line 1, column 28 (byte 27): invalid UTF-8 (byte 0xFF)"}),
    REFUSED("overlong UTF-8", IN1(ID("\"\xC0\xB1\""), ID("\"2\"")), 0, 0, 0, 0,
            {"", "invalid_utf8", "invalid JSON at line 1, column 27 (byte 26): invalid UTF-8 (byte 0xC0)"}),
    REFUSED(
        "lone surrogate escape", IN1(ID("\"\\ud800\""), ID("\"2\"")), 0, 0, 0, 0,
        {"", "invalid_utf8", "invalid JSON at line 1, column 27 (byte 26): unpaired surrogate \\uD800 cannot be encoded in UTF-8"}),
    REFUSED("NUL escape in an id", IN1(ID("\"1\\u00002\""), ID("\"2\"")), 0, 0, 0, 0,
            {"", "invalid_json", "invalid JSON at line 1, column 28 (byte 27): \\u0000 (NUL) is not allowed in a string"}),
    REFUSED("integer beyond 64 bits", IN1(ID("123456789012345678901234567890"), ID("\"2\"")), 0, 0, 0, 0,
            {"", "invalid_json",
             "invalid JSON at line 1, column 26 (byte 25): integer 123456789012345678901234567890 is too large (beyond 64 bits)"}),
    REFUSED("number beyond a double", IN1(ID("1e400"), ID("\"2\"")), 0, 0, 0, 0,
            {"", "invalid_json", "invalid JSON at line 1, column 26 (byte 25): number 1e400 is too large"}),
    REFUSED("duplicate top-level key", "{\"inputs\":[],\"inputs\":[]}", 0, 0, 0, 0,
            {"/inputs", "duplicate_key", "invalid JSON at line 1, column 14 (byte 13): duplicate key \"inputs\""}),
    REFUSED("duplicate from", "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"},\"from\":{\"id\":\"3\"}}]}", 0, 0, 0, 0,
            {"/inputs/0/from", "duplicate_key", "invalid JSON at line 1, column 47 (byte 46): duplicate key \"from\""}),
    REFUSED("duplicate id", IN1("{\"id\":\"1\",\"id\":\"1\"}", ID("\"2\"")), 0, 0, 0, 0,
            {"/inputs/0/from/id", "duplicate_key", "invalid JSON at line 1, column 30 (byte 29): duplicate key \"id\""}),
    REFUSED("duplicate key in to", "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\",\"x\":1,\"x\":1}}]}", 0, 0, 0, 0,
            {"/inputs/0/to/x", "duplicate_key", "invalid JSON at line 1, column 52 (byte 51): duplicate key \"x\""}),
    REFUSED("duplicate key deep in an unknown field", "{\"inputs\":[],\"x\":[{},{\"a\":{\"b\":1,\"b\":2}}]}", 0, 0, 0, 0,
            {"/x/1/a/b", "duplicate_key", "invalid JSON at line 1, column 34 (byte 33): duplicate key \"b\""}),
    REFUSED("duplicate key spelled with an escape", IN1("{\"id\":\"1\",\"\\u0069d\":\"1\"}", ID("\"2\"")), 0, 0, 0, 0,
            {"/inputs/0/from/id", "duplicate_key", "invalid JSON at line 1, column 30 (byte 29): duplicate key \"id\""}),

    /* the wrong shape */
    REFUSED("top-level array", "[" ONE "]", 0, 0, 0, 0, {"", "type", "must be an object, not an array"}),
    REFUSED("top-level string", "\"inputs\"", 0, 0, 0, 0, {"", "type", "must be an object, not a string"}),
    REFUSED("top-level null", "null", 0, 0, 0, 0, {"", "type", "must be an object, not null"}),
    REFUSED("top-level number", "2000", 0, 0, 0, 0, {"", "type", "must be an object, not an integer"}),
    REFUSED("no inputs", "{}", 0, 0, 0, 0, {"/inputs", "required", "required property \"inputs\" is missing"}),
    REFUSED("inputs null", "{\"inputs\":null}", 0, 0, 0, 0, {"/inputs", "type", "must be an array, not null"}),
    REFUSED("inputs an object", "{\"inputs\":{\"0\":{}}}", 0, 0, 0, 0, {"/inputs", "type", "must be an array, not an object"}),
    REFUSED("inputs a string", "{\"inputs\":\"[]\"}", 0, 0, 0, 0, {"/inputs", "type", "must be an array, not a string"}),
    REFUSED("inputs empty", "{\"inputs\":[]}", 0, 0, 0, 0, {"/inputs", "minItems", "must have at least 1 item, has 0"}),
    REFUSED("inputs of scalars", "{\"inputs\":[null,1,\"x\",[],true]}", 0, 5, 0, 0,
            {"/inputs/0", "type", "must be an object, not null"}, {"/inputs/1", "type", "must be an object, not an integer"},
            {"/inputs/2", "type", "must be an object, not a string"}, {"/inputs/3", "type", "must be an object, not an array"},
            {"/inputs/4", "type", "must be an object, not a boolean"}),
    REFUSED("from and to as strings", IN1("\"1\"", "2"), 0, 1, 0, 0, {"/inputs/0/from", "type", "must be an object, not a string"},
            {"/inputs/0/to", "type", "must be an object, not an integer"}),
    REFUSED("missing to", "{\"inputs\":[{\"from\":{\"id\":\"1\"}}]}", 0, 1, 0, 0,
            {"/inputs/0/to", "required", "required property \"to\" is missing"}),
    REFUSED("missing both", "{\"inputs\":[{}]}", 0, 1, 0, 0,
            {"/inputs/0/from", "required", "required property \"from\" is missing"},
            {"/inputs/0/to", "required", "required property \"to\" is missing"}),
    REFUSED("to alone (the Node SDK)", "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}},{\"to\":{\"id\":\"2\"}}]}", 0,
            2, 0, 0, {"/inputs/1/from", "required", SDK_MESSAGE}),
    REFUSED("_from instead of from, dropped", "{\"inputs\":[{\"_from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}", 0, 1, 0, 1,
            {"/inputs/0/from", "required", SDK_MESSAGE}),
    REFUSED("_from instead of from, refused", "{\"inputs\":[{\"_from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}", 1, 1, 0, 0,
            {"/inputs/0/from", "required", SDK_MESSAGE},
            {"/inputs/0/_from", "additionalProperties", "property \"_from\" is not allowed"}),
    REFUSED("from null next to to", IN1("null", ID("\"2\"")), 0, 1, 0, 0,
            {"/inputs/0/from", "type", "must be an object, not null"}),
    REFUSED("to alone with an unknown field, refused", "{\"inputs\":[{\"to\":{\"id\":\"2\"},\"fromId\":\"1\"}]}", 1, 1, 0, 0,
            {"/inputs/0/from", "required", SDK_MESSAGE},
            {"/inputs/0/fromId", "additionalProperties", "property \"fromId\" is not allowed"}),
    REFUSED("missing id", IN1("{}", "{\"ID\":\"2\"}"), 0, 1, 0, 1,
            {"/inputs/0/from/id", "required", "required property \"id\" is missing"},
            {"/inputs/0/to/id", "required", "required property \"id\" is missing"}),
    REFUSED("Inputs in another case", "{\"Inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}", 0, 0, 0, 1,
            {"/inputs", "required", "required property \"inputs\" is missing"}),

    /* ids the schema refuses after coercion */
    BAD_ID("id null", "null", 0, "type", "must be a string, not null"),
    BAD_ID("id true", "true", 0, "type", "must be a string, not a boolean"),
    BAD_ID("id an object", "{\"id\":\"1\"}", 0, "type", "must be a string, not an object"),
    BAD_ID("id an array", "[\"1\"]", 0, "type", "must be a string, not an array"),
    BAD_ID("id 1.0", "1.0", 0, "type", "must be a string, not a number"),
    BAD_ID("id 1e3", "1e3", 0, "type", "must be a string, not a number"),
    BAD_ID("id -1", "-1", 0, "type", "must be a string, not an integer"),
    FORWARDED("id -0 is zero", IN1(ID("-0"), ID("\"2\"")), 0, "{\"inputs\":[{\"from\":{\"id\":\"0\"},\"to\":{\"id\":\"2\"}}]}", 1,
              1, 0, 1, 0),
    BAD_ID("id empty", "\"\"", 0, "pattern", PATTERN),
    BAD_ID("id whitespace only", "\" \\t\\r\\n \"", 1, "pattern", PATTERN),
    BAD_ID("id +1", "\"+1\"", 0, "pattern", PATTERN),
    BAD_ID("id -1 as a string", "\"-1\"", 0, "pattern", PATTERN),
    BAD_ID("id 0x1F", "\"0x1F\"", 0, "pattern", PATTERN),
    BAD_ID("id 1e3 as a string", "\"1e3\"", 0, "pattern", PATTERN),
    BAD_ID("id with an inner space", "\"12 34\"", 0, "pattern", PATTERN),
    BAD_ID("id with an inner tab after trimming", "\" 12\\t34 \"", 1, "pattern", PATTERN),
    BAD_ID("id of Arabic-Indic digits", "\"\xD9\xA1\xD9\xA2\xD9\xA3\"", 0, "pattern", PATTERN),
    BAD_ID("id of fullwidth digits", "\"\xEF\xBC\x91\xEF\xBC\x92\"", 0, "pattern", PATTERN),
    BAD_ID("id after a no-break space", "\"\\u00a0123\"", 0, "pattern", PATTERN),
    BAD_ID("id after a vertical tab", "\"\\u000b123\"", 0, "pattern", PATTERN),
    BAD_ID("id of 21 digits", "\"123456789012345678901\"", 0, "pattern", PATTERN),
    BAD_ID("id of 21 digits after trimming", "\" 123456789012345678901 \"", 1, "pattern", PATTERN),
    BAD_ID("id with a trailing newline escape and a letter", "\"12\\nx\"", 0, "pattern", PATTERN),

    /* unknown fields: dropped and counted, or refused where they are */
    FORWARDED("unknown fields dropped",
              "{\"inputs\":[{\"from\":{\"id\":\"1\",\"type\":\"contact\"},\"to\":{\"id\":\"2\"},\"types\":[{\"associationTypeId\":"
              "279}]}],"
              "\"x\":{\"deep\":[[[[1]]]]}}",
              0, ONE, 1, 1, 0, 0, 3),
    REFUSED("unknown fields refused",
            "{\"inputs\":[{\"from\":{\"id\":\"1\",\"type\":\"contact\"},\"to\":{\"id\":\"2\"},\"types\":[]}],\"x\":{},\"a/b~\":0}",
            1, 1, 0, 0, {"/inputs/0/from/type", "additionalProperties", "property \"type\" is not allowed"},
            {"/inputs/0/types", "additionalProperties", "property \"types\" is not allowed"},
            {"/x", "additionalProperties", "property \"x\" is not allowed"},
            {"/a~1b~0", "additionalProperties", "property \"a/b~\" is not allowed"}),

    /* what coercion and deduplication accept */
    FORWARDED("canonical already", ONE, 0, ONE, 1, 1, 0, 0, 0),
    FORWARDED("integer ids", IN1(ID("1"), ID("2")), 0, ONE, 1, 1, 0, 2, 0),
    FORWARDED("integer zero", IN1(ID("0"), ID("2")), 0, "{\"inputs\":[{\"from\":{\"id\":\"0\"},\"to\":{\"id\":\"2\"}}]}", 1, 1, 0,
              2, 0),
    FORWARDED("padded ids", IN1(ID("\" \\t1\\r\\n\""), ID("\"2 \"")), 0, ONE, 1, 1, 0, 2, 0),
    FORWARDED("escaped key and digits", "{\"\\u0069nputs\":[{\"from\":{\"id\":\"\\u0031\"},\"to\":{\"\\u0069d\":\"2\"}}]}", 0, ONE,
              1, 1, 0, 0, 0),
    FORWARDED("pretty, keys reversed",
              "{\n  \"inputs\" : [\n    { \"to\" : { \"id\" : \"2\" }, \"from\" : { \"id\" : \"1\" } }\n  ]\n}\n", 0, ONE, 1, 1, 0,
              0, 0),
    FORWARDED("20 digits", IN1(ID("\"12345678901234567890\""), ID("\"2\"")), 0,
              "{\"inputs\":[{\"from\":{\"id\":\"12345678901234567890\"},\"to\":{\"id\":\"2\"}}]}", 1, 1, 0, 0, 0),
    FORWARDED("duplicates after coercion",
              "{\"inputs\":[{\"from\":{\"id\":1},\"to\":{\"id\":\"2\"}},{\"from\":{\"id\":\"2\"},\"to\":{\"id\":\"1\"}},"
              "{\"from\":{\"id\":\" 1\"},\"to\":{\"id\":2}},{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"},\"x\":1}]}",
              0, "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}},{\"from\":{\"id\":\"2\"},\"to\":{\"id\":\"1\"}}]}",
              4, 2, 2, 3, 1),
    REFUSED("a bad input among good ones keeps its index",
            "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}},{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}},"
            "{\"from\":{\"id\":\" 3\",\"junk\":1},\"to\":{\"id\":\"x\"}}]}",
            0, 3, 1, 1, {"/inputs/2/to/id", "pattern", PATTERN}),
};

START_TEST(schema_case)
{
    hg_schema_t *schema = load_schema();
    run_case(&schema_cases[_i], schema);
    hg_schema_free(schema);
}
END_TEST

/* ---- generated bodies: sizes, limits, nesting ---- */

/* a body of n inputs, input i being (from_of(i), to_of(i)) as JSON strings; heap */
static char *make_body(size_t n, unsigned long long (*from_of)(size_t), unsigned long long (*to_of)(size_t), size_t *len)
{
    size_t cap = 32 + n * 80, o = 0;
    char *b = hg_xmalloc(cap);
    o += (size_t)sprintf(b + o, "{\"inputs\":[");
    for (size_t i = 0; i != n; ++i)
        o += (size_t)sprintf(b + o, "%s{\"from\":{\"id\":\"%llu\"},\"to\":{\"id\":\"%llu\"}}", i != 0 ? "," : "", from_of(i),
                             to_of(i));
    o += (size_t)sprintf(b + o, "]}");
    *len = o;
    return b;
}

static unsigned long long seq(size_t i)
{
    return 1000 + i;
}

static unsigned long long fixed(size_t i)
{
    (void)i;
    return 7;
}

/* 2001 inputs whose last repeats the first */
static unsigned long long seq_wrap(size_t i)
{
    return i == 2000 ? 1000 : 1000 + i;
}

static int process(const hg_schema_t *schema, int mode, const char *body, size_t len, hg_body_result_t *r, hg_violations_t *errors)
{
    hg_body_rules_t rules = {mode, schema, 0, 2000, 32};
    hg_violations_init(errors, HG_VIOLATIONS_MAX);
    return hg_body_process(&rules, body, len, r, errors);
}

START_TEST(inputs_2000_forwarded)
{
    hg_schema_t *schema = load_schema();
    size_t len;
    char *body = make_body(2000, seq, seq, &len);
    hg_body_result_t r;
    hg_violations_t errors;
    ck_assert_int_eq(process(schema, HG_NORMALIZE_ASSOCIATIONS, body, len, &r, &errors), 0);
    ck_assert_uint_eq(r.received, 2000);
    ck_assert_uint_eq(r.forwarded, 2000);
    ck_assert_uint_eq(r.duplicates, 0);
    ck_assert_uint_eq(r.num_pairs, 2000);
    /* the generated body is already canonical */
    ck_assert_uint_eq(r.body_len, len);
    ck_assert_int_eq(memcmp(r.body, body, len), 0);
    ck_assert_str_eq(r.pairs[0], "1000");
    ck_assert_str_eq(r.pairs[1], "1000");
    ck_assert_str_eq(r.pairs[3998], "2999");
    ck_assert_str_eq(r.pairs[3999], "2999");
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
    free(body);
    hg_schema_free(schema);
}
END_TEST

START_TEST(inputs_2001_refused)
{
    hg_schema_t *schema = load_schema();
    size_t len;
    char *body = make_body(2001, seq, fixed, &len);
    hg_body_result_t r;
    hg_violations_t errors;
    ck_assert_int_eq(process(schema, HG_NORMALIZE_ASSOCIATIONS, body, len, &r, &errors), -1);
    ck_assert_uint_eq(errors.count, 1);
    ck_assert_str_eq(errors.items[0].in, "/inputs");
    ck_assert_str_eq(errors.items[0].code, "maxItems");
    ck_assert_str_eq(errors.items[0].message, "must have at most 2000 inputs after removing duplicates, has 2001");
    ck_assert_uint_eq(r.received, 2001);
    ck_assert_uint_eq(r.duplicates, 0);
    ck_assert_uint_eq(r.forwarded, 0);
    ck_assert_ptr_null(r.body);
    char *summary = hg_violations_summary(&errors, "the request body");
    ck_assert_str_eq(summary,
                     "1 problem in the request body: /inputs: must have at most 2000 inputs after removing duplicates, has 2001");
    free(summary);
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
    free(body);
    hg_schema_free(schema);
}
END_TEST

START_TEST(inputs_2001_with_a_duplicate_forwarded)
{
    hg_schema_t *schema = load_schema();
    size_t len;
    char *body = make_body(2001, seq_wrap, fixed, &len);
    hg_body_result_t r;
    hg_violations_t errors;
    ck_assert_int_eq(process(schema, HG_NORMALIZE_ASSOCIATIONS, body, len, &r, &errors), 0);
    ck_assert_uint_eq(r.received, 2001);
    ck_assert_uint_eq(r.duplicates, 1);
    ck_assert_uint_eq(r.forwarded, 2000);
    ck_assert_str_eq(r.pairs[2 * 1999], "2999");
    ck_assert_str_eq(r.pairs[2 * 1999 + 1], "7");
    /* the canonical body is the generated one without its last input */
    size_t want_len;
    char *want = make_body(2000, seq, fixed, &want_len);
    ck_assert_uint_eq(r.body_len, want_len);
    ck_assert_int_eq(memcmp(r.body, want, want_len), 0);
    free(want);
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
    free(body);
    hg_schema_free(schema);
}
END_TEST

START_TEST(inputs_4000_same_pair)
{
    hg_schema_t *schema = load_schema();
    size_t len;
    char *body = make_body(4000, fixed, seq, &len);
    /* make every "to" the same too: rewrite the body with fixed ids both sides */
    free(body);
    body = make_body(4000, fixed, fixed, &len);
    hg_body_result_t r;
    hg_violations_t errors;
    ck_assert_int_eq(process(schema, HG_NORMALIZE_ASSOCIATIONS, body, len, &r, &errors), 0);
    ck_assert_uint_eq(r.received, 4000);
    ck_assert_uint_eq(r.duplicates, 3999);
    ck_assert_uint_eq(r.forwarded, 1);
    ck_assert_uint_eq(r.num_pairs, 1);
    ck_assert_int_eq(r.body_len, strlen("{\"inputs\":[{\"from\":{\"id\":\"7\"},\"to\":{\"id\":\"7\"}}]}"));
    ck_assert_int_eq(memcmp(r.body, "{\"inputs\":[{\"from\":{\"id\":\"7\"},\"to\":{\"id\":\"7\"}}]}", r.body_len), 0);
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
    free(body);
    hg_schema_free(schema);
}
END_TEST

START_TEST(violations_beyond_the_limit_are_counted)
{
    hg_schema_t *schema = load_schema();
    /* 150 inputs, each missing "to" */
    char *body = hg_xmalloc(32 + 150 * 32);
    size_t o = (size_t)sprintf(body, "{\"inputs\":[");
    for (int i = 0; i != 150; ++i)
        o += (size_t)sprintf(body + o, "%s{\"from\":{\"id\":\"%d\"}}", i != 0 ? "," : "", i + 1);
    o += (size_t)sprintf(body + o, "]}");
    hg_body_result_t r;
    hg_violations_t errors;
    ck_assert_int_eq(process(schema, HG_NORMALIZE_ASSOCIATIONS, body, o, &r, &errors), -1);
    ck_assert_uint_eq(errors.count, 100);
    ck_assert_uint_eq(hg_violations_total(&errors), 150);
    ck_assert_str_eq(errors.items[99].in, "/inputs/99/to");
    ck_assert_str_eq(errors.items[99].code, "required");
    char *summary = hg_violations_summary(&errors, "the request body");
    ck_assert_str_eq(summary, "150 problems in the request body; first: /inputs/0/to: required property \"to\" is missing");
    free(summary);
    ck_assert_uint_eq(r.received, 150);
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
    free(body);
    hg_schema_free(schema);
}
END_TEST

START_TEST(nesting_beyond_the_limit)
{
    hg_schema_t *schema = load_schema();
    /* 33 levels: {"inputs":[ [[[...]]] ]} */
    char body[200];
    size_t o = (size_t)sprintf(body, "{\"inputs\":");
    for (int i = 0; i != 32; ++i)
        body[o++] = '[';
    for (int i = 0; i != 32; ++i)
        body[o++] = ']';
    body[o++] = '}';
    hg_body_result_t r;
    hg_violations_t errors;
    ck_assert_int_eq(process(schema, HG_NORMALIZE_ASSOCIATIONS, body, o, &r, &errors), -1);
    ck_assert_uint_eq(errors.count, 1);
    ck_assert_str_eq(errors.items[0].in, "");
    ck_assert_str_eq(errors.items[0].code, "too_deep");
    ck_assert_str_eq(errors.items[0].message, "invalid JSON at line 1, column 42 (byte 41): nesting deeper than 32 levels");
    hg_violations_clear(&errors);
    hg_body_result_dispose(&r);

    /* a million brackets cost one scan */
    size_t big = 1000000;
    char *deep = hg_xmalloc(big);
    memset(deep, '[', big);
    ck_assert_int_eq(process(schema, HG_NORMALIZE_ASSOCIATIONS, deep, big, &r, &errors), -1);
    ck_assert_str_eq(errors.items[0].code, "too_deep");
    ck_assert_str_eq(errors.items[0].message, "invalid JSON at line 1, column 33 (byte 32): nesting deeper than 32 levels");
    ck_assert_uint_eq(r.received, 0);
    hg_violations_clear(&errors);
    hg_body_result_dispose(&r);
    free(deep);
    hg_schema_free(schema);
}
END_TEST

START_TEST(ids_twenty_digits_and_leading_zeros)
{
    hg_schema_t *schema = load_schema();
    /* 20 and 19 nines, 01 and 1, 0 and 00: all distinct ids; the 20-digit key must not overflow */
    const char *body = "{\"inputs\":["
                       "{\"from\":{\"id\":\"99999999999999999999\"},\"to\":{\"id\":\"0\"}},"
                       "{\"from\":{\"id\":\"9999999999999999999\"},\"to\":{\"id\":\"0\"}},"
                       "{\"from\":{\"id\":\"01\"},\"to\":{\"id\":\"00\"}},"
                       "{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"0\"}},"
                       "{\"from\":{\"id\":\"99999999999999999999\"},\"to\":{\"id\":\"0\"}},"
                       "{\"from\":{\"id\":9223372036854775807},\"to\":{\"id\":\"00\"}},"
                       "{\"from\":{\"id\":\"9223372036854775807\"},\"to\":{\"id\":\"00\"}}]}";
    hg_body_result_t r;
    hg_violations_t errors;
    ck_assert_int_eq(process(schema, HG_NORMALIZE_ASSOCIATIONS, body, strlen(body), &r, &errors), 0);
    ck_assert_uint_eq(r.received, 7);
    ck_assert_uint_eq(r.duplicates, 2);
    ck_assert_uint_eq(r.coerced, 1);
    const char *want = "{\"inputs\":["
                       "{\"from\":{\"id\":\"99999999999999999999\"},\"to\":{\"id\":\"0\"}},"
                       "{\"from\":{\"id\":\"9999999999999999999\"},\"to\":{\"id\":\"0\"}},"
                       "{\"from\":{\"id\":\"01\"},\"to\":{\"id\":\"00\"}},"
                       "{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"0\"}},"
                       "{\"from\":{\"id\":\"9223372036854775807\"},\"to\":{\"id\":\"00\"}}]}";
    ck_assert_uint_eq(r.body_len, strlen(want));
    ck_assert_int_eq(memcmp(r.body, want, r.body_len), 0);
    ck_assert_uint_eq(r.num_pairs, 5);
    ck_assert_str_eq(r.pairs[4], "01");
    ck_assert_str_eq(r.pairs[5], "00");
    ck_assert_str_eq(r.pairs[8], "9223372036854775807");
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
    hg_schema_free(schema);
}
END_TEST

START_TEST(max_inputs_zero_is_no_limit)
{
    size_t len;
    char *body = make_body(2500, seq, seq, &len);
    hg_body_rules_t rules = {HG_NORMALIZE_ASSOCIATIONS, NULL, 0, 0, 32};
    hg_body_result_t r;
    hg_violations_t errors;
    hg_violations_init(&errors, HG_VIOLATIONS_MAX);
    ck_assert_int_eq(hg_body_process(&rules, body, len, &r, &errors), 0);
    ck_assert_uint_eq(r.forwarded, 2500);
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
    free(body);
}
END_TEST

START_TEST(earlier_violations_are_kept_and_the_limit_holds)
{
    /* the caller's list may hold a path problem already and keep only 2: the SDK hint is added
       to the body's own violation, the earlier one stays untouched, the rest is counted */
    const char *body = "{\"inputs\":[{\"to\":{\"id\":\"2\"}},{\"to\":{\"id\":\"3\"}},{\"to\":{\"id\":\"4\"}}]}";
    for (int with_schema = 0; with_schema != 2; ++with_schema) {
        hg_schema_t *schema = with_schema ? load_schema() : NULL;
        hg_body_rules_t rules = {HG_NORMALIZE_ASSOCIATIONS, schema, 0, 2000, 32};
        hg_violations_t errors;
        hg_violations_init(&errors, 2);
        hg_violations_add(&errors, "/inputs/0/from", "required", "not from the body");
        hg_body_result_t r;
        ck_assert_int_eq(hg_body_process(&rules, body, strlen(body), &r, &errors), -1);
        ck_assert_uint_eq(errors.count, 2);
        ck_assert_uint_eq(hg_violations_total(&errors), 4);
        ck_assert_str_eq(errors.items[0].message, "not from the body");
        ck_assert_str_eq(errors.items[1].in, "/inputs/0/from");
        ck_assert_str_eq(errors.items[1].message, SDK_MESSAGE);
        ck_assert_uint_eq(r.received, 3);
        hg_body_result_dispose(&r);
        hg_violations_clear(&errors);
        hg_schema_free(schema);
    }
}
END_TEST

/* ---- normalize: none ---- */

START_TEST(none_forwards_the_bytes)
{
    hg_schema_t *schema = load_schema();
    const char *body =
        "{ \"inputs\" : [ {\"to\":{\"id\":\"2\"},\"from\":{\"id\":\"1\"}}, {\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}} ] }";
    hg_body_result_t r;
    hg_violations_t errors;
    ck_assert_int_eq(process(schema, HG_NORMALIZE_NONE, body, strlen(body), &r, &errors), 0);
    ck_assert_ptr_null(r.body);
    ck_assert_ptr_null(r.pairs);
    ck_assert_uint_eq(r.num_pairs, 0);
    ck_assert_uint_eq(r.received, 2);
    ck_assert_uint_eq(r.forwarded, 2);
    ck_assert_uint_eq(r.duplicates, 0);
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
    hg_schema_free(schema);
}
END_TEST

START_TEST(none_neither_coerces_nor_drops)
{
    hg_schema_t *schema = load_schema();
    const char *body = "{\"inputs\":[{\"from\":{\"id\":1},\"to\":{\"id\":\" 2\"}}],\"x\":0}";
    hg_body_result_t r;
    hg_violations_t errors;
    ck_assert_int_eq(process(schema, HG_NORMALIZE_NONE, body, strlen(body), &r, &errors), -1);
    ck_assert_uint_eq(r.coerced, 0);
    ck_assert_uint_eq(r.dropped_fields, 0);
    ck_assert_uint_eq(r.received, 1);
    ck_assert_uint_eq(errors.count, 3);
    ck_assert_str_eq(errors.items[0].in, "/inputs/0/from/id");
    ck_assert_str_eq(errors.items[0].code, "type");
    ck_assert_str_eq(errors.items[1].in, "/inputs/0/to/id");
    ck_assert_str_eq(errors.items[1].code, "pattern");
    ck_assert_str_eq(errors.items[2].in, "/x");
    ck_assert_str_eq(errors.items[2].code, "additionalProperties");
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
    hg_schema_free(schema);
}
END_TEST

START_TEST(none_without_schema_takes_any_json)
{
    hg_body_result_t r;
    hg_violations_t errors;
    ck_assert_int_eq(process(NULL, HG_NORMALIZE_NONE, "[1,{\"a\":null}]", 14, &r, &errors), 0);
    ck_assert_uint_eq(r.received, 0);
    ck_assert_ptr_null(r.body);
    hg_body_result_dispose(&r);
    ck_assert_int_eq(process(NULL, HG_NORMALIZE_NONE, "{\"a\":1,\"a\":2}", 13, &r, &errors), -1);
    ck_assert_str_eq(errors.items[0].code, "duplicate_key");
    hg_body_result_dispose(&r);
    hg_violations_clear(&errors);
}
END_TEST

/* ---- path parameters ---- */

static size_t norm_path(const char *path, hg_path_types_t *types, char *buf, size_t bufsize, hg_violations_t *errors)
{
    hg_violations_t terr;
    hg_violations_init(&terr, 4);
    hg_template_t *t = hg_template_compile("/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default",
                                           "/routes/0/path", &terr);
    ck_assert_ptr_nonnull(t);
    hg_template_match_t m;
    ck_assert_int_eq(hg_template_match(t, path, strlen(path), &m), 1);
    int from = hg_template_param_index(t, "fromObjectType"), to = hg_template_param_index(t, "toObjectType");
    size_t n = hg_normalize_path(t, &m, from, to, types, buf, bufsize, errors);
    hg_template_free(t);
    hg_violations_clear(&terr);
    return n;
}

START_TEST(path_names_become_ids)
{
    static const struct {
        const char *path, *want, *from, *to;
    } cases[] = {
        {"/crm/v4/associations/contacts/companies/batch/associate/default", "/crm/v4/associations/0-1/0-2/batch/associate/default",
         "0-1", "0-2"},
        {"/crm/v4/associations/CONTACT/Deals/batch/associate/default", "/crm/v4/associations/0-1/0-3/batch/associate/default",
         "0-1", "0-3"},
        {"/crm/v4/associations/2-123456/line_items/batch/associate/default",
         "/crm/v4/associations/2-123456/0-8/batch/associate/default", "2-123456", "0-8"},
        {"/crm/v4/associations/0-999/Commerce_Payments/batch/associate/default",
         "/crm/v4/associations/0-999/0-101/batch/associate/default", "0-999", "0-101"},
        {"/crm/v4/associations/user/user/batch/associate/default", "/crm/v4/associations/0-115/0-115/batch/associate/default",
         "0-115", "0-115"},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        hg_violations_t errors;
        hg_violations_init(&errors, HG_VIOLATIONS_MAX);
        hg_path_types_t types;
        char buf[256];
        size_t n = norm_path(cases[i].path, &types, buf, strlen(cases[i].path) + 2 * HG_OBJTYPE_ID_SIZE, &errors);
        ck_assert_uint_eq(errors.count, 0);
        ck_assert_str_eq(buf, cases[i].want);
        ck_assert_uint_eq(n, strlen(cases[i].want));
        ck_assert_str_eq(types.from, cases[i].from);
        ck_assert_str_eq(types.to, cases[i].to);
        hg_violations_clear(&errors);
    }
}
END_TEST

START_TEST(path_unknown_types)
{
    hg_violations_t errors;
    hg_violations_init(&errors, HG_VIOLATIONS_MAX);
    hg_path_types_t types;
    char buf[256];
    ck_assert_uint_eq(norm_path("/crm/v4/associations/foo/0-01/batch/associate/default", &types, buf, sizeof(buf), &errors), 0);
    ck_assert_uint_eq(errors.count, 2);
    ck_assert_str_eq(errors.items[0].in, "path:fromObjectType");
    ck_assert_str_eq(errors.items[0].code, "unknown_object_type");
    ck_assert_str_eq(errors.items[0].message, "unknown object type \"foo\"");
    ck_assert_str_eq(errors.items[1].in, "path:toObjectType");
    ck_assert_str_eq(errors.items[1].code, "unknown_object_type");
    ck_assert_str_eq(errors.items[1].message, "unknown object type \"0-01\"");
    ck_assert_str_eq(types.from, "");
    ck_assert_str_eq(types.to, "");
    char *summary = hg_violations_summary(&errors, "the request");
    ck_assert_str_eq(summary, "2 problems in the request; first: path:fromObjectType: unknown object type \"foo\"");
    free(summary);
    hg_violations_clear(&errors);

    /* the client's bytes are escaped and cut in the message */
    ck_assert_uint_eq(
        norm_path("/crm/v4/associations/a\"b\\c\x01\xc3\xa9%2F/deals/batch/associate/default", &types, buf, sizeof(buf), &errors),
        0);
    ck_assert_uint_eq(errors.count, 1);
    ck_assert_str_eq(errors.items[0].message, "unknown object type \"a\\x22b\\x5Cc\\x01\\xC3\\xA9%2F\"");
    hg_violations_clear(&errors);
    char seg[300];
    memset(seg, 'x', sizeof(seg));
    ck_assert_int_eq(hg_normalize_object_type("toObjectType", seg, sizeof(seg), types.to, &errors), -1);
    ck_assert_str_eq(errors.items[0].in, "path:toObjectType");
    ck_assert_str_eq(errors.items[0].message,
                     "unknown object type \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"");
    hg_violations_clear(&errors);
}
END_TEST

START_TEST(path_buffer_too_small)
{
    hg_violations_t errors;
    hg_violations_init(&errors, HG_VIOLATIONS_MAX);
    hg_path_types_t types;
    char buf[256];
    ck_assert_uint_eq(norm_path("/crm/v4/associations/contacts/deals/batch/associate/default", &types, buf, 20, &errors), 0);
    ck_assert_uint_eq(errors.count, 1);
    ck_assert_str_eq(errors.items[0].in, "path");
    ck_assert_str_eq(errors.items[0].code, "bad_path");
    ck_assert_str_eq(errors.items[0].message, "the canonical path is longer than 20 bytes");
    hg_violations_clear(&errors);
}
END_TEST

START_TEST(path_route_without_type_parameters)
{
    hg_violations_t errors, terr;
    hg_violations_init(&errors, HG_VIOLATIONS_MAX);
    hg_violations_init(&terr, 4);
    hg_template_t *t = hg_template_compile("/crm/v3/objects/{objectType}/batch/read", "/routes/1/path", &terr);
    hg_template_match_t m;
    ck_assert_int_eq(hg_template_match(t, "/crm/v3/objects/whatever/batch/read", 35, &m), 1);
    hg_path_types_t types;
    char buf[64];
    ck_assert_uint_eq(hg_normalize_path(t, &m, -1, -1, &types, buf, sizeof(buf), &errors), 35);
    ck_assert_str_eq(buf, "/crm/v3/objects/whatever/batch/read");
    ck_assert_str_eq(types.from, "");
    ck_assert_str_eq(types.to, "");
    ck_assert_uint_eq(errors.count, 0);
    hg_template_free(t);
    hg_violations_clear(&terr);
}
END_TEST

/* ---- the top message ---- */

START_TEST(summary_texts)
{
    hg_violations_t v;
    hg_violations_init(&v, 2);
    char *s = hg_violations_summary(&v, "the request body");
    ck_assert_str_eq(s, "no problems in the request body");
    free(s);
    hg_violations_add(&v, "", "invalid_json", "invalid JSON at line 1, column 1 (byte 0): empty body");
    s = hg_violations_summary(&v, "the request body");
    ck_assert_str_eq(s, "1 problem in the request body: invalid JSON at line 1, column 1 (byte 0): empty body");
    free(s);
    hg_violations_add(&v, "/inputs/0/from", "required", "required property \"from\" is missing");
    hg_violations_add(&v, "/inputs/1/from", "required", "required property \"from\" is missing");
    s = hg_violations_summary(&v, "the request body");
    ck_assert_str_eq(s, "3 problems in the request body; first: invalid JSON at line 1, column 1 (byte 0): empty body");
    free(s);
    hg_violations_clear(&v);
    hg_violations_init(&v, 0);
    hg_violations_add(&v, "/x", "type", "must be a string");
    s = hg_violations_summary(&v, "the request body");
    ck_assert_str_eq(s, "1 problem in the request body");
    free(s);
    hg_violations_clear(&v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("normalize");
    TCase *tc = tcase_create("shape");
    tcase_add_loop_test(tc, shape_case, 0, (int)(sizeof(shape_cases) / sizeof(shape_cases[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("schema");
    tcase_add_loop_test(tc, schema_case, 0, (int)(sizeof(schema_cases) / sizeof(schema_cases[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("generated");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, inputs_2000_forwarded);
    tcase_add_test(tc, inputs_2001_refused);
    tcase_add_test(tc, inputs_2001_with_a_duplicate_forwarded);
    tcase_add_test(tc, inputs_4000_same_pair);
    tcase_add_test(tc, violations_beyond_the_limit_are_counted);
    tcase_add_test(tc, nesting_beyond_the_limit);
    tcase_add_test(tc, ids_twenty_digits_and_leading_zeros);
    tcase_add_test(tc, max_inputs_zero_is_no_limit);
    tcase_add_test(tc, earlier_violations_are_kept_and_the_limit_holds);
    suite_add_tcase(s, tc);
    tc = tcase_create("none");
    tcase_add_test(tc, none_forwards_the_bytes);
    tcase_add_test(tc, none_neither_coerces_nor_drops);
    tcase_add_test(tc, none_without_schema_takes_any_json);
    suite_add_tcase(s, tc);
    tc = tcase_create("path");
    tcase_add_test(tc, path_names_become_ids);
    tcase_add_test(tc, path_unknown_types);
    tcase_add_test(tc, path_buffer_too_small);
    tcase_add_test(tc, path_route_without_type_parameters);
    suite_add_tcase(s, tc);
    tc = tcase_create("summary");
    tcase_add_test(tc, summary_texts);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
