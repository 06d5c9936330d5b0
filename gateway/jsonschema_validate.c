/*
 * jsonschema_validate.c: walks a compiled schema (jsonschema_int.h) over an
 * instance.
 *
 * Two modes share one walk. Reporting mode (an output list was given) visits
 * everything and reports each violation with the instance's JSON pointer,
 * kept in one hg_jptr_t that grows and shrinks as the walk descends. Deciding
 * mode (no list) stops at the first violation and builds neither pointers nor
 * messages; anyOf, oneOf, not, if and contains always evaluate their
 * subschemas that way, so that what happens inside them never leaks into the
 * output, and then report one violation of their own. The success path
 * allocates nothing per node: one pointer buffer and, on the first regular
 * expression, one PCRE2 match block per call. hg_schema_validate always
 * decides first and walks again in reporting mode only when the instance is
 * invalid, so a valid body costs the same with or without an output list.
 */
#include "jsonschema_int.h"
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_vctx_t {
    const hg_schema_t *schema;
    hg_violations_t *out; /* NULL while deciding */
    hg_jptr_t ptr;        /* meaningful while reporting */
    unsigned depth;
    pcre2_match_data *md;
} vctx_t;

static void report(vctx_t *c, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void report(vctx_t *c, const char *code, const char *fmt, ...)
{
    if (c->out == NULL)
        return;
    if (c->out->count >= c->out->limit) {
        hg_violations_add(c->out, c->ptr.buf, code, "%s", ""); /* only counted */
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg;
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    hg_violations_add(c->out, c->ptr.buf, code, "%s", msg);
    free(msg);
}

static size_t push_key(vctx_t *c, const char *key)
{
    return c->out != NULL ? hg_jptr_push_key(&c->ptr, key) : 0;
}

static size_t push_index(vctx_t *c, size_t i)
{
    return c->out != NULL ? hg_jptr_push_index(&c->ptr, i) : 0;
}

static void pop(vctx_t *c, size_t at)
{
    if (c->out != NULL)
        hg_jptr_truncate(&c->ptr, at);
}

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* ---- types ---- */

static const char *const type_phrases[] = {"an object", "an array", "a string", "an integer", "a number", "a boolean", "null"};

static int is_integral(double d)
{
    return isfinite(d) && d == floor(d);
}

static unsigned instance_types(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return JS_T_OBJECT;
    case JSON_ARRAY:
        return JS_T_ARRAY;
    case JSON_STRING:
        return JS_T_STRING;
    case JSON_INTEGER:
        return JS_T_INTEGER | JS_T_NUMBER;
    case JSON_REAL:
        return JS_T_NUMBER | (is_integral(json_real_value(v)) ? JS_T_INTEGER : 0);
    case JSON_TRUE:
    case JSON_FALSE:
        return JS_T_BOOLEAN;
    default:
        return JS_T_NULL;
    }
}

static void report_type(vctx_t *c, unsigned types, const json_t *v)
{
    if (c->out == NULL)
        return;
    if ((types & JS_T_NUMBER) != 0)
        types &= ~JS_T_INTEGER;
    char buf[128];
    size_t len = 0, total = (size_t)__builtin_popcount(types), seen = 0;
    buf[0] = '\0';
    for (size_t i = 0; i != 7; ++i) {
        if ((types & (1u << i)) == 0)
            continue;
        ++seen;
        const char *sep = seen == 1 ? "" : seen == total ? " or " : ", ";
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", sep, type_phrases[i]);
    }
    report(c, "type", "must be %s, not %s", buf, hg_json_type_phrase(v));
}

/* ---- numbers ---- */

static int num_cmp(const json_t *v, const js_num_t *b)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (b->is_int)
            return (i > b->i) - (i < b->i);
        long double x = (long double)i, y = b->d;
        return (x > y) - (x < y);
    }
    double d = json_real_value(v);
    if (b->is_int) {
        long double x = d, y = (long double)b->i;
        return (x > y) - (x < y);
    }
    return (d > b->d) - (d < b->d);
}

static int is_multiple(const json_t *v, const js_num_t *m)
{
    if (json_is_integer(v) && m->is_int)
        return json_integer_value(v) % m->i == 0;
    double x = json_number_value(v), q = x / m->d;
    if (!isfinite(q))
        return fmod(x, m->d) == 0;
    /* x and m are decimal literals rounded to binary: allow a few ulps of q */
    return fabs(q - nearbyint(q)) <= fabs(q) * 4 * DBL_EPSILON;
}

