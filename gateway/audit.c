/*
 * audit.c: the audit trail's configuration, its bounded queue and the one
 * writer thread that empties it into the stores.
 *
 * Submitters (event-loop threads) only append a pointer to a ring under a
 * mutex. The writer takes up to batch_max records at a time, writes them to
 * each store (SQLite in one transaction, JSON Lines in one buffer), and
 * retries the stores that failed without repeating the ones that did not.
 * Between batches it deletes expired records, a few at a time, so retention
 * never holds up the queue for long. Every SQLite call, including the first
 * open, happens on the writer thread. See audit.h for the loss rules.
 */
#include "audit.h"
#include "audit_jsonl.h"
#include "audit_sqlite.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS_PER_DAY (24 * 60 * 60 * 1000LL)
#define IDLE_TICK_MS 100 /* the writer looks at the reopen flag at least this often */

#define SPARE_RECORDS 1024 /* stored records kept for hg_audit_record_take: two full batches */

struct st_hg_audit_t {
    /* configuration, immutable after hg_audit_start */
    char *sqlite_path, *jsonl_path; /* NULL = no such store */
    int retention_days;
    int reject; /* on_failure: reject */
    hg_audit_tuning_t tuning;
    /* the stores: writer thread only */
    hg_audit_sqlite_t *sqlite;
    hg_audit_jsonl_t *jsonl;
    hg_sha256_t *sha256; /* body_sha256 of the records that bring their forwarded body */

    pthread_mutex_t mutex;
    pthread_cond_t wake;     /* to the writer: records, stop, sync */
    pthread_cond_t progress; /* from the writer: a step is done */
    pthread_t thread;
    /* under mutex */
    hg_audit_record_t **ring;
    size_t head, count;
    hg_audit_record_t *spare[SPARE_RECORDS]; /* stored records, not reset yet */
    size_t num_spare;
    int started;    /* the thread exists */
    int open_state; /* 0 opening, 1 open, -1 failed (start's handshake) */
    char open_err[256];
    const char *open_in;
    int stopping;
    int flushing;           /* threads in hg_audit_sync: commit without waiting for the group */
    int64_t stop_deadline;  /* monotonic ms */
    int busy;               /* the writer holds records or is doing retention */
    int retention_more;     /* the last retention step hit its row limit */
    int64_t next_retention; /* tuning clock */
    uint64_t written, dropped, batches, max_batch, batch_hist[HG_AUDIT_BATCH_HIST], expired, store_errors;
    size_t max_count; /* the high-water mark of count */
    char last_error[256];
    /* lock-free readers */
    _Atomic size_t num_spare_hint; /* num_spare, for a look without the mutex */
    _Atomic size_t depth;
    _Atomic int healthy;
    _Atomic int running; /* submissions are taken */
    _Atomic int reopen;  /* set by hg_audit_reopen */
};

