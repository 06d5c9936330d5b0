/*
 * test_objtypes.c: object type path segments to canonical ids (CONTRACT.md
 * section 6) and canonical ids to scope names (section 5), the whole table
 * row by row, then the segments that must be refused.
 */
#include "objtypes.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

struct row {
    const char *id, *scope, *names[3];
};

static const struct row table[] = {
    {"0-1", "contacts", {"contact", "contacts"}},
    {"0-2", "companies", {"company", "companies"}},
    {"0-3", "deals", {"deal", "deals"}},
    {"0-5", "tickets", {"ticket", "tickets"}},
    {"0-7", "products", {"product", "products"}},
    {"0-8", "line_items", {"line_item", "line_items"}},
    {"0-14", "quotes", {"quote", "quotes"}},
    {"0-27", NULL, {"task", "tasks"}},
    {"0-46", NULL, {"note", "notes"}},
    {"0-47", NULL, {"meeting", "meetings"}},
    {"0-48", NULL, {"call", "calls"}},
    {"0-49", NULL, {"email", "emails"}},
    {"0-53", "invoices", {"invoice", "invoices"}},
    {"0-69", "subscriptions", {"subscription", "subscriptions"}},
    {"0-101", "commercepayments", {"commerce_payment", "commerce_payments", "commercepayments"}},
    {"0-115", "users", {"user", "users"}},
    {"0-123", "orders", {"order", "orders"}},
    {"0-136", "leads", {"lead", "leads"}},
    {"0-142", "carts", {"cart", "carts"}},
    {"0-162", "services", {"service", "services"}},
    {"0-410", "courses", {"course", "courses"}},
    {"0-420", "listings", {"listing", "listings"}},
    {"0-421", "appointments", {"appointment", "appointments"}},
};
#define NUM_ROWS ((int)(sizeof(table) / sizeof(table[0])))

static void upper(char *dst, const char *src)
{
    for (; *src != '\0'; ++src, ++dst)
        *dst = *src >= 'a' && *src <= 'z' ? *src - ('a' - 'A') : *src;
    *dst = '\0';
}

/* mixed case: every other letter upper */
static void zigzag(char *dst, const char *src)
{
    for (int i = 0; src[i] != '\0'; ++i)
        dst[i] = (i % 2 == 0 && src[i] >= 'a' && src[i] <= 'z') ? src[i] - ('a' - 'A') : src[i];
    dst[strlen(src)] = '\0';
}

static void assert_canonical(const char *seg, const char *want)
{
    char out[HG_OBJTYPE_ID_SIZE];
    ck_assert_msg(hg_objtype_canonical(seg, strlen(seg), out, sizeof(out)) == 0, "%s refused", seg);
    ck_assert_str_eq(out, want);
}

static void assert_unknown(const char *seg, size_t len)
{
    char out[HG_OBJTYPE_ID_SIZE] = "junk";
    ck_assert_msg(hg_objtype_canonical(seg, len, out, sizeof(out)) == -1, "%.*s accepted", (int)len, seg);
    ck_assert_str_eq(out, "");
}

START_TEST(every_row_by_name_and_id)
{
    const struct row *r = &table[_i];
    char buf[64];
    for (int n = 0; n != 3 && r->names[n] != NULL; ++n) {
        assert_canonical(r->names[n], r->id);
        upper(buf, r->names[n]);
        assert_canonical(buf, r->id);
        zigzag(buf, r->names[n]);
        assert_canonical(buf, r->id);
    }
    assert_canonical(r->id, r->id);
    if (r->scope == NULL)
        ck_assert_ptr_null(hg_objtype_scope_name(r->id));
    else
        ck_assert_str_eq(hg_objtype_scope_name(r->id), r->scope);
}
END_TEST

