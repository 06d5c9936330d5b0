/*
 * jsonschema_keywords.c: the table of JSON Schema keywords hubgate supports,
 * and for each one the function that checks its value and stores it in the
 * node (jsonschema_int.h) in the form validation uses: counts as size_t,
 * bounds as exact integers or doubles, names as arrays, subschemas compiled
 * through js_compile_schema, regular expressions through jsonschema_regex.c,
 * messages for enum and const prepared in advance. A value of the wrong shape
 * is a load error at the keyword's pointer. Annotations are checked for shape
 * only and never stored.
 */
#include "jsonschema_int.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_CAP 200

static char *ptr_index(const char *ptr, size_t i)
{
    return hg_xasprintf("%s/%zu", ptr, i);
}

/* the JSON text of a value, shortened to about TEXT_CAP bytes for messages */
static char *json_text(const json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (s == NULL)
        return hg_xstrdup("?");
    if (strlen(s) > TEXT_CAP) {
        s[TEXT_CAP - 3] = '\0';
        char *t = hg_xasprintf("%s...", s);
        free(s);
        return t;
    }
    return s;
}

/* a non-negative integer keyword value (2.0 counts: JSON Schema integers are mathematical) */
static int get_count(js_compiler_t *cc, const json_t *v, const char *ptr, size_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (size_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 0 && d == floor(d) && d < 9007199254740992.0) {
            *out = (size_t)d;
            return 0;
        }
    }
    js_error(cc, ptr, "must be a non-negative integer, not %s", hg_json_type_phrase(v));
    return -1;
}

static void format_double(char *buf, size_t size, double d)
{
    snprintf(buf, size, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, size, "%.17g", d);
}

static int get_number(js_compiler_t *cc, const json_t *v, const char *ptr, js_num_t *out)
{
    if (json_is_integer(v)) {
        out->is_int = 1;
        out->i = json_integer_value(v);
        out->d = (double)out->i;
        snprintf(out->text, sizeof(out->text), "%" JSON_INTEGER_FORMAT, out->i);
    } else if (json_is_real(v)) {
        out->is_int = 0;
        out->d = json_real_value(v);
        format_double(out->text, sizeof(out->text), out->d);
    } else {
        js_error(cc, ptr, "must be a number, not %s", hg_json_type_phrase(v));
        return -1;
    }
    out->present = 1;
    return 0;
}

/* an array of distinct strings (required, dependentRequired) */
static int get_names(js_compiler_t *cc, const json_t *v, const char *ptr, char ***out, size_t *count)
{
    if (!json_is_array(v)) {
        js_error(cc, ptr, "must be an array of strings, not %s", hg_json_type_phrase(v));
        return -1;
    }
    size_t n = json_array_size(v);
    char **names = hg_xcalloc(n, sizeof(*names));
    int ret = 0;
    for (size_t i = 0; i != n; ++i) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) {
            char *p = ptr_index(ptr, i);
            js_error(cc, p, "must be a string, not %s", hg_json_type_phrase(e));
            free(p);
            ret = -1;
            names[i] = hg_xstrdup("");
            continue;
        }
        names[i] = hg_xstrdup(json_string_value(e));
        for (size_t j = 0; j != i; ++j) {
            if (strcmp(names[j], names[i]) == 0) {
                char *p = ptr_index(ptr, i);
                js_error(cc, p, "\"%s\" is listed twice", names[i]);
                free(p);
                ret = -1;
            }
        }
    }
    *out = names;
    *count = n;
    return ret;
}

static js_node_t *child(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    return js_compile_schema(cc, v, kwptr, n->base);
}

static void child_list(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr, js_list_t *out)
{
    if (!json_is_array(v) || json_array_size(v) == 0) {
        js_error(cc, kwptr, "must be a non-empty array of schemas");
        return;
    }
    out->count = json_array_size(v);
    out->items = hg_xcalloc(out->count, sizeof(*out->items));
    for (size_t i = 0; i != out->count; ++i) {
        char *p = ptr_index(kwptr, i);
        out->items[i] = child(cc, n, json_array_get(v, i), p);
        free(p);
    }
}

/* ---- keyword handlers ---- */

