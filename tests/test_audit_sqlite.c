/*
 * test_audit_sqlite.c: the SQLite store's object index and the writer's group
 * commit, through the public audit API.
 *
 * The object index (an FTS5 table, see audit_sqlite.h) must hold exactly one
 * term per object id and record, also for ids that are not digit strings or
 * not valid UTF-8, and retention must take out exactly the terms it put in:
 * the tests read the index back term by term (fts5vocab). Group commit: while
 * fewer than batch_max records wait, commits are commit_interval_ms apart; a
 * full batch, hg_audit_sync and hg_audit_stop do not wait.
 */
#include "audit.h"
#include "audittest.h"
#include "audit_sqlite.h"
#include "util.h"

#include <check.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_MS (24 * 60 * 60 * 1000LL)

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

/* the pairs column of record `id` as stored */
static char *stored_pairs(const char *db_path, int id)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT coalesce(pairs, 'NULL') FROM records WHERE id = ?", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int(st, 1, id);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    char *out = hg_xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/* the index */

START_TEST(index_holds_each_id_once_per_record_and_retention_removes_it)
{
    char *dir = audittest_tmpdir("hg-auditdb"), *db_path = hg_path_join(dir, "audit.db");
    fake_clock_t clock = {.now = 1717243200000LL}; /* 2024-06-01T12:00:00Z */
    hg_audit_tuning_t t;
    hg_audit_tuning_defaults(&t);
    t.now_ms = fake_now;
    t.now_ctx = &clock;
    hg_audit_t *a = start_tuned(dir, &t);
    int64_t old = clock.now - 31 * DAY_MS;
    static const char *const p1[] = {"12", "\xff\xfe", "12", "34", "12", "34"}; /* bad UTF-8, a duplicate pair */
    static const char *const p2[] = {"\xc3\xa9", "12", "a\"b\\c", "007"};       /* é, JSON escapes, a leading zero */
    static const char *const p3[] = {"", "7"};                                  /* an empty id */
    ck_assert_int_eq(hg_audit_submit(a, record(old, p1, 3)), 0);
    ck_assert_int_eq(hg_audit_submit(a, record(old, p2, 2)), 0);
    ck_assert_int_eq(hg_audit_submit(a, record(old, p3, 1)), 0);
    ck_assert_int_eq(hg_audit_submit(a, record(old, NULL, 0)), 0);
    ck_assert_int_eq(hg_audit_submit(a, record(clock.now, p3, 1)), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    char *index = audittest_object_index(db_path);
    ck_assert_str_eq(index, "007:2 12:1 12:2 34:1 7:3 7:5 x:3 x:5 x3f3f:1 x6122625c63:2 xc3a9:2");
    free(index);
    char *pairs = stored_pairs(db_path, 1);
    ck_assert_str_eq(pairs, "[[\"12\",\"??\"],[\"12\",\"34\"],[\"12\",\"34\"]]");
    free(pairs);
    pairs = stored_pairs(db_path, 2);
    ck_assert_str_eq(pairs, "[[\"\xc3\xa9\",\"12\"],[\"a\\\"b\\\\c\",\"007\"]]");
    free(pairs);
    pairs = stored_pairs(db_path, 4);
    ck_assert_str_eq(pairs, "NULL");
    free(pairs);
    /* retention rebuilds the terms from the stored pairs and removes exactly those of the 4 old records */
    atomic_store(&clock.now, clock.now + t.retention_check_ms);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    ck_assert_uint_eq(audittest_stats(a).expired, 4);
    index = audittest_object_index(db_path);
    ck_assert_str_eq(index, "7:5 x:5");
    free(index);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(object_match_quotes_one_term)
{
    static const struct {
        const char *id, *match;
    } cases[] = {
        {"123", "\"123\""},
        {"0", "\"0\""},
        {"007", "\"007\""},
        {"", "\"x\""},
        {"abc", "\"x616263\""},
        {"1 OR 2", "\"x31204f522032\""},
        {"\"", "\"x22\""},
        {"1234567890123456789012345678901234567890123456789012345678901234",
         "\"1234567890123456789012345678901234567890123456789012345678901234\""},
        {"12345678901234567890123456789012345678901234567890123456789012345",
         "\"x3132333435363738393031323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536"
         "373839303132333435\""},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        char *m = hg_audit_sqlite_object_match(cases[i].id);
        ck_assert_str_eq(m, cases[i].match);
        free(m);
    }
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
    TCase *tc = tcase_create("index");
    tcase_add_test(tc, index_holds_each_id_once_per_record_and_retention_removes_it);
    tcase_add_test(tc, object_match_quotes_one_term);
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
