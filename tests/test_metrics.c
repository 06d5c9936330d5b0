/*
 * test_metrics.c: the Prometheus text of per-worker metrics: the exact output
 * for a known sequence over two workers, label escaping, the series cap and
 * its "other" overflow, token cache totals across cache replacement, and a
 * writer thread observing while a scraper thread renders.
 */
#include "metrics.h"

#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(hg_metrics_t *const *w, size_t n, const hg_metrics_extra_t *extra)
{
    size_t len = 0;
    char *text = hg_metrics_render(w, n, extra, &len);
    ck_assert_uint_eq(strlen(text), len);
    return text;
}

/* exact text; on a difference, names the first line that differs (whole texts are too long for a message) */
static void assert_text_eq(const char *got, const char *want)
{
    size_t i = 0, line = 1, start = 0;
    for (; got[i] == want[i] && got[i] != '\0'; ++i)
        if (got[i] == '\n') {
            ++line;
            start = i + 1;
        }
    if (got[i] == want[i])
        return;
    ck_abort_msg("line %zu differs: got \"%.*s\", want \"%.*s\"", line, (int)strcspn(got + start, "\n"), got + start,
                 (int)strcspn(want + start, "\n"), want + start);
}

/* the value of the sample line that starts with `prefix` (name and labels), or -1 when there is none */
static int64_t sample(const char *text, const char *prefix)
{
    size_t plen = strlen(prefix);
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, prefix, plen) == 0 && line[plen] == ' ')
            return strtoll(line + plen + 1, NULL, 10);
        if (end == NULL)
            break;
        line = end + 1;
    }
    return -1;
}

#define BUCKETS_ZERO(name)                                                                                                         \
    name "_bucket{le=\"0.0005\"} 0\n" name "_bucket{le=\"0.001\"} 0\n" name "_bucket{le=\"0.0025\"} 0\n" name                      \
         "_bucket{le=\"0.005\"} 0\n" name "_bucket{le=\"0.01\"} 0\n" name "_bucket{le=\"0.025\"} 0\n" name                         \
         "_bucket{le=\"0.05\"} 0\n" name "_bucket{le=\"0.1\"} 0\n" name "_bucket{le=\"0.25\"} 0\n" name                            \
         "_bucket{le=\"0.5\"} 0\n" name "_bucket{le=\"1\"} 0\n" name "_bucket{le=\"2.5\"} 0\n" name "_bucket{le=\"5\"} 0\n" name   \
         "_bucket{le=\"10\"} 0\n" name "_bucket{le=\"+Inf\"} 0\n" name "_sum 0\n" name "_count 0\n"

static const char requests_header[] = "# HELP hubgate_requests_total Requests answered, by route, decision and status.\n"
                                      "# TYPE hubgate_requests_total counter\n";
static const char request_header[] =
    "# HELP hubgate_request_duration_seconds Time from a request's arrival to the end of its answer.\n"
    "# TYPE hubgate_request_duration_seconds histogram\n";
static const char upstream_header[] =
    "# HELP hubgate_upstream_duration_seconds Time from forwarding a request upstream to the upstream's answer.\n"
    "# TYPE hubgate_upstream_duration_seconds histogram\n";

