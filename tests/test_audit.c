/*
 * test_audit.c: the audit trail's core: the record and its JSON shape, the
 * /audit configuration, the writer thread with its SQLite and JSON Lines
 * stores, the loss rules (full queue, failing stores, stop), and retention.
 * The query and the CLI have their own program (test_audit_query.c).
 *
 * Every test works in its own mkdtemp directory. Failures are made without
 * file permissions (the tests may run as root): a database locked by another
 * connection, a database path replaced by a directory or whose directory is
 * removed, a JSON Lines path that is a symlink to /dev/full.
 */
#include "audit.h"
#include "audittest.h"
#include "audit_sqlite.h"
#include "util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_MS (24 * 60 * 60 * 1000LL)

/* a record with every field set, distinct per i */
static hg_audit_record_t *full_record(int i)
{
    hg_audit_record_t *r = hg_audit_record_new();
    r->ts_ms = 1714564800123LL + i; /* 2024-05-01T12:00:00.123Z */
    r->request_id = hg_audit_record_printf(r, "req-%d", i);
    r->route = hg_audit_record_strdup(r, "create-default-associations");
    r->method = hg_audit_record_strdup(r, "POST");
    r->path = hg_audit_record_strdup(r, "/crm/v4/associations/contacts/companies/batch/associate/default");
    r->decision = HG_AUDIT_FORWARDED;
    r->status = 200;
    r->upstream_status = 200;
    r->issuer = hg_audit_record_strdup(r, "https://idp.example.internal");
    r->subject = hg_audit_record_printf(r, "user-%d", i % 3);
    r->client = hg_audit_record_printf(r, "svc-%d", i % 2);
    r->scope_used = hg_audit_record_strdup(r, "crm.objects.contacts.write");
    r->from_object_type = hg_audit_record_strdup(r, "contacts");
    r->to_object_type = hg_audit_record_strdup(r, "companies");
    r->inputs_received = 3;
    r->inputs_forwarded = 2;
    r->duplicates = 1;
    r->coerced = 4;
    r->dropped_fields = 5;
    r->hubspot_status = hg_audit_record_strdup(r, "COMPLETE");
    r->num_errors = 0;
    r->hubspot_correlation_id = hg_audit_record_strdup(r, "aaaa-bbbb");
    r->duration_ms = 12.3456;
    r->upstream_ms = 10.5;
    r->body_sha256 = hg_audit_record_strdup(r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    r->client_addr = hg_audit_record_strdup(r, "127.0.0.1");
    r->user_agent = hg_audit_record_strdup(r, "curl/8.0");
    r->error = NULL;
    char from[32], to[32];
    snprintf(from, sizeof(from), "%d", 1000 + i);
    snprintf(to, sizeof(to), "%d", 2000 + i);
    hg_audit_record_add_pair(r, from, to);
    hg_audit_record_add_pair(r, from, "3000");
    return r;
}

static hg_audit_t *new_audit(const char *yamlish_json, const char *basedir)
{
    json_error_t jerr;
    json_t *conf = json_loads(yamlish_json, 0, &jerr);
    ck_assert_msg(conf != NULL, "%s", jerr.text);
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_audit_t *a = hg_audit_new(conf, basedir, &errors);
    ck_assert_msg(a != NULL, "%s", errors.count != 0 ? errors.items[0].message : "?");
    hg_violations_clear(&errors);
    json_decref(conf);
    return a;
}

static void start(hg_audit_t *a)
{
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    int rc = hg_audit_start(a, &errors);
    ck_assert_msg(rc == 0, "%s", errors.count != 0 ? errors.items[0].message : "?");
    hg_violations_clear(&errors);
}

/* polls the writer's state (not a sleep-and-hope: it returns as soon as the condition holds) */
#define WAIT_FOR(a, cond)                                                                                                          \
    do {                                                                                                                           \
        int64_t deadline_ = (int64_t)hg_now_ms() + 3000;                                                                           \
        hg_audit_stats_t s_;                                                                                                       \
        for (;;) {                                                                                                                 \
            hg_audit_stats((a), &s_);                                                                                              \
            const hg_audit_stats_t *st = &s_;                                                                                      \
            if (cond)                                                                                                              \
                break;                                                                                                             \
            ck_assert_msg((int64_t)hg_now_ms() < deadline_, "timed out waiting for %s", #cond);                                    \
            nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);                                                               \
        }                                                                                                                          \
    } while (0)

static int64_t count_rows(const char *db_path, const char *sql)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* reads every record back through the store's own row reader, oldest first; returns a JSON array */
static json_t *read_back(const char *db_path)
{
    char err[256];
    sqlite3 *db = hg_audit_sqlite_open_readonly(db_path, err, sizeof(err));
    ck_assert_msg(db != NULL, "%s", err);
    char *sql = hg_xasprintf("SELECT id, %s FROM records ORDER BY id", hg_audit_sqlite_columns());
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    json_t *out = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        hg_audit_record_t *r = hg_audit_sqlite_read_row(st, 1);
        json_array_append_new(out, hg_audit_record_to_json(r));
        hg_audit_record_free(r);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(sql);
    return out;
}

static const char *const all_fields[] = {"ts",
                                         "request_id",
                                         "route",
                                         "method",
                                         "path",
                                         "decision",
                                         "status",
                                         "upstream_status",
                                         "issuer",
                                         "subject",
                                         "client",
                                         "scope_used",
                                         "from_object_type",
                                         "to_object_type",
                                         "inputs_received",
                                         "inputs_forwarded",
                                         "duplicates",
                                         "coerced",
                                         "dropped_fields",
                                         "hubspot_status",
                                         "num_errors",
                                         "hubspot_correlation_id",
                                         "duration_ms",
                                         "upstream_ms",
                                         "body_sha256",
                                         "client_addr",
                                         "user_agent",
                                         "error",
                                         "pairs"};
#define NUM_FIELDS (sizeof(all_fields) / sizeof(all_fields[0]))

/* record */

START_TEST(record_json_has_every_field_in_order)
{
    hg_audit_record_t *r = full_record(7);
    json_t *j = hg_audit_record_to_json(r);
    ck_assert_uint_eq(json_object_size(j), NUM_FIELDS);
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        ck_assert_str_eq(key, all_fields[i]);
        ++i;
    }
    char *s = json_dumps(j, HG_AUDIT_JSON_FLAGS);
    ck_assert_str_eq(
        s, "{\"ts\":\"2024-05-01T12:00:00.130Z\",\"request_id\":\"req-7\",\"route\":\"create-default-associations\","
           "\"method\":\"POST\",\"path\":\"/crm/v4/associations/contacts/companies/batch/associate/default\","
           "\"decision\":\"forwarded\",\"status\":200,\"upstream_status\":200,\"issuer\":\"https://idp.example.internal\","
           "\"subject\":\"user-1\",\"client\":\"svc-1\",\"scope_used\":\"crm.objects.contacts.write\","
           "\"from_object_type\":\"contacts\",\"to_object_type\":\"companies\",\"inputs_received\":3,"
           "\"inputs_forwarded\":2,\"duplicates\":1,\"coerced\":4,\"dropped_fields\":5,\"hubspot_status\":\"COMPLETE\","
           "\"num_errors\":0,\"hubspot_correlation_id\":\"aaaa-bbbb\",\"duration_ms\":12.346,\"upstream_ms\":10.5,"
           "\"body_sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
           "\"client_addr\":\"127.0.0.1\",\"user_agent\":\"curl/8.0\",\"error\":null,"
           "\"pairs\":[{\"from\":\"1007\",\"to\":\"2007\"},{\"from\":\"1007\",\"to\":\"3000\"}]}");
    free(s);
    json_decref(j);
    hg_audit_record_free(r);
}
END_TEST

