/*
 * assocdiff.c: the differential oracle of the associations fast path. See assocdiff.h.
 */
#include "assocdiff.h"
#include "assocscan.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK 0xA5

__attribute__((format(printf, 2, 3))) static int fail(hg_assocdiff_t *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
    return -1;
}

/* the results' bytes, counts and pairs; `coerced_delta` is what a's coerced may exceed b's by */
static int same_result(hg_assocdiff_t *d, const char *what, const hg_body_result_t *a, const hg_body_result_t *b,
                       size_t coerced_delta)
{
#define SAME(field)                                                                                                                \
    if (a->field != b->field)                                                                                                      \
    return fail(d, "%s: " #field " %zu != %zu", what, (size_t)a->field, (size_t)b->field)
    SAME(received);
    SAME(forwarded);
    SAME(duplicates);
    SAME(dropped_fields);
    SAME(num_pairs);
    SAME(body_len);
#undef SAME
    if (a->coerced != b->coerced + coerced_delta)
        return fail(d, "%s: coerced %zu != %zu + %zu", what, a->coerced, b->coerced, coerced_delta);
    if ((a->body == NULL) != (b->body == NULL) || (a->body != NULL && memcmp(a->body, b->body, a->body_len) != 0))
        return fail(d, "%s: bodies differ: %.*s | %.*s", what, a->body != NULL ? (int)a->body_len : 0,
                    a->body != NULL ? a->body : "", b->body != NULL ? (int)b->body_len : 0, b->body != NULL ? b->body : "");
    if ((a->pairs == NULL) != (b->pairs == NULL))
        return fail(d, "%s: one pair list is NULL", what);
    for (size_t i = 0; i != 2 * a->num_pairs; ++i)
        if (strcmp(a->pairs[i], b->pairs[i]) != 0)
            return fail(d, "%s: pair string %zu: %s != %s", what, i, a->pairs[i], b->pairs[i]);
    return 0;
}

static int same_violations(hg_assocdiff_t *d, const hg_violations_t *a, const hg_violations_t *b)
{
    if (a->count != b->count || a->dropped != b->dropped)
        return fail(d, "violations: %zu (+%zu) != %zu (+%zu)", a->count, a->dropped, b->count, b->dropped);
    for (size_t i = 0; i != a->count; ++i) {
        const hg_violation_t *x = &a->items[i], *y = &b->items[i];
        if (strcmp(x->in, y->in) != 0 || strcmp(x->code, y->code) != 0 || strcmp(x->message, y->message) != 0)
            return fail(d, "violation %zu: %s %s %s != %s %s %s", i, x->in, x->code, x->message, y->in, y->code, y->message);
    }
    return 0;
}

/*
 * buf with every run of digits that follows a colon (and whitespace) written as a JSON string: in a
 * body the scanner takes, exactly its integer ids. *count = how many; *beyond = how many are beyond
 * 2^63 - 1. New heap buffer.
 */
static char *quote_integers(const char *buf, size_t len, size_t *outlen, size_t *count, size_t *beyond)
{
    char *out = hg_xmalloc(3 * len + 1), *o = out;
    int after_colon = 0;
    *count = *beyond = 0;
    for (size_t i = 0; i < len;) {
        char c = buf[i];
        if (after_colon && c >= '0' && c <= '9') {
            size_t j = i;
            while (j < len && buf[j] >= '0' && buf[j] <= '9')
                ++j;
            size_t n = j - i;
            if (n > 19 || (n == 19 && memcmp(buf + i, "9223372036854775807", 19) > 0))
                ++*beyond;
            *o++ = '"';
            memcpy(o, buf + i, n);
            o += n;
            *o++ = '"';
            ++*count;
            i = j;
            after_colon = 0;
            continue;
        }
        if (c == ':')
            after_colon = 1;
        else if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            after_colon = 0;
        *o++ = c;
        ++i;
    }
    *outlen = (size_t)(o - out);
    return out;
}

/* the intended difference: the jansson path refused only for an integer beyond 64 bits (see assocdiff.h) */
static int check_wider(hg_assocdiff_t *d, const hg_body_rules_t *slow, const char *buf, size_t len, const hg_violations_t *vs,
                       const hg_body_result_t *fast)
{
    if (vs->count != 1 || strcmp(vs->items[0].code, "invalid_json") != 0 ||
        strstr(vs->items[0].message, "is too large (beyond 64 bits)") == NULL)
        return fail(d, "the scanner forwarded a body the jansson path refuses with %s: %s",
                    vs->count != 0 ? vs->items[0].code : "-", vs->count != 0 ? vs->items[0].message : "-");
    size_t qlen, count, beyond;
    char *quoted = quote_integers(buf, len, &qlen, &count, &beyond);
    hg_body_result_t r;
    hg_violations_t v;
    hg_violations_init(&v, HG_VIOLATIONS_MAX);
    int ret = hg_body_process(slow, quoted, qlen, &r, &v);
    int ok = 0;
    if (beyond == 0)
        ok = fail(d, "refused for a large integer, but no integer id is beyond 64 bits");
    else if (ret != 0)
        ok = fail(d, "with integers quoted, the jansson path refuses: %s %s", v.count != 0 ? v.items[0].code : "-",
                  v.count != 0 ? v.items[0].message : "-");
    else
        ok = same_result(d, "integers quoted", fast, &r, count);
    hg_body_result_dispose(&r);
    hg_violations_clear(&v);
    free(quoted);
    return ok;
}

static int run(const hg_body_rules_t *rules, const char *buf, size_t len, hg_assocdiff_t *d);

int hg_assocdiff(const hg_body_rules_t *rules, const char *buf, size_t len, hg_assocdiff_t *d)
{
    /* an exact-size copy: a read past the body's end is then one AddressSanitizer sees */
    char *copy = hg_xmalloc(len);
    if (len != 0)
        memcpy(copy, buf, len);
    int ret = run(rules, copy, len, d);
    free(copy);
    return ret;
}

static int run(const hg_body_rules_t *rules, const char *buf, size_t len, hg_assocdiff_t *d)
{
    hg_body_rules_t slow = *rules, fast = *rules;
    slow.fast = 0;
    fast.fast = 1;
    d->taken = d->wider = 0;
    d->why[0] = '\0';

    /* the scanner alone: taken, or the result untouched */
    hg_body_result_t probe, marker;
    memset(&probe, MARK, sizeof(probe));
    memset(&marker, MARK, sizeof(marker));
    d->taken = hg_assoc_scan(&fast, buf, len, &probe);
    if (!d->taken && memcmp(&probe, &marker, sizeof(probe)) != 0)
        return fail(d, "the scanner declined but wrote into the result");

    hg_body_result_t rs, rf;
    hg_violations_t vs, vf;
    hg_violations_init(&vs, HG_VIOLATIONS_MAX);
    hg_violations_init(&vf, HG_VIOLATIONS_MAX);
    int ret_slow = hg_body_process(&slow, buf, len, &rs, &vs);
    int ret_fast = hg_body_process(&fast, buf, len, &rf, &vf);
    int ok = 0;
    if (d->taken && ret_fast != 0)
        ok = fail(d, "the scanner took the body but hg_body_process refused it");
    else if (d->taken && (ok = same_result(d, "scanner alone vs hg_body_process", &probe, &rf, 0)) != 0)
        ;
    else if (ret_fast == 0 && ret_slow != 0 && d->taken) {
        d->wider = 1;
        ok = check_wider(d, &slow, buf, len, &vs, &rf);
    } else if (ret_fast != ret_slow)
        ok = fail(d, "returned %d with the fast path, %d without", ret_fast, ret_slow);
    else if ((ok = same_result(d, "fast vs slow", &rf, &rs, 0)) == 0)
        ok = same_violations(d, &vf, &vs);
    if (d->taken)
        hg_body_result_dispose(&probe);
    hg_body_result_dispose(&rs);
    hg_body_result_dispose(&rf);
    hg_violations_clear(&vs);
    hg_violations_clear(&vf);
    return ok;
}
