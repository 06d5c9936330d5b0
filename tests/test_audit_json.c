/*
 * test_audit_json.c: hg_audit_record_append_json against the reference it
 * replaces, json_dumps(hg_audit_record_to_json(r), HG_AUDIT_JSON_FLAGS), byte
 * for byte: absent and present fields, string escaping and UTF-8 repair in
 * every string field and in pair ids, integers at their limits, durations at
 * their rounding edges and beyond the range jansson accepts, timestamps far
 * from today, and 20000 random records. A few literal lines pin the shape
 * itself, so that a change to both sides cannot pass unnoticed.
 */
#include "audit.h"
#include "util.h"

#include <check.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* what jansson prints for r; a new string */
static char *reference(const hg_audit_record_t *r)
{
    json_t *o = hg_audit_record_to_json(r);
    char *s = json_dumps(o, HG_AUDIT_JSON_FLAGS);
    json_decref(o);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* what the direct formatter prints for r, appended after a prefix into a buffer that starts small; a new string */
static char *direct(const hg_audit_record_t *r)
{
    size_t cap = 8, len = 3;
    char *buf = hg_xmalloc(cap);
    memcpy(buf, "xyz", 3);
    hg_audit_record_append_json(r, &buf, &len, &cap);
    ck_assert_uint_ge(cap, len);
    ck_assert_int_eq(memcmp(buf, "xyz", 3), 0);
    ck_assert_ptr_null(memchr(buf, '\0', len)); /* no NUL inside the line */
    char *s = hg_xstrndup(buf + 3, len - 3);
    free(buf);
    return s;
}

/* equal bytes; on a difference, says where, with some context (whole lines of 1000 pairs are too long for Check) */
static void assert_bytes_eq(const char *got, size_t got_len, const char *want, size_t want_len)
{
    size_t at = 0;
    while (at != got_len && at != want_len && got[at] == want[at])
        ++at;
    if (at == got_len && at == want_len)
        return;
    size_t from = at > 40 ? at - 40 : 0;
    int got_n = (int)((got_len - from) < 100 ? got_len - from : 100),
        want_n = (int)((want_len - from) < 100 ? want_len - from : 100);
    ck_abort_msg("lines differ at byte %zu (got %zu bytes, want %zu): got ...%.*s... want ...%.*s...", at, got_len, want_len, got_n,
                 got + from, want_n, want + from);
}

static void assert_same(const hg_audit_record_t *r)
{
    char *want = reference(r), *got = direct(r);
    assert_bytes_eq(got, strlen(got), want, strlen(want));
    free(want);
    free(got);
}

/* asserts that the direct line is `want` (and that jansson agrees) */
static void assert_line(const hg_audit_record_t *r, const char *want)
{
    char *got = direct(r);
    ck_assert_str_eq(got, want);
    free(got);
    assert_same(r);
}

/* the heap-owned string fields of r, in the order of the JSON line */
#define NUM_STRING_FIELDS 15
static void string_fields(hg_audit_record_t *r, char **f[NUM_STRING_FIELDS])
{
    char **all[NUM_STRING_FIELDS] = {&r->request_id,       &r->route,          &r->method,         &r->path,
                                     &r->issuer,           &r->subject,        &r->client,         &r->scope_used,
                                     &r->from_object_type, &r->to_object_type, &r->hubspot_status, &r->hubspot_correlation_id,
                                     &r->body_sha256,      &r->client_addr,    &r->user_agent};
    memcpy(f, all, sizeof(all));
}

/* sets one of r's string fields to a copy of s in r's blocks (the old value stays there until a reset) */
static void set_string(hg_audit_record_t *r, char **field, const char *s)
{
    *field = hg_audit_record_strdup(r, s);
}

#define EMPTY_LINE_TAIL                                                                                                            \
    "\"request_id\":null,\"route\":null,\"method\":null,\"path\":null,\"decision\":null,\"status\":null,"                          \
    "\"upstream_status\":null,\"issuer\":null,\"subject\":null,\"client\":null,\"scope_used\":null,"                               \
    "\"from_object_type\":null,\"to_object_type\":null,\"inputs_received\":null,\"inputs_forwarded\":null,"                        \
    "\"duplicates\":null,\"coerced\":null,\"dropped_fields\":null,\"hubspot_status\":null,\"num_errors\":null,"                    \
    "\"hubspot_correlation_id\":null,\"duration_ms\":null,\"upstream_ms\":null,\"body_sha256\":null,"                              \
    "\"client_addr\":null,\"user_agent\":null,\"error\":null,\"pairs\":[]}"

START_TEST(every_field_absent)
{
    hg_audit_record_t *r = hg_audit_record_new();
    assert_same(r); /* today's timestamp */
    r->ts_ms = 1714564800123LL;
    assert_line(r, "{\"ts\":\"2024-05-01T12:00:00.123Z\"," EMPTY_LINE_TAIL);
    hg_audit_record_free(r);
}
END_TEST

static hg_audit_record_t *full_record(void)
{
    hg_audit_record_t *r = hg_audit_record_new();
    r->ts_ms = 1714564800123LL;
    r->request_id = hg_audit_record_strdup(r, "req-1");
    r->route = hg_audit_record_strdup(r, "create-default-associations");
    r->method = hg_audit_record_strdup(r, "POST");
    r->path = hg_audit_record_strdup(r, "/crm/v4/associations/contacts/companies/batch/associate/default");
    r->decision = HG_AUDIT_FORWARDED;
    r->status = 200;
    r->upstream_status = 207;
    r->issuer = hg_audit_record_strdup(r, "https://idp.example.internal");
    r->subject = hg_audit_record_strdup(r, "user-7");
    r->client = hg_audit_record_strdup(r, "svc-a");
    r->scope_used = hg_audit_record_strdup(r, "crm.objects.contacts.write");
    r->from_object_type = hg_audit_record_strdup(r, "contacts");
    r->to_object_type = hg_audit_record_strdup(r, "companies");
    r->inputs_received = 3;
    r->inputs_forwarded = 2;
    r->duplicates = 1;
    r->coerced = 0;
    r->dropped_fields = 4;
    r->hubspot_status = hg_audit_record_strdup(r, "COMPLETE");
    r->num_errors = 0;
    r->hubspot_correlation_id = hg_audit_record_strdup(r, "c0ffee");
    r->duration_ms = 12.3456;
    r->upstream_ms = 10.0;
    r->body_sha256 = hg_audit_record_strdup(r, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    r->client_addr = hg_audit_record_strdup(r, "127.0.0.1");
    r->user_agent = hg_audit_record_strdup(r, "curl/8.0");
    r->error = hg_audit_record_strdup(r, "none");
    hg_audit_record_add_pair(r, "101", "201");
    hg_audit_record_add_pair(r, "102", "202");
    return r;
}

START_TEST(every_field_set)
{
    hg_audit_record_t *r = full_record();
    assert_line(r, "{\"ts\":\"2024-05-01T12:00:00.123Z\",\"request_id\":\"req-1\",\"route\":\"create-default-associations\","
                   "\"method\":\"POST\",\"path\":\"/crm/v4/associations/contacts/companies/batch/associate/default\","
                   "\"decision\":\"forwarded\",\"status\":200,\"upstream_status\":207,"
                   "\"issuer\":\"https://idp.example.internal\",\"subject\":\"user-7\",\"client\":\"svc-a\","
                   "\"scope_used\":\"crm.objects.contacts.write\",\"from_object_type\":\"contacts\","
                   "\"to_object_type\":\"companies\",\"inputs_received\":3,\"inputs_forwarded\":2,\"duplicates\":1,"
                   "\"coerced\":0,\"dropped_fields\":4,\"hubspot_status\":\"COMPLETE\",\"num_errors\":0,"
                   "\"hubspot_correlation_id\":\"c0ffee\",\"duration_ms\":12.346,\"upstream_ms\":10.0,"
                   "\"body_sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
                   "\"client_addr\":\"127.0.0.1\",\"user_agent\":\"curl/8.0\",\"error\":\"none\","
                   "\"pairs\":[{\"from\":\"101\",\"to\":\"201\"},{\"from\":\"102\",\"to\":\"202\"}]}");
    hg_audit_record_free(r);
}
END_TEST

/* strings that exercise escaping and UTF-8 repair */
static const char *const tricky[] = {
    "",
    "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b"
    "\x1c\x1d\x1e\x1f",
    "quote\" backslash\\ slash/ del\x7f tilde~ space ",
    "\"\\\"\\\\",
    "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",                                        /* e-acute, euro, emoji: 2, 3, 4 bytes */
    "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",      /* the first and last of each length */
    "\xed\x9f\xbf\xee\x80\x80",                                                      /* around the surrogates */
    "\xc0\x80 \xc1\xbf \xe0\x80\x80 \xe0\x9f\xbf \xf0\x80\x80\x80 \xf0\x8f\xbf\xbf", /* overlong */
    "\xed\xa0\x80 \xed\xbf\xbf \xed\xb0\x80",                                        /* surrogates */
    "\xf4\x90\x80\x80 \xf5\x80\x80\x80 \xf8\x88\x80\x80\x80",                        /* beyond U+10FFFF */
    "\xff\xfe\x80\xbf",                                                              /* never UTF-8 */
    "trunc\xe2\x82",
    "trunc\xe2\x82x\xf0\x9f\x98",
    "\xf0\x9f",
    "\xc3",
    "mix \xc3\xa9\xff\n\xe2\x82\xac\"\x01/\xed\xa0\x80\\",
};
#define NUM_TRICKY (sizeof(tricky) / sizeof(tricky[0]))

START_TEST(escaping_literal)
{
    hg_audit_record_t *r = hg_audit_record_new();
    r->ts_ms = 0;
    r->user_agent = hg_audit_record_strdup(r, "a\"b\\c/d\x01\x1f\x7f\b\f\n\r\t\xc3\xa9\xff\xed\xa0\x80z");
    assert_line(r, "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"request_id\":null,\"route\":null,\"method\":null,"
                   "\"path\":null,\"decision\":null,\"status\":null,\"upstream_status\":null,\"issuer\":null,"
                   "\"subject\":null,\"client\":null,\"scope_used\":null,\"from_object_type\":null,"
                   "\"to_object_type\":null,\"inputs_received\":null,\"inputs_forwarded\":null,\"duplicates\":null,"
                   "\"coerced\":null,\"dropped_fields\":null,\"hubspot_status\":null,\"num_errors\":null,"
                   "\"hubspot_correlation_id\":null,\"duration_ms\":null,\"upstream_ms\":null,\"body_sha256\":null,"
                   "\"client_addr\":null,\"user_agent\":\"a\\\"b\\\\c/d\\u0001\\u001F\x7f\\b\\f\\n\\r\\t\xc3\xa9????z\","
                   "\"error\":null,\"pairs\":[]}");
    hg_audit_record_free(r);
}
END_TEST

START_TEST(tricky_strings_in_every_field)
{
    for (size_t t = 0; t != NUM_TRICKY; ++t) {
        for (size_t f = 0; f != NUM_STRING_FIELDS + 2; ++f) {
            hg_audit_record_t *r = full_record();
            char **fields[NUM_STRING_FIELDS];
            string_fields(r, fields);
            if (f < NUM_STRING_FIELDS)
                set_string(r, fields[f], tricky[t]);
            else if (f == NUM_STRING_FIELDS)
                set_string(r, &r->error, tricky[t]);
            else
                r->decision = tricky[t];
            assert_same(r);
            hg_audit_record_free(r);
        }
        hg_audit_record_t *r = hg_audit_record_new();
        char **fields[NUM_STRING_FIELDS];
        string_fields(r, fields);
        for (size_t f = 0; f != NUM_STRING_FIELDS; ++f)
            set_string(r, fields[f], tricky[t]);
        set_string(r, &r->error, tricky[t]);
        assert_same(r);
        hg_audit_record_free(r);
    }
}
END_TEST

START_TEST(tricky_pairs)
{
    hg_audit_record_t *r = hg_audit_record_new();
    for (size_t a = 0; a != NUM_TRICKY; ++a)
        for (size_t b = 0; b != NUM_TRICKY; ++b)
            hg_audit_record_add_pair(r, tricky[a], tricky[b]);
    assert_same(r);
    hg_audit_record_free(r);

    r = hg_audit_record_new();
    r->ts_ms = 0;
    hg_audit_record_add_pair(r, "1\xff", "\"2\"");
    char *got = direct(r);
    ck_assert_ptr_nonnull(strstr(got, ",\"pairs\":[{\"from\":\"1?\",\"to\":\"\\\"2\\\"\"}]}"));
    free(got);
    hg_audit_record_free(r);
}
END_TEST

START_TEST(pair_counts)
{
    static const size_t counts[] = {0, 1, 2, 1000};
    for (size_t c = 0; c != sizeof(counts) / sizeof(counts[0]); ++c) {
        hg_audit_record_t *r = full_record();
        r->num_pairs = 0;
        for (size_t i = 0; i != counts[c]; ++i) {
            char from[32], to[32];
            snprintf(from, sizeof(from), "%zu", 1000000000 + i);
            snprintf(to, sizeof(to), "company-%zu", i * 7);
            hg_audit_record_add_pair(r, from, to);
        }
        assert_same(r);
        hg_audit_record_free(r);
    }
}
END_TEST

START_TEST(integers)
{
    static const int64_t values[] = {INT64_MIN,
                                     INT64_MIN + 1,
                                     -1000000000000LL,
                                     -2,
                                     -1,
                                     0,
                                     1,
                                     9,
                                     10,
                                     99,
                                     100,
                                     4294967296LL,
                                     999999999999999999LL,
                                     1000000000000000000LL,
                                     INT64_MAX - 1,
                                     INT64_MAX};
    static const int ints[] = {INT_MIN, -1, 0, 1, 200, 599, INT_MAX};
    for (size_t i = 0; i != sizeof(values) / sizeof(values[0]); ++i) {
        hg_audit_record_t *r = hg_audit_record_new();
        r->inputs_received = r->inputs_forwarded = r->duplicates = r->coerced = r->dropped_fields = r->num_errors = values[i];
        r->status = r->upstream_status = ints[i % (sizeof(ints) / sizeof(ints[0]))];
        assert_same(r);
        hg_audit_record_free(r);
    }
    hg_audit_record_t *r = hg_audit_record_new();
    r->ts_ms = 0;
    r->status = -7;
    r->inputs_received = INT64_MIN;
    r->inputs_forwarded = INT64_MAX;
    r->duplicates = -2;
    char *got = direct(r);
    ck_assert_ptr_nonnull(strstr(got, ",\"status\":-7,\"upstream_status\":null,"));
    ck_assert_ptr_nonnull(strstr(got, ",\"inputs_received\":-9223372036854775808,\"inputs_forwarded\":9223372036854775807,"
                                      "\"duplicates\":-2,\"coerced\":null,"));
    free(got);
    hg_audit_record_free(r);
}
END_TEST

/* splitmix64: a fixed, portable sequence */
static uint64_t next_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rand_unit(uint64_t *state)
{
    return (double)(next_rand(state) >> 11) / 9007199254740992.0;
}

/* a duration from every range that matters: rounding edges, every magnitude, beyond 1e15 and the overflow */
static double rand_duration(uint64_t *state)
{
    uint64_t k = next_rand(state);
    switch (next_rand(state) % 8) {
    case 0:
        return rand_unit(state) * 1000;
    case 1: /* a microsecond and a half: round() decides, in both directions of the binary error */
        return ((double)(k % 100000000) + 0.5) / 1000;
    case 2:
        return nextafter(((double)(k % 100000000) + 0.5) / 1000, next_rand(state) % 2 ? INFINITY : 0);
    case 3: /* whole microseconds, milliseconds, seconds */
        return (double)(k % 1000000000) / (next_rand(state) % 2 ? 1000 : 1);
    case 4:
        return ldexp(rand_unit(state), (int)(next_rand(state) % 80) - 30);
    case 5: /* around 1e12 ms, where the rounded value has 15 digits */
        return 1e12 * (0.5 + rand_unit(state));
    case 6:
        return pow(10, rand_unit(state) * 330 - 12);
    default:
        return rand_unit(state) * 2 - 1;
    }
}

START_TEST(durations)
{
    static const double values[] = {0.0,
                                    -0.0,
                                    0.0001,
                                    0.0004999,
                                    0.0005,
                                    0.0005000001,
                                    0.001,
                                    0.0015,
                                    0.0025,
                                    1.0005,
                                    2.0005,
                                    12.345,
                                    12.3455,
                                    0.1,
                                    0.3,
                                    1,
                                    10,
                                    100.5,
                                    1e6 + 0.5,
                                    1e6 + 0.0005,
                                    999999999999.999,
                                    999999999999.9995,
                                    1e12,
                                    1e12 + 0.001,
                                    1e13 + 0.5,
                                    123456789012345.678,
                                    1e15,
                                    1e15 + 0.125,
                                    1e16,
                                    1e20,
                                    1.5e300,
                                    1e305,
                                    1e306, /* v * 1000 overflows: null, the key stays */
                                    DBL_MAX,
                                    DBL_MIN,
                                    5e-324,
                                    -1,
                                    -0.0001,
                                    -1e300,
                                    NAN,
                                    INFINITY,
                                    -INFINITY};
    for (size_t i = 0; i != sizeof(values) / sizeof(values[0]); ++i) {
        hg_audit_record_t *r = hg_audit_record_new();
        r->duration_ms = values[i];
        r->upstream_ms = values[sizeof(values) / sizeof(values[0]) - 1 - i];
        assert_same(r);
        hg_audit_record_free(r);
    }
    uint64_t state = 42;
    for (int i = 0; i != 5000; ++i) {
        hg_audit_record_t *r = hg_audit_record_new();
        r->duration_ms = rand_duration(&state);
        r->upstream_ms = rand_duration(&state);
        assert_same(r);
        hg_audit_record_free(r);
    }
}
END_TEST

/* the duration's text in the direct line of a record with only that duration; a new string */
static char *duration_text(double v)
{
    hg_audit_record_t *r = hg_audit_record_new();
    r->duration_ms = v;
    char *line = direct(r);
    hg_audit_record_free(r);
    const char *key = ",\"duration_ms\":";
    char *at = strstr(line, key);
    char *text;
    if (at == NULL) {
        text = hg_xstrdup("(no key)");
    } else {
        at += strlen(key);
        text = hg_xstrndup(at, strcspn(at, ","));
    }
    free(line);
    return text;
}

START_TEST(durations_literal)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {{0.0, "0.0"},
                 {-0.0, "-0.0"},
                 {0.0004, "0.0"},
                 {0.001, "0.001"},
                 {12.345, "12.345"},
                 {12.3456, "12.346"},
                 {10, "10.0"},
                 {0.1, "0.1"},
                 {1e6 + 0.5, "1000000.5"},
                 {999999999999.999, "999999999999.999"},
                 {1e15, "1e15"},
                 {1.5e16, "1.5e16"},
                 {1e20, "1e20"},
                 {123456789012345678.0, "1.23456789012346e17"},
                 {1e306, "null"}, /* too large for microseconds: null, the key stays */
                 {-1, "null"},
                 {NAN, "null"},
                 {INFINITY, "null"}};
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        char *text = duration_text(cases[i].v);
        ck_assert_str_eq(text, cases[i].text);
        free(text);
    }
}
END_TEST

