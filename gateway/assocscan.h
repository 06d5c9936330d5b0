/*
 * assocscan.h: the fast path of the associations body pipeline (CONTRACT.md section 6).
 *
 * A single pass over the client's bytes, with no parse tree and two allocations beyond the result's
 * own, for the bodies that well-behaved clients send. For each body it takes, it produces exactly
 * what normalize.c's jansson path (strict parse, coercion, prune, validation against the shipped
 * schema, deduplication, canonical body) produces: the same canonical bytes, counts and pair list,
 * because deduplication and everything after it are the same code (assocpairs.h). Any
 * other body it declines, leaving the result untouched, and the jansson path runs and reports as
 * always; so a refusal is never the scanner's.
 *
 * It takes exactly this (ws = any run of space, tab, CR, LF; nothing else, no byte >= 0x80):
 *
 *     ws { ws "inputs" ws : ws [ ws INPUT (ws , ws INPUT)* ws ] ws } ws          (then the end)
 *     INPUT = { ws "from" ws : ws SIDE ws , ws "to" ws : ws SIDE ws }           (or "to" first)
 *     SIDE  = { ws "id" ws : ws ID ws }
 *     ID    = " spaces DIGITS spaces "    (only the space character; no escape, no other byte)
 *           | DIGITS as a JSON integer     (no sign, no fraction or exponent, no leading zero)
 *     DIGITS = 1 to 20 ASCII digits
 *
 * and only when the route is in associations mode with `fast` set (its schema is the shipped one,
 * see hg_body_rules_fast_eligible), max_json_depth is at least 4 (the depth of such a body), and
 * no more than max_inputs pairs are left after deduplication (0 = no limit). Keys are compared as
 * bytes, so a key written with an escape, a repeated key, an unknown member, an empty "inputs", a
 * negative or fractional id, "-0", a padded id with a tab, ... are all declined. An integer id
 * counts as coerced, as does a string id with surrounding spaces; dropped_fields is 0.
 *
 * Intended difference: an integer id of 19 or 20 digits beyond 2^63 - 1 (9223372036854775808 to
 * 99999999999999999999) is taken and forwarded as its digits, as CONTRACT.md section 6 says
 * (a non-negative integer becomes its decimal string; the schema allows 20 digits), while the
 * jansson path refuses it as invalid_json ("integer ... is too large (beyond 64 bits)") because
 * jansson has no integers beyond 64 bits. On a route without `fast` such a body is still refused.
 *
 * Lifetimes: the rules are the configuration's, buf is borrowed for the call, out is per request
 * (hg_body_result_dispose frees what the scanner put there).
 */
#ifndef HUBGATE_ASSOCSCAN_H
#define HUBGATE_ASSOCSCAN_H

#include <stddef.h>

#include "normalize.h"

/* schemas/batch-associate-default.request.json, compiled into the program (gateway/assoc_schema.c) */
extern const char hg_assoc_schema_text[];

/*
 * Offers buf[0..len) to the scanner. Returns 1 when taken: out is filled as hg_body_process fills
 * it for a forwarded body (which then returns 0). Returns 0 when declined: out is not touched.
 */
int hg_assoc_scan(const hg_body_rules_t *rules, const char *buf, size_t len, hg_body_result_t *out);

#endif
