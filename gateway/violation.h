/*
 * violation.h: a bounded list of problems, each tied to a place.
 *
 * The one error currency of hubgate's core. The JSON Schema validator, the
 * strict JSON reader, the normalizer and the configuration loader all report
 * into a hg_violations_t; the HTTP layer turns the list into HubSpot's error
 * body (errors[].in/code/message), `hubgate -t` into `FILE:LINE: /ptr: msg`.
 * The first `limit` problems are kept, later ones only counted, so a hostile
 * body cannot make the gateway build a huge answer.
 *
 * Lifetime: owned by the caller (usually on the stack); hg_violations_clear
 * frees what it holds. hg_jptr_t builds JSON pointers while a tree is walked.
 */
#ifndef HUBGATE_VIOLATION_H
#define HUBGATE_VIOLATION_H

#include <stddef.h>

#define HG_VIOLATIONS_MAX 100

typedef struct st_hg_violation_t {
    char *in;         /* JSON pointer into the document ("" = all of it), or "path:NAME" */
    const char *code; /* static string: the failing keyword or rule ("required", "invalid_json", ...) */
    char *message;    /* for a person: names the field and the reason */
} hg_violation_t;

typedef struct st_hg_violations_t {
    hg_violation_t *items;
    size_t count;   /* kept, at most limit */
    size_t limit;   /* how many are kept */
    size_t dropped; /* reported after the limit was reached */
} hg_violations_t;

void hg_violations_init(hg_violations_t *v, size_t limit);
/* records a problem; `in` and the formatted message are copied, `code` must be static */
void hg_violations_add(hg_violations_t *v, const char *in, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* all reported problems, kept or not */
size_t hg_violations_total(const hg_violations_t *v);
void hg_violations_clear(hg_violations_t *v);

/* A JSON pointer under construction: push a token, walk down, truncate back. */
typedef struct st_hg_jptr_t {
    char *buf; /* NUL-terminated; "" is the root */
    size_t len, cap;
} hg_jptr_t;

void hg_jptr_init(hg_jptr_t *p);
void hg_jptr_dispose(hg_jptr_t *p);
/* appends "/" + key with '~' and '/' escaped (RFC 6901); returns the length before, for hg_jptr_truncate */
size_t hg_jptr_push_key(hg_jptr_t *p, const char *key);
size_t hg_jptr_push_index(hg_jptr_t *p, size_t index);
void hg_jptr_truncate(hg_jptr_t *p, size_t len);

#endif
