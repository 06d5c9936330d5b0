/*
 * test_jsonstrict.c: strict JSON intake. Every refusal is checked for its
 * exact code, pointer and message (with line, column and byte), and each rule
 * at its boundary: depth max_depth vs max_depth + 1, int64 limits, valid vs
 * lone surrogates, BOM, NUL, overlong UTF-8, trailing data, empty bodies.
 */
#include "jsonstrict.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static void expect_error_n(const char *body, size_t len, size_t max_depth, const char *code, const char *in, const char *message)
{
    hg_violations_t v;
    hg_violations_init(&v, 10);
    json_t *value = hg_json_parse_strict(body, len, max_depth, &v);
    ck_assert_ptr_null(value);
    ck_assert_uint_eq(v.count, 1);
    ck_assert_str_eq(v.items[0].code, code);
    ck_assert_str_eq(v.items[0].in, in);
    ck_assert_str_eq(v.items[0].message, message);
    hg_violations_clear(&v);
}

static void expect_error(const char *body, size_t max_depth, const char *code, const char *in, const char *message)
{
    expect_error_n(body, strlen(body), max_depth, code, in, message);
}

/* parses body and compares its compact dump (JSON_ENCODE_ANY) with want */
static void expect_ok(const char *body, size_t max_depth, const char *want)
{
    hg_violations_t v;
    hg_violations_init(&v, 10);
    json_t *value = hg_json_parse_strict(body, strlen(body), max_depth, &v);
    ck_assert_ptr_nonnull(value);
    ck_assert_uint_eq(v.count, 0);
    char *dump = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_str_eq(dump, want);
    free(dump);
    json_decref(value);
}

START_TEST(accepts_valid_bodies)
{
    expect_ok("{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}", 32,
              "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}");
    expect_ok(" \r\n\t{ \"a\" : [ 1 , 2.5 , true , null ] } \n", 32, "{\"a\":[1,2.5,true,null]}");
    expect_ok("\"just a string\"", 1, "\"just a string\"");
    expect_ok("42", 1, "42");
    expect_ok("[9223372036854775807,-9223372036854775808]", 1, "[9223372036854775807,-9223372036854775808]");
    expect_ok("[\"\\ud83d\\ude00\",\"\xc3\xa9\"]", 1, "[\"\xf0\x9f\x98\x80\",\"\xc3\xa9\"]");
    expect_ok("{\"a\":{\"a\":1},\"b\":{\"a\":2}}", 2, "{\"a\":{\"a\":1},\"b\":{\"a\":2}}");

    hg_violations_t v;
    hg_violations_init(&v, 10);
    json_t *real = hg_json_parse_strict("1.0", 3, 1, &v);
    ck_assert(json_is_real(real));
    ck_assert(json_real_value(real) == 1.0);
    json_decref(real);
    json_t *tiny = hg_json_parse_strict("1e-400", 6, 1, &v);
    ck_assert(json_is_real(tiny));
    json_decref(tiny);
    ck_assert_uint_eq(v.count, 0);
}
END_TEST

START_TEST(empty_and_bom)
{
    expect_error_n("", 0, 32, "invalid_json", "", "invalid JSON at line 1, column 1 (byte 0): empty body");
    expect_error(" \n\t ", 32, "invalid_json", "", "invalid JSON at line 2, column 3 (byte 4): empty body");
    expect_error("\xEF\xBB\xBF{}", 32, "invalid_json", "",
                 "invalid JSON at line 1, column 1 (byte 0): a byte order mark (BOM) is not allowed");
}
END_TEST

