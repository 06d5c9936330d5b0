/*
 * yamljson.c: YAML to jansson through libyaml's event parser, recording the
 * line of every node under its JSON pointer. See yamljson.h for the rules.
 *
 * The tree is built by recursive descent over events (depth bounded by
 * HG_YAML_MAX_DEPTH); the first problem stops the load and is the one reported.
 */
#include "yamljson.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define TAG_CORE_PREFIX "tag:yaml.org,2002:"
#define TAG_STR TAG_CORE_PREFIX "str"

struct st_line_entry_t {
    char *pointer;
    int line;
};

struct st_hg_yaml_lines_t {
    struct st_line_entry_t *entries;
    size_t count, cap;
};

struct st_loader_t {
    yaml_parser_t parser;
    yaml_event_t event; /* the current event; valid while has_event */
    bool has_event;
    const char *text;
    size_t len;
    hg_jptr_t ptr;
    hg_yaml_lines_t *lines;
    hg_violations_t *errors;
    int error_line;
};

static void record_line(struct st_loader_t *ld, const yaml_mark_t *mark)
{
    hg_yaml_lines_t *l = ld->lines;
    if (l == NULL)
        return;
    if (l->count == l->cap) {
        l->cap = l->cap == 0 ? 32 : l->cap * 2;
        l->entries = hg_xrealloc(l->entries, l->cap * sizeof(*l->entries));
    }
    l->entries[l->count++] = (struct st_line_entry_t){hg_xstrdup(ld->ptr.buf), (int)mark->line + 1};
}

__attribute__((format(printf, 3, 4))) static void fail(struct st_loader_t *ld, int line, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    hg_violations_add(ld->errors, ld->ptr.buf, "yaml", "%s", msg);
    free(msg);
    ld->error_line = line;
}

static int line_at_offset(const char *text, size_t len, size_t offset)
{
    int line = 1;
    for (size_t i = 0; i < offset && i < len; ++i)
        if (text[i] == '\n')
            ++line;
    return line;
}

/* the byte at (0-based) line and character column, or -1 */
static int char_at(const char *text, size_t len, size_t line, size_t column)
{
    size_t i = 0;
    for (; line != 0 && i < len; ++i)
        if (text[i] == '\n')
            --line;
    for (; i < len; ++i) {
        if (((unsigned char)text[i] & 0xC0) == 0x80)
            continue;
        if (column-- == 0)
            return (unsigned char)text[i];
    }
    return -1;
}

static void fail_parser(struct st_loader_t *ld)
{
    yaml_parser_t *p = &ld->parser;
    const char *problem = p->problem != NULL ? p->problem : "cannot parse";
    const char *hint =
        strstr(problem, "tab") == NULL && char_at(ld->text, ld->len, p->problem_mark.line, p->problem_mark.column) == '\t'
            ? "; a tab cannot indent YAML, use spaces"
            : "";
    hg_jptr_truncate(&ld->ptr, 0);
    if (p->error == YAML_READER_ERROR) {
        if (p->problem_value != -1)
            fail(ld, line_at_offset(ld->text, ld->len, p->problem_offset), "YAML error: %s (byte 0x%02X at offset %zu)", problem,
                 (unsigned)p->problem_value, p->problem_offset);
        else
            fail(ld, line_at_offset(ld->text, ld->len, p->problem_offset), "YAML error: %s (offset %zu)", problem,
                 p->problem_offset);
    } else if (p->context != NULL) {
        fail(ld, (int)p->problem_mark.line + 1, "YAML syntax error: %s %s (column %d)%s", problem, p->context,
             (int)p->problem_mark.column + 1, hint);
    } else {
        fail(ld, (int)p->problem_mark.line + 1, "YAML syntax error: %s (column %d)%s", problem, (int)p->problem_mark.column + 1,
             hint);
    }
}

/* replaces the current event by the next one; -1 (reported) on a syntax error */
static int next_event(struct st_loader_t *ld)
{
    if (ld->has_event) {
        yaml_event_delete(&ld->event);
        ld->has_event = false;
    }
    if (!yaml_parser_parse(&ld->parser, &ld->event)) {
        fail_parser(ld);
        return -1;
    }
    ld->has_event = true;
    return 0;
}

