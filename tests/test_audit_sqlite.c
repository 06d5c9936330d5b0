/*
 * test_audit_sqlite.c: the SQLite store's pairs column and block index, and
 * the writer's group commit, through the public audit API.
 *
 * The pairs column (audit_pairs.h) must keep any id byte for byte and refuse
 * bytes no writer made; the block index (audit_index.h) must seal blocks at
 * each limit, hold every key of every record it covers, survive restarts, and
 * keep its on-disk hash unchanged. Group commit: while fewer than batch_max
 * records wait, commits are commit_interval_ms apart; a full batch,
 * hg_audit_sync and hg_audit_stop do not wait.
 */
#include "audit.h"
#include "audittest.h"
#include "audit_index.h"
#include "audit_pairs.h"
#include "audit_query.h"
#include "audit_sqlite.h"
#include "util.h"

#include <check.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* an audit trail with a SQLite store in dir, started with the tuning `t` */
static hg_audit_t *start_tuned(const char *dir, const hg_audit_tuning_t *t)
{
    json_t *conf = json_pack("{s:s, s:i}", "sqlite", "audit.db", "retention_days", 30);
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_audit_t *a = hg_audit_new(conf, dir, &errors);
    ck_assert_ptr_nonnull(a);
    hg_audit_set_tuning(a, t);
    int rc = hg_audit_start(a, &errors);
    ck_assert_msg(rc == 0, "%s", errors.count != 0 ? errors.items[0].message : "?");
    json_decref(conf);
    return a;
}

/* polls the writer's counters until `cond` holds (3 s at most) */
#define WAIT_FOR(a, cond)                                                                                                          \
    do {                                                                                                                           \
        int64_t deadline_ = (int64_t)hg_now_ms() + 3000;                                                                           \
        for (;;) {                                                                                                                 \
            hg_audit_stats_t st = audittest_stats(a);                                                                              \
            if (cond)                                                                                                              \
                break;                                                                                                             \
            ck_assert_msg((int64_t)hg_now_ms() < deadline_, "timed out waiting for %s", #cond);                                    \
            nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);                                                               \
        }                                                                                                                          \
    } while (0)

static hg_audit_record_t *record(int64_t ts_ms, const char *const *pairs, size_t num_pairs)
{
    hg_audit_record_t *r = hg_audit_record_new();
    r->ts_ms = ts_ms;
    r->decision = HG_AUDIT_FORWARDED;
    r->status = 200;
    for (size_t i = 0; i != num_pairs; ++i)
        hg_audit_record_add_pair(r, pairs[2 * i], pairs[2 * i + 1]);
    return r;
}

/* the pairs column of record `id` as stored: hex of the blob, "NULL" when absent */
static char *stored_pairs(const char *db_path, int id)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT iif(pairs IS NULL, 'NULL', lower(hex(pairs))) FROM records WHERE id = ?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_int(st, 1, id);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    char *out = hg_xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/* the request ids that query `name=value` finds, newest first, space-separated */
static char *query_ids(const char *db_path, const char *name, const char *value)
{
    hg_audit_filter_t *f = hg_audit_filter_new();
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_int_eq(hg_audit_filter_set(f, name, value, &errors), 0);
    json_t *answer = hg_audit_query(db_path, f, &errors);
    ck_assert_msg(answer != NULL, "%s", errors.count != 0 ? errors.items[0].message : "?");
    char *out = hg_xstrdup("");
    size_t i;
    json_t *rec;
    json_array_foreach(json_object_get(answer, "records"), i, rec)
    {
        char *more = hg_xasprintf("%s%s%s", out, i != 0 ? " " : "", json_string_value(json_object_get(rec, "request_id")));
        free(out);
        out = more;
    }
    json_decref(answer);
    hg_audit_filter_free(f);
    return out;
}

#define ASSERT_IDS(db, name, value, expected)                                                                                      \
    do {                                                                                                                           \
        char *got_ = query_ids((db), (name), (value));                                                                             \
        ck_assert_msg(strcmp(got_, (expected)) == 0, "%s=%s: got \"%s\", expected \"%s\"", (name), (value), got_, (expected));     \
        free(got_);                                                                                                                \
    } while (0)

/* the pairs column */