static const char *const type_names[] = {"object", "array", "string", "integer", "number", "boolean", "null"};

static unsigned type_bit(const char *name)
{
    for (size_t i = 0; i != sizeof(type_names) / sizeof(type_names[0]); ++i)
        if (strcmp(type_names[i], name) == 0)
            return 1u << i;
    return 0;
}

static void kw_type(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (json_is_string(v)) {
        if ((n->types = type_bit(json_string_value(v))) == 0)
            js_error(cc, kwptr, "unknown type \"%s\"", json_string_value(v));
        return;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        js_error(cc, kwptr, "must be a type name or a non-empty array of type names");
        return;
    }
    for (size_t i = 0; i != json_array_size(v); ++i) {
        const json_t *e = json_array_get(v, i);
        unsigned bit = json_is_string(e) ? type_bit(json_string_value(e)) : 0;
        char *p = ptr_index(kwptr, i);
        if (bit == 0)
            js_error(cc, p, "must be one of object, array, string, integer, number, boolean, null");
        else if ((n->types & bit) != 0)
            js_error(cc, p, "type \"%s\" is listed twice", json_string_value(e));
        free(p);
        n->types |= bit;
    }
}

static void kw_enum(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_array(v)) {
        js_error(cc, kwptr, "must be an array, not %s", hg_json_type_phrase(v));
        return;
    }
    n->enum_values = json_deep_copy(v);
    size_t cap = 64, len = 0;
    char *text = hg_xmalloc(cap);
    text[0] = '\0';
    for (size_t i = 0; i != json_array_size(v); ++i) {
        char *one = json_text(json_array_get(v, i));
        size_t add = strlen(one) + 2;
        if (len + add > TEXT_CAP) {
            free(one);
            one = hg_xstrdup("...");
            add = 5;
            i = json_array_size(v) - 1;
        }
        if (len + add + 1 > cap)
            text = hg_xrealloc(text, cap = (len + add + 1) * 2);
        len += (size_t)sprintf(text + len, "%s%s", len != 0 ? ", " : "", one);
        free(one);
    }
    n->enum_text = text;
}

static void kw_const(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    n->const_value = json_deep_copy(v);
    n->const_text = json_text(v);
}

static void kw_properties(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_object(v)) {
        js_error(cc, kwptr, "must be an object, not %s", hg_json_type_phrase(v));
        return;
    }
    n->props = hg_xcalloc(json_object_size(v), sizeof(*n->props));
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        js_prop_t *p = &n->props[n->nprops++];
        p->len = json_object_iter_key_len(json_object_key_to_iter(key));
        p->name = hg_xstrndup(key, p->len);
        char *cp = js_ptr_key(kwptr, key);
        p->node = child(cc, n, value, cp);
        free(cp);
    }
    n->has_object_kw = 1;
}

static void kw_pattern_properties(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_object(v)) {
        js_error(cc, kwptr, "must be an object, not %s", hg_json_type_phrase(v));
        return;
    }
    n->patprops = hg_xcalloc(json_object_size(v), sizeof(*n->patprops));
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        js_patprop_t *p = &n->patprops[n->npatprops++];
        char *cp = js_ptr_key(kwptr, key);
        js_regex_compile(cc, &p->re, key, json_object_iter_key_len(json_object_key_to_iter(key)), cp);
        p->node = child(cc, n, value, cp);
        free(cp);
    }
    n->has_object_kw = 1;
}

static void kw_additional_properties(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    n->additional = child(cc, n, v, kwptr);
    n->has_object_kw = 1;
}

static void kw_property_names(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    n->property_names = child(cc, n, v, kwptr);
    n->has_object_kw = 1;
}

static void kw_min_properties(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_count(cc, v, kwptr, &n->min_props);
    n->has_object_kw = 1;
}

static void kw_max_properties(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_count(cc, v, kwptr, &n->max_props);
    n->has_object_kw = 1;
}

static void kw_required(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_names(cc, v, kwptr, &n->required, &n->nrequired);
    n->has_object_kw = 1;
}

