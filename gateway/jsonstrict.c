/*
 * jsonstrict.c: strict JSON intake for request bodies. See jsonstrict.h.
 *
 * Success path: one pre-scan pass (BOM, emptiness, depth; strings are skipped
 * with memchr) and jansson's json_loadb with JSON_REJECT_DUPLICATES on the
 * caller's buffer. Error path: jansson's error code and byte position are
 * turned into hubgate's codes and a precise position by re-reading the body
 * lexically (token start, escape inside a string) and, for a duplicate key,
 * structurally (the JSON pointer of the member). The error path may allocate
 * and take its time; the success path does neither more than jansson does.
 */
#include "jsonstrict.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOWN_MAX 40 /* bytes of a token or key quoted in a message */

enum prescan_result { PRESCAN_OK, PRESCAN_EMPTY, PRESCAN_TOO_DEEP };

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_punct(unsigned char c)
{
    return c == '{' || c == '}' || c == '[' || c == ']' || c == ':' || c == ',';
}

/* one pass: is there anything but whitespace, and does the nesting stay within max_depth (else *at = the bracket)? */
static enum prescan_result prescan(const char *buf, size_t len, size_t max_depth, size_t *at)
{
    const char *p = buf, *end = buf + len;
    size_t depth = 0;
    bool any = false;
    while (p < end) {
        switch (*p) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
            ++p;
            continue;
        case '"': {
            const char *q = p + 1;
            for (;;) {
                q = memchr(q, '"', (size_t)(end - q));
                if (q == NULL)
                    return PRESCAN_OK; /* unterminated: jansson reports it */
                const char *b = q;
                while (b[-1] == '\\')
                    --b; /* stops at the opening quote at the latest */
                if (((q - b) & 1) == 0)
                    break;
                ++q;
            }
            any = true;
            p = q + 1;
            continue;
        }
        case '[':
        case '{':
            if (++depth > max_depth) {
                *at = (size_t)(p - buf);
                return PRESCAN_TOO_DEEP;
            }
            break;
        case ']':
        case '}':
            if (depth != 0)
                --depth;
            break;
        }
        any = true;
        ++p;
    }
    return any ? PRESCAN_OK : PRESCAN_EMPTY;
}

static void report(hg_violations_t *errors, const char *buf, size_t at, const char *in, const char *code, const char *reason)
{
    size_t line = 1, column = 1;
    for (size_t i = 0; i != at; ++i) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n') {
            ++line;
            column = 1;
        } else if ((c & 0xC0) != 0x80) {
            ++column;
        }
    }
    hg_violations_add(errors, in, code, "invalid JSON at line %zu, column %zu (byte %zu): %s", line, column, at, reason);
}

/* end of the token that starts at `start` (strings up to their closing quote, other runs up to a delimiter) */
static size_t token_end(const char *buf, size_t len, size_t start)
{
    size_t i = start;
    unsigned char c = (unsigned char)buf[i++];
    if (c == '"') {
        while (i < len) {
            if (buf[i] == '\\')
                i += 2;
            else if (buf[i++] == '"')
                break;
        }
        return i < len ? i : len;
    }
    if (is_punct(c))
        return i;
    while (i < len && !is_ws((unsigned char)buf[i]) && !is_punct((unsigned char)buf[i]) && buf[i] != '"')
        ++i;
    return i;
}

/* start of the token holding byte `offset` (or of the first token after it) */
static size_t token_start(const char *buf, size_t len, size_t offset)
{
    size_t i = 0;
    while (i < len) {
        if (is_ws((unsigned char)buf[i])) {
            ++i;
            continue;
        }
        size_t end = token_end(buf, len, i);
        if (offset < end)
            return i;
        i = end;
    }
    return len;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i != 4; ++i) {
        char c = s[i];
        v = v * 16 + (c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10);
    }
    return v;
}

/*
 * Finds the first \u escape in the string token [start, end) that is \u0000 (want_nul) or an unpaired
 * surrogate; returns its offset and sets *value, or returns `start` when there is none.
 */