START_TEST(depth_limits)
{
    expect_ok("[[[]]]", 3, "[[[]]]");
    expect_ok("{\"a\":[{\"b\":1}]}", 3, "{\"a\":[{\"b\":1}]}");
    expect_error("[[[[]]]]", 3, "too_deep", "", "invalid JSON at line 1, column 4 (byte 3): nesting deeper than 3 levels");
    expect_error("{\"a\":[{\"b\":{}}]}", 3, "too_deep", "",
                 "invalid JSON at line 1, column 12 (byte 11): nesting deeper than 3 levels");
    /* brackets inside strings, also after escaped quotes and backslashes, do not count */
    expect_ok("[\"[[[{{\",\"\\\"[[\",\"\\\\\"]", 1, "[\"[[[{{\",\"\\\"[[\",\"\\\\\"]");
    expect_error("[\"\\\\\",[]]", 1, "too_deep", "", "invalid JSON at line 1, column 7 (byte 6): nesting deeper than 1 levels");

    /* exactly 32 and 33 levels with the contract's default */
    char deep[80];
    memset(deep, '[', 32);
    memset(deep + 32, ']', 32);
    deep[64] = '\0';
    hg_violations_t v;
    hg_violations_init(&v, 10);
    json_t *ok = hg_json_parse_strict(deep, 64, 32, &v);
    ck_assert_ptr_nonnull(ok);
    json_decref(ok);
    memset(deep, '[', 33);
    memset(deep + 33, ']', 33);
    deep[66] = '\0';
    expect_error(deep, 32, "too_deep", "", "invalid JSON at line 1, column 33 (byte 32): nesting deeper than 32 levels");

    /* a hostile megabyte of brackets is refused at the first bracket too many */
    size_t big = 1 << 20;
    char *hostile = malloc(big);
    memset(hostile, '[', big);
    expect_error_n(hostile, big, 32, "too_deep", "", "invalid JSON at line 1, column 33 (byte 32): nesting deeper than 32 levels");
    free(hostile);

    /* jansson's own limit (2048) is reported as too_deep as well */
    size_t n = 3000;
    char *very = malloc(2 * n + 1);
    memset(very, '[', n);
    memset(very + n, ']', n);
    very[2 * n] = '\0';
    expect_error(very, 5000, "too_deep", "", "invalid JSON at line 1, column 2049 (byte 2048): nesting too deep");
    free(very);
}
END_TEST

START_TEST(duplicate_keys)
{
    expect_error("{\"a\":1,\"a\":2}", 32, "duplicate_key", "/a", "invalid JSON at line 1, column 8 (byte 7): duplicate key \"a\"");
    expect_error("{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}},{\"from\":{\"id\":\"3\"},\"to\":{\"id\":\"4\"},"
                 "\"from\":{\"id\":\"5\"}}]}",
                 32, "duplicate_key", "/inputs/1/from", "invalid JSON at line 1, column 83 (byte 82): duplicate key \"from\"");
    expect_error("{\"inputs\":[{\"from\":{\"id\":\"1\",\"id\":\"2\"}}]}", 32, "duplicate_key", "/inputs/0/from/id",
                 "invalid JSON at line 1, column 30 (byte 29): duplicate key \"id\"");
    /* escapes are decoded before comparing and in the pointer; "/" and "~" are escaped per RFC 6901 */
    expect_error("{\"a/b\":1,\"a\\/b\":2}", 32, "duplicate_key", "/a~1b",
                 "invalid JSON at line 1, column 10 (byte 9): duplicate key \"a/b\"");
    expect_error("{\"x\":[0,[],{\"~k\":1,\"\\u007ek\":2}]}", 32, "duplicate_key", "/x/2/~0k",
                 "invalid JSON at line 1, column 20 (byte 19): duplicate key \"~k\"");
    expect_error("{\n  \"a\": 1,\n  \"a\": 2\n}", 32, "duplicate_key", "/a",
                 "invalid JSON at line 3, column 3 (byte 14): duplicate key \"a\"");
}
END_TEST

START_TEST(nul_and_control_characters)
{
    expect_error("{\"a\":\"x\\u0000y\"}", 32, "invalid_json", "",
                 "invalid JSON at line 1, column 8 (byte 7): \\u0000 (NUL) is not allowed in a string");
    expect_error("{\"a\\u0000\":1}", 32, "invalid_json", "",
                 "invalid JSON at line 1, column 4 (byte 3): \\u0000 (NUL) is not allowed in a string");
    expect_error("[\"a\nb\"]", 32, "invalid_json", "",
                 "invalid JSON at line 1, column 4 (byte 3): control character 0x0A in a string must be escaped");
    expect_error_n("[\"a\0b\"]", 7, 32, "invalid_json", "",
                   "invalid JSON at line 1, column 4 (byte 3): control character 0x00 in a string must be escaped");
}
END_TEST

