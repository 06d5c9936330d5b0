/*
 * audit_pairs.c: encodes and decodes the SQLite store's pairs column. Decoding
 * walks the ids with one iterator shared by the reader and the object_id
 * match, so the two cannot disagree about what a row holds. See audit_pairs.h.
 */
#include "audit_pairs.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void reserve(hg_audit_blob_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    while (b->len + more > b->cap)
        b->cap = b->cap != 0 ? b->cap * 2 : 1024;
    b->buf = hg_xrealloc(b->buf, b->cap);
}

/* appends v; room for 10 bytes must be reserved */
static void put_varint(hg_audit_blob_t *b, uint64_t v)
{
    while (v >= 0x80) {
        b->buf[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->buf[b->len++] = (uint8_t)v;
}

void hg_audit_pairs_encode(const hg_audit_record_t *r, hg_audit_blob_t *b, hg_audit_keys_t *keys)
{
    b->len = 0;
    for (size_t i = 0; i != 2 * r->num_pairs; ++i) {
        size_t n;
        int64_t v = hg_audit_id_number(r->pairs[i], &n);
        reserve(b, 10 + n);
        if (v >= 0) {
            put_varint(b, (uint64_t)v << 1);
        } else {
            put_varint(b, (uint64_t)n << 1 | 1);
            memcpy(b->buf + b->len, r->pairs[i], n);
            b->len += n;
        }
        if (keys != NULL)
            hg_audit_keys_push(keys, v >= 0 ? hg_audit_object_number_key((uint64_t)v)
                                            : hg_audit_key(HG_AUDIT_KEY_OBJECT, r->pairs[i], n));
    }
}

/* the binary ids of [p, end), one at a time, as NUL-terminated text in `text` (grown as needed) */
typedef struct {
    const uint8_t *p, *end;
    char *text, small[24];
    size_t cap;
} ids_t;

static void ids_init(ids_t *it, const void *p, size_t n)
{
    it->p = p;
    it->end = it->p + n;
    it->text = it->small;
    it->cap = sizeof(it->small);
}

static void ids_dispose(ids_t *it)
{
    if (it->text != it->small)
        free(it->text);
}

static int get_varint(ids_t *it, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; it->p != it->end && shift < 64; shift += 7) {
        uint8_t byte = *it->p++;
        *v |= (uint64_t)(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0)
            return 0;
    }
    return -1;
}

/* 1 with the next id in it->text, 0 at the end, -1 when malformed */
static int ids_next(ids_t *it)
{
    if (it->p == it->end)
        return 0;
    uint64_t h;
    if (get_varint(it, &h) != 0)
        return -1;
    if ((h & 1) == 0) {
        *hg_put_u64(it->text, h >> 1) = '\0'; /* it->text holds at least 24 bytes */
        return 1;
    }
    uint64_t n = h >> 1;
    if (n > (uint64_t)(it->end - it->p) || memchr(it->p, '\0', n) != NULL)
        return -1;
    if (n + 1 > it->cap) {
        if (it->text != it->small)
            free(it->text);
        it->cap = n + 1;
        it->text = hg_xmalloc(it->cap);
    }
    memcpy(it->text, it->p, n);
    it->text[n] = '\0';
    it->p += n;
    return 1;
}

/* version 2's JSON text: calls fn for every id in order; -1 when it is not [[string, string], ...] */
static int json_ids(const void *p, size_t n, int (*fn)(void *ctx, const char *id), void *ctx)
{
    json_t *a = json_loadb(p, n, 0, NULL);
    int rc = json_is_array(a) ? 0 : -1;
    for (size_t i = 0; rc == 0 && i != json_array_size(a); ++i) {
        json_t *pair = json_array_get(a, i);
        const char *from = json_string_value(json_array_get(pair, 0)), *to = json_string_value(json_array_get(pair, 1));
        if (from == NULL || to == NULL)
            rc = -1;
        else if (fn(ctx, from) != 0 || fn(ctx, to) != 0)
            rc = 1;
    }
    json_decref(a);
    return rc;
}

/* calls fn(ctx, id) for every stored id in order until it returns non-zero; 0, 1 (stopped) or -1 (malformed) */
static int for_each_id(const void *p, size_t n, int binary, int (*fn)(void *ctx, const char *id), void *ctx)
{
    if (!binary)
        return json_ids(p, n, fn, ctx);
    ids_t it;
    ids_init(&it, p, n);
    int rc;
    while ((rc = ids_next(&it)) == 1 && fn(ctx, it.text) == 0)
        ;
    ids_dispose(&it);
    return rc;
}

typedef struct {
    hg_audit_record_t *r;
    char *from; /* the pending first half of a pair */
} reader_t;

static int add_id(void *ctx, const char *id)
{
    reader_t *rd = ctx;
    if (rd->from == NULL) {
        rd->from = hg_xstrdup(id);
    } else {
        hg_audit_record_add_pair(rd->r, rd->from, id);
        free(rd->from);
        rd->from = NULL;
    }
    return 0;
}

int hg_audit_pairs_read(hg_audit_record_t *r, const void *p, size_t n, int binary)
{
    reader_t rd = {r, NULL};
    int rc = for_each_id(p, n, binary, add_id, &rd);
    int odd = rd.from != NULL;
    free(rd.from);
    return rc != 0 || odd ? -1 : 0;
}

static int is_id(void *ctx, const char *id)
{
    return strcmp(id, ctx) == 0;
}

int hg_audit_pairs_contain(const void *p, size_t n, int binary, const char *id)
{
    return for_each_id(p, n, binary, is_id, (void *)id) == 1;
}
