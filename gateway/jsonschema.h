/*
 * jsonschema.h: a JSON Schema (draft 2020-12) validator for request bodies and the configuration.
 *
 * A schema document is compiled once, at configuration load, into a tree of nodes: keyword values
 * parsed, regular expressions compiled (PCRE2, JIT where available), every $ref resolved to a node
 * pointer. Validation walks that tree and never reads the schema's JSON again. Anything the compiler
 * does not understand (an unknown keyword, $dynamicRef, unevaluated*, dependentSchemas, a remote or
 * dangling $ref, a bad regular expression, a $ref cycle that does not descend into the instance) is
 * a load error: the validator fails closed, it never ignores part of a schema.
 *
 * Supported: type, enum, const, properties, required, additionalProperties, patternProperties,
 * propertyNames, minProperties, maxProperties, dependentRequired, items, prefixItems, contains,
 * minContains, maxContains, minItems, maxItems, uniqueItems, minLength, maxLength (code points),
 * pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, allOf, anyOf, oneOf, not,
 * if/then/else, $ref (JSON pointers, $anchor, $id-relative URIs inside the same document), $defs and
 * definitions, boolean schemas; annotations (title, description, default, examples, $comment,
 * deprecated, readOnly, writeOnly, format, $schema, $id, contentMediaType, contentEncoding) are
 * accepted and never asserted. Numbers: 1.0 is an integer, 1 == 1.0 for enum, const and uniqueItems.
 *
 * Violations (hg_violations_t, see violation.h): `in` is a JSON pointer into the instance, `code` is
 * the failing keyword, `message` says what is wrong without repeating the pointer. For `required`
 * and `dependentRequired`, `in` is where the missing property should be (the object's pointer plus
 * "/" + its name: "/inputs/0/from" when "from" is missing from /inputs/0), as CONTRACT.md section 4
 * asks. anyOf, oneOf, not and if decide on their subschemas without reporting inside them: one
 * violation names the combinator. then/else and allOf report their subschemas' violations as they
 * are. A failing `false` schema reports the keyword that led to it (additionalProperties: false gives
 * code "additionalProperties", message "property \"x\" is not allowed", in = the property's pointer).
 * Deeper than 128 nested schema applications gives code "too_deep".
 *
 * Lifetimes: an hg_schema_t belongs to the configuration: built once, immutable, shared read-only by
 * every worker thread, freed with hg_schema_free when that configuration goes. It holds no pointer
 * into the document it was compiled from. The instance is borrowed for the duration of a call.
 */
#ifndef HUBGATE_JSONSCHEMA_H
#define HUBGATE_JSONSCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "violation.h"

typedef struct st_hg_schema_t hg_schema_t; /* compiled; immutable; safe to use from many threads at once */

/* the deepest nesting of schema applications that validation follows before reporting "too_deep" */
#define HG_SCHEMA_MAX_DEPTH 128

/*
 * Compiles a parsed schema document (borrowed; not referenced after the call). `name` (e.g. the file
 * path) prefixes every load error. On failure returns NULL and adds violations with in = JSON pointer
 * inside the schema, code = "schema", message = "NAME: what is wrong" (e.g. "s.json: unsupported
 * keyword \"$dynamicRef\"", in = "/properties/a/$dynamicRef"). `errors` may be NULL.
 */
hg_schema_t *hg_schema_compile(const json_t *doc, const char *name, hg_violations_t *errors);
/* reads a schema file as strict JSON (duplicate keys refused): a new reference, or NULL with one violation
   (in = "", code "schema", "PATH: cannot read: ..." or "PATH:LINE:COLUMN: ...") */
json_t *hg_schema_read(const char *path, hg_violations_t *errors);
/* reads and compiles a schema file; errors as hg_schema_read's and hg_schema_compile's */
hg_schema_t *hg_schema_load(const char *path, hg_violations_t *errors);
/* frees a compiled schema; NULL is allowed */
void hg_schema_free(hg_schema_t *s);
/* the words every message uses for a value's type: "an object", "an array", "a string", "an integer",
   "a number", "a boolean" or "null" (static) */
const char *hg_json_type_phrase(const json_t *v);
/* 0 when valid, -1 when not (violations appended to out; out may be NULL for a yes/no answer, which
   stops at the first violation) */
int hg_schema_validate(const hg_schema_t *s, const json_t *instance, hg_violations_t *out);
/*
 * Removes from `instance` every object member that the schema would refuse through
 * additionalProperties: false (following properties, patternProperties, items, prefixItems, $ref and
 * allOf); returns how many were removed. Used by normalization's `unknown_fields: drop`; array
 * indices are never changed.
 */
size_t hg_schema_prune(const hg_schema_t *s, json_t *instance);

#endif
