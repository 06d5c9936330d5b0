/*
 * reqlog.c: audit record, access log line and metrics of each request. See reqlog.h.
 */
#include "reqlog.h"
#include "reqstate.h"
#include "server.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct st_hg_reqlog_t {
    h2o_logger_t super;
    hg_server_t *server;
};

static char *dup_iov(hg_audit_record_t *r, h2o_iovec_t v)
{
    return v.base != NULL ? hg_audit_record_strndup(r, v.base, v.len) : NULL;
}

/* "1.2.3.4:5678" or "[::1]:5678" for the peer, without getnameinfo or printf (a tenth of their cost); NULL if none */
static char *client_addr(hg_audit_record_t *r, h2o_req_t *req)
{
    struct sockaddr_storage ss;
    if (req->conn->callbacks->get_peername(req->conn, (void *)&ss) == 0)
        return NULL;
    char buf[INET6_ADDRSTRLEN + 9], *p = buf;
    unsigned port;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)&ss;
        const unsigned char *a = (const unsigned char *)&sin->sin_addr; /* glibc's inet_ntop would sprintf it */
        for (int i = 0; i != 4; ++i) {
            if (i != 0)
                *p++ = '.';
            p = hg_put_u64(p, a[i]);
        }
        port = ntohs(sin->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)&ss;
        *p++ = '[';
        if (inet_ntop(AF_INET6, &sin6->sin6_addr, p, INET6_ADDRSTRLEN) == NULL)
            return NULL;
        port = ntohs(sin6->sin6_port);
        p += strlen(p);
        *p++ = ']';
    } else {
        return NULL;
    }
    *p++ = ':';
    p = hg_put_u64(p, port);
    return hg_audit_record_strndup(r, buf, (size_t)(p - buf));
}

static hg_audit_record_t *build_record(hg_server_t *s, h2o_req_t *req, hg_reqstate_t *st, double duration_ms, double upstream_ms)
{
    hg_audit_record_t *r = s->audit != NULL ? hg_audit_record_take(s->audit) : hg_audit_record_new();
    r->ts_ms = (int64_t)st->started_ms;
    r->request_id = hg_audit_record_strdup(r, st->request_id);
    r->route = st->route != NULL ? hg_audit_record_strdup(r, st->route->name) : NULL;
    r->method = dup_iov(r, req->input.method);
    if (st->canonical_path[0] != '\0') {
        r->path = hg_audit_record_strdup(r, st->canonical_path);
    } else {
        size_t plen = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
        r->path = hg_audit_record_strndup(r, req->input.path.base, plen > 2048 ? 2048 : plen);
    }
    r->decision = st->decision;
    r->status = req->res.status;
    r->upstream_status = st->forwarded && strcmp(st->decision, HG_AUDIT_FORWARDED) == 0 ? req->res.status : 0;
    if (st->principal != NULL) {
        r->issuer = hg_audit_record_strdup(r, st->principal->issuer);
        r->subject = hg_audit_record_strdup(r, st->principal->subject);
        r->client = hg_audit_record_strdup(r, st->principal->client);
    }
    r->scope_used = hg_audit_record_strdup(r, st->scope_used);
    r->from_object_type = st->from_type[0] != '\0' ? hg_audit_record_strdup(r, st->from_type) : NULL;
    r->to_object_type = st->to_type[0] != '\0' ? hg_audit_record_strdup(r, st->to_type) : NULL;
    if (st->has_body && st->route != NULL && st->route->body.mode == HG_NORMALIZE_ASSOCIATIONS) {
        r->inputs_received = (int64_t)st->body.received;
        r->inputs_forwarded = st->forwarded ? (int64_t)st->body.forwarded : 0;
        r->duplicates = (int64_t)st->body.duplicates;
        r->coerced = (int64_t)st->body.coerced;
        r->dropped_fields = (int64_t)st->body.dropped_fields;
        if (st->forwarded)
            for (size_t i = 0; i != st->body.num_pairs; ++i)
                hg_audit_record_add_pair(r, st->body.pairs[2 * i], st->body.pairs[2 * i + 1]);
    }
    if (st->forwarded && req->entity.base != NULL && s->audit != NULL)
        hg_audit_record_set_forwarded(r, req->entity.base, req->entity.len); /* the writer hashes it */
    r->hubspot_status = hg_audit_record_strdup(r, st->hubspot_status);
    r->num_errors = st->num_errors;
    r->hubspot_correlation_id = hg_audit_record_strdup(r, st->hubspot_correlation_id);
    r->duration_ms = duration_ms;
    r->upstream_ms = upstream_ms;
    r->client_addr = client_addr(r, req);
    ssize_t ua = h2o_find_header(&req->headers, H2O_TOKEN_USER_AGENT, -1);
    if (ua >= 0)
        r->user_agent =
            hg_audit_record_strndup(r, req->headers.entries[ua].value.base,
                                    req->headers.entries[ua].value.len > 512 ? 512 : req->headers.entries[ua].value.len);
    r->error = hg_audit_record_strdup(r, st->error);
    return r;
}

