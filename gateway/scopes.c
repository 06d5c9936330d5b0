/*
 * scopes.c: compiling scopes_any entries into literal pieces and template
 * slots, exact matching against a principal's scopes. See scopes.h.
 */
#include "scopes.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

enum { PART_LITERAL, PART_FROM, PART_TO };

typedef struct st_part_t {
    int kind;
    size_t len;       /* PART_LITERAL */
    const char *text; /* PART_LITERAL: points into the entry's copy */
} part_t;

typedef struct st_entry_t {
    char *text; /* the entry as configured */
    part_t *parts;
    size_t num_parts;
} entry_t;

struct st_hg_scopeset_t {
    entry_t *entries;
    size_t num_entries;
};

static const struct {
    const char *name;
    int kind;
} templates[] = {{"{fromObjectType}", PART_FROM}, {"{toObjectType}", PART_TO}};

static int is_scope_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != '\\';
}

/* splits one entry; returns a message for a problem, or NULL */
static const char *compile(entry_t *e, const char *text)
{
    size_t len = strlen(text);
    if (len == 0)
        return "must not be empty";
    if (len > HG_SCOPE_ENTRY_MAX)
        return "is too long";
    for (size_t i = 0; i != len; ++i)
        if (!is_scope_char((unsigned char)text[i]))
            return "may only contain printable ASCII without spaces, '\"' and '\\'";
    e->text = hg_xstrdup(text);
    e->parts = hg_xcalloc(len, sizeof(*e->parts));
    const char *p = e->text;
    while (*p != '\0') {
        const char *brace = strpbrk(p, "{}");
        if (brace == NULL || brace != p) {
            size_t n = brace != NULL ? (size_t)(brace - p) : strlen(p);
            e->parts[e->num_parts++] = (part_t){PART_LITERAL, n, p};
            p += n;
            continue;
        }
        size_t t;
        for (t = 0; t != sizeof(templates) / sizeof(templates[0]); ++t)
            if (strncmp(p, templates[t].name, strlen(templates[t].name)) == 0)
                break;
        if (t == sizeof(templates) / sizeof(templates[0]))
            return "has a '{' or '}' that is not {fromObjectType} or {toObjectType}";
        e->parts[e->num_parts++] = (part_t){templates[t].kind, 0, NULL};
        p += strlen(templates[t].name);
    }
    return NULL;
}

hg_scopeset_t *hg_scopeset_new(const json_t *scopes_any, const char *pointer, hg_violations_t *errors)
{
    if (!json_is_array(scopes_any)) {
        hg_violations_add(errors, pointer, "type", "scopes_any must be an array of scope strings");
        return NULL;
    }
    if (json_array_size(scopes_any) == 0) {
        hg_violations_add(errors, pointer, "minItems", "scopes_any must name at least one scope");
        return NULL;
    }
    hg_scopeset_t *s = hg_xcalloc(1, sizeof(*s));
    s->entries = hg_xcalloc(json_array_size(scopes_any), sizeof(*s->entries));
    int failed = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(scopes_any, i, v)
    {
        char *in = hg_xasprintf("%s/%zu", pointer, i);
        const char *problem = json_is_string(v) ? compile(&s->entries[s->num_entries++], json_string_value(v)) : NULL;
        if (!json_is_string(v)) {
            hg_violations_add(errors, in, "type", "a scope must be a string");
            failed = 1;
        } else if (problem != NULL) {
            hg_violations_add(errors, in, "invalid_scope", "scope \"%s\" %s", json_string_value(v), problem);
            failed = 1;
        }
        free(in);
    }
    if (failed) {
        hg_scopeset_free(s);
        return NULL;
    }
    return s;
}

void hg_scopeset_free(hg_scopeset_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i != s->num_entries; ++i) {
        free(s->entries[i].text);
        free(s->entries[i].parts);
    }
    free(s->entries);
    free(s);
}

/* writes the expanded entry into buf; returns its length, or -1 when a template has no name or buf is too small */
static long expand(const entry_t *e, const char *from_name, const char *to_name, char *buf, size_t bufsize)
{
    size_t n = 0;
    for (size_t i = 0; i != e->num_parts; ++i) {
        const part_t *part = &e->parts[i];
        const char *text = part->text;
        size_t len = part->len;
        if (part->kind != PART_LITERAL) {
            text = part->kind == PART_FROM ? from_name : to_name;
            if (text == NULL)
                return -1;
            len = strlen(text);
        }
        if (n + len >= bufsize)
            return -1;
        memcpy(buf + n, text, len);
        n += len;
    }
    if (bufsize == 0)
        return -1;
    buf[n] = '\0';
    return (long)n;
}

const char *hg_scopeset_match(const hg_scopeset_t *s, const hg_principal_t *p, const char *from_name, const char *to_name,
                              char *buf, size_t bufsize)
{
    if (p == NULL || p->num_scopes == 0)
        return NULL;
    for (size_t i = 0; i != s->num_entries; ++i)
        if (expand(&s->entries[i], from_name, to_name, buf, bufsize) >= 0 && hg_principal_has_scope(p, buf))
            return buf;
    return NULL;
}

/* calls cb for each satisfiable entry, duplicates removed */
static void each_expanded(const hg_scopeset_t *s, const char *from_name, const char *to_name,
                          void (*cb)(void *ctx, const char *scope), void *ctx)
{
    char **seen = hg_xcalloc(s->num_entries, sizeof(*seen));
    size_t num_seen = 0;
    char buf[HG_SCOPE_MAX];
    for (size_t i = 0; i != s->num_entries; ++i) {
        if (expand(&s->entries[i], from_name, to_name, buf, sizeof(buf)) < 0)
            continue;
        size_t j;
        for (j = 0; j != num_seen; ++j)
            if (strcmp(seen[j], buf) == 0)
                break;
        if (j != num_seen)
            continue;
        seen[num_seen++] = hg_xstrdup(buf);
        cb(ctx, buf);
    }
    for (size_t j = 0; j != num_seen; ++j)
        free(seen[j]);
    free(seen);
}

typedef struct st_strbuf_t {
    char *s;
    size_t len;
} strbuf_t;

static void append_spaced(void *ctx, const char *scope)
{
    strbuf_t *b = ctx;
    size_t n = strlen(scope);
    b->s = hg_xrealloc(b->s, b->len + n + 2);
    if (b->len != 0)
        b->s[b->len++] = ' ';
    memcpy(b->s + b->len, scope, n + 1);
    b->len += n;
}

char *hg_scopeset_describe(const hg_scopeset_t *s, const char *from_name, const char *to_name)
{
    strbuf_t b = {hg_xstrdup(""), 0};
    each_expanded(s, from_name, to_name, append_spaced, &b);
    return b.s;
}

static void append_json(void *ctx, const char *scope)
{
    json_array_append_new(ctx, json_string(scope));
}

json_t *hg_scopeset_describe_json(const hg_scopeset_t *s, const char *from_name, const char *to_name)
{
    json_t *a = json_array();
    each_expanded(s, from_name, to_name, append_json, a);
    return a;
}
