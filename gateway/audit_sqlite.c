/*
 * audit_sqlite.c: the SQLite audit store. Creates, checks or migrates the
 * schema, inserts batches in one transaction with statements prepared once per
 * connection, keeps the block index (audit_index.h) in step with the records,
 * deletes old records for retention, and notices a database file that was
 * deleted or replaced under it. Used by the writer thread only, except the
 * reading functions at the end, which the query side calls on its own
 * connection. See audit_sqlite.h.
 *
 * The open block (the records after the last sealed one) lives in memory as
 * key hashes; it is sealed, its filters built and written as one `blocks` row,
 * in the transaction that fills it. Whenever the memory may disagree with the
 * file (a new connection, a failed transaction), it is rebuilt from the
 * records after the last sealed block, which is also how an older store gets
 * its index after an upgrade.
 */
#include "audit_sqlite.h"
#include "audit_index.h"
#include "audit_pairs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* the open block: records after the last sealed block, as key hashes */
typedef struct {
    int valid; /* agrees with the database; else rebuilt before the next write */
    int64_t first_id, last_id, min_ts, max_ts;
    size_t records;
    hg_audit_keys_t fields, objects;
} block_t;

struct st_hg_audit_sqlite_t {
    char *path;
    int busy_timeout_ms;
    sqlite3 *db; /* NULL while closed */
    dev_t dev;   /* the file the connection has open */
    ino_t ino;
    sqlite3_stmt *insert_record, *insert_block, *oldest_block, *delete_expired, *delete_block;
    hg_audit_blob_t pairs, bloom; /* scratch: one record's pairs column, one block's filter */
    block_t block;
};

#define COLUMNS                                                                                                                    \
    "ts, request_id, route, method, path, decision, status, upstream_status, issuer, subject, client, scope_used, "                \
    "from_object_type, to_object_type, inputs_received, inputs_forwarded, duplicates, coerced, dropped_fields, hubspot_status, "   \
    "num_errors, hubspot_correlation_id, duration_ms, upstream_ms, body_sha256, client_addr, user_agent, error, pairs"

/*
 * One row per sealed block, keyed by its last record id: the id range and time span it covers, how many
 * records and keys it has, and its two filters (fields first, so that a query on fields never reads the
 * larger object filter).
 */
#define BLOCKS_SQL                                                                                                                 \
    "CREATE TABLE blocks (last_id INTEGER PRIMARY KEY, first_id INTEGER NOT NULL, min_ts INTEGER NOT NULL,"                        \
    " max_ts INTEGER NOT NULL, records INTEGER NOT NULL, fields_keys INTEGER NOT NULL, objects_keys INTEGER NOT NULL,"             \
    " fields_bloom BLOB NOT NULL, objects_bloom BLOB NOT NULL);"

static const char schema_sql[] =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "CREATE TABLE records ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts INTEGER NOT NULL, request_id TEXT, route TEXT, method TEXT, path TEXT, decision TEXT,"
    " status INTEGER, upstream_status INTEGER, issuer TEXT, subject TEXT, client TEXT, scope_used TEXT,"
    " from_object_type TEXT, to_object_type TEXT, inputs_received INTEGER, inputs_forwarded INTEGER,"
    " duplicates INTEGER, coerced INTEGER, dropped_fields INTEGER, hubspot_status TEXT, num_errors INTEGER,"
    " hubspot_correlation_id TEXT, duration_ms REAL, upstream_ms REAL, body_sha256 TEXT, client_addr TEXT,"
    " user_agent TEXT, error TEXT,"
    " pairs BLOB" /* audit_pairs.h; NULL when none */
    ");" BLOCKS_SQL "INSERT INTO schema_version (version) VALUES (3);";

/*
 * Versions 1 and 2 indexed every record: seven b-tree indexes on its fields and an object index (a b-tree
 * table in version 1, FTS5 in version 2). Their records stay as they are (pairs as JSON text); the index
 * is rebuilt from them when the writer next opens the store.
 */