static void write_access_line(hg_linewriter_t *w, const hg_audit_record_t *r)
{
    char ts[32];
    hg_audit_format_ts(r->ts_ms, ts, sizeof(ts));
    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "request_id", hg_audit_json_string(r->request_id));
    json_object_set_new(line, "client_addr", hg_audit_json_string(r->client_addr));
    json_object_set_new(line, "method", hg_audit_json_string(r->method));
    json_object_set_new(line, "path", hg_audit_json_string(r->path));
    json_object_set_new(line, "route", hg_audit_json_string(r->route));
    json_object_set_new(line, "status", json_integer(r->status));
    json_object_set_new(line, "decision", hg_audit_json_string(r->decision));
    json_object_set_new(line, "subject", hg_audit_json_string(r->subject));
    json_object_set_new(line, "duration_ms", json_real(r->duration_ms));
    json_object_set_new(line, "upstream_ms", r->upstream_ms >= 0 ? json_real(r->upstream_ms) : json_null());
    json_object_set_new(line, "user_agent", hg_audit_json_string(r->user_agent));
    char *text = json_dumps(line, HG_AUDIT_JSON_FLAGS);
    json_decref(line);
    if (text != NULL) {
        hg_linewriter_put(w, text, strlen(text));
        free(text);
    }
}

static void on_log(h2o_logger_t *_self, h2o_req_t *req)
{
    struct st_hg_reqlog_t *self = (void *)_self;
    hg_server_t *s = self->server;
    hg_reqstate_t *st = hg_reqstate_get(req, 1);
    if (st->decision == NULL)
        st->decision = req->res.status >= 500 ? HG_AUDIT_REJECTED_OTHER : HG_AUDIT_REJECTED_VALIDATION;

    uint64_t now = hg_mono_ns();
    double duration_ms = (double)(now - st->started_ns) / 1e6;
    double upstream_ms =
        st->forwarded && st->upstream_headers_ns != 0 ? (double)(st->upstream_headers_ns - st->forwarded_ns) / 1e6 : -1;
    hg_metrics_observe(st->worker->metrics, st->route != NULL ? st->route->name : "", st->decision, req->res.status,
                       duration_ms / 1e3, upstream_ms >= 0 ? upstream_ms / 1e3 : -1);

    if (s->audit == NULL && s->access_log == NULL)
        return;
    hg_audit_record_t *r = build_record(s, req, st, duration_ms, upstream_ms);
    if (s->access_log != NULL)
        write_access_line(s->access_log, r);
    if (s->audit != NULL)
        hg_audit_submit(s->audit, r);
    else
        hg_audit_record_free(r);
}

void hg_reqlog_register(h2o_pathconf_t *pathconf, hg_server_t *server)
{
    struct st_hg_reqlog_t *self = (void *)h2o_create_logger(pathconf, sizeof(*self));
    self->super.log_access = on_log;
    self->server = server;
}
