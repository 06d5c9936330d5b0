/*
 * audit_sqlite.h: the SQLite audit store: schema, batched inserts, retention,
 * and the health checks behind the loss rules of contract section 7.
 *
 * Schema version 2 (table schema_version holds it; the writer upgrades a
 * version 1 store when it opens it): `records` has one row per request, keyed
 * by an AUTOINCREMENT id so that ids only grow (the query cursor relies on it),
 * with the forwarded pairs as a compact JSON column; `objects` is an FTS5
 * table used as an inverted index from object ids (from or to side) to record
 * ids, for the object_id query. Version 1 kept that index as a b-tree with one
 * row per (object id, record id), about ten times the writer's CPU per id.
 * Journal mode WAL with synchronous=NORMAL: a crashed process loses nothing
 * committed; readers never block the writer. Needs an SQLite built with FTS5
 * (Debian's is); without it, opening the store fails with "no such module: fts5".
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

#define HG_AUDIT_SCHEMA_VERSION 2

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
 * Deletes at most max_rows records with ts < cutoff_ms (and their object
 * rows) in one transaction. Returns the number deleted, or -1 with a message.
 */
int64_t hg_audit_sqlite_expire(hg_audit_sqlite_t *s, int64_t cutoff_ms, size_t max_rows, char *err, size_t errlen);

/*
 * The condition (one parameter, for `AND`) that keeps the records whose
 * forwarded pairs name an object id on either side, and the value to bind to
 * it for `object_id` (a new string: free it).
 */
#define HG_AUDIT_SQLITE_OBJECT_COND "id IN (SELECT rowid FROM objects WHERE objects MATCH ?)"
char *hg_audit_sqlite_object_match(const char *object_id);

/*
 * Opens `path` read-only for queries and checks that it holds an audit store
 * of a version this program reads. Returns the connection (close it with
 * sqlite3_close) or NULL with a message.
 */
sqlite3 *hg_audit_sqlite_open_readonly(const char *path, char *err, size_t errlen);
/* the columns of `records` in contract order, as selected by the query side (id first, pairs last) */
const char *hg_audit_sqlite_columns(void);
/* fills a record from a row selected with hg_audit_sqlite_columns starting at column `first`; returns it */
hg_audit_record_t *hg_audit_sqlite_read_row(sqlite3_stmt *st, int first);

#endif