START_TEST(timestamps)
{
    static const struct {
        int64_t ts_ms;
        const char *text; /* NULL outside years 1000-9999, where strftime's %Y decides (unpadded in glibc) */
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {-1000, "1969-12-31T23:59:59.000Z"},
        {-1001, "1969-12-31T23:59:58.999Z"},
        {951782400000LL, "2000-02-29T00:00:00.000Z"},
        {951868799999LL, "2000-02-29T23:59:59.999Z"},
        {4107542400000LL, "2100-03-01T00:00:00.000Z"},
        {-30610224000000LL, "1000-01-01T00:00:00.000Z"},
        {253402300799999LL, "9999-12-31T23:59:59.999Z"},
        {-30610224000001LL, NULL},
        {253402300800000LL, NULL},
        {-62135596800000LL, NULL},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        hg_audit_record_t *r = hg_audit_record_new();
        r->ts_ms = cases[i].ts_ms;
        if (cases[i].text != NULL) {
            char *got = direct(r), *want = hg_xasprintf("{\"ts\":\"%s\",", cases[i].text);
            char *head = hg_xstrndup(got, strlen(want));
            ck_assert_str_eq(head, want);
            free(head);
            free(got);
            free(want);
        }
        assert_same(r);
        hg_audit_record_free(r);
    }
    static const int64_t extremes[] = {INT64_MIN, INT64_MIN + 999,  -62198755200000LL,    -62167219200001LL,
                                       INT64_MAX, INT64_MAX - 1000, 9223372036854775000LL};
    for (size_t i = 0; i != sizeof(extremes) / sizeof(extremes[0]); ++i) {
        hg_audit_record_t *r = hg_audit_record_new();
        r->ts_ms = extremes[i];
        assert_same(r);
        hg_audit_record_free(r);
    }
    uint64_t state = 7;
    for (int i = 0; i != 20000; ++i) {
        hg_audit_record_t *r = hg_audit_record_new();
        uint64_t k = next_rand(&state);
        if (i % 4 == 0)
            r->ts_ms = (int64_t)k; /* anywhere */
        else if (i % 4 == 1)
            r->ts_ms = -30610224000000LL + (int64_t)(k % (253402300800000ULL + 30610224000000ULL)); /* years 1000-9999 */
        else if (i % 4 == 2)
            r->ts_ms = (int64_t)(k % 200000000000ULL) - 100000000000LL; /* 1966 to 1973 */
        else
            r->ts_ms = -30610224000000LL + (int64_t)(k % 2000000000ULL) - 1000000000LL; /* around year 1000 */
        assert_same(r);
        hg_audit_record_free(r);
    }
}
END_TEST