START_TEST(record_new_is_all_absent)
{
    hg_audit_record_t *r = hg_audit_record_new();
    r->ts_ms = 0;
    json_t *j = hg_audit_record_to_json(r);
    char *s = json_dumps(j, HG_AUDIT_JSON_FLAGS);
    ck_assert_str_eq(s, "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"request_id\":null,\"route\":null,\"method\":null,\"path\":null,"
                        "\"decision\":null,\"status\":null,\"upstream_status\":null,\"issuer\":null,\"subject\":null,"
                        "\"client\":null,\"scope_used\":null,\"from_object_type\":null,\"to_object_type\":null,"
                        "\"inputs_received\":null,\"inputs_forwarded\":null,\"duplicates\":null,\"coerced\":null,"
                        "\"dropped_fields\":null,\"hubspot_status\":null,\"num_errors\":null,"
                        "\"hubspot_correlation_id\":null,\"duration_ms\":null,\"upstream_ms\":null,\"body_sha256\":null,"
                        "\"client_addr\":null,\"user_agent\":null,\"error\":null,\"pairs\":[]}");
    free(s);
    json_decref(j);
    hg_audit_record_free(r);
}
END_TEST

START_TEST(record_repairs_invalid_utf8_and_formats_ts)
{
    hg_audit_record_t *r = hg_audit_record_new();
    r->user_agent = hg_audit_record_strdup(r, "bad\xff\xc3(ok \xc3\xa9\xed\xa0\x80");
    json_t *j = hg_audit_record_to_json(r);
    ck_assert_str_eq(json_string_value(json_object_get(j, "user_agent")), "bad?"
                                                                          "?(ok \xc3\xa9?"
                                                                          "??");
    json_decref(j);
    hg_audit_record_free(r);
    char buf[40];
    ck_assert_str_eq(hg_audit_format_ts(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999Z");
    ck_assert_str_eq(hg_audit_format_ts(1714564800123LL, buf, sizeof(buf)), "2024-05-01T12:00:00.123Z");
    ck_assert_str_eq(hg_audit_decision_find("rejected_scope"), HG_AUDIT_REJECTED_SCOPE);
    ck_assert_ptr_null(hg_audit_decision_find("forwarded "));
}
END_TEST

/* nothing that could hold a credential exists, in the JSON shape or in the SQLite schema */
START_TEST(no_secret_fields)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_audit("{}", dir);
    start(a);
    hg_audit_stop(a, 1000);
    char *db_path = hg_path_join(dir, "audit.db");
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('records') ORDER BY cid", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "id");
    for (size_t i = 0; i != NUM_FIELDS; ++i) {
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), all_fields[i]);
    }
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT group_concat(name) FROM pragma_table_info('blocks')", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0),
                     "last_id,first_id,min_ts,max_ts,records,fields_keys,objects_keys,fields_bloom,objects_bloom");
    sqlite3_finalize(st);
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table' ORDER BY name", -1, &st, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "schema_version,records,sqlite_sequence,blocks");
    sqlite3_finalize(st);
    sqlite3_close(db);
    ck_assert_int_eq(count_rows(db_path, "SELECT version FROM schema_version"), 3);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM schema_version"), 1);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* configuration */