/* ---- equality and hashing for enum, const and uniqueItems ---- */

static int numbers_equal(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_real(a) && json_is_real(b))
        return json_real_value(a) == json_real_value(b);
    const json_t *i = json_is_integer(a) ? a : b, *r = json_is_integer(a) ? b : a;
    return (long double)json_integer_value(i) == (long double)json_real_value(r);
}

int js_json_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return numbers_equal(a, b);
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i != json_array_size(a); ++i)
            if (!js_json_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *key;
        size_t klen;
        json_t *value;
        json_object_keylen_foreach((json_t *)a, key, klen, value)
        {
            const json_t *other = json_object_getn(b, key, klen);
            if (other == NULL || !js_json_equal(value, other))
                return 0;
        }
        return 1;
    }
    default:
        return 1;
    }
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i != n; ++i)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

/* equal values (js_json_equal) hash alike: 1 and 1.0 included */
static uint64_t hash_json(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        return mix((uint64_t)json_integer_value(v));
    case JSON_REAL: {
        double d = json_real_value(v);
        if (is_integral(d) && d >= -9.2e18 && d <= 9.2e18)
            return mix((uint64_t)(json_int_t)d);
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        return mix(bits ^ 0x5555);
    }
    case JSON_STRING:
        return hash_bytes(json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        uint64_t h = 0xa11a7;
        for (size_t i = 0; i != json_array_size(v); ++i)
            h = mix(h ^ hash_json(json_array_get(v, i)));
        return h;
    }
    case JSON_OBJECT: {
        uint64_t h = 0x0b1ec7;
        const char *key;
        size_t klen;
        json_t *value;
        json_object_keylen_foreach((json_t *)v, key, klen, value) h += mix(hash_bytes(key, klen) ^ mix(hash_json(value)));
        return h;
    }
    case JSON_TRUE:
        return 1;
    case JSON_FALSE:
        return 2;
    default:
        return 3;
    }
}

typedef struct st_hashed_t {
    uint64_t hash;
    size_t index;
} hashed_t;

