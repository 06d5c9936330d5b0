/*
 * audit_query.h: reading the audit store: the filters of contract section 7,
 * shared by the admin endpoint GET /audit and the command `hubgate audit`.
 *
 * A filter is built from name/value pairs (a URL query string or command-line
 * options) and checked as it is built, so both front ends report the same
 * errors: in = "query:NAME", code "invalid_parameter" (a bad value) or
 * "unknown_parameter". hg_audit_query opens the database read-only on the
 * caller's thread (never an event loop: the server runs it on a worker thread)
 * and answers {"records": [...newest first...], "next_cursor": "..." | null}.
 *
 * Paging: records are ordered by their store id, which only grows; a cursor
 * names the last id of a page, and the next page holds the records with
 * smaller ids. Records written while a client pages get larger ids, so pages
 * neither repeat nor skip the records that existed at the first page.
 *
 * Lifetimes: a filter is owned by its caller; hg_audit_query keeps nothing.
 */
#ifndef HUBGATE_AUDIT_QUERY_H
#define HUBGATE_AUDIT_QUERY_H

#include "violation.h"

#include <jansson.h>
#include <stdint.h>

#define HG_AUDIT_LIMIT_DEFAULT 100
#define HG_AUDIT_LIMIT_MAX 1000

typedef struct st_hg_audit_filter_t hg_audit_filter_t;

/* a filter that matches every record, limit 100 */
hg_audit_filter_t *hg_audit_filter_new(void);
void hg_audit_filter_free(hg_audit_filter_t *f);
/*
 * Sets one filter. Names and values:
 *   since, until      RFC 3339 date-time ("2024-05-01T12:00:00Z", offsets and
 *                     fractions allowed) or full-date ("2024-05-01" = midnight
 *                     UTC); since <= ts < until
 *   subject, client, route, request_id, object_id   exact match (object_id:
 *                     either side of a forwarded pair)
 *   decision          one of the seven decisions
 *   status            100..599, or a class "1xx".."5xx"
 *   limit             1..1000 (default 100)
 *   cursor            a next_cursor from an earlier page
 * A name given twice is an error. Returns 0, or -1 with a problem in errors.
 */
int hg_audit_filter_set(hg_audit_filter_t *f, const char *name, const char *value, hg_violations_t *errors);
/*
 * Sets filters from a URL query string ("subject=a&limit=10", without '?'):
 * percent-decoding and '+' for space. Every problem is reported; -1 if any.
 */
int hg_audit_filter_parse_query(hg_audit_filter_t *f, const char *query, hg_violations_t *errors);
/* RFC 3339 date-time or full-date to ms since the epoch; 0, or -1 when malformed */
int hg_audit_parse_time(const char *s, int64_t *ms);

/*
 * Runs the filter against the store at db_path (read-only). Returns a new
 * reference to {"records": [...], "next_cursor": string or null}, or NULL with
 * a problem in errors (in = "", code "audit_store") when the store cannot be read.
 */
json_t *hg_audit_query(const char *db_path, const hg_audit_filter_t *f, hg_violations_t *errors);

#endif
