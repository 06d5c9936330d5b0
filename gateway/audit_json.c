/*
 * audit_json.c: prints an audit record as its JSON line straight into a byte
 * buffer: the same bytes as json_dumps(hg_audit_record_to_json(r),
 * HG_AUDIT_JSON_FLAGS), without building the jansson object.
 *
 * Why: the object costs the writer thread several allocations per key, value
 * and pair (about 1000 for a record with 100 forwarded pairs, measured), a hash
 * insertion per key, a strftime and a printf per number: ~145 us per such
 * record, so the JSON Lines store capped the trail at ~7000 records per
 * CPU-second. The JSON Lines store needs only the bytes. hg_audit_record_to_json stays the reference (the
 * admin API and the CLI use it), and tests/test_audit_json.c compares the two
 * byte for byte, so every rule below mirrors it or jansson 2.14's dump.c and
 * strconv.c: compact separators, keys in insertion order, '"', '\\' and control
 * characters escaped (\b \f \n \r \t, else \u00XX in upper-case hex), '/', DEL
 * and non-ASCII left as they are, each byte that is not UTF-8 replaced by '?',
 * and durations as "%.15g" with ".0" appended when that looks like an integer.
 */
#include "audit.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct st_out_t {
    char *buf;
    size_t len, cap;
} out_t;

/* where the next n bytes go, after growing the buffer when they do not fit */
static char *reserve(out_t *out, size_t n)
{
    if (out->cap - out->len < n) {
        size_t cap = out->cap != 0 ? out->cap : 4096;
        while (cap - out->len < n)
            cap *= 2;
        out->buf = hg_xrealloc(out->buf, cap);
        out->cap = cap;
    }
    return out->buf + out->len;
}

#define PUT_LIT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) + sizeof(lit) - 1)

/* as "%lld", INT64_MIN included */
static char *put_i64(char *o, int64_t v)
{
    if (v >= 0)
        return hg_put_u64(o, (uint64_t)v);
    *o++ = '-';
    return hg_put_u64(o, -(uint64_t)v);
}

/* v in 0..99 as two digits */
static char *put_2(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
    return o + 2;
}

/* 1 for the bytes jansson copies as they are (printable ASCII but '"' and '\\', and DEL); 0 for NUL too */
static const unsigned char plain_byte[256] = {[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1};

#define MAX_ESCAPE 6 /* bytes written for one input byte or UTF-8 sequence at most: \u00XX */

/*
 * The NUL-terminated str as a quoted JSON string. One pass without strlen: plain bytes are copied while they are
 * checked (ids and most other fields are nothing else), as long as the buffer has room for them plus an escape.
 */
static void put_string(out_t *out, const char *str)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    char *o = reserve(out, 64);
    *o++ = '"';
    for (;;) {
        char *lim = out->buf + out->cap - (MAX_ESCAPE + 1); /* room for an escape and the closing quote */
        while (o < lim && plain_byte[*s])
            *o++ = (char)*s++;
        if (o >= lim) {
            out->len = (size_t)(o - out->buf);
            o = reserve(out, 64);
            continue;
        }
        unsigned char c = *s;
        if (c == '\0')
            break;
        if (c >= 0x80) {
            size_t k = hg_utf8_seq(s);
            if (k == 0) {
                *o++ = '?';
                ++s;
            } else {
                memcpy(o, s, k);
                o += k;
                s += k;
            }
            continue;
        }
        ++s;
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            o = PUT_LIT(o, "u00");
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0xf];
            break;
        }
    }
    *o++ = '"';
    out->len = (size_t)(o - out->buf);
}

/* a literal of n bytes */
static void put_bytes(out_t *out, const char *s, size_t n)
{
    memcpy(reserve(out, n), s, n);
    out->len += n;
}

/* `key` (already quoted, with its leading ',' and trailing ':') and s, or null */
static void put_string_field(out_t *out, const char *key, size_t keylen, const char *s)
{
    put_bytes(out, key, keylen);
    if (s != NULL)
        put_string(out, s);
    else
        put_bytes(out, "null", 4);
}