static int cmp_hashed(const void *a, const void *b)
{
    const hashed_t *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* finds two equal items; returns 1 with their indices (first < second) */
static int find_duplicate(const json_t *a, size_t *first, size_t *second)
{
    size_t n = json_array_size(a);
    if (n <= 16) {
        for (size_t j = 1; j < n; ++j)
            for (size_t i = 0; i != j; ++i)
                if (js_json_equal(json_array_get(a, i), json_array_get(a, j))) {
                    *first = i;
                    *second = j;
                    return 1;
                }
        return 0;
    }
    hashed_t *h = hg_xmalloc(n * sizeof(*h));
    for (size_t i = 0; i != n; ++i)
        h[i] = (hashed_t){hash_json(json_array_get(a, i)), i};
    qsort(h, n, sizeof(*h), cmp_hashed);
    int found = 0;
    for (size_t i = 0; i < n && !found; ++i)
        for (size_t j = i + 1; j < n && h[j].hash == h[i].hash && !found; ++j)
            if (js_json_equal(json_array_get(a, h[i].index), json_array_get(a, h[j].index))) {
                *first = h[i].index;
                *second = h[j].index;
                found = 1;
            }
    free(h);
    return found;
}

/* ---- the walk ---- */

static int validate(vctx_t *c, const js_node_t *n, const json_t *v, const char *via);

/* evaluates a subschema without reporting: 1 when it holds */
static int holds(vctx_t *c, const js_node_t *n, const json_t *v)
{
    hg_violations_t *saved = c->out;
    c->out = NULL;
    int r = validate(c, n, v, "");
    c->out = saved;
    return r == 0;
}

/* sets *ok and says whether to stop (deciding mode stops at the first violation) */
static int fail(vctx_t *c, int *ok)
{
    *ok = -1;
    return c->out == NULL;
}

const js_prop_t *js_find_prop(const js_node_t *n, const char *key, size_t klen)
{
    for (size_t i = 0; i != n->nprops; ++i)
        if (n->props[i].len == klen && memcmp(n->props[i].name, key, klen) == 0)
            return &n->props[i];
    return NULL;
}

/* a member against one subschema: a false schema refuses the property by name */
static int member(vctx_t *c, const js_node_t *child, const char *key, const json_t *value, const char *kw)
{
    if (child->boolean == 0) {
        report(c, kw, "property \"%s\" is not allowed", key);
        return -1;
    }
    return validate(c, child, value, kw);
}

static int check_property_name(vctx_t *c, const js_node_t *n, const char *key, size_t klen)
{
    json_t *name = json_stringn_nocheck(key, klen);
    int r = 0;
    if (!holds(c, n->property_names, name)) {
        r = -1;
        if (c->out != NULL) {
            hg_violations_t why;
            hg_violations_init(&why, 1);
            hg_violations_t *saved = c->out;
            c->out = &why;
            validate(c, n->property_names, name, "propertyNames");
            c->out = saved;
            report(c, "propertyNames", "property name \"%s\" is not valid: %s", key,
                   why.count != 0 ? why.items[0].message : "refused by propertyNames");
            hg_violations_clear(&why);
        }
    }
    json_decref(name);
    return r;
}

static int validate_object(vctx_t *c, const js_node_t *n, const json_t *v)
{
    int ok = 0;
    size_t size = json_object_size(v);
    if (size < n->min_props) {
        report(c, "minProperties", "must have at least %zu %s, has %zu", n->min_props,
               plural(n->min_props, "property", "properties"), size);
        if (fail(c, &ok))
            return -1;
    }
    if (size > n->max_props) {
        report(c, "maxProperties", "must have at most %zu %s, has %zu", n->max_props,
               plural(n->max_props, "property", "properties"), size);
        if (fail(c, &ok))
            return -1;
    }
    for (size_t i = 0; i != n->nrequired; ++i) {
        if (json_object_get(v, n->required[i]) != NULL)
            continue;
        size_t at = push_key(c, n->required[i]);
        report(c, "required", "required property \"%s\" is missing", n->required[i]);
        pop(c, at);
        if (fail(c, &ok))
            return -1;
    }
    for (size_t d = 0; d != n->ndep_required; ++d) {
        const js_depreq_t *dep = &n->dep_required[d];
        if (json_object_get(v, dep->name) == NULL)
            continue;
        for (size_t i = 0; i != dep->nrequired; ++i) {
            if (json_object_get(v, dep->required[i]) != NULL)
                continue;
            size_t at = push_key(c, dep->required[i]);
            report(c, "dependentRequired", "property \"%s\" is required when \"%s\" is present", dep->required[i], dep->name);
            pop(c, at);
            if (fail(c, &ok))
                return -1;
        }
    }
    if (n->nprops == 0 && n->npatprops == 0 && n->additional == NULL && n->property_names == NULL)
        return ok;
    const char *key;
    size_t klen;
    json_t *value;
    json_object_keylen_foreach((json_t *)v, key, klen, value)
    {
        size_t at = push_key(c, key);
        int matched = 0, r = 0;
        if (n->property_names != NULL && check_property_name(c, n, key, klen) != 0)
            r = -1;
        const js_prop_t *p = js_find_prop(n, key, klen);
        if (p != NULL && (r == 0 || c->out != NULL)) {
            matched = 1;
            if (member(c, p->node, key, value, "properties") != 0)
                r = -1;
        }
        for (size_t i = 0; i != n->npatprops && (r == 0 || c->out != NULL); ++i) {
            const js_patprop_t *pp = &n->patprops[i];
            int m = js_regex_search(c->schema, &pp->re, &c->md, key, klen);
            if (m < 0) {
                report(c, "patternProperties", "property name could not be checked against the pattern %s (match limit reached)",
                       pp->re.source);
                r = -1;
            } else if (m > 0) {
                matched = 1;
                if (member(c, pp->node, key, value, "patternProperties") != 0)
                    r = -1;
            }
        }
        if (!matched && n->additional != NULL && (r == 0 || c->out != NULL))
            if (member(c, n->additional, key, value, "additionalProperties") != 0)
                r = -1;
        pop(c, at);
        if (r != 0 && fail(c, &ok))
            return -1;
    }
    return ok;
}

static int validate_array(vctx_t *c, const js_node_t *n, const json_t *v)
{
    int ok = 0;
    size_t size = json_array_size(v);
    if (size < n->min_items) {
        report(c, "minItems", "must have at least %zu %s, has %zu", n->min_items, plural(n->min_items, "item", "items"), size);
        if (fail(c, &ok))
            return -1;
    }
    if (size > n->max_items) {
        report(c, "maxItems", "must have at most %zu %s, has %zu", n->max_items, plural(n->max_items, "item", "items"), size);
        if (fail(c, &ok))
            return -1;
    }
    size_t first = 0, second = 0;
    if (n->unique && find_duplicate(v, &first, &second)) {
        report(c, "uniqueItems", "must not contain duplicate items (items %zu and %zu are equal)", first, second);
        if (fail(c, &ok))
            return -1;
    }
    if (n->prefix.count != 0 || n->items != NULL) {
        for (size_t i = 0; i != size; ++i) {
            const js_node_t *child = i < n->prefix.count ? n->prefix.items[i] : n->items;
            const char *kw = i < n->prefix.count ? "prefixItems" : "items";
            if (child == NULL)
                break;
            size_t at = push_index(c, i);
            int r;
            if (child->boolean == 0) {
                if (i >= n->prefix.count)
                    report(c, kw, "no item is allowed at this position (at most %zu %s)", n->prefix.count,
                           plural(n->prefix.count, "item", "items"));
                else
                    report(c, kw, "no item is allowed at this position");
                r = -1;
            } else {
                r = validate(c, child, json_array_get(v, i), kw);
            }
            pop(c, at);
            if (r != 0 && fail(c, &ok))
                return -1;
        }
    }
    if (n->contains != NULL) {
        size_t count = 0;
        for (size_t i = 0; i != size; ++i)
            count += holds(c, n->contains, json_array_get(v, i));
        if (count < n->min_contains) {
            if (n->min_contains == 1)
                report(c, "contains", "must contain at least one item that matches the contains schema");
            else
                report(c, "minContains", "must contain at least %zu items that match the contains schema, has %zu", n->min_contains,
                       count);
            if (fail(c, &ok))
                return -1;
        }
        if (count > n->max_contains) {
            report(c, "maxContains", "must contain at most %zu %s that match%s the contains schema, has %zu", n->max_contains,
                   plural(n->max_contains, "item", "items"), n->max_contains == 1 ? "es" : "", count);
            if (fail(c, &ok))
                return -1;
        }
    }
    return ok;
}

static size_t code_points(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i != n; ++i)
        count += ((unsigned char)s[i] & 0xc0) != 0x80;
    return count;
}