static void kw_dependent_required(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_object(v)) {
        js_error(cc, kwptr, "must be an object, not %s", hg_json_type_phrase(v));
        return;
    }
    n->dep_required = hg_xcalloc(json_object_size(v), sizeof(*n->dep_required));
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        js_depreq_t *d = &n->dep_required[n->ndep_required++];
        d->name = hg_xstrdup(key);
        char *cp = js_ptr_key(kwptr, key);
        get_names(cc, value, cp, &d->required, &d->nrequired);
        free(cp);
    }
    n->has_object_kw = 1;
}

static void kw_items(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (json_is_array(v))
        js_error(cc, kwptr, "must be a schema; the array form of items is draft 2019-09 and older (use prefixItems)");
    else
        n->items = child(cc, n, v, kwptr);
    n->has_array_kw = 1;
}

static void kw_prefix_items(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    child_list(cc, n, v, kwptr, &n->prefix);
    n->has_array_kw = 1;
}

static void kw_contains(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    n->contains = child(cc, n, v, kwptr);
    n->has_array_kw = 1;
}

static void kw_min_contains(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_count(cc, v, kwptr, &n->min_contains);
}

static void kw_max_contains(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_count(cc, v, kwptr, &n->max_contains);
}

static void kw_min_items(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_count(cc, v, kwptr, &n->min_items);
    n->has_array_kw = 1;
}

static void kw_max_items(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_count(cc, v, kwptr, &n->max_items);
    n->has_array_kw = 1;
}

static void kw_unique_items(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_boolean(v))
        js_error(cc, kwptr, "must be a boolean, not %s", hg_json_type_phrase(v));
    n->unique = json_is_true(v);
    n->has_array_kw |= n->unique;
}

static void kw_min_length(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_count(cc, v, kwptr, &n->min_len);
    n->has_string_kw = 1;
}

static void kw_max_length(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_count(cc, v, kwptr, &n->max_len);
    n->has_string_kw = 1;
}

static void kw_pattern(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_string(v)) {
        js_error(cc, kwptr, "must be a string, not %s", hg_json_type_phrase(v));
        return;
    }
    js_regex_compile(cc, &n->pattern, json_string_value(v), json_string_length(v), kwptr);
    n->has_string_kw = 1;
}

static void kw_minimum(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_number(cc, v, kwptr, &n->minimum);
    n->has_number_kw = 1;
}

static void kw_maximum(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_number(cc, v, kwptr, &n->maximum);
    n->has_number_kw = 1;
}

static void kw_exclusive_minimum(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_number(cc, v, kwptr, &n->exclusive_minimum);
    n->has_number_kw = 1;
}

static void kw_exclusive_maximum(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    get_number(cc, v, kwptr, &n->exclusive_maximum);
    n->has_number_kw = 1;
}

static void kw_multiple_of(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (get_number(cc, v, kwptr, &n->multiple_of) == 0 && !(n->multiple_of.d > 0))
        js_error(cc, kwptr, "must be greater than 0");
    n->has_number_kw = 1;
}

static void kw_all_of(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    child_list(cc, n, v, kwptr, &n->all_of);
}

static void kw_any_of(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    child_list(cc, n, v, kwptr, &n->any_of);
}

static void kw_one_of(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    child_list(cc, n, v, kwptr, &n->one_of);
}

static void kw_not(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    n->not_ = child(cc, n, v, kwptr);
}

static void kw_if(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    n->if_ = child(cc, n, v, kwptr);
}

static void kw_then(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    n->then_ = child(cc, n, v, kwptr);
}

static void kw_else(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    n->else_ = child(cc, n, v, kwptr);
}

static void kw_ref(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_string(v))
        js_error(cc, kwptr, "must be a string, not %s", hg_json_type_phrase(v));
    else
        n->ref = hg_xstrdup(json_string_value(v));
}

static void kw_defs(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_object(v)) {
        js_error(cc, kwptr, "must be an object, not %s", hg_json_type_phrase(v));
        return;
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        char *cp = js_ptr_key(kwptr, key);
        child(cc, n, value, cp);
        free(cp);
    }
}

