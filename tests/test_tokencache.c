/*
 * test_tokencache.c: the per-thread verified-token cache: validity window,
 * generation, LRU eviction at capacity, hit/miss counts, capacity 0.
 */
#include "tokencache.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void key_of(hg_tokencache_t *c, int i, unsigned char *key)
{
    char token[32];
    snprintf(token, sizeof(token), "token-%d", i);
    hg_tokencache_key(c, token, strlen(token), key);
}

START_TEST(sha256_key)
{
    hg_tokencache_t *c = hg_tokencache_new(4);
    unsigned char key[HG_TOKENCACHE_KEY_SIZE];
    hg_tokencache_key(c, "abc", 3, key);
    static const unsigned char want[4] = {0xba, 0x78, 0x16, 0xbf}; /* SHA-256("abc") begins so */
    ck_assert_int_eq(memcmp(key, want, 4), 0);
    hg_tokencache_free(c);
}
END_TEST

START_TEST(window_and_generation)
{
    hg_tokencache_t *c = hg_tokencache_new(4);
    hg_principal_t *p = hg_principal_new("iss", "sub", NULL, 0);
    unsigned char k[HG_TOKENCACHE_KEY_SIZE];
    uint64_t hits, misses;
    key_of(c, 1, k);
    hg_tokencache_put(c, k, p, 100, 200, 7);
    ck_assert_uint_eq(p->refcnt, 2);
    ck_assert_ptr_eq(hg_tokencache_get(c, k, 100, 7), p);
    ck_assert_ptr_eq(hg_tokencache_get(c, k, 199, 7), p);
    ck_assert_ptr_null(hg_tokencache_get(c, k, 99, 7)); /* dropped */
    ck_assert_uint_eq(hg_tokencache_count(c), 0);
    ck_assert_uint_eq(p->refcnt, 1);
    hg_tokencache_put(c, k, p, 100, 200, 7);
    ck_assert_ptr_null(hg_tokencache_get(c, k, 200, 7));
    hg_tokencache_put(c, k, p, 100, 200, 7);
    ck_assert_ptr_null(hg_tokencache_get(c, k, 150, 8));
    hg_tokencache_put(c, k, p, 100, 100, 7); /* an empty window is not stored */
    ck_assert_uint_eq(hg_tokencache_count(c), 0);
    hg_tokencache_stats(c, &hits, &misses);
    ck_assert_uint_eq(hits, 2);
    ck_assert_uint_eq(misses, 3);
    hg_tokencache_put(c, k, p, 100, 200, 7);
    hg_tokencache_put(c, k, p, 100, 300, 7); /* replaces */
    ck_assert_uint_eq(hg_tokencache_count(c), 1);
    ck_assert_uint_eq(p->refcnt, 2);
    ck_assert_ptr_eq(hg_tokencache_get(c, k, 250, 7), p);
    hg_tokencache_free(c);
    ck_assert_uint_eq(p->refcnt, 1);
    hg_principal_release(p);
}
END_TEST

START_TEST(lru_eviction)
{
    enum { CAP = 8 };
    hg_tokencache_t *c = hg_tokencache_new(CAP);
    hg_principal_t *p = hg_principal_new("iss", NULL, NULL, 0);
    unsigned char k[HG_TOKENCACHE_KEY_SIZE];
    for (int i = 0; i != CAP; ++i) {
        key_of(c, i, k);
        hg_tokencache_put(c, k, p, 0, 1000, 1);
    }
    key_of(c, 0, k); /* touch 0: now 1 is the least recently used */
    ck_assert_ptr_nonnull(hg_tokencache_get(c, k, 1, 1));
    key_of(c, 100, k);
    hg_tokencache_put(c, k, p, 0, 1000, 1);
    ck_assert_uint_eq(hg_tokencache_count(c), CAP);
    key_of(c, 1, k);
    ck_assert_ptr_null(hg_tokencache_get(c, k, 1, 1));
    for (int i = 0; i != CAP; ++i) {
        if (i == 1)
            continue;
        key_of(c, i, k);
        ck_assert_msg(hg_tokencache_get(c, k, 1, 1) == p, "entry %d evicted", i);
    }
    /* many more insertions than capacity: never more than CAP, every entry findable right after insertion */
    for (int i = 200; i != 1200; ++i) {
        key_of(c, i, k);
        hg_tokencache_put(c, k, p, 0, 1000, 1);
        ck_assert_ptr_eq(hg_tokencache_get(c, k, 1, 1), p);
    }
    ck_assert_uint_eq(hg_tokencache_count(c), CAP);
    ck_assert_uint_eq(p->refcnt, 1 + CAP);
    hg_tokencache_free(c);
    ck_assert_uint_eq(p->refcnt, 1);
    hg_principal_release(p);
}
END_TEST

START_TEST(capacity_zero_stores_nothing)
{
    hg_tokencache_t *c = hg_tokencache_new(0);
    hg_principal_t *p = hg_principal_new("iss", NULL, NULL, 0);
    unsigned char k[HG_TOKENCACHE_KEY_SIZE];
    uint64_t hits, misses;
    key_of(c, 1, k);
    hg_tokencache_put(c, k, p, 0, 1000, 1);
    ck_assert_ptr_null(hg_tokencache_get(c, k, 1, 1));
    hg_tokencache_stats(c, &hits, &misses);
    ck_assert_uint_eq(hits + misses, 0);
    ck_assert_uint_eq(p->refcnt, 1);
    hg_tokencache_free(c);
    hg_principal_release(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokencache");
    TCase *tc = tcase_create("tokencache");
    tcase_add_test(tc, sha256_key);
    tcase_add_test(tc, window_and_generation);
    tcase_add_test(tc, lru_eviction);
    tcase_add_test(tc, capacity_zero_stores_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