static const char upgrade_sql[] =
    "DROP TABLE IF EXISTS objects;"
    "DROP INDEX IF EXISTS records_ts; DROP INDEX IF EXISTS records_request_id; DROP INDEX IF EXISTS records_subject;"
    "DROP INDEX IF EXISTS records_client; DROP INDEX IF EXISTS records_route; DROP INDEX IF EXISTS records_decision;"
    "DROP INDEX IF EXISTS records_status;" BLOCKS_SQL "UPDATE schema_version SET version = 3;";

const char *hg_audit_sqlite_columns(void)
{
    return COLUMNS;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void db_err(sqlite3 *db, const char *path, const char *what, char *err, size_t errlen)
{
    set_err(err, errlen, "audit store %s: %s: %s", path, what, sqlite3_errmsg(db));
}

hg_audit_sqlite_t *hg_audit_sqlite_new(const char *path, int busy_timeout_ms)
{
    hg_audit_sqlite_t *s = hg_xcalloc(1, sizeof(*s));
    s->path = hg_xstrdup(path);
    s->busy_timeout_ms = busy_timeout_ms;
    return s;
}

static void close_db(hg_audit_sqlite_t *s)
{
    sqlite3_stmt **stmts[] = {&s->insert_record, &s->insert_block, &s->oldest_block, &s->delete_expired, &s->delete_block};
    for (size_t i = 0; i != sizeof(stmts) / sizeof(stmts[0]); ++i) {
        sqlite3_finalize(*stmts[i]);
        *stmts[i] = NULL;
    }
    if (s->db != NULL)
        sqlite3_close(s->db);
    s->db = NULL;
    s->block.valid = 0;
}

void hg_audit_sqlite_free(hg_audit_sqlite_t *s)
{
    if (s == NULL)
        return;
    close_db(s);
    hg_audit_keys_dispose(&s->block.fields);
    hg_audit_keys_dispose(&s->block.objects);
    free(s->pairs.buf);
    free(s->bloom.buf);
    free(s->path);
    free(s);
}

/* schema */

/* the store's schema version, 0 when the database has no schema_version table, -1 on error */
static int read_version(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", -1, &st,
                           NULL) != SQLITE_OK) {
        db_err(db, path, "reading the schema", err, errlen);
        return -1;
    }
    int rc = sqlite3_step(st), exists = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        db_err(db, path, "reading the schema", err, errlen);
        return -1;
    }
    if (!exists)
        return 0;
    if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, NULL) != SQLITE_OK) {
        db_err(db, path, "reading the schema version", err, errlen);
        return -1;
    }
    rc = sqlite3_step(st);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        db_err(db, path, "reading the schema version", err, errlen);
        return -1;
    }
    return version;
}

static void wrong_version(const char *path, int version, char *err, size_t errlen)
{
    set_err(err, errlen, "audit store %s: schema version %d, this program reads version %d", path, version,
            HG_AUDIT_SCHEMA_VERSION);
}

static int exec(hg_audit_sqlite_t *s, const char *sql, const char *what, char *err, size_t errlen)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    db_err(s->db, s->path, what, err, errlen);
    return -1;
}

