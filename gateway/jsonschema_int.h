/*
 * jsonschema_int.h: the compiled form of a JSON Schema, shared by the compiler
 * (jsonschema_compile.c, jsonschema_keywords.c, jsonschema_ref.c,
 * jsonschema_regex.c), the validator (jsonschema_validate.c) and the pruner
 * (jsonschema_prune.c). Private to those files.
 *
 * A schema is a flat array of nodes, one per schema location of the document
 * (boolean schemas included); children and $ref targets are node pointers into
 * that array. Everything here is built at configuration load and read-only
 * afterwards: several threads validate against the same nodes at once.
 * Values a keyword needs at validation time (enum and const values, bounds,
 * regular expressions, messages prepared in advance) are owned by the node;
 * nothing points into the source document once compilation has finished.
 */
#ifndef HUBGATE_JSONSCHEMA_INT_H
#define HUBGATE_JSONSCHEMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonschema.h"

/* type bits, in the order messages list them */
enum {
    JS_T_OBJECT = 1 << 0,
    JS_T_ARRAY = 1 << 1,
    JS_T_STRING = 1 << 2,
    JS_T_INTEGER = 1 << 3,
    JS_T_NUMBER = 1 << 4,
    JS_T_BOOLEAN = 1 << 5,
    JS_T_NULL = 1 << 6,
};

typedef struct st_js_node_t js_node_t;

/* a numeric bound (minimum, multipleOf, ...): exact when the schema wrote an integer */
typedef struct st_js_num_t {
    int present;
    int is_int;
    json_int_t i;
    double d;
    char text[40]; /* as a person would write it, for messages */
} js_num_t;

typedef struct st_js_regex_t {
    pcre2_code *code; /* NULL when absent */
    char *source;     /* as written in the schema, for messages */
    /* "^[0-9]{1,20}$" and its kind (one anchored ASCII class, repeated): matched without PCRE2 */
    int simple;
    uint8_t set[16]; /* bit c set: ASCII byte c is in the class */
    size_t min, max;
} js_regex_t;

typedef struct st_js_prop_t {
    char *name;
    size_t len;
    js_node_t *node;
} js_prop_t;

typedef struct st_js_patprop_t {
    js_regex_t re;
    js_node_t *node;
} js_patprop_t;

typedef struct st_js_depreq_t {
    char *name;
    char **required;
    size_t nrequired;
} js_depreq_t;

typedef struct st_js_list_t {
    js_node_t **items;
    size_t count;
} js_list_t;

struct st_js_node_t {
    int boolean;       /* -1: an object schema; 0: the schema false; 1: the schema true (or an empty object) */
    size_t index;      /* position in hg_schema_t.nodes */
    char *ptr;         /* location in the schema document, for load errors */
    char *base;        /* base URI in effect here (compile time) */
    const json_t *src; /* the document's value (compile time only; NULL afterwards) */

    unsigned types; /* JS_T_* bits; 0 = no type keyword */
    char *ref;      /* as written, for messages */
    js_node_t *ref_node;
    json_t *const_value; /* owned; NULL = absent */
    char *const_text;
    json_t *enum_values; /* owned array; NULL = absent */
    char *enum_text;

    /* objects */
    js_prop_t *props;
    size_t nprops;
    js_patprop_t *patprops;
    size_t npatprops;
    js_node_t *additional, *property_names;
    size_t min_props, max_props; /* 0 and SIZE_MAX when absent */
    char **required;
    size_t nrequired;
    js_depreq_t *dep_required;
    size_t ndep_required;

    /* arrays */
    js_list_t prefix;
    js_node_t *items, *contains;
    size_t min_contains, max_contains; /* 1 and SIZE_MAX when absent */
    size_t min_items, max_items;
    int unique;

    /* strings */
    size_t min_len, max_len;
    js_regex_t pattern;

    /* numbers */
    js_num_t minimum, maximum, exclusive_minimum, exclusive_maximum, multiple_of;

    /* in place */
    js_list_t all_of, any_of, one_of;
    js_node_t *not_, *if_, *then_, *else_;

    unsigned has_object_kw : 1, has_array_kw : 1, has_string_kw : 1, has_number_kw : 1;
};

struct st_hg_schema_t {
    js_node_t *root;
    js_node_t **nodes;
    size_t nnodes;
    pcre2_match_context *match_context; /* match limits against hostile subjects; read-only when validating */
};

/* ---- compile-time state, shared by the compiler's files ---- */

typedef struct st_js_resource_t {
    char *uri; /* absolute, without fragment; for anchors "uri#name" */
    js_node_t *node;
} js_resource_t;

typedef struct st_js_compiler_t {
    hg_schema_t *schema;
    const char *name;
    hg_violations_t *errors;
    int failed;
    js_resource_t *resources, *anchors;
    size_t nresources, nanchors;
    pcre2_compile_context *compile_context;
} js_compiler_t;

/* jsonschema_compile.c: the walk over the document */
void js_error(js_compiler_t *cc, const char *ptr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* compiles the schema at `ptr` (a new node, its subschemas included); base = the base URI in effect around it */
js_node_t *js_compile_schema(js_compiler_t *cc, const json_t *v, const char *ptr, const char *base);
/* ptr + "/" + key, escaped per RFC 6901; a new string */
char *js_ptr_key(const char *ptr, const char *key);

/* jsonschema_keywords.c: one function per keyword, storing its value in the node */
typedef void (*kw_fn_t)(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr);
/* NULL for a keyword hubgate does not know */
kw_fn_t js_find_keyword(const char *name);
/* 1 for a JSON Schema keyword that hubgate refuses on purpose ($dynamicRef, unevaluatedProperties, ...) */
int js_keyword_unsupported(const char *name);

/* jsonschema_ref.c: URI references (RFC 3986) and $ref resolution */
/* resolves `ref` against the absolute URI `base`; returns a new string */
char *js_uri_resolve(const char *base, const char *ref);
/* registers the node as the resource `uri` (fragment already removed) or the anchor "uri#name" */
void js_register(js_compiler_t *cc, js_resource_t **list, size_t *count, char *uri, js_node_t *node, const char *ptr);
/* resolves every node's $ref and refuses $ref cycles that do not descend into the instance */
void js_resolve_refs(js_compiler_t *cc);

/* jsonschema_regex.c: ECMA-262 patterns on PCRE2 */
/* compiles an ECMA-262 pattern; returns 0, or -1 with an error reported at `ptr` */
int js_regex_compile(js_compiler_t *cc, js_regex_t *re, const char *source, size_t len, const char *ptr);
void js_regex_dispose(js_regex_t *re);
/* 1 on a match anywhere in the subject, 0 on none, -1 when the match limit was reached */
int js_regex_search(const hg_schema_t *s, const js_regex_t *re, pcre2_match_data **md, const char *subject, size_t len);

/* jsonschema_validate.c: JSON Schema equality (1 == 1.0, objects unordered) */
int js_json_equal(const json_t *a, const json_t *b);
/* the `properties` entry for a member name, or NULL */
const js_prop_t *js_find_prop(const js_node_t *n, const char *key, size_t klen);

#endif