static const char tail_fmt[] =
    "# HELP hubgate_jwt_cache_hits_total Tokens found in the verified-token cache.\n"
    "# TYPE hubgate_jwt_cache_hits_total counter\n"
    "hubgate_jwt_cache_hits_total %d\n"
    "# HELP hubgate_jwt_cache_misses_total Tokens not in the verified-token cache (verified in full).\n"
    "# TYPE hubgate_jwt_cache_misses_total counter\n"
    "hubgate_jwt_cache_misses_total %d\n"
    "# HELP hubgate_audit_written_total Audit records stored.\n"
    "# TYPE hubgate_audit_written_total counter\n"
    "hubgate_audit_written_total %d\n"
    "# HELP hubgate_audit_dropped_total Audit records lost (queue full, or a failed store with on_failure continue).\n"
    "# TYPE hubgate_audit_dropped_total counter\n"
    "hubgate_audit_dropped_total %d\n"
    "# HELP hubgate_audit_queue_depth Audit records waiting for the writer.\n"
    "# TYPE hubgate_audit_queue_depth gauge\n"
    "hubgate_audit_queue_depth %d\n"
    "# HELP hubgate_audit_queue_depth_max The most audit records that waited for the writer at once.\n"
    "# TYPE hubgate_audit_queue_depth_max gauge\n"
    "hubgate_audit_queue_depth_max %d\n"
    "# HELP hubgate_audit_batch_size Audit records per store transaction.\n"
    "# TYPE hubgate_audit_batch_size histogram\n"
    "hubgate_audit_batch_size_bucket{le=\"1\"} %d\n"
    "hubgate_audit_batch_size_bucket{le=\"3\"} %d\n"
    "hubgate_audit_batch_size_bucket{le=\"7\"} %d\n"
    "hubgate_audit_batch_size_bucket{le=\"15\"} %d\n"
    "hubgate_audit_batch_size_bucket{le=\"31\"} %d\n"
    "hubgate_audit_batch_size_bucket{le=\"63\"} %d\n"
    "hubgate_audit_batch_size_bucket{le=\"127\"} %d\n"
    "hubgate_audit_batch_size_bucket{le=\"255\"} %d\n"
    "hubgate_audit_batch_size_bucket{le=\"511\"} %d\n"
    "hubgate_audit_batch_size_bucket{le=\"+Inf\"} %d\n"
    "hubgate_audit_batch_size_sum %d\n"
    "hubgate_audit_batch_size_count %d\n"
    "# HELP hubgate_config_reloads_total Configuration reloads (SIGHUP), by result.\n"
    "# TYPE hubgate_config_reloads_total counter\n"
    "hubgate_config_reloads_total{result=\"success\"} %d\n"
    "hubgate_config_reloads_total{result=\"failure\"} %d\n"
    "# HELP hubgate_access_log_dropped_total Access log lines dropped because the writer's queue was full.\n"
    "# TYPE hubgate_access_log_dropped_total counter\n"
    "hubgate_access_log_dropped_total %d\n"
    "# HELP hubgate_inflight_requests Requests being processed now.\n"
    "# TYPE hubgate_inflight_requests gauge\n"
    "hubgate_inflight_requests %d\n"
    "# HELP hubgate_jwks_fetches_total JWKS URL fetches of the running configuration.\n"
    "# TYPE hubgate_jwks_fetches_total counter\n"
    "hubgate_jwks_fetches_total %d\n"
    "# HELP hubgate_jwks_fetch_failures_total JWKS URL fetches that failed (the last good key set stays in use).\n"
    "# TYPE hubgate_jwks_fetch_failures_total counter\n"
    "hubgate_jwks_fetch_failures_total %d\n";

