/*
 * jsonstrict.h: strict JSON intake for request bodies.
 *
 * A body is accepted only if it is one JSON value (RFC 8259) in valid UTF-8,
 * with no duplicate object key, no NUL (\u0000) and no lone surrogate in a
 * string, no integer beyond 64 bits nor number beyond a double, no byte order
 * mark, nothing after the value, and nesting of arrays/objects no deeper than
 * max_depth (the top-level value is depth 1; scalars do not count). Anything
 * else is exactly one violation, with a position a person can find:
 *
 *   code "invalid_json"  "invalid JSON at line 1, column 12 (byte 11): <reason>"
 *   code "duplicate_key" same prefix, reason `duplicate key "from"`, in = pointer of the
 *                        duplicated member ("/inputs/0/from")
 *   code "invalid_utf8"  a byte sequence that is not UTF-8 (overlong, surrogate, ...) or a
 *                        \uD800-style escape without its pair
 *   code "too_deep"      reason "nesting deeper than N levels", at the bracket that opens level N+1
 *
 * Lines and columns are 1-based (columns count characters), bytes 0-based.
 * The depth is checked by a pre-scan that costs one pass and no allocation,
 * so a hostile "[[[[..." body is cheap; the parse is jansson's json_loadb on
 * the caller's buffer (no copy). Positions are worked out only on the error path.
 *
 * Lifetime: per request. The returned value belongs to the caller.
 */
#ifndef HUBGATE_JSONSTRICT_H
#define HUBGATE_JSONSTRICT_H

#include "violation.h"

#include <jansson.h>
#include <stddef.h>

/* parses buf[0..len) strictly; returns a new reference, or NULL with exactly one violation added to errors */
json_t *hg_json_parse_strict(const char *buf, size_t len, size_t max_depth, hg_violations_t *errors);

#endif