START_TEST(segment_need_not_be_terminated)
{
    char out[HG_OBJTYPE_ID_SIZE];
    const char *path = "contacts/companies/batch";
    ck_assert_int_eq(hg_objtype_canonical(path, 8, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "0-1");
    ck_assert_int_eq(hg_objtype_canonical(path + 9, 9, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "0-2");
    /* a prefix of a name is not the name */
    ck_assert_int_eq(hg_objtype_canonical(path, 7, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "0-1"); /* "contact" */
    ck_assert_int_eq(hg_objtype_canonical(path, 6, out, sizeof(out)), -1);
    ck_assert_int_eq(hg_objtype_canonical("0-123/x", 4, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "0-12");
}
END_TEST

START_TEST(ids_kept_known_or_not)
{
    assert_canonical("0-0", "0-0");
    assert_canonical("0-999", "0-999");
    assert_canonical("2-0", "2-0");
    assert_canonical("2-123456", "2-123456");
    assert_canonical("2-12345678901234567890", "2-12345678901234567890");
    assert_canonical("0-12345678901234567890", "0-12345678901234567890");
    ck_assert_ptr_null(hg_objtype_scope_name("0-999"));
    ck_assert_ptr_null(hg_objtype_scope_name("0-4"));
    ck_assert_str_eq(hg_objtype_scope_name("2-0"), "custom");
    ck_assert_str_eq(hg_objtype_scope_name("2-123456"), "custom");
    ck_assert_str_eq(hg_objtype_scope_name("2-12345678901234567890"), "custom");
}
END_TEST

START_TEST(refused_segments)
{
    static const char *const bad[] = {
        "",
        "0",
        "0-",
        "2-",
        "1-1",
        "3-1",
        "0-01",
        "2-007",
        "0-1a",
        "0-+1",
        "0--1",
        "0-1 ",
        " 0-1",
        "0- 1",
        "0-1.0",
        "0-0x1",
        "00-1",
        "02-1",
        "-0-1",
        "0_1",
        "0-١",
        "contac",
        "contactss",
        "contact ",
        " contacts",
        "contacts/",
        "line-item",
        "lineitems",
        "lineitem",
        "commerce-payments",
        "payments",
        "commercepayment",
        "p_cars",
        "custom",
        "objects",
        "CONTACTS\n",
        "c0ntacts",
        "2-123456789012345678901",
        "0-123456789012345678901",
    };
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        assert_unknown(bad[i], strlen(bad[i]));
    /* bytes past a NUL are not ignored, and the NUL is not a terminator */
    assert_unknown("contacts\0", 9);
    assert_unknown("0-1\0", 4);
    /* non-ASCII letters do not fold: Kelvin sign K, dotless i */
    assert_unknown("\xe2\x84\xaaontacts", 10);
    assert_unknown("\xc4\xb1nvoices", 9);
    /* long garbage */
    char big[4096];
    memset(big, 'a', sizeof(big));
    assert_unknown(big, sizeof(big));
}
END_TEST

START_TEST(out_buffer_too_small)
{
    char out[4] = "xyz";
    ck_assert_int_eq(hg_objtype_canonical("0-101", 5, out, sizeof(out)), -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(hg_objtype_canonical("commerce_payments", 17, out, sizeof(out)), -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(hg_objtype_canonical("contacts", 8, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "0-1");
    ck_assert_int_eq(hg_objtype_canonical("contacts", 8, out, 0), -1);
    ck_assert_str_eq(out, "0-1"); /* outsize 0: nothing written */
}
END_TEST

START_TEST(scope_name_of_non_ids)
{
    ck_assert_ptr_null(hg_objtype_scope_name(""));
    ck_assert_ptr_null(hg_objtype_scope_name("contacts"));
    ck_assert_ptr_null(hg_objtype_scope_name("0-01"));
    ck_assert_ptr_null(hg_objtype_scope_name("2-"));
    ck_assert_ptr_null(hg_objtype_scope_name("2-x"));
    ck_assert_ptr_null(hg_objtype_scope_name("3-1"));
    ck_assert_ptr_null(hg_objtype_scope_name("0-1 "));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("objtypes");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, every_row_by_name_and_id, 0, NUM_ROWS);
    suite_add_tcase(s, tc);
    tc = tcase_create("segments");
    tcase_add_test(tc, segment_need_not_be_terminated);
    tcase_add_test(tc, ids_kept_known_or_not);
    tcase_add_test(tc, refused_segments);
    tcase_add_test(tc, out_buffer_too_small);
    tcase_add_test(tc, scope_name_of_non_ids);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