START_TEST(render_empty)
{
    char *text = render(NULL, 0, NULL);
    char tail[4096];
    snprintf(tail, sizeof(tail), tail_fmt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    char expected[8192];
    snprintf(expected, sizeof(expected), "%s%s%s%s%s%s", requests_header, request_header,
             BUCKETS_ZERO("hubgate_request_duration_seconds"), upstream_header, BUCKETS_ZERO("hubgate_upstream_duration_seconds"),
             tail);
    assert_text_eq(text, expected);
    free(text);

    hg_metrics_t *none[2] = {NULL, hg_metrics_new()};
    text = render(none, 2, NULL);
    assert_text_eq(text, expected);
    free(text);
    hg_metrics_free(none[1]);
}
END_TEST

START_TEST(render_two_workers_exactly)
{
    hg_metrics_t *w[2] = {hg_metrics_new(), hg_metrics_new()};
    hg_metrics_observe(w[0], "create", "forwarded", 200, 0.0015, 0.001);
    hg_metrics_observe(w[0], "create", "rejected_auth", 401, 0.0002, -1);
    hg_metrics_observe(w[1], "create", "forwarded", 200, 0.012, 0.0105);
    hg_metrics_observe(w[1], NULL, "rejected_route", 404, 0.0005, -1); /* on a bucket's bound: le is inclusive */
    hg_metrics_observe(w[1], "create", "forwarded", 207, 12.0, 11.5);  /* above the last bound: +Inf only */
    hg_metrics_set_jwt_cache(w[0], 5, 2);
    hg_metrics_set_jwt_cache(w[1], 1, 1);
    hg_metrics_extra_t extra = {.audit_written = 7,
                                .audit_dropped = 1,
                                .audit_queue_depth = 3,
                                .audit_queue_depth_max = 9,
                                .audit_batches = 4, /* 7 records: 1 + 2 + 2 + 2 */
                                .audit_batch_hist = {1, 3},
                                .reloads_ok = 2,
                                .reloads_failed = 1,
                                .access_log_dropped = 4,
                                .inflight = 2,
                                .jwks_fetches = 5,
                                .jwks_fetch_failures = 1};
    char *text = render(w, 2, &extra);

    char tail[4096];
    snprintf(tail, sizeof(tail), tail_fmt, 6, 3, 7, 1, 3, 9, 1, 4, 4, 4, 4, 4, 4, 4, 4, 4, 7, 4, 2, 1, 4, 2, 5, 1);
    char expected[8192];
    snprintf(expected, sizeof(expected), "%s%s%s%s%s",
             "# HELP hubgate_requests_total Requests answered, by route, decision and status.\n"
             "# TYPE hubgate_requests_total counter\n"
             "hubgate_requests_total{route=\"\",decision=\"rejected_route\",status=\"404\"} 1\n"
             "hubgate_requests_total{route=\"create\",decision=\"forwarded\",status=\"200\"} 2\n"
             "hubgate_requests_total{route=\"create\",decision=\"forwarded\",status=\"207\"} 1\n"
             "hubgate_requests_total{route=\"create\",decision=\"rejected_auth\",status=\"401\"} 1\n",
             request_header,
             "hubgate_request_duration_seconds_bucket{le=\"0.0005\"} 2\n"
             "hubgate_request_duration_seconds_bucket{le=\"0.001\"} 2\n"
             "hubgate_request_duration_seconds_bucket{le=\"0.0025\"} 3\n"
             "hubgate_request_duration_seconds_bucket{le=\"0.005\"} 3\n"
             "hubgate_request_duration_seconds_bucket{le=\"0.01\"} 3\n"
             "hubgate_request_duration_seconds_bucket{le=\"0.025\"} 4\n"
             "hubgate_request_duration_seconds_bucket{le=\"0.05\"} 4\n"
             "hubgate_request_duration_seconds_bucket{le=\"0.1\"} 4\n"
             "hubgate_request_duration_seconds_bucket{le=\"0.25\"} 4\n"
             "hubgate_request_duration_seconds_bucket{le=\"0.5\"} 4\n"
             "hubgate_request_duration_seconds_bucket{le=\"1\"} 4\n"
             "hubgate_request_duration_seconds_bucket{le=\"2.5\"} 4\n"
             "hubgate_request_duration_seconds_bucket{le=\"5\"} 4\n"
             "hubgate_request_duration_seconds_bucket{le=\"10\"} 4\n"
             "hubgate_request_duration_seconds_bucket{le=\"+Inf\"} 5\n"
             "hubgate_request_duration_seconds_sum 12.0142\n"
             "hubgate_request_duration_seconds_count 5\n",
             upstream_header,
             "hubgate_upstream_duration_seconds_bucket{le=\"0.0005\"} 0\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"0.001\"} 1\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"0.0025\"} 1\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"0.005\"} 1\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"0.01\"} 1\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"0.025\"} 2\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"0.05\"} 2\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"0.1\"} 2\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"0.25\"} 2\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"0.5\"} 2\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"1\"} 2\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"2.5\"} 2\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"5\"} 2\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"10\"} 2\n"
             "hubgate_upstream_duration_seconds_bucket{le=\"+Inf\"} 3\n"
             "hubgate_upstream_duration_seconds_sum 11.5115\n"
             "hubgate_upstream_duration_seconds_count 3\n");
    strncat(expected, tail, sizeof(expected) - strlen(expected) - 1);
    assert_text_eq(text, expected);
    free(text);
    hg_metrics_free(w[0]);
    hg_metrics_free(w[1]);
}
END_TEST

START_TEST(odd_durations_count_as_zero)
{
    hg_metrics_t *m = hg_metrics_new();
    hg_metrics_observe(m, "r", "forwarded", 200, -1.0, NAN); /* NaN upstream: not observed */
    hg_metrics_observe(m, "r", "forwarded", 200, NAN, 0.0);  /* zero upstream: observed */
    hg_metrics_observe(m, "r", "forwarded", 200, 2.0, 0.0000004);
    char *text = render(&m, 1, NULL);
    ck_assert_int_eq(sample(text, "hubgate_request_duration_seconds_bucket{le=\"0.0005\"}"), 2);
    ck_assert_int_eq(sample(text, "hubgate_request_duration_seconds_bucket{le=\"2.5\"}"), 3);
    ck_assert_int_eq(sample(text, "hubgate_request_duration_seconds_count"), 3);
    ck_assert_ptr_nonnull(strstr(text, "\nhubgate_request_duration_seconds_sum 2\n"));
    ck_assert_int_eq(sample(text, "hubgate_upstream_duration_seconds_count"), 2);
    ck_assert_ptr_nonnull(strstr(text, "\nhubgate_upstream_duration_seconds_sum 0.0000004\n"));
    free(text);
    hg_metrics_free(m);
}
END_TEST

START_TEST(label_values_are_escaped)
{
    hg_metrics_t *m = hg_metrics_new();
    hg_metrics_observe(m, "a\"b\\c\nd", "for\"warded", 200, 0.001, -1);
    hg_metrics_observe(m, "caf\xc3\xa9 {x}=", NULL, 0, 0.001, -1);
    char *text = render(&m, 1, NULL);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"a\\\"b\\\\c\\nd\",decision=\"for\\\"warded\",status=\"200\"}"),
                     1);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"caf\xc3\xa9 {x}=\",decision=\"\",status=\"0\"}"), 1);
    free(text);
    hg_metrics_free(m);
}
END_TEST