static int line_of(const yaml_event_t *ev)
{
    return (int)ev->start_mark.line + 1;
}

/* refuses anchors and tags other than !!str on the current event; *is_str tells whether !!str was given */
static int check_properties(struct st_loader_t *ld, const yaml_char_t *anchor, const yaml_char_t *tag, bool *is_str)
{
    *is_str = false;
    if (anchor != NULL) {
        fail(ld, line_of(&ld->event), "anchors and aliases are not supported (found anchor &%s)", (const char *)anchor);
        return -1;
    }
    if (tag != NULL) {
        if (strcmp((const char *)tag, TAG_STR) != 0) {
            const char *t = (const char *)tag;
            bool core = strncmp(t, TAG_CORE_PREFIX, strlen(TAG_CORE_PREFIX)) == 0;
            fail(ld, line_of(&ld->event), "tags are not supported, except !!str (found %s%s)", core ? "!!" : "",
                 core ? t + strlen(TAG_CORE_PREFIX) : t);
            return -1;
        }
        *is_str = true;
    }
    return 0;
}

static bool is_digits(const char *s, const char *end, const char *set)
{
    if (s == end)
        return false;
    for (; s != end; ++s)
        if (strchr(set, *s) == NULL)
            return false;
    return true;
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_core_float(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    if (p != end && (*p == '-' || *p == '+'))
        ++p;
    size_t int_digits = 0, frac_digits = 0;
    while (p != end && *p >= '0' && *p <= '9')
        ++p, ++int_digits;
    if (p != end && *p == '.') {
        ++p;
        while (p != end && *p >= '0' && *p <= '9')
            ++p, ++frac_digits;
    }
    if (int_digits == 0 && frac_digits == 0)
        return false;
    if (p != end && (*p == 'e' || *p == 'E')) {
        ++p;
        if (p != end && (*p == '-' || *p == '+'))
            ++p;
        const char *exp = p;
        while (p != end && *p >= '0' && *p <= '9')
            ++p;
        if (p == exp)
            return false;
    }
    return p == end;
}

static bool parse_radix(const char *s, const char *end, int base, int64_t *out)
{
    uint64_t v = 0;
    for (; s != end; ++s) {
        int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : *s - 'A' + 10;
        if (v > ((uint64_t)INT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = (int64_t)v;
    return true;
}

static bool one_of(const char *s, size_t n, const char *const *words)
{
    for (; *words != NULL; ++words)
        if (strlen(*words) == n && memcmp(s, *words, n) == 0)
            return true;
    return false;
}

/* resolves a plain scalar (NUL-terminated, no NUL inside) per the YAML 1.2 core schema; NULL (reported) on error */
static json_t *resolve_plain(struct st_loader_t *ld, const char *s, size_t n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    static const char *const specials[] = {".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                           "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL};
    const char *end = s + n;
    int line = line_of(&ld->event);

    if (one_of(s, n, nulls))
        return json_null();
    if (one_of(s, n, trues))
        return json_true();
    if (one_of(s, n, falses))
        return json_false();
    if (one_of(s, n, specials)) {
        fail(ld, line, "%s: infinity and NaN are not supported", s);
        return NULL;
    }
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o') &&
        is_digits(s + 2, end, s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567")) {
        int64_t v;
        if (!parse_radix(s + 2, end, s[1] == 'x' ? 16 : 8, &v)) {
            fail(ld, line, "integer %s is out of range (64 bits)", s);
            return NULL;
        }
        return json_integer(v);
    }
    const char *digits = s + (n != 0 && (*s == '-' || *s == '+'));
    if (is_digits(digits, end, "0123456789")) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE) {
            fail(ld, line, "integer %s is out of range (64 bits)", s);
            return NULL;
        }
        return json_integer(v);
    }
    if (is_core_float(s, n)) {
        double d = strtod(s, NULL);
        if (isinf(d)) {
            fail(ld, line, "number %s is out of range", s);
            return NULL;
        }
        return json_real(d);
    }
    return json_stringn(s, n);
}

static json_t *load_node(struct st_loader_t *ld, size_t depth);

static json_t *load_scalar(struct st_loader_t *ld)
{
    const yaml_event_t *ev = &ld->event;
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    bool is_str;
    if (check_properties(ld, ev->data.scalar.anchor, ev->data.scalar.tag, &is_str) != 0)
        return NULL;
    if (memchr(s, '\0', n) != NULL) {
        fail(ld, line_of(ev), "a NUL character is not allowed in a scalar");
        return NULL;
    }
    if (is_str || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(s, n);
    return resolve_plain(ld, s, n);
}

static json_t *load_mapping(struct st_loader_t *ld, size_t depth)
{
    json_t *obj = json_object();
    for (;;) {
        if (next_event(ld) != 0)
            goto Error;
        if (ld->event.type == YAML_MAPPING_END_EVENT)
            return obj;
        if (ld->event.type != YAML_SCALAR_EVENT) {
            fail(ld, line_of(&ld->event),
                 ld->event.type == YAML_ALIAS_EVENT ? "anchors and aliases are not supported (found an alias as a key)"
                                                    : "mapping keys must be scalars");
            goto Error;
        }
        bool is_str;
        if (check_properties(ld, ld->event.data.scalar.anchor, ld->event.data.scalar.tag, &is_str) != 0)
            goto Error;
        const char *key = (const char *)ld->event.data.scalar.value;
        if (memchr(key, '\0', ld->event.data.scalar.length) != NULL) {
            fail(ld, line_of(&ld->event), "a NUL character is not allowed in a key");
            goto Error;
        }
        size_t saved = hg_jptr_push_key(&ld->ptr, key);
        if (json_object_get(obj, key) != NULL) {
            fail(ld, line_of(&ld->event), "duplicate key \"%s\"", key);
            goto Error;
        }
        record_line(ld, &ld->event.start_mark);
        char *owned_key = hg_xstrdup(key);
        json_t *value = NULL;
        if (next_event(ld) == 0)
            value = load_node(ld, depth);
        if (value == NULL) {
            free(owned_key);
            goto Error;
        }
        json_object_set_new(obj, owned_key, value);
        free(owned_key);
        hg_jptr_truncate(&ld->ptr, saved);
    }
Error:
    json_decref(obj);
    return NULL;
}

static json_t *load_sequence(struct st_loader_t *ld, size_t depth)
{
    json_t *arr = json_array();
    for (size_t index = 0;; ++index) {
        if (next_event(ld) != 0)
            goto Error;
        if (ld->event.type == YAML_SEQUENCE_END_EVENT)
            return arr;
        size_t saved = hg_jptr_push_index(&ld->ptr, index);
        record_line(ld, &ld->event.start_mark);
        json_t *value = load_node(ld, depth);
        if (value == NULL)
            goto Error;
        json_array_append_new(arr, value);
        hg_jptr_truncate(&ld->ptr, saved);
    }
Error:
    json_decref(arr);
    return NULL;
}

/* builds the node whose first event is the current one; NULL (reported) on error */
static json_t *load_node(struct st_loader_t *ld, size_t depth)
{
    bool is_str;
    switch (ld->event.type) {
    case YAML_SCALAR_EVENT:
        return load_scalar(ld);
    case YAML_ALIAS_EVENT:
        fail(ld, line_of(&ld->event), "anchors and aliases are not supported (found alias *%s)",
             (const char *)ld->event.data.alias.anchor);
        return NULL;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        bool mapping = ld->event.type == YAML_MAPPING_START_EVENT;
        if (depth >= HG_YAML_MAX_DEPTH) {
            fail(ld, line_of(&ld->event), "nesting deeper than %d levels", HG_YAML_MAX_DEPTH);
            return NULL;
        }
        if (mapping ? check_properties(ld, ld->event.data.mapping_start.anchor, ld->event.data.mapping_start.tag, &is_str)
                    : check_properties(ld, ld->event.data.sequence_start.anchor, ld->event.data.sequence_start.tag, &is_str))
            return NULL;
        if (is_str) {
            fail(ld, line_of(&ld->event), "!!str cannot be applied to a %s", mapping ? "mapping" : "sequence");
            return NULL;
        }
        return mapping ? load_mapping(ld, depth + 1) : load_sequence(ld, depth + 1);
    }
    default:
        fail(ld, line_of(&ld->event), "unexpected YAML event");
        return NULL;
    }
}

static json_t *load_stream(struct st_loader_t *ld)
{
    if (next_event(ld) != 0 || next_event(ld) != 0) /* STREAM-START, then DOCUMENT-START or STREAM-END */
        return NULL;
    if (ld->event.type == YAML_STREAM_END_EVENT) {
        fail(ld, 1, "the file holds no YAML document");
        return NULL;
    }
    if (next_event(ld) != 0)
        return NULL;
    record_line(ld, &ld->event.start_mark);
    json_t *root = load_node(ld, 0);
    if (root == NULL)
        return NULL;
    if (next_event(ld) != 0 || next_event(ld) != 0) /* DOCUMENT-END, then STREAM-END */
        goto Error;
    if (ld->event.type != YAML_STREAM_END_EVENT) {
        fail(ld, line_of(&ld->event), "only one YAML document is allowed");
        goto Error;
    }
    return root;
Error:
    json_decref(root);
    return NULL;
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const struct st_line_entry_t *)a)->pointer, ((const struct st_line_entry_t *)b)->pointer);
}