static int prepare(hg_audit_sqlite_t *s, sqlite3_stmt **st, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
        return 0;
    db_err(s->db, s->path, "preparing a statement", err, errlen);
    return -1;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* creates the schema in an empty database, upgrades an older one, or checks it (inside the caller's transaction) */
static int ensure_schema(hg_audit_sqlite_t *s, char *err, size_t errlen)
{
    int version = read_version(s->db, s->path, err, errlen);
    switch (version) {
    case -1:
        return -1;
    case 0:
        return exec(s, schema_sql, "creating the schema", err, errlen);
    case 1:
    case 2:
        return exec(s, upgrade_sql, "upgrading the schema", err, errlen);
    case HG_AUDIT_SCHEMA_VERSION:
        return 0;
    default:
        wrong_version(s->path, version, err, errlen);
        return -1;
    }
}

/* after a failed statement: roll back, and drop a connection that cannot recover by itself */
static void fail(hg_audit_sqlite_t *s, const char *what, char *err, size_t errlen)
{
    db_err(s->db, s->path, what, err, errlen);
    int code = sqlite3_extended_errcode(s->db) & 0xff;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (code == SQLITE_IOERR || code == SQLITE_CORRUPT || code == SQLITE_NOTADB || code == SQLITE_CANTOPEN ||
        code == SQLITE_READONLY)
        close_db(s);
}

/* the block index */

/* adds record `id` to the open block; its object keys too unless they are there already (insert_one) */
static void block_add(block_t *b, int64_t id, const hg_audit_record_t *r, int objects_added)
{
    if (b->records == 0) {
        b->first_id = id;
        b->min_ts = b->max_ts = r->ts_ms;
    }
    b->last_id = id;
    if (r->ts_ms < b->min_ts)
        b->min_ts = r->ts_ms;
    if (r->ts_ms > b->max_ts)
        b->max_ts = r->ts_ms;
    ++b->records;
    if (objects_added)
        hg_audit_field_keys(r, &b->fields);
    else
        hg_audit_keys_of(r, &b->fields, &b->objects);
}

static int block_full(const block_t *b)
{
    return b->records >= HG_AUDIT_BLOCK_RECORDS || b->objects.n >= HG_AUDIT_BLOCK_OBJECT_KEYS ||
           b->max_ts - b->min_ts >= HG_AUDIT_BLOCK_SPAN_MS;
}

static void block_clear(block_t *b)
{
    b->records = 0;
    hg_audit_keys_clear(&b->fields);
    hg_audit_keys_clear(&b->objects);
}

static void bind_bloom(hg_audit_sqlite_t *s, int i, const hg_audit_keys_t *keys)
{
    size_t bytes = hg_audit_bloom_size(keys->n);
    if (bytes > s->bloom.cap) {
        s->bloom.cap = bytes;
        s->bloom.buf = hg_xrealloc(s->bloom.buf, bytes);
    }
    hg_audit_bloom_build(keys->v, keys->n, s->bloom.buf, bytes);
    sqlite3_bind_blob(s->insert_block, i, s->bloom.buf, (int)bytes, SQLITE_TRANSIENT);
}

/* writes the open block's row (inside the caller's transaction) and starts a new block; 0 or -1 */
static int block_seal(hg_audit_sqlite_t *s)
{
    block_t *b = &s->block;
    if (b->records == 0)
        return 0;
    sqlite3_stmt *st = s->insert_block;
    sqlite3_bind_int64(st, 1, b->last_id);
    sqlite3_bind_int64(st, 2, b->first_id);
    sqlite3_bind_int64(st, 3, b->min_ts);
    sqlite3_bind_int64(st, 4, b->max_ts);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)b->records);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)b->fields.n);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)b->objects.n);
    bind_bloom(s, 8, &b->fields);
    bind_bloom(s, 9, &b->objects);
    int rc = step_done(st);
    sqlite3_clear_bindings(st);
    block_clear(b);
    return rc;
}

/*
 * Makes the open block agree with the database: reads the records after the last sealed block, sealing
 * full blocks on the way (after an upgrade that is every record of the old store). One transaction.
 */
static int rebuild_block(hg_audit_sqlite_t *s, char *err, size_t errlen)
{
    block_clear(&s->block);
    sqlite3_stmt *st = NULL;
    if (exec(s, "BEGIN IMMEDIATE", "indexing records", err, errlen) != 0)
        return -1;
    char *sql =
        hg_xasprintf("SELECT id, %s FROM records WHERE id > (SELECT ifnull(max(last_id), 0) FROM blocks) ORDER BY id", COLUMNS);
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
    free(sql);
    while (rc == SQLITE_ROW && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        hg_audit_record_t *r = hg_audit_sqlite_read_row(st, 1);
        block_add(&s->block, sqlite3_column_int64(st, 0), r, 0);
        hg_audit_record_free(r);
        if (block_full(&s->block) && block_seal(s) != 0)
            rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail(s, "indexing records", err, errlen);
        block_clear(&s->block);
        return -1;
    }
    s->block.valid = 1;
    return 0;
}

