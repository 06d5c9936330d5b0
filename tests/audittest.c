/*
 * audittest.c: helpers shared by the audit test programs. See audittest.h.
 */
#include "audittest.h"
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

char *audittest_object_index(const char *db_path)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db, "CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, objects, 'instance')", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT coalesce(group_concat(t, ' '), '') FROM"
                                        " (SELECT term || ':' || doc AS t FROM temp.terms ORDER BY term, doc)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    char *out = hg_xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}
