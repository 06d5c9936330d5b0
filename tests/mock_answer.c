/*
 * mock_answer.c: the HubSpot side of the mock: what HubSpot would answer to a
 * request, chosen by its ids (magic ids: see mock_hubspot.c), in HubSpot's
 * shapes. Pure request-to-answer functions; the server, recording and timers
 * are in mock_hubspot.c. See mock_answer.h.
 */
#include "mock_answer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "util.h"

/* string building */

static void sb_reserve(struct sbuf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = hg_xrealloc(b->p, b->cap);
    }
}

void sb_add(struct sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_adds(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) void sb_addf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sb_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;
    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    if (s[0] < 0xe0)
        len = 2, min = 0x80, cp = s[0] & 0x1f;
    else if (s[0] < 0xf0)
        len = 3, min = 0x800, cp = s[0] & 0x0f;
    else
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* appends s as a quoted JSON string; bytes that are not UTF-8 become \u00XX */
void sb_json(struct sbuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    sb_reserve(b, n + 2);
    b->p[b->len++] = '"';
    for (size_t i = 0; i < n;) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        sb_add(b, str + i, run - i);
        if ((i = run) >= n)
            break;
        size_t ul;
        if (s[i] == '"' || s[i] == '\\') {
            char esc[2] = {'\\', (char)s[i]};
            sb_add(b, esc, 2);
            i++;
        } else if (s[i] >= 0x80 && (ul = utf8_len(s + i, n - i)) != 0) {
            sb_add(b, str + i, ul);
            i += ul;
        } else {
            sb_addf(b, "\\u%04x", s[i]);
            i++;
        }
    }
    sb_add(b, "\"", 1);
}

void sb_jsons(struct sbuf *b, const char *s)
{
    sb_json(b, s, strlen(s));
}

/* moves the built string into the request's pool */
h2o_iovec_t sb_to_pool(struct sbuf *b, h2o_req_t *req)
{
    h2o_iovec_t v = h2o_strdup(&req->pool, b->p != NULL ? b->p : "", b->len);
    free(b->p);
    *b = (struct sbuf){NULL, 0, 0};
    return v;
}

/* small helpers */

static uint64_t rng_next(uint64_t *st)
{
    uint64_t s1 = st[0];
    const uint64_t s0 = st[1];
    st[0] = s0;
    s1 ^= s1 << 23;
    st[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return st[1] + s0;
}

void mock_make_uuid(uint64_t *st, char out[37])
{
    uint64_t hi = rng_next(st), lo = rng_next(st);
    hi = (hi & ~0xf000ULL) | 0x4000ULL;
    lo = (lo & ~(3ULL << 62)) | (2ULL << 62);
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32), (unsigned)(hi >> 16) & 0xffff, (unsigned)hi & 0xffff,
             (unsigned)(lo >> 48), (unsigned long long)(lo & 0xffffffffffffULL));
}