void hg_audit_tuning_defaults(hg_audit_tuning_t *t)
{
    *t = (hg_audit_tuning_t){.queue_capacity = 65536,
                             .batch_max = 512,
                             .commit_interval_ms = 20,
                             .busy_timeout_ms = 2000,
                             .retry_ms = 500,
                             .retention_check_ms = 60000,
                             .retention_batch = 1000};
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(const hg_audit_t *a)
{
    return a->tuning.now_ms != NULL ? a->tuning.now_ms(a->tuning.now_ctx) : (int64_t)hg_now_ms();
}

/* waits on cond until the monotonic time `until_ms` at the latest; called with the mutex held */
static void wait_until(pthread_cond_t *cond, pthread_mutex_t *mutex, int64_t until_ms)
{
    struct timespec ts = {.tv_sec = until_ms / 1000, .tv_nsec = (until_ms % 1000) * 1000000};
    pthread_cond_timedwait(cond, mutex, &ts);
}

/* configuration */

static char *path_value(const json_t *v, const char *key, const char *basedir, int *absent, hg_violations_t *errors)
{
    *absent = 0;
    if (json_is_null(v)) {
        *absent = 1;
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        char *in = hg_xasprintf("/audit/%s", key);
        hg_violations_add(errors, in, "type", "must be a file path or null");
        free(in);
        return NULL;
    }
    if (strcmp(key, "jsonl") == 0 && strcmp(json_string_value(v), "-") == 0)
        return hg_xstrdup("-");
    return hg_path_join(basedir, json_string_value(v));
}

hg_audit_t *hg_audit_new(const json_t *audit, const char *basedir, hg_violations_t *errors)
{
    size_t before = hg_violations_total(errors);
    hg_audit_t *a = hg_xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->mutex, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&a->wake, &attr);
    pthread_cond_init(&a->progress, &attr);
    pthread_condattr_destroy(&attr);
    atomic_store(&a->healthy, 1);
    a->sqlite_path = hg_path_join(basedir, "audit.db");
    a->retention_days = 30;
    a->reject = 1;
    hg_audit_tuning_defaults(&a->tuning);
    if (audit != NULL && !json_is_object(audit)) {
        hg_violations_add(errors, "/audit", "type", "must be an object");
    } else if (audit != NULL) {
        const char *key;
        json_t *v;
        int absent;
        json_object_foreach((json_t *)audit, key, v)
        {
            if (strcmp(key, "sqlite") == 0) {
                char *p = path_value(v, key, basedir, &absent, errors);
                if (p != NULL || absent) {
                    free(a->sqlite_path);
                    a->sqlite_path = p;
                }
            } else if (strcmp(key, "jsonl") == 0) {
                a->jsonl_path = path_value(v, key, basedir, &absent, errors);
            } else if (strcmp(key, "retention_days") == 0) {
                if (!json_is_integer(v))
                    hg_violations_add(errors, "/audit/retention_days", "type", "must be an integer");
                else if (json_integer_value(v) < 1 || json_integer_value(v) > 36500)
                    hg_violations_add(errors, "/audit/retention_days", "minimum", "must be from 1 to 36500");
                else
                    a->retention_days = (int)json_integer_value(v);
            } else if (strcmp(key, "on_failure") == 0) {
                const char *s = json_string_value(v);
                if (s != NULL && strcmp(s, "reject") == 0)
                    a->reject = 1;
                else if (s != NULL && strcmp(s, "continue") == 0)
                    a->reject = 0;
                else
                    hg_violations_add(errors, "/audit/on_failure", "enum", "must be \"reject\" or \"continue\"");
            } else {
                hg_jptr_t p;
                hg_jptr_init(&p);
                hg_jptr_push_key(&p, "audit");
                hg_jptr_push_key(&p, key);
                hg_violations_add(errors, p.buf, "additionalProperties", "unknown key \"%s\"", key);
                hg_jptr_dispose(&p);
            }
        }
    }
    if (hg_violations_total(errors) != before) {
        hg_audit_free(a);
        return NULL;
    }
    return a;
}

void hg_audit_set_tuning(hg_audit_t *a, const hg_audit_tuning_t *t)
{
    a->tuning = *t;
}

const char *hg_audit_sqlite_path(const hg_audit_t *a)
{
    return a->sqlite_path;
}

int hg_audit_rejects_on_failure(const hg_audit_t *a)
{
    return a->reject;
}

/* the writer */

static size_t take(hg_audit_t *a, hg_audit_record_t **batch)
{
    size_t cap = a->tuning.queue_capacity, n = 0;
    while (n < a->tuning.batch_max && a->count != 0) {
        batch[n++] = a->ring[a->head];
        a->head = (a->head + 1) % cap;
        --a->count;
    }
    atomic_store(&a->depth, a->count);
    return n;
}

static void free_records(hg_audit_record_t **recs, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        hg_audit_record_free(recs[i]);
}

/*
 * Stored records go back to the producers. Called without the mutex: the records that will not fit (by
 * the unlocked count) are freed first, outside it; the rest are handed over under it (and the few that
 * find the room taken meanwhile are freed there). Returns with the mutex held, as the writer loop wants.
 */
static void recycle_records(hg_audit_t *a, hg_audit_record_t **recs, size_t n)
{
    size_t room = SPARE_RECORDS - atomic_load(&a->num_spare_hint), keep = n < room ? n : room;
    free_records(recs + keep, n - keep);
    pthread_mutex_lock(&a->mutex);
    size_t fits = SPARE_RECORDS - a->num_spare < keep ? SPARE_RECORDS - a->num_spare : keep;
    memcpy(a->spare + a->num_spare, recs, fits * sizeof(*recs));
    a->num_spare += fits;
    atomic_store(&a->num_spare_hint, a->num_spare);
    free_records(recs + fits, keep - fits);
}

hg_audit_record_t *hg_audit_record_take(hg_audit_t *a)
{
    hg_audit_record_t *r = NULL;
    if (atomic_load(&a->num_spare_hint) != 0) {
        pthread_mutex_lock(&a->mutex);
        if (a->num_spare != 0)
            r = a->spare[--a->num_spare];
        atomic_store(&a->num_spare_hint, a->num_spare);
        pthread_mutex_unlock(&a->mutex);
    }
    if (r == NULL)
        return hg_audit_record_new();
    hg_audit_record_reset(r);
    return r;
}

