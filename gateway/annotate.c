/*
 * annotate.c: gateway headers on every answer, JSON for h2o's own refusals,
 * and a bounded look at HubSpot's answer for the audit. See annotate.h.
 */
#include "annotate.h"
#include "errbody.h"
#include "outcome.h"
#include "reqstate.h"
#include "server.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_replace_t {
    h2o_ostream_t super;
    h2o_iovec_t body;
};

struct st_inspect_t {
    h2o_ostream_t super;
    hg_reqstate_t *st;
    hg_outcome_t outcome;
};

/* the proxy's own error for this request, or NULL */
static const char *proxy_error(h2o_req_t *req)
{
    for (size_t i = 0; i != req->error_logs.size; ++i) {
        h2o_req_error_log_t *e = &req->error_logs.entries[i];
        if (strcmp(e->module, "lib/core/proxy.c") == 0)
            return h2o_strdup(&req->pool, e->msg.base, e->msg.len).base;
    }
    return NULL;
}

static void replace_send(h2o_ostream_t *_self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    struct st_replace_t *self = (void *)_self;
    if (h2o_send_state_is_in_progress(state)) {
        h2o_ostream_send_next(&self->super, req, NULL, 0, state);
        return;
    }
    int head = h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"));
    h2o_ostream_send_next(&self->super, req, &self->body, head ? 0 : 1, state);
}

static void inspect_send(h2o_ostream_t *_self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    struct st_inspect_t *self = (void *)_self;
    for (size_t i = 0; i != bufcnt; ++i)
        hg_outcome_feed(&self->outcome, bufs[i].base, bufs[i].len);
    if (!h2o_send_state_is_in_progress(state)) {
        if (self->outcome.status[0] != '\0')
            self->st->hubspot_status = h2o_strdup(&req->pool, self->outcome.status, SIZE_MAX).base;
        self->st->num_errors = self->outcome.num_errors;
    }
    h2o_ostream_send_next(&self->super, req, bufs, bufcnt, state);
}

/* turns h2o's text/plain refusal into a HubSpot-shaped one */
static h2o_ostream_t **replace_body(h2o_req_t *req, hg_reqstate_t *st, h2o_ostream_t **slot)
{
    const char *perr = proxy_error(req);
    const char *message;
    char buf[256];
    if (perr != NULL) {
        if (strstr(perr, "timeout") != NULL) {
            req->res.status = 504;
            req->res.reason = "Gateway Timeout";
            message = "upstream timed out";
        } else if (strstr(perr, "certificate") != NULL || strstr(perr, "mismatch") != NULL || strstr(perr, "ssl") != NULL ||
                   strstr(perr, "SSL") != NULL || strstr(perr, "handshake") != NULL) {
            snprintf(buf, sizeof(buf), "upstream TLS handshake failed: %s", perr);
            message = buf;
        } else if (strstr(perr, "connection fail") != NULL) {
            message = "upstream connection failed";
        } else {
            snprintf(buf, sizeof(buf), "upstream connection failed: %s", perr);
            message = buf;
        }
        st->decision = HG_AUDIT_UPSTREAM_ERROR;
        st->error = h2o_strdup(&req->pool, message, SIZE_MAX).base;
    } else if (req->res.status == 413) {
        snprintf(buf, sizeof(buf), "the body is larger than %zu bytes", st->config->limits.max_body_bytes);
        message = buf;
        st->decision = HG_AUDIT_REJECTED_VALIDATION;
        st->error = h2o_strdup(&req->pool, message, SIZE_MAX).base;
    } else {
        snprintf(buf, sizeof(buf), "the request could not be processed (%d)", req->res.status);
        message = buf;
        st->decision = req->res.status < 500 ? HG_AUDIT_REJECTED_VALIDATION : HG_AUDIT_REJECTED_OTHER;
        st->error = h2o_strdup(&req->pool, message, SIZE_MAX).base;
    }
    st->own_answer = 1;

    size_t len;
    char *body = hg_errbody_build(req->res.status, message, st->request_id, NULL, NULL, &len);
    struct st_replace_t *self = (void *)h2o_add_ostream(req, sizeof(*self), slot);
    self->super.do_send = replace_send;
    self->body = h2o_strdup(&req->pool, body, len);
    free(body);
    req->res.content_length = len;
    ssize_t i;
    while ((i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1)) >= 0)
        h2o_delete_header(&req->res.headers, i);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json;charset=utf-8"));
    return &self->super.next;
}

