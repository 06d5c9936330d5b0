/*
 * audit_query.c: audit filters (parsed and checked once for both front ends),
 * RFC 3339 time parsing, and the query itself: the store's blocks newest
 * first, skipped when their time span or Bloom filters rule them out, and in
 * the others one SELECT with a bound parameter per filter; keyset paging on
 * the record id.
 * See audit_query.h.
 */
#include "audit_query.h"
#include "audit.h"
#include "audit_index.h"
#include "audit_sqlite.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_SINCE, F_UNTIL, F_SUBJECT, F_CLIENT, F_ROUTE, F_DECISION, F_STATUS, F_REQUEST_ID, F_OBJECT_ID, F_LIMIT, F_CURSOR, F_NUM };

static const char *const names[F_NUM] = {"since",  "until",      "subject",   "client", "route", "decision",
                                         "status", "request_id", "object_id", "limit",  "cursor"};

struct st_hg_audit_filter_t {
    int given[F_NUM];
    int64_t since, until, cursor;
    int status_lo, status_hi; /* inclusive */
    int limit;
    char *text[F_NUM]; /* subject, client, route, request_id, object_id */
    const char *decision;
};

hg_audit_filter_t *hg_audit_filter_new(void)
{
    hg_audit_filter_t *f = hg_xcalloc(1, sizeof(*f));
    f->limit = HG_AUDIT_LIMIT_DEFAULT;
    return f;
}

void hg_audit_filter_free(hg_audit_filter_t *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i != F_NUM; ++i)
        free(f->text[i]);
    free(f);
}