static void put_int_field(out_t *out, const char *key, size_t keylen, int64_t v, int64_t absent)
{
    char *o = reserve(out, keylen + 20);
    memcpy(o, key, keylen);
    o += keylen;
    o = v == absent ? PUT_LIT(o, "null") : put_i64(o, v);
    out->len = (size_t)(o - out->buf);
}

/*
 * jansson's JSON_REAL_PRECISION(15) for d: "%.15g", then ".0" when there is no '.' and no 'e', and an exponent
 * without '+' and without leading zeros ("1e+20" -> "1e20", "1e-05" -> "1e-5"). Writes at most 32 bytes.
 */
static char *put_real_printf(char *o, double d)
{
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.15g", d);
    for (int i = 0; i != n; ++i) /* a locale's decimal point, as jansson's from_locale */
        if (!(tmp[i] >= '0' && tmp[i] <= '9') && tmp[i] != 'e' && tmp[i] != '-' && tmp[i] != '+')
            tmp[i] = '.';
    char *e = memchr(tmp, 'e', (size_t)n);
    if (e == NULL) {
        memcpy(o, tmp, (size_t)n);
        o += n;
        if (memchr(tmp, '.', (size_t)n) == NULL)
            o = PUT_LIT(o, ".0");
        return o;
    }
    const char *p = e + 1;
    size_t head = (size_t)(p - tmp);
    memcpy(o, tmp, head);
    o += head;
    if (*p == '-')
        *o++ = *p++;
    else if (*p == '+')
        ++p;
    while (*p == '0')
        ++p;
    size_t tail = (size_t)(tmp + n - p);
    memcpy(o, p, tail);
    return o + tail;
}

/*
 * A duration as hg_audit_record_to_json has it: null when absent (negative, NaN) or when v * 1000 is not
 * finite, else round(v * 1000) / 1000 printed by jansson.
 */
static void put_ms_field(out_t *out, const char *key, size_t keylen, double v)
{
    char *o = reserve(out, keylen + 40);
    if (!(v >= 0) || !isfinite(v * 1000)) {
        memcpy(o, key, keylen);
        o = PUT_LIT(o + keylen, "null");
        out->len = (size_t)(o - out->buf);
        return;
    }
    double k = round(v * 1000); /* the rounded value in microseconds: an integer */
    memcpy(o, key, keylen);
    o += keylen;
    if (k < 1e15) {
        /* k / 1000 has at most 15 significant digits, so "%.15g" of the double nearest to it (DBL_DIG = 15) prints
           exactly its decimal digits, trailing fraction zeros removed, never in exponent form (k / 1000 < 1e12) */
        uint64_t us = (uint64_t)k;
        if (us == 0 && signbit(k))
            *o++ = '-'; /* v = -0.0 passes the >= 0 test: "%.15g" says "-0" */
        o = hg_put_u64(o, us / 1000);
        *o++ = '.';
        unsigned frac = (unsigned)(us % 1000);
        if (frac == 0) {
            *o++ = '0';
        } else {
            *o++ = (char)('0' + frac / 100);
            if (frac % 100 != 0) {
                *o++ = (char)('0' + frac / 10 % 10);
                if (frac % 10 != 0)
                    *o++ = (char)('0' + frac % 10);
            }
        }
    } else {
        o = put_real_printf(o, k / 1000);
    }
    out->len = (size_t)(o - out->buf);
}

/* the "ts" value without quotes, as hg_audit_format_ts prints it; at most 40 bytes */
static char *put_ts(char *o, int64_t ts_ms)
{
    int64_t secs = ts_ms / 1000, ms = ts_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        --secs;
    }
    /* years 1000 to 9999 here, where any strftime's %Y prints four digits; hg_audit_format_ts for the others */
    if (secs < -30610224000LL || secs >= 253402300800LL) {
        char buf[40];
        size_t n = strlen(hg_audit_format_ts(ts_ms, buf, sizeof(buf)));
        memcpy(o, buf, n);
        return o + n;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        --days;
    }
    /* the proleptic Gregorian date of a day number (days since 1970-01-01), counted in 400-year eras that start
       on March 1st so that the leap day ends a year */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                          /* day of the era, 0..146096 */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* year of the era, 0..399 */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* day of the March year, 0..365 */
    unsigned mp = (5 * doy + 2) / 153;                                    /* month from March, 0..11 */
    unsigned day = doy - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    unsigned year = (unsigned)(yoe + era * 400 + (month <= 2));
    o = put_2(o, year / 100);
    o = put_2(o, year % 100);
    *o++ = '-';
    o = put_2(o, month);
    *o++ = '-';
    o = put_2(o, day);
    *o++ = 'T';
    o = put_2(o, (unsigned)(sod / 3600));
    *o++ = ':';
    o = put_2(o, (unsigned)(sod / 60 % 60));
    *o++ = ':';
    o = put_2(o, (unsigned)(sod % 60));
    *o++ = '.';
    *o++ = (char)('0' + ms / 100);
    o = put_2(o, (unsigned)(ms % 100));
    *o++ = 'Z';
    return o;
}