static int open_db(hg_audit_sqlite_t *s, char *err, size_t errlen)
{
    /* a new file gets mode 0640 (SQLite's -wal and -shm files copy it): the trail names people */
    int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd >= 0)
        close(fd);
    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        if (s->db != NULL)
            db_err(s->db, s->path, "opening", err, errlen);
        else
            set_err(err, errlen, "audit store %s: cannot open", s->path);
        goto Error;
    }
    struct stat st;
    if (stat(s->path, &st) != 0) {
        set_err(err, errlen, "audit store %s: %s", s->path, strerror(errno));
        goto Error;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
    sqlite3_extended_result_codes(s->db, 1);
    /* WAL with synchronous=NORMAL: a commit is one write to the log, no fsync; a crash of the process loses
       nothing committed, a crash of the machine at most the last commits. 16 MB of page cache. */
    if (exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384", "setting WAL mode", err,
             errlen) != 0)
        goto Error;
    if (exec(s, "BEGIN IMMEDIATE", "creating the schema", err, errlen) != 0)
        goto Error;
    if (ensure_schema(s, err, errlen) != 0 || exec(s, "COMMIT", "creating the schema", err, errlen) != 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        goto Error;
    }
    if (prepare(s, &s->insert_record,
                "INSERT INTO records (" COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", err,
                errlen) != 0 ||
        prepare(s, &s->insert_block,
                "INSERT INTO blocks (last_id, first_id, min_ts, max_ts, records, fields_keys, objects_keys, fields_bloom,"
                " objects_bloom) VALUES (?,?,?,?,?,?,?,?,?)",
                err, errlen) != 0 ||
        prepare(s, &s->oldest_block, "SELECT last_id, first_id, min_ts, max_ts FROM blocks ORDER BY last_id LIMIT 1", err,
                errlen) != 0 ||
        prepare(s, &s->delete_expired,
                "DELETE FROM records WHERE id IN (SELECT id FROM records WHERE id BETWEEN ? AND ? AND ts < ? LIMIT ?)", err,
                errlen) != 0 ||
        prepare(s, &s->delete_block, "DELETE FROM blocks WHERE last_id = ?", err, errlen) != 0)
        goto Error;
    if (rebuild_block(s, err, errlen) != 0)
        goto Error;
    return 0;
Error:
    close_db(s);
    return -1;
}

int hg_audit_sqlite_ensure_open(hg_audit_sqlite_t *s, char *err, size_t errlen)
{
    if (s->db != NULL) {
        struct stat st;
        if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino && S_ISREG(st.st_mode))
            return s->block.valid ? 0 : rebuild_block(s, err, errlen);
        /* deleted, renamed or replaced: this connection writes into a file nobody will read */
        close_db(s);
    }
    return open_db(s, err, errlen);
}