static h2o_ostream_t **inspect_body(h2o_req_t *req, hg_reqstate_t *st, h2o_ostream_t **slot)
{
    ssize_t i = h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-hubspot-correlation-id"), -1);
    if (i >= 0)
        st->hubspot_correlation_id =
            h2o_strdup(&req->pool, req->res.headers.entries[i].value.base, req->res.headers.entries[i].value.len).base;
    /* the body is only read for the audit record */
    if (st->worker->server->audit == NULL)
        return slot;
    struct st_inspect_t *self = (void *)h2o_add_ostream(req, sizeof(*self), slot);
    self->super.do_send = inspect_send;
    self->st = st;
    hg_outcome_init(&self->outcome);
    return &self->super.next;
}

static char *put_str(char *p, const char *s)
{
    size_t len = strlen(s);
    memcpy(p, s, len);
    return p + len;
}

/* nanoseconds as milliseconds with three decimals ("1.521"), without printf's floating point */
static char *put_ms(char *p, uint64_t ns)
{
    uint64_t us = ns / 1000;
    p = hg_put_u64(p, us / 1000);
    *p++ = '.';
    *p++ = (char)('0' + us % 1000 / 100);
    *p++ = (char)('0' + us % 100 / 10);
    *p++ = (char)('0' + us % 10);
    return p;
}

static void add_header(h2o_req_t *req, const char *name, size_t name_len, const char *value, size_t len)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, name_len, 0, NULL, h2o_strdup(&req->pool, value, len).base, len);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    hg_reqstate_t *st = hg_reqstate_get(req, 1);
    if (!st->own_answer && (!st->handled || proxy_error(req) != NULL)) {
        slot = replace_body(req, st, slot);
    } else if (st->forwarded) {
        st->upstream_headers_ns = hg_mono_ns();
        slot = inspect_body(req, st, slot);
    }

    add_header(req, H2O_STRLIT("x-request-id"), st->request_id, strlen(st->request_id));
    if (st->route != NULL)
        add_header(req, H2O_STRLIT("x-hubgate-route"), st->route->name, strlen(st->route->name));
    char buf[160];
    if (st->route != NULL && st->route->body.mode == HG_NORMALIZE_ASSOCIATIONS && st->forwarded && st->has_body) {
        char *p = hg_put_u64(put_str(buf, "inputs="), st->body.forwarded);
        p = hg_put_u64(put_str(p, "; duplicates="), st->body.duplicates);
        p = hg_put_u64(put_str(p, "; coerced="), st->body.coerced);
        p = hg_put_u64(put_str(p, "; dropped-fields="), st->body.dropped_fields);
        add_header(req, H2O_STRLIT("x-hubgate-normalized"), buf, (size_t)(p - buf));
    }
    char *p = put_ms(put_str(buf, "hubgate;dur="), hg_mono_ns() - st->started_ns);
    if (st->forwarded && st->upstream_headers_ns != 0)
        p = put_ms(put_str(p, ", upstream;dur="), st->upstream_headers_ns - st->forwarded_ns);
    add_header(req, H2O_STRLIT("server-timing"), buf, (size_t)(p - buf));

    h2o_setup_next_ostream(req, slot);
}

void hg_annotate_register(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *self = h2o_create_filter(pathconf, sizeof(*self));
    self->on_setup_ostream = on_setup_ostream;
}