/* drops the writer's batch and, when `all`, everything queued (mutex held; the records are freed) */
static void drop(hg_audit_t *a, hg_audit_record_t **batch, size_t *n, int all)
{
    a->dropped += *n;
    free_records(batch, *n);
    *n = 0;
    if (a->jsonl != NULL)
        hg_audit_jsonl_discard(a->jsonl);
    while (all && a->count != 0) {
        size_t k = take(a, batch);
        a->dropped += k;
        free_records(batch, k);
    }
}

static void note_error(hg_audit_t *a, const char *err)
{
    ++a->store_errors;
    snprintf(a->last_error, sizeof(a->last_error), "%s", err);
}

static int retention_due(hg_audit_t *a)
{
    return a->sqlite != NULL && !a->stopping && (a->retention_more || wall_ms(a) >= a->next_retention);
}

/* one retention step; mutex held on entry and exit, released while SQLite works */
static void retention_step(hg_audit_t *a)
{
    char err[256];
    a->busy = 1;
    pthread_mutex_unlock(&a->mutex);
    int64_t now = wall_ms(a);
    int64_t n =
        hg_audit_sqlite_expire(a->sqlite, now - a->retention_days * MS_PER_DAY, a->tuning.retention_batch, err, sizeof(err));
    pthread_mutex_lock(&a->mutex);
    a->busy = 0;
    if (n < 0)
        note_error(a, err);
    else
        a->expired += (uint64_t)n;
    a->retention_more = n > 0 && (size_t)n == a->tuning.retention_batch;
    if (!a->retention_more)
        a->next_retention = now + a->tuning.retention_check_ms;
}

/* writes the batch to the stores not yet done; mutex not held. Returns 0 or -1 with err. */
static int write_batch(hg_audit_t *a, hg_audit_record_t **batch, size_t n, int *sqlite_done, int *jsonl_done, char *err,
                       size_t errlen)
{
    int ok = 1;
    if (atomic_exchange(&a->reopen, 0) && a->jsonl != NULL && !*jsonl_done && hg_audit_jsonl_open(a->jsonl, err, errlen) != 0)
        ok = 0;
    if (!*sqlite_done) {
        if (hg_audit_sqlite_write(a->sqlite, batch, n, err, errlen) == 0)
            *sqlite_done = 1;
        else
            ok = 0;
    }
    if (!*jsonl_done) {
        if (hg_audit_jsonl_write(a->jsonl, batch, n, err, errlen) == 0)
            *jsonl_done = 1;
        else
            ok = 0;
    }
    return ok ? 0 : -1;
}

static void count_batch(hg_audit_t *a, size_t n)
{
    a->written += n;
    ++a->batches;
    if (n > a->max_batch)
        a->max_batch = n;
    size_t bucket = 0;
    while (bucket + 1 < HG_AUDIT_BATCH_HIST && ((size_t)2 << bucket) <= n)
        ++bucket;
    ++a->batch_hist[bucket];
}

static int open_stores(hg_audit_t *a)
{
    char err[256];
    if (a->sqlite != NULL && hg_audit_sqlite_ensure_open(a->sqlite, err, sizeof(err)) != 0) {
        a->open_in = "/audit/sqlite";
    } else if (a->jsonl != NULL && hg_audit_jsonl_open(a->jsonl, err, sizeof(err)) != 0) {
        a->open_in = "/audit/jsonl";
    } else {
        return 0;
    }
    snprintf(a->open_err, sizeof(a->open_err), "%s", err);
    return -1;
}

/* closes the stores on the writer thread (no SQLite call elsewhere, not even the last one); mutex held */
static void close_stores(hg_audit_t *a)
{
    hg_audit_sqlite_t *sqlite = a->sqlite;
    hg_audit_jsonl_t *jsonl = a->jsonl;
    a->sqlite = NULL;
    a->jsonl = NULL;
    pthread_mutex_unlock(&a->mutex);
    hg_audit_sqlite_free(sqlite);
    hg_audit_jsonl_free(jsonl);
    pthread_mutex_lock(&a->mutex);
}

