/*
 * metrics.h: per-worker request metrics, summed when scraped.
 *
 * Each worker owns one hg_metrics_t and is its only writer, so the request
 * path counts without locks: relaxed atomic loads and stores of 64-bit
 * counters, never a read-modify-write instruction. The admin thread reads
 * them concurrently (hg_metrics_render) and sums every worker's metrics into
 * Prometheus text exposition format 0.0.4.
 *
 * hubgate_requests_total{route,decision,status} lives in a small
 * open-addressing table per worker. A new series is filled in first and then
 * published with a release store of its "used" flag, so a scraper that sees
 * the flag (acquire load) sees the whole key; series are never removed. Route
 * names are copied (a reload may rename or drop routes; the series stays). At
 * most HG_METRICS_MAX_ROUTE_SERIES series with distinct route names are kept
 * per worker; observations for further routes are counted under route="other"
 * (a route really named "other" shares that series). Should even the "other"
 * series exhaust the table (it cannot with HTTP statuses and the seven
 * decisions), the rest is counted as route="other",decision="other",status="other".
 *
 * Histograms count integer nanoseconds, so bucket boundaries are exact and
 * the _sum prints without floating-point noise.
 *
 * Lifetime: process (one per worker, created before the worker starts, freed
 * after it and every scraper stopped).
 */
#ifndef HUBGATE_METRICS_H
#define HUBGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* distinct route names tracked per worker before route="other" takes over */
#define HG_METRICS_MAX_ROUTE_SERIES 1024

typedef struct st_hg_metrics_t hg_metrics_t;

hg_metrics_t *hg_metrics_new(void);
/* NULL is fine; no scraper may be reading m any more */
void hg_metrics_free(hg_metrics_t *m);

/*
 * One finished request, on the owning worker's thread only. `route` (NULL = no route, rendered as "") and
 * `decision` (NULL = rendered as "") are borrowed for the call: a new series copies them. upstream_s < 0
 * when the request was not forwarded (no upstream observation); negative durations count as 0.
 */
void hg_metrics_observe(hg_metrics_t *m, const char *route, const char *decision, int status, double duration_s, double upstream_s);

/*
 * The worker's token cache counters, as totals that the cache keeps (hg_tokencache_stats); owning thread
 * only. The metric stays monotonic when the worker switches to a new cache (reload): call
 * hg_metrics_jwt_cache_replaced first, then give the new cache's totals. A total smaller than the last one
 * is also taken as a new cache (a safety net: lookups that a new cache made before the first call are lost
 * when they exceed the old total, so prefer the explicit call).
 */
void hg_metrics_set_jwt_cache(hg_metrics_t *m, uint64_t hits, uint64_t misses);
/* the worker now uses another token cache: what was counted is kept, the next totals count from zero */
void hg_metrics_jwt_cache_replaced(hg_metrics_t *m);

#define HG_METRICS_AUDIT_BATCH_BUCKETS 10

/* process-wide values that are not per worker (read by the scraper just before rendering) */
typedef struct st_hg_metrics_extra_t {
    uint64_t audit_written, audit_dropped, audit_queue_depth, audit_queue_depth_max;
    /* the writer's transactions by size: 1, 2-3, 4-7, ..., 256-511, 512 and more (as hg_audit_stats_t has them) */
    uint64_t audit_batches, audit_batch_hist[HG_METRICS_AUDIT_BATCH_BUCKETS];
    uint64_t reloads_ok, reloads_failed;
    uint64_t access_log_dropped;
    uint64_t jwks_fetches, jwks_fetch_failures; /* JWKS URL fetches of the running configuration */
    uint64_t inflight;
} hg_metrics_extra_t;

/*
 * Prometheus text for all workers (NULL entries are skipped) plus extra (NULL = zeros): a new heap string
 * (free it), *len (may be NULL) its length. Series are sorted by route, decision and status. Any thread.
 */
char *hg_metrics_render(hg_metrics_t *const *workers, size_t num_workers, const hg_metrics_extra_t *extra, size_t *len);

#endif
