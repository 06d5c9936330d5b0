/*
 * jsonschema_regex.c: JSON Schema's regular expressions (ECMA-262 syntax) on PCRE2.
 *
 * Patterns are unanchored searches ("a+" matches "xxaayy"). They are compiled
 * once at load, JIT-compiled where the platform allows, with:
 *   PCRE2_UTF: a pattern and a subject are sequences of code points, as in
 *     ECMA-262 with the u flag ("." and [^x] consume a whole character, and
 *     \u00e9 or a literal "é" match one). Subjects are checked for valid UTF-8
 *     (jansson only creates valid strings; a bad one fails the keyword).
 *   no PCRE2_UCP: ECMA-262 defines \d, \w and \b over ASCII only ([0-9],
 *     [A-Za-z0-9_]); with UCP, PCRE2 would let \d match Arabic-Indic or NKo
 *     digits, which would let "^\d+$" accept record ids that are not ASCII
 *     digits. \p{...} still works under UTF without UCP.
 *   PCRE2_DOLLAR_ENDONLY: ECMA's $ matches only at the very end; PCRE2's
 *     default also matches before a final "\n", so "^[0-9]{1,20}$" would
 *     accept "123\n".
 *   PCRE2_ALT_BSUX + PCRE2_EXTRA_ALT_BSUX: \uXXXX and \u{X...} as in ECMA-262.
 *   PCRE2_ALLOW_EMPTY_CLASS: ECMA's [] matches nothing, [^] anything.
 * and a small translation of what PCRE2 reads differently: \s and \S get
 * ECMA's Unicode whitespace set (PCRE2 without UCP has ASCII whitespace only),
 * "." excludes only ECMA's line terminators (\n, \r, U+2028, U+2029), and
 * long Unicode property names (\p{Letter}, \p{gc=Lu}, \p{Script=Greek}) are
 * mapped to the short ones PCRE2 10.42 knows. Known gap: \S inside a
 * character class keeps PCRE2's ASCII meaning.
 *
 * The most common shape of an id pattern, one ASCII character class repeated
 * between anchors ("^[0-9]{1,20}$", "^\\d+$", "^[A-Za-z0-9_-]{1,64}$"), is also
 * recognized at load and then matched by a byte table without PCRE2: every
 * byte in the class and the length in bounds (UTF-8 bytes of non-ASCII
 * characters are never in an ASCII class, so bytes and characters agree).
 *
 * Matching runs under a match context with match and depth limits, so that a
 * hostile subject cannot make a backtracking pattern run for minutes; hitting
 * a limit fails the keyword (fail closed).
 */
#include "jsonschema_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define ECMA_WS "\\x09\\x0a\\x0b\\x0c\\x0d\\x20\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
#define ECMA_DOT "[^\\x0a\\x0d\\u2028\\u2029]"

