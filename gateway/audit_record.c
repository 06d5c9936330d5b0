/*
 * audit_record.c: the audit record itself: allocation, forwarded pairs, and
 * the JSON shape that the JSON Lines store, the admin API and the CLI share.
 *
 * Kept apart from the queue and the writer (audit.c) because the query side
 * builds the same records from SQLite rows and must print them the same way.
 * Strings come from the outside world (User-Agent, token claims), so the JSON
 * conversion repairs invalid UTF-8 rather than losing the field. See audit.h.
 */
#include "audit.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const decisions[] = {HG_AUDIT_FORWARDED,           HG_AUDIT_REJECTED_AUTH,  HG_AUDIT_REJECTED_SCOPE,
                                        HG_AUDIT_REJECTED_VALIDATION, HG_AUDIT_REJECTED_ROUTE, HG_AUDIT_UPSTREAM_ERROR,
                                        HG_AUDIT_REJECTED_OTHER};

const char *hg_audit_decision_find(const char *s)
{
    for (size_t i = 0; i != sizeof(decisions) / sizeof(decisions[0]); ++i)
        if (strcmp(decisions[i], s) == 0)
            return decisions[i];
    return NULL;
}

/* a block of the record's strings; strings never move, so fields and r->pairs point into it */
struct st_hg_audit_idblock_t {
    struct st_hg_audit_idblock_t *next;
    size_t used, size;
    char bytes[];
};

#define KEEP_PAIRS 256         /* a reset record keeps a pairs array up to this size */
#define KEEP_BLOCK (16 * 1024) /* and a block up to this size: 1024 spare records hold at most 16 MB */
#define ID_BLOCK_SIZE 4000     /* bytes of strings per block: the fields and 100 pairs of 10-digit ids in one */

hg_audit_record_t *hg_audit_record_new(void)
{
    hg_audit_record_t *r = hg_xcalloc(1, sizeof(*r));
    hg_audit_record_reset(r);
    return r;
}

/*
 * Drops every string (all in the blocks) and every block but the largest, which a recycled record then
 * fills first (a large forwarded body would otherwise cost a large allocation each time); keeps the pairs
 * array; sets every field absent.
 */
static void clear(hg_audit_record_t *r)
{
    struct st_hg_audit_idblock_t *largest = NULL;
    for (struct st_hg_audit_idblock_t *b = r->id_blocks, *next; b != NULL; b = next) {
        next = b->next;
        if (largest == NULL || b->size > largest->size) {
            free(largest);
            largest = b;
        } else {
            free(b);
        }
    }
    if (largest != NULL) {
        if (largest->size > KEEP_BLOCK) { /* but not a huge one */
            free(largest);
            largest = NULL;
        } else {
            largest->next = NULL;
            largest->used = 0;
        }
    }
    if (r->pairs_cap > KEEP_PAIRS) { /* a rare large body should not pin its array in a recycled record */
        free(r->pairs);
        r->pairs = NULL;
        r->pairs_cap = 0;
    }
    *r = (hg_audit_record_t){.pairs = r->pairs, .pairs_cap = r->pairs_cap, .id_blocks = largest};
    r->inputs_received = r->inputs_forwarded = r->duplicates = r->coerced = r->dropped_fields = -1;
    r->num_errors = -1;
    r->duration_ms = r->upstream_ms = -1;
}

void hg_audit_record_reset(hg_audit_record_t *r)
{
    clear(r);
    r->ts_ms = (int64_t)hg_now_ms();
}

void hg_audit_record_free(hg_audit_record_t *r)
{
    if (r == NULL)
        return;
    clear(r);
    free(r->id_blocks);
    free(r->pairs);
    free(r);
}

char *hg_audit_record_strndup(hg_audit_record_t *r, const char *s, size_t len)
{
    size_t n = len + 1;
    struct st_hg_audit_idblock_t *b = r->id_blocks;
    if (b == NULL || b->size - b->used < n) {
        size_t size = n > ID_BLOCK_SIZE ? n + ID_BLOCK_SIZE : ID_BLOCK_SIZE; /* a big string leaves room for the rest */
        b = hg_xmalloc(sizeof(*b) + size);
        b->next = r->id_blocks;
        b->used = 0;
        b->size = size;
        r->id_blocks = b;
    }
    char *copy = b->bytes + b->used;
    memcpy(copy, s, len);
    copy[len] = '\0';
    b->used += n;
    return copy;
}

char *hg_audit_record_strdup(hg_audit_record_t *r, const char *s)
{
    return s != NULL ? hg_audit_record_strndup(r, s, strlen(s)) : NULL;
}

char *hg_audit_record_printf(hg_audit_record_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256], *text = small;
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if ((size_t)n >= sizeof(small)) {
        text = hg_xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    char *copy = hg_audit_record_strndup(r, text, (size_t)n);
    if (text != small)
        free(text);
    return copy;
}

void hg_audit_record_set_forwarded(hg_audit_record_t *r, const char *body, size_t len)
{
    r->forwarded = hg_audit_record_strndup(r, body, len);
    r->forwarded_len = len;
}

