/*
 * normalize.c: the request body pipeline and the object type path step. See normalize.h.
 *
 * The associations pipeline keeps the parsed tree as the one representation of the body until the
 * canonical bytes are written: coercion and pruning edit it in place (never changing array indices,
 * so the validator's pointers stay those of the client's body), and once the body is valid the
 * forwarded pairs are read from it into one array that is sorted to find duplicates and then
 * written out in the client's order.
 */
#include "normalize.h"
#include "assocpairs.h"
#include "assocscan.h"
#include "jsonstrict.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SDK_MESSAGE                                                                                                                \
    "required property \"from\" is missing (HubSpot's Node SDK sends \"to\" alone when a caller writes \"from\" instead of its "   \
    "model's \"_from\")"

static const char *const side_names[2] = {"from", "to"};

/*
 * The members of obj named a and b (b may be NULL; so may vb then) found in one pass over its
 * members: cheaper than a hash lookup each for the one or two members an input or a record has.
 * Returns how many it found; a member not found is NULL.
 */
static size_t find_members(json_t *obj, const char *a, json_t **va, const char *b, json_t **vb)
{
    size_t alen = strlen(a), blen = b != NULL ? strlen(b) : 0, found = 0;
    *va = NULL;
    if (vb != NULL)
        *vb = NULL;
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        size_t len = json_object_iter_key_len(it);
        if (len == alen && memcmp(key, a, alen) == 0) {
            *va = json_object_iter_value(it);
            ++found;
        } else if (b != NULL && len == blen && memcmp(key, b, blen) == 0) {
            *vb = json_object_iter_value(it);
            ++found;
        }
    }
    return found;
}

/* ---- coercion ---- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* coerces obj.id (obj is an input's "from" or "to"); returns 1 when it changed */
static int coerce_id(json_t *obj)
{
    json_t *id;
    find_members(obj, "id", &id, NULL, NULL);
    if (json_is_integer(id)) {
        json_int_t v = json_integer_value(id);
        if (v < 0)
            return 0;
        char digits[24];
        int n = snprintf(digits, sizeof(digits), "%" JSON_INTEGER_FORMAT, v);
        json_object_set_new(obj, "id", json_stringn(digits, (size_t)n));
        return 1;
    }
    if (json_is_string(id)) {
        const char *s = json_string_value(id);
        size_t len = json_string_length(id), start = 0, end = len;
        while (start != end && is_space(s[start]))
            ++start;
        while (end != start && is_space(s[end - 1]))
            --end;
        if (start == 0 && end == len)
            return 0;
        json_string_setn(id, s + start, end - start);
        return 1;
    }
    return 0;
}

static size_t coerce_ids(json_t *inputs)
{
    size_t count = 0, i;
    json_t *input;
    json_array_foreach(inputs, i, input)
    {
        json_t *sides[2];
        if (!json_is_object(input))
            continue;
        find_members(input, "from", &sides[0], "to", &sides[1]);
        for (int side = 0; side != 2; ++side)
            if (json_is_object(sides[side]))
                count += coerce_id(sides[side]);
    }
    return count;
}

/* ---- the shape the canonical body needs, read into pairs ---- */

/* where a problem is: "" (depth 0), /inputs (1), /inputs/N (2), /inputs/N/from (3), /inputs/N/from/id (4) */
struct place {
    int depth;
    size_t index;
    int side;
};

struct shape_ctx {
    hg_violations_t *errors;
    int reject_unknown;
    int ok;
    size_t dropped;
};

/* the pointer of a place, written only when a problem is reported */
static void place_pointer(const struct place *pl, char *buf, size_t size)
{
    switch (pl->depth) {
    case 0:
        snprintf(buf, size, "%s", "");
        break;
    case 1:
        snprintf(buf, size, "/inputs");
        break;
    case 2:
        snprintf(buf, size, "/inputs/%zu", pl->index);
        break;
    default:
        snprintf(buf, size, "/inputs/%zu/%s%s", pl->index, side_names[pl->side], pl->depth == 4 ? "/id" : "");
        break;
    }
}