#define KEY(name) ",\"" name "\":", sizeof(",\"" name "\":") - 1

void hg_audit_record_append_json(const hg_audit_record_t *r, char **buf, size_t *len, size_t *cap)
{
    out_t out = {*buf, *len, *cap};
    char *o = reserve(&out, 64);
    o = PUT_LIT(o, "{\"ts\":\"");
    o = put_ts(o, r->ts_ms);
    *o++ = '"';
    out.len = (size_t)(o - out.buf);
    put_string_field(&out, KEY("request_id"), r->request_id);
    put_string_field(&out, KEY("route"), r->route);
    put_string_field(&out, KEY("method"), r->method);
    put_string_field(&out, KEY("path"), r->path);
    put_string_field(&out, KEY("decision"), r->decision);
    put_int_field(&out, KEY("status"), r->status, 0);
    put_int_field(&out, KEY("upstream_status"), r->upstream_status, 0);
    put_string_field(&out, KEY("issuer"), r->issuer);
    put_string_field(&out, KEY("subject"), r->subject);
    put_string_field(&out, KEY("client"), r->client);
    put_string_field(&out, KEY("scope_used"), r->scope_used);
    put_string_field(&out, KEY("from_object_type"), r->from_object_type);
    put_string_field(&out, KEY("to_object_type"), r->to_object_type);
    put_int_field(&out, KEY("inputs_received"), r->inputs_received, -1);
    put_int_field(&out, KEY("inputs_forwarded"), r->inputs_forwarded, -1);
    put_int_field(&out, KEY("duplicates"), r->duplicates, -1);
    put_int_field(&out, KEY("coerced"), r->coerced, -1);
    put_int_field(&out, KEY("dropped_fields"), r->dropped_fields, -1);
    put_string_field(&out, KEY("hubspot_status"), r->hubspot_status);
    put_int_field(&out, KEY("num_errors"), r->num_errors, -1);
    put_string_field(&out, KEY("hubspot_correlation_id"), r->hubspot_correlation_id);
    put_ms_field(&out, KEY("duration_ms"), r->duration_ms);
    put_ms_field(&out, KEY("upstream_ms"), r->upstream_ms);
    put_string_field(&out, KEY("body_sha256"), r->body_sha256);
    put_string_field(&out, KEY("client_addr"), r->client_addr);
    put_string_field(&out, KEY("user_agent"), r->user_agent);
    put_string_field(&out, KEY("error"), r->error);
    o = reserve(&out, 16);
    o = PUT_LIT(o, ",\"pairs\":[");
    out.len = (size_t)(o - out.buf);
    for (size_t i = 0; i != r->num_pairs; ++i) {
        const char *from = r->pairs[2 * i], *to = r->pairs[2 * i + 1];
        if (i != 0)
            put_bytes(&out, ",", 1);
        put_bytes(&out, "{\"from\":", sizeof("{\"from\":") - 1);
        if (from != NULL)
            put_string(&out, from);
        else
            put_bytes(&out, "null", 4);
        put_bytes(&out, ",\"to\":", sizeof(",\"to\":") - 1);
        if (to != NULL)
            put_string(&out, to);
        else
            put_bytes(&out, "null", 4);
        put_bytes(&out, "}", 1);
    }
    o = reserve(&out, 2);
    o = PUT_LIT(o, "]}");
    out.len = (size_t)(o - out.buf);
    *buf = out.buf;
    *len = out.len;
    *cap = out.cap;
}
