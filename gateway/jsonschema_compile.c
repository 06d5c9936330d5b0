/*
 * jsonschema_compile.c: turns a JSON Schema document into the node tree of
 * jsonschema_int.h, once, at configuration load.
 *
 * Every schema location of the document (the root, and each value under a
 * keyword that holds schemas, $defs and definitions included) becomes a node;
 * every keyword is checked against the table of jsonschema_keywords.c.
 * A keyword outside the table, a value of the wrong shape, a bad regular
 * expression, a remote, dangling or cyclic $ref is a load error naming the
 * schema and the JSON pointer of the offending value. Compilation goes on after
 * an error, so that one load reports every problem of a file, and then returns
 * NULL: a schema is never used half understood.
 */
#include "jsonschema_int.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* relative references in a document without $id are resolved against this */
#define DEFAULT_BASE "hubgate-schema:/schema.json"
#define DIALECT "https://json-schema.org/draft/2020-12/schema"

void js_error(js_compiler_t *cc, const char *ptr, const char *fmt, ...)
{
    cc->failed = 1;
    if (cc->errors == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *what;
    if (vasprintf(&what, fmt, ap) < 0)
        abort();
    va_end(ap);
    hg_violations_add(cc->errors, ptr, "schema", "%s: %s", cc->name, what);
    free(what);
}

/* ptr + "/" + key, with "~" and "/" escaped (RFC 6901); a new string */
char *js_ptr_key(const char *ptr, const char *key)
{
    size_t plen = strlen(ptr), klen = strlen(key), len = plen;
    char *out = hg_xmalloc(plen + 2 * klen + 2);
    memcpy(out, ptr, plen);
    out[len++] = '/';
    for (const char *k = key; *k != '\0'; ++k) {
        if (*k == '~' || *k == '/') {
            out[len++] = '~';
            out[len++] = *k == '~' ? '0' : '1';
        } else {
            out[len++] = *k;
        }
    }
    out[len] = '\0';
    return out;
}

const char *hg_json_type_phrase(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static js_node_t *new_node(js_compiler_t *cc, const json_t *v, const char *ptr, const char *base)
{
    hg_schema_t *s = cc->schema;
    js_node_t *n = hg_xcalloc(1, sizeof(*n));
    n->boolean = -1;
    n->index = s->nnodes;
    n->ptr = hg_xstrdup(ptr);
    n->base = hg_xstrdup(base);
    n->src = v;
    n->max_props = n->max_items = n->max_len = n->max_contains = SIZE_MAX;
    n->min_contains = 1;
    if ((s->nnodes & (s->nnodes - 1)) == 0)
        s->nodes = hg_xrealloc(s->nodes, (s->nnodes != 0 ? s->nnodes * 2 : 16) * sizeof(*s->nodes));
    s->nodes[s->nnodes++] = n;
    return n;
}

/* $schema and $id come first: they decide how the rest of the object reads */
static void compile_identity(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *ptr)
{
    const json_t *dialect = json_object_get(v, "$schema");
    if (dialect != NULL) {
        const char *d = json_string_value(dialect);
        char *p = js_ptr_key(ptr, "$schema");
        if (d == NULL || (strcmp(d, DIALECT) != 0 && strcmp(d, DIALECT "#") != 0))
            js_error(cc, p, "unsupported dialect (only \"" DIALECT "\" is)");
        free(p);
    }
    const json_t *id = json_object_get(v, "$id");
    if (id == NULL)
        return;
    char *p = js_ptr_key(ptr, "$id");
    if (!json_is_string(id)) {
        js_error(cc, p, "must be a string, not %s", hg_json_type_phrase(id));
    } else {
        char *uri = js_uri_resolve(n->base, json_string_value(id));
        char *hash = strchr(uri, '#');
        if (hash != NULL && hash[1] != '\0') {
            js_error(cc, p, "must not contain a fragment (use $anchor)");
            free(uri);
        } else {
            if (hash != NULL)
                *hash = '\0';
            free(n->base);
            n->base = hg_xstrdup(uri);
            js_register(cc, &cc->resources, &cc->nresources, uri, n, p);
        }
    }
    free(p);
}

js_node_t *js_compile_schema(js_compiler_t *cc, const json_t *v, const char *ptr, const char *base)
{
    js_node_t *n = new_node(cc, v, ptr, base);
    if (json_is_boolean(v)) {
        n->boolean = json_is_true(v);
        return n;
    }
    if (!json_is_object(v)) {
        js_error(cc, ptr, "a schema must be an object or a boolean, not %s", hg_json_type_phrase(v));
        n->boolean = 1;
        return n;
    }
    if (json_object_size(v) == 0) {
        n->boolean = 1;
        return n;
    }
    compile_identity(cc, n, v, ptr);
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        kw_fn_t fn = js_find_keyword(key);
        char *kwptr = js_ptr_key(ptr, key);
        if (fn != NULL) {
            fn(cc, n, value, kwptr);
        } else {
            js_error(cc, kwptr, "%s keyword \"%s\"", js_keyword_unsupported(key) ? "unsupported" : "unknown", key);
        }
        free(kwptr);
    }
    return n;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        free(names[i]);
    free(names);
}

static void free_node(js_node_t *n)
{
    free(n->ptr);
    free(n->base);
    free(n->ref);
    json_decref(n->const_value);
    free(n->const_text);
    json_decref(n->enum_values);
    free(n->enum_text);
    for (size_t i = 0; i != n->nprops; ++i)
        free(n->props[i].name);
    free(n->props);
    for (size_t i = 0; i != n->npatprops; ++i)
        js_regex_dispose(&n->patprops[i].re);
    free(n->patprops);
    free_names(n->required, n->nrequired);
    for (size_t i = 0; i != n->ndep_required; ++i) {
        free(n->dep_required[i].name);
        free_names(n->dep_required[i].required, n->dep_required[i].nrequired);
    }
    free(n->dep_required);
    free(n->prefix.items);
    js_regex_dispose(&n->pattern);
    free(n->all_of.items);
    free(n->any_of.items);
    free(n->one_of.items);
    free(n);
}

void hg_schema_free(hg_schema_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i != s->nnodes; ++i)
        free_node(s->nodes[i]);
    free(s->nodes);
    pcre2_match_context_free(s->match_context);
    free(s);
}