__attribute__((format(printf, 4, 5))) static void shape_fail(struct shape_ctx *c, const struct place *pl, const char *code,
                                                             const char *fmt, ...)
{
    char in[64], message[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    place_pointer(pl, in, sizeof(in));
    c->ok = 0;
    hg_violations_add(c->errors, in, code, "%s", message);
}

/*
 * members of obj other than `a` and `b` (b may be NULL), under pl: refused, or counted as dropped;
 * `known` is how many of a and b obj has (the caller has looked them up already)
 */
static void shape_unknown(struct shape_ctx *c, const struct place *pl, json_t *obj, size_t known, const char *a, const char *b)
{
    if (json_object_size(obj) == known)
        return;
    if (!c->reject_unknown) {
        c->dropped += json_object_size(obj) - known;
        return;
    }
    char base[64];
    place_pointer(pl, base, sizeof(base));
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        if (strcmp(key, a) == 0 || (b != NULL && strcmp(key, b) == 0))
            continue;
        hg_jptr_t p;
        hg_jptr_init(&p);
        hg_jptr_push_key(&p, key);
        char *in = hg_xasprintf("%s%s", base, p.buf);
        c->ok = 0;
        hg_violations_add(c->errors, in, "additionalProperties", "property \"%s\" is not allowed", key);
        free(in);
        hg_jptr_dispose(&p);
    }
}

/* obj = input.from or input.to (NULL: absent; pl is the input's place) into p; 0 when it is not usable */
static int shape_side(struct shape_ctx *c, struct place pl, json_t *obj, int side, hg_assoc_pair_t *p)
{
    pl.depth = 3;
    pl.side = side;
    if (obj == NULL) {
        shape_fail(c, &pl, "required", "required property \"%s\" is missing", side_names[side]);
        return 0;
    }
    if (!json_is_object(obj)) {
        shape_fail(c, &pl, "type", "must be an object, not %s", hg_json_type_phrase(obj));
        return 0;
    }
    json_t *id;
    shape_unknown(c, &pl, obj, find_members(obj, "id", &id, NULL, NULL), "id", NULL);
    pl.depth = 4;
    if (id == NULL) {
        shape_fail(c, &pl, "required", "required property \"%s\" is missing", "id");
        return 0;
    }
    if (!json_is_string(id)) {
        shape_fail(c, &pl, "type", "must be a string, not %s", hg_json_type_phrase(id));
        return 0;
    }
    p->id[side] = json_string_value(id);
    p->len[side] = (unsigned char)json_string_length(id);
    if ((p->key[side] = hg_assoc_id_key(p->id[side], json_string_length(id))) == 0) {
        shape_fail(c, &pl, "pattern", "must match the pattern %s", "^[0-9]{1,20}$");
        return 0;
    }
    return 1;
}

/*
 * Checks that root has the shape the canonical body needs and reads its pairs into pairs[] (room
 * for json_array_size(/inputs)). 1 when it has; otherwise 0 with violations added. Members the
 * canonical body does not carry are added to *dropped, or refused with reject_unknown.
 */