static int validate_string(vctx_t *c, const js_node_t *n, const json_t *v)
{
    int ok = 0;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (n->min_len != 0 || n->max_len != SIZE_MAX) {
        size_t chars = code_points(s, len);
        if (chars < n->min_len) {
            report(c, "minLength", "must be at least %zu %s long, has %zu", n->min_len,
                   plural(n->min_len, "character", "characters"), chars);
            if (fail(c, &ok))
                return -1;
        }
        if (chars > n->max_len) {
            report(c, "maxLength", "must be at most %zu %s long, has %zu", n->max_len,
                   plural(n->max_len, "character", "characters"), chars);
            if (fail(c, &ok))
                return -1;
        }
    }
    if (n->pattern.code != NULL) {
        int m = js_regex_search(c->schema, &n->pattern, &c->md, s, len);
        if (m == 0)
            report(c, "pattern", "must match the pattern %s", n->pattern.source);
        else if (m < 0)
            report(c, "pattern", "could not be checked against the pattern %s (match limit reached)", n->pattern.source);
        if (m != 1 && fail(c, &ok))
            return -1;
    }
    return ok;
}

static int validate_number(vctx_t *c, const js_node_t *n, const json_t *v)
{
    int ok = 0;
    if (n->minimum.present && num_cmp(v, &n->minimum) < 0) {
        report(c, "minimum", "must be at least %s", n->minimum.text);
        if (fail(c, &ok))
            return -1;
    }
    if (n->maximum.present && num_cmp(v, &n->maximum) > 0) {
        report(c, "maximum", "must be at most %s", n->maximum.text);
        if (fail(c, &ok))
            return -1;
    }
    if (n->exclusive_minimum.present && num_cmp(v, &n->exclusive_minimum) <= 0) {
        report(c, "exclusiveMinimum", "must be greater than %s", n->exclusive_minimum.text);
        if (fail(c, &ok))
            return -1;
    }
    if (n->exclusive_maximum.present && num_cmp(v, &n->exclusive_maximum) >= 0) {
        report(c, "exclusiveMaximum", "must be less than %s", n->exclusive_maximum.text);
        if (fail(c, &ok))
            return -1;
    }
    if (n->multiple_of.present && !is_multiple(v, &n->multiple_of)) {
        report(c, "multipleOf", "must be a multiple of %s", n->multiple_of.text);
        if (fail(c, &ok))
            return -1;
    }
    return ok;
}

