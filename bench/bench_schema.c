/*
 * bench_schema.c: what JSON Schema validation costs on the request path.
 *
 * Validates the seed endpoint's request schema
 * (schemas/batch-associate-default.request.json) against bodies of 1, 100 and
 * 2000 inputs and prints microseconds per body and per KiB for: validation
 * alone (yes/no mode and reporting mode), parse (json_loadb with
 * JSON_REJECT_DUPLICATES) + validate, and parse + validate + compact
 * re-serialization (json_dumpb); parse alone and parse + dump without validation
 * are printed as baselines, to show what the validator adds. Goal: 2000 inputs parsed, validated and
 * re-serialized in at most 2 ms.
 *
 * Usage: bench_schema [SCHEMA_FILE] (default: the source tree's copy).
 */
#include "jsonschema.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef HG_SRCDIR
#define HG_SRCDIR "."
#endif

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static char *make_body(size_t inputs, size_t *len)
{
    size_t cap = 64 + inputs * 80, n = 0;
    char *buf = hg_xmalloc(cap);
    n += (size_t)snprintf(buf + n, cap - n, "{\"inputs\":[");
    for (size_t i = 0; i != inputs; ++i)
        n += (size_t)snprintf(buf + n, cap - n, "%s{\"from\":{\"id\":\"%zu\"},\"to\":{\"id\":\"%zu\"}}", i ? "," : "",
                              12345678900 + i, 98765432100 + i);
    n += (size_t)snprintf(buf + n, cap - n, "]}");
    *len = n;
    return buf;
}

enum { VALIDATE_QUICK, VALIDATE_REPORT, PARSE_ONLY, PARSE_DUMP, PARSE_VALIDATE, PARSE_VALIDATE_DUMP };

/* microseconds per run of one mode, over at least ~0.3 s, best of 3 rounds */
static double measure(const hg_schema_t *s, const char *body, size_t len, const json_t *parsed, int mode)
{
    char *out = hg_xmalloc(len + 64);
    double best = 1e30;
    for (int round = 0; round != 3; ++round) {
        size_t iterations = 0;
        double start = now_us(), elapsed;
        do {
            for (int k = 0; k != 16; ++k) {
                hg_violations_t v;
                hg_violations_init(&v, 100);
                json_t *doc = (json_t *)parsed;
                if (mode >= PARSE_ONLY) {
                    json_error_t err;
                    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
                    if (doc == NULL)
                        abort();
                }
                if (mode != PARSE_ONLY && mode != PARSE_DUMP && hg_schema_validate(s, doc, mode == VALIDATE_QUICK ? NULL : &v) != 0)
                    abort();
                if ((mode == PARSE_DUMP || mode == PARSE_VALIDATE_DUMP) && json_dumpb(doc, out, len + 64, JSON_COMPACT) != len)
                    abort();
                if (mode >= PARSE_ONLY)
                    json_decref(doc);
                hg_violations_clear(&v);
            }
            iterations += 16;
            elapsed = now_us() - start;
        } while (elapsed < 300000);
        if (elapsed / iterations < best)
            best = elapsed / iterations;
    }
    free(out);
    return best;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : HG_SRCDIR "/schemas/batch-associate-default.request.json";
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_schema_t *s = hg_schema_load(path, &errors);
    if (s == NULL) {
        fprintf(stderr, "bench_schema: %s\n", errors.count ? errors.items[0].message : path);
        return 1;
    }
    static const char *const names[] = {"validate (yes/no)",     "validate (report)", "parse only (baseline)",
                                        "parse+dump (baseline)", "parse+validate",    "parse+validate+dump"};
    printf("%-8s %-9s %-22s %12s %12s\n", "inputs", "bytes", "what", "us/body", "us/KiB");
    static const size_t sizes[] = {1, 100, 2000};
    for (size_t i = 0; i != 3; ++i) {
        size_t len;
        char *body = make_body(sizes[i], &len);
        json_t *parsed = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
        for (int mode = VALIDATE_QUICK; mode <= PARSE_VALIDATE_DUMP; ++mode) {
            double us = measure(s, body, len, parsed, mode);
            printf("%-8zu %-9zu %-22s %12.3f %12.3f\n", sizes[i], len, names[mode], us, us / (len / 1024.0));
        }
        json_decref(parsed);
        free(body);
    }
    hg_schema_free(s);
    return 0;
}