static void *writer_main(void *arg)
{
    hg_audit_t *a = arg;
    int opened = open_stores(a) == 0;
    pthread_mutex_lock(&a->mutex);
    if (!opened)
        close_stores(a);
    a->open_state = opened ? 1 : -1;
    a->next_retention = wall_ms(a);
    pthread_cond_broadcast(&a->progress);
    if (!opened) {
        pthread_mutex_unlock(&a->mutex);
        return NULL;
    }
    hg_audit_record_t **batch = hg_xmalloc(a->tuning.batch_max * sizeof(*batch));
    size_t n = 0;
    int sqlite_done = 1, jsonl_done = 1, wrote_since_retention = 1;
    int64_t retry_at = 0, next_commit = 0;
    char err[256];
    for (;;) {
        /* group commit: each commit writes the touched pages of eight b-trees and a new object index segment
           (bench_audit, 100 pairs: 226 us of writer CPU per record one at a time, 80 in groups of 20), so while
           less than a batch waits, commits are at least commit_interval_ms apart */
        if (n == 0 && a->count != 0 && a->count < a->tuning.batch_max && !a->stopping && a->flushing == 0 &&
            mono_ms() < next_commit) {
            wait_until(&a->wake, &a->mutex, next_commit);
            continue;
        }
        if (n == 0 && (n = take(a, batch)) != 0) {
            sqlite_done = a->sqlite == NULL;
            jsonl_done = a->jsonl == NULL;
        }
        a->busy = n != 0;
        if (atomic_load(&a->healthy) && retention_due(a) && (n == 0 || wrote_since_retention)) {
            retention_step(a);
            wrote_since_retention = 0;
            pthread_cond_broadcast(&a->progress);
            continue;
        }
        if (n == 0) {
            if (a->stopping)
                break;
            if (atomic_load(&a->reopen) && a->jsonl != NULL) {
                a->busy = 1;
                pthread_mutex_unlock(&a->mutex);
                int failed = atomic_exchange(&a->reopen, 0) && hg_audit_jsonl_open(a->jsonl, err, sizeof(err)) != 0;
                pthread_mutex_lock(&a->mutex);
                a->busy = 0;
                if (failed)
                    note_error(a, err); /* the next batch's write retries the open */
                continue;
            }
            pthread_cond_broadcast(&a->progress);
            wait_until(&a->wake, &a->mutex, mono_ms() + IDLE_TICK_MS);
            continue;
        }
        int64_t now = mono_ms();
        if (!atomic_load(&a->healthy) && now < retry_at) {
            if (!a->reject) {
                drop(a, batch, &n, 0); /* continue: what cannot be stored is counted, not kept */
                pthread_cond_broadcast(&a->progress);
            } else if (a->stopping && now >= a->stop_deadline) {
                drop(a, batch, &n, 1);
                pthread_cond_broadcast(&a->progress);
            } else {
                wait_until(&a->wake, &a->mutex, a->stopping && a->stop_deadline < retry_at ? a->stop_deadline : retry_at);
            }
            continue;
        }
        pthread_mutex_unlock(&a->mutex);
        for (size_t i = 0; i != n; ++i)
            hg_audit_record_finish(batch[i], a->sha256);
        int rc = write_batch(a, batch, n, &sqlite_done, &jsonl_done, err, sizeof(err));
        if (rc == 0)
            recycle_records(a, batch, n); /* takes the mutex */
        else
            pthread_mutex_lock(&a->mutex);
        if (rc == 0) {
            count_batch(a, n);
            n = 0;
            next_commit = mono_ms() + a->tuning.commit_interval_ms;
            wrote_since_retention = 1;
            atomic_store(&a->healthy, 1);
        } else {
            note_error(a, err);
            atomic_store(&a->healthy, 0);
            retry_at = mono_ms() + a->tuning.retry_ms;
            if (!a->reject || (a->stopping && retry_at > a->stop_deadline))
                drop(a, batch, &n, a->reject);
        }
        pthread_cond_broadcast(&a->progress);
    }
    close_stores(a);
    a->busy = 0;
    pthread_cond_broadcast(&a->progress);
    pthread_mutex_unlock(&a->mutex);
    free(batch);
    return NULL;
}