static const char *const categories[][2] = {
    {"Letter", "L"},
    {"Cased_Letter", "L&"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Surrogate", "Cs"},
    {"Private_Use", "Co"},
    {"Unassigned", "Cn"},
};

typedef struct st_buf_t {
    char *s;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = hg_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void puts_(buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

/* \p{NAME} or \p{KEY=VALUE} in ECMA-262 spelling to PCRE2 10.42's */
static void put_property(buf_t *b, char kind, const char *name, size_t len)
{
    const char *eq = memchr(name, '=', len);
    if (eq != NULL) {
        size_t klen = (size_t)(eq - name);
        int gc = (klen == 16 && memcmp(name, "General_Category", 16) == 0) || (klen == 2 && memcmp(name, "gc", 2) == 0);
        int sc = (klen == 6 && memcmp(name, "Script", 6) == 0) || (klen == 2 && memcmp(name, "sc", 2) == 0);
        if (gc || sc) {
            len -= klen + 1;
            name = eq + 1;
        }
    }
    for (size_t i = 0; i != sizeof(categories) / sizeof(categories[0]); ++i) {
        if (strlen(categories[i][0]) == len && memcmp(categories[i][0], name, len) == 0) {
            name = categories[i][1];
            len = strlen(name);
            break;
        }
    }
    char head[4] = {'\\', kind, '{', '\0'};
    puts_(b, head);
    put(b, name, len);
    puts_(b, "}");
}

/* length of the UTF-8 sequence that starts with byte c (1 for anything odd: PCRE2 will judge it) */
static size_t utf8_len(unsigned char c)
{
    return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

static char *translate(const char *src, size_t len, size_t *outlen)
{
    buf_t b = {NULL, 0, 0};
    put(&b, "", 0);
    int in_class = 0;
    for (size_t i = 0; i < len;) {
        char c = src[i];
        if (c == '\\' && i + 1 < len) {
            char e = src[i + 1];
            if (e == 's') {
                puts_(&b, in_class ? ECMA_WS : "[" ECMA_WS "]");
                i += 2;
            } else if (e == 'S' && !in_class) {
                puts_(&b, "[^" ECMA_WS "]");
                i += 2;
            } else if ((e == 'p' || e == 'P') && i + 2 < len && src[i + 2] == '{' &&
                       memchr(src + i + 3, '}', len - i - 3) != NULL) {
                const char *name = src + i + 3, *end = memchr(name, '}', len - i - 3);
                put_property(&b, e, name, (size_t)(end - name));
                i = (size_t)(end - src) + 1;
            } else {
                size_t n = 1 + utf8_len((unsigned char)e);
                if (i + n > len)
                    n = len - i;
                put(&b, src + i, n);
                i += n;
            }
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = 0;
            put(&b, &c, 1);
            ++i;
        } else if (c == '[') {
            in_class = 1;
            put(&b, &c, 1);
            ++i;
            if (i < len && src[i] == '^')
                put(&b, src + i++, 1);
            /* ECMA-262: "[]" and "[^]" end right here; PCRE2_ALLOW_EMPTY_CLASS reads them the same way */
            if (i < len && src[i] == ']') {
                put(&b, src + i++, 1);
                in_class = 0;
            }
        } else if (c == '.') {
            puts_(&b, ECMA_DOT);
            ++i;
        } else {
            put(&b, &c, 1);
            ++i;
        }
    }
    *outlen = b.len;
    return b.s;
}

static void set_bit(js_regex_t *re, unsigned char c)
{
    re->set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static int parse_number(const char *s, size_t len, size_t *i, size_t *out)
{
    size_t start = *i, v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9' && *i - start < 9)
        v = v * 10 + (size_t)(s[(*i)++] - '0');
    *out = v;
    return *i != start && !(*i < len && s[*i] >= '0' && s[*i] <= '9') ? 0 : -1;
}

/* recognizes ^ATOM QUANTIFIER$ where ATOM is \d, \w or a class of ASCII literals and ranges; 1 when simple */
static int parse_simple(js_regex_t *re, const char *s, size_t len)
{
    size_t i = 0;
    memset(re->set, 0, sizeof(re->set));
    if (len < 3 || s[i++] != '^')
        return 0;
    if (s[i] == '\\' && i + 1 < len && (s[i + 1] == 'd' || s[i + 1] == 'w')) {
        for (int c = 0; c != 128; ++c)
            if ((c >= '0' && c <= '9') || (s[i + 1] == 'w' && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) ||
                (s[i + 1] == 'w' && c == '_'))
                set_bit(re, (unsigned char)c);
        i += 2;
    } else if (s[i] == '[') {
        ++i;
        if (i < len && (s[i] == '^' || s[i] == ']'))
            return 0;
        while (i < len && s[i] != ']') {
            unsigned char lo = (unsigned char)s[i];
            if (lo == '\\' || lo == '[' || lo >= 0x80)
                return 0;
            unsigned char hi = lo;
            if (i + 2 < len && s[i + 1] == '-' && s[i + 2] != ']') {
                hi = (unsigned char)s[i + 2];
                if (hi == '\\' || hi == '[' || hi >= 0x80 || hi < lo)
                    return 0;
                i += 3;
            } else {
                ++i;
            }
            for (unsigned c = lo; c <= hi; ++c)
                set_bit(re, (unsigned char)c);
        }
        if (i == len)
            return 0;
        ++i;
    } else {
        return 0;
    }
    if (i < len && s[i] == '{') {
        ++i;
        if (parse_number(s, len, &i, &re->min) != 0)
            return 0;
        re->max = re->min;
        if (i < len && s[i] == ',') {
            ++i;
            re->max = SIZE_MAX;
            if (i < len && s[i] != '}' && (parse_number(s, len, &i, &re->max) != 0 || re->max < re->min))
                return 0;
        }
        if (i >= len || s[i++] != '}')
            return 0;
    } else if (i < len && (s[i] == '+' || s[i] == '*' || s[i] == '?')) {
        re->min = s[i] == '+' ? 1 : 0;
        re->max = s[i] == '?' ? 1 : SIZE_MAX;
        ++i;
    } else {
        re->min = re->max = 1;
    }
    return i + 1 == len && s[i] == '$';
}

int js_regex_compile(js_compiler_t *cc, js_regex_t *re, const char *source, size_t len, const char *ptr)
{
    re->source = hg_xstrndup(source, len);
    size_t tlen;
    char *translated = translate(source, len, &tlen);
    int err;
    PCRE2_SIZE offset;
    re->code =
        pcre2_compile((PCRE2_SPTR)translated, tlen, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS,
                      &err, &offset, cc->compile_context);
    int same = tlen == len && memcmp(translated, source, len) == 0;
    free(translated);
    if (re->code == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        if (same)
            js_error(cc, ptr, "bad regular expression \"%s\": %s (at offset %zu)", re->source, (char *)msg, (size_t)offset);
        else
            js_error(cc, ptr, "bad regular expression \"%s\": %s", re->source, (char *)msg);
        return -1;
    }
    pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    re->simple = parse_simple(re, source, len);
    return 0;
}

void js_regex_dispose(js_regex_t *re)
{
    pcre2_code_free(re->code);
    free(re->source);
    re->code = NULL;
    re->source = NULL;
}

int js_regex_search(const hg_schema_t *s, const js_regex_t *re, pcre2_match_data **md, const char *subject, size_t len)
{
    if (re->simple) {
        if (len < re->min || len > re->max)
            return 0;
        for (size_t i = 0; i != len; ++i) {
            unsigned char c = (unsigned char)subject[i];
            if ((re->set[(c >> 3) & 15] & (1u << (c & 7))) == 0 || c >= 0x80)
                return 0;
        }
        return 1;
    }
    if (*md == NULL)
        *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, *md, s->match_context);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}
