/*
 * normalize.h: from the client's request to what hubgate forwards (CONTRACT.md sections 4 and 6).
 *
 * Two steps, both free of h2o so they unit-test alone:
 *
 *   - path: the {fromObjectType}/{toObjectType} parameters become canonical object type ids
 *     (objtypes.h) and the upstream path is rebuilt from the route's template with them;
 *   - body: the bytes are parsed strictly (jsonstrict.h), then, with `normalize: associations`, ids
 *     are coerced (a non-negative JSON integer becomes its decimal string, a string loses surrounding
 *     ASCII whitespace), fields the schema does not define are removed (`unknown_fields: drop`) or
 *     left for the schema to refuse (`reject`), the body is validated (jsonschema.h), identical
 *     (from, to) pairs keep their first occurrence, the number left is checked against max_inputs,
 *     and a compact canonical body is written with keys in a fixed order:
 *     {"inputs":[{"from":{"id":"1"},"to":{"id":"2"}}]}
 *     With `normalize: none` the body is parsed and validated only, and forwarded as it came.
 *
 * Violation pointers (`in`) always point into the client's body as sent: coercion and pruning never
 * change array indices, and deduplication runs after validation. A missing "from" next to a present
 * "to" gets a message naming HubSpot's Node SDK, whose model calls the field "_from" and drops a
 * caller's "from".
 *
 * Beyond the route's schema, the associations body is checked against the shape the canonical body
 * needs (an object whose "inputs" is a non-empty array of objects with "from" and "to" objects whose
 * "id" is 1 to 20 ASCII digits). With the shipped schema this check never fires; it makes a route
 * without a schema, or with a looser one, safe: the canonical body is written without escaping, and
 * members it does not carry count as dropped fields (or are refused with `reject`).
 *
 * Cost: one jansson parse, a coercion walk, the schema's prune and validate walks, one sort of the
 * pairs (O(n log n) whatever the ids, so no crafted body makes deduplication quadratic) and one pass
 * to write the body; a few allocations per request beyond jansson's own. The audit's SHA-256 of the
 * forwarded bytes is not taken here: the request logger takes it, only when an audit store wants it.
 *
 * Fast path: on a route whose rules have `fast` set (associations mode with the shipped schema,
 * decided at configuration load by hg_body_schema_load), the body is first offered to the
 * single-pass scanner of assocscan.h, which takes plain well-formed bodies (a tenth or less of the
 * cost) and produces exactly what the steps above would; anything else it declines, and the steps
 * above run and report as always. The one intended difference: integer ids of 19 or 20 digits
 * beyond 64 bits, which the strict parser refuses as invalid_json, are taken by the scanner (see
 * assocscan.h).
 *
 * Deduplication and the canonical body are assocpairs.h's, shared by both paths.
 *
 * Lifetimes: hg_body_rules_t belongs to the configuration (one per route, immutable while serving;
 * the schema it points to lives as long as it). hg_body_result_t is per request: everything it
 * points to is owned by it and freed by hg_body_result_dispose.
 */
#ifndef HUBGATE_NORMALIZE_H
#define HUBGATE_NORMALIZE_H

#include <stddef.h>

#include "jsonschema.h"
#include "objtypes.h"
#include "route.h"
#include "violation.h"

typedef enum { HG_NORMALIZE_NONE, HG_NORMALIZE_ASSOCIATIONS } hg_normalize_mode_t;

typedef struct st_hg_body_rules_t {
    hg_normalize_mode_t mode;
    const hg_schema_t *schema; /* may be NULL (then only the strict parse, and for associations the shape check) */
    int reject_unknown;        /* unknown_fields: reject (1) or drop (0); associations only */
    size_t max_inputs;         /* most inputs forwarded after deduplication; 0 = no limit; associations only */
    size_t max_depth;          /* limits.max_json_depth */
    int fast;                  /* associations with the shipped schema: the scanner of assocscan.h may serve the body (see below) */
} hg_body_rules_t;

