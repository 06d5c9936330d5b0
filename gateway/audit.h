/*
 * audit.h: the audit trail: one record per request, a bounded queue, and the
 * one writer thread that stores records in SQLite and/or as JSON lines.
 *
 * Contract section 7. The server layer fills a hg_audit_record_t for every
 * request (refused ones included) and hands it over with hg_audit_submit, which
 * never blocks on I/O: it appends a pointer to a bounded queue. One writer
 * thread takes up to batch_max records at a time and writes them to every store
 * in one transaction, at most one commit per commit_interval_ms unless a full
 * batch waits (group commit), so a hard kill loses only what was queued or in
 * flight (well under 100 ms at any sane load). No SQLite call runs on any other
 * thread.
 *
 * Loss rules: a full queue makes submit fail (the record is counted as
 * dropped); a failing store (disk full, database locked beyond busy_timeout,
 * file deleted or replaced, I/O error) marks the trail unhealthy. With
 * on_failure "reject" the writer keeps the failed batch and retries it every
 * retry_ms, and hg_audit_accepting() turns false so the server answers 503;
 * with "continue" the records that cannot be stored are dropped and counted.
 * hg_audit_stop writes everything queued before it returns.
 *
 * The record has no field for tokens, Authorization headers or secrets: what
 * cannot be put in cannot leak out.
 *
 * Lifetimes: a hg_audit_record_t is per request, owned by whoever holds it
 * until hg_audit_submit steals it. The hg_audit_t lives for the whole process
 * (it survives configuration reloads: SIGHUP does not reopen the stores).
 */
#ifndef HUBGATE_AUDIT_H
#define HUBGATE_AUDIT_H

#include "util.h"
#include "violation.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* the values of `decision` (static strings: compare with strcmp, store the pointer) */
#define HG_AUDIT_FORWARDED "forwarded"
#define HG_AUDIT_REJECTED_AUTH "rejected_auth"
#define HG_AUDIT_REJECTED_SCOPE "rejected_scope"
#define HG_AUDIT_REJECTED_VALIDATION "rejected_validation"
#define HG_AUDIT_REJECTED_ROUTE "rejected_route"
#define HG_AUDIT_UPSTREAM_ERROR "upstream_error"
#define HG_AUDIT_REJECTED_OTHER "rejected_other"
/* returns the static string equal to `s`, or NULL when `s` is not a decision */
const char *hg_audit_decision_find(const char *s);

/*
 * One request. Every string lives in the record's own blocks: set fields with
 * hg_audit_record_strdup, _strndup or _printf, never with malloc'd strings
 * (hg_audit_record_free and _reset release the blocks, not single strings);
 * NULL means absent (SQL NULL, JSON null). hg_audit_record_new sets every
 * number to "absent" and ts_ms to now.
 */
typedef struct st_hg_audit_record_t {
    int64_t ts_ms; /* when the request arrived, ms since the Unix epoch (JSON: RFC 3339 UTC with ms) */
    char *request_id, *route, *method, *path;
    const char *decision; /* one of HG_AUDIT_* (static), or NULL */
    int status;           /* sent to the client; 0 = absent */
    int upstream_status;  /* 0 = none */
    char *issuer, *subject, *client, *scope_used, *from_object_type, *to_object_type;
    int64_t inputs_received, inputs_forwarded, duplicates, coerced, dropped_fields; /* -1 = absent */
    char *hubspot_status;
    int64_t num_errors; /* -1 = absent */
    char *hubspot_correlation_id;
    double duration_ms, upstream_ms; /* < 0 = absent */
    char *body_sha256, *client_addr, *user_agent, *error;
    /* the forwarded bytes, in the record's blocks, when body_sha256 is still to be taken from them (by the
       writer thread: hashing is not an event loop's job); NULL otherwise. Never stored or printed. */
    const char *forwarded;
    size_t forwarded_len;
    char **pairs;     /* 2 * num_pairs ids: from0, to0, from1, to1, ... (the forwarded inputs) */
    size_t num_pairs; /* pairs held */
    size_t pairs_cap; /* pairs allocated (hg_audit_record_add_pair grows it) */
    /* where the strings live: a few blocks instead of one allocation per string (a 100-input request would
       otherwise cost 200 mallocs on its event loop); owned by the record */
    struct st_hg_audit_idblock_t *id_blocks;
} hg_audit_record_t;