json_t *hg_yaml_load_string(const char *text, size_t len, hg_yaml_lines_t **lines, int *line_out, hg_violations_t *errors)
{
    struct st_loader_t ld = {.text = text, .len = len, .errors = errors};
    if (lines != NULL) {
        *lines = NULL;
        ld.lines = hg_xcalloc(1, sizeof(*ld.lines));
    }
    if (line_out != NULL)
        *line_out = 0;
    if (!yaml_parser_initialize(&ld.parser)) {
        fputs("hubgate: out of memory\n", stderr);
        abort();
    }
    yaml_parser_set_input_string(&ld.parser, (const unsigned char *)text, len);
    hg_jptr_init(&ld.ptr);

    json_t *root = load_stream(&ld);

    if (ld.has_event)
        yaml_event_delete(&ld.event);
    yaml_parser_delete(&ld.parser);
    hg_jptr_dispose(&ld.ptr);
    if (root == NULL) {
        if (line_out != NULL)
            *line_out = ld.error_line;
        hg_yaml_lines_free(ld.lines);
        return NULL;
    }
    if (lines != NULL) {
        qsort(ld.lines->entries, ld.lines->count, sizeof(*ld.lines->entries), compare_entries);
        *lines = ld.lines;
    }
    return root;
}

json_t *hg_yaml_load_file(const char *path, hg_yaml_lines_t **lines, int *line_out, hg_violations_t *errors)
{
    size_t len;
    char *text = hg_read_file(path, &len);
    if (text == NULL) {
        hg_violations_add(errors, "", "yaml", "cannot read %s: %s", path, strerror(errno));
        if (lines != NULL)
            *lines = NULL;
        if (line_out != NULL)
            *line_out = 0;
        return NULL;
    }
    json_t *root = hg_yaml_load_string(text, len, lines, line_out, errors);
    free(text);
    return root;
}

int hg_yaml_line(const hg_yaml_lines_t *lines, const char *pointer)
{
    if (lines == NULL || lines->count == 0)
        return 0;
    char *p = hg_xstrdup(pointer);
    int line = 0;
    for (;;) {
        struct st_line_entry_t key = {.pointer = p};
        const struct st_line_entry_t *found = bsearch(&key, lines->entries, lines->count, sizeof(key), compare_entries);
        if (found != NULL) {
            line = found->line;
            break;
        }
        char *slash = strrchr(p, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
    }
    free(p);
    return line;
}

void hg_yaml_lines_free(hg_yaml_lines_t *lines)
{
    if (lines == NULL)
        return;
    for (size_t i = 0; i != lines->count; ++i)
        free(lines->entries[i].pointer);
    free(lines->entries);
    free(lines);
}