static void expect_config_error(const char *conf_json, const char *in, const char *code, const char *message)
{
    json_t *conf = json_loads(conf_json, JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(conf);
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_ptr_null(hg_audit_new(conf, "/etc/hubgate", &errors));
    ck_assert_uint_eq(errors.count, 1);
    ck_assert_str_eq(errors.items[0].in, in);
    ck_assert_str_eq(errors.items[0].code, code);
    ck_assert_str_eq(errors.items[0].message, message);
    hg_violations_clear(&errors);
    json_decref(conf);
}

START_TEST(config_defaults_and_paths)
{
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_audit_t *a = hg_audit_new(NULL, "/etc/hubgate", &errors);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(hg_audit_sqlite_path(a), "/etc/hubgate/audit.db");
    ck_assert_int_eq(hg_audit_rejects_on_failure(a), 1);
    ck_assert_int_eq(hg_audit_accepting(a), 0); /* not started */
    hg_audit_free(a);
    json_t *conf = json_loads("{\"sqlite\": null, \"jsonl\": \"-\", \"on_failure\": \"continue\", \"retention_days\": 7}", 0, NULL);
    a = hg_audit_new(conf, "/etc/hubgate", &errors);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(hg_audit_sqlite_path(a));
    ck_assert_int_eq(hg_audit_rejects_on_failure(a), 0);
    hg_audit_free(a);
    json_decref(conf);
    conf = json_loads("{\"sqlite\": \"/var/lib/hubgate/a.db\"}", 0, NULL);
    a = hg_audit_new(conf, "/etc/hubgate", &errors);
    ck_assert_str_eq(hg_audit_sqlite_path(a), "/var/lib/hubgate/a.db");
    hg_audit_free(a);
    json_decref(conf);
    conf = json_loads("{\"sqlite\": \"data/a.db\"}", 0, NULL);
    a = hg_audit_new(conf, "/etc/hubgate", &errors);
    ck_assert_str_eq(hg_audit_sqlite_path(a), "/etc/hubgate/data/a.db");
    hg_audit_free(a);
    json_decref(conf);
    ck_assert_uint_eq(errors.count, 0);
}
END_TEST

START_TEST(config_errors)
{
    expect_config_error("[]", "/audit", "type", "must be an object");
    expect_config_error("{\"sqlite\": 3}", "/audit/sqlite", "type", "must be a file path or null");
    expect_config_error("{\"jsonl\": \"\"}", "/audit/jsonl", "type", "must be a file path or null");
    expect_config_error("{\"retention_days\": \"30\"}", "/audit/retention_days", "type", "must be an integer");
    expect_config_error("{\"retention_days\": 0}", "/audit/retention_days", "minimum", "must be from 1 to 36500");
    expect_config_error("{\"on_failure\": \"drop\"}", "/audit/on_failure", "enum", "must be \"reject\" or \"continue\"");
    expect_config_error("{\"a/b\": 1}", "/audit/a~1b", "additionalProperties", "unknown key \"a/b\"");
}
END_TEST

/* the SQLite store through the writer */

START_TEST(sqlite_round_trips_every_field)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_audit("{\"sqlite\": \"a.db\"}", dir);
    start(a);
    ck_assert_int_eq(hg_audit_accepting(a), 1);
    json_t *expected = json_array();
    for (int i = 0; i != 3; ++i) {
        hg_audit_record_t *r = full_record(i);
        if (i == 1) { /* a refusal: most fields absent, a few odd values */
            hg_audit_record_free(r);
            r = hg_audit_record_new();
            r->ts_ms = 1714564800000LL;
            r->decision = HG_AUDIT_REJECTED_AUTH;
            r->status = 401;
            r->error = hg_audit_record_strdup(r, "token expired \"x\"\n");
            r->num_errors = 0;
            r->inputs_received = 0;
            r->duration_ms = 0;
        }
        json_array_append_new(expected, hg_audit_record_to_json(r));
        ck_assert_int_eq(hg_audit_submit(a, r), 0);
    }
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    char *db_path = hg_path_join(dir, "a.db");
    json_t *got = read_back(db_path);
    char *g = json_dumps(got, HG_AUDIT_JSON_FLAGS), *e = json_dumps(expected, HG_AUDIT_JSON_FLAGS);
    ck_assert_str_eq(g, e);
    /* three records fill no block: they are indexed in memory until one is sealed (test_audit_sqlite) */
    char *blocks = audittest_blocks(db_path);
    ck_assert_str_eq(blocks, "");
    free(blocks);
    hg_audit_stats_t s = audittest_stats(a);
    ck_assert_uint_eq(s.written, 3);
    ck_assert_uint_eq(s.dropped, 0);
    ck_assert_int_eq(s.healthy, 1);
    ck_assert_str_eq(s.last_error, "");
    hg_audit_free(a);
    /* WAL, and a second start on the same file keeps the rows */
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 3);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    a = new_audit("{\"sqlite\": \"a.db\", \"retention_days\": 36500}", dir); /* full_record's ts is in 2024 */
    start(a);
    ck_assert_int_eq(hg_audit_submit(a, full_record(9)), 0);
    hg_audit_stop(a, 1000);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 4);
    ck_assert_int_eq(count_rows(db_path, "SELECT max(id) FROM records"), 4);
    hg_audit_free(a);
    free(g);
    free(e);
    json_decref(got);
    json_decref(expected);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/*
 * Stored records come back through hg_audit_record_take, reset (every field absent, no pairs) but with
 * their pair storage kept; filled again, they are stored like new ones. Without stored records, take
 * makes a new one.
 */
