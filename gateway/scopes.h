/*
 * scopes.h: a route's `scopes_any`, compiled at load, matched per request.
 *
 * A token passes when its scopes contain at least one entry of the route's
 * scopes_any, compared as whole strings: no prefix, substring or case folding
 * (CONTRACT.md section 4, step 5). An entry may contain the templates
 * {fromObjectType} and {toObjectType}, which stand for the scope name of the
 * request's canonical object types ("contacts", "custom"; see objtypes.h);
 * the caller passes those names, and a NULL name makes every entry using that
 * template unsatisfiable (fail closed). Entries are split at load into literal
 * pieces and template slots, so a request only concatenates.
 *
 * Entries are scope-tokens of RFC 6750 section 3 (printable ASCII without
 * space, '"' and '\\') of at most HG_SCOPE_ENTRY_MAX characters: they can be
 * written into WWW-Authenticate scope="..." unchanged.
 *
 * Lifetime: configuration (one per route, immutable, shared by all threads).
 */
#ifndef HUBGATE_SCOPES_H
#define HUBGATE_SCOPES_H

#include "principal.h"
#include "violation.h"

#include <jansson.h>
#include <stddef.h>

#define HG_SCOPE_ENTRY_MAX 200
/* a buffer of this size holds any expanded entry (template names are at most 40 characters) */
#define HG_SCOPE_MAX 512

typedef struct st_hg_scopeset_t hg_scopeset_t;

/*
 * Compiles a non-empty JSON array of scope strings. Problems are reported with
 * in = pointer + "/<index>" (pointer: where scopes_any sits in the config, e.g.
 * "/routes/0/scopes_any"). Returns NULL when there was any.
 */
hg_scopeset_t *hg_scopeset_new(const json_t *scopes_any, const char *pointer, hg_violations_t *errors);
void hg_scopeset_free(hg_scopeset_t *s);

/*
 * The first entry (in configuration order) that the principal was granted,
 * expanded into buf (HG_SCOPE_MAX bytes suffice), or NULL when none is.
 */
const char *hg_scopeset_match(const hg_scopeset_t *s, const hg_principal_t *p, const char *from_name, const char *to_name,
                              char *buf, size_t bufsize);

/*
 * The entries that could be satisfied for these object types, expanded,
 * without duplicates, in configuration order: a new heap string, space-separated
 * (WWW-Authenticate scope="..."; "" when none), or a new JSON array of strings
 * (errors[0].context.requiredGranularScopes).
 */
char *hg_scopeset_describe(const hg_scopeset_t *s, const char *from_name, const char *to_name);
json_t *hg_scopeset_describe_json(const hg_scopeset_t *s, const char *from_name, const char *to_name);

#endif