hg_audit_record_t *hg_audit_record_new(void);
void hg_audit_record_free(hg_audit_record_t *r);
/* frees r's strings and makes it what hg_audit_record_new makes, keeping the memory that holds pairs */
void hg_audit_record_reset(hg_audit_record_t *r);
/* a copy of s (NULL for NULL) or of s[0..len) in r's blocks, for r's fields; lives as long as r (or its next reset) */
char *hg_audit_record_strdup(hg_audit_record_t *r, const char *s);
char *hg_audit_record_strndup(hg_audit_record_t *r, const char *s, size_t len);
char *hg_audit_record_printf(hg_audit_record_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* keeps a copy of the forwarded body for hg_audit_record_finish, which sets body_sha256 from it */
void hg_audit_record_set_forwarded(hg_audit_record_t *r, const char *body, size_t len);
/* sets body_sha256 from the forwarded copy, if any, with the caller's hasher, and drops the copy */
void hg_audit_record_finish(hg_audit_record_t *r, hg_sha256_t *sha256);
/* appends one forwarded (from, to) pair; both ids are copied */
void hg_audit_record_add_pair(hg_audit_record_t *r, const char *from, const char *to);
/*
 * The JSON Lines and API shape: every field of contract section 7 in that
 * order, null when absent, then "pairs": [{"from": ..., "to": ...}, ...].
 * Strings that are not valid UTF-8 get '?' for each bad byte. Durations are
 * rounded to microseconds: dump with HG_AUDIT_JSON_FLAGS so that they print as
 * 12.345, not 12.345000000000001. Returns a new reference.
 */
json_t *hg_audit_record_to_json(const hg_audit_record_t *r);
#define HG_AUDIT_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))
/*
 * Appends to *buf exactly the bytes of json_dumps(hg_audit_record_to_json(r), HG_AUDIT_JSON_FLAGS), without
 * jansson (audit_json.c; a few microseconds instead of ~145 for 100 pairs): no newline, no NUL. *buf is a heap
 * buffer owned by the caller (NULL with *len = *cap = 0 to start), *len bytes used of *cap; grown with
 * hg_xrealloc, so *buf may move. Any thread; `r` is only read.
 */
void hg_audit_record_append_json(const hg_audit_record_t *r, char **buf, size_t *len, size_t *cap);
/* a JSON string for s (JSON null when s is NULL) with each byte that is not UTF-8 replaced by '?'; new reference */
json_t *hg_audit_json_string(const char *s);
/* formats ts_ms as "2024-05-01T12:00:00.123Z" into buf (at least 32 bytes); returns buf */
char *hg_audit_format_ts(int64_t ts_ms, char *buf, size_t size);

/* Knobs that tests and benchmarks turn; hg_audit_tuning_defaults gives the production values. */
typedef struct st_hg_audit_tuning_t {
    size_t queue_capacity;      /* records waiting for the writer (65536) */
    size_t batch_max;           /* records per transaction (512) */
    int commit_interval_ms;     /* least time between two commits while fewer than batch_max records wait (20) */
    int busy_timeout_ms;        /* SQLite busy_timeout before the store counts as failed (2000) */
    int retry_ms;               /* pause between attempts on a failed store (500) */
    int64_t retention_check_ms; /* how often old records are looked for (60000) */
    size_t retention_batch;     /* rows deleted per statement batch (1000) */
    /* wall clock for retention, in ms since the epoch; NULL = hg_now_ms. Called on the writer thread and
       in hg_audit_sync, so it must be thread-safe. */
    int64_t (*now_ms)(void *ctx);
    void *now_ctx;
} hg_audit_tuning_t;
void hg_audit_tuning_defaults(hg_audit_tuning_t *t);

typedef struct st_hg_audit_t hg_audit_t;

/*
 * Reads the configuration's /audit object (NULL = every default):
 * sqlite (path or null, default "audit.db"), jsonl ("-" = stdout, a path, or
 * null, default null), retention_days (integer >= 1, default 30), on_failure
 * ("reject" | "continue", default "reject"). Relative paths are taken relative
 * to basedir. Problems go to `errors` with in = "/audit/KEY"; returns NULL then.
 * Opens nothing: hg_audit_start does.
 */
hg_audit_t *hg_audit_new(const json_t *audit, const char *basedir, hg_violations_t *errors);
/* replaces the tuning (before hg_audit_start only); `t` is copied */
void hg_audit_set_tuning(hg_audit_t *a, const hg_audit_tuning_t *t);
/*
 * Opens the stores (creating the SQLite schema when needed) and starts the
 * writer thread. Returns -1 with a problem in `errors` (in = "/audit/sqlite"
 * or "/audit/jsonl", code "store_open") when a store cannot be opened.
 */
int hg_audit_start(hg_audit_t *a, hg_violations_t *errors);
/*
 * 0 when a request should be refused with 503: on_failure is "reject" and the
 * store is unhealthy or the queue is nearly full (the last eighth of the queue
 * is kept for the records of requests already in flight and of the 503s
 * themselves), or the trail is stopped. Lock-free; any thread.
 */
int hg_audit_accepting(hg_audit_t *a);
/*
 * A record to fill and submit: one the writer has stored, reset on the
 * caller's thread, when there is one; else a new one. Records go round
 * instead of being freed by the writer: a free on the writer's thread of
 * memory an event loop allocated takes that thread's malloc arena lock, and
 * at thousands of records a second the two threads queued on it (measured:
 * about a thousand futex waits a second each). A recycled record also keeps
 * its pair storage, so a busy event loop stops allocating it. Thread-safe.
 */
hg_audit_record_t *hg_audit_record_take(hg_audit_t *a);
/*
 * Queues `r` for the writer and steals it, also on failure. Returns -1 (and
 * counts a drop) when the queue is full or the trail is not running. Thread-safe,
 * never blocks on I/O (only on the queue's mutex, held for a pointer copy).
 */
int hg_audit_submit(hg_audit_t *a, hg_audit_record_t *r);
/*
 * Asks the writer to reopen the JSON Lines file (log rotation). Only sets a
 * flag, so it is async-signal-safe; the reopen happens before the next batch is
 * written and at the latest within 100 ms.
 */
void hg_audit_reopen(hg_audit_t *a);
/*
 * Waits until every record submitted before the call is stored or dropped and
 * retention work that is due is done (the writer commits at once, without
 * waiting for commit_interval_ms). Returns 0, or -1 when timeout_ms passed
 * first (for example while a store is failing).
 */
int hg_audit_sync(hg_audit_t *a, int64_t timeout_ms);
/*
 * Stops taking records, writes everything queued, joins the writer and closes
 * the stores. A healthy store is always drained completely; timeout_ms bounds
 * only the wait for a failing store, after which the records still waiting are
 * dropped and counted. Safe to call when not started, and more than once.
 */
void hg_audit_stop(hg_audit_t *a, int64_t timeout_ms);
/* stops (with a zero timeout) if still running, and frees everything */
void hg_audit_free(hg_audit_t *a);

#define HG_AUDIT_BATCH_HIST 10 /* batch sizes: 1, 2-3, 4-7, ..., 256-511, >= 512 */
typedef struct st_hg_audit_stats_t {
    uint64_t written;                         /* records stored in every configured store */
    uint64_t dropped;                         /* records lost: queue full, store failed with continue, stop timeout */
    uint64_t batches;                         /* transactions committed (written / batches = average batch size) */
    uint64_t max_batch;                       /* largest batch written */
    uint64_t batch_hist[HG_AUDIT_BATCH_HIST]; /* batches by size, powers of two */
    uint64_t expired;                         /* records deleted by retention */
    uint64_t store_errors;                    /* failed write or open attempts */
    size_t queue_depth;                       /* records waiting now */
    size_t max_queue_depth;                   /* the most records that waited at once since the start */
    int healthy;                              /* 1 while every store works */
    char last_error[256];                     /* the latest store error, "" when none */
} hg_audit_stats_t;
void hg_audit_stats(hg_audit_t *a, hg_audit_stats_t *out);
/* the resolved SQLite path, or NULL when there is no SQLite store; lives as long as `a` */
const char *hg_audit_sqlite_path(const hg_audit_t *a);
/* 1 when on_failure is "reject" */
int hg_audit_rejects_on_failure(const hg_audit_t *a);

#endif