START_TEST(route_names_are_copied)
{
    hg_metrics_t *m = hg_metrics_new();
    char name[16];
    strcpy(name, "before");
    hg_metrics_observe(m, name, "forwarded", 200, 0.001, 0.001);
    strcpy(name, "after");
    hg_metrics_observe(m, name, "forwarded", 200, 0.001, 0.001);
    hg_metrics_observe(m, "before", "forwarded", 200, 0.001, 0.001);
    char *text = render(&m, 1, NULL);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"before\",decision=\"forwarded\",status=\"200\"}"), 2);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"after\",decision=\"forwarded\",status=\"200\"}"), 1);
    free(text);
    hg_metrics_free(m);
}
END_TEST

START_TEST(series_cap_overflows_into_other)
{
    hg_metrics_t *m = hg_metrics_new();
    char name[32];
    for (int i = 0; i != HG_METRICS_MAX_ROUTE_SERIES; ++i) {
        snprintf(name, sizeof(name), "r%d", i);
        hg_metrics_observe(m, name, "forwarded", 200, 0.001, 0.001);
    }
    hg_metrics_observe(m, "r0", "forwarded", 200, 0.001, 0.001);     /* known: still its own */
    hg_metrics_observe(m, "r1024", "forwarded", 200, 0.001, 0.001);  /* new: other */
    hg_metrics_observe(m, "r1025", "forwarded", 200, 0.001, 0.001);  /* new: other */
    hg_metrics_observe(m, "r1026", "rejected_auth", 401, 0.001, -1); /* new: other, its own decision and status */
    hg_metrics_observe(m, "r0", "rejected_scope", 403, 0.001, -1);   /* new key of a known route: a new series, other */
    char *text = render(&m, 1, NULL);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"r0\",decision=\"forwarded\",status=\"200\"}"), 2);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"r1023\",decision=\"forwarded\",status=\"200\"}"), 1);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"r1024\",decision=\"forwarded\",status=\"200\"}"), -1);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"r0\",decision=\"rejected_scope\",status=\"403\"}"), -1);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"other\",decision=\"forwarded\",status=\"200\"}"), 2);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"other\",decision=\"rejected_auth\",status=\"401\"}"), 1);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"other\",decision=\"rejected_scope\",status=\"403\"}"), 1);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"other\",decision=\"other\",status=\"other\"}"), -1);
    ck_assert_int_eq(sample(text, "hubgate_request_duration_seconds_count"), HG_METRICS_MAX_ROUTE_SERIES + 5);
    free(text);

    /* 1024 named + 3 "other" series so far; the table holds 1536: fill it, then nothing has a series */
    for (int status = 1000; status != 1000 + 1536 - 1027; ++status)
        hg_metrics_observe(m, "other", "forwarded", status, 0.001, -1);
    hg_metrics_observe(m, "other", "forwarded", 1000, 0.001, -1); /* existing: still counted in it */
    hg_metrics_observe(m, "other", "forwarded", 99999, 0.001, -1);
    hg_metrics_observe(m, "r5000", "forwarded", 599, 0.001, -1);
    text = render(&m, 1, NULL);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"other\",decision=\"forwarded\",status=\"1000\"}"), 2);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"other\",decision=\"forwarded\",status=\"1508\"}"), 1);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"other\",decision=\"forwarded\",status=\"1509\"}"), -1);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"other\",decision=\"other\",status=\"other\"}"), 2);
    /* the fallback line is the last sample of the counter */
    ck_assert_ptr_nonnull(strstr(text, "status=\"other\"} 2\n# HELP hubgate_request_duration_seconds "));
    free(text);
    hg_metrics_free(m);
}
END_TEST