/* writing */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s != NULL)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_int(sqlite3_stmt *st, int i, int64_t v, int64_t absent)
{
    if (v != absent)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static void bind_ms(sqlite3_stmt *st, int i, double v)
{
    if (v >= 0)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static int insert_one(hg_audit_sqlite_t *s, const hg_audit_record_t *r)
{
    sqlite3_stmt *st = s->insert_record;
    int i = 0;
    sqlite3_bind_int64(st, ++i, r->ts_ms);
    bind_text(st, ++i, r->request_id);
    bind_text(st, ++i, r->route);
    bind_text(st, ++i, r->method);
    bind_text(st, ++i, r->path);
    bind_text(st, ++i, r->decision);
    bind_int(st, ++i, r->status, 0);
    bind_int(st, ++i, r->upstream_status, 0);
    bind_text(st, ++i, r->issuer);
    bind_text(st, ++i, r->subject);
    bind_text(st, ++i, r->client);
    bind_text(st, ++i, r->scope_used);
    bind_text(st, ++i, r->from_object_type);
    bind_text(st, ++i, r->to_object_type);
    bind_int(st, ++i, r->inputs_received, -1);
    bind_int(st, ++i, r->inputs_forwarded, -1);
    bind_int(st, ++i, r->duplicates, -1);
    bind_int(st, ++i, r->coerced, -1);
    bind_int(st, ++i, r->dropped_fields, -1);
    bind_text(st, ++i, r->hubspot_status);
    bind_int(st, ++i, r->num_errors, -1);
    bind_text(st, ++i, r->hubspot_correlation_id);
    bind_ms(st, ++i, r->duration_ms);
    bind_ms(st, ++i, r->upstream_ms);
    bind_text(st, ++i, r->body_sha256);
    bind_text(st, ++i, r->client_addr);
    bind_text(st, ++i, r->user_agent);
    bind_text(st, ++i, r->error);
    if (r->num_pairs != 0) {
        hg_audit_pairs_encode(r, &s->pairs, &s->block.objects); /* the object keys from the same pass */
        sqlite3_bind_blob(st, ++i, s->pairs.buf, (int)s->pairs.len, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, ++i);
    }
    int rc = step_done(st);
    sqlite3_clear_bindings(st);
    if (rc != 0)
        return -1;
    block_add(&s->block, sqlite3_last_insert_rowid(s->db), r, 1);
    return block_full(&s->block) ? block_seal(s) : 0;
}

/* after a failed transaction: the open block in memory may hold what the database rolled back */
static void fail_write(hg_audit_sqlite_t *s, const char *what, char *err, size_t errlen)
{
    fail(s, what, err, errlen);
    block_clear(&s->block);
    s->block.valid = 0;
}

int hg_audit_sqlite_write(hg_audit_sqlite_t *s, hg_audit_record_t *const *recs, size_t n, char *err, size_t errlen)
{
    if (hg_audit_sqlite_ensure_open(s, err, errlen) != 0)
        return -1;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fail(s, "starting a transaction", err, errlen); /* nothing done yet: the open block still agrees */
        return -1;
    }
    for (size_t i = 0; i != n; ++i) {
        if (insert_one(s, recs[i]) != 0) {
            fail_write(s, "inserting a record", err, errlen);
            return -1;
        }
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail_write(s, "committing", err, errlen);
        return -1;
    }
    return 0;
}

/* retention */

/*
 * Deletes expired records block by block, oldest first: the records of the oldest block with ts < cutoff,
 * then the block's row once every record in it has expired. Stops at the first block that still holds
 * younger records; a slow request's record may sit in a later block and is deleted when that block's turn
 * comes. The open block is sealed first when it holds an expired record (an idle gateway's block).
 */
int64_t hg_audit_sqlite_expire(hg_audit_sqlite_t *s, int64_t cutoff_ms, size_t max_rows, char *err, size_t errlen)
{
    if (hg_audit_sqlite_ensure_open(s, err, errlen) != 0)
        return -1;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fail(s, "starting a transaction", err, errlen); /* nothing done yet: the open block still agrees */
        return -1;
    }
    int64_t n = 0;
    int rc = s->block.records != 0 && s->block.min_ts < cutoff_ms ? block_seal(s) : 0;
    while (rc == 0 && (size_t)n < max_rows) {
        sqlite3_stmt *st = s->oldest_block;
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = sqlite3_reset(st) == SQLITE_OK ? 0 : -1;
            break;
        }
        int64_t last_id = sqlite3_column_int64(st, 0), first_id = sqlite3_column_int64(st, 1);
        int64_t min_ts = sqlite3_column_int64(st, 2), max_ts = sqlite3_column_int64(st, 3);
        sqlite3_reset(st);
        if (min_ts >= cutoff_ms)
            break;
        size_t want = max_rows - (size_t)n;
        sqlite3_bind_int64(s->delete_expired, 1, first_id);
        sqlite3_bind_int64(s->delete_expired, 2, last_id);
        sqlite3_bind_int64(s->delete_expired, 3, cutoff_ms);
        sqlite3_bind_int64(s->delete_expired, 4, (sqlite3_int64)want);
        if ((rc = step_done(s->delete_expired)) != 0)
            break;
        size_t deleted = (size_t)sqlite3_changes(s->db);
        n += (int64_t)deleted;
        if (deleted == want)
            continue; /* the row limit: the loop ends, the next step goes on */
        if (max_ts >= cutoff_ms)
            break; /* the block's other records are younger */
        sqlite3_bind_int64(s->delete_block, 1, last_id);
        rc = step_done(s->delete_block);
    }
    if (rc != 0 || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail_write(s, "deleting old records", err, errlen);
        return -1;
    }
    return n;
}

/* reading */

