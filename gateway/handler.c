/*
 * handler.c: the request pipeline, one handler type for every route: routes
 * are data (config.h). See handler.h for the order of the stages.
 */
#include "handler.h"
#include "hygiene.h"
#include "normalize.h"
#include "objtypes.h"
#include "respond.h"
#include "server.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_hg_pipeline_t {
    h2o_handler_t super;
    hg_server_t *server;
};

static int has_prefix_ci(h2o_iovec_t name, const char *prefix, size_t len)
{
    return name.len >= len && h2o_lcstris(name.base, len, prefix, len);
}

/* 1 when the comma-separated list (a Connection header value) names the header */
static int list_names(h2o_iovec_t list, h2o_iovec_t name)
{
    size_t i = 0;
    while (i < list.len) {
        while (i < list.len && (list.base[i] == ' ' || list.base[i] == '\t' || list.base[i] == ','))
            ++i;
        size_t start = i;
        while (i < list.len && list.base[i] != ',' && list.base[i] != ' ' && list.base[i] != '\t')
            ++i;
        if (i > start && h2o_lcstris(list.base + start, i - start, name.base, name.len))
            return 1;
    }
    return 0;
}

static int is_hop_or_spoofed(const h2o_req_t *req, ssize_t connection, h2o_iovec_t name)
{
    if (has_prefix_ci(name, H2O_STRLIT("x-hubgate-")) || has_prefix_ci(name, H2O_STRLIT("x-forwarded-")) ||
        h2o_lcstris(name.base, name.len, H2O_STRLIT("forwarded")) || h2o_lcstris(name.base, name.len, H2O_STRLIT("via")) ||
        h2o_lcstris(name.base, name.len, H2O_STRLIT("x-request-id")) || h2o_lcstris(name.base, name.len, H2O_STRLIT("x-real-ip")))
        return 1;
    /* headers the client declared hop-by-hop in its Connection header end at this hop (RFC 9110 7.6.1) */
    for (ssize_t i = connection; i >= 0; i = h2o_find_header(&req->headers, H2O_TOKEN_CONNECTION, i))
        if (list_names(req->headers.entries[i].value, name))
            return 1;
    return 0;
}

/* incoming X-Hubgate-*, X-Forwarded-*, Forwarded, Via and Connection-named headers never travel on;
   X-Request-Id is set to ours */
static void scrub_headers(h2o_req_t *req, const hg_reqstate_t *st)
{
    ssize_t connection = h2o_find_header(&req->headers, H2O_TOKEN_CONNECTION, -1);
    for (size_t i = 0; i < req->headers.size;) {
        h2o_iovec_t name = *req->headers.entries[i].name;
        if (name.base != H2O_TOKEN_CONNECTION->buf.base && is_hop_or_spoofed(req, connection, name)) {
            h2o_delete_header(&req->headers, (ssize_t)i);
            if (connection > (ssize_t)i)
                --connection;
            continue;
        }
        ++i;
    }
    h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-request-id"), 0, NULL, st->request_id, strlen(st->request_id));
}

static int refuse_unauthenticated(h2o_req_t *req, hg_reqstate_t *st, const hg_auth_error_t *err)
{
    char www[512];
    if (err->token_present)
        /* descriptions hold no '"' or '\\' (auth.h), so they go into the header as they are */
        snprintf(www, sizeof(www), "Bearer realm=\"hubgate\", error=\"invalid_token\", error_description=\"%s\"", err->description);
    else
        snprintf(www, sizeof(www), "Bearer realm=\"hubgate\"");
    char message[256];
    snprintf(message, sizeof(message), "Authentication failed: %s", err->description);
    st->error = h2o_strdup(&req->pool, err->description, SIZE_MAX).base;
    hg_respond_error(req, st, 401, HG_AUDIT_REJECTED_AUTH, message, NULL, NULL, www);
    return 0;
}

static int refuse_scope(h2o_req_t *req, hg_reqstate_t *st, const char *from_name, const char *to_name)
{
    char *scopes = hg_scopeset_describe(st->route->scopes, from_name, to_name);
    size_t www_len = strlen(scopes) + 100;
    char *www = h2o_mem_alloc_pool(&req->pool, www_len);
    snprintf(www, www_len, "Bearer realm=\"hubgate\", error=\"insufficient_scope\", scope=\"%s\"", scopes);
    json_t *detail = json_pack("{s:s,s:{s:o}}", "message", "One or more of the following scopes are required.", "context",
                               "requiredGranularScopes", hg_scopeset_describe_json(st->route->scopes, from_name, to_name));
    st->error = "the token has none of the route's scopes";
    hg_respond_error(req, st, 403, HG_AUDIT_REJECTED_SCOPE, "This token has not been granted any of the scopes this call requires.",
                     NULL, detail, www);
    json_decref(detail);
    free(scopes);
    return 0;
}

