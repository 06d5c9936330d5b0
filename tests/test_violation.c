/*
 * test_violation.c: the bounded problem list and JSON pointer escaping
 * (RFC 6901: "~" becomes "~0", "/" becomes "~1").
 */
#include "violation.h"

#include <check.h>
#include <stdlib.h>

START_TEST(keeps_limit_and_counts_the_rest)
{
    hg_violations_t v;
    hg_violations_init(&v, 2);
    hg_violations_add(&v, "/inputs/0/from", "required", "required property \"%s\" is missing", "from");
    hg_violations_add(&v, "/inputs/1", "type", "must be an object");
    hg_violations_add(&v, "/inputs/2", "type", "must be an object");
    ck_assert_uint_eq(v.count, 2);
    ck_assert_uint_eq(v.dropped, 1);
    ck_assert_uint_eq(hg_violations_total(&v), 3);
    ck_assert_str_eq(v.items[0].in, "/inputs/0/from");
    ck_assert_str_eq(v.items[0].code, "required");
    ck_assert_str_eq(v.items[0].message, "required property \"from\" is missing");
    hg_violations_clear(&v);
    ck_assert_uint_eq(v.count, 0);
    ck_assert_uint_eq(v.limit, 2);
}
END_TEST

START_TEST(pointer_escapes_and_truncates)
{
    hg_jptr_t p;
    hg_jptr_init(&p);
    ck_assert_str_eq(p.buf, "");
    size_t root = hg_jptr_push_key(&p, "inputs");
    size_t at = hg_jptr_push_index(&p, 12);
    hg_jptr_push_key(&p, "a/b~c");
    ck_assert_str_eq(p.buf, "/inputs/12/a~1b~0c");
    hg_jptr_truncate(&p, at);
    ck_assert_str_eq(p.buf, "/inputs");
    for (int i = 0; i != 100; ++i)
        hg_jptr_push_key(&p, "long-key-to-force-growth");
    ck_assert_uint_eq(p.len, 7 + 100 * 25);
    hg_jptr_truncate(&p, root);
    ck_assert_str_eq(p.buf, "");
    hg_jptr_dispose(&p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("violation");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, keeps_limit_and_counts_the_rest);
    tcase_add_test(tc, pointer_escapes_and_truncates);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