static size_t find_bad_escape(const char *buf, size_t start, size_t end, bool want_nul, int *value)
{
    for (size_t i = start + 1; i + 1 < end; ++i) {
        if (buf[i] != '\\')
            continue;
        if (buf[i + 1] != 'u' || i + 6 > end) {
            ++i;
            continue;
        }
        int v = hex4(buf + i + 2);
        *value = v;
        if (want_nul) {
            if (v == 0)
                return i;
        } else if (v >= 0xD800 && v <= 0xDBFF) {
            if (i + 12 > end || buf[i + 6] != '\\' || buf[i + 7] != 'u')
                return i;
            int low = hex4(buf + i + 8);
            if (low < 0xDC00 || low > 0xDFFF)
                return i;
            i += 11;
            continue;
        } else if (v >= 0xDC00 && v <= 0xDFFF) {
            return i;
        }
        i += 5;
    }
    return start;
}

/* decodes the JSON string token [start, end) (quotes included, known valid) into a new heap string */
static char *decode_string(const char *buf, size_t start, size_t end)
{
    char *out = hg_xmalloc(end - start + 1), *o = out;
    for (size_t i = start + 1; i < end - 1; ++i) {
        if (buf[i] != '\\') {
            *o++ = buf[i];
            continue;
        }
        char e = buf[++i];
        switch (e) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            uint32_t cp = (uint32_t)hex4(buf + i + 1);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(buf + i + 3) - 0xDC00);
                i += 6;
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | cp >> 6);
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | cp >> 12);
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | cp >> 18);
                *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
                *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: /* '"', '\\', '/' */
            *o++ = e;
            break;
        }
    }
    *o = '\0';
    return out;
}

struct st_frame_t {
    bool object;
    bool expect_key;
    size_t index;
    size_t key_start, key_end; /* the current key's token, quotes included */
};

/* builds the pointer of frames[0..n) (the current key or index of each) into p */
static void frames_pointer(const char *buf, const struct st_frame_t *frames, size_t n, hg_jptr_t *p)
{
    for (size_t i = 0; i != n; ++i) {
        if (frames[i].object) {
            char *key = decode_string(buf, frames[i].key_start, frames[i].key_end);
            hg_jptr_push_key(p, key);
            free(key);
        } else {
            hg_jptr_push_index(p, frames[i].index);
        }
    }
}

/*
 * Walks the body (valid up to key_end) to the object key whose token ends at key_end; on success builds the
 * member's pointer into p and returns the key token's start, else returns key_end.
 */
static size_t locate_key(const char *buf, size_t len, size_t key_end, hg_jptr_t *p)
{
    struct st_frame_t *frames = NULL;
    size_t depth = 0, cap = 0, found = key_end;
    for (size_t i = 0; i < len && i < key_end;) {
        unsigned char c = (unsigned char)buf[i];
        if (is_ws(c)) {
            ++i;
            continue;
        }
        size_t end = token_end(buf, len, i);
        struct st_frame_t *top = depth != 0 ? &frames[depth - 1] : NULL;
        switch (c) {
        case '{':
        case '[':
            if (depth == cap) {
                cap = cap == 0 ? 16 : cap * 2;
                frames = hg_xrealloc(frames, cap * sizeof(*frames));
            }
            frames[depth++] = (struct st_frame_t){.object = c == '{', .expect_key = c == '{'};
            break;
        case '}':
        case ']':
            if (depth != 0)
                --depth;
            break;
        case ',':
            if (top != NULL && top->object)
                top->expect_key = true;
            else if (top != NULL)
                ++top->index;
            break;
        case ':':
            if (top != NULL)
                top->expect_key = false;
            break;
        case '"':
            if (top != NULL && top->object && top->expect_key) {
                top->key_start = i;
                top->key_end = end;
                if (end == key_end) {
                    frames_pointer(buf, frames, depth, p);
                    found = i;
                    goto Exit;
                }
            }
            break;
        }
        i = end;
    }
Exit:
    free(frames);
    return found;
}

/* copies at most SHOWN_MAX bytes of buf[start, end), "..." marking a cut, into a new heap string */
static char *shown(const char *buf, size_t start, size_t end)
{
    size_t n = end - start;
    if (n <= SHOWN_MAX)
        return hg_xstrndup(buf + start, n);
    n = SHOWN_MAX;
    while (n != 0 && ((unsigned char)buf[start + n] & 0xC0) == 0x80)
        --n; /* do not cut a UTF-8 sequence */
    return hg_xasprintf("%.*s...", (int)n, buf + start);
}