START_TEST(utf8)
{
    expect_error("[\"\xC0\xAF\"]", 32, "invalid_utf8", "", "invalid JSON at line 1, column 3 (byte 2): invalid UTF-8 (byte 0xC0)");
    expect_error("[\"\xE0\x80\xAF\"]", 32, "invalid_utf8", "",
                 "invalid JSON at line 1, column 3 (byte 2): invalid UTF-8 (byte 0xE0)");
    expect_error("[\"\xED\xA0\x80\"]", 32, "invalid_utf8", "",
                 "invalid JSON at line 1, column 3 (byte 2): invalid UTF-8 (byte 0xED)");
    expect_error("[\"\xF4\x90\x80\x80\"]", 32, "invalid_utf8", "",
                 "invalid JSON at line 1, column 3 (byte 2): invalid UTF-8 (byte 0xF4)");
    /* columns count characters: "é" is two bytes, one column */
    expect_error("[\"\xc3\xa9\",\"\xff\"]", 32, "invalid_utf8", "",
                 "invalid JSON at line 1, column 7 (byte 7): invalid UTF-8 (byte 0xFF)");
    expect_error("[1]\x80", 32, "invalid_utf8", "", "invalid JSON at line 1, column 4 (byte 3): invalid UTF-8 (byte 0x80)");
    expect_error("[\"ab\\ud800\"]", 32, "invalid_utf8", "",
                 "invalid JSON at line 1, column 5 (byte 4): unpaired surrogate \\uD800 cannot be encoded in UTF-8");
    expect_error("[\"\\udc00\"]", 32, "invalid_utf8", "",
                 "invalid JSON at line 1, column 3 (byte 2): unpaired surrogate \\uDC00 cannot be encoded in UTF-8");
    expect_error("[\"\\ud83d\\ude00\\uD800\\u0041\"]", 32, "invalid_utf8", "",
                 "invalid JSON at line 1, column 15 (byte 14): unpaired surrogate \\uD800 cannot be encoded in UTF-8");
}
END_TEST

START_TEST(numbers)
{
    expect_error("{\"n\":12345678901234567890}", 32, "invalid_json", "",
                 "invalid JSON at line 1, column 6 (byte 5): integer 12345678901234567890 is too large (beyond 64 bits)");
    expect_error("[-9223372036854775809]", 32, "invalid_json", "",
                 "invalid JSON at line 1, column 2 (byte 1): integer -9223372036854775809 is too large (beyond 64 bits)");
    expect_error("[1e400]", 32, "invalid_json", "", "invalid JSON at line 1, column 2 (byte 1): number 1e400 is too large");
    expect_error("[-1.5E+999]", 32, "invalid_json", "", "invalid JSON at line 1, column 2 (byte 1): number -1.5E+999 is too large");
    expect_error("[123456789012345678901234567890123456789012345678901234567890]", 32, "invalid_json", "",
                 "invalid JSON at line 1, column 2 (byte 1): integer 1234567890123456789012345678901234567890... is too large "
                 "(beyond 64 bits)");
    expect_error("[01]", 32, "invalid_json", "", "invalid JSON at line 1, column 2 (byte 1): invalid token near '0'");
}
END_TEST

START_TEST(syntax)
{
    expect_error("{\"a\":1}x", 32, "invalid_json", "",
                 "invalid JSON at line 1, column 8 (byte 7): unexpected data after the JSON value");
    expect_error("{\"a\":1} {\"b\":2}", 32, "invalid_json", "",
                 "invalid JSON at line 1, column 9 (byte 8): unexpected data after the JSON value");
    expect_error("{\"a\" 1}", 32, "invalid_json", "", "invalid JSON at line 1, column 6 (byte 5): ':' expected near '1'");
    expect_error("[1,]", 32, "invalid_json", "", "invalid JSON at line 1, column 4 (byte 3): unexpected token near ']'");
    expect_error("{\"a\":tru}", 32, "invalid_json", "", "invalid JSON at line 1, column 6 (byte 5): invalid token near 'tru'");
    expect_error("{\"a\":\"abc", 32, "invalid_json", "", "invalid JSON at line 1, column 10 (byte 9): unexpected end of input");
    expect_error("[1,\n 2", 32, "invalid_json", "", "invalid JSON at line 2, column 3 (byte 6): unexpected end of input");
    expect_error("{'a':1}", 32, "invalid_json", "", "invalid JSON at line 1, column 2 (byte 1): string or '}' expected near '''");
    expect_error("[\"\\x\"]", 32, "invalid_json", "", "invalid JSON at line 1, column 2 (byte 1): invalid escape near '\"\\x'");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonstrict");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {{"accepts", accepts_valid_bodies},
                 {"empty_bom", empty_and_bom},
                 {"depth", depth_limits},
                 {"duplicates", duplicate_keys},
                 {"nul", nul_and_control_characters},
                 {"utf8", utf8},
                 {"numbers", numbers},
                 {"syntax", syntax}};
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
