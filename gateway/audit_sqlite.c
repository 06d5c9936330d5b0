/*
 * audit_sqlite.c: the SQLite audit store. Creates, checks or migrates the
 * schema, inserts batches in one transaction with statements prepared once per
 * connection, deletes old records for retention, and notices a database file
 * that was deleted or replaced under it. Used by the writer thread only, except
 * hg_audit_sqlite_open_readonly, hg_audit_sqlite_read_row and
 * hg_audit_sqlite_object_match, which the query side calls on its own
 * connection. See audit_sqlite.h.
 *
 * The object index is an FTS5 table used as a plain inverted index (object id
 * -> record ids): FTS5 collects a transaction's terms in memory and writes them
 * as one sorted segment, merged incrementally, so an id costs about a tenth
 * of a b-tree insert (bench_audit, 100 pairs per record in batches of 512:
 * about 55 us of writer CPU per record, against 400 to 485 with the b-tree of
 * version 1).
 */
#include "audit_sqlite.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a growing string; `len` excludes the NUL that always follows */
typedef struct {
    char *buf;
    size_t len, cap;
} text_t;

struct st_hg_audit_sqlite_t {
    char *path;
    int busy_timeout_ms;
    sqlite3 *db; /* NULL while closed */
    dev_t dev;   /* the file the connection has open */
    ino_t ino;
    sqlite3_stmt *insert_record, *insert_objects, *select_expired, *delete_objects, *delete_record;
    /* scratch text for one record, reused: the pairs column and the object index's terms */
    text_t pairs, terms;
};

#define COLUMNS                                                                                                                    \
    "ts, request_id, route, method, path, decision, status, upstream_status, issuer, subject, client, scope_used, "                \
    "from_object_type, to_object_type, inputs_received, inputs_forwarded, duplicates, coerced, dropped_fields, hubspot_status, "   \
    "num_errors, hubspot_correlation_id, duration_ms, upstream_ms, body_sha256, client_addr, user_agent, error, pairs"

/*
 * The object index: one "document" per record (rowid = records.id) whose terms are the object ids of its
 * forwarded pairs. Contentless (the ids are in records.pairs already), no positions, no sizes; the ascii
 * tokenizer splits on ASCII punctuation and space only, and every term we write is [0-9a-fx]+ (see
 * append_term), so each id is exactly one term. Retention removes a record's terms with the 'delete'
 * command, which needs them again: they are rebuilt from records.pairs by the same function.
 */
#define OBJECTS_SQL "CREATE VIRTUAL TABLE objects USING fts5(object_ids, content='', detail=none, columnsize=0, tokenize='ascii');"

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
    " pairs TEXT" /* the forwarded pairs as [["from","to"],...], NULL when none */
    ");"
    "CREATE INDEX records_ts ON records (ts);"
    "CREATE INDEX records_request_id ON records (request_id);"
    "CREATE INDEX records_subject ON records (subject);"
    "CREATE INDEX records_client ON records (client);"
    "CREATE INDEX records_route ON records (route);"
    "CREATE INDEX records_decision ON records (decision);"
    "CREATE INDEX records_status ON records (status);" OBJECTS_SQL "INSERT INTO schema_version (version) VALUES (2);";

/* version 1 kept the object index as a b-tree table objects (object_id TEXT, record_id INTEGER) */
static const char migrate_1_sql[] = "DROP TABLE objects;" OBJECTS_SQL "UPDATE schema_version SET version = 2;";

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
    sqlite3_stmt **stmts[] = {&s->insert_record, &s->insert_objects, &s->select_expired, &s->delete_objects, &s->delete_record};
    for (size_t i = 0; i != sizeof(stmts) / sizeof(stmts[0]); ++i) {
        sqlite3_finalize(*stmts[i]);
        *stmts[i] = NULL;
    }
    if (s->db != NULL)
        sqlite3_close(s->db);
    s->db = NULL;
}

void hg_audit_sqlite_free(hg_audit_sqlite_t *s)
{
    if (s == NULL)
        return;
    close_db(s);
    free(s->pairs.buf);
    free(s->terms.buf);
    free(s->path);
    free(s);
}

/* text */