static int read_pairs(json_t *root, int reject_unknown, hg_assoc_pair_t *pairs, hg_violations_t *errors, size_t *dropped)
{
    struct shape_ctx c = {.errors = errors, .reject_unknown = reject_unknown, .ok = 1};
    struct place pl = {0};
    if (!json_is_object(root)) {
        shape_fail(&c, &pl, "type", "must be an object, not %s", hg_json_type_phrase(root));
        return 0;
    }
    json_t *inputs = json_object_get(root, "inputs");
    shape_unknown(&c, &pl, root, inputs != NULL, "inputs", NULL);
    pl.depth = 1;
    if (inputs == NULL) {
        shape_fail(&c, &pl, "required", "required property \"%s\" is missing", "inputs");
    } else if (!json_is_array(inputs)) {
        shape_fail(&c, &pl, "type", "must be an array, not %s", hg_json_type_phrase(inputs));
    } else if (json_array_size(inputs) == 0) {
        shape_fail(&c, &pl, "minItems", "must have at least 1 item, has 0");
    } else {
        json_t *input;
        pl.depth = 2;
        json_array_foreach(inputs, pl.index, input)
        {
            if (!json_is_object(input)) {
                shape_fail(&c, &pl, "type", "must be an object, not %s", hg_json_type_phrase(input));
                continue;
            }
            json_t *from, *to;
            shape_unknown(&c, &pl, input, find_members(input, "from", &from, "to", &to), "from", "to");
            shape_side(&c, pl, from, 0, &pairs[pl.index]);
            shape_side(&c, pl, to, 1, &pairs[pl.index]);
            pairs[pl.index].dup = 0;
        }
    }
    *dropped += c.dropped;
    return c.ok;
}

/* ---- the Node SDK's missing "from" ---- */

/* "/inputs/<N>/from" -> N; -1 otherwise */
static long long from_pointer_index(const char *in)
{
    if (strncmp(in, "/inputs/", 8) != 0)
        return -1;
    const char *p = in + 8;
    long long n = 0;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] != '/'))
        return -1;
    for (; *p >= '0' && *p <= '9'; ++p) {
        if (n > (1LL << 40))
            return -1;
        n = n * 10 + (*p - '0');
    }
    return strcmp(p, "/from") == 0 ? n : -1;
}

static void explain_missing_from(const json_t *root, hg_violations_t *errors, size_t first)
{
    const json_t *inputs = json_object_get(root, "inputs");
    if (!json_is_array(inputs))
        return;
    for (size_t k = first; k < errors->count; ++k) {
        hg_violation_t *v = &errors->items[k];
        if (strcmp(v->code, "required") != 0)
            continue;
        long long n = from_pointer_index(v->in);
        if (n < 0)
            continue;
        const json_t *input = json_array_get(inputs, (size_t)n);
        if (json_object_get(input, "to") == NULL || json_object_get(input, "from") != NULL)
            continue;
        free(v->message);
        v->message = hg_xstrdup(SDK_MESSAGE);
    }
}

/* ---- the pipeline ---- */

static int validate(const hg_body_rules_t *rules, json_t *root, hg_violations_t *errors)
{
    size_t first = errors->count;
    int ok = 1;
    if (rules->schema != NULL)
        ok = hg_schema_validate(rules->schema, root, errors) == 0;
    explain_missing_from(root, errors, first);
    return ok;
}

static int process_associations(const hg_body_rules_t *rules, json_t *root, hg_body_result_t *out, hg_violations_t *errors)
{
    json_t *inputs = json_object_get(root, "inputs");
    out->coerced = coerce_ids(inputs);
    if (!rules->reject_unknown && rules->schema != NULL)
        out->dropped_fields = hg_schema_prune(rules->schema, root);
    if (!validate(rules, root, errors))
        return -1;
    size_t n = json_array_size(inputs), first = errors->count;
    hg_assoc_pair_t *pairs = hg_xmalloc(n * sizeof(*pairs));
    int ret = -1;
    if (!read_pairs(root, rules->reject_unknown, pairs, errors, &out->dropped_fields)) {
        explain_missing_from(root, errors, first);
        goto Exit;
    }
    out->duplicates = hg_assoc_mark_duplicates(pairs, n);
    size_t forwarded = n - out->duplicates;
    if (rules->max_inputs != 0 && forwarded > rules->max_inputs) {
        hg_violations_add(errors, "/inputs", "maxItems", "must have at most %zu inputs after removing duplicates, has %zu",
                          rules->max_inputs, forwarded);
        goto Exit;
    }
    hg_assoc_emit(pairs, n, forwarded, out);
    ret = 0;
Exit:
    free(pairs);
    return ret;
}