/*
 * Numbers of 1 to 18 digits without a leading zero are varints, anything else its bytes: the column holds
 * exactly that, reads back byte for byte, and object_id finds each id, in the open block and once sealed.
 */
START_TEST(pairs_are_stored_compactly_and_read_back_exactly)
{
    char *dir = audittest_tmpdir("hg-auditdb"), *db_path = hg_path_join(dir, "audit.db");
    hg_audit_tuning_t t;
    hg_audit_tuning_defaults(&t);
    hg_audit_t *a = start_tuned(dir, &t);
    int64_t now = (int64_t)hg_now_ms();
    static const char *const p1[] = {"12", "34", "0", "999999999999999999"};
    static const char *const p2[] = {"007", "1000000000000000000", "\xff\xfe", "a\"b\\c", "", "\xc3\xa9"};
    static const char *const *const sets[] = {p1, p2, NULL};
    static const size_t sizes[] = {2, 3, 0};
    for (int i = 0; i != 3; ++i) {
        hg_audit_record_t *r = record(now, sets[i], sizes[i]);
        r->request_id = hg_audit_record_printf(r, "p%d", i + 1);
        ck_assert_int_eq(hg_audit_submit(a, r), 0);
    }
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    char *pairs = stored_pairs(db_path, 1); /* 12 -> 24, 34 -> 68, 0 -> 0, 10^18 - 1 -> 2 * (10^18 - 1) in 9 bytes */
    ck_assert_str_eq(pairs, "184400feff9ff6f4acdbe01b");
    free(pairs);
    pairs = stored_pairs(db_path, 2); /* lengths 3, 19, 2, 5, 0, 2 as 2n + 1, each followed by its bytes */
    ck_assert_str_eq(pairs, "07303037"
                            "27"
                            "31303030303030303030303030303030303030"
                            "05fffe"
                            "0b6122625c63"
                            "01"
                            "05c3a9");
    free(pairs);
    pairs = stored_pairs(db_path, 3);
    ck_assert_str_eq(pairs, "NULL");
    free(pairs);
    for (int sealed = 0; sealed != 2; ++sealed) {
        for (int i = 0; i != 2; ++i)
            for (size_t k = 0; k != 2 * sizes[i]; ++k)
                if (sets[i][k][0] != '\0') /* an empty filter value is refused before any query */
                    ASSERT_IDS(db_path, "object_id", sets[i][k], i == 0 ? "p1" : "p2");
        ASSERT_IDS(db_path, "object_id", "7", "");
        ASSERT_IDS(db_path, "object_id", "1", "");
        ASSERT_IDS(db_path, "object_id", "99999999999999999", "");
        /* a record 11 minutes after the first seals the block with it (the first time; then it opens the next) */
        hg_audit_record_t *r = record(now + 11 * 60 * 1000, NULL, 0);
        r->request_id = hg_audit_record_strdup(r, "later");
        ck_assert_int_eq(hg_audit_submit(a, r), 0);
        ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
        char *blocks = audittest_blocks(db_path);
        ck_assert_str_eq(blocks, "1-4:4");
        free(blocks);
    }
    /* the records read back with their ids as they were given (the JSON output repairs bad UTF-8) */
    char err[256];
    sqlite3 *db = hg_audit_sqlite_open_readonly(db_path, err, sizeof(err));
    ck_assert_msg(db != NULL, "%s", err);
    char *sql = hg_xasprintf("SELECT id, %s FROM records WHERE id <= 2 ORDER BY id", hg_audit_sqlite_columns());
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    for (int i = 0; i != 2; ++i) {
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        hg_audit_record_t *r = hg_audit_sqlite_read_row(st, 1);
        ck_assert_uint_eq(r->num_pairs, sizes[i]);
        for (size_t k = 0; k != 2 * sizes[i]; ++k)
            ck_assert_str_eq(r->pairs[k], sets[i][k]);
        hg_audit_record_free(r);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(sql);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* bytes that no writer made: reading stops with -1, matching finds nothing, nothing overruns */
START_TEST(malformed_pairs_are_refused)
{
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {
        {"\x18", 1},                                                  /* one id: half a pair */
        {"\x18\x80", 2},                                              /* a varint cut short */
        {"\x18\x09\x31", 3},                                          /* 4 bytes announced, 1 there */
        {"\x18\x05\x31\x00", 4},                                      /* a NUL inside an id */
        {"\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12},     /* a varint of 11 bytes */
        {"\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x01\x02", 13}, /* a length far beyond the end */
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        hg_audit_record_t *r = hg_audit_record_new();
        ck_assert_int_eq(hg_audit_pairs_read(r, cases[i].bytes, cases[i].len, 1), -1);
        ck_assert_uint_eq(r->num_pairs, 0);
        ck_assert_int_eq(hg_audit_pairs_contain(cases[i].bytes, cases[i].len, 1, "1"), 0);
        hg_audit_record_free(r);
    }
    /* version 2's JSON text */
    hg_audit_record_t *r = hg_audit_record_new();
    static const char json[] = "[[\"1\",\"2\"],[\"3\",\"4\"]]";
    ck_assert_int_eq(hg_audit_pairs_read(r, json, strlen(json), 0), 0);
    ck_assert_uint_eq(r->num_pairs, 2);
    ck_assert_str_eq(r->pairs[3], "4");
    ck_assert_int_eq(hg_audit_pairs_contain(json, strlen(json), 0, "3"), 1);
    ck_assert_int_eq(hg_audit_pairs_contain(json, strlen(json), 0, "5"), 0);
    ck_assert_int_eq(hg_audit_pairs_read(r, "[[\"1\"]]", 7, 0), -1);
    ck_assert_int_eq(hg_audit_pairs_read(r, "{}", 2, 0), -1);
    hg_audit_record_free(r);
}
END_TEST

/* the block index */

/* the hash and the filter are part of the file format: these values must never change within version 3 */
START_TEST(keys_and_filters_are_stable)
{
    ck_assert_uint_eq(hg_audit_key(HG_AUDIT_KEY_OBJECT, "123", 3), 0x7b2e6de36326bb45ULL);
    ck_assert_uint_eq(hg_audit_key(HG_AUDIT_KEY_REQUEST_ID, "0196f0a2-7c4e-7b1a-9d3e-2f6a8b4c1d5e", 36), 0x66cf24a73b882ab1ULL);
    ck_assert_uint_eq(hg_audit_key(HG_AUDIT_KEY_SUBJECT, "", 0), 0x937741f1894e61dbULL);
    ck_assert_uint_ne(hg_audit_key(HG_AUDIT_KEY_SUBJECT, "123", 3), hg_audit_key(HG_AUDIT_KEY_CLIENT, "123", 3));
    ck_assert_uint_eq(hg_audit_object_key("123"), 0xbf54fd12e2f067d4ULL);
    ck_assert_uint_eq(hg_audit_object_key("0123"), hg_audit_key(HG_AUDIT_KEY_OBJECT, "0123", 4));
    ck_assert_uint_eq(hg_audit_object_key("1000000000000000000"), hg_audit_key(HG_AUDIT_KEY_OBJECT, "1000000000000000000", 19));
    ck_assert_uint_eq(hg_audit_object_key(""), hg_audit_key(HG_AUDIT_KEY_OBJECT, "", 0));
    ck_assert_uint_eq(hg_audit_object_key("12a"), hg_audit_key(HG_AUDIT_KEY_OBJECT, "12a", 3));
    ck_assert_uint_ne(hg_audit_object_key("0"), hg_audit_object_key("00"));
    uint8_t bloom[64];
    uint64_t key = hg_audit_key(HG_AUDIT_KEY_OBJECT, "123", 3);
    hg_audit_bloom_build(&key, 1, bloom, sizeof(bloom));
    static const struct {
        int at;
        uint8_t bits;
    } set[] = {{3, 0x02}, {6, 0x08}, {9, 0x20}, {13, 0x10}, {17, 0x01}, {21, 0x40}, {25, 0x80}, {28, 0x01}}; /* a bit per word */
    for (size_t i = 0, k = 0; i != sizeof(bloom); ++i) {
        uint8_t want = k < sizeof(set) / sizeof(set[0]) && set[k].at == (int)i ? set[k++].bits : 0;
        ck_assert_msg(bloom[i] == want, "byte %zu: %02x, expected %02x", i, bloom[i], want);
    }
    ck_assert_uint_eq(hg_audit_bloom_size(0), 64);
    ck_assert_uint_eq(hg_audit_bloom_size(42), 64);
    ck_assert_uint_eq(hg_audit_bloom_size(43), 128);
    ck_assert_uint_eq(hg_audit_bloom_size(65536), 98304);
    ck_assert_int_eq(hg_audit_bloom_may_contain(NULL, 0, key), 1);
}
END_TEST

/*
 * Blocks are sealed at each of their limits (object ids, records, time span), and their filters hold every
 * key of every record in them and few others: under 1% false positives at the object id limit.
 */
START_TEST(blocks_seal_at_each_limit_and_hold_every_key)
{
    char *dir = audittest_tmpdir("hg-auditdb"), *db_path = hg_path_join(dir, "audit.db");
    hg_audit_tuning_t t;
    hg_audit_tuning_defaults(&t);
    hg_audit_t *a = start_tuned(dir, &t);
    int64_t now = (int64_t)hg_now_ms();
    enum { BIG = 11000 }; /* pairs: three such records pass 65536 object ids */
    char **ids = hg_xmalloc(3 * 2 * BIG * sizeof(*ids));
    for (size_t i = 0; i != 3 * 2 * BIG; ++i)
        ids[i] = hg_xasprintf("%zu", 5000000 + i);
    hg_audit_record_t *kept[3 + 1024 + 2];
    size_t n = 0;
    for (int i = 0; i != 3; ++i)
        kept[n++] = record(now, (const char *const *)ids + 2 * BIG * i, BIG);
    for (int i = 0; i != 1024; ++i) {
        static const char *const p[] = {"1", "2"};
        kept[n++] = record(now + i, p, 1);
    }
    kept[n++] = record(now + 2000, NULL, 0);
    kept[n++] = record(now + 2000 + 10 * 60 * 1000, NULL, 0); /* ten minutes after the one before */
    for (size_t i = 0; i != n; ++i) {
        kept[i]->request_id = hg_audit_record_printf(kept[i], "k%zu", i);
        kept[i]->subject = hg_audit_record_strdup(kept[i], i % 2 ? "odd" : "even");
        /* the writer frees what it is given: submit a copy */
        hg_audit_record_t *copy = record(kept[i]->ts_ms, (const char *const *)kept[i]->pairs, kept[i]->num_pairs);
        copy->request_id = hg_audit_record_strdup(copy, kept[i]->request_id);
        copy->subject = hg_audit_record_strdup(copy, kept[i]->subject);
        ck_assert_int_eq(hg_audit_submit(a, copy), 0);
    }
    ck_assert_int_eq(hg_audit_sync(a, 10000), 0);
    char *blocks = audittest_blocks(db_path);
    ck_assert_str_eq(blocks, "1-3:3 4-1027:1024 1028-1029:2");
    free(blocks);
    for (size_t i = 0; i != n; ++i)
        ck_assert_msg(audittest_block_holds(db_path, i < 3 ? 3 : i < 1027 ? 1027 : 1029, kept[i]), "record %zu", i + 1);
    /* false positives of the largest filter, for ids that no record has */
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT objects_bloom, objects_keys FROM blocks WHERE last_id = 3", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 1), 3 * 2 * BIG);
    size_t fp = 0, tries = 100000;
    for (size_t i = 0; i != tries; ++i) {
        char id[24];
        int len = snprintf(id, sizeof(id), "%zu", 9000000 + i);
        fp += (size_t)hg_audit_bloom_may_contain(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
                                                 hg_audit_key(HG_AUDIT_KEY_OBJECT, id, (size_t)len));
    }
    ck_assert_msg(fp < tries / 100, "%zu false positives in %zu", fp, tries);
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* and a query through them finds what it should */
    ASSERT_IDS(db_path, "object_id", "5000000", "k0");
    ASSERT_IDS(db_path, "object_id", "5065999", "k2");
    ASSERT_IDS(db_path, "request_id", "k1028", "k1028");
    for (size_t i = 0; i != n; ++i)
        hg_audit_record_free(kept[i]);
    for (size_t i = 0; i != 3 * 2 * BIG; ++i)
        free(ids[i]);
    free(ids);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* the open block lives in memory: a restart rebuilds it from the records after the last sealed block */
START_TEST(open_block_is_rebuilt_after_a_restart)
{
    char *dir = audittest_tmpdir("hg-auditdb"), *db_path = hg_path_join(dir, "audit.db");
    hg_audit_tuning_t t;
    hg_audit_tuning_defaults(&t);
    int64_t now = (int64_t)hg_now_ms();
    static const char *const p[] = {"31", "41"};
    for (int run = 0; run != 3; ++run) {
        hg_audit_t *a = start_tuned(dir, &t);
        for (int i = 0; i != 500; ++i) {
            hg_audit_record_t *r = record(now, p, run == 0 && i == 7);
            r->request_id = hg_audit_record_printf(r, "run%d-%d", run, i);
            ck_assert_int_eq(hg_audit_submit(a, r), 0);
        }
        hg_audit_free(a);
    }
    char *blocks = audittest_blocks(db_path);
    ck_assert_str_eq(blocks, "1-1024:1024");
    free(blocks);
    hg_audit_record_t *r = record(now, p, 1);
    r->request_id = hg_audit_record_strdup(r, "run0-7");
    ck_assert(audittest_block_holds(db_path, 1024, r));
    hg_audit_record_free(r);
    ASSERT_IDS(db_path, "object_id", "41", "run0-7");
    ASSERT_IDS(db_path, "request_id", "run2-23", "run2-23"); /* id 1024: the block's last */
    ASSERT_IDS(db_path, "request_id", "run2-24", "run2-24"); /* id 1025: the open block */
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* group commit */

START_TEST(group_commit_waits_for_the_interval_or_a_full_batch)
{
    char *dir = audittest_tmpdir("hg-auditdb"), *db_path = hg_path_join(dir, "audit.db");
    hg_audit_tuning_t t;
    hg_audit_tuning_defaults(&t);
    t.batch_max = 4;
    t.commit_interval_ms = 60000;
    hg_audit_t *a = start_tuned(dir, &t);
    int64_t now = (int64_t)hg_now_ms();
    static const char *const p[] = {"1", "2"};
    /* the first record after a quiet time is committed at once */
    ck_assert_int_eq(hg_audit_submit(a, record(now, p, 1)), 0);
    WAIT_FOR(a, st.written == 1);
    /* then records wait for the interval, unless a full batch is waiting */
    for (int i = 0; i != 4; ++i)
        ck_assert_int_eq(hg_audit_submit(a, record(now, p, 1)), 0);
    WAIT_FOR(a, st.written == 5);
    hg_audit_stats_t s = audittest_stats(a);
    ck_assert_uint_eq(s.batches, 2);
    ck_assert_uint_eq(s.max_batch, 4);
    ck_assert_uint_eq(s.max_queue_depth, 4); /* the four waited together */
    /* sync does not wait for the interval */
    ck_assert_int_eq(hg_audit_submit(a, record(now, p, 1)), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    s = audittest_stats(a);
    ck_assert_uint_eq(s.written, 6);
    ck_assert_uint_eq(s.batches, 3);
    /* nor does stop */
    ck_assert_int_eq(hg_audit_submit(a, record(now, p, 1)), 0);
    ck_assert_int_eq(hg_audit_submit(a, record(now, p, 1)), 0);
    uint64_t t0 = hg_now_ms();
    hg_audit_stop(a, 3000);
    ck_assert_uint_lt(hg_now_ms() - t0, 3000);
    s = audittest_stats(a);
    ck_assert_uint_eq(s.written, 8);
    ck_assert_uint_eq(s.batches, 4);
    ck_assert_uint_eq(s.dropped, 0);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("audit_sqlite");
    TCase *tc = tcase_create("pairs");
    tcase_add_test(tc, pairs_are_stored_compactly_and_read_back_exactly);
    tcase_add_test(tc, malformed_pairs_are_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("index");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, keys_and_filters_are_stable);
    tcase_add_test(tc, blocks_seal_at_each_limit_and_hold_every_key);
    tcase_add_test(tc, open_block_is_rebuilt_after_a_restart);
    suite_add_tcase(s, tc);
    tc = tcase_create("group_commit");
    tcase_add_test(tc, group_commit_waits_for_the_interval_or_a_full_batch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