static void text_reserve(text_t *t, size_t more)
{
    if (t->len + more + 1 <= t->cap)
        return;
    while (t->len + more + 1 > t->cap)
        t->cap = t->cap != 0 ? t->cap * 2 : 4096;
    t->buf = hg_xrealloc(t->buf, t->cap);
}

static void text_add(text_t *t, const char *s, size_t n)
{
    text_reserve(t, n);
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void text_clear(text_t *t)
{
    text_reserve(t, 0);
    t->len = 0;
    t->buf[0] = '\0';
}

/*
 * The object index's term for an id, followed by a space: the id itself when it is 1 to 64 ASCII digits
 * (always, for ids that passed the schema), else "x" and the hex of its bytes, so that any string is one
 * term of the ascii tokenizer and no two ids share a term.
 */
static void append_term_n(text_t *t, const char *id, size_t n, int digits)
{
    static const char hex[] = "0123456789abcdef";
    if (digits && n != 0 && n <= 64) {
        text_reserve(t, n + 1);
        memcpy(t->buf + t->len, id, n);
        t->len += n;
    } else {
        text_reserve(t, 2 * n + 2);
        t->buf[t->len++] = 'x';
        for (size_t i = 0; i != n; ++i) {
            t->buf[t->len++] = hex[(unsigned char)id[i] >> 4];
            t->buf[t->len++] = hex[(unsigned char)id[i] & 15];
        }
    }
    t->buf[t->len++] = ' ';
    t->buf[t->len] = '\0';
}

static void append_term(text_t *t, const char *id)
{
    size_t n = strlen(id);
    append_term_n(t, id, n, strspn(id, "0123456789") == n);
}

char *hg_audit_sqlite_object_match(const char *object_id)
{
    text_t t = {0};
    text_add(&t, "\"", 1);
    append_term(&t, object_id);
    t.buf[t.len - 1] = '"'; /* over the term's trailing space */
    return t.buf;
}

/*
 * Appends one id to the pairs column's JSON and its term to the index's text. The term is made from the
 * id as stored (invalid UTF-8 repaired), because retention rebuilds the terms from the stored JSON and
 * must find exactly the ones that were written. One pass over the id decides whether it is all digits
 * (the common case: copied into both texts) and whether JSON writes it as it is (printable ASCII
 * without '"' and '\\'); anything else goes through jansson.
 */
static void append_id(hg_audit_sqlite_t *s, const char *id)
{
    size_t n = 0;
    int digits = 1, plain = 1;
    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; ++p, ++n) {
        if ((unsigned)(*p - '0') > 9) {
            digits = 0;
            if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
                plain = 0;
        }
    }
    if (!plain) {
        json_t *j = hg_audit_json_string(id);
        char *dumped = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        text_add(&s->pairs, dumped, strlen(dumped));
        append_term(&s->terms, json_string_value(j));
        free(dumped);
        json_decref(j);
        return;
    }
    text_reserve(&s->pairs, n + 2);
    char *o = s->pairs.buf + s->pairs.len;
    *o++ = '"';
    memcpy(o, id, n);
    o[n] = '"';
    s->pairs.len += n + 2;
    append_term_n(&s->terms, id, n, digits);
}

/* fills s->pairs with [["from","to"],...] and s->terms with the index's text for the record's pairs */
static void format_pairs(hg_audit_sqlite_t *s, const hg_audit_record_t *r)
{
    text_clear(&s->pairs);
    text_clear(&s->terms);
    for (size_t i = 0; i != r->num_pairs; ++i) {
        text_add(&s->pairs, i == 0 ? "[[" : ",[", 2);
        append_id(s, r->pairs[2 * i]);
        text_add(&s->pairs, ",", 1);
        append_id(s, r->pairs[2 * i + 1]);
        text_add(&s->pairs, "]", 1);
    }
    if (r->num_pairs != 0)
        text_add(&s->pairs, "]", 1);
    s->pairs.buf[s->pairs.len] = '\0';
    s->terms.buf[s->terms.len] = '\0';
}

