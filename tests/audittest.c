/*
 * audittest.c: helpers shared by the audit test programs. See audittest.h.
 */
#include "audittest.h"
#include "audit_index.h"
#include "util.h"

#include <check.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

char *audittest_tmpdir(const char *prefix)
{
    char *tmpl = hg_xasprintf("/tmp/%s-XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return tmpl;
}

void audittest_rm_rf(const char *dir)
{
    char *cmd = hg_xasprintf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}

int64_t fake_now(void *ctx)
{
    return atomic_load(&((fake_clock_t *)ctx)->now);
}

hg_audit_stats_t audittest_stats(hg_audit_t *a)
{
    hg_audit_stats_t s;
    hg_audit_stats(a, &s);
    return s;
}

char *audittest_blocks(const char *db_path)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT coalesce(group_concat(b, ' '), '') FROM"
                                        " (SELECT first_id || '-' || last_id || ':' || records AS b FROM blocks ORDER BY last_id)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    char *out = hg_xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static int holds_all(sqlite3_stmt *st, int col, const hg_audit_keys_t *keys)
{
    const uint8_t *bloom = sqlite3_column_blob(st, col);
    size_t bytes = (size_t)sqlite3_column_bytes(st, col);
    ck_assert_uint_eq(bytes, hg_audit_bloom_size((size_t)sqlite3_column_int64(st, col + 2)));
    for (size_t i = 0; i != keys->n; ++i)
        if (!hg_audit_bloom_may_contain(bloom, bytes, keys->v[i]))
            return 0;
    return 1;
}

int audittest_block_holds(const char *db_path, int64_t last_id, const hg_audit_record_t *r)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT fields_bloom, objects_bloom, fields_keys, objects_keys FROM blocks WHERE last_id = ?", -1,
                           &st, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(st, 1, last_id);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    hg_audit_keys_t fields = {0}, objects = {0};
    hg_audit_keys_of(r, &fields, &objects);
    int holds = holds_all(st, 0, &fields) && holds_all(st, 1, &objects);
    hg_audit_keys_dispose(&fields);
    hg_audit_keys_dispose(&objects);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return holds;
}