START_TEST(stored_records_are_taken_again_reset)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_audit("{\"sqlite\": \"a.db\", \"retention_days\": 36500}", dir);
    start(a);
    hg_audit_record_t *fresh = hg_audit_record_take(a); /* nothing stored yet: a new record */
    ck_assert_ptr_null(fresh->pairs);
    ck_assert_int_eq(fresh->status, 0);
    ck_assert_int_eq(fresh->num_errors, -1);
    hg_audit_record_t *r = full_record(0);
    hg_audit_record_add_pair(r, "1", "2");
    char **pairs = r->pairs;
    ck_assert_int_eq(hg_audit_submit(a, r), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    r = hg_audit_record_take(a);
    ck_assert_ptr_eq(r->pairs, pairs); /* the stored record, its array kept */
    ck_assert_uint_eq(r->num_pairs, 0);
    hg_audit_record_t *blank = hg_audit_record_new();
    blank->ts_ms = r->ts_ms;
    json_t *got = hg_audit_record_to_json(r), *want = hg_audit_record_to_json(blank);
    ck_assert(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    hg_audit_record_free(blank);
    /* filled again, it is stored in full */
    r->request_id = hg_audit_record_strdup(r, "again");
    r->decision = HG_AUDIT_REJECTED_AUTH;
    r->status = 401;
    hg_audit_record_add_pair(r, "3", "4");
    ck_assert_int_eq(hg_audit_submit(a, r), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    char *db_path = hg_path_join(dir, "a.db");
    json_t *back = read_back(db_path);
    ck_assert_uint_eq(json_array_size(back), 2);
    json_t *second = json_array_get(back, 1);
    ck_assert_str_eq(json_string_value(json_object_get(second, "request_id")), "again");
    ck_assert_str_eq(json_string_value(json_object_get(second, "decision")), "rejected_auth");
    ck_assert(json_is_null(json_object_get(second, "route")));
    char *p = json_dumps(json_object_get(second, "pairs"), JSON_COMPACT);
    ck_assert_str_eq(p, "[{\"from\":\"3\",\"to\":\"4\"}]");
    free(p);
    json_decref(back);
    hg_audit_record_free(fresh);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/*
 * A record that brings its forwarded body gets body_sha256 from the writer thread, in both stores, and the
 * body itself is stored nowhere.
 */
START_TEST(body_sha256_is_taken_by_the_writer)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_audit("{\"sqlite\": \"a.db\", \"jsonl\": \"a.jsonl\", \"retention_days\": 36500}", dir);
    start(a);
    static const char body[] = "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}";
    hg_audit_record_t *r = hg_audit_record_take(a);
    r->request_id = hg_audit_record_strdup(r, "with-body");
    hg_audit_record_set_forwarded(r, body, strlen(body));
    ck_assert_ptr_null(r->body_sha256); /* nothing hashed on the submitting thread */
    ck_assert_int_eq(hg_audit_submit(a, r), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    char want[65];
    hg_sha256_hex(NULL, body, strlen(body), want);
    char *db_path = hg_path_join(dir, "a.db"), *jsonl_path = hg_path_join(dir, "a.jsonl");
    json_t *back = read_back(db_path);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(back, 0), "body_sha256")), want);
    json_decref(back);
    size_t len;
    char *text = hg_read_file(jsonl_path, &len);
    json_t *line = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(line, "body_sha256")), want);
    ck_assert_ptr_null(strstr(text, "{\"from\":{\"id\"")); /* the body is not in the line */
    json_decref(line);
    free(text);
    hg_audit_free(a);
    free(db_path);
    free(jsonl_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(stop_writes_everything_queued)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_audit("{}", dir);
    start(a);
    for (int i = 0; i != 10000; ++i)
        ck_assert_int_eq(hg_audit_submit(a, full_record(i)), 0);
    hg_audit_stop(a, 0);
    char *db_path = hg_path_join(dir, "audit.db");
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 10000);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(DISTINCT request_id) FROM records"), 10000);
    hg_audit_stats_t s = audittest_stats(a);
    ck_assert_uint_eq(s.written, 10000);
    ck_assert_uint_eq(s.dropped, 0);
    ck_assert_uint_eq(s.queue_depth, 0);
    ck_assert_uint_ge(s.batches, 10000 / 512);
    ck_assert_uint_le(s.max_batch, 512);
    uint64_t hist_total = 0;
    for (size_t i = 0; i != HG_AUDIT_BATCH_HIST; ++i)
        hist_total += s.batch_hist[i];
    ck_assert_uint_eq(hist_total, s.batches);
    /* after stop nothing is taken */
    ck_assert_int_eq(hg_audit_accepting(a), 0);
    ck_assert_int_eq(hg_audit_submit(a, hg_audit_record_new()), -1);
    ck_assert_uint_eq(audittest_stats(a).dropped, 1);
    hg_audit_stop(a, 0);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(start_fails_on_unopenable_store)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_audit("{\"sqlite\": \"missing/dir/a.db\"}", dir);
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_int_eq(hg_audit_start(a, &errors), -1);
    ck_assert_uint_eq(errors.count, 1);
    ck_assert_str_eq(errors.items[0].in, "/audit/sqlite");
    ck_assert_str_eq(errors.items[0].code, "store_open");
    char *msg = hg_xasprintf("audit store %s/missing/dir/a.db: opening: unable to open database file", dir);
    ck_assert_str_eq(errors.items[0].message, msg);
    free(msg);
    ck_assert_int_eq(hg_audit_accepting(a), 0);
    ck_assert_int_eq(hg_audit_submit(a, hg_audit_record_new()), -1);
    hg_violations_clear(&errors);
    hg_audit_free(a);
    a = new_audit("{\"sqlite\": null, \"jsonl\": \"no/such/dir/a.jsonl\"}", dir);
    ck_assert_int_eq(hg_audit_start(a, &errors), -1);
    ck_assert_str_eq(errors.items[0].in, "/audit/jsonl");
    msg = hg_xasprintf("audit log %s/no/such/dir/a.jsonl: No such file or directory", dir);
    ck_assert_str_eq(errors.items[0].message, msg);
    free(msg);
    hg_violations_clear(&errors);
    hg_audit_free(a);
    /* a file that is not a database */
    char *bad = hg_path_join(dir, "bad.db");
    FILE *fp = fopen(bad, "w");
    fputs("this is not a database, but it is long enough to have a header........................................", fp);
    fclose(fp);
    a = new_audit("{\"sqlite\": \"bad.db\"}", dir);
    ck_assert_int_eq(hg_audit_start(a, &errors), -1);
    msg = hg_xasprintf("audit store %s: setting WAL mode: file is not a database", bad);
    ck_assert_str_eq(errors.items[0].message, msg);
    free(msg);
    hg_violations_clear(&errors);
    hg_audit_free(a);
    free(bad);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* holds the database's write lock from another connection, as another process could */