/* the index's text for a stored pairs column (as format_pairs made it); 0, or -1 when it is not such JSON */
static int terms_of_stored(text_t *terms, const char *pairs)
{
    text_clear(terms);
    json_t *a = json_loads(pairs, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return -1;
    }
    size_t i;
    json_t *p;
    json_array_foreach(a, i, p)
    {
        for (size_t side = 0; side != 2; ++side) {
            const char *id = json_string_value(json_array_get(p, side));
            if (id != NULL)
                append_term(terms, id);
        }
    }
    json_decref(a);
    return 0;
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

/* version 1 to 2: the object index becomes FTS5, filled from every record's pairs (inside the caller's transaction) */
static int migrate_1(hg_audit_sqlite_t *s, char *err, size_t errlen)
{
    static const char what[] = "upgrading the schema from version 1";
    sqlite3_stmt *sel = NULL, *ins = NULL;
    int rc = -1;
    if (exec(s, migrate_1_sql, what, err, errlen) != 0)
        return -1;
    if (sqlite3_prepare_v2(s->db, "SELECT id, pairs FROM records WHERE pairs IS NOT NULL", -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "INSERT INTO objects (rowid, object_ids) VALUES (?, ?)", -1, &ins, NULL) != SQLITE_OK)
        goto Exit;
    int step;
    while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
        if (terms_of_stored(&s->terms, (const char *)sqlite3_column_text(sel, 1)) != 0)
            continue; /* not written by us: nothing to index */
        sqlite3_bind_int64(ins, 1, sqlite3_column_int64(sel, 0));
        sqlite3_bind_text(ins, 2, s->terms.buf, (int)s->terms.len, SQLITE_STATIC);
        if (step_done(ins) != 0)
            goto Exit;
    }
    rc = step == SQLITE_DONE ? 0 : -1;
Exit:
    if (rc != 0)
        db_err(s->db, s->path, what, err, errlen);
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    return rc;
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
        return migrate_1(s, err, errlen);
    case HG_AUDIT_SCHEMA_VERSION:
        return 0;
    default:
        wrong_version(s->path, version, err, errlen);
        return -1;
    }
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
        prepare(s, &s->insert_objects, "INSERT INTO objects (rowid, object_ids) VALUES (?, ?)", err, errlen) != 0 ||
        prepare(s, &s->select_expired, "SELECT id, pairs FROM records WHERE ts < ? ORDER BY ts LIMIT ?", err, errlen) != 0 ||
        prepare(s, &s->delete_objects, "INSERT INTO objects (objects, rowid, object_ids) VALUES ('delete', ?, ?)", err, errlen) !=
            0 ||
        prepare(s, &s->delete_record, "DELETE FROM records WHERE id = ?", err, errlen) != 0)
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
            return 0;
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
    format_pairs(s, r);
    if (r->num_pairs != 0)
        sqlite3_bind_text(st, ++i, s->pairs.buf, (int)s->pairs.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, ++i);
    int rc = step_done(st);
    sqlite3_clear_bindings(st);
    if (rc == 0 && r->num_pairs != 0) {
        sqlite3_bind_int64(s->insert_objects, 1, sqlite3_last_insert_rowid(s->db));
        sqlite3_bind_text(s->insert_objects, 2, s->terms.buf, (int)s->terms.len, SQLITE_STATIC);
        rc = step_done(s->insert_objects);
    }
    return rc;
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

int hg_audit_sqlite_write(hg_audit_sqlite_t *s, hg_audit_record_t *const *recs, size_t n, char *err, size_t errlen)
{
    if (hg_audit_sqlite_ensure_open(s, err, errlen) != 0)
        return -1;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fail(s, "starting a transaction", err, errlen);
        return -1;
    }
    for (size_t i = 0; i != n; ++i) {
        if (insert_one(s, recs[i]) != 0) {
            fail(s, "inserting a record", err, errlen);
            return -1;
        }
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail(s, "committing", err, errlen);
        return -1;
    }
    return 0;
}

/* retention */