static void kw_anchor(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    const char *a = json_string_value(v);
    int ok = a != NULL && (a[0] == '_' || ((a[0] | 0x20) >= 'a' && (a[0] | 0x20) <= 'z'));
    for (const char *s = a; ok && *s != '\0'; ++s)
        ok = *s == '-' || *s == '.' || *s == '_' || (*s >= '0' && *s <= '9') || ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z');
    if (!ok) {
        js_error(cc, kwptr, "must be a name of letters, digits, \"-\", \"_\" and \".\", starting with a letter or \"_\"");
        return;
    }
    js_register(cc, &cc->anchors, &cc->nanchors, hg_xasprintf("%s#%s", n->base, a), n, kwptr);
}

static void kw_string_annotation(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_string(v))
        js_error(cc, kwptr, "must be a string, not %s", hg_json_type_phrase(v));
}

static void kw_boolean_annotation(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_boolean(v))
        js_error(cc, kwptr, "must be a boolean, not %s", hg_json_type_phrase(v));
}

static void kw_examples(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
    if (!json_is_array(v))
        js_error(cc, kwptr, "must be an array, not %s", hg_json_type_phrase(v));
}

static void kw_nothing(js_compiler_t *cc, js_node_t *n, const json_t *v, const char *kwptr)
{
}

static const struct {
    const char *name;
    kw_fn_t fn;
} keywords[] = {
    {"type", kw_type},
    {"enum", kw_enum},
    {"const", kw_const},
    {"properties", kw_properties},
    {"patternProperties", kw_pattern_properties},
    {"additionalProperties", kw_additional_properties},
    {"propertyNames", kw_property_names},
    {"minProperties", kw_min_properties},
    {"maxProperties", kw_max_properties},
    {"required", kw_required},
    {"dependentRequired", kw_dependent_required},
    {"items", kw_items},
    {"prefixItems", kw_prefix_items},
    {"contains", kw_contains},
    {"minContains", kw_min_contains},
    {"maxContains", kw_max_contains},
    {"minItems", kw_min_items},
    {"maxItems", kw_max_items},
    {"uniqueItems", kw_unique_items},
    {"minLength", kw_min_length},
    {"maxLength", kw_max_length},
    {"pattern", kw_pattern},
    {"minimum", kw_minimum},
    {"maximum", kw_maximum},
    {"exclusiveMinimum", kw_exclusive_minimum},
    {"exclusiveMaximum", kw_exclusive_maximum},
    {"multipleOf", kw_multiple_of},
    {"allOf", kw_all_of},
    {"anyOf", kw_any_of},
    {"oneOf", kw_one_of},
    {"not", kw_not},
    {"if", kw_if},
    {"then", kw_then},
    {"else", kw_else},
    {"$ref", kw_ref},
    {"$defs", kw_defs},
    {"definitions", kw_defs},
    {"$anchor", kw_anchor},
    {"$id", kw_nothing},     /* handled before the other keywords */
    {"$schema", kw_nothing}, /* handled before the other keywords */
    {"title", kw_string_annotation},
    {"description", kw_string_annotation},
    {"$comment", kw_string_annotation},
    {"format", kw_string_annotation},
    {"contentMediaType", kw_string_annotation},
    {"contentEncoding", kw_string_annotation},
    {"default", kw_nothing},
    {"examples", kw_examples},
    {"deprecated", kw_boolean_annotation},
    {"readOnly", kw_boolean_annotation},
    {"writeOnly", kw_boolean_annotation},
};

/* keywords of JSON Schema that hubgate knowingly does not implement */
static const char *const unsupported[] = {"$dynamicRef",  "$dynamicAnchor",   "$recursiveRef",         "$recursiveAnchor",
                                          "$vocabulary",  "unevaluatedItems", "unevaluatedProperties", "dependentSchemas",
                                          "dependencies", "additionalItems",  "contentSchema"};

kw_fn_t js_find_keyword(const char *name)
{
    for (size_t i = 0; i != sizeof(keywords) / sizeof(keywords[0]); ++i)
        if (strcmp(keywords[i].name, name) == 0)
            return keywords[i].fn;
    return NULL;
}

int js_keyword_unsupported(const char *name)
{
    for (size_t i = 0; i != sizeof(unsupported) / sizeof(unsupported[0]); ++i)
        if (strcmp(unsupported[i], name) == 0)
            return 1;
    return 0;
}