int hg_audit_start(hg_audit_t *a, hg_violations_t *errors)
{
    if (a->started)
        return 0;
    if (a->tuning.queue_capacity == 0)
        a->tuning.queue_capacity = 1;
    if (a->tuning.batch_max == 0)
        a->tuning.batch_max = 1;
    if (a->tuning.retention_batch == 0)
        a->tuning.retention_batch = 1;
    a->ring = hg_xcalloc(a->tuning.queue_capacity, sizeof(*a->ring));
    if (a->sha256 == NULL)
        a->sha256 = hg_sha256_new();
    if (a->sqlite_path != NULL)
        a->sqlite = hg_audit_sqlite_new(a->sqlite_path, a->tuning.busy_timeout_ms);
    if (a->jsonl_path != NULL)
        a->jsonl = hg_audit_jsonl_new(a->jsonl_path);
    pthread_mutex_lock(&a->mutex);
    a->open_state = 0;
    /* the writer takes no signals: SIGTERM and friends go to the server's threads, and a closed stdout
       gives the JSON Lines store EPIPE instead of killing the process with SIGPIPE */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&a->thread, NULL, writer_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_unlock(&a->mutex);
        hg_violations_add(errors, "/audit", "store_open", "cannot start the audit writer: %s", strerror(rc));
        hg_audit_sqlite_free(a->sqlite);
        hg_audit_jsonl_free(a->jsonl);
        a->sqlite = NULL;
        a->jsonl = NULL;
        free(a->ring);
        a->ring = NULL;
        return -1;
    }
    while (a->open_state == 0)
        pthread_cond_wait(&a->progress, &a->mutex);
    int opened = a->open_state == 1;
    a->started = opened;
    pthread_mutex_unlock(&a->mutex);
    if (!opened) {
        pthread_join(a->thread, NULL);
        hg_violations_add(errors, a->open_in, "store_open", "%s", a->open_err);
        free(a->ring);
        a->ring = NULL;
        return -1;
    }
    atomic_store(&a->running, 1);
    return 0;
}

int hg_audit_accepting(hg_audit_t *a)
{
    if (!atomic_load(&a->running))
        return 0;
    if (!a->reject)
        return 1;
    size_t cap = a->tuning.queue_capacity;
    return atomic_load(&a->healthy) && atomic_load(&a->depth) < cap - cap / 8;
}

int hg_audit_submit(hg_audit_t *a, hg_audit_record_t *r)
{
    pthread_mutex_lock(&a->mutex);
    if (!atomic_load(&a->running) || a->count == a->tuning.queue_capacity) {
        ++a->dropped;
        pthread_mutex_unlock(&a->mutex);
        hg_audit_record_free(r);
        return -1;
    }
    a->ring[(a->head + a->count) % a->tuning.queue_capacity] = r;
    atomic_store(&a->depth, ++a->count);
    if (a->count > a->max_count)
        a->max_count = a->count;
    if (a->count == 1 || a->count == a->tuning.batch_max) /* work, or a full batch that ends the group commit's wait */
        pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->mutex);
    return 0;
}

void hg_audit_reopen(hg_audit_t *a)
{
    atomic_store(&a->reopen, 1);
}

int hg_audit_sync(hg_audit_t *a, int64_t timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    int rc = 0;
    pthread_mutex_lock(&a->mutex);
    ++a->flushing;
    while (a->started && (a->count != 0 || a->busy || retention_due(a) || (atomic_load(&a->reopen) && a->jsonl != NULL))) {
        if (mono_ms() >= deadline) {
            rc = -1;
            break;
        }
        pthread_cond_signal(&a->wake);
        wait_until(&a->progress, &a->mutex, deadline);
    }
    --a->flushing;
    pthread_mutex_unlock(&a->mutex);
    return rc;
}

void hg_audit_stop(hg_audit_t *a, int64_t timeout_ms)
{
    pthread_mutex_lock(&a->mutex);
    if (!a->started) {
        pthread_mutex_unlock(&a->mutex);
        return;
    }
    atomic_store(&a->running, 0);
    a->stopping = 1;
    a->stop_deadline = mono_ms() + timeout_ms;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->mutex);
    pthread_join(a->thread, NULL);
    pthread_mutex_lock(&a->mutex);
    a->started = 0;
    pthread_mutex_unlock(&a->mutex);
}

void hg_audit_free(hg_audit_t *a)
{
    if (a == NULL)
        return;
    hg_audit_stop(a, 0);
    free_records(a->spare, a->num_spare);
    hg_sha256_free(a->sha256);
    pthread_mutex_destroy(&a->mutex);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->progress);
    free(a->ring);
    free(a->sqlite_path);
    free(a->jsonl_path);
    free(a);
}

void hg_audit_stats(hg_audit_t *a, hg_audit_stats_t *out)
{
    pthread_mutex_lock(&a->mutex);
    *out = (hg_audit_stats_t){.written = a->written,
                              .dropped = a->dropped,
                              .batches = a->batches,
                              .max_batch = a->max_batch,
                              .expired = a->expired,
                              .store_errors = a->store_errors,
                              .queue_depth = a->count,
                              .max_queue_depth = a->max_count,
                              .healthy = atomic_load(&a->healthy)};
    memcpy(out->batch_hist, a->batch_hist, sizeof(out->batch_hist));
    memcpy(out->last_error, a->last_error, sizeof(out->last_error));
    pthread_mutex_unlock(&a->mutex);
}
