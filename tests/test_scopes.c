/*
 * test_scopes.c: compiling scopes_any (templates, refused entries with their
 * pointers), exact matching in configuration order, and the expanded lists
 * for WWW-Authenticate scope="..." and requiredGranularScopes.
 */
#include "scopes.h"
#include "util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static hg_principal_t *principal(const char *const *scopes)
{
    hg_principal_t *p = hg_principal_new("iss", NULL, NULL, 0);
    for (; *scopes != NULL; ++scopes)
        hg_principal_add_scope(p, *scopes, strlen(*scopes));
    hg_principal_seal(p);
    return p;
}

static hg_scopeset_t *compile(const char *json, hg_violations_t *v)
{
    json_t *any = json_loads(json, JSON_DECODE_ANY, NULL);
    hg_violations_init(v, 10);
    hg_scopeset_t *s = hg_scopeset_new(any, "/routes/2/scopes_any", v);
    json_decref(any);
    return s;
}

START_TEST(refused_entries)
{
    static const struct {
        const char *json, *in, *code, *message;
    } cases[] = {
        {"\"crm.objects.contacts.write\"", "/routes/2/scopes_any", "type", "scopes_any must be an array of scope strings"},
        {"[]", "/routes/2/scopes_any", "minItems", "scopes_any must name at least one scope"},
        {"[\"a\",7]", "/routes/2/scopes_any/1", "type", "a scope must be a string"},
        {"[\"\"]", "/routes/2/scopes_any/0", "invalid_scope", "scope \"\" must not be empty"},
        {"[\"a b\"]", "/routes/2/scopes_any/0", "invalid_scope",
         "scope \"a b\" may only contain printable ASCII without spaces, '\"' and '\\'"},
        {"[\"a\\\"b\"]", "/routes/2/scopes_any/0", "invalid_scope",
         "scope \"a\"b\" may only contain printable ASCII without spaces, '\"' and '\\'"},
        {"[\"crm.objects.{objectType}.write\"]", "/routes/2/scopes_any/0", "invalid_scope",
         "scope \"crm.objects.{objectType}.write\" has a '{' or '}' that is not {fromObjectType} or {toObjectType}"},
        {"[\"crm.{fromObjectType\"]", "/routes/2/scopes_any/0", "invalid_scope",
         "scope \"crm.{fromObjectType\" has a '{' or '}' that is not {fromObjectType} or {toObjectType}"},
        {"[\"crm}\"]", "/routes/2/scopes_any/0", "invalid_scope",
         "scope \"crm}\" has a '{' or '}' that is not {fromObjectType} or {toObjectType}"},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        hg_violations_t v;
        ck_assert_ptr_null(compile(cases[i].json, &v));
        ck_assert_uint_eq(v.count, 1);
        ck_assert_str_eq(v.items[0].in, cases[i].in);
        ck_assert_str_eq(v.items[0].code, cases[i].code);
        ck_assert_str_eq(v.items[0].message, cases[i].message);
        hg_violations_clear(&v);
    }
    char *longer = hg_xmalloc(HG_SCOPE_ENTRY_MAX + 5);
    memset(longer + 1, 'a', HG_SCOPE_ENTRY_MAX + 1);
    longer[0] = longer[HG_SCOPE_ENTRY_MAX + 2] = '"';
    longer[HG_SCOPE_ENTRY_MAX + 3] = '\0';
    char *json = hg_xasprintf("[%s]", longer);
    hg_violations_t v;
    ck_assert_ptr_null(compile(json, &v));
    ck_assert_str_eq(v.items[0].code, "invalid_scope");
    hg_violations_clear(&v);
    free(json);
    free(longer);
}
END_TEST