/* a random string: printable ASCII mostly, then escapes, UTF-8 and its broken pieces; a new string */
static char *rand_string(uint64_t *state)
{
    static const char *const pieces[] = {"\"",
                                         "\\",
                                         "/",
                                         "\x7f",
                                         "\n",
                                         "\x01",
                                         "\x1f",
                                         "\t",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\xff",
                                         "\xc0\x80",
                                         "\xed\xa0\x80",
                                         "\xe2\x82",
                                         "\x80",
                                         "\xf4\x90\x80\x80"};
    size_t n = next_rand(state) % 24;
    char *s = hg_xmalloc(4 * n + 1), *o = s;
    int plain_only = next_rand(state) % 2 == 0;
    for (size_t i = 0; i != n; ++i) {
        uint64_t k = next_rand(state);
        if (plain_only || k % 4 != 0) {
            *o++ = (char)(0x20 + (k >> 8) % 95);
        } else {
            const char *p = pieces[(k >> 8) % (sizeof(pieces) / sizeof(pieces[0]))];
            memcpy(o, p, strlen(p));
            o += strlen(p);
        }
    }
    *o = '\0';
    return s;
}

/* NULL, or a random string in r's blocks */
static char *maybe_string(hg_audit_record_t *r, uint64_t *state)
{
    if (next_rand(state) % 5 == 0)
        return NULL;
    char *s = rand_string(state), *copy = hg_audit_record_strdup(r, s);
    free(s);
    return copy;
}