hg_schema_t *hg_schema_compile(const json_t *doc, const char *name, hg_violations_t *errors)
{
    js_compiler_t cc = {.name = name != NULL ? name : "schema", .errors = errors};
    cc.schema = hg_xcalloc(1, sizeof(*cc.schema));
    cc.compile_context = pcre2_compile_context_create(NULL);
    pcre2_set_compile_extra_options(cc.compile_context, PCRE2_EXTRA_ALT_BSUX);
    if (doc == NULL) {
        js_error(&cc, "", "no schema document");
    } else {
        cc.schema->root = js_compile_schema(&cc, doc, "", DEFAULT_BASE);
        /* a document without $id is still the resource its own relative references resolve in */
        if (cc.schema->root->base != NULL && strcmp(cc.schema->root->base, DEFAULT_BASE) == 0)
            js_register(&cc, &cc.resources, &cc.nresources, hg_xstrdup(DEFAULT_BASE), cc.schema->root, "");
        js_resolve_refs(&cc);
    }
    for (size_t i = 0; i != cc.nresources; ++i)
        free(cc.resources[i].uri);
    for (size_t i = 0; i != cc.nanchors; ++i)
        free(cc.anchors[i].uri);
    free(cc.resources);
    free(cc.anchors);
    pcre2_compile_context_free(cc.compile_context);
    hg_schema_t *s = cc.schema;
    for (size_t i = 0; i != s->nnodes; ++i) {
        s->nodes[i]->src = NULL;
        free(s->nodes[i]->base);
        s->nodes[i]->base = NULL;
    }
    if (cc.failed) {
        hg_schema_free(s);
        return NULL;
    }
    s->match_context = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(s->match_context, 1000000);
    pcre2_set_depth_limit(s->match_context, 10000);
    return s;
}

json_t *hg_schema_read(const char *path, hg_violations_t *errors)
{
    size_t len;
    char *text = hg_read_file(path, &len);
    if (text == NULL) {
        if (errors != NULL)
            hg_violations_add(errors, "", "schema", "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    json_error_t err;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    free(text);
    if (doc == NULL && errors != NULL)
        hg_violations_add(errors, "", "schema", "%s:%d:%d: %s", path, err.line, err.column, err.text);
    return doc;
}

hg_schema_t *hg_schema_load(const char *path, hg_violations_t *errors)
{
    json_t *doc = hg_schema_read(path, errors);
    if (doc == NULL)
        return NULL;
    hg_schema_t *s = hg_schema_compile(doc, path, errors);
    json_decref(doc);
    return s;
}