static int refuse_validation(h2o_req_t *req, hg_reqstate_t *st, int status, const hg_violations_t *v, const char *what)
{
    char *summary = hg_violations_summary(v, what);
    hg_respond_error(req, st, status, HG_AUDIT_REJECTED_VALIDATION, summary, v, NULL, NULL);
    free(summary);
    return 0;
}

static int refuse_one(h2o_req_t *req, hg_reqstate_t *st, int status, const char *decision, const char *in, const char *code,
                      const char *message)
{
    hg_violations_t v;
    hg_violations_init(&v, 1);
    hg_violations_add(&v, in, code, "%s", message);
    st->error = h2o_strdup(&req->pool, message, SIZE_MAX).base;
    hg_respond_error(req, st, status, decision, message, &v, NULL, NULL);
    hg_violations_clear(&v);
    return 0;
}

static int is_json_content_type(const h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    size_t end = 0;
    while (end != v.len && v.base[end] != ';')
        ++end;
    while (end != 0 && (v.base[end - 1] == ' ' || v.base[end - 1] == '\t'))
        --end;
    return h2o_lcstris(v.base, end, H2O_STRLIT("application/json"));
}

/* st->canonical_path = the request's path as sent, without its query (cut to the buffer) */
static void keep_path_as_sent(const h2o_req_t *req, hg_reqstate_t *st)
{
    size_t len = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
    if (len >= sizeof(st->canonical_path))
        len = sizeof(st->canonical_path) - 1;
    memcpy(st->canonical_path, req->input.path.base, len);
    st->canonical_path[len] = '\0';
}

/*
 * Canonical object types and the canonical path (st->canonical_path), worked out before the token is
 * checked so that every audit record carries the canonical path. Routes that normalize associations
 * refuse an unknown type, but only after authentication (contract section 4): the problems are kept in
 * `unknown` (empty when the path is fine; st->canonical_path is then the path as sent). Other routes
 * keep their path as sent and only use the types they can resolve for scope templates.
 */
static void resolve_path(h2o_req_t *req, hg_reqstate_t *st, const hg_template_match_t *m, hg_violations_t *unknown)
{
    const hg_route_t *r = st->route;
    if (r->body.mode == HG_NORMALIZE_ASSOCIATIONS) {
        hg_path_types_t types;
        if (hg_normalize_path(r->path, m, r->from_param, r->to_param, &types, st->canonical_path, sizeof(st->canonical_path),
                              unknown) != 0) {
            memcpy(st->from_type, types.from, sizeof(types.from));
            memcpy(st->to_type, types.to, sizeof(types.to));
            return;
        }
        keep_path_as_sent(req, st);
        return;
    }
    if (r->from_param >= 0 && hg_objtype_canonical(m->values[r->from_param].base, m->values[r->from_param].len, st->from_type,
                                                   sizeof(st->from_type)) != 0)
        st->from_type[0] = '\0';
    if (r->to_param >= 0 &&
        hg_objtype_canonical(m->values[r->to_param].base, m->values[r->to_param].len, st->to_type, sizeof(st->to_type)) != 0)
        st->to_type[0] = '\0';
    hg_template_build(r->path, m->values, st->canonical_path, sizeof(st->canonical_path));
}

/* the path sent upstream: the canonical path plus the original query */
static void rewrite_path(h2o_req_t *req, hg_reqstate_t *st)
{
    size_t len = strlen(st->canonical_path);
    size_t qlen = req->input.query_at != SIZE_MAX ? req->input.path.len - req->input.query_at : 0;
    char *path = h2o_mem_alloc_pool(&req->pool, len + qlen + 1);
    memcpy(path, st->canonical_path, len);
    if (qlen != 0)
        memcpy(path + len, req->input.path.base + req->input.query_at, qlen);
    path[len + qlen] = '\0';
    req->path = h2o_iovec_init(path, len + qlen);
    req->query_at = qlen != 0 ? len : SIZE_MAX;
    req->path_normalized = h2o_iovec_init(path, len);
    req->norm_indexes = NULL;
}

static void set_upstream_credential(h2o_req_t *req, const hg_config_t *c)
{
    if (hg_credential_is_passthrough(c->upstream.credential))
        return;
    size_t len;
    const char *value = hg_credential_header(c->upstream.credential, &len);
    h2o_set_header(&req->pool, &req->headers, H2O_TOKEN_AUTHORIZATION, value, len, 1);
}

static int forward(h2o_req_t *req, hg_reqstate_t *st)
{
    set_upstream_credential(req, st->config);
    st->decision = HG_AUDIT_FORWARDED;
    st->forwarded = 1;
    st->forwarded_ns = hg_mono_ns();
    return -1; /* the proxy handler takes it from here */
}