START_TEST(jwt_cache_totals_stay_monotonic)
{
    hg_metrics_t *w[2] = {hg_metrics_new(), hg_metrics_new()};
    hg_metrics_set_jwt_cache(w[0], 10, 5);
    hg_metrics_set_jwt_cache(w[1], 100, 50);
    hg_metrics_jwt_cache_replaced(w[0]);
    hg_metrics_set_jwt_cache(w[0], 1, 0);
    char *text = render(w, 2, NULL);
    ck_assert_int_eq(sample(text, "hubgate_jwt_cache_hits_total"), 111);
    ck_assert_int_eq(sample(text, "hubgate_jwt_cache_misses_total"), 55);
    free(text);
    hg_metrics_set_jwt_cache(w[0], 3, 1);
    hg_metrics_set_jwt_cache(w[0], 2, 1); /* smaller: taken as another new cache */
    text = render(w, 1, NULL);
    ck_assert_int_eq(sample(text, "hubgate_jwt_cache_hits_total"), 15);
    ck_assert_int_eq(sample(text, "hubgate_jwt_cache_misses_total"), 7);
    free(text);
    hg_metrics_free(w[0]);
    hg_metrics_free(w[1]);
}
END_TEST

/* a writer thread adds series and counts while a scraper thread renders */

#define WRITES 200000
#define ROUTES 300

typedef struct st_race_t {
    hg_metrics_t *m;
    int done;
    int scrapes;
    int64_t last_total, last_count;
    char problem[256];
} race_t;

