/*
 * metrics.c: per-worker counters and histograms, rendered as Prometheus text.
 *
 * The request path of a worker touches only its own hg_metrics_t: a hashed
 * lookup of the (route, decision, status) series and a few relaxed 64-bit
 * stores. A series is published once, with a release store of its "used"
 * flag after its key is written, and never changes key or moves, so the
 * scraper (the admin thread) can walk the table while the worker adds to it.
 * Rendering copies the published series of every worker, sorts them and
 * merges equal keys, so the output is deterministic. See metrics.h.
 */
#include "metrics.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM_SLOTS 2048                 /* power of two, twice the named-route cap */
#define MAX_SERIES (NUM_SLOTS / 4 * 3) /* named series plus "other" series; keeps probes short */
#define OTHER "other"

/* histogram upper bounds in nanoseconds and as the `le` label; +Inf follows */
static const uint64_t bucket_ns[] = {500000ULL,     1000000ULL,    2500000ULL,    5000000ULL,    10000000ULL,
                                     25000000ULL,   50000000ULL,   100000000ULL,  250000000ULL,  500000000ULL,
                                     1000000000ULL, 2500000000ULL, 5000000000ULL, 10000000000ULL};
static const char *const bucket_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                        "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10"};
#define NUM_BUCKETS (sizeof(bucket_ns) / sizeof(bucket_ns[0]))

typedef struct st_series_t {
    uint64_t count; /* relaxed atomic */
    uint32_t hash;
    int status;
    char *route, *decision; /* one allocation ("route\0decision\0"), written before `used` */
    size_t route_len, decision_len;
    int used; /* release-stored once the key is complete */
} series_t;

typedef struct st_histogram_t {
    uint64_t buckets[NUM_BUCKETS + 1]; /* not cumulative; the last one is +Inf */
    uint64_t sum_ns;
} histogram_t;

struct st_hg_metrics_t {
    series_t slots[NUM_SLOTS];
    size_t num_series, num_named; /* writer only */
    uint64_t unrecorded;          /* observations that found no room at all */
    histogram_t request, upstream;
    uint64_t jwt_hits, jwt_misses;           /* published totals */
    uint64_t jwt_hits_base, jwt_misses_base; /* writer only: counted by caches replaced since */
    uint64_t jwt_hits_last, jwt_misses_last; /* writer only: the current cache's last totals */
};

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void store(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* single writer: an increment without a locked instruction */
static void bump(uint64_t *p, uint64_t by)
{
    store(p, load(p) + by);
}

hg_metrics_t *hg_metrics_new(void)
{
    return hg_xcalloc(1, sizeof(hg_metrics_t));
}

void hg_metrics_free(hg_metrics_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i != NUM_SLOTS; ++i)
        free(m->slots[i].route);
    free(m);
}

/* a word at a time: the request path hashes the route name on every request */
static uint64_t hash_mix(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 29);
}

static uint64_t hash_str(uint64_t h, const char *s, size_t len)
{
    uint64_t v;
    for (; len >= 8; s += 8, len -= 8) {
        memcpy(&v, s, 8);
        h = hash_mix(h, v);
    }
    v = 0;
    memcpy(&v, s, len);
    return hash_mix(h, v ^ ((uint64_t)len << 56));
}

static uint32_t series_hash(const char *route, size_t rlen, const char *decision, size_t dlen, int status)
{
    uint64_t h = hash_str(hash_str(0x243f6a8885a308d3ULL, route, rlen), decision, dlen);
    h = hash_mix(h, (uint64_t)(uint32_t)status);
    return (uint32_t)(h ^ (h >> 32));
}

