/*
 * audit_query.c: audit filters (parsed and checked once for both front ends),
 * RFC 3339 time parsing, and the query itself: one SELECT with a bound
 * parameter per filter, newest first, keyset paging on the record id.
 * See audit_query.h.
 */
#include "audit_query.h"
#include "audit.h"
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

json_t *hg_audit_query(const char *db_path, const hg_audit_filter_t *f, hg_violations_t *errors)
{
    char err[512];
    sqlite3 *db = hg_audit_sqlite_open_readonly(db_path, err, sizeof(err));
    if (db == NULL) {
        store_error(errors, err);
        return NULL;
    }
    char *sql = hg_xasprintf("SELECT id, %s FROM records WHERE 1", hg_audit_sqlite_columns());
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
                 {F_OBJECT_ID, " AND " HG_AUDIT_SQLITE_OBJECT_COND},
                 {F_CURSOR, " AND id < ?"}};
    for (size_t i = 0; i != sizeof(conds) / sizeof(conds[0]); ++i) {
        if (f->given[conds[i].which]) {
            char *more = hg_xasprintf("%s%s", sql, conds[i].cond);
            free(sql);
            sql = more;
        }
    }
    char *full = hg_xasprintf("%s ORDER BY id DESC LIMIT ?", sql);
    free(sql);
    json_t *answer = NULL;
    sqlite3_stmt *st = NULL;
    char *match = NULL;
    if (sqlite3_prepare_v2(db, full, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, sizeof(err), "audit store %s: querying: %s", db_path, sqlite3_errmsg(db));
        store_error(errors, err);
        goto Exit;
    }
    int k = 0;
    for (size_t i = 0; i != sizeof(conds) / sizeof(conds[0]); ++i) {
        int w = conds[i].which;
        if (!f->given[w])
            continue;
        switch (w) {
        case F_SINCE:
            sqlite3_bind_int64(st, ++k, f->since);
            break;
        case F_UNTIL:
            sqlite3_bind_int64(st, ++k, f->until);
            break;
        case F_DECISION:
            sqlite3_bind_text(st, ++k, f->decision, -1, SQLITE_STATIC);
            break;
        case F_STATUS:
            sqlite3_bind_int(st, ++k, f->status_lo);
            sqlite3_bind_int(st, ++k, f->status_hi);
            break;
        case F_CURSOR:
            sqlite3_bind_int64(st, ++k, f->cursor);
            break;
        case F_OBJECT_ID:
            match = hg_audit_sqlite_object_match(f->text[w]);
            sqlite3_bind_text(st, ++k, match, -1, SQLITE_STATIC);
            break;
        default:
            sqlite3_bind_text(st, ++k, f->text[w], -1, SQLITE_STATIC);
            break;
        }
    }
    sqlite3_bind_int(st, ++k, f->limit + 1);
    json_t *records = json_array();
    sqlite3_int64 last_id = 0;
    int rc, more = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (json_array_size(records) == (size_t)f->limit) {
            more = 1;
            break;
        }
        last_id = sqlite3_column_int64(st, 0);
        hg_audit_record_t *r = hg_audit_sqlite_read_row(st, 1);
        json_array_append_new(records, hg_audit_record_to_json(r));
        hg_audit_record_free(r);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(err, sizeof(err), "audit store %s: querying: %s", db_path, sqlite3_errmsg(db));
        store_error(errors, err);
        json_decref(records);
        goto Exit;
    }
    answer = json_object();
    json_object_set_new(answer, "records", records);
    if (more) {
        char cursor[24];
        snprintf(cursor, sizeof(cursor), "%lld", (long long)last_id);
        json_object_set_new(answer, "next_cursor", json_string(cursor));
    } else {
        json_object_set_new(answer, "next_cursor", json_null());
    }
Exit:
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(match);
    free(full);
    return answer;
}
