/*
 * violation.c: bounded problem lists and JSON pointer building. See violation.h.
 */
#include "violation.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hg_violations_init(hg_violations_t *v, size_t limit)
{
    *v = (hg_violations_t){.limit = limit};
}

void hg_violations_add(hg_violations_t *v, const char *in, const char *code, const char *fmt, ...)
{
    if (v->count >= v->limit) {
        ++v->dropped;
        return;
    }
    if (v->items == NULL)
        v->items = hg_xcalloc(v->limit, sizeof(*v->items));
    hg_violation_t *item = &v->items[v->count++];
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&item->message, fmt, ap) < 0)
        abort();
    va_end(ap);
    item->in = hg_xstrdup(in != NULL ? in : "");
    item->code = code;
}

size_t hg_violations_total(const hg_violations_t *v)
{
    return v->count + v->dropped;
}

void hg_violations_clear(hg_violations_t *v)
{
    for (size_t i = 0; i != v->count; ++i) {
        free(v->items[i].in);
        free(v->items[i].message);
    }
    free(v->items);
    hg_violations_init(v, v->limit);
}

void hg_jptr_init(hg_jptr_t *p)
{
    p->cap = 64;
    p->buf = hg_xmalloc(p->cap);
    p->buf[0] = '\0';
    p->len = 0;
}

void hg_jptr_dispose(hg_jptr_t *p)
{
    free(p->buf);
    p->buf = NULL;
    p->len = p->cap = 0;
}

static void reserve(hg_jptr_t *p, size_t extra)
{
    if (p->len + extra + 1 <= p->cap)
        return;
    while (p->len + extra + 1 > p->cap)
        p->cap *= 2;
    p->buf = hg_xrealloc(p->buf, p->cap);
}

size_t hg_jptr_push_key(hg_jptr_t *p, const char *key)
{
    size_t before = p->len, keylen = strlen(key);
    reserve(p, 1 + 2 * keylen);
    p->buf[p->len++] = '/';
    for (const char *s = key; *s != '\0'; ++s) {
        if (*s == '~' || *s == '/') {
            p->buf[p->len++] = '~';
            p->buf[p->len++] = *s == '~' ? '0' : '1';
        } else {
            p->buf[p->len++] = *s;
        }
    }
    p->buf[p->len] = '\0';
    return before;
}

size_t hg_jptr_push_index(hg_jptr_t *p, size_t index)
{
    size_t before = p->len;
    reserve(p, 24);
    p->len += (size_t)snprintf(p->buf + p->len, 24, "/%zu", index);
    return before;
}

void hg_jptr_truncate(hg_jptr_t *p, size_t len)
{
    p->len = len;
    p->buf[len] = '\0';
}
