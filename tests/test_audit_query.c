/*
 * test_audit_query.c: reading the audit store: every filter of contract
 * section 7, object_id on both sides of a pair, filter errors as both front
 * ends report them, keyset paging (also while records keep arriving), and
 * `hubgate audit` in both formats with its exit statuses.
 *
 * The stores are written through the real writer (hg_audit_t) in mkdtemp
 * directories; the CLI's output is captured with open_memstream, and once
 * through stdout itself.
 */
#include "audit.h"
#include "audittest.h"
#include "audit_cli.h"
#include "audit_query.h"
#include "audit_sqlite.h"
#include "util.h"

#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T0 1714564800000LL /* 2024-05-01T12:00:00Z */

static hg_audit_t *open_store(const char *dir)
{
    json_t *conf = json_pack("{s:s, s:i}", "sqlite", "audit.db", "retention_days", 36500);
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_audit_t *a = hg_audit_new(conf, dir, &errors);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(hg_audit_start(a, &errors), 0);
    json_decref(conf);
    return a;
}

typedef struct {
    const char *request_id, *subject, *client, *route, *decision;
    int status;
    int64_t ts;
    const char *pairs[4];
} row_t;

static const row_t rows[] = {
    {"r1", "alice", "svc-a", "create", HG_AUDIT_FORWARDED, 200, T0, {"111", "222"}},
    {"r2", "bob", "svc-b", "create", HG_AUDIT_REJECTED_AUTH, 401, T0 + 1000, {NULL}},
    {"r3", "alice", "svc-b", "create", HG_AUDIT_REJECTED_VALIDATION, 400, T0 + 2000, {NULL}},
    {"r4", "alice", "svc-a", "other", HG_AUDIT_FORWARDED, 207, T0 + 3000, {"333", "111", "333", "444"}},
    {"r5", "carol", NULL, NULL, HG_AUDIT_REJECTED_ROUTE, 404, T0 + 4000, {NULL}},
    {"r6", "bob", "svc-a", "create", HG_AUDIT_UPSTREAM_ERROR, 502, T0 + 5000, {NULL}},
    {"r7", "alice", "svc-a", "create", HG_AUDIT_FORWARDED, 429, T0 + 6000, {"555", "666"}},
    {"r8", "bob", "svc-a", "create", HG_AUDIT_REJECTED_SCOPE, 403, T0 + 7000, {NULL}},
};

static hg_audit_record_t *record_of(const row_t *row)
{
    hg_audit_record_t *r = hg_audit_record_new();
    r->ts_ms = row->ts;
    r->request_id = hg_audit_record_strdup(r, row->request_id);
    r->subject = hg_audit_record_strdup(r, row->subject);
    r->client = hg_audit_record_strdup(r, row->client);
    r->route = hg_audit_record_strdup(r, row->route);
    r->decision = row->decision;
    r->status = row->status;
    for (size_t i = 0; i < 4 && row->pairs[i] != NULL; i += 2)
        hg_audit_record_add_pair(r, row->pairs[i], row->pairs[i + 1]);
    return r;
}

/* a store holding `rows`; returns its path */
static char *fixture(const char *dir)
{
    hg_audit_t *a = open_store(dir);
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i)
        ck_assert_int_eq(hg_audit_submit(a, record_of(&rows[i])), 0);
    char *path = hg_xstrdup(hg_audit_sqlite_path(a));
    hg_audit_free(a);
    return path;
}

/* runs the query string and returns "r7 r4 ..." plus " | cursor" when there is a next page */
static char *run(const char *db, const char *query, char **cursor)
{
    hg_audit_filter_t *f = hg_audit_filter_new();
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_int_eq(hg_audit_filter_parse_query(f, query, &errors), 0);
    json_t *answer = hg_audit_query(db, f, &errors);
    ck_assert_msg(answer != NULL, "%s", errors.count != 0 ? errors.items[0].message : "?");
    ck_assert_uint_eq(json_object_size(answer), 2);
    size_t i;
    json_t *rec;
    char *out = hg_xstrdup("");
    json_array_foreach(json_object_get(answer, "records"), i, rec)
    {
        char *more = hg_xasprintf("%s%s%s", out, i != 0 ? " " : "", json_string_value(json_object_get(rec, "request_id")));
        free(out);
        out = more;
    }
    json_t *next = json_object_get(answer, "next_cursor");
    ck_assert(json_is_null(next) || json_is_string(next));
    if (cursor != NULL)
        *cursor = json_is_string(next) ? hg_xstrdup(json_string_value(next)) : NULL;
    else
        ck_assert(json_is_null(next));
    json_decref(answer);
    hg_audit_filter_free(f);
    return out;
}

#define ASSERT_QUERY(db, query, expected)                                                                                          \
    do {                                                                                                                           \
        char *got_ = run((db), (query), NULL);                                                                                     \
        ck_assert_msg(strcmp(got_, (expected)) == 0, "%s: got \"%s\", expected \"%s\"", (query), got_, (expected));                \
        free(got_);                                                                                                                \
    } while (0)