static void report_duplicate(const char *buf, size_t len, size_t key_end, hg_violations_t *errors)
{
    hg_jptr_t p;
    hg_jptr_init(&p);
    size_t start = locate_key(buf, len, key_end, &p);
    char *key = start != key_end ? decode_string(buf, start, key_end) : hg_xstrdup("?");
    char *display = shown(key, 0, strlen(key));
    char *reason = hg_xasprintf("duplicate key \"%s\"", display);
    report(errors, buf, start != key_end ? start : token_start(buf, len, key_end - 1), p.buf, "duplicate_key", reason);
    free(reason);
    free(display);
    free(key);
    hg_jptr_dispose(&p);
}

static void report_jansson(const char *buf, size_t len, const json_error_t *err, hg_violations_t *errors)
{
    size_t pos = err->position < 0 ? 0 : (size_t)err->position;
    if (pos > len)
        pos = len;
    size_t start = token_start(buf, len, pos != 0 ? pos - 1 : 0);
    char *reason = NULL;
    const char *code = "invalid_json";
    size_t at = start;
    int value = 0;

    switch (json_error_code(err)) {
    case json_error_invalid_utf8:
        code = "invalid_utf8";
        at = pos;
        reason = hg_xasprintf("invalid UTF-8 (byte 0x%02X)", pos < len ? (unsigned char)buf[pos] : 0);
        break;
    case json_error_premature_end_of_input:
        at = len;
        reason = hg_xstrdup("unexpected end of input");
        break;
    case json_error_end_of_input_expected:
        reason = hg_xstrdup("unexpected data after the JSON value");
        break;
    case json_error_duplicate_key:
        report_duplicate(buf, len, pos, errors);
        return;
    case json_error_null_character:
    case json_error_null_byte_in_key:
        at = find_bad_escape(buf, start, token_end(buf, len, start), true, &value);
        reason = hg_xstrdup("\\u0000 (NUL) is not allowed in a string");
        break;
    case json_error_stack_overflow:
        code = "too_deep";
        reason = hg_xstrdup("nesting too deep");
        break;
    case json_error_numeric_overflow: {
        size_t end = token_end(buf, len, start);
        char *num = shown(buf, start, end);
        bool integer = true;
        for (size_t i = start; i != end; ++i)
            if (buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E')
                integer = false;
        reason =
            integer ? hg_xasprintf("integer %s is too large (beyond 64 bits)", num) : hg_xasprintf("number %s is too large", num);
        free(num);
        break;
    }
    default:
        if (strncmp(err->text, "invalid Unicode '", 17) == 0) {
            code = "invalid_utf8";
            at = find_bad_escape(buf, start, token_end(buf, len, start), false, &value);
            reason = hg_xasprintf("unpaired surrogate \\u%04X cannot be encoded in UTF-8", (unsigned)value);
        } else if (strncmp(err->text, "unexpected newline", 18) == 0 || strncmp(err->text, "control character", 17) == 0) {
            at = pos;
            reason = hg_xasprintf("control character 0x%02X in a string must be escaped", pos < len ? (unsigned char)buf[pos] : 0);
        } else {
            reason = hg_xstrdup(err->text);
        }
        break;
    }
    report(errors, buf, at, "", code, reason);
    free(reason);
}

json_t *hg_json_parse_strict(const char *buf, size_t len, size_t max_depth, hg_violations_t *errors)
{
    size_t at = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        report(errors, buf, 0, "", "invalid_json", "a byte order mark (BOM) is not allowed");
        return NULL;
    }
    switch (prescan(buf, len, max_depth, &at)) {
    case PRESCAN_EMPTY:
        report(errors, buf, len, "", "invalid_json", "empty body");
        return NULL;
    case PRESCAN_TOO_DEEP: {
        char *reason = hg_xasprintf("nesting deeper than %zu levels", max_depth);
        report(errors, buf, at, "", "too_deep", reason);
        free(reason);
        return NULL;
    }
    case PRESCAN_OK:
        break;
    }
    json_error_t err;
    json_t *value = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (value == NULL)
        report_jansson(buf, len, &err, errors);
    return value;
}
