/*
 * bench_audit.c: how many audit records per second the writer thread stores,
 * and in which batch sizes, for each store kind.
 *
 *   bench_audit [RECORDS [PAIRS [THREADS [sqlite|jsonl|both [BATCH_MAX [RATE]]]]]]   (200000 10 4 sqlite 512 0)
 *
 * THREADS producers submit RECORDS records with PAIRS forwarded pairs each,
 * as the event loops would, as fast as they can or RATE records/s in all (a
 * server under steady load: small batches, where a commit's cost counts); like the server they hold back while
 * hg_audit_accepting() is 0 (a 503 there) instead of losing records. Prints the
 * producer-side submit rate, the writer's throughput up to the last commit in
 * records/s and inputs (pairs)/s, the writer's CPU time per record (the
 * process's CPU time minus the producers': on a busy box wall-clock rates
 * swing, CPU per record does not), and the batch statistics. Runs in a
 * temporary directory it removes.
 */
#include "audit.h"
#include "util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    hg_audit_t *a;
    long records, pairs, first;
    double interval_s; /* between two submissions of this producer; 0 = none */
    long held_back;
    double cpu_s; /* the producer thread's CPU time */
} producer_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *produce(void *arg)
{
    producer_t *p = arg;
    char from[32], to[32];
    double start = now_s();
    for (long i = 0; i != p->records; ++i) {
        if (p->interval_s > 0) {
            double at = start + i * p->interval_s, wait = at - now_s();
            if (wait > 0) {
                struct timespec ts = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (time_t)wait) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
        hg_audit_record_t *r = hg_audit_record_new();
        r->request_id = hg_audit_record_printf(r, "bench-%ld", p->first + i);
        r->route = hg_audit_record_strdup(r, "create-default-associations");
        r->method = hg_audit_record_strdup(r, "POST");
        r->path = hg_audit_record_strdup(r, "/crm/v4/associations/contacts/companies/batch/associate/default");
        r->decision = HG_AUDIT_FORWARDED;
        r->status = 200;
        r->upstream_status = 200;
        r->issuer = hg_audit_record_strdup(r, "https://idp.example.internal");
        r->subject = hg_audit_record_printf(r, "user-%ld", i % 100);
        r->client = hg_audit_record_strdup(r, "svc-a");
        r->scope_used = hg_audit_record_strdup(r, "crm.objects.contacts.write");
        r->from_object_type = hg_audit_record_strdup(r, "contacts");
        r->to_object_type = hg_audit_record_strdup(r, "companies");
        r->inputs_received = r->inputs_forwarded = p->pairs;
        r->duplicates = r->coerced = r->dropped_fields = r->num_errors = 0;
        r->hubspot_status = hg_audit_record_strdup(r, "COMPLETE");
        r->duration_ms = 12.5;
        r->upstream_ms = 11.25;
        r->body_sha256 = hg_audit_record_strdup(r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        r->client_addr = hg_audit_record_strdup(r, "10.0.0.1");
        r->user_agent = hg_audit_record_strdup(r, "hubspot-api-client/13.5.0");
        for (long k = 0; k != p->pairs; ++k) {
            snprintf(from, sizeof(from), "%ld", 100000000 + (p->first + i) * 7 + k);
            snprintf(to, sizeof(to), "%ld", 900000000 + k);
            hg_audit_record_add_pair(r, from, to);
        }
        while (!hg_audit_accepting(p->a)) {
            ++p->held_back;
            sched_yield();
        }
        if (hg_audit_submit(p->a, r) != 0)
            fprintf(stderr, "dropped a record\n");
    }
    p->cpu_s = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    return NULL;
}

int main(int argc, char **argv)
{
    long records = argc > 1 ? atol(argv[1]) : 200000, pairs = argc > 2 ? atol(argv[2]) : 10;
    long threads = argc > 3 ? atol(argv[3]) : 4;
    const char *kind = argc > 4 ? argv[4] : "sqlite";
    long batch_max = argc > 5 ? atol(argv[5]) : 0;
    double rate = argc > 6 ? atof(argv[6]) : 0;
    char dir[] = "/tmp/hg-bench-audit-XXXXXX";
    if (mkdtemp(dir) == NULL || threads < 1 || threads > 64) {
        perror("bench_audit");
        return 1;
    }
    json_t *conf = json_pack("{s:s?, s:s?}", "sqlite", strcmp(kind, "jsonl") != 0 ? "audit.db" : NULL, "jsonl",
                             strcmp(kind, "sqlite") != 0 ? "audit.jsonl" : NULL);
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_audit_t *a = hg_audit_new(conf, dir, &errors);
    if (a != NULL && batch_max > 0) {
        hg_audit_tuning_t tuning;
        hg_audit_tuning_defaults(&tuning);
        tuning.batch_max = (size_t)batch_max;
        hg_audit_set_tuning(a, &tuning);
    }
    if (a == NULL || hg_audit_start(a, &errors) != 0) {
        fprintf(stderr, "bench_audit: %s\n", errors.count != 0 ? errors.items[0].message : "?");
        return 1;
    }
    producer_t prod[64];
    pthread_t tids[64];
    double t0 = now_s();
    for (long t = 0; t != threads; ++t) {
        prod[t] = (producer_t){.a = a,
                               .records = records / threads,
                               .pairs = pairs,
                               .first = t * (records / threads),
                               .interval_s = rate > 0 ? threads / rate : 0};
        pthread_create(&tids[t], NULL, produce, &prod[t]);
    }
    long held_back = 0;
    double producers_cpu = 0;
    for (long t = 0; t != threads; ++t) {
        pthread_join(tids[t], NULL);
        held_back += prod[t].held_back;
        producers_cpu += prod[t].cpu_s;
    }
    double t_submitted = now_s();
    hg_audit_sync(a, 600000);
    double t_done = now_s(), writer_cpu = cpu_s(CLOCK_PROCESS_CPUTIME_ID) - producers_cpu;
    hg_audit_stats_t s;
    hg_audit_stats(a, &s);
    printf("store=%s records=%llu pairs=%ld threads=%ld rate=%s\n", kind, (unsigned long long)s.written, pairs, threads,
           rate > 0 ? argv[6] : "max");
    printf("submitted in %.3f s (%.0f records/s, producers held back %ld times)\n", t_submitted - t0,
           s.written / (t_submitted - t0), held_back);
    printf("written in %.3f s: %.0f records/s, %.0f inputs/s\n", t_done - t0, s.written / (t_done - t0),
           s.written * (double)pairs / (t_done - t0));
    printf("writer CPU %.3f s: %.1f us/record, %.0f records/CPU-s, %.0f inputs/CPU-s\n", writer_cpu, writer_cpu * 1e6 / s.written,
           s.written / writer_cpu, s.written * (double)pairs / writer_cpu);
    printf("dropped=%llu batches=%llu avg_batch=%.1f max_batch=%llu\nbatch sizes:", (unsigned long long)s.dropped,
           (unsigned long long)s.batches, s.batches != 0 ? (double)s.written / s.batches : 0.0, (unsigned long long)s.max_batch);
    for (int i = 0; i != HG_AUDIT_BATCH_HIST; ++i)
        printf(" %s%d:%llu", i + 1 == HG_AUDIT_BATCH_HIST ? ">=" : "", 1 << i, (unsigned long long)s.batch_hist[i]);
    printf("\n");
    double t_stop = now_s();
    hg_audit_free(a);
    printf("stop took %.3f s\n", now_s() - t_stop);
    json_decref(conf);
    char *cmd = hg_xasprintf("du -sh %s; rm -rf %s", dir, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_audit: cleanup failed\n");
    free(cmd);
    return 0;
}