static void iso_now(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

const char *mock_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 207:
        return "Multi-Status";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 409:
        return "Conflict";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

const h2o_header_t *mock_find_header(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i == -1 ? NULL : req->headers.entries + i;
}

/* HubSpot's plain error body: {"status":"error","message",...,"correlationId","category"?} */
struct answer mock_error_answer(h2o_req_t *req, int status, const char *category, const char *message, const char *correlation,
                                const char *extra)
{
    struct sbuf b = {NULL, 0, 0};
    sb_adds(&b, "{\"status\":\"error\",\"message\":");
    sb_jsons(&b, message);
    sb_addf(&b, ",\"correlationId\":\"%s\"", correlation);
    if (extra != NULL)
        sb_adds(&b, extra);
    if (category != NULL)
        sb_addf(&b, ",\"category\":\"%s\"", category);
    sb_add(&b, "}", 1);
    return (struct answer){status, sb_to_pool(&b, req), NULL};
}

struct answer mock_unauthorized(h2o_req_t *req, const char *correlation)
{
    return mock_error_answer(
        req, 401, "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
        "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        correlation, NULL);
}

static struct answer rate_limited(h2o_req_t *req, const char *policy, const char *message, const char *correlation)
{
    struct sbuf b = {NULL, 0, 0};
    sb_addf(&b,
            "{\"status\":\"error\",\"message\":\"%s\",\"errorType\":\"RATE_LIMIT\",\"correlationId\":\"%s\",\"policyName\":\"%s\","
            "\"groupName\":\"publicapi:private-app:12345678:4242\"}",
            message, correlation, policy);
    struct answer a = {429, sb_to_pool(&b, req), policy};
    return a;
}

/* the answer picked by a status magic id (99SSS, 994291, 994292), or status 0 */
static struct answer magic_answer(h2o_req_t *req, const char *id, const char *correlation)
{
    struct answer none = {0, {NULL, 0}, NULL};
    if (strcmp(id, "99429") == 0)
        return rate_limited(req, "SECONDLY", "You have reached your secondly limit.", correlation);
    if (strcmp(id, "994291") == 0)
        return rate_limited(req, "DAILY", "You have reached your daily limit.", correlation);
    if (strcmp(id, "994292") == 0)
        return rate_limited(req, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.", correlation);
    if (strlen(id) != 5 || !has_prefix(id, "99"))
        return none;
    int status = atoi(id + 2);
    if (status == 401)
        return mock_unauthorized(req, correlation);
    if (status == 403)
        return mock_error_answer(
            req, 403, "MISSING_SCOPES",
            "This app hasn't been granted all required scopes to make this call. Read more about required scopes "
            "here: https://developers.hubspot.com/scopes.",
            correlation,
            ",\"errors\":[{\"message\":\"One or more of the following scopes are required.\",\"context\":{"
            "\"requiredGranularScopes\":[\"crm.objects.contacts.write\"]}}],\"links\":{\"scopes\":"
            "\"https://developers.hubspot.com/scopes\"}");
    if (status == 400)
        return mock_error_answer(req, 400, "VALIDATION_ERROR", "Invalid input (magic id 99400)", correlation, NULL);
    if (status == 404)
        return mock_error_answer(req, 404, "OBJECT_NOT_FOUND", "resource not found", correlation, NULL);
    if (status >= 400 && status < 500)
        return mock_error_answer(req, status, "VALIDATION_ERROR", mock_reason(status), correlation, NULL);
    if (status >= 500 && status < 600)
        return mock_error_answer(req, status, NULL, "internal error", correlation, NULL);
    return none;
}

/* HubSpot's default association type ids for common pairs; 279 otherwise */
static int association_type(const char *from, const char *to)
{
    static const struct {
        const char *from, *to;
        int id;
    } table[] = {{"0-1", "0-2", 279}, {"0-2", "0-1", 280}, {"0-3", "0-1", 3},  {"0-1", "0-3", 4},
                 {"0-3", "0-2", 341}, {"0-2", "0-3", 342}, {"0-5", "0-1", 16}, {"0-1", "0-5", 15},
                 {"0-5", "0-2", 339}, {"0-2", "0-5", 340}, {"0-3", "0-5", 27}, {"0-5", "0-3", 28}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].from, from) == 0 && strcmp(table[i].to, to) == 0)
            return table[i].id;
    return 279;
}

/* "0-1", "2-123" stay; known names become their ids; NULL when unknown */
const char *mock_object_type_id(const char *s, size_t n, char *buf, size_t bufsz)
{
    static const struct {
        const char *name, *id;
    } names[] = {{"contact", "0-1"},  {"company", "0-2"},   {"companies", "0-2"}, {"deal", "0-3"},  {"ticket", "0-5"},
                 {"product", "0-7"},  {"line_item", "0-8"}, {"quote", "0-14"},    {"task", "0-27"}, {"note", "0-46"},
                 {"meeting", "0-47"}, {"call", "0-48"},     {"email", "0-49"}};
    if (n >= 3 && n < bufsz && (s[0] == '0' || s[0] == '2') && s[1] == '-' && all_digits(s + 2, n - 2)) {
        memcpy(buf, s, n);
        buf[n] = '\0';
        return buf;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t l = strlen(names[i].name);
        if ((n == l || (n == l + 1 && (s[l] == 's' || s[l] == 'S'))) && strncasecmp(s, names[i].name, l) == 0)
            return names[i].id;
    }
    return NULL;
}

/* id of one side of an input ({"id":"..."}), or NULL when absent or not a string */
static const char *input_id(json_t *input, const char *side)
{
    return json_string_value(json_object_get(json_object_get(input, side), "id"));
}

/*
 * Builds the answer to a batch/associate/default request. *delay and *hang are
 * set by the magic ids 99000 and 99001.
 */
struct answer mock_associate(h2o_req_t *req, const char *from_type, const char *to_type, const char *correlation, int *delay,
                             int *hang)
{
    json_error_t err;
    char msg[300];
    const h2o_header_t *ct = mock_find_header(req, H2O_TOKEN_CONTENT_TYPE);
    if (ct == NULL || ct->value.len < 16 || strncasecmp(ct->value.base, "application/json", 16) != 0)
        return mock_error_answer(req, 415, "VALIDATION_ERROR", "Unsupported Media Type", correlation, NULL);
    json_t *root = json_loadb(req->entity.base != NULL ? req->entity.base : "", req->entity.len, 0, &err);
    if (root == NULL) {
        snprintf(msg, sizeof(msg), "Invalid input JSON on line %d, column %d: %s", err.line, err.column, err.text);
        return mock_error_answer(req, 400, "VALIDATION_ERROR", msg, correlation, NULL);
    }
    json_t *inputs = json_object_get(root, "inputs");
    size_t i;
    json_t *input;
    if (!json_is_array(inputs)) {
        json_decref(root);
        return mock_error_answer(req, 400, "VALIDATION_ERROR", "Invalid input JSON: inputs is required and must be an array",
                                 correlation, NULL);
    }
    struct answer magic = {0, {NULL, 0}, NULL};
    json_array_foreach(inputs, i, input)
    {
        const char *f = input_id(input, "from"), *t = input_id(input, "to");
        if (f == NULL || t == NULL) {
            snprintf(msg, sizeof(msg), "Invalid input JSON: inputs[%zu].%s.id is required and must be a string", i,
                     f == NULL ? "from" : "to");
            json_decref(root);
            return mock_error_answer(req, 400, "VALIDATION_ERROR", msg, correlation, NULL);
        }
        if (strcmp(f, "99000") == 0)
            *delay = 1;
        else if (strcmp(f, "99001") == 0)
            *hang = 1;
        else if (magic.status == 0)
            magic = magic_answer(req, f, correlation);
    }
    if (magic.status != 0) {
        json_decref(root);
        return magic;
    }

    struct sbuf res = {NULL, 0, 0}, errs = {NULL, 0, 0};
    size_t nres = 0, nerr = 0;
    int type_id = association_type(from_type, to_type);
    json_array_foreach(inputs, i, input)
    {
        const char *f = input_id(input, "from"), *t = input_id(input, "to");
        size_t fl = json_string_length(json_object_get(json_object_get(input, "from"), "id"));
        size_t tl = json_string_length(json_object_get(json_object_get(input, "to"), "id"));
        if (has_prefix(f, "99204"))
            continue;
        if (has_prefix(f, "99207") || !all_digits(f, fl) || !all_digits(t, tl)) {
            sb_adds(&errs, nerr++ == 0 ? "" : ",");
            sb_adds(&errs, "{\"status\":\"error\",\"category\":\"VALIDATION_ERROR\",\"subCategory\":"
                           "\"crm.associations.INVALID_OBJECT_IDS\",\"message\":");
            snprintf(msg, sizeof(msg), "No %s object found with id %.200s", from_type, f);
            sb_jsons(&errs, msg);
            sb_adds(&errs, ",\"context\":{\"fromObjectId\":[");
            sb_json(&errs, f, fl);
            sb_adds(&errs, "],\"toObjectId\":[");
            sb_json(&errs, t, tl);
            sb_adds(&errs, "]}}");
            continue;
        }
        sb_adds(&res, nres++ == 0 ? "" : ",");
        sb_addf(&res,
                "{\"associationSpec\":{\"associationCategory\":\"HUBSPOT_DEFINED\",\"associationTypeId\":%d},\"from\":{\"id\":",
                type_id);
        sb_json(&res, f, fl);
        sb_adds(&res, "},\"to\":{\"id\":");
        sb_json(&res, t, tl);
        sb_adds(&res, "}}");
    }
    int pending = 0;
    json_array_foreach(inputs, i, input) pending |= strcmp(input_id(input, "from"), "99202") == 0;
    json_decref(root);

    char started[32], completed[32];
    iso_now(started);
    iso_now(completed);
    struct sbuf b = {NULL, 0, 0};
    sb_addf(&b, "{\"status\":\"%s\",\"results\":[", pending ? "PENDING" : "COMPLETE");
    sb_add(&b, res.p != NULL ? res.p : "", res.len);
    sb_add(&b, "]", 1);
    if (nerr != 0) {
        sb_addf(&b, ",\"numErrors\":%zu,\"errors\":[", nerr);
        sb_add(&b, errs.p, errs.len);
        sb_add(&b, "]", 1);
    }
    sb_addf(&b, ",\"startedAt\":\"%s\",\"completedAt\":\"%s\"}", started, completed);
    free(res.p);
    free(errs.p);
    return (struct answer){pending ? 202 : nerr != 0 ? 207 : 200, sb_to_pool(&b, req), NULL};
}

/* splits "/crm/v4/associations/{from}/{to}/batch/associate/default"; 0 on a match */
int mock_match_endpoint(h2o_iovec_t path, h2o_iovec_t *from, h2o_iovec_t *to)
{
    static const char prefix[] = "/crm/v4/associations/", suffix[] = "/batch/associate/default";
    size_t pl = sizeof(prefix) - 1, sl = sizeof(suffix) - 1;
    if (path.len <= pl + sl || memcmp(path.base, prefix, pl) != 0 || memcmp(path.base + path.len - sl, suffix, sl) != 0)
        return -1;
    const char *s = path.base + pl, *end = path.base + path.len - sl, *slash = memchr(s, '/', (size_t)(end - s));
    if (slash == NULL || slash == s || slash + 1 == end || memchr(slash + 1, '/', (size_t)(end - slash - 1)) != NULL)
        return -1;
    *from = h2o_iovec_init(s, (size_t)(slash - s));
    *to = h2o_iovec_init(slash + 1, (size_t)(end - slash - 1));
    return 0;
}