/* the series of the key, added when there is room for it; NULL when there is none */
static series_t *find_series(hg_metrics_t *m, const char *route, const char *decision, int status)
{
    size_t rlen = strlen(route), dlen = strlen(decision);
    uint32_t hash = series_hash(route, rlen, decision, dlen, status);
    size_t i = hash & (NUM_SLOTS - 1);
    series_t *s;
    for (; (s = &m->slots[i])->used; i = (i + 1) & (NUM_SLOTS - 1))
        if (s->hash == hash && s->status == status && s->route_len == rlen && s->decision_len == dlen &&
            memcmp(s->route, route, rlen) == 0 && memcmp(s->decision, decision, dlen) == 0)
            return s;

    int is_other = strcmp(route, OTHER) == 0;
    if (!is_other && m->num_named >= HG_METRICS_MAX_ROUTE_SERIES)
        return find_series(m, OTHER, decision, status);
    if (m->num_series >= MAX_SERIES)
        return NULL;

    char *key = hg_xmalloc(rlen + dlen + 2);
    memcpy(key, route, rlen + 1);
    memcpy(key + rlen + 1, decision, dlen + 1);
    s->route = key;
    s->decision = key + rlen + 1;
    s->route_len = rlen;
    s->decision_len = dlen;
    s->hash = hash;
    s->status = status;
    s->count = 0;
    __atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
    ++m->num_series;
    if (!is_other)
        ++m->num_named;
    return s;
}

static uint64_t seconds_to_ns(double s)
{
    if (!(s > 0))
        return 0;
    if (s > 1e9) /* about 31 years: keeps the conversion defined */
        s = 1e9;
    return (uint64_t)(s * 1e9 + 0.5);
}

static void histogram_observe(histogram_t *h, double seconds)
{
    uint64_t ns = seconds_to_ns(seconds);
    size_t i = 0;
    while (i != NUM_BUCKETS && ns > bucket_ns[i])
        ++i;
    bump(&h->buckets[i], 1);
    bump(&h->sum_ns, ns);
}

void hg_metrics_observe(hg_metrics_t *m, const char *route, const char *decision, int status, double duration_s, double upstream_s)
{
    series_t *s = find_series(m, route != NULL ? route : "", decision != NULL ? decision : "", status);
    bump(s != NULL ? &s->count : &m->unrecorded, 1);
    histogram_observe(&m->request, duration_s);
    if (upstream_s >= 0)
        histogram_observe(&m->upstream, upstream_s);
}

void hg_metrics_jwt_cache_replaced(hg_metrics_t *m)
{
    m->jwt_hits_base += m->jwt_hits_last;
    m->jwt_misses_base += m->jwt_misses_last;
    m->jwt_hits_last = m->jwt_misses_last = 0;
}

void hg_metrics_set_jwt_cache(hg_metrics_t *m, uint64_t hits, uint64_t misses)
{
    if (hits < m->jwt_hits_last || misses < m->jwt_misses_last)
        hg_metrics_jwt_cache_replaced(m);
    m->jwt_hits_last = hits;
    m->jwt_misses_last = misses;
    store(&m->jwt_hits, m->jwt_hits_base + hits);
    store(&m->jwt_misses, m->jwt_misses_base + misses);
}

/* rendering */

typedef struct st_outbuf_t {
    char *buf;
    size_t len, cap;
} outbuf_t;

static void out_reserve(outbuf_t *o, size_t more)
{
    if (o->len + more + 1 <= o->cap)
        return;
    while (o->len + more + 1 > o->cap)
        o->cap = o->cap != 0 ? o->cap * 2 : 4096;
    o->buf = hg_xrealloc(o->buf, o->cap);
}