static sqlite3 *lock_db(const char *db_path)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 3000); /* the writer may be in its start-up retention step */
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void unlock_db(sqlite3 *db)
{
    ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static hg_audit_t *new_tuned(const char *conf, const char *dir, size_t capacity, size_t batch_max, int busy_timeout_ms,
                             int retry_ms)
{
    hg_audit_t *a = new_audit(conf, dir);
    hg_audit_tuning_t t;
    hg_audit_tuning_defaults(&t);
    t.queue_capacity = capacity;
    t.batch_max = batch_max;
    t.busy_timeout_ms = busy_timeout_ms;
    t.retry_ms = retry_ms;
    hg_audit_set_tuning(a, &t);
    start(a);
    return a;
}

static void full_queue(int reject)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_tuned(reject ? "{}" : "{\"on_failure\": \"continue\"}", dir, 16, 4, 10000, 50);
    char *db_path = hg_path_join(dir, "audit.db");
    sqlite3 *lock = lock_db(db_path); /* the writer blocks in busy_timeout with its first batch */
    int accepted = 0, saw_not_accepting_before_full = 0;
    for (;;) {
        if (!hg_audit_accepting(a) && audittest_stats(a).queue_depth < 16)
            saw_not_accepting_before_full = 1;
        if (hg_audit_submit(a, full_record(accepted)) != 0)
            break;
        ++accepted;
        ck_assert_int_lt(accepted, 100);
    }
    hg_audit_stats_t s = audittest_stats(a);
    ck_assert_uint_eq(s.queue_depth, 16);
    ck_assert_uint_eq(s.dropped, 1);
    ck_assert_int_ge(accepted, 16); /* the writer may or may not have taken a batch (at most 4) before it blocked */
    ck_assert_int_le(accepted, 20);
    ck_assert_int_eq(hg_audit_accepting(a), reject ? 0 : 1);
    ck_assert_int_eq(saw_not_accepting_before_full, reject);
    ck_assert_int_eq(hg_audit_submit(a, full_record(99)), -1);
    ck_assert_uint_eq(audittest_stats(a).dropped, 2);
    unlock_db(lock);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    s = audittest_stats(a);
    ck_assert_uint_eq(s.written, (uint64_t)accepted);
    ck_assert_int_eq(s.healthy, 1);
    ck_assert_int_eq(hg_audit_accepting(a), 1);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), accepted);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}

START_TEST(queue_full_rejects)
{
    full_queue(1);
}
END_TEST

START_TEST(queue_full_continues)
{
    full_queue(0);
}
END_TEST