static int validate_in_place(vctx_t *c, const js_node_t *n, const json_t *v)
{
    int ok = 0;
    if (n->ref_node != NULL && validate(c, n->ref_node, v, "$ref") != 0 && fail(c, &ok))
        return -1;
    for (size_t i = 0; i != n->all_of.count; ++i)
        if (validate(c, n->all_of.items[i], v, "allOf") != 0 && fail(c, &ok))
            return -1;
    if (n->any_of.count != 0) {
        size_t i = 0;
        while (i != n->any_of.count && !holds(c, n->any_of.items[i], v))
            ++i;
        if (i == n->any_of.count) {
            report(c, "anyOf", "must match at least one of the schemas in anyOf");
            if (fail(c, &ok))
                return -1;
        }
    }
    if (n->one_of.count != 0) {
        size_t matches = 0, first = 0, second = 0;
        for (size_t i = 0; i != n->one_of.count && matches < 2; ++i) {
            if (holds(c, n->one_of.items[i], v)) {
                if (matches++ == 0)
                    first = i;
                else
                    second = i;
            }
        }
        if (matches != 1) {
            if (matches == 0)
                report(c, "oneOf", "must match exactly one of the schemas in oneOf, matches none");
            else
                report(c, "oneOf", "must match exactly one of the schemas in oneOf, matches schemas %zu and %zu", first, second);
            if (fail(c, &ok))
                return -1;
        }
    }
    if (n->not_ != NULL && holds(c, n->not_, v)) {
        report(c, "not", "must not match the schema in not");
        if (fail(c, &ok))
            return -1;
    }
    if (n->if_ != NULL) {
        const js_node_t *branch = holds(c, n->if_, v) ? n->then_ : n->else_;
        if (branch != NULL && validate(c, branch, v, branch == n->then_ ? "then" : "else") != 0 && fail(c, &ok))
            return -1;
    }
    return ok;
}

static int validate(vctx_t *c, const js_node_t *n, const json_t *v, const char *via)
{
    if (n->boolean == 1)
        return 0;
    if (n->boolean == 0) {
        report(c, *via != '\0' ? via : "false", "no value is allowed here");
        return -1;
    }
    if (c->depth >= HG_SCHEMA_MAX_DEPTH) {
        report(c, "too_deep", "is nested deeper than the %d schema levels the validator follows", HG_SCHEMA_MAX_DEPTH);
        return -1;
    }
    ++c->depth;
    int ok = 0;
    if (n->types != 0 && (instance_types(v) & n->types) == 0) {
        report_type(c, n->types, v);
        if (fail(c, &ok))
            goto Exit;
    }
    if (n->const_value != NULL && !js_json_equal(n->const_value, v)) {
        report(c, "const", "must be equal to %s", n->const_text);
        if (fail(c, &ok))
            goto Exit;
    }
    if (n->enum_values != NULL) {
        size_t i = 0, count = json_array_size(n->enum_values);
        while (i != count && !js_json_equal(json_array_get(n->enum_values, i), v))
            ++i;
        if (i == count) {
            report(c, "enum", "must be one of %s", n->enum_text);
            if (fail(c, &ok))
                goto Exit;
        }
    }
    int r = 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (n->has_object_kw)
            r = validate_object(c, n, v);
        break;
    case JSON_ARRAY:
        if (n->has_array_kw)
            r = validate_array(c, n, v);
        break;
    case JSON_STRING:
        if (n->has_string_kw)
            r = validate_string(c, n, v);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        if (n->has_number_kw)
            r = validate_number(c, n, v);
        break;
    default:
        break;
    }
    if (r != 0 && fail(c, &ok))
        goto Exit;
    if (validate_in_place(c, n, v) != 0)
        ok = -1;
Exit:
    --c->depth;
    return ok;
}

int hg_schema_validate(const hg_schema_t *s, const json_t *instance, hg_violations_t *out)
{
    /* decide first: a valid instance (the common case) then costs no pointer building at all */
    vctx_t c = {.schema = s};
    int r = validate(&c, s->root, instance, "");
    if (r != 0 && out != NULL) {
        c.out = out;
        hg_jptr_init(&c.ptr);
        validate(&c, s->root, instance, "");
        hg_jptr_dispose(&c.ptr);
    }
    pcre2_match_data_free(c.md);
    return r;
}
