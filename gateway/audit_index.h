/*
 * audit_index.h: the audit store's skip index: the keys of a record and the
 * Bloom filters that summarize a block of records.
 *
 * The SQLite store keeps no per-record secondary index: at 100 pairs a record,
 * b-tree or FTS5 entries for every object id cost the writer several times
 * the request itself. Instead consecutive records form blocks (an id range
 * with its time span), and each block gets two Bloom filters written once,
 * when the block is sealed: one over the record fields a query filters on
 * (request id, subject, client, route, decision, status and its class), one
 * over the forwarded object ids. A query reads the blocks newest first, skips
 * those whose span or filters rule them out, and looks for matching records
 * only inside the others (plus the records not sealed yet): a scan over about
 * 1.5 bytes per key instead of the data, with a false-positive rate near
 * 0.5% (a split block filter of 12 bits per key, see audit_index.c).
 *
 * The keys, the hash and the filter layout are part of the on-disk format
 * (schema version 3): changing any of them needs a new schema version.
 */
#ifndef HUBGATE_AUDIT_INDEX_H
#define HUBGATE_AUDIT_INDEX_H

#include "audit.h"

#include <stddef.h>
#include <stdint.h>

/* the kinds of key; a key is the 64-bit hash of (kind, value) */
#define HG_AUDIT_KEY_REQUEST_ID 'q'
#define HG_AUDIT_KEY_SUBJECT 's'
#define HG_AUDIT_KEY_CLIENT 'c'
#define HG_AUDIT_KEY_ROUTE 'r'
#define HG_AUDIT_KEY_DECISION 'd'
#define HG_AUDIT_KEY_STATUS 'S'       /* value: the status, three digits */
#define HG_AUDIT_KEY_STATUS_CLASS 'C' /* value: the status's first digit */
#define HG_AUDIT_KEY_OBJECT 'o'       /* value: an object id, either side of a pair */

/* a growing array of keys */
typedef struct st_hg_audit_keys_t {
    uint64_t *v;
    size_t n, cap;
} hg_audit_keys_t;

void hg_audit_keys_clear(hg_audit_keys_t *k);
void hg_audit_keys_dispose(hg_audit_keys_t *k);

/* the key of (kind, the n bytes at s) */
uint64_t hg_audit_key(int kind, const char *s, size_t n);
/*
 * The key of an object id: for 1 to 18 digits without a leading zero (what
 * normalization makes of HubSpot ids) a mix of the number, else
 * hg_audit_key(HG_AUDIT_KEY_OBJECT, id). Writer and query both use this.
 */
uint64_t hg_audit_object_key(const char *id);
/*
 * One pass over an object id: its length in *len, and its value when it is 1
 * to HG_AUDIT_ID_MAX_NUMBER_DIGITS digits without a leading zero (what the
 * index keys, and the pairs column stores, as a number), else -1.
 */
#define HG_AUDIT_ID_MAX_NUMBER_DIGITS 18 /* 10^18 - 1 < 2^63: twice the value still fits in 64 bits */
int64_t hg_audit_id_number(const char *id, size_t *len);
/* the key of an object id that is the number `number` (see hg_audit_id_number) */
uint64_t hg_audit_object_number_key(uint64_t number);
void hg_audit_keys_push(hg_audit_keys_t *k, uint64_t key);
/* appends the keys of r's filterable fields to `fields` */
void hg_audit_field_keys(const hg_audit_record_t *r, hg_audit_keys_t *fields);
/* the same, and the keys of its forwarded object ids to `objects` */
void hg_audit_keys_of(const hg_audit_record_t *r, hg_audit_keys_t *fields, hg_audit_keys_t *objects);

/* bytes of the filter for nkeys keys (at least 64) */
size_t hg_audit_bloom_size(size_t nkeys);
/* fills the `bytes` bytes at `bloom` (zeroed first) with the keys */
void hg_audit_bloom_build(const uint64_t *keys, size_t nkeys, uint8_t *bloom, size_t bytes);
/* 0 when the key is certainly not in the filter, 1 when it may be (also for a filter of 0 bytes) */
int hg_audit_bloom_may_contain(const uint8_t *bloom, size_t bytes, uint64_t key);

#endif