START_TEST(first_entry_in_order_wins)
{
    hg_violations_t v;
    hg_scopeset_t *s = compile("[\"crm.objects.{fromObjectType}.write\",\"crm.objects.{toObjectType}.write\",\"crm.import\"]", &v);
    ck_assert_ptr_nonnull(s);
    static const char *const both[] = {"crm.import", "crm.objects.deals.write", "crm.objects.contacts.write", NULL};
    static const char *const only_import[] = {"crm.import", NULL};
    static const char *const none[] = {NULL};
    hg_principal_t *p = principal(both), *q = principal(only_import), *r = principal(none);
    char buf[HG_SCOPE_MAX];
    ck_assert_str_eq(hg_scopeset_match(s, p, "contacts", "deals", buf, sizeof(buf)), "crm.objects.contacts.write");
    ck_assert_str_eq(hg_scopeset_match(s, p, "companies", "deals", buf, sizeof(buf)), "crm.objects.deals.write");
    ck_assert_str_eq(hg_scopeset_match(s, p, NULL, NULL, buf, sizeof(buf)), "crm.import");
    ck_assert_str_eq(hg_scopeset_match(s, q, "contacts", "deals", buf, sizeof(buf)), "crm.import");
    ck_assert_ptr_null(hg_scopeset_match(s, r, "contacts", "deals", buf, sizeof(buf)));
    ck_assert_ptr_null(hg_scopeset_match(s, NULL, "contacts", "deals", buf, sizeof(buf)));
    /* a buffer too small for an expansion never matches it */
    char tiny[8];
    ck_assert_ptr_null(hg_scopeset_match(s, p, "contacts", "deals", tiny, sizeof(tiny)));
    hg_principal_release(p);
    hg_principal_release(q);
    hg_principal_release(r);
    hg_scopeset_free(s);
}
END_TEST

START_TEST(describe_expands_and_dedups)
{
    hg_violations_t v;
    hg_scopeset_t *s = compile("[\"crm.objects.{fromObjectType}.write\",\"crm.objects.{toObjectType}.write\","
                               "\"crm.objects.contacts.write\",\"{fromObjectType}-{toObjectType}\"]",
                               &v);
    ck_assert_ptr_nonnull(s);
    char *d = hg_scopeset_describe(s, "contacts", "custom");
    ck_assert_str_eq(d, "crm.objects.contacts.write crm.objects.custom.write contacts-custom");
    free(d);
    d = hg_scopeset_describe(s, NULL, "contacts");
    ck_assert_str_eq(d, "crm.objects.contacts.write");
    free(d);
    json_t *a = hg_scopeset_describe_json(s, "deals", NULL);
    char *text = json_dumps(a, JSON_COMPACT);
    ck_assert_str_eq(text, "[\"crm.objects.deals.write\",\"crm.objects.contacts.write\"]");
    free(text);
    json_decref(a);
    hg_scopeset_free(s);
    s = compile("[\"{toObjectType}\"]", &v);
    d = hg_scopeset_describe(s, "x", NULL);
    ck_assert_str_eq(d, "");
    free(d);
    hg_scopeset_free(s);
}
END_TEST

START_TEST(principal_scopes_sorted_unique)
{
    static const char *const scopes[] = {"b", "a", "b", "", "c", "a", NULL};
    hg_principal_t *p = principal(scopes);
    ck_assert_uint_eq(p->num_scopes, 3);
    ck_assert_str_eq(p->scopes[0], "a");
    ck_assert_str_eq(p->scopes[2], "c");
    ck_assert_int_eq(hg_principal_has_scope(p, "b"), 1);
    ck_assert_int_eq(hg_principal_has_scope(p, "B"), 0);
    ck_assert_int_eq(hg_principal_has_scope(p, ""), 0);
    ck_assert_ptr_eq(hg_principal_retain(p), p);
    ck_assert_uint_eq(p->refcnt, 2);
    hg_principal_release(p);
    hg_principal_release(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("scopes");
    TCase *tc = tcase_create("scopes");
    tcase_add_test(tc, refused_entries);
    tcase_add_test(tc, first_entry_in_order_wins);
    tcase_add_test(tc, describe_expands_and_dedups);
    tcase_add_test(tc, principal_scopes_sorted_unique);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