int hg_body_process(const hg_body_rules_t *rules, const char *buf, size_t len, hg_body_result_t *out, hg_violations_t *errors)
{
    *out = (hg_body_result_t){0};
    if (rules->fast && hg_assoc_scan(rules, buf, len, out))
        return 0;
    json_t *root = hg_json_parse_strict(buf, len, rules->max_depth, errors);
    if (root == NULL)
        return -1;
    json_t *inputs = json_object_get(root, "inputs");
    if (json_is_array(inputs))
        out->received = json_array_size(inputs);

    int ret;
    if (rules->mode == HG_NORMALIZE_ASSOCIATIONS) {
        ret = process_associations(rules, root, out, errors);
    } else if ((ret = validate(rules, root, errors) ? 0 : -1) == 0) {
        out->forwarded = out->received;
    }
    json_decref(root);
    return ret;
}

void hg_body_result_dispose(hg_body_result_t *r)
{
    free(r->body);
    free(r->pairs);
    *r = (hg_body_result_t){0};
}

/* ---- path parameters ---- */

int hg_normalize_object_type(const char *param, const char *seg, size_t len, char out[HG_OBJTYPE_ID_SIZE], hg_violations_t *errors)
{
    if (hg_objtype_canonical(seg, len, out, HG_OBJTYPE_ID_SIZE) == 0)
        return 0;
    /* shown escaped and cut: the segment is the client's, the message goes into a JSON body and logs */
    char shown[64 * 4 + 4], *p = shown;
    for (size_t i = 0; i != len && i != 64; ++i) {
        unsigned char ch = (unsigned char)seg[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
            p += sprintf(p, "\\x%02X", ch);
        else
            *p++ = (char)ch;
    }
    strcpy(p, len > 64 ? "..." : "");
    char in[64];
    snprintf(in, sizeof(in), "path:%s", param);
    hg_violations_add(errors, in, "unknown_object_type", "unknown object type \"%s\"", shown);
    return -1;
}

size_t hg_normalize_path(const hg_template_t *t, const hg_template_match_t *m, int from_param, int to_param, hg_path_types_t *types,
                         char *buf, size_t bufsize, hg_violations_t *errors)
{
    hg_slice_t values[HG_TEMPLATE_MAX_PARAMS];
    int ok = 1;
    types->from[0] = types->to[0] = '\0';
    memcpy(values, m->values, m->num_params * sizeof(values[0]));
    if (from_param >= 0) {
        const hg_slice_t *v = &m->values[from_param];
        if (hg_normalize_object_type("fromObjectType", v->base, v->len, types->from, errors) == 0)
            values[from_param] = (hg_slice_t){types->from, strlen(types->from)};
        else
            ok = 0;
    }
    if (to_param >= 0) {
        const hg_slice_t *v = &m->values[to_param];
        if (hg_normalize_object_type("toObjectType", v->base, v->len, types->to, errors) == 0)
            values[to_param] = (hg_slice_t){types->to, strlen(types->to)};
        else
            ok = 0;
    }
    if (!ok)
        return 0;
    size_t len = hg_template_build(t, values, buf, bufsize);
    if (len == 0)
        hg_violations_add(errors, "path", "bad_path", "the canonical path is longer than %zu bytes", bufsize);
    return len;
}

/* ---- messages ---- */

char *hg_violations_summary(const hg_violations_t *v, const char *what)
{
    size_t total = hg_violations_total(v);
    if (total == 0)
        return hg_xasprintf("no problems in %s", what);
    if (v->count == 0)
        return hg_xasprintf("%zu problem%s in %s", total, total == 1 ? "" : "s", what);
    const hg_violation_t *first = &v->items[0];
    const char *sep = first->in[0] != '\0' ? ": " : "";
    if (total == 1)
        return hg_xasprintf("1 problem in %s: %s%s%s", what, first->in, sep, first->message);
    return hg_xasprintf("%zu problems in %s; first: %s%s%s", total, what, first->in, sep, first->message);
}
