/*
 * test_core.c: the small pure pieces of the request path: request ids, path
 * hygiene, route templates and HubSpot-shaped error bodies.
 */
#include "errbody.h"
#include "hygiene.h"
#include "reqid.h"
#include "route.h"
#include "util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(reqid_accepts_only_the_safe_alphabet)
{
    ck_assert_int_eq(hg_reqid_is_valid("abc-DEF_012.3:4", 15), 1);
    ck_assert_int_eq(hg_reqid_is_valid("", 0), 0);
    ck_assert_int_eq(hg_reqid_is_valid("a b", 3), 0);
    ck_assert_int_eq(hg_reqid_is_valid("a\r\nX-Evil: 1", 13), 0);
    ck_assert_int_eq(hg_reqid_is_valid("caf\xc3\xa9", 5), 0);
    char longid[130];
    memset(longid, 'a', sizeof(longid));
    ck_assert_int_eq(hg_reqid_is_valid(longid, 128), 1);
    ck_assert_int_eq(hg_reqid_is_valid(longid, 129), 0);
}
END_TEST

START_TEST(uuid7_layout)
{
    const uint8_t random[10] = {0xff, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    char out[HG_UUID_LEN + 1];
    hg_uuid7_format(out, 0x0123456789abULL, random);
    ck_assert_str_eq(out, "01234567-89ab-7fee-bf01-020304050607");
    char a[HG_UUID_LEN + 1], b[HG_UUID_LEN + 1];
    hg_uuid7_new(a);
    hg_uuid7_new(b);
    ck_assert_uint_eq(strlen(a), 36);
    ck_assert_int_eq(a[14], '7');
    ck_assert_str_ne(a, b);

    /* the per-worker generator: version 7, variant 10, never the same id twice in a run */
    hg_rng_t rng;
    hg_rng_seed(&rng);
    char prev[HG_UUID_LEN + 1] = "";
    for (int i = 0; i != 1000; ++i) {
        char id[HG_UUID_LEN + 1];
        hg_uuid7_next(&rng, id);
        ck_assert_uint_eq(strlen(id), 36);
        ck_assert_int_eq(id[14], '7');
        ck_assert_msg(strchr("89ab", id[19]) != NULL, "variant of %s", id);
        ck_assert_str_ne(id, prev);
        memcpy(prev, id, sizeof(id));
    }
}
END_TEST

static const char *problem(const char *p)
{
    return hg_path_problem(p, strlen(p));
}

START_TEST(hygiene_refuses_ambiguous_paths)
{
    ck_assert_ptr_null(problem("/crm/v4/associations/contacts/companies/batch/associate/default"));
    ck_assert_ptr_null(problem("/a/b?x=..&y=%2F//"));
    ck_assert_ptr_null(problem("/"));
    ck_assert_str_eq(problem("/a%2Fb"), "the path holds an encoded slash (%2F)");
    ck_assert_str_eq(problem("/a%2fb"), "the path holds an encoded slash (%2F)");
    ck_assert_str_eq(problem("/a/%2e%2e/b"), "the path holds an encoded dot (%2E)");
    ck_assert_str_eq(problem("/a/%2E/b"), "the path holds an encoded dot (%2E)");
    ck_assert_str_eq(problem("/a%00"), "the path holds an encoded NUL (%00)");
    ck_assert_str_eq(problem("/a/../b"), "the path holds a dot segment");
    ck_assert_str_eq(problem("/a/./b"), "the path holds a dot segment");
    ck_assert_str_eq(problem("/a/.."), "the path holds a dot segment");
    ck_assert_str_eq(problem("/.."), "the path holds a dot segment");
    ck_assert_str_eq(problem("/a//b"), "the path holds an empty segment (//)");
    ck_assert_str_eq(problem("//a"), "the path holds an empty segment (//)");
    ck_assert_str_eq(problem("a/b"), "the path must start with \"/\"");
    ck_assert_str_eq(problem("/a b"), "the path holds a byte that is not visible ASCII");
    ck_assert_str_eq(problem("/a\x80"), "the path holds a byte that is not visible ASCII");
    ck_assert_str_eq(problem("/a%2"), "the path holds a truncated percent-encoding");
    ck_assert_ptr_null(problem("/a/.b/..c/...")); /* dots inside names are fine */
}
END_TEST

#define ASSOC "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default"

START_TEST(template_matches_and_builds)
{
    hg_violations_t v;
    hg_violations_init(&v, 10);
    hg_template_t *t = hg_template_compile(ASSOC, "/routes/0/path", &v);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(hg_template_num_params(t), 2);
    ck_assert_str_eq(hg_template_param_name(t, 1), "toObjectType");
    ck_assert_int_eq(hg_template_param_index(t, "fromObjectType"), 0);
    ck_assert_int_eq(hg_template_param_index(t, "nope"), -1);

    hg_template_match_t m;
    const char *p = "/crm/v4/associations/contacts/0-2/batch/associate/default";
    ck_assert_int_eq(hg_template_match(t, p, strlen(p), &m), 1);
    ck_assert_uint_eq(m.num_params, 2);
    ck_assert_uint_eq(m.values[0].len, 8);
    ck_assert_int_eq(memcmp(m.values[0].base, "contacts", 8), 0);
    ck_assert_int_eq(memcmp(m.values[1].base, "0-2", 3), 0);

    const char *misses[] = {"/crm/v4/associations/contacts/0-2/batch/associate/default/",
                            "/crm/v4/associations/contacts/0-2/batch/associate",
                            "/crm/v4/associations//0-2/batch/associate/default",
                            "/CRM/v4/associations/contacts/0-2/batch/associate/default",
                            "/crm/v4/associations/contacts/x/0-2/batch/associate/default",
                            "/",
                            ""};
    for (size_t i = 0; i != sizeof(misses) / sizeof(misses[0]); ++i)
        ck_assert_msg(hg_template_match(t, misses[i], strlen(misses[i]), &m) == 0, "%s matched", misses[i]);

    hg_slice_t values[2] = {{"0-1", 3}, {"0-2", 3}};
    char buf[128];
    size_t n = hg_template_build(t, values, buf, sizeof(buf));
    ck_assert_str_eq(buf, "/crm/v4/associations/0-1/0-2/batch/associate/default");
    ck_assert_uint_eq(n, strlen(buf));
    ck_assert_uint_eq(hg_template_build(t, values, buf, 20), 0);
    hg_template_free(t);
    ck_assert_uint_eq(v.count, 0);
}
END_TEST

START_TEST(template_refuses_malformed)
{
    const char *bad[] = {"crm/x", "/a//b", "/a/{x", "/a/{}", "/a/x{y}", "/{a}/{a}", "/a/%2F", "/a/{b-c}"};
    const char *why[] = {"a path template must start with \"/\"",
                         "a path template must not have empty segments",
                         "a parameter must be a whole segment of the form {name}",
                         "a parameter must be a whole segment of the form {name}",
                         "a literal segment must not contain '{', '}' or '%'",
                         "parameter {a} appears twice",
                         "a literal segment must not contain '{', '}' or '%'",
                         "a parameter must be a whole segment of the form {name}"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        hg_violations_t v;
        hg_violations_init(&v, 10);
        ck_assert_ptr_null(hg_template_compile(bad[i], "/routes/2/path", &v));
        ck_assert_uint_eq(v.count, 1);
        ck_assert_str_eq(v.items[0].in, "/routes/2/path");
        ck_assert_str_eq(v.items[0].message, why[i]);
        hg_violations_clear(&v);
    }
}
END_TEST

START_TEST(errbody_shape)
{
    hg_violations_t v;
    hg_violations_init(&v, 1);
    hg_violations_add(&v, "/inputs/0/from", "required", "required property \"from\" is missing");
    hg_violations_add(&v, "/inputs/1/from", "required", "required property \"from\" is missing");
    size_t len;
    char *body = hg_errbody_build(400, "2 problems", "rid-1", &v, NULL, &len);
    ck_assert_str_eq(body, "{\"status\":\"error\",\"message\":\"2 problems\",\"correlationId\":\"rid-1\","
                           "\"category\":\"VALIDATION_ERROR\",\"errors\":[{\"message\":\"required property \\\"from\\\" is "
                           "missing\",\"in\":\"/inputs/0/from\",\"code\":\"required\"},{\"message\":\"1 more problem was "
                           "found and not listed\",\"code\":\"too_many_errors\"}]}");
    ck_assert_uint_eq(len, strlen(body));
    free(body);
    hg_violations_clear(&v);

    body = hg_errbody_build(502, "upstream connection failed", "rid-2", NULL, NULL, &len);
    ck_assert_str_eq(body, "{\"status\":\"error\",\"message\":\"upstream connection failed\",\"correlationId\":\"rid-2\","
                           "\"category\":\"GATEWAY_ERROR\"}");
    free(body);

    json_t *detail = json_pack("{s:s,s:{s:[s]}}", "message", "One or more of the following scopes are required.", "context",
                               "requiredGranularScopes", "crm.objects.contacts.write");
    body = hg_errbody_build(403, "missing scopes", "rid-3", NULL, detail, &len);
    ck_assert_str_eq(body, "{\"status\":\"error\",\"message\":\"missing scopes\",\"correlationId\":\"rid-3\","
                           "\"category\":\"MISSING_SCOPES\",\"errors\":[{\"message\":\"One or more of the following scopes are "
                           "required.\",\"context\":{\"requiredGranularScopes\":[\"crm.objects.contacts.write\"]}}]}");
    free(body);
    json_decref(detail);
    ck_assert_str_eq(hg_errbody_category(401), "INVALID_AUTHENTICATION");
    ck_assert_str_eq(hg_errbody_category(404), "OBJECT_NOT_FOUND");
    ck_assert_str_eq(hg_errbody_category(413), "VALIDATION_ERROR");
    ck_assert_str_eq(hg_errbody_category(415), "VALIDATION_ERROR");
    ck_assert_str_eq(hg_errbody_category(503), "GATEWAY_ERROR");
}
END_TEST

START_TEST(decimal_digits)
{
    static const struct {
        uint64_t v;
        const char *text;
    } cases[] = {{0, "0"}, {7, "7"}, {10, "10"}, {65535, "65535"}, {UINT64_MAX, "18446744073709551615"}};
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        char buf[24];
        memset(buf, 'x', sizeof(buf));
        char *end = hg_put_u64(buf, cases[i].v);
        ck_assert_uint_eq((size_t)(end - buf), strlen(cases[i].text));
        ck_assert(memcmp(buf, cases[i].text, strlen(cases[i].text)) == 0);
        ck_assert_int_eq(*end, 'x'); /* nothing written past the digits */
    }
}
END_TEST

START_TEST(sha256_known_vectors)
{
    char hex[65];
    hg_sha256_hex(NULL, "", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hg_sha256_hex(NULL, "abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* a hasher used again and again gives each message its own digest */
    hg_sha256_t *h = hg_sha256_new();
    for (int i = 0; i != 3; ++i) {
        hg_sha256_hex(h, "abc", 3, hex);
        ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        hg_sha256_hex(h, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
        ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    hg_sha256_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("reqid");
    tcase_add_test(tc, reqid_accepts_only_the_safe_alphabet);
    tcase_add_test(tc, uuid7_layout);
    suite_add_tcase(s, tc);
    tc = tcase_create("hygiene");
    tcase_add_test(tc, hygiene_refuses_ambiguous_paths);
    suite_add_tcase(s, tc);
    tc = tcase_create("route");
    tcase_add_test(tc, template_matches_and_builds);
    tcase_add_test(tc, template_refuses_malformed);
    suite_add_tcase(s, tc);
    tc = tcase_create("util");
    tcase_add_test(tc, sha256_known_vectors);
    tcase_add_test(tc, decimal_digits);
    suite_add_tcase(s, tc);
    tc = tcase_create("errbody");
    tcase_add_test(tc, errbody_shape);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