static int64_t rand_int(uint64_t *state, int64_t absent)
{
    uint64_t k = next_rand(state);
    switch (k % 5) {
    case 0:
        return absent;
    case 1:
        return (int64_t)next_rand(state);
    case 2:
        return (int64_t)(next_rand(state) % 1000);
    case 3:
        return k % 2 ? INT64_MIN : INT64_MAX;
    default:
        return -(int64_t)(next_rand(state) % 100);
    }
}

START_TEST(random_records)
{
    static const char *const decisions[] = {NULL,
                                            HG_AUDIT_FORWARDED,
                                            HG_AUDIT_REJECTED_AUTH,
                                            HG_AUDIT_REJECTED_SCOPE,
                                            HG_AUDIT_REJECTED_VALIDATION,
                                            HG_AUDIT_REJECTED_ROUTE,
                                            HG_AUDIT_UPSTREAM_ERROR,
                                            HG_AUDIT_REJECTED_OTHER,
                                            "odd\"decision\xff"};
    uint64_t state = 20240501;
    char *all = NULL; /* every line appended to one buffer, which grows from nothing */
    size_t len = 0, cap = 0, want_len = 0;
    for (int i = 0; i != 20000; ++i) {
        hg_audit_record_t *r = hg_audit_record_new();
        r->ts_ms = next_rand(&state) % 8 == 0 ? (int64_t)next_rand(&state)
                                              : 1700000000000LL + (int64_t)(next_rand(&state) % 100000000000ULL);
        char **fields[NUM_STRING_FIELDS];
        string_fields(r, fields);
        for (size_t f = 0; f != NUM_STRING_FIELDS; ++f)
            *fields[f] = maybe_string(r, &state);
        r->error = maybe_string(r, &state);
        r->decision = decisions[next_rand(&state) % (sizeof(decisions) / sizeof(decisions[0]))];
        r->status = (int)rand_int(&state, 0);
        r->upstream_status = (int)rand_int(&state, 0);
        r->inputs_received = rand_int(&state, -1);
        r->inputs_forwarded = rand_int(&state, -1);
        r->duplicates = rand_int(&state, -1);
        r->coerced = rand_int(&state, -1);
        r->dropped_fields = rand_int(&state, -1);
        r->num_errors = rand_int(&state, -1);
        r->duration_ms = next_rand(&state) % 4 == 0 ? -1 : rand_duration(&state);
        r->upstream_ms = next_rand(&state) % 4 == 0 ? -1 : rand_duration(&state);
        size_t pairs = next_rand(&state) % 50 == 0 ? 100 : next_rand(&state) % 6;
        for (size_t p = 0; p != pairs; ++p) {
            char *from = rand_string(&state), *to = rand_string(&state);
            hg_audit_record_add_pair(r, from, to);
            free(from);
            free(to);
        }
        char *want = reference(r);
        size_t before = len;
        hg_audit_record_append_json(r, &all, &len, &cap);
        assert_bytes_eq(all + before, len - before, want, strlen(want));
        want_len += strlen(want);
        free(want);
        hg_audit_record_free(r);
    }
    ck_assert_uint_eq(len, want_len);
    ck_assert_uint_ge(cap, len);
    free(all);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("audit_json");
    TCase *tc = tcase_create("shape");
    tcase_add_test(tc, every_field_absent);
    tcase_add_test(tc, every_field_set);
    suite_add_tcase(s, tc);
    tc = tcase_create("strings");
    tcase_add_test(tc, escaping_literal);
    tcase_add_test(tc, tricky_strings_in_every_field);
    tcase_add_test(tc, tricky_pairs);
    tcase_add_test(tc, pair_counts);
    suite_add_tcase(s, tc);
    tc = tcase_create("numbers");
    tcase_add_test(tc, integers);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, durations_literal);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("timestamps");
    tcase_add_test(tc, timestamps);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    tc = tcase_create("random");
    tcase_add_test(tc, random_records);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