static void *race_writer(void *arg)
{
    race_t *r = arg;
    char name[32];
    for (int i = 0; i != WRITES; ++i) {
        snprintf(name, sizeof(name), "route-%d", (i / 7) % ROUTES);
        hg_metrics_observe(r->m, name, (i & 1) ? "forwarded" : "rejected_auth", (i & 1) ? 200 : 401, 0.001 * (i % 20), -1);
    }
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* checks one scrape; returns 0 or -1 with r->problem set */
static int race_check(race_t *r, const char *text)
{
    int64_t total = 0;
    for (const char *line = text; (line = strstr(line, "\nhubgate_requests_total{")) != NULL; ++line) {
        int route, status, n = 0;
        char decision[32];
        long long value;
        if (sscanf(line, "\nhubgate_requests_total{route=\"route-%d\",decision=\"%31[a-z_]\",status=\"%d\"} %lld%n", &route,
                   decision, &status, &value, &n) != 4 ||
            n == 0 || route < 0 || route >= ROUTES ||
            !((strcmp(decision, "forwarded") == 0 && status == 200) || (strcmp(decision, "rejected_auth") == 0 && status == 401))) {
            snprintf(r->problem, sizeof(r->problem), "bad sample: %.100s", line + 1);
            return -1;
        }
        total += value;
    }
    int64_t count = sample(text, "hubgate_request_duration_seconds_count");
    if (total < r->last_total || count < r->last_count || total > WRITES || count > WRITES) {
        snprintf(r->problem, sizeof(r->problem),
                 "went backwards: total %" PRId64 " after %" PRId64 ", count %" PRId64 " after %" PRId64, total, r->last_total,
                 count, r->last_count);
        return -1;
    }
    r->last_total = total;
    r->last_count = count;
    return 0;
}

static void *race_scraper(void *arg)
{
    race_t *r = arg;
    int done;
    do {
        done = __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
        char *text = hg_metrics_render(&r->m, 1, NULL, NULL);
        int bad = race_check(r, text);
        free(text);
        if (bad)
            return NULL;
        ++r->scrapes;
    } while (!done);
    return NULL;
}

START_TEST(concurrent_writer_and_scraper)
{
    race_t r = {.m = hg_metrics_new()};
    pthread_t writer, scraper;
    ck_assert_int_eq(pthread_create(&scraper, NULL, race_scraper, &r), 0);
    ck_assert_int_eq(pthread_create(&writer, NULL, race_writer, &r), 0);
    pthread_join(writer, NULL);
    pthread_join(scraper, NULL);
    ck_assert_str_eq(r.problem, "");
    ck_assert_int_ge(r.scrapes, 1);
    /* the scrape that began after the writer finished saw everything */
    ck_assert_int_eq(r.last_total, WRITES);
    ck_assert_int_eq(r.last_count, WRITES);
    char *text = render(&r.m, 1, NULL);
    ck_assert_int_eq(sample(text, "hubgate_requests_total{route=\"route-0\",decision=\"forwarded\",status=\"200\"}"),
                     /* i in [0,7) + k*2100 with i odd: 3 per block of 7, blocks for route 0: ceil(200000/2100) */
                     3 * (WRITES / (7 * ROUTES)) + 3);
    free(text);
    hg_metrics_free(r.m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, render_empty);
    tcase_add_test(tc, render_two_workers_exactly);
    tcase_add_test(tc, odd_durations_count_as_zero);
    tcase_add_test(tc, label_values_are_escaped);
    suite_add_tcase(s, tc);
    tc = tcase_create("series");
    tcase_add_test(tc, route_names_are_copied);
    tcase_add_test(tc, series_cap_overflows_into_other);
    suite_add_tcase(s, tc);
    tc = tcase_create("jwt_cache");
    tcase_add_test(tc, jwt_cache_totals_stay_monotonic);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, concurrent_writer_and_scraper);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