START_TEST(every_filter)
{
    char *dir = audittest_tmpdir("hg-auditq"), *db = fixture(dir);
    ASSERT_QUERY(db, "", "r8 r7 r6 r5 r4 r3 r2 r1");
    ASSERT_QUERY(db, "since=2024-05-01T12:00:02Z", "r8 r7 r6 r5 r4 r3");
    ASSERT_QUERY(db, "until=2024-05-01T12:00:02Z", "r2 r1");
    ASSERT_QUERY(db, "since=2024-05-01T12:00:02Z&until=2024-05-01T12:00:04.000Z", "r4 r3");
    ASSERT_QUERY(db, "since=2024-05-01T14:00:05%2B02:00", "r8 r7 r6");
    ASSERT_QUERY(db, "since=2024-05-01T12:00:04.001Z", "r8 r7 r6");
    ASSERT_QUERY(db, "until=2024-05-01", "");
    ASSERT_QUERY(db, "since=2024-05-02", "");
    ASSERT_QUERY(db, "subject=alice", "r7 r4 r3 r1");
    ASSERT_QUERY(db, "client=svc-b", "r3 r2");
    ASSERT_QUERY(db, "route=other", "r4");
    ASSERT_QUERY(db, "decision=forwarded", "r7 r4 r1");
    ASSERT_QUERY(db, "decision=rejected_route", "r5");
    ASSERT_QUERY(db, "status=4xx", "r8 r7 r5 r3 r2");
    ASSERT_QUERY(db, "status=502", "r6");
    ASSERT_QUERY(db, "status=500", "");
    ASSERT_QUERY(db, "request_id=r5", "r5");
    ASSERT_QUERY(db, "object_id=111", "r4 r1"); /* to side in r1, from side in r4 */
    ASSERT_QUERY(db, "object_id=444", "r4");
    ASSERT_QUERY(db, "object_id=333", "r4"); /* twice in r4, reported once */
    ASSERT_QUERY(db, "object_id=999", "");
    ASSERT_QUERY(db, "subject=alice&client=svc-a&decision=forwarded&object_id=666", "r7");
    ASSERT_QUERY(db, "subject=bob&status=4xx&since=2024-05-01T12:00:01Z", "r8 r2");
    /* the record comes back in full */
    hg_audit_filter_t *f = hg_audit_filter_new();
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_int_eq(hg_audit_filter_set(f, "request_id", "r4", &errors), 0);
    json_t *answer = hg_audit_query(db, f, &errors);
    hg_audit_record_t *r = record_of(&rows[3]);
    json_t *expected = hg_audit_record_to_json(r);
    ck_assert(json_equal(json_array_get(json_object_get(answer, "records"), 0), expected));
    json_decref(expected);
    hg_audit_record_free(r);
    json_decref(answer);
    hg_audit_filter_free(f);
    free(db);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* object_id matches the id string exactly: no number parsing, no full-text query syntax, no prefix */
START_TEST(object_id_is_an_exact_string)
{
    static const row_t odd[] = {
        {"o1", "s", "c", "create", HG_AUDIT_FORWARDED, 200, T0, {"111", "0111"}},
        {"o2", "s", "c", "create", HG_AUDIT_FORWARDED, 200, T0 + 1, {"abc", "a b\"*"}},
        {"o3", "s", "c", "create", HG_AUDIT_FORWARDED, 200, T0 + 2, {"x616263", "OR"}},
        {"o4",
         "s",
         "c",
         "create",
         HG_AUDIT_FORWARDED,
         200,
         T0 + 3,
         {"12345678901234567890123456789012345678901234567890123456789012345", "1111"}},
    };
    char *dir = audittest_tmpdir("hg-auditq");
    hg_audit_t *a = open_store(dir);
    for (size_t i = 0; i != sizeof(odd) / sizeof(odd[0]); ++i)
        ck_assert_int_eq(hg_audit_submit(a, record_of(&odd[i])), 0);
    char *db = hg_xstrdup(hg_audit_sqlite_path(a));
    hg_audit_free(a);
    ASSERT_QUERY(db, "object_id=111", "o1");
    ASSERT_QUERY(db, "object_id=0111", "o1");
    ASSERT_QUERY(db, "object_id=011", "");
    ASSERT_QUERY(db, "object_id=11", "");
    ASSERT_QUERY(db, "object_id=1111", "o4");
    ASSERT_QUERY(db, "object_id=11*", "");
    ASSERT_QUERY(db, "object_id=abc", "o2");
    ASSERT_QUERY(db, "object_id=ABC", "");
    ASSERT_QUERY(db, "object_id=a+b%22*", "o2");
    ASSERT_QUERY(db, "object_id=a", "");
    ASSERT_QUERY(db, "object_id=x616263", "o3");
    ASSERT_QUERY(db, "object_id=OR", "o3");
    ASSERT_QUERY(db, "object_id=%22111%22", "");
    ASSERT_QUERY(db, "object_id=12345678901234567890123456789012345678901234567890123456789012345", "o4");
    ASSERT_QUERY(db, "object_id=1234567890123456789012345678901234567890123456789012345678901234", "");
    free(db);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/*
 * Stores of schema versions 1 (the object index as a b-tree table) and 2 (FTS5 and seven b-tree indexes),
 * as earlier builds wrote them, are upgraded when the writer opens them: their records keep their ids and
 * JSON pairs and are found by every filter, the old indexes are gone, and the block index covers them.
 */
static const char *const old_schemas[] = {
    "CREATE TABLE objects (object_id TEXT NOT NULL, record_id INTEGER NOT NULL, PRIMARY KEY (object_id, record_id))"
    " WITHOUT ROWID;"
    "INSERT INTO objects VALUES ('111', 1), ('222', 1), ('333', 1), ('0444', 3), ('222', 3);",
    "CREATE INDEX records_ts ON records (ts); CREATE INDEX records_request_id ON records (request_id);"
    "CREATE INDEX records_subject ON records (subject); CREATE INDEX records_client ON records (client);"
    "CREATE INDEX records_route ON records (route); CREATE INDEX records_decision ON records (decision);"
    "CREATE INDEX records_status ON records (status);"
    "CREATE VIRTUAL TABLE objects USING fts5(object_ids, content='', detail=none, columnsize=0, tokenize='ascii');"
    "INSERT INTO objects (rowid, object_ids) VALUES (1, '111 222 333 222 '), (3, '222 0444 ');",
};

START_TEST(old_store_is_upgraded)
{
    int version = _i + 1;
    char *dir = audittest_tmpdir("hg-auditq"), *db = hg_path_join(dir, "audit.db");
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    char *sql = hg_xasprintf("CREATE TABLE schema_version (version INTEGER NOT NULL);"
                             "CREATE TABLE records (id INTEGER PRIMARY KEY AUTOINCREMENT, %s);"
                             "INSERT INTO schema_version VALUES (%d);"
                             "INSERT INTO records (ts, request_id, decision, status, pairs) VALUES"
                             " (1714564800000, 'v1-a', 'forwarded', 200, '[[\"111\",\"222\"],[\"333\",\"222\"]]'),"
                             " (1714564801000, 'v1-b', 'rejected_auth', 401, NULL),"
                             " (1714564802000, 'v1-c', 'forwarded', 200, '[[\"222\",\"0444\"]]');%s",
                             hg_audit_sqlite_columns(), version, old_schemas[_i]);
    ck_assert_int_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
    sqlite3_close(h);
    /* the reader does not upgrade: it refuses */
    hg_audit_filter_t *f = hg_audit_filter_new();
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_ptr_null(hg_audit_query(db, f, &errors));
    char *msg = hg_xasprintf("audit store %s: schema version %d, this program reads version 3", db, version), err[256];
    ck_assert_str_eq(errors.items[0].message, msg);
    free(msg);
    hg_violations_clear(&errors);
    hg_audit_filter_free(f);
    hg_audit_t *a = open_store(dir);
    row_t later = {"v2-d", "s", "c", "create", HG_AUDIT_FORWARDED, 200, T0, {"222", "555"}};
    ck_assert_int_eq(hg_audit_submit(a, record_of(&later)), 0);
    hg_audit_free(a);
    ASSERT_QUERY(db, "", "v2-d v1-c v1-b v1-a");
    ASSERT_QUERY(db, "object_id=222", "v2-d v1-c v1-a");
    ASSERT_QUERY(db, "object_id=333", "v1-a");
    ASSERT_QUERY(db, "object_id=0444", "v1-c");
    ASSERT_QUERY(db, "object_id=444", "");
    ASSERT_QUERY(db, "object_id=555", "v2-d");
    ASSERT_QUERY(db, "request_id=v1-b&status=401", "v1-b");
    sqlite3 *ro = hg_audit_sqlite_open_readonly(db, err, sizeof(err));
    ck_assert_msg(ro != NULL, "%s", err);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(ro,
                                        "SELECT (SELECT group_concat(version) FROM schema_version) || ' ' ||"
                                        " (SELECT group_concat(name) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "3 schema_version,records,blocks");
    sqlite3_finalize(st);
    sqlite3_close(ro);
    free(db);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/*
 * The block index never changes an answer: a store of a few thousand varied records, most of them sealed
 * into blocks (by record count and by time span), answers every filter, alone and combined, page by page,
 * exactly as a scan of the records in memory does.
 */
#define MANY 2600

static const char *const decisions_used[] = {HG_AUDIT_FORWARDED, HG_AUDIT_REJECTED_AUTH, HG_AUDIT_REJECTED_SCOPE,
                                             HG_AUDIT_REJECTED_VALIDATION, HG_AUDIT_UPSTREAM_ERROR};
static const int statuses_used[] = {200, 207, 400, 401, 403, 429, 502, 504};

typedef struct {
    char request_id[16], subject[8], client[8], route[8], pairs[4][8];
    const char *decision;
    int status, npairs;
    int64_t ts;
} many_t;

static uint32_t lcg(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

static void make_many(many_t *m, size_t n)
{
    uint32_t seed = 20241129;
    int64_t ts = T0;
    for (size_t i = 0; i != n; ++i) {
        many_t *r = &m[i];
        ts += i == 300 || i == 2200 ? 700000 : 50; /* two gaps of over 10 minutes: time seals those blocks */
        r->ts = ts;
        snprintf(r->request_id, sizeof(r->request_id), "q%zu", i);
        snprintf(r->subject, sizeof(r->subject), "s%u", lcg(&seed) % 5);
        snprintf(r->client, sizeof(r->client), "c%u", lcg(&seed) % 3);
        snprintf(r->route, sizeof(r->route), "r%u", lcg(&seed) % 2);
        r->decision = decisions_used[lcg(&seed) % 5];
        r->status = statuses_used[lcg(&seed) % 8];
        r->npairs = (int)(lcg(&seed) % 3);
        for (int p = 0; p != 2 * r->npairs; ++p)
            snprintf(r->pairs[p], sizeof(r->pairs[p]), "%u", lcg(&seed) % 4000);
    }
}

/* the record through record_of, the rows' own maker */
static hg_audit_record_t *record_of_many(const many_t *m)
{
    row_t row = {m->request_id, m->subject, m->client, m->route, m->decision, m->status, m->ts, {NULL}};
    for (int p = 0; p != 2 * m->npairs; ++p)
        row.pairs[p] = m->pairs[p];
    return record_of(&row);
}

typedef struct {
    const char *subject, *client, *route, *decision, *request_id, *object_id;
    int status_lo, status_hi;
    int64_t since, until;
} expect_t;

static int matches(const many_t *m, const expect_t *e)
{
    if ((e->subject && strcmp(m->subject, e->subject) != 0) || (e->client && strcmp(m->client, e->client) != 0) ||
        (e->route && strcmp(m->route, e->route) != 0) || (e->decision && strcmp(m->decision, e->decision) != 0) ||
        (e->request_id && strcmp(m->request_id, e->request_id) != 0) ||
        (e->status_lo && (m->status < e->status_lo || m->status > e->status_hi)) || (e->since && m->ts < e->since) ||
        (e->until && m->ts >= e->until))
        return 0;
    if (e->object_id == NULL)
        return 1;
    for (int p = 0; p != 2 * m->npairs; ++p)
        if (strcmp(m->pairs[p], e->object_id) == 0)
            return 1;
    return 0;
}

/* pages through `query` with `limit` and compares every page with the scan */
static void assert_like_scan(const char *db, const many_t *m, size_t n, const char *query, const expect_t *e, int limit)
{
    char *expected = hg_xstrdup(""), *got = hg_xstrdup(""), *cursor = NULL;
    for (size_t i = n; i-- != 0;) {
        if (matches(&m[i], e)) {
            char *more = hg_xasprintf("%s%s%s", expected, *expected ? " " : "", m[i].request_id);
            free(expected);
            expected = more;
        }
    }
    int pages = 0;
    do {
        char *q = hg_xasprintf("%s%slimit=%d%s%s", query, *query ? "&" : "", limit, cursor ? "&cursor=" : "", cursor ? cursor : "");
        free(cursor);
        char *page = run(db, q, &cursor);
        ck_assert_msg(cursor == NULL || strlen(page) != 0, "%s: an empty page with a cursor", q);
        char *more = hg_xasprintf("%s%s%s", got, *got && *page ? " " : "", page);
        free(got);
        got = more;
        free(page);
        free(q);
        ck_assert_int_lt(++pages, (int)n + 2);
    } while (cursor != NULL);
    ck_assert_msg(strcmp(got, expected) == 0, "%s (limit %d): got \"%.200s\", expected \"%.200s\"", query, limit, got, expected);
    free(expected);
    free(got);
}

START_TEST(blocks_answer_like_a_scan)
{
    many_t *m = hg_xcalloc(MANY, sizeof(*m));
    make_many(m, MANY);
    char *dir = audittest_tmpdir("hg-auditq");
    hg_audit_t *a = open_store(dir);
    for (size_t i = 0; i != MANY; ++i)
        ck_assert_int_eq(hg_audit_submit(a, record_of_many(&m[i])), 0);
    char *db = hg_xstrdup(hg_audit_sqlite_path(a));
    hg_audit_free(a);
    /* sealed by time span and by record count, with an open block after them */
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(h,
                                        "SELECT count(*), sum(records = 1024), sum(max_ts - min_ts >= 600000), max(last_id)"
                                        " FROM blocks",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_ge(sqlite3_column_int(st, 0), 3);
    ck_assert_int_ge(sqlite3_column_int(st, 1), 1);
    ck_assert_int_ge(sqlite3_column_int(st, 2), 1);
    ck_assert_int_lt(sqlite3_column_int(st, 3), MANY);
    sqlite3_finalize(st);
    sqlite3_close(h);

    struct {
        const char *query;
        expect_t e;
    } cases[] = {
        {"", {0}},
        {"subject=s3", {.subject = "s3"}},
        {"client=c1", {.client = "c1"}},
        {"route=r0", {.route = "r0"}},
        {"decision=upstream_error", {.decision = HG_AUDIT_UPSTREAM_ERROR}},
        {"decision=rejected_route", {.decision = HG_AUDIT_REJECTED_ROUTE}},
        {"status=429", {.status_lo = 429, .status_hi = 429}},
        {"status=5xx", {.status_lo = 500, .status_hi = 599}},
        {"status=2xx", {.status_lo = 200, .status_hi = 299}},
        {"status=500", {.status_lo = 500, .status_hi = 500}},
        {"request_id=q7", {.request_id = "q7"}},
        {"request_id=q2555", {.request_id = "q2555"}},
        {"request_id=q1500", {.request_id = "q1500"}},
        {"request_id=nowhere", {.request_id = "nowhere"}},
        {"object_id=17", {.object_id = "17"}},
        {"object_id=3999", {.object_id = "3999"}},
        {"object_id=4000", {.object_id = "4000"}},
        {"subject=s1&decision=forwarded&status=2xx",
         {.subject = "s1", .decision = HG_AUDIT_FORWARDED, .status_lo = 200, .status_hi = 299}},
        {"object_id=100&client=c0", {.object_id = "100", .client = "c0"}},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        assert_like_scan(db, m, MANY, cases[i].query, &cases[i].e, 1000);
        assert_like_scan(db, m, MANY, cases[i].query, &cases[i].e, 97);
    }
    /* time windows inside, across and outside blocks */
    for (size_t w = 0; w != 6; ++w) {
        int64_t since = m[w * 500].ts, until = m[w * 500 + 300 < MANY ? w * 500 + 300 : MANY - 1].ts;
        char s1[40], s2[40], *q = NULL;
        expect_t e = {.since = since, .until = until};
        q = hg_xasprintf("since=%s&until=%s", hg_audit_format_ts(since, s1, sizeof(s1)), hg_audit_format_ts(until, s2, sizeof(s2)));
        assert_like_scan(db, m, MANY, q, &e, 1000);
        free(q);
        e.subject = "s0";
        q = hg_xasprintf("since=%s&subject=s0", hg_audit_format_ts(since, s1, sizeof(s1)));
        e.until = 0;
        assert_like_scan(db, m, MANY, q, &e, 50);
        free(q);
    }
    free(db);
    free(m);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(pages_with_cursor)
{
    char *dir = audittest_tmpdir("hg-auditq"), *db = fixture(dir), *cursor, *got;
    got = run(db, "subject=alice&limit=3", &cursor);
    ck_assert_str_eq(got, "r7 r4 r3");
    ck_assert_ptr_nonnull(cursor);
    free(got);
    char *q = hg_xasprintf("subject=alice&limit=3&cursor=%s", cursor);
    free(cursor);
    got = run(db, q, &cursor);
    ck_assert_str_eq(got, "r1");
    ck_assert_ptr_null(cursor);
    free(got);
    free(q);
    got = run(db, "limit=8", &cursor); /* exactly full: no next page */
    ck_assert_str_eq(got, "r8 r7 r6 r5 r4 r3 r2 r1");
    ck_assert_ptr_null(cursor);
    free(got);
    got = run(db, "limit=7", &cursor);
    ck_assert_ptr_nonnull(cursor);
    free(got);
    q = hg_xasprintf("limit=7&cursor=%s", cursor);
    free(cursor);
    ASSERT_QUERY(db, q, "r1");
    free(q);
    free(db);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

typedef struct {
    hg_audit_t *a;
    atomic_int stop;
    int submitted;
} inserter_t;

static void *insert_loop(void *arg)
{
    inserter_t *ins = arg;
    while (!atomic_load(&ins->stop)) {
        hg_audit_record_t *r = hg_audit_record_new();
        r->request_id = hg_audit_record_printf(r, "%d", ++ins->submitted);
        if (hg_audit_submit(ins->a, r) != 0)
            break;
        if (ins->submitted % 64 == 0)
            hg_audit_sync(ins->a, 1000); /* let the writer keep up: this test is about paging, not drops */
    }
    return NULL;
}

/* pages read while the writer keeps inserting: no repeats, and every record that existed at page one */
START_TEST(paging_under_concurrent_inserts)
{
    char *dir = audittest_tmpdir("hg-auditq");
    hg_audit_t *a = open_store(dir);
    inserter_t ins = {.a = a};
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, insert_loop, &ins), 0);
    hg_audit_stats_t st;
    for (hg_audit_stats(a, &st); st.written < 500; hg_audit_stats(a, &st))
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL); /* the test's timeout bounds this */
    hg_audit_filter_t *f = NULL;
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    char *cursor = NULL;
    long top = -1, expect = -1, pages = 0;
    do {
        f = hg_audit_filter_new();
        ck_assert_int_eq(hg_audit_filter_set(f, "limit", "37", &errors), 0);
        if (cursor != NULL)
            ck_assert_int_eq(hg_audit_filter_set(f, "cursor", cursor, &errors), 0);
        free(cursor);
        cursor = NULL;
        json_t *answer = hg_audit_query(hg_audit_sqlite_path(a), f, &errors);
        ck_assert_msg(answer != NULL, "%s", errors.count != 0 ? errors.items[0].message : "?");
        size_t i;
        json_t *rec;
        json_array_foreach(json_object_get(answer, "records"), i, rec)
        {
            long id = atol(json_string_value(json_object_get(rec, "request_id")));
            if (top < 0)
                top = expect = id;
            ck_assert_int_eq(id, expect); /* strictly one less each time: no repeat, no gap */
            --expect;
        }
        if (json_is_string(json_object_get(answer, "next_cursor")))
            cursor = hg_xstrdup(json_string_value(json_object_get(answer, "next_cursor")));
        json_decref(answer);
        hg_audit_filter_free(f);
        ++pages;
    } while (cursor != NULL);
    ck_assert_int_eq(expect, 0); /* down to the first record */
    ck_assert_int_ge(top, 500);
    ck_assert_int_ge(pages, 500 / 37);
    atomic_store(&ins.stop, 1);
    pthread_join(thread, NULL);
    hg_audit_stop(a, 1000);
    hg_audit_stats(a, &st);
    ck_assert_uint_eq(st.written, (uint64_t)ins.submitted); /* the inserts really overlapped the paging */
    ck_assert_int_gt(ins.submitted, top);
    hg_audit_free(a);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

static void expect_filter_error(const char *query, const char *in, const char *code, const char *message)
{
    hg_audit_filter_t *f = hg_audit_filter_new();
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_int_eq(hg_audit_filter_parse_query(f, query, &errors), -1);
    ck_assert_msg(errors.count == 1, "%s: %zu problems", query, errors.count);
    ck_assert_str_eq(errors.items[0].in, in);
    ck_assert_str_eq(errors.items[0].code, code);
    ck_assert_str_eq(errors.items[0].message, message);
    hg_violations_clear(&errors);
    hg_audit_filter_free(f);
}

START_TEST(filter_errors)
{
    static const char time_msg[] = "must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z, or a date such as 2024-05-01";
    expect_filter_error("since=yesterday", "query:since", "invalid_parameter", time_msg);
    expect_filter_error("until=2024-02-30", "query:until", "invalid_parameter", time_msg);
    expect_filter_error("since=2024-05-01T12:00:00", "query:since", "invalid_parameter", time_msg);
    expect_filter_error("limit=0", "query:limit", "invalid_parameter", "must be an integer from 1 to 1000");
    expect_filter_error("limit=1001", "query:limit", "invalid_parameter", "must be an integer from 1 to 1000");
    expect_filter_error("limit=-5", "query:limit", "invalid_parameter", "must be an integer from 1 to 1000");
    expect_filter_error("status=abc", "query:status", "invalid_parameter",
                        "must be an HTTP status from 100 to 599, or a class such as 5xx");
    expect_filter_error("status=600", "query:status", "invalid_parameter",
                        "must be an HTTP status from 100 to 599, or a class such as 5xx");
    expect_filter_error("decision=allowed", "query:decision", "invalid_parameter",
                        "must be one of forwarded, rejected_auth, rejected_scope, rejected_validation, rejected_route, "
                        "upstream_error, rejected_other");
    expect_filter_error("cursor=abc", "query:cursor", "invalid_parameter", "must be a next_cursor value from an earlier answer");
    expect_filter_error("subject=", "query:subject", "invalid_parameter", "must not be empty");
    expect_filter_error("subject=a&subject=b", "query:subject", "invalid_parameter", "given more than once");
    expect_filter_error("subject=%zz", "query:subject", "invalid_parameter", "bad percent-encoding");
    expect_filter_error("subject=a%00b", "query:subject", "invalid_parameter", "bad percent-encoding");
    expect_filter_error("sort=ts", "query:sort", "unknown_parameter",
                        "unknown parameter; known: since, until, subject, client, route, decision, status, request_id, "
                        "object_id, limit, cursor");
    /* every problem is reported */
    hg_audit_filter_t *f = hg_audit_filter_new();
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_int_eq(hg_audit_filter_parse_query(f, "limit=x&subject=a+b%2Fc&status=9", &errors), -1);
    ck_assert_uint_eq(errors.count, 2);
    ck_assert_str_eq(errors.items[0].in, "query:limit");
    ck_assert_str_eq(errors.items[1].in, "query:status");
    hg_violations_clear(&errors);
    hg_audit_filter_free(f);
}
END_TEST

START_TEST(parses_rfc3339)
{
    int64_t ms;
    ck_assert_int_eq(hg_audit_parse_time("2024-05-01T12:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, T0);
    ck_assert_int_eq(hg_audit_parse_time("2024-05-01t12:00:00.1234z", &ms), 0);
    ck_assert_int_eq(ms, T0 + 123);
    ck_assert_int_eq(hg_audit_parse_time("2024-05-01 09:30:00-02:30", &ms), 0);
    ck_assert_int_eq(ms, T0);
    ck_assert_int_eq(hg_audit_parse_time("2024-05-01", &ms), 0);
    ck_assert_int_eq(ms, T0 - 12 * 3600 * 1000);
    ck_assert_int_eq(hg_audit_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(hg_audit_parse_time("2000-02-29T00:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 951782400000LL);
    ck_assert_int_eq(hg_audit_parse_time("1900-02-29", &ms), -1);
    ck_assert_int_eq(hg_audit_parse_time("2024-13-01", &ms), -1);
    ck_assert_int_eq(hg_audit_parse_time("2024-05-01T24:00:00Z", &ms), -1);
    ck_assert_int_eq(hg_audit_parse_time("2024-05-01T12:00:00.Z", &ms), -1);
    ck_assert_int_eq(hg_audit_parse_time("2024-05-01T12:00:00+0200", &ms), -1);
    ck_assert_int_eq(hg_audit_parse_time("2024-05-01T12:00:00Zjunk", &ms), -1);
    ck_assert_int_eq(hg_audit_parse_time("24-05-01", &ms), -1);
    ck_assert_int_eq(hg_audit_parse_time("", &ms), -1);
}
END_TEST

START_TEST(query_store_errors)
{
    char *dir = audittest_tmpdir("hg-auditq");
    char *missing = hg_path_join(dir, "nope.db"), *other = hg_path_join(dir, "other.db");
    hg_audit_filter_t *f = hg_audit_filter_new();
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_ptr_null(hg_audit_query(missing, f, &errors));
    ck_assert_str_eq(errors.items[0].in, "");
    ck_assert_str_eq(errors.items[0].code, "audit_store");
    char *msg = hg_xasprintf("audit store %s: No such file or directory", missing);
    ck_assert_str_eq(errors.items[0].message, msg);
    free(msg);
    hg_violations_clear(&errors);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(other, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert_ptr_null(hg_audit_query(other, f, &errors));
    msg = hg_xasprintf("audit store %s: not an audit store (no schema_version table)", other);
    ck_assert_str_eq(errors.items[0].message, msg);
    free(msg);
    hg_violations_clear(&errors);
    ck_assert_int_eq(sqlite3_open(other, &db), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db, "CREATE TABLE schema_version (version); INSERT INTO schema_version VALUES (4)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    ck_assert_ptr_null(hg_audit_query(other, f, &errors));
    msg = hg_xasprintf("audit store %s: schema version 4, this program reads version 3", other);
    ck_assert_str_eq(errors.items[0].message, msg);
    free(msg);
    hg_violations_clear(&errors);
    hg_audit_filter_free(f);
    free(missing);
    free(other);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* the CLI */

typedef struct {
    char *out, *err;
    int status;
} cli_result_t;

static const char *resolved_config; /* what the last resolve callback was asked for (tests run one at a time) */
static char *resolve_to;            /* what it answers */

static char *test_resolve(const char *config_file, char *err, size_t errlen)
{
    free((void *)resolved_config);
    resolved_config = hg_xstrdup(config_file);
    if (resolve_to == NULL) {
        snprintf(err, errlen, "%s: audit.sqlite is null", config_file);
        return NULL;
    }
    return hg_xstrdup(resolve_to);
}

static cli_result_t cli(const char *first, ...)
{
    char *argv[32] = {"audit"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    cli_result_t r = {0};
    size_t n1, n2;
    FILE *out = open_memstream(&r.out, &n1), *err = open_memstream(&r.err, &n2);
    r.status = hg_audit_cli_run(argc, argv, test_resolve, out, err);
    fclose(out);
    fclose(err);
    return r;
}

static void cli_free(cli_result_t *r)
{
    free(r->out);
    free(r->err);
}

START_TEST(cli_jsonl_matches_the_query)
{
    char *dir = audittest_tmpdir("hg-auditq"), *db = fixture(dir);
    cli_result_t r = cli("--db", db, "--subject", "alice", "--format=jsonl", "--object-id", "111", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, "");
    hg_audit_record_t *r4 = record_of(&rows[3]), *r1 = record_of(&rows[0]);
    json_t *j4 = hg_audit_record_to_json(r4), *j1 = hg_audit_record_to_json(r1);
    char *l4 = json_dumps(j4, HG_AUDIT_JSON_FLAGS), *l1 = json_dumps(j1, HG_AUDIT_JSON_FLAGS);
    char *expected = hg_xasprintf("%s\n%s\n", l4, l1);
    ck_assert_str_eq(r.out, expected);
    free(expected);
    free(l4);
    free(l1);
    json_decref(j4);
    json_decref(j1);
    hg_audit_record_free(r4);
    hg_audit_record_free(r1);
    cli_free(&r);
    r = cli("--db", db, "--format", "jsonl", "--limit", "2", "--decision", "forwarded", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, "next page: --cursor 4\n");
    cli_free(&r);
    r = cli("--db", db, "--format", "jsonl", "--limit", "2", "--decision", "forwarded", "--cursor", "4", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.err, "");
    ck_assert_ptr_nonnull(strstr(r.out, "\"request_id\":\"r1\""));
    ck_assert_ptr_eq(strchr(r.out, '\n'), r.out + strlen(r.out) - 1); /* one line */
    cli_free(&r);
    free(db);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(cli_table)
{
    char *dir = audittest_tmpdir("hg-auditq");
    hg_audit_t *a = open_store(dir);
    hg_audit_record_t *r = record_of(&rows[0]);
    r->request_id[0] = 'R';
    r->inputs_received = 3;
    r->inputs_forwarded = 2;
    r->duration_ms = 12.345;
    ck_assert_int_eq(hg_audit_submit(a, r), 0);
    r = record_of(&rows[1]);
    r->error = hg_audit_record_strdup(
        r, "token expired\x1b[31m \xc3\xa9\xc2\x9b, and this error message goes on and on for so long that the "
           "table has to cut it somewhere");
    r->subject[0] = 'B';
    ck_assert_int_eq(hg_audit_submit(a, r), 0);
    char *db = hg_xstrdup(hg_audit_sqlite_path(a));
    hg_audit_free(a);
    cli_result_t res = cli("--db", db, NULL);
    ck_assert_int_eq(res.status, 0);
    ck_assert_str_eq(res.err, "");
    ck_assert_str_eq(res.out,
                     "TS                        REQUEST_ID  DECISION       STATUS  ROUTE   SUBJECT  CLIENT  INPUTS  MS    ERROR\n"
                     "2024-05-01T12:00:01.000Z  r2          rejected_auth  401     create  Bob      svc-b   -       -     "
                     "token expired?[31m \xc3\xa9?, and this error message goes on and on for so long that...\n"
                     "2024-05-01T12:00:00.000Z  R1          forwarded      200     create  alice    svc-a   3/2     12.3  -\n");
    cli_free(&res);
    res = cli("--db", db, "--format", "table", "--since", "2030-01-01", NULL);
    ck_assert_int_eq(res.status, 0);
    ck_assert_str_eq(res.out, "TS  REQUEST_ID  DECISION  STATUS  ROUTE  SUBJECT  CLIENT  INPUTS  MS  ERROR\n");
    cli_free(&res);
    free(db);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(cli_usage_errors)
{
    static const char hint[] = "(hubgate audit --help shows the options)\n";
    struct {
        const char *args[6];
        int status;
        const char *err;
    } cases[] = {
        {{"--db", "x.db", "--limit", "0"}, 2, "hubgate audit: --limit: must be an integer from 1 to 1000\n"},
        {{"--db", "x.db", "--since=tomorrow"},
         2,
         "hubgate audit: --since: must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z, or a date such as 2024-05-01\n"},
        {{"--db", "x.db", "--request-id", "a", "--request_id", "b"}, 2, "hubgate audit: --request_id: given more than once\n"},
        {{"--db", "x.db", "--sort", "ts"}, 2, NULL},
        {{"--db", "x.db", "--limit"}, 2, NULL},
        {{"--db", "x.db", "--format", "xml"}, 2, NULL},
        {{"--db", "x.db", "-c", "conf.yaml"}, 2, NULL},
        {{"--db", "x.db", "stray"}, 2, NULL},
    };
    const char *expected_err[] = {NULL,
                                  NULL,
                                  NULL,
                                  "hubgate audit: unknown option --sort\n",
                                  "hubgate audit: --limit needs a value\n",
                                  "hubgate audit: --format must be table or jsonl, not xml\n",
                                  "hubgate audit: give --db or -c, not both\n",
                                  "hubgate audit: unexpected argument stray\n"};
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        cli_result_t r =
            cli(cases[i].args[0], cases[i].args[1], cases[i].args[2], cases[i].args[3], cases[i].args[4], cases[i].args[5], NULL);
        ck_assert_int_eq(r.status, cases[i].status);
        ck_assert_str_eq(r.out, "");
        if (cases[i].err != NULL) {
            ck_assert_str_eq(r.err, cases[i].err);
        } else {
            char *e = hg_xasprintf("%s%s", expected_err[i], hint);
            ck_assert_str_eq(r.err, e);
            free(e);
        }
        cli_free(&r);
    }
    cli_result_t r = cli("--help", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: hubgate audit [--db FILE | -c FILE]"));
    cli_free(&r);
    r = cli("--db", "/nonexistent/audit.db", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "hubgate audit: audit store /nonexistent/audit.db: No such file or directory\n");
    cli_free(&r);
}
END_TEST

START_TEST(cli_config_resolution)
{
    char *dir = audittest_tmpdir("hg-auditq"), *db = fixture(dir);
    resolve_to = db;
    cli_result_t r = cli("-c", "/etc/hubgate/hubgate.yaml", "--request-id", "r2", "--format", "jsonl", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(resolved_config, "/etc/hubgate/hubgate.yaml");
    ck_assert_ptr_nonnull(strstr(r.out, "\"request_id\":\"r2\""));
    cli_free(&r);
    r = cli("--request-id", "r3", "--format", "jsonl", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(resolved_config, "conf/hubgate.yaml");
    ck_assert_ptr_nonnull(strstr(r.out, "\"request_id\":\"r3\""));
    cli_free(&r);
    resolve_to = NULL;
    r = cli("--config=x.yaml", NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "hubgate audit: x.yaml: audit.sqlite is null\n");
    cli_free(&r);
    free((void *)resolved_config);
    resolved_config = NULL;
    free(db);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* the real entry point writes to the process's stdout */
START_TEST(cli_main_writes_to_stdout)
{
    char *dir = audittest_tmpdir("hg-auditq"), *db = fixture(dir), *out = hg_path_join(dir, "out");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_eq(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    close(fd);
    char *argv[] = {"audit", "--db", db, "--status", "5xx", "--format", "jsonl", NULL};
    int status = hg_audit_cli_main(7, argv, NULL);
    fflush(stdout);
    ck_assert_int_eq(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    ck_assert_int_eq(status, 0);
    char *text = hg_read_file(out, NULL);
    ck_assert_ptr_nonnull(strstr(text, "\"request_id\":\"r6\",\"route\":\"create\""));
    ck_assert_ptr_eq(strchr(text, '\n'), text + strlen(text) - 1);
    free(text);
    free(out);
    free(db);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("audit_query");
    TCase *tc = tcase_create("query");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, every_filter);
    tcase_add_test(tc, object_id_is_an_exact_string);
    tcase_add_loop_test(tc, old_store_is_upgraded, 0, 2);
    tcase_add_test(tc, blocks_answer_like_a_scan);
    tcase_add_test(tc, pages_with_cursor);
    tcase_add_test(tc, paging_under_concurrent_inserts);
    tcase_add_test(tc, query_store_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("filters");
    tcase_add_test(tc, filter_errors);
    tcase_add_test(tc, parses_rfc3339);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_add_test(tc, cli_jsonl_matches_the_query);
    tcase_add_test(tc, cli_table);
    tcase_add_test(tc, cli_usage_errors);
    tcase_add_test(tc, cli_config_resolution);
    tcase_add_test(tc, cli_main_writes_to_stdout);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