static void out_mem(outbuf_t *o, const char *s, size_t n)
{
    out_reserve(o, n);
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void out_str(outbuf_t *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void out_fmt(outbuf_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    out_reserve(o, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(o->buf + o->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    o->len += (size_t)n;
}

/* a label value: backslash, double quote and line feed escaped (exposition format 0.0.4) */
static void out_label_value(outbuf_t *o, const char *s)
{
    for (; *s != '\0'; ++s) {
        switch (*s) {
        case '\\':
            out_mem(o, "\\\\", 2);
            break;
        case '"':
            out_mem(o, "\\\"", 2);
            break;
        case '\n':
            out_mem(o, "\\n", 2);
            break;
        default:
            out_mem(o, s, 1);
            break;
        }
    }
}

static void out_header(outbuf_t *o, const char *name, const char *type, const char *help)
{
    out_fmt(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* nanoseconds as decimal seconds, exactly: 1500000 -> "0.0015", 2000000000 -> "2" */
static void out_seconds(outbuf_t *o, uint64_t ns)
{
    uint64_t whole = ns / 1000000000ULL, frac = ns % 1000000000ULL;
    if (frac == 0) {
        out_fmt(o, "%" PRIu64, whole);
        return;
    }
    char digits[16];
    int n = snprintf(digits, sizeof(digits), "%09" PRIu64, frac);
    while (n > 0 && digits[n - 1] == '0')
        --n;
    out_fmt(o, "%" PRIu64 ".%.*s", whole, n, digits);
}

static void out_single(outbuf_t *o, const char *name, const char *type, const char *help, uint64_t value)
{
    out_header(o, name, type, help);
    out_fmt(o, "%s %" PRIu64 "\n", name, value);
}

typedef struct st_row_t {
    const char *route, *decision;
    int status;
    uint64_t count;
} row_t;

static int row_cmp(const void *x, const void *y)
{
    const row_t *a = x, *b = y;
    int c = strcmp(a->route, b->route);
    if (c == 0)
        c = strcmp(a->decision, b->decision);
    if (c == 0)
        c = (a->status > b->status) - (a->status < b->status);
    return c;
}

static void out_requests(outbuf_t *o, hg_metrics_t *const *workers, size_t num_workers)
{
    size_t num_rows = 0, cap = 0;
    row_t *rows = NULL;
    uint64_t unrecorded = 0;
    for (size_t w = 0; w != num_workers; ++w) {
        hg_metrics_t *m = workers[w];
        if (m == NULL)
            continue;
        unrecorded += load(&m->unrecorded);
        for (size_t i = 0; i != NUM_SLOTS; ++i) {
            series_t *s = &m->slots[i];
            if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
                continue;
            if (num_rows == cap) {
                cap = cap != 0 ? cap * 2 : 64;
                rows = hg_xrealloc(rows, cap * sizeof(*rows));
            }
            rows[num_rows++] = (row_t){s->route, s->decision, s->status, load(&s->count)};
        }
    }
    if (num_rows > 1)
        qsort(rows, num_rows, sizeof(*rows), row_cmp);

    out_header(o, "hubgate_requests_total", "counter", "Requests answered, by route, decision and status.");
    for (size_t i = 0; i != num_rows;) {
        row_t r = rows[i++];
        for (; i != num_rows && row_cmp(&r, &rows[i]) == 0; ++i)
            r.count += rows[i].count;
        out_str(o, "hubgate_requests_total{route=\"");
        out_label_value(o, r.route);
        out_str(o, "\",decision=\"");
        out_label_value(o, r.decision);
        out_fmt(o, "\",status=\"%d\"} %" PRIu64 "\n", r.status, r.count);
    }
    if (unrecorded != 0)
        out_fmt(o, "hubgate_requests_total{route=\"" OTHER "\",decision=\"" OTHER "\",status=\"" OTHER "\"} %" PRIu64 "\n",
                unrecorded);
    free(rows);
}

static void out_histogram(outbuf_t *o, const char *name, const char *help, hg_metrics_t *const *workers, size_t num_workers,
                          size_t offset)
{
    uint64_t buckets[NUM_BUCKETS + 1] = {0}, sum_ns = 0;
    for (size_t w = 0; w != num_workers; ++w) {
        if (workers[w] == NULL)
            continue;
        histogram_t *h = (histogram_t *)((char *)workers[w] + offset);
        for (size_t i = 0; i != NUM_BUCKETS + 1; ++i)
            buckets[i] += load(&h->buckets[i]);
        sum_ns += load(&h->sum_ns);
    }
    out_header(o, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i != NUM_BUCKETS + 1; ++i) {
        cumulative += buckets[i];
        out_fmt(o, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, i != NUM_BUCKETS ? bucket_le[i] : "+Inf", cumulative);
    }
    out_fmt(o, "%s_sum ", name);
    out_seconds(o, sum_ns);
    out_fmt(o, "\n%s_count %" PRIu64 "\n", name, cumulative);
}

char *hg_metrics_render(hg_metrics_t *const *workers, size_t num_workers, const hg_metrics_extra_t *extra, size_t *len)
{
    static const hg_metrics_extra_t zeros;
    if (extra == NULL)
        extra = &zeros;
    outbuf_t o = {NULL, 0, 0};
    out_reserve(&o, 8192);

    out_requests(&o, workers, num_workers);
    out_histogram(&o, "hubgate_request_duration_seconds", "Time from a request's arrival to the end of its answer.", workers,
                  num_workers, offsetof(hg_metrics_t, request));
    out_histogram(&o, "hubgate_upstream_duration_seconds", "Time from forwarding a request upstream to the upstream's answer.",
                  workers, num_workers, offsetof(hg_metrics_t, upstream));

    uint64_t hits = 0, misses = 0;
    for (size_t w = 0; w != num_workers; ++w) {
        if (workers[w] != NULL) {
            hits += load(&workers[w]->jwt_hits);
            misses += load(&workers[w]->jwt_misses);
        }
    }
    out_single(&o, "hubgate_jwt_cache_hits_total", "counter", "Tokens found in the verified-token cache.", hits);
    out_single(&o, "hubgate_jwt_cache_misses_total", "counter", "Tokens not in the verified-token cache (verified in full).",
               misses);
    out_single(&o, "hubgate_audit_written_total", "counter", "Audit records stored.", extra->audit_written);
    out_single(&o, "hubgate_audit_dropped_total", "counter",
               "Audit records lost (queue full, or a failed store with on_failure continue).", extra->audit_dropped);
    out_single(&o, "hubgate_audit_queue_depth", "gauge", "Audit records waiting for the writer.", extra->audit_queue_depth);
    out_single(&o, "hubgate_audit_queue_depth_max", "gauge", "The most audit records that waited for the writer at once.",
               extra->audit_queue_depth_max);
    out_header(&o, "hubgate_audit_batch_size", "histogram", "Audit records per store transaction.");
    uint64_t below = 0;
    for (size_t i = 0; i + 1 < HG_METRICS_AUDIT_BATCH_BUCKETS; ++i) {
        below += extra->audit_batch_hist[i];
        out_fmt(&o, "hubgate_audit_batch_size_bucket{le=\"%zu\"} %" PRIu64 "\n", ((size_t)2 << i) - 1, below);
    }
    out_fmt(&o, "hubgate_audit_batch_size_bucket{le=\"+Inf\"} %" PRIu64 "\n", extra->audit_batches);
    out_fmt(&o, "hubgate_audit_batch_size_sum %" PRIu64 "\n", extra->audit_written);
    out_fmt(&o, "hubgate_audit_batch_size_count %" PRIu64 "\n", extra->audit_batches);
    out_header(&o, "hubgate_config_reloads_total", "counter", "Configuration reloads (SIGHUP), by result.");
    out_fmt(&o, "hubgate_config_reloads_total{result=\"success\"} %" PRIu64 "\n", extra->reloads_ok);
    out_fmt(&o, "hubgate_config_reloads_total{result=\"failure\"} %" PRIu64 "\n", extra->reloads_failed);
    out_single(&o, "hubgate_access_log_dropped_total", "counter", "Access log lines dropped because the writer's queue was full.",
               extra->access_log_dropped);
    out_single(&o, "hubgate_inflight_requests", "gauge", "Requests being processed now.", extra->inflight);
    out_single(&o, "hubgate_jwks_fetches_total", "counter", "JWKS URL fetches of the running configuration.", extra->jwks_fetches);
    out_single(&o, "hubgate_jwks_fetch_failures_total", "counter",
               "JWKS URL fetches that failed (the last good key set stays in use).", extra->jwks_fetch_failures);

    if (len != NULL)
        *len = o.len;
    return o.buf;
}