START_TEST(locked_store_is_unhealthy_then_recovers)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_tuned("{}", dir, 64, 8, 20, 20);
    char *db_path = hg_path_join(dir, "audit.db");
    sqlite3 *lock = lock_db(db_path);
    for (int i = 0; i != 10; ++i)
        ck_assert_int_eq(hg_audit_submit(a, full_record(i)), 0);
    WAIT_FOR(a, !st->healthy && st->store_errors >= 2);
    ck_assert_int_eq(hg_audit_accepting(a), 0);
    hg_audit_stats_t s = audittest_stats(a);
    char *msg = hg_xasprintf("audit store %s: starting a transaction: database is locked", db_path);
    ck_assert_str_eq(s.last_error, msg);
    free(msg);
    ck_assert_uint_eq(s.written, 0);
    ck_assert_uint_eq(s.dropped, 0);
    ck_assert_int_eq(hg_audit_sync(a, 50), -1);
    unlock_db(lock);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    s = audittest_stats(a);
    ck_assert_int_eq(s.healthy, 1);
    ck_assert_uint_eq(s.written, 10);
    ck_assert_uint_eq(s.dropped, 0);
    ck_assert_int_eq(hg_audit_accepting(a), 1);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 10);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(failing_store_with_continue_drops_and_counts)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_tuned("{\"on_failure\": \"continue\"}", dir, 64, 8, 20, 20);
    char *db_path = hg_path_join(dir, "audit.db");
    sqlite3 *lock = lock_db(db_path);
    for (int i = 0; i != 10; ++i)
        ck_assert_int_eq(hg_audit_submit(a, full_record(i)), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    hg_audit_stats_t s = audittest_stats(a);
    ck_assert_int_eq(s.healthy, 0);
    ck_assert_uint_eq(s.dropped, 10);
    ck_assert_uint_eq(s.written, 0);
    ck_assert_int_eq(hg_audit_accepting(a), 1);
    unlock_db(lock);
    /* the next batch after the retry pause is written again */
    int64_t deadline = (int64_t)hg_now_ms() + 3000;
    int i = 10;
    while (audittest_stats(a).written == 0) {
        ck_assert_int_lt((int64_t)hg_now_ms(), deadline);
        ck_assert_int_eq(hg_audit_submit(a, full_record(i++)), 0);
        ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    }
    s = audittest_stats(a);
    ck_assert_int_eq(s.healthy, 1);
    ck_assert_uint_eq(s.written + s.dropped, (uint64_t)i);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), (int64_t)s.written);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(replaced_store_is_unhealthy_then_recreated)
{
    char *dir = audittest_tmpdir("hg-audit");
    char *sub = hg_path_join(dir, "db"), *db_path = hg_path_join(dir, "db/a.db");
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    hg_audit_t *a = new_tuned("{\"sqlite\": \"db/a.db\"}", dir, 64, 8, 20, 20);
    ck_assert_int_eq(hg_audit_submit(a, full_record(0)), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 1);

    /* the database file becomes a directory: the open inode is gone, the path cannot be opened */
    audittest_rm_rf(sub);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(mkdir(db_path, 0700), 0);
    for (int i = 1; i != 4; ++i)
        ck_assert_int_eq(hg_audit_submit(a, full_record(i)), 0);
    WAIT_FOR(a, !st->healthy);
    ck_assert_int_eq(hg_audit_accepting(a), 0);
    char *msg = hg_xasprintf("audit store %s: opening: unable to open database file", db_path);
    ck_assert_str_eq(audittest_stats(a).last_error, msg);
    free(msg);
    ck_assert_int_eq(rmdir(db_path), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    ck_assert_int_eq(audittest_stats(a).healthy, 1);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 3);

    /* the whole directory goes away, then comes back */
    audittest_rm_rf(sub);
    ck_assert_int_eq(hg_audit_submit(a, full_record(4)), 0);
    WAIT_FOR(a, !st->healthy);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    hg_audit_stats_t s = audittest_stats(a);
    ck_assert_int_eq(s.healthy, 1);
    ck_assert_uint_eq(s.written, 5);
    ck_assert_uint_eq(s.dropped, 0);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 1);
    ck_assert_int_eq(count_rows(db_path, "SELECT version FROM schema_version"), 3);
    hg_audit_free(a);
    free(sub);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* retention */

START_TEST(retention_deletes_only_old_records)
{
    char *dir = audittest_tmpdir("hg-audit");
    fake_clock_t clock = {.now = 1717243200000LL}; /* 2024-06-01T12:00:00Z */
    hg_audit_t *a = new_audit("{\"retention_days\": 30}", dir);
    hg_audit_tuning_t t;
    hg_audit_tuning_defaults(&t);
    t.retention_batch = 3;
    t.now_ms = fake_now;
    t.now_ctx = &clock;
    hg_audit_set_tuning(a, &t);
    start(a);
    int64_t check_at = clock.now + t.retention_check_ms, cutoff = check_at - 30 * DAY_MS;
    for (int i = 0; i != 12; ++i) {
        hg_audit_record_t *r = full_record(i);
        r->ts_ms = i < 7 ? cutoff - 1 - i : i == 7 ? cutoff : cutoff + DAY_MS + i;
        ck_assert_int_eq(hg_audit_submit(a, r), 0);
    }
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    char *db_path = hg_path_join(dir, "audit.db");
    ck_assert_uint_eq(audittest_stats(a).expired, 0); /* the next check is a minute away */
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 12);
    atomic_store(&clock.now, check_at - 1);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    ck_assert_uint_eq(audittest_stats(a).expired, 0);
    atomic_store(&clock.now, check_at);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    ck_assert_uint_eq(audittest_stats(a).expired, 7);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 5);
    ck_assert_int_eq(count_rows(db_path, "SELECT min(ts) FROM records"), cutoff);
    /* the day between the records sealed the first nine into a block (ids 1 to 9), which stays while it
       holds younger records and still names their keys (ids 8 and 9: full_record(7) and (8)); 10 to 12 are
       in the open block */
    char *blocks = audittest_blocks(db_path);
    ck_assert_str_eq(blocks, "1-9:9");
    free(blocks);
    for (int i = 7; i != 9; ++i) {
        hg_audit_record_t *r = full_record(i);
        r->ts_ms = i == 7 ? cutoff : cutoff + DAY_MS + i;
        ck_assert(audittest_block_holds(db_path, 9, r));
        hg_audit_record_free(r);
    }
    /* once all of them have expired, the open block is sealed and both blocks go with their records */
    atomic_store(&clock.now, check_at + 60 * DAY_MS);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    ck_assert_uint_eq(audittest_stats(a).expired, 12);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 0);
    blocks = audittest_blocks(db_path);
    ck_assert_str_eq(blocks, "");
    free(blocks);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* JSON Lines */

