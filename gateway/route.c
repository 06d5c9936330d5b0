/*
 * route.c: compile, match and rebuild path templates. See route.h.
 */
#include "route.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct st_hg_segment_t {
    const char *literal; /* NULL for a parameter */
    size_t len;
    int param; /* index of the parameter */
};

struct st_hg_template_t {
    char *text; /* owns the bytes that segments and names point into */
    struct st_hg_segment_t *segments;
    size_t num_segments;
    char *names[HG_TEMPLATE_MAX_PARAMS];
    size_t num_params;
};

static int valid_name(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i != len; ++i) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

hg_template_t *hg_template_compile(const char *text, const char *pointer, hg_violations_t *errors)
{
    if (text[0] != '/') {
        hg_violations_add(errors, pointer, "template", "a path template must start with \"/\"");
        return NULL;
    }
    hg_template_t *t = hg_xcalloc(1, sizeof(*t));
    t->text = hg_xstrdup(text);
    size_t max_segments = 1;
    for (const char *p = text; *p != '\0'; ++p)
        max_segments += *p == '/';
    t->segments = hg_xcalloc(max_segments, sizeof(*t->segments));

    const char *p = t->text + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        struct st_hg_segment_t *seg = &t->segments[t->num_segments++];
        if (len == 0) {
            hg_violations_add(errors, pointer, "template", "a path template must not have empty segments");
            goto Error;
        }
        if (p[0] == '{') {
            if (p[len - 1] != '}' || !valid_name(p + 1, len - 2)) {
                hg_violations_add(errors, pointer, "template", "a parameter must be a whole segment of the form {name}");
                goto Error;
            }
            if (t->num_params == HG_TEMPLATE_MAX_PARAMS) {
                hg_violations_add(errors, pointer, "template", "at most %d parameters", HG_TEMPLATE_MAX_PARAMS);
                goto Error;
            }
            char *name = hg_xstrndup(p + 1, len - 2);
            for (size_t i = 0; i != t->num_params; ++i) {
                if (strcmp(t->names[i], name) == 0) {
                    hg_violations_add(errors, pointer, "template", "parameter {%s} appears twice", name);
                    free(name);
                    goto Error;
                }
            }
            seg->param = (int)t->num_params;
            t->names[t->num_params++] = name;
        } else {
            if (memchr(p, '{', len) != NULL || memchr(p, '}', len) != NULL || memchr(p, '%', len) != NULL) {
                hg_violations_add(errors, pointer, "template", "a literal segment must not contain '{', '}' or '%%'");
                goto Error;
            }
            seg->literal = p;
            seg->len = len;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return t;

Error:
    hg_template_free(t);
    return NULL;
}

void hg_template_free(hg_template_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i != t->num_params; ++i)
        free(t->names[i]);
    free(t->segments);
    free(t->text);
    free(t);
}

int hg_template_match(const hg_template_t *t, const char *path, size_t len, hg_template_match_t *m)
{
    if (len == 0 || path[0] != '/')
        return 0;
    const char *p = path + 1, *end = path + len;
    m->num_params = t->num_params;
    for (size_t i = 0; i != t->num_segments; ++i) {
        const struct st_hg_segment_t *seg = &t->segments[i];
        if (p > end)
            return 0;
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash != NULL ? slash : end;
        size_t seg_len = (size_t)(seg_end - p);
        if (seg->literal != NULL) {
            if (seg_len != seg->len || memcmp(p, seg->literal, seg_len) != 0)
                return 0;
        } else {
            if (seg_len == 0)
                return 0;
            m->values[seg->param] = (hg_slice_t){p, seg_len};
        }
        if (i + 1 == t->num_segments)
            return slash == NULL;
        if (slash == NULL)
            return 0;
        p = slash + 1;
    }
    return 0;
}

size_t hg_template_num_params(const hg_template_t *t)
{
    return t->num_params;
}

const char *hg_template_param_name(const hg_template_t *t, size_t i)
{
    return i < t->num_params ? t->names[i] : NULL;
}

int hg_template_param_index(const hg_template_t *t, const char *name)
{
    for (size_t i = 0; i != t->num_params; ++i)
        if (strcmp(t->names[i], name) == 0)
            return (int)i;
    return -1;
}

size_t hg_template_build(const hg_template_t *t, const hg_slice_t *values, char *buf, size_t bufsize)
{
    size_t o = 0;
    for (size_t i = 0; i != t->num_segments; ++i) {
        const struct st_hg_segment_t *seg = &t->segments[i];
        const char *s = seg->literal != NULL ? seg->literal : values[seg->param].base;
        size_t n = seg->literal != NULL ? seg->len : values[seg->param].len;
        if (o + 1 + n + 1 > bufsize)
            return 0;
        buf[o++] = '/';
        memcpy(buf + o, s, n);
        o += n;
    }
    buf[o] = '\0';
    return o;
}
