/*
 * mock_answer.h: HubSpot's answers for tests/mock_hubspot.c, built from the
 * request alone: the batch result of batch/associate/default, its per-input
 * errors, HubSpot's error bodies and the magic ids that select them (see the
 * table at the top of mock_hubspot.c), plus the small JSON string builder they
 * share with the request recorder.
 *
 * Lifetimes: a struct sbuf owns its heap buffer until sb_to_pool() moves it into
 * the request's pool; every answer body lives in req->pool (request lifetime).
 */
#ifndef HUBGATE_MOCK_ANSWER_H
#define HUBGATE_MOCK_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "h2o.h"

/* a growing NUL-terminated string; {NULL, 0, 0} is empty */
struct sbuf {
    char *p;
    size_t len, cap;
};

void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_adds(struct sbuf *b, const char *s);
__attribute__((format(printf, 2, 3))) void sb_addf(struct sbuf *b, const char *fmt, ...);
/* appends s as a quoted JSON string; bytes that are not UTF-8 become \u00XX */
void sb_json(struct sbuf *b, const char *s, size_t n);
void sb_jsons(struct sbuf *b, const char *s);
/* copies the string into req->pool and frees the buffer (b is empty after) */
h2o_iovec_t sb_to_pool(struct sbuf *b, h2o_req_t *req);

/* what to send: status, body (in req->pool), and the policy of a 429 (else NULL) */
struct answer {
    int status;
    h2o_iovec_t body;
    const char *policy;
};

/* a random (version 4) UUID from the per-thread xorshift state st[2] */
void mock_make_uuid(uint64_t *st, char out[37]);
/* the reason phrase of an HTTP status (static string) */
const char *mock_reason(int status);
/* the first request header of that token, or NULL */
const h2o_header_t *mock_find_header(h2o_req_t *req, const h2o_token_t *token);

/* HubSpot's error body {"status":"error","message","correlationId"[extra],"category"?}; extra is raw JSON members */
struct answer mock_error_answer(h2o_req_t *req, int status, const char *category, const char *message, const char *correlation,
                                const char *extra);
/* HubSpot's 401 INVALID_AUTHENTICATION */
struct answer mock_unauthorized(h2o_req_t *req, const char *correlation);

/*
 * Splits "/crm/v4/associations/{from}/{to}/batch/associate/default" (path without
 * query): 0 and the two segments on a match, else -1.
 */
int mock_match_endpoint(h2o_iovec_t path, h2o_iovec_t *from, h2o_iovec_t *to);
/* "0-1", "2-123" as they are (copied to buf), known names as their ids; NULL when unknown */
const char *mock_object_type_id(const char *s, size_t n, char *buf, size_t bufsz);
/*
 * The answer to batch/associate/default with canonical object types: 415, 400
 * (body), a magic status, or 200/202/207 with results and errors. Sets *delay
 * (magic 99000) and *hang (99001); the caller delays or never answers.
 */
struct answer mock_associate(h2o_req_t *req, const char *from_type, const char *to_type, const char *correlation, int *delay,
                             int *hang);

#endif
