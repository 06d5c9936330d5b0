/*
 * outcome.c: a streaming scanner for HubSpot's top-level "status" and
 * "numErrors". See outcome.h.
 */
#include "outcome.h"

#include <string.h>

enum {
    S_START,  /* before the top-level '{' */
    S_KEY,    /* expecting a member's key, ',' or '}' */
    S_KEYSTR, /* inside a key */
    S_COLON,  /* after a key */
    S_VALUE,  /* expecting a member's value */
    S_VSTR,   /* inside a string value at depth 1 */
    S_VNUM,   /* inside a number or literal at depth 1 */
    S_NESTED, /* inside an object or array value */
    S_AFTER,  /* after a value: ',' or '}' */
    S_DONE    /* the top-level object is closed, or the body is not one */
};

enum { K_OTHER, K_STATUS, K_NUM_ERRORS };

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void hg_outcome_init(hg_outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    o->num_errors = -1;
    o->state = S_START;
}

static void end_value(hg_outcome_t *o)
{
    if (o->value_kind == K_STATUS && !o->failed) {
        memcpy(o->status, o->value, o->value_len);
        o->status[o->value_len] = '\0';
    } else if (o->value_kind == K_NUM_ERRORS && !o->failed && o->value_len != 0) {
        int64_t n = 0;
        size_t i = 0;
        for (; i != o->value_len && o->value[i] >= '0' && o->value[i] <= '9' && n < INT64_MAX / 10 - 10; ++i)
            n = n * 10 + (o->value[i] - '0');
        o->num_errors = i == o->value_len ? n : -1;
    }
    o->value_kind = K_OTHER;
    o->failed = 0;
    o->value_len = 0;
    o->state = S_AFTER;
}

/* appends to the captured value; a value too long for its member is not kept */
static void capture(hg_outcome_t *o, char c)
{
    if (o->value_kind == K_OTHER)
        return;
    if (o->value_len == HG_OUTCOME_STATUS_MAX)
        o->failed = 1;
    else
        o->value[o->value_len++] = c;
}

void hg_outcome_feed(hg_outcome_t *o, const char *buf, size_t len)
{
    for (size_t i = 0; i != len && o->state != S_DONE; ++i) {
        char c = buf[i];
        switch (o->state) {
        case S_START:
            if (c == '{')
                o->state = S_KEY;
            else if (!is_space(c))
                o->state = S_DONE;
            break;
        case S_KEY:
            if (c == '"') {
                o->state = S_KEYSTR;
                o->key_len = 0;
                o->escape = 0;
                o->key_kind = K_OTHER;
                o->failed = 0;
            } else if (c == '}') {
                o->state = S_DONE;
            } else if (!is_space(c) && c != ',') {
                o->state = S_DONE;
            }
            break;
        case S_KEYSTR:
            if (o->escape) {
                o->escape = 0;
                o->failed = 1; /* an escaped key is never one of ours */
            } else if (c == '\\') {
                o->escape = 1;
            } else if (c == '"') {
                if (!o->failed && o->key_len == 6 && memcmp(o->key, "status", 6) == 0)
                    o->key_kind = K_STATUS;
                else if (!o->failed && o->key_len == 9 && memcmp(o->key, "numErrors", 9) == 0)
                    o->key_kind = K_NUM_ERRORS;
                o->failed = 0;
                o->state = S_COLON;
            } else if (o->key_len < sizeof(o->key)) {
                o->key[o->key_len++] = c;
            } else {
                o->failed = 1;
            }
            break;
        case S_COLON:
            if (c == ':')
                o->state = S_VALUE;
            else if (!is_space(c))
                o->state = S_DONE;
            break;
        case S_VALUE:
            if (is_space(c))
                break;
            o->value_len = 0;
            o->failed = 0;
            if (c == '"') {
                o->value_kind = o->key_kind == K_STATUS ? K_STATUS : K_OTHER;
                o->escape = 0;
                o->state = S_VSTR;
            } else if (c == '{' || c == '[') {
                o->value_kind = K_OTHER;
                o->depth = 1;
                o->in_string = o->escape = 0;
                o->state = S_NESTED;
            } else {
                o->value_kind = o->key_kind == K_NUM_ERRORS ? K_NUM_ERRORS : K_OTHER;
                capture(o, c);
                o->state = S_VNUM;
            }
            break;
        case S_VSTR:
            if (o->escape) {
                o->escape = 0;
                o->failed = 1; /* statuses are plain words: an escape means this is not one */
            } else if (c == '\\') {
                o->escape = 1;
            } else if (c == '"') {
                end_value(o);
            } else {
                capture(o, c);
            }
            break;
        case S_VNUM:
            if (c == ',' || c == '}' || is_space(c)) {
                end_value(o);
                if (c == ',')
                    o->state = S_KEY;
                else if (c == '}')
                    o->state = S_DONE;
            } else {
                capture(o, c);
            }
            break;
        case S_NESTED:
            if (o->in_string) {
                if (o->escape)
                    o->escape = 0;
                else if (c == '\\')
                    o->escape = 1;
                else if (c == '"')
                    o->in_string = 0;
            } else if (c == '"') {
                o->in_string = 1;
            } else if (c == '{' || c == '[') {
                ++o->depth;
            } else if ((c == '}' || c == ']') && --o->depth == 0) {
                end_value(o);
            }
            break;
        case S_AFTER:
            if (c == ',')
                o->state = S_KEY;
            else if (c == '}')
                o->state = S_DONE;
            else if (!is_space(c))
                o->state = S_DONE;
            break;
        }
    }
}