/* parses exactly `n` digits */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i != n; ++i) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil) */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int hg_audit_parse_time(const char *s, int64_t *ms)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0, off_h = 0, off_m = 0, sign = 0;
    if (digits(&p, 4, &y) != 0 || *p++ != '-' || digits(&p, 2, &mo) != 0 || *p++ != '-' || digits(&p, 2, &d) != 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    if (*p != '\0') {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return -1;
        ++p;
        if (digits(&p, 2, &h) != 0 || *p++ != ':' || digits(&p, 2, &mi) != 0 || *p++ != ':' || digits(&p, 2, &sec) != 0)
            return -1;
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
        if (*p == '.') {
            ++p;
            if (!isdigit((unsigned char)*p))
                return -1;
            for (int scale = 100; isdigit((unsigned char)*p); ++p, scale /= 10)
                frac_ms += (*p - '0') * scale;
        }
        if (*p == 'Z' || *p == 'z') {
            ++p;
        } else if (*p == '+' || *p == '-') {
            sign = *p++ == '+' ? 1 : -1;
            if (digits(&p, 2, &off_h) != 0 || *p++ != ':' || digits(&p, 2, &off_m) != 0 || off_h > 23 || off_m > 59)
                return -1;
        } else {
            return -1;
        }
        if (*p != '\0')
            return -1;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - sign * (off_h * 3600 + off_m * 60);
    *ms = secs * 1000 + frac_ms;
    return 0;
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (*s == '\0' || strlen(s) > 18)
        return -1;
    int64_t v = 0;
    for (const char *p = s; *p != '\0'; ++p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int invalid(hg_violations_t *errors, const char *name, const char *message)
{
    char *in = hg_xasprintf("query:%s", name);
    hg_violations_add(errors, in, "invalid_parameter", "%s", message);
    free(in);
    return -1;
}

int hg_audit_filter_set(hg_audit_filter_t *f, const char *name, const char *value, hg_violations_t *errors)
{
    int which = -1;
    for (int i = 0; i != F_NUM; ++i)
        if (strcmp(names[i], name) == 0)
            which = i;
    if (which < 0) {
        char *in = hg_xasprintf("query:%s", name);
        hg_violations_add(errors, in, "unknown_parameter",
                          "unknown parameter; known: since, until, subject, client, route, decision, status, request_id, "
                          "object_id, limit, cursor");
        free(in);
        return -1;
    }
    if (f->given[which])
        return invalid(errors, name, "given more than once");
    if (value[0] == '\0')
        return invalid(errors, name, "must not be empty");
    int64_t v;
    switch (which) {
    case F_SINCE:
    case F_UNTIL:
        if (hg_audit_parse_time(value, &v) != 0)
            return invalid(errors, name,
                           "must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z, or a date such as 2024-05-01");
        *(which == F_SINCE ? &f->since : &f->until) = v;
        break;
    case F_DECISION:
        if ((f->decision = hg_audit_decision_find(value)) == NULL)
            return invalid(errors, name,
                           "must be one of forwarded, rejected_auth, rejected_scope, rejected_validation, rejected_route, "
                           "upstream_error, rejected_other");
        break;
    case F_STATUS:
        if (strlen(value) == 3 && value[0] >= '1' && value[0] <= '5' && strcmp(value + 1, "xx") == 0) {
            f->status_lo = (value[0] - '0') * 100;
            f->status_hi = f->status_lo + 99;
        } else if (parse_int(value, 100, 599, &v) == 0) {
            f->status_lo = f->status_hi = (int)v;
        } else {
            return invalid(errors, name, "must be an HTTP status from 100 to 599, or a class such as 5xx");
        }
        break;
    case F_LIMIT:
        if (parse_int(value, 1, HG_AUDIT_LIMIT_MAX, &v) != 0)
            return invalid(errors, name, "must be an integer from 1 to 1000");
        f->limit = (int)v;
        break;
    case F_CURSOR:
        if (parse_int(value, 1, INT64_MAX, &v) != 0)
            return invalid(errors, name, "must be a next_cursor value from an earlier answer");
        f->cursor = v;
        break;
    default:
        if (strlen(value) > 1024)
            return invalid(errors, name, "must be at most 1024 bytes");
        f->text[which] = hg_xstrdup(value);
        break;
    }
    f->given[which] = 1;
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* decodes [s, s+n) into a new string; NULL when a %-escape is malformed or decodes to NUL */
static char *url_decode(const char *s, size_t n)
{
    char *out = hg_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

int hg_audit_filter_parse_query(hg_audit_filter_t *f, const char *query, hg_violations_t *errors)
{
    int rc = 0;
    for (const char *p = query; *p != '\0';) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq != NULL ? (size_t)(eq - p) : len;
        if (len != 0) {
            char *name = url_decode(p, nlen), *value = eq != NULL ? url_decode(eq + 1, len - nlen - 1) : hg_xstrdup("");
            if (name == NULL || value == NULL) {
                char *shown = hg_xstrndup(p, nlen);
                invalid(errors, name != NULL ? name : shown, "bad percent-encoding");
                free(shown);
                rc = -1;
            } else if (hg_audit_filter_set(f, name, value, errors) != 0) {
                rc = -1;
            }
            free(name);
            free(value);
        }
        p += len;
        if (*p == '&')
            ++p;
    }
    return rc;
}

static void store_error(hg_violations_t *errors, const char *message)
{
    hg_violations_add(errors, "", "audit_store", "%s", message);
}

/* the filters that the block index can rule out: their keys, in the fields filter or the objects filter */
typedef struct {
    uint64_t fields[6], objects[1]; /* request id, subject, client, route, decision, status; one object id */
    size_t nfields, nobjects;
} keys_t;

static void filter_keys(const hg_audit_filter_t *f, keys_t *k)
{
    static const struct {
        int which, kind;
    } text_keys[] = {{F_REQUEST_ID, HG_AUDIT_KEY_REQUEST_ID},
                     {F_SUBJECT, HG_AUDIT_KEY_SUBJECT},
                     {F_CLIENT, HG_AUDIT_KEY_CLIENT},
                     {F_ROUTE, HG_AUDIT_KEY_ROUTE}};
    k->nfields = k->nobjects = 0;
    for (size_t i = 0; i != sizeof(text_keys) / sizeof(text_keys[0]); ++i) {
        const char *v = f->text[text_keys[i].which];
        if (f->given[text_keys[i].which])
            k->fields[k->nfields++] = hg_audit_key(text_keys[i].kind, v, strlen(v));
    }
    if (f->given[F_DECISION])
        k->fields[k->nfields++] = hg_audit_key(HG_AUDIT_KEY_DECISION, f->decision, strlen(f->decision));
    if (f->given[F_STATUS]) {
        char status[4];
        snprintf(status, sizeof(status), "%03d", f->status_lo);
        k->fields[k->nfields++] = f->status_lo == f->status_hi ? hg_audit_key(HG_AUDIT_KEY_STATUS, status, 3)
                                                               : hg_audit_key(HG_AUDIT_KEY_STATUS_CLASS, status, 1);
    }
    if (f->given[F_OBJECT_ID])
        k->objects[k->nobjects++] = hg_audit_object_key(f->text[F_OBJECT_ID]);
}

/* 1 when the blob in column i may hold every key */
static int bloom_may_match(sqlite3_stmt *st, int i, const uint64_t *keys, size_t n)
{
    const uint8_t *bloom = sqlite3_column_blob(st, i);
    size_t bytes = (size_t)sqlite3_column_bytes(st, i);
    for (size_t k = 0; k != n; ++k)
        if (!hg_audit_bloom_may_contain(bloom, bytes, keys[k]))
            return 0;
    return 1;
}

/* a query in progress: the records statement, bound per id range, and what it found so far */
typedef struct {
    sqlite3_stmt *records;
    int first_range_param; /* ?N of the range's low end; high end and limit follow */
    json_t *found;
    int limit;
    sqlite3_int64 last_id;
} scan_t;

/* adds the matching records with ids in [lo, hi], newest first, up to limit + 1 in all; SQLite's result code */
static int scan_range(scan_t *sc, int64_t lo, int64_t hi)
{
    sqlite3_stmt *st = sc->records;
    sqlite3_bind_int64(st, sc->first_range_param, lo);
    sqlite3_bind_int64(st, sc->first_range_param + 1, hi);
    sqlite3_bind_int(st, sc->first_range_param + 2, sc->limit + 1 - (int)json_array_size(sc->found));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        hg_audit_record_t *r = hg_audit_sqlite_read_row(st, 1);
        json_array_append_new(sc->found, hg_audit_record_to_json(r));
        hg_audit_record_free(r);
        if (json_array_size(sc->found) <= (size_t)sc->limit)
            sc->last_id = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Runs the scan over the records not sealed into a block yet, then over the blocks newest first that the
 * time span and the Bloom filters do not rule out, until limit + 1 records are found. Inside one read
 * transaction, so that a block sealed meanwhile is not seen both as records after the last block and as
 * a block.
 */
static int scan_blocks(sqlite3 *db, scan_t *sc, const hg_audit_filter_t *f, int64_t upper)
{
    keys_t k;
    filter_keys(f, &k);
    sqlite3_stmt *tail = NULL, *blocks = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT ifnull(max(last_id), 0) FROM blocks", -1, &tail, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "SELECT first_id, last_id, fields_bloom, objects_bloom FROM blocks"
                                " WHERE first_id <= ? AND max_ts >= ? AND min_ts < ? ORDER BY last_id DESC",
                                -1, &blocks, NULL);
    if (rc != SQLITE_OK)
        goto Exit;
    if ((rc = sqlite3_step(tail)) != SQLITE_ROW)
        goto Exit;
    int64_t sealed = sqlite3_column_int64(tail, 0);
    rc = upper > sealed ? scan_range(sc, sealed + 1, upper) : SQLITE_OK;
    sqlite3_bind_int64(blocks, 1, upper);
    sqlite3_bind_int64(blocks, 2, f->given[F_SINCE] ? f->since : INT64_MIN);
    sqlite3_bind_int64(blocks, 3, f->given[F_UNTIL] ? f->until : INT64_MAX);
    while (rc == SQLITE_OK && json_array_size(sc->found) <= (size_t)sc->limit) {
        int step = sqlite3_step(blocks);
        if (step != SQLITE_ROW) {
            rc = step == SQLITE_DONE ? SQLITE_OK : step;
            break;
        }
        /* the object filter is read only when the query has an object id: it is the larger one */
        if ((k.nfields != 0 && !bloom_may_match(blocks, 2, k.fields, k.nfields)) ||
            (k.nobjects != 0 && !bloom_may_match(blocks, 3, k.objects, k.nobjects)))
            continue;
        int64_t hi = sqlite3_column_int64(blocks, 1);
        rc = scan_range(sc, sqlite3_column_int64(blocks, 0), hi < upper ? hi : upper);
    }
Exit:
    sqlite3_finalize(tail);
    sqlite3_finalize(blocks);
    return rc;
}

json_t *hg_audit_query(const char *db_path, const hg_audit_filter_t *f, hg_violations_t *errors)
{
    char err[512];
    sqlite3 *db = hg_audit_sqlite_open_readonly(db_path, err, sizeof(err));
    if (db == NULL) {
        store_error(errors, err);
        return NULL;
    }
    /* the exact filters; the id range and the limit come last */
    static const struct {
        int which;
        const char *cond;
    } conds[] = {{F_SINCE, " AND ts >= ?"},
                 {F_UNTIL, " AND ts < ?"},
                 {F_SUBJECT, " AND subject = ?"},
                 {F_CLIENT, " AND client = ?"},
                 {F_ROUTE, " AND route = ?"},
                 {F_DECISION, " AND decision = ?"},
                 {F_STATUS, " AND status BETWEEN ? AND ?"},
                 {F_REQUEST_ID, " AND request_id = ?"},
                 {F_OBJECT_ID, " AND hg_has_object(pairs, ?)"}};
    char *sql = hg_xasprintf("SELECT id, %s FROM records WHERE 1", hg_audit_sqlite_columns());
    for (size_t i = 0; i != sizeof(conds) / sizeof(conds[0]); ++i) {
        if (f->given[conds[i].which]) {
            char *more = hg_xasprintf("%s%s", sql, conds[i].cond);
            free(sql);
            sql = more;
        }
    }
    char *full = hg_xasprintf("%s AND id BETWEEN ? AND ? ORDER BY id DESC LIMIT ?", sql);
    free(sql);
    json_t *answer = NULL;
    scan_t sc = {.limit = f->limit};
    if (sqlite3_prepare_v2(db, full, -1, &sc.records, NULL) != SQLITE_OK)
        goto Fail;
    int k = 0;
    for (size_t i = 0; i != sizeof(conds) / sizeof(conds[0]); ++i) {
        int w = conds[i].which;
        if (!f->given[w])
            continue;
        switch (w) {
        case F_SINCE:
            sqlite3_bind_int64(sc.records, ++k, f->since);
            break;
        case F_UNTIL:
            sqlite3_bind_int64(sc.records, ++k, f->until);
            break;
        case F_DECISION:
            sqlite3_bind_text(sc.records, ++k, f->decision, -1, SQLITE_STATIC);
            break;
        case F_STATUS:
            sqlite3_bind_int(sc.records, ++k, f->status_lo);
            sqlite3_bind_int(sc.records, ++k, f->status_hi);
            break;
        default:
            sqlite3_bind_text(sc.records, ++k, f->text[w], -1, SQLITE_STATIC);
            break;
        }
    }
    sc.first_range_param = k + 1;
    sc.found = json_array();
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto Fail;
    int rc = scan_blocks(db, &sc, f, f->given[F_CURSOR] ? f->cursor - 1 : INT64_MAX);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        goto Fail;
    int more = json_array_size(sc.found) > (size_t)f->limit;
    if (more)
        json_array_remove(sc.found, (size_t)f->limit);
    answer = json_object();
    json_object_set_new(answer, "records", sc.found);
    sc.found = NULL;
    if (more) {
        char cursor[24];
        snprintf(cursor, sizeof(cursor), "%lld", (long long)sc.last_id);
        json_object_set_new(answer, "next_cursor", json_string(cursor));
    } else {
        json_object_set_new(answer, "next_cursor", json_null());
    }
    goto Exit;
Fail:
    snprintf(err, sizeof(err), "audit store %s: querying: %s", db_path, sqlite3_errmsg(db));
    store_error(errors, err);
Exit:
    json_decref(sc.found);
    sqlite3_finalize(sc.records);
    sqlite3_close(db);
    free(full);
    return answer;
}