static json_t *read_lines(const char *path)
{
    size_t len;
    char *text = hg_read_file(path, &len);
    ck_assert_msg(text != NULL, "%s: %s", path, strerror(errno));
    json_t *lines = json_array();
    for (char *p = text, *nl; *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n');
        ck_assert_msg(nl != NULL, "unterminated line in %s", path);
        *nl = '\0';
        json_error_t jerr;
        json_t *j = json_loads(p, 0, &jerr);
        ck_assert_msg(j != NULL, "%s: %s", p, jerr.text);
        json_array_append_new(lines, j);
    }
    free(text);
    return lines;
}

static void assert_line_is(json_t *line, int i)
{
    hg_audit_record_t *r = full_record(i);
    json_t *expected = hg_audit_record_to_json(r);
    ck_assert_msg(json_equal(line, expected), "line %d differs", i);
    json_decref(expected);
    hg_audit_record_free(r);
}

START_TEST(jsonl_lines_parse_and_have_the_fields)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_audit("{\"sqlite\": null, \"jsonl\": \"a.jsonl\"}", dir);
    start(a);
    for (int i = 0; i != 3; ++i)
        ck_assert_int_eq(hg_audit_submit(a, full_record(i)), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    char *path = hg_path_join(dir, "a.jsonl");
    json_t *lines = read_lines(path);
    ck_assert_uint_eq(json_array_size(lines), 3);
    for (int i = 0; i != 3; ++i) {
        json_t *line = json_array_get(lines, i);
        size_t k = 0;
        const char *key;
        json_t *v;
        json_object_foreach(line, key, v)
        {
            ck_assert_str_eq(key, all_fields[k]);
            ++k;
        }
        ck_assert_uint_eq(k, NUM_FIELDS);
        assert_line_is(line, i);
    }
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640 & ~umask(umask(0)));
    json_decref(lines);
    hg_audit_free(a);
    free(path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(jsonl_reopens_for_rotation_and_after_delete)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_audit("{\"sqlite\": null, \"jsonl\": \"a.jsonl\"}", dir);
    start(a);
    char *path = hg_path_join(dir, "a.jsonl"), *rotated = hg_path_join(dir, "a.jsonl.1");
    ck_assert_int_eq(hg_audit_submit(a, full_record(0)), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    ck_assert_int_eq(rename(path, rotated), 0);
    ck_assert_int_eq(hg_audit_submit(a, full_record(1)), 0); /* follows the renamed file until told */
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    hg_audit_reopen(a);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(hg_audit_submit(a, full_record(2)), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    json_t *old = read_lines(rotated), *cur = read_lines(path);
    ck_assert_uint_eq(json_array_size(old), 2);
    ck_assert_uint_eq(json_array_size(cur), 1);
    assert_line_is(json_array_get(old, 1), 1);
    assert_line_is(json_array_get(cur, 0), 2);
    json_decref(cur);
    /* deleted: the next batch recreates the file */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(hg_audit_submit(a, full_record(3)), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    cur = read_lines(path);
    ck_assert_uint_eq(json_array_size(cur), 1);
    assert_line_is(json_array_get(cur, 0), 3);
    ck_assert_uint_eq(audittest_stats(a).written, 4);
    json_decref(old);
    json_decref(cur);
    hg_audit_free(a);
    free(path);
    free(rotated);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* the JSON Lines file is a symlink to /dev/full (ENOSPC); SQLite works: neither store repeats a record */
START_TEST(jsonl_disk_full_then_recovers_without_duplicates)
{
    char *dir = audittest_tmpdir("hg-audit");
    char *link = hg_path_join(dir, "a.jsonl"), *real = hg_path_join(dir, "real.jsonl"), *db_path = hg_path_join(dir, "audit.db");
    ck_assert_int_eq(symlink("/dev/full", link), 0);
    hg_audit_t *a = new_tuned("{\"jsonl\": \"a.jsonl\"}", dir, 64, 8, 20, 20);
    for (int i = 0; i != 3; ++i)
        ck_assert_int_eq(hg_audit_submit(a, full_record(i)), 0);
    WAIT_FOR(a, !st->healthy && st->store_errors >= 2);
    ck_assert_int_eq(hg_audit_accepting(a), 0);
    char *msg = hg_xasprintf("audit log %s: No space left on device", link);
    ck_assert_str_eq(audittest_stats(a).last_error, msg);
    free(msg);
    int64_t rows = count_rows(db_path, "SELECT count(*) FROM records"); /* the failed batch went to SQLite */
    ck_assert_int_ge(rows, 1);
    ck_assert_int_le(rows, 3);
    ck_assert_int_eq(unlink(link), 0);
    ck_assert_int_eq(symlink("real.jsonl", link), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    hg_audit_stats_t s = audittest_stats(a);
    ck_assert_int_eq(s.healthy, 1);
    ck_assert_uint_eq(s.written, 3);
    ck_assert_int_eq(count_rows(db_path, "SELECT count(*) FROM records"), 3);
    json_t *lines = read_lines(real);
    ck_assert_uint_eq(json_array_size(lines), 3);
    for (int i = 0; i != 3; ++i)
        assert_line_is(json_array_get(lines, i), i);
    json_decref(lines);
    hg_audit_free(a);
    free(link);
    free(real);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(jsonl_to_stdout)
{
    char *dir = audittest_tmpdir("hg-audit");
    char *out = hg_path_join(dir, "stdout");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    close(fd);
    hg_audit_t *a = new_audit("{\"sqlite\": null, \"jsonl\": \"-\"}", dir);
    start(a);
    ck_assert_int_eq(hg_audit_submit(a, full_record(5)), 0);
    hg_audit_reopen(a); /* stdout is never closed */
    ck_assert_int_eq(hg_audit_submit(a, full_record(6)), 0);
    hg_audit_free(a);
    ck_assert_int_eq(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    json_t *lines = read_lines(out);
    ck_assert_uint_eq(json_array_size(lines), 2);
    assert_line_is(json_array_get(lines, 0), 5);
    assert_line_is(json_array_get(lines, 1), 6);
    json_decref(lines);
    free(out);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(stop_gives_up_on_a_failing_store_at_the_deadline)
{
    char *dir = audittest_tmpdir("hg-audit");
    hg_audit_t *a = new_tuned("{}", dir, 64, 8, 20, 20);
    char *db_path = hg_path_join(dir, "audit.db");
    sqlite3 *lock = lock_db(db_path);
    for (int i = 0; i != 20; ++i)
        ck_assert_int_eq(hg_audit_submit(a, full_record(i)), 0);
    WAIT_FOR(a, !st->healthy);
    int64_t t0 = (int64_t)hg_now_ms();
    hg_audit_stop(a, 200);
    int64_t took = (int64_t)hg_now_ms() - t0;
    ck_assert_int_ge(took, 150);
    ck_assert_int_lt(took, 2000);
    hg_audit_stats_t s = audittest_stats(a);
    ck_assert_uint_eq(s.written, 0);
    ck_assert_uint_eq(s.dropped, 20);
    ck_assert_uint_eq(s.queue_depth, 0);
    unlock_db(lock);
    hg_audit_free(a);
    free(db_path);
    audittest_rm_rf(dir);
    free(dir);
}
END_TEST

/* a closed stdout pipe is a failing store, not a SIGPIPE that kills the gateway */
START_TEST(jsonl_stdout_broken_pipe)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    close(fds[0]);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    ck_assert_int_eq(dup2(fds[1], STDOUT_FILENO), STDOUT_FILENO);
    close(fds[1]);
    hg_audit_t *a = new_tuned("{\"sqlite\": null, \"jsonl\": \"-\", \"on_failure\": \"continue\"}", "/", 16, 4, 20, 20);
    ck_assert_int_eq(hg_audit_submit(a, full_record(0)), 0);
    ck_assert_int_eq(hg_audit_sync(a, 3000), 0);
    hg_audit_stats_t s = audittest_stats(a);
    ck_assert_int_eq(s.healthy, 0);
    ck_assert_uint_eq(s.dropped, 1);
    ck_assert_str_eq(s.last_error, "audit log -: Broken pipe");
    hg_audit_free(a);
    ck_assert_int_eq(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("record");
    tcase_add_test(tc, record_json_has_every_field_in_order);
    tcase_add_test(tc, record_new_is_all_absent);
    tcase_add_test(tc, record_repairs_invalid_utf8_and_formats_ts);
    tcase_add_test(tc, no_secret_fields);
    suite_add_tcase(s, tc);
    tc = tcase_create("config");
    tcase_add_test(tc, config_defaults_and_paths);
    tcase_add_test(tc, config_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("sqlite");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, sqlite_round_trips_every_field);
    tcase_add_test(tc, stored_records_are_taken_again_reset);
    tcase_add_test(tc, body_sha256_is_taken_by_the_writer);
    tcase_add_test(tc, stop_writes_everything_queued);
    tcase_add_test(tc, start_fails_on_unopenable_store);
    suite_add_tcase(s, tc);
    tc = tcase_create("loss");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, queue_full_rejects);
    tcase_add_test(tc, queue_full_continues);
    tcase_add_test(tc, locked_store_is_unhealthy_then_recovers);
    tcase_add_test(tc, failing_store_with_continue_drops_and_counts);
    tcase_add_test(tc, replaced_store_is_unhealthy_then_recreated);
    tcase_add_test(tc, stop_gives_up_on_a_failing_store_at_the_deadline);
    suite_add_tcase(s, tc);
    tc = tcase_create("retention");
    tcase_add_test(tc, retention_deletes_only_old_records);
    suite_add_tcase(s, tc);
    tc = tcase_create("jsonl");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, jsonl_lines_parse_and_have_the_fields);
    tcase_add_test(tc, jsonl_reopens_for_rotation_and_after_delete);
    tcase_add_test(tc, jsonl_disk_full_then_recovers_without_duplicates);
    tcase_add_test(tc, jsonl_to_stdout);
    tcase_add_test(tc, jsonl_stdout_broken_pipe);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
