/*
 * audit_pairs.h: the binary form of a record's forwarded pairs in the SQLite
 * store (schema version 3).
 *
 * Ids are written one after the other, from0 to0 from1 to1 ..., each as an
 * unsigned LEB128 varint h: when h is even, the id is the decimal number
 * h / 2 (ids that are 1 to 18 digits without a leading zero, which is what
 * normalization makes of every HubSpot id); when h is odd, (h - 1) / 2 raw
 * bytes of the id follow. A 100-pair record of 10-digit ids takes about 1 KB
 * instead of 2.6 KB as JSON text, and the store's write cost follows its
 * bytes. Version 2 stores kept pairs as JSON text ([["from","to"],...]); rows
 * written then keep that form and are read through hg_audit_pairs_read too.
 */
#ifndef HUBGATE_AUDIT_PAIRS_H
#define HUBGATE_AUDIT_PAIRS_H

#include "audit.h"
#include "audit_index.h"

#include <stddef.h>
#include <stdint.h>

/* a growing byte buffer */
typedef struct st_hg_audit_blob_t {
    uint8_t *buf;
    size_t len, cap;
} hg_audit_blob_t;

/*
 * Replaces b's contents with the encoding of r's pairs (empty when r has
 * none) and, unless `keys` is NULL, appends each id's object key
 * (audit_index.h) to it, from the same pass over the id.
 */
void hg_audit_pairs_encode(const hg_audit_record_t *r, hg_audit_blob_t *b, hg_audit_keys_t *keys);
/*
 * Adds the pairs stored in [p, p + n) to r: binary when `binary`, else version
 * 2's JSON text. Returns 0, or -1 when the bytes are malformed (r then holds
 * the pairs decoded before the fault).
 */
int hg_audit_pairs_read(hg_audit_record_t *r, const void *p, size_t n, int binary);
/* 1 when the stored pairs (as for hg_audit_pairs_read) name `id` on either side, else 0 */
int hg_audit_pairs_contain(const void *p, size_t n, int binary, const char *id);

#endif