/* 0 when the token is valid (st->principal set), -1 after answering 401 */
static int authenticate(h2o_req_t *req, hg_reqstate_t *st)
{
    hg_worker_t *w = st->worker;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    hg_auth_error_t err = {0};
    if (i >= 0 && h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, i) >= 0) {
        err.token_present = 1;
        snprintf(err.description, sizeof(err.description), "more than one Authorization header");
        refuse_unauthenticated(req, st, &err);
        return -1;
    }
    const char *authz = i >= 0 ? req->headers.entries[i].value.base : NULL;
    size_t authz_len = i >= 0 ? req->headers.entries[i].value.len : 0;
    int rc = hg_auth_verify(st->config->auth, w->auth_cache, authz, authz_len, (int64_t)(hg_now_ms() / 1000), &st->principal, &err);
    uint64_t hits, misses;
    hg_auth_cache_stats(w->auth_cache, &hits, &misses);
    hg_metrics_set_jwt_cache(w->metrics, hits, misses);
    if (rc != 0) {
        refuse_unauthenticated(req, st, &err);
        return -1;
    }
    return 0;
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_hg_pipeline_t *self = (void *)_self;
    hg_reqstate_t *st = hg_reqstate_get(req, 1);
    const hg_config_t *c = st->config;
    st->handled = 1;
    scrub_headers(req, st);

    const char *bad = hg_path_problem(req->input.path.base, req->input.path.len);
    if (bad != NULL)
        return refuse_one(req, st, 400, HG_AUDIT_REJECTED_VALIDATION, "path", "bad_path", bad);
    if (__atomic_load_n(&self->server->draining, __ATOMIC_ACQUIRE))
        return refuse_one(req, st, 503, HG_AUDIT_REJECTED_OTHER, "", "draining", "the gateway is shutting down");
    if (self->server->audit_reject && !hg_audit_accepting(self->server->audit))
        return refuse_one(req, st, 503, HG_AUDIT_REJECTED_OTHER, "", "audit_unavailable",
                          "the audit store cannot record this request");

    size_t path_len = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
    hg_template_match_t m;
    st->route = hg_config_match(c, req->input.method.base, req->input.method.len, req->input.path.base, path_len, &m);
    if (st->route == NULL) {
        if (!c->unmatched_forward) {
            char msg[160];
            snprintf(msg, sizeof(msg), "no route for %.*s %.*s", (int)req->input.method.len, req->input.method.base,
                     (int)(path_len > 100 ? 100 : path_len), req->input.path.base);
            return refuse_one(req, st, 404, HG_AUDIT_REJECTED_ROUTE, "path", "no_route", msg);
        }
        if (authenticate(req, st) != 0)
            return 0;
        keep_path_as_sent(req, st);
        return forward(req, st);
    }

    hg_violations_t unknown;
    hg_violations_init(&unknown, 4);
    resolve_path(req, st, &m, &unknown);
    int refused = authenticate(req, st) != 0;
    if (!refused && unknown.count != 0) {
        refuse_validation(req, st, 400, &unknown, "the request path");
        refused = 1;
    }
    hg_violations_clear(&unknown);
    if (refused)
        return 0;
    if (st->route->scopes != NULL) {
        const char *from_name = st->from_type[0] != '\0' ? hg_objtype_scope_name(st->from_type) : NULL;
        const char *to_name = st->to_type[0] != '\0' ? hg_objtype_scope_name(st->to_type) : NULL;
        char buf[HG_SCOPE_MAX];
        const char *scope = hg_scopeset_match(st->route->scopes, st->principal, from_name, to_name, buf, sizeof(buf));
        if (scope == NULL)
            return refuse_scope(req, st, from_name, to_name);
        st->scope_used = h2o_strdup(&req->pool, scope, SIZE_MAX).base;
    }

    const hg_route_t *r = st->route;
    if (r->body.mode == HG_NORMALIZE_ASSOCIATIONS || r->schema != NULL) {
        if (!is_json_content_type(req))
            return refuse_one(req, st, 415, HG_AUDIT_REJECTED_VALIDATION, "header:Content-Type", "unsupported_media_type",
                              "Content-Type must be application/json");
        if (req->entity.len > c->limits.max_body_bytes) {
            char msg[128];
            snprintf(msg, sizeof(msg), "the body is larger than %zu bytes", c->limits.max_body_bytes);
            return refuse_one(req, st, 413, HG_AUDIT_REJECTED_VALIDATION, "", "max_body_bytes", msg);
        }
        hg_violations_t v;
        hg_violations_init(&v, HG_VIOLATIONS_MAX);
        st->has_body = 1;
        int rc = hg_body_process(&r->body, req->entity.base != NULL ? req->entity.base : "", req->entity.len, &st->body, &v);
        if (rc != 0) {
            refuse_validation(req, st, 400, &v, "the request body");
            hg_violations_clear(&v);
            return 0;
        }
        hg_violations_clear(&v);
        if (st->body.body != NULL)
            req->entity = h2o_iovec_init(st->body.body, st->body.body_len);
    }
    rewrite_path(req, st);
    return forward(req, st);
}

void hg_handler_register(h2o_pathconf_t *pathconf, hg_server_t *server)
{
    struct st_hg_pipeline_t *self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
    self->server = server;
}