/* SQL hg_has_object(pairs, id): 1 when the stored pairs name the id on either side */
static void has_object(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *id = (const char *)sqlite3_value_text(argv[1]);
    int type = sqlite3_value_type(argv[0]);
    if (id == NULL || (type != SQLITE_BLOB && type != SQLITE_TEXT)) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    const void *p = type == SQLITE_BLOB ? sqlite3_value_blob(argv[0]) : (const void *)sqlite3_value_text(argv[0]);
    sqlite3_result_int(ctx, hg_audit_pairs_contain(p, (size_t)sqlite3_value_bytes(argv[0]), type == SQLITE_BLOB, id));
}

sqlite3 *hg_audit_sqlite_open_readonly(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        set_err(err, errlen, "audit store %s: %s", path, strerror(errno));
        return NULL;
    }
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        if (db != NULL)
            db_err(db, path, "opening", err, errlen);
        else
            set_err(err, errlen, "audit store %s: cannot open", path);
        goto Error;
    }
    sqlite3_busy_timeout(db, 2000);
    int version = read_version(db, path, err, errlen);
    if (version < 0)
        goto Error;
    if (version == 0) {
        set_err(err, errlen, "audit store %s: not an audit store (no schema_version table)", path);
        goto Error;
    }
    if (version != HG_AUDIT_SCHEMA_VERSION) {
        wrong_version(path, version, err, errlen);
        goto Error;
    }
    if (sqlite3_create_function(db, "hg_has_object", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, has_object, NULL, NULL) !=
        SQLITE_OK) {
        db_err(db, path, "registering functions", err, errlen);
        goto Error;
    }
    return db;
Error:
    sqlite3_close(db);
    return NULL;
}

static char *col_text(hg_audit_record_t *r, sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s != NULL ? hg_audit_record_strndup(r, (const char *)s, (size_t)sqlite3_column_bytes(st, i)) : NULL;
}

static int64_t col_int(sqlite3_stmt *st, int i, int64_t absent)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? absent : sqlite3_column_int64(st, i);
}

static double col_ms(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_double(st, i);
}

hg_audit_record_t *hg_audit_sqlite_read_row(sqlite3_stmt *st, int first)
{
    hg_audit_record_t *r = hg_audit_record_new();
    int i = first;
    r->ts_ms = sqlite3_column_int64(st, i++);
    r->request_id = col_text(r, st, i++);
    r->route = col_text(r, st, i++);
    r->method = col_text(r, st, i++);
    r->path = col_text(r, st, i++);
    const unsigned char *decision = sqlite3_column_text(st, i++);
    r->decision = decision != NULL ? hg_audit_decision_find((const char *)decision) : NULL;
    r->status = (int)col_int(st, i++, 0);
    r->upstream_status = (int)col_int(st, i++, 0);
    r->issuer = col_text(r, st, i++);
    r->subject = col_text(r, st, i++);
    r->client = col_text(r, st, i++);
    r->scope_used = col_text(r, st, i++);
    r->from_object_type = col_text(r, st, i++);
    r->to_object_type = col_text(r, st, i++);
    r->inputs_received = col_int(st, i++, -1);
    r->inputs_forwarded = col_int(st, i++, -1);
    r->duplicates = col_int(st, i++, -1);
    r->coerced = col_int(st, i++, -1);
    r->dropped_fields = col_int(st, i++, -1);
    r->hubspot_status = col_text(r, st, i++);
    r->num_errors = col_int(st, i++, -1);
    r->hubspot_correlation_id = col_text(r, st, i++);
    r->duration_ms = col_ms(st, i++);
    r->upstream_ms = col_ms(st, i++);
    r->body_sha256 = col_text(r, st, i++);
    r->client_addr = col_text(r, st, i++);
    r->user_agent = col_text(r, st, i++);
    r->error = col_text(r, st, i++);
    int type = sqlite3_column_type(st, i);
    if (type == SQLITE_BLOB || type == SQLITE_TEXT) {
        const void *p = type == SQLITE_BLOB ? sqlite3_column_blob(st, i) : (const void *)sqlite3_column_text(st, i);
        hg_audit_pairs_read(r, p, (size_t)sqlite3_column_bytes(st, i), type == SQLITE_BLOB);
    }
    return r;
}