typedef struct st_hg_body_result_t {
    char *body; /* canonical body (heap, not NUL-terminated), or NULL: forward the client's bytes */
    size_t body_len;
    size_t received;   /* length of /inputs when it is an array, else 0 */
    size_t forwarded;  /* inputs forwarded (0 when refused) */
    size_t duplicates; /* inputs removed as repeated (from, to) pairs */
    size_t coerced;    /* ids changed by coercion */
    size_t dropped_fields;
    char **pairs;         /* 2 * num_pairs NUL-terminated ids, from0, to0, from1, to1, ...: the forwarded pairs */
    size_t num_pairs;     /* number of pairs (associations mode; 0 with none) */
} hg_body_result_t;

/*
 * Runs the body pipeline on buf[0..len) (borrowed). Returns 0 when the request is to be forwarded
 * (out filled), -1 when it is to be refused with 400: the violations are appended to `errors`
 * (which keeps at most its limit), and out's counts are filled as far as they are known. out is
 * always initialized, so hg_body_result_dispose is always safe after a call.
 */
int hg_body_process(const hg_body_rules_t *rules, const char *buf, size_t len, hg_body_result_t *out, hg_violations_t *errors);
void hg_body_result_dispose(hg_body_result_t *r);

/*
 * 1 when a route in associations mode with this schema document (borrowed) may have `fast` set:
 * the document is json_equal to schemas/batch-associate-default.request.json as compiled into the
 * program (hg_assoc_schema_text), so the schema accepts exactly the bodies the scanner takes. Any
 * other document, even one that means the same, gives 0.
 */
int hg_body_rules_fast_eligible(const json_t *schema_doc);

/*
 * hg_schema_load (same errors, same messages) that also says, from the one document it read, whether
 * the schema is the shipped one (*eligible = hg_body_rules_fast_eligible; 0 on failure). For the
 * configuration loader: reading the file once means the flag and the compiled schema cannot come
 * from two different versions of the file.
 */
hg_schema_t *hg_body_schema_load(const char *path, int *eligible, hg_violations_t *errors);

/*
 * Canonical id of one object type path parameter (seg[0..len), borrowed) into out. On an unknown
 * one returns -1 and adds {in "path:<param>", code "unknown_object_type", message
 * `unknown object type "<seg>"`} (the segment shown with non-printable bytes escaped as \xNN and
 * cut after 64 bytes).
 */
int hg_normalize_object_type(const char *param, const char *seg, size_t len, char out[HG_OBJTYPE_ID_SIZE], hg_violations_t *errors);

typedef struct st_hg_path_types_t {
    char from[HG_OBJTYPE_ID_SIZE]; /* canonical {fromObjectType}, "" when the route has none */
    char to[HG_OBJTYPE_ID_SIZE];
} hg_path_types_t;

/*
 * Canonicalizes the route's {fromObjectType} (values[from_param]) and {toObjectType}
 * (values[to_param]; a negative index = the route has no such parameter) of a template match and
 * writes the canonical path (NUL-terminated) into buf. Returns its length, or 0 when refused: every
 * unknown type is reported as above; a buf too small (len + 2 * HG_OBJTYPE_ID_SIZE always suffices)
 * is {in "path", code "bad_path"}.
 */
size_t hg_normalize_path(const hg_template_t *t, const hg_template_match_t *m, int from_param, int to_param, hg_path_types_t *types,
                         char *buf, size_t bufsize, hg_violations_t *errors);

/*
 * The top message of a 400 (new heap string): "1 problem in the request body: /inputs/0/from:
 * required property \"from\" is missing", "3 problems in the request body; first: /inputs/0/from: ..."
 * for what = "the request body". A root pointer ("") is left out; problems beyond the list's limit
 * are counted.
 */
char *hg_violations_summary(const hg_violations_t *v, const char *what);

#endif
