/*
 * audit_sqlite.h: the SQLite audit store: schema, batched inserts, retention,
 * and the health checks behind the loss rules of contract section 7.
 *
 * Schema version 3 (table schema_version holds it; the writer upgrades a
 * store of version 1 or 2 when it opens it): `records` has one row per
 * request, keyed by an AUTOINCREMENT id so that ids only grow (the query
 * cursor relies on it), with the forwarded pairs in the compact binary form of
 * audit_pairs.h, and no secondary index; `blocks` is the skip index of
 * audit_index.h: one row per block of consecutive records (at most
 * HG_AUDIT_BLOCK_RECORDS records, HG_AUDIT_BLOCK_OBJECT_KEYS object ids or
 * HG_AUDIT_BLOCK_SPAN_MS of time) with its id range, time span and Bloom
 * filters. Versions 1 and 2 kept b-tree and FTS5 indexes per record: up to
 * 75 us of the writer's CPU for a 100-pair record, against 17 to 19 now.
 * Journal mode WAL with synchronous=NORMAL: a crashed process loses nothing
 * committed; readers never block the writer.
 *
 * A hg_audit_sqlite_t is the writer's connection and is used by the writer
 * thread only. It remembers the inode of the file it opened; before each batch
 * it stats the path, and when the file was deleted or replaced it closes and
 * reopens (recreating the database). Read-only connections for queries are
 * opened with hg_audit_sqlite_open_readonly in the caller's thread.
 */
#ifndef HUBGATE_AUDIT_SQLITE_H
#define HUBGATE_AUDIT_SQLITE_H

#include "audit.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define HG_AUDIT_SCHEMA_VERSION 3

/* a block is sealed when it reaches any of these */
#define HG_AUDIT_BLOCK_RECORDS 1024
#define HG_AUDIT_BLOCK_OBJECT_KEYS 65536
#define HG_AUDIT_BLOCK_SPAN_MS (10 * 60 * 1000)

typedef struct st_hg_audit_sqlite_t hg_audit_sqlite_t;

/* creates the store for `path` (copied) without opening anything */
hg_audit_sqlite_t *hg_audit_sqlite_new(const char *path, int busy_timeout_ms);
void hg_audit_sqlite_free(hg_audit_sqlite_t *s);
/*
 * Opens the database unless it is open on the file the path names now
 * (reopening after a delete or replace), creating or checking the schema.
 * Returns 0, or -1 with a message in err.
 */
int hg_audit_sqlite_ensure_open(hg_audit_sqlite_t *s, char *err, size_t errlen);
/* inserts the records in one transaction; 0, or -1 with a message (the transaction is rolled back) */
int hg_audit_sqlite_write(hg_audit_sqlite_t *s, hg_audit_record_t *const *recs, size_t n, char *err, size_t errlen);
/*
 * Deletes at most max_rows records with ts < cutoff_ms in one transaction,
 * oldest blocks first, and the blocks left empty. Returns the number
 * deleted, or -1 with a message.
 */
int64_t hg_audit_sqlite_expire(hg_audit_sqlite_t *s, int64_t cutoff_ms, size_t max_rows, char *err, size_t errlen);

/*
 * Opens `path` read-only for queries and checks that it holds an audit store
 * of a version this program reads, and registers the SQL function
 * hg_has_object(pairs, id): 1 when a row's pairs name the id on either side.
 * Returns the connection (close it with
 * sqlite3_close) or NULL with a message.
 */
sqlite3 *hg_audit_sqlite_open_readonly(const char *path, char *err, size_t errlen);
/* the columns of `records` in contract order, as selected by the query side (id first, pairs last) */
const char *hg_audit_sqlite_columns(void);
/* fills a record from a row selected with hg_audit_sqlite_columns starting at column `first`; returns it */
hg_audit_record_t *hg_audit_sqlite_read_row(sqlite3_stmt *st, int first);

#endif