void hg_audit_record_finish(hg_audit_record_t *r, hg_sha256_t *sha256)
{
    if (r->forwarded == NULL)
        return;
    char hex[65];
    hg_sha256_hex(sha256, r->forwarded, r->forwarded_len, hex);
    r->body_sha256 = hg_audit_record_strndup(r, hex, 64);
    r->forwarded = NULL;
    r->forwarded_len = 0;
}

void hg_audit_record_add_pair(hg_audit_record_t *r, const char *from, const char *to)
{
    if (r->num_pairs == r->pairs_cap) {
        r->pairs_cap = r->pairs_cap != 0 ? r->pairs_cap * 2 : 8;
        r->pairs = hg_xrealloc(r->pairs, 2 * r->pairs_cap * sizeof(*r->pairs));
    }
    r->pairs[2 * r->num_pairs] = hg_audit_record_strdup(r, from);
    r->pairs[2 * r->num_pairs + 1] = hg_audit_record_strdup(r, to);
    ++r->num_pairs;
}

char *hg_audit_format_ts(int64_t ts_ms, char *buf, size_t size)
{
    int64_t secs = ts_ms / 1000, ms = ts_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        --secs;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dZ", (int)ms);
    return buf;
}

json_t *hg_audit_json_string(const char *s)
{
    if (s == NULL)
        return json_null();
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    size_t len = strlen(s);
    char *fixed = hg_xmalloc(len + 1), *out = fixed;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
        size_t n = hg_utf8_seq(p);
        if (n == 0) {
            *out++ = '?';
            ++p;
        } else {
            memcpy(out, p, n);
            out += n;
            p += n;
        }
    }
    *out = '\0';
    j = json_string(fixed);
    free(fixed);
    return j;
}

static json_t *int_or_null(int64_t v, int64_t absent)
{
    return v == absent ? json_null() : json_integer(v);
}

/* null when absent (negative, NaN) or not a number JSON can hold once rounded to microseconds */
static json_t *ms_or_null(double v)
{
    if (!(v >= 0) || !isfinite(v * 1000))
        return json_null();
    return json_real(round(v * 1000) / 1000);
}

json_t *hg_audit_record_to_json(const hg_audit_record_t *r)
{
    char ts[40];
    json_t *o = json_object();
    json_object_set_new(o, "ts", json_string(hg_audit_format_ts(r->ts_ms, ts, sizeof(ts))));
    json_object_set_new(o, "request_id", hg_audit_json_string(r->request_id));
    json_object_set_new(o, "route", hg_audit_json_string(r->route));
    json_object_set_new(o, "method", hg_audit_json_string(r->method));
    json_object_set_new(o, "path", hg_audit_json_string(r->path));
    json_object_set_new(o, "decision", hg_audit_json_string(r->decision));
    json_object_set_new(o, "status", int_or_null(r->status, 0));
    json_object_set_new(o, "upstream_status", int_or_null(r->upstream_status, 0));
    json_object_set_new(o, "issuer", hg_audit_json_string(r->issuer));
    json_object_set_new(o, "subject", hg_audit_json_string(r->subject));
    json_object_set_new(o, "client", hg_audit_json_string(r->client));
    json_object_set_new(o, "scope_used", hg_audit_json_string(r->scope_used));
    json_object_set_new(o, "from_object_type", hg_audit_json_string(r->from_object_type));
    json_object_set_new(o, "to_object_type", hg_audit_json_string(r->to_object_type));
    json_object_set_new(o, "inputs_received", int_or_null(r->inputs_received, -1));
    json_object_set_new(o, "inputs_forwarded", int_or_null(r->inputs_forwarded, -1));
    json_object_set_new(o, "duplicates", int_or_null(r->duplicates, -1));
    json_object_set_new(o, "coerced", int_or_null(r->coerced, -1));
    json_object_set_new(o, "dropped_fields", int_or_null(r->dropped_fields, -1));
    json_object_set_new(o, "hubspot_status", hg_audit_json_string(r->hubspot_status));
    json_object_set_new(o, "num_errors", int_or_null(r->num_errors, -1));
    json_object_set_new(o, "hubspot_correlation_id", hg_audit_json_string(r->hubspot_correlation_id));
    json_object_set_new(o, "duration_ms", ms_or_null(r->duration_ms));
    json_object_set_new(o, "upstream_ms", ms_or_null(r->upstream_ms));
    json_object_set_new(o, "body_sha256", hg_audit_json_string(r->body_sha256));
    json_object_set_new(o, "client_addr", hg_audit_json_string(r->client_addr));
    json_object_set_new(o, "user_agent", hg_audit_json_string(r->user_agent));
    json_object_set_new(o, "error", hg_audit_json_string(r->error));
    json_t *pairs = json_array();
    for (size_t i = 0; i != r->num_pairs; ++i) {
        json_t *p = json_object();
        json_object_set_new(p, "from", hg_audit_json_string(r->pairs[2 * i]));
        json_object_set_new(p, "to", hg_audit_json_string(r->pairs[2 * i + 1]));
        json_array_append_new(pairs, p);
    }
    json_object_set_new(o, "pairs", pairs);
    return o;
}
