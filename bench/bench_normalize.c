/*
 * bench_normalize.c: what the body pipeline costs per request, in microseconds per body, for 1, 100
 * and 2000 inputs (the goal: a 2000-input body adds at most 2 ms, a 100-input one little), through
 * the jansson path alone ("slow": a route without `fast`) and with the fast path first ("fast": a
 * route with the shipped schema, where assocscan.h's scanner takes the body or declines it).
 *
 * For each size three bodies: "clean" (8-digit string ids, all distinct, already canonical),
 * "padded" (pretty-printed, integer and space-padded ids, one input in ten a duplicate: all in the
 * scanner's grammar) and "messy" (as padded, plus an unknown field per input, which the scanner
 * declines, so "fast" there is the cost of declining plus the jansson path). Each is timed through
 * the strict parse alone (the floor any jansson-based reader pays) and through hg_body_process both
 * ways (parse or scan, coerce, prune, validate, deduplicate, write, SHA-256); ratio = slow / fast.
 *
 * Usage: bench/bench_normalize [SCHEMA_FILE]   (default: $HUBGATE_SRCDIR/schemas/batch-associate-default.request.json)
 */
#include "jsonstrict.h"
#include "normalize.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

enum shape { CLEAN, PADDED, MESSY };
static const char *const shape_names[] = {"clean", "padded", "messy"};

static char *make_body(size_t n, enum shape shape, size_t *len)
{
    char *b = hg_xmalloc(64 + n * 160);
    size_t o = (size_t)sprintf(b, shape != CLEAN ? "{\n  \"inputs\": [\n" : "{\"inputs\":[");
    for (size_t i = 0; i != n; ++i) {
        int dup = shape != CLEAN && i % 10 == 9;
        unsigned long from = 10000000 + (dup ? i - 1 : i), to = 20000000 + (dup ? i - 1 : i);
        if (shape != CLEAN)
            o += (size_t)sprintf(b + o, "%s    {\n      \"from\": { \"id\": %lu },\n      \"to\": { \"id\": \" %lu \" }%s\n    }",
                                 i != 0 ? ",\n" : "", from, to,
                                 shape == MESSY ? ",\n      \"types\": [ { \"associationCategory\": \"HUBSPOT_DEFINED\" } ]" : "");
        else
            o += (size_t)sprintf(b + o, "%s{\"from\":{\"id\":\"%lu\"},\"to\":{\"id\":\"%lu\"}}", i != 0 ? "," : "", from, to);
    }
    o += (size_t)sprintf(b + o, shape != CLEAN ? "\n  ]\n}\n" : "]}");
    *len = o;
    return b;
}

static double time_parse(const char *body, size_t len, size_t iters)
{
    double start = now_us();
    for (size_t i = 0; i != iters; ++i) {
        hg_violations_t errors;
        hg_violations_init(&errors, HG_VIOLATIONS_MAX);
        json_t *v = hg_json_parse_strict(body, len, 32, &errors);
        if (v == NULL)
            abort();
        json_decref(v);
    }
    return (now_us() - start) / (double)iters;
}

static double time_process(const hg_body_rules_t *rules, const char *body, size_t len, size_t iters, size_t *forwarded)
{
    double start = now_us();
    for (size_t i = 0; i != iters; ++i) {
        hg_violations_t errors;
        hg_violations_init(&errors, HG_VIOLATIONS_MAX);
        hg_body_result_t r;
        if (hg_body_process(rules, body, len, &r, &errors) != 0) {
            fprintf(stderr, "refused: %s: %s\n", errors.items[0].in, errors.items[0].message);
            exit(1);
        }
        *forwarded = r.forwarded;
        hg_body_result_dispose(&r);
    }
    return (now_us() - start) / (double)iters;
}

int main(int argc, char **argv)
{
    char *path;
    if (argc > 1)
        path = hg_xstrdup(argv[1]);
    else if (getenv("HUBGATE_SRCDIR") != NULL)
        path = hg_xasprintf("%s/schemas/batch-associate-default.request.json", getenv("HUBGATE_SRCDIR"));
    else {
        fprintf(stderr, "usage: %s SCHEMA_FILE (or set HUBGATE_SRCDIR)\n", argv[0]);
        return 2;
    }
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_schema_t *schema = hg_schema_load(path, &errors);
    if (schema == NULL) {
        fprintf(stderr, "%s: %s\n", path, errors.count != 0 ? errors.items[0].message : "cannot load");
        return 1;
    }
    hg_body_rules_t slow = {HG_NORMALIZE_ASSOCIATIONS, schema, 0, 2000, 32, 0}, fast = slow;
    fast.fast = 1;
    static const size_t sizes[] = {1, 100, 2000};
    printf("%-6s %-6s %8s %9s %10s %10s %10s %7s\n", "inputs", "body", "bytes", "forwarded", "parse_us", "slow_us", "fast_us",
           "ratio");
    for (size_t s = 0; s != sizeof(sizes) / sizeof(sizes[0]); ++s) {
        for (enum shape shape = CLEAN; shape <= MESSY; ++shape) {
            size_t len, forwarded = 0, fast_forwarded = 0;
            char *body = make_body(sizes[s], shape, &len);
            size_t iters = 200000 / sizes[s] + 50;
            time_process(&slow, body, len, iters / 10 + 1, &forwarded); /* warm up */
            time_process(&fast, body, len, iters / 10 + 1, &forwarded);
            double best_parse = 1e18, best_slow = 1e18, best_fast = 1e18;
            for (int round = 0; round != 5; ++round) {
                double p = time_parse(body, len, iters), q = time_process(&slow, body, len, iters, &forwarded),
                       f = time_process(&fast, body, len, iters, &fast_forwarded);
                best_parse = p < best_parse ? p : best_parse;
                best_slow = q < best_slow ? q : best_slow;
                best_fast = f < best_fast ? f : best_fast;
            }
            if (fast_forwarded != forwarded) {
                fprintf(stderr, "%zu %s: forwarded %zu with the fast path, %zu without\n", sizes[s], shape_names[shape],
                        fast_forwarded, forwarded);
                return 1;
            }
            printf("%-6zu %-6s %8zu %9zu %10.2f %10.2f %10.2f %6.1fx\n", sizes[s], shape_names[shape], len, forwarded, best_parse,
                   best_slow, best_fast, best_slow / best_fast);
            free(body);
        }
    }
    hg_schema_free(schema);
    free(path);
    return 0;
}