int64_t hg_audit_sqlite_expire(hg_audit_sqlite_t *s, int64_t cutoff_ms, size_t max_rows, char *err, size_t errlen)
{
    if (hg_audit_sqlite_ensure_open(s, err, errlen) != 0)
        return -1;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fail(s, "starting a transaction", err, errlen);
        return -1;
    }
    /* collected first: deleting rows under a running SELECT on the same connection is undefined behaviour */
    sqlite3_int64 *ids = hg_xmalloc(max_rows * sizeof(*ids));
    char **pairs = hg_xcalloc(max_rows, sizeof(*pairs));
    size_t n = 0;
    int rc;
    sqlite3_bind_int64(s->select_expired, 1, cutoff_ms);
    sqlite3_bind_int64(s->select_expired, 2, (sqlite3_int64)max_rows);
    while (n < max_rows && (rc = sqlite3_step(s->select_expired)) == SQLITE_ROW) {
        ids[n] = sqlite3_column_int64(s->select_expired, 0);
        const char *text = (const char *)sqlite3_column_text(s->select_expired, 1);
        pairs[n++] = text != NULL ? hg_xstrdup(text) : NULL;
    }
    rc = sqlite3_reset(s->select_expired);
    for (size_t i = 0; rc == SQLITE_OK && i != n; ++i) {
        if (pairs[i] != NULL && terms_of_stored(&s->terms, pairs[i]) == 0) {
            sqlite3_bind_int64(s->delete_objects, 1, ids[i]);
            sqlite3_bind_text(s->delete_objects, 2, s->terms.buf, (int)s->terms.len, SQLITE_STATIC);
            if (step_done(s->delete_objects) != 0)
                rc = SQLITE_ERROR;
        }
        sqlite3_bind_int64(s->delete_record, 1, ids[i]);
        if (rc == SQLITE_OK && step_done(s->delete_record) != 0)
            rc = SQLITE_ERROR;
    }
    for (size_t i = 0; i != n; ++i)
        free(pairs[i]);
    free(pairs);
    free(ids);
    if (rc != SQLITE_OK || sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail(s, "deleting old records", err, errlen);
        return -1;
    }
    return (int64_t)n;
}

/* reading */

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
    return db;
Error:
    sqlite3_close(db);
    return NULL;
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s != NULL ? hg_xstrdup((const char *)s) : NULL;
}

static int64_t col_int(sqlite3_stmt *st, int i, int64_t absent)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? absent : sqlite3_column_int64(st, i);
}

static double col_ms(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_double(st, i);
}

static void read_pairs(hg_audit_record_t *r, const char *text)
{
    if (text == NULL)
        return;
    json_t *a = json_loads(text, 0, NULL);
    size_t i;
    json_t *p;
    json_array_foreach(a, i, p)
    {
        const char *from = json_string_value(json_array_get(p, 0)), *to = json_string_value(json_array_get(p, 1));
        if (from != NULL && to != NULL)
            hg_audit_record_add_pair(r, from, to);
    }
    json_decref(a);
}

hg_audit_record_t *hg_audit_sqlite_read_row(sqlite3_stmt *st, int first)
{
    hg_audit_record_t *r = hg_audit_record_new();
    int i = first;
    r->ts_ms = sqlite3_column_int64(st, i++);
    r->request_id = col_text(st, i++);
    r->route = col_text(st, i++);
    r->method = col_text(st, i++);
    r->path = col_text(st, i++);
    const unsigned char *decision = sqlite3_column_text(st, i++);
    r->decision = decision != NULL ? hg_audit_decision_find((const char *)decision) : NULL;
    r->status = (int)col_int(st, i++, 0);
    r->upstream_status = (int)col_int(st, i++, 0);
    r->issuer = col_text(st, i++);
    r->subject = col_text(st, i++);
    r->client = col_text(st, i++);
    r->scope_used = col_text(st, i++);
    r->from_object_type = col_text(st, i++);
    r->to_object_type = col_text(st, i++);
    r->inputs_received = col_int(st, i++, -1);
    r->inputs_forwarded = col_int(st, i++, -1);
    r->duplicates = col_int(st, i++, -1);
    r->coerced = col_int(st, i++, -1);
    r->dropped_fields = col_int(st, i++, -1);
    r->hubspot_status = col_text(st, i++);
    r->num_errors = col_int(st, i++, -1);
    r->hubspot_correlation_id = col_text(st, i++);
    r->duration_ms = col_ms(st, i++);
    r->upstream_ms = col_ms(st, i++);
    r->body_sha256 = col_text(st, i++);
    r->client_addr = col_text(st, i++);
    r->user_agent = col_text(st, i++);
    r->error = col_text(st, i++);
    read_pairs(r, (const char *)sqlite3_column_text(st, i++));
    return r;
}
