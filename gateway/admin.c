/*
 * admin.c: the admin listener's thread, its endpoints and its audit queries.
 *
 * One h2o handler on "/" dispatches on the exact path. Every answer is built
 * on the admin's event loop from state it may read without locks (atomics,
 * metrics, audit statistics) or under the server's short configuration lock
 * (hg_server_config), except GET /audit: the query runs on a thread of its
 * own, which hands the result back through the context's multithread queue;
 * the answer is then sent from the loop. A request whose client went away
 * meanwhile is noticed through a pool-disposal hook, so the result is dropped
 * instead of sent to a freed request. Stopping is a message too: the loop
 * closes its listener, expires idle connections at once, waits for answers
 * and queries in progress, then disposes of its h2o context. See admin.h.
 */
#include "admin.h"
#include "audit_query.h"
#include "errbody.h"
#include "reqid.h"
#include "util.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_QUERIES 4          /* audit queries running at once; more get 503 */
#define STOP_GRACE_MS 2000     /* how long a stop waits for connections and queries */
#define MAX_REQUEST_BODY 65536 /* the admin API takes no bodies */
#define REALM "Bearer realm=\"hubgate-admin\""

typedef struct st_query_t query_t;

enum { MSG_STOP, MSG_QUERY_DONE };

typedef struct st_admin_msg_t {
    h2o_multithread_message_t super;
    int type;
    query_t *query; /* MSG_QUERY_DONE */
} admin_msg_t;

struct st_hg_admin_t {
    hg_server_t *server;
    hg_log_t *log;
    uint16_t port;
    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener; /* NULL once closed */
    h2o_multithread_receiver_t receiver;
    pthread_t thread;
    /* loop thread only */
    int stopping;
    uint64_t stop_deadline_ms;
    size_t queries; /* query threads not yet joined */
    int abandoned;  /* the loop gave up on connections that would not close: its memory is left alone */
};

typedef struct st_admin_handler_t {
    h2o_handler_t super;
    hg_admin_t *admin;
} admin_handler_t;

/* one GET /audit in progress: created and freed on the loop; the query thread touches only filter, result, errors */
struct st_query_t {
    hg_admin_t *admin;
    h2o_req_t *req;     /* NULL once the request is gone */
    query_t **req_slot; /* in req->pool: points back here until the answer is sent */
    pthread_t thread;
    const char *db_path; /* borrowed from the audit trail */
    hg_audit_filter_t *filter;
    json_t *result;
    hg_violations_t errors;
    admin_msg_t done;
};

/* answers */

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

static void send_body(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

static void send_text(h2o_req_t *req, int status, const char *text)
{
    send_body(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* HubSpot's error shape, correlationId a new UUIDv7 */
static void send_error(h2o_req_t *req, int status, const char *message, const hg_violations_t *errors)
{
    char correlation_id[HG_UUID_LEN + 1];
    hg_uuid7_new(correlation_id);
    size_t len;
    char *body = hg_errbody_build(status, message, correlation_id, errors, NULL, &len);
    send_body(req, status, "application/json;charset=utf-8", body, len);
    free(body);
}

static void send_json(h2o_req_t *req, const json_t *value)
{
    char *body = json_dumps(value, HG_AUDIT_JSON_FLAGS) /* durations print as 3.703, not 3.7029999999999998 */;
    if (body == NULL) {
        send_error(req, 503, "cannot serialize the answer", NULL);
        return;
    }
    send_body(req, 200, "application/json;charset=utf-8", body, strlen(body));
    free(body);
}

/* endpoints */

static void serve_healthz(hg_admin_t *a, h2o_req_t *req, hg_config_t *config)
{
    send_text(req, 200, "ok\n");
}

static void add_reason(char *buf, size_t size, const char *reason)
{
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, "%s%s", len == 0 ? "" : ", ", reason);
}

static void serve_readyz(hg_admin_t *a, h2o_req_t *req, hg_config_t *config)
{
    hg_server_t *s = a->server;
    char why[256] = "";
    if (__atomic_load_n(&s->draining, __ATOMIC_ACQUIRE))
        add_reason(why, sizeof(why), "draining");
    int listening = s->num_workers != 0;
    for (size_t i = 0; i != s->num_workers; ++i)
        listening &= __atomic_load_n(&s->workers[i].listening, __ATOMIC_ACQUIRE) != 0;
    if (!listening)
        add_reason(why, sizeof(why), "listeners not open");
    if (!hg_auth_ready(config->auth))
        add_reason(why, sizeof(why), "signing keys not loaded");
    if (s->audit != NULL) {
        hg_audit_stats_t st;
        hg_audit_stats(s->audit, &st);
        if (!st.healthy)
            add_reason(why, sizeof(why), "audit store unhealthy");
    }
    if (why[0] == '\0') {
        send_text(req, 200, "ready\n");
        return;
    }
    char *text = hg_xasprintf("not ready: %s\n", why);
    send_text(req, 503, text);
    free(text);
}

static void serve_metrics(hg_admin_t *a, h2o_req_t *req, hg_config_t *config)
{
    hg_server_t *s = a->server;
    hg_metrics_extra_t extra = {0};
    if (s->audit != NULL) {
        hg_audit_stats_t st;
        hg_audit_stats(s->audit, &st);
        extra.audit_written = st.written;
        extra.audit_dropped = st.dropped;
        extra.audit_queue_depth = st.queue_depth;
        extra.audit_queue_depth_max = st.max_queue_depth;
        extra.audit_batches = st.batches;
        _Static_assert(HG_AUDIT_BATCH_HIST == HG_METRICS_AUDIT_BATCH_BUCKETS, "one histogram");
        memcpy(extra.audit_batch_hist, st.batch_hist, sizeof(extra.audit_batch_hist));
    }
    extra.reloads_ok = __atomic_load_n(&s->reloads_ok, __ATOMIC_RELAXED);
    extra.reloads_failed = __atomic_load_n(&s->reloads_failed, __ATOMIC_RELAXED);
    if (s->access_log != NULL)
        extra.access_log_dropped = hg_linewriter_dropped(s->access_log);
    hg_auth_jwks_stats(config->auth, &extra.jwks_fetches, &extra.jwks_fetch_failures);
    hg_metrics_t **metrics = hg_xcalloc(s->num_workers, sizeof(*metrics));
    for (size_t i = 0; i != s->num_workers; ++i) {
        metrics[i] = s->workers[i].metrics;
        extra.inflight += __atomic_load_n(&s->workers[i].inflight, __ATOMIC_RELAXED);
    }
    size_t len;
    char *text = hg_metrics_render(metrics, s->num_workers, &extra, &len);
    send_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    free(metrics);
}

static void serve_config(hg_admin_t *a, h2o_req_t *req, hg_config_t *config)
{
    json_t *doc = hg_server_running_config(a->server);
    send_json(req, doc);
    json_decref(doc);
}

static void query_free(query_t *q)
{
    hg_audit_filter_free(q->filter);
    json_decref(q->result);
    hg_violations_clear(&q->errors);
    free(q);
}

/* the request's pool is being cleared: the client went away (or the answer was sent, then the slot is NULL) */
static void on_request_gone(void *p)
{
    query_t *q = *(query_t **)p;
    if (q != NULL)
        q->req = NULL;
}

static void *query_main(void *arg)
{
    query_t *q = arg;
    q->result = hg_audit_query(q->db_path, q->filter, &q->errors);
    h2o_multithread_send_message(&q->admin->receiver, &q->done.super);
    return NULL;
}

/* on the loop, once the query thread has sent its message */
static void query_done(hg_admin_t *a, query_t *q)
{
    pthread_join(q->thread, NULL);
    --a->queries;
    if (q->req != NULL) {
        *q->req_slot = NULL;
        if (q->result != NULL)
            send_json(q->req, q->result);
        else
            send_error(q->req, 503, "the audit store cannot be read", &q->errors);
    }
    query_free(q);
}

static void serve_audit(hg_admin_t *a, h2o_req_t *req, hg_config_t *config)
{
    const char *db_path = a->server->audit != NULL ? hg_audit_sqlite_path(a->server->audit) : NULL;
    if (db_path == NULL) {
        send_error(req, 404, "no SQLite audit store is configured (audit.sqlite is null)", NULL);
        return;
    }
    query_t *q = hg_xcalloc(1, sizeof(*q));
    q->admin = a;
    q->db_path = db_path;
    q->filter = hg_audit_filter_new();
    hg_violations_init(&q->errors, HG_VIOLATIONS_MAX);
    q->done.type = MSG_QUERY_DONE;
    q->done.query = q;
    const char *query = "";
    if (req->query_at != SIZE_MAX)
        query = h2o_strdup(&req->pool, req->path.base + req->query_at + 1, req->path.len - req->query_at - 1).base;
    if (hg_audit_filter_parse_query(q->filter, query, &q->errors) != 0) {
        send_error(req, 400, "invalid audit query", &q->errors);
        query_free(q);
        return;
    }
    if (a->stopping || a->queries >= MAX_QUERIES) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        send_error(req, 503, a->stopping ? "the admin listener is stopping" : "too many audit queries running; retry", NULL);
        query_free(q);
        return;
    }
    q->req = req;
    q->req_slot = h2o_mem_alloc_shared(&req->pool, sizeof(*q->req_slot), on_request_gone);
    *q->req_slot = q;
    int err = pthread_create(&q->thread, NULL, query_main, q);
    if (err != 0) {
        *q->req_slot = NULL;
        hg_log(a->log, HG_LOG_ERROR, "admin", "cannot start an audit query thread: %s", strerror(err));
        send_error(req, 503, "cannot start the audit query", NULL);
        query_free(q);
        return;
    }
    ++a->queries;
}

/* dispatch */

typedef struct st_endpoint_t {
    const char *path;
    int needs_token;
    void (*serve)(hg_admin_t *a, h2o_req_t *req, hg_config_t *config);
} endpoint_t;

static const endpoint_t endpoints[] = {{"/healthz", 0, serve_healthz},
                                       {"/readyz", 0, serve_readyz},
                                       {"/metrics", 1, serve_metrics},
                                       {"/config", 1, serve_config},
                                       {"/audit", 1, serve_audit}};

static const endpoint_t *find_endpoint(h2o_iovec_t path)
{
    for (size_t i = 0; i != sizeof(endpoints) / sizeof(endpoints[0]); ++i)
        if (h2o_memis(path.base, path.len, endpoints[i].path, strlen(endpoints[i].path)))
            return &endpoints[i];
    return NULL;
}

/* 1 when the request carries "Bearer <token>"; compares SHA-256 digests in constant time, so the length does not leak */
static int token_matches(h2o_req_t *req, const char *token, int *sent)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    *sent = i != -1;
    if (i == -1)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    static const char scheme[] = "Bearer ";
    if (v.len < sizeof(scheme) - 1 || strncasecmp(v.base, scheme, sizeof(scheme) - 1) != 0)
        return 0;
    unsigned char want[EVP_MAX_MD_SIZE], got[EVP_MAX_MD_SIZE];
    unsigned int want_len = 0, got_len = 0;
    if (!EVP_Digest(token, strlen(token), want, &want_len, EVP_sha256(), NULL) ||
        !EVP_Digest(v.base + sizeof(scheme) - 1, v.len - (sizeof(scheme) - 1), got, &got_len, EVP_sha256(), NULL) ||
        want_len != got_len)
        return 0;
    return CRYPTO_memcmp(want, got, want_len) == 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    hg_admin_t *a = ((admin_handler_t *)self)->admin;
    const endpoint_t *ep = find_endpoint(req->path_normalized);
    hg_config_t *config = hg_server_config(a->server);

    int sent = 0;
    if ((ep == NULL || ep->needs_token) && config->admin.token != NULL && !token_matches(req, config->admin.token, &sent)) {
        const char *challenge = sent ? REALM ", error=\"invalid_token\"" : REALM;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, challenge, strlen(challenge));
        send_error(req, 401, sent ? "the admin token is not valid" : "the admin API needs \"Authorization: Bearer <admin token>\"",
                   NULL);
    } else if (ep == NULL) {
        char *message =
            hg_xasprintf("no admin endpoint at %.*s (there are /healthz, /readyz, /metrics, /config and /audit)",
                         (int)(req->path_normalized.len < 200 ? req->path_normalized.len : 200), req->path_normalized.base);
        send_error(req, 404, message, NULL);
        free(message);
    } else if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
               !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        char *message = hg_xasprintf("%s takes GET (or HEAD) only", ep->path);
        send_error(req, 405, message, NULL);
        free(message);
    } else {
        ep->serve(a, req, config);
    }
    hg_config_release(config);
    return 0;
}

/* the loop */

static void on_accept(h2o_socket_t *listener, const char *err)
{
    hg_admin_t *a = listener->data;
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&a->accept_ctx, sock);
}

static void begin_stop(hg_admin_t *a)
{
    if (a->stopping)
        return;
    a->stopping = 1;
    a->stop_deadline_ms = hg_now_ms() + STOP_GRACE_MS;
    h2o_socket_read_stop(a->listener);
    h2o_socket_close(a->listener);
    a->listener = NULL;
    /*
     * Answers in progress end with "Connection: close", and idle connections expire at the next turn of
     * the loop: their timeout is made zero (h2o 2.2.5 has no call that closes them).
     * h2o_context_request_shutdown is not used: it parks an HTTP/2 timer for a second, which would keep
     * the context from being disposed until then.
     */
    a->ctx.shutdown_requested = 1;
    a->ctx.http1.req_timeout.timeout = 0;
}

static void on_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    hg_admin_t *a = H2O_STRUCT_FROM_MEMBER(hg_admin_t, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        admin_msg_t *m = H2O_STRUCT_FROM_MEMBER(admin_msg_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        if (m->type == MSG_QUERY_DONE) {
            query_done(a, m->query); /* m is part of the query */
        } else {
            free(m);
            begin_stop(a);
        }
    }
}

static int quiet(hg_admin_t *a)
{
    return a->queries == 0 && h2o_linklist_is_empty(&a->ctx.http1._conns);
}

/*
 * h2o 2.2.5 keeps up to 16 freed pool chunks and 16 socket buffers per thread for reuse, in thread-local
 * lists that nothing frees when the thread ends. Empty them before this thread exits: socket buffers through
 * their public prototype, pool chunks by taking each into a scratch pool and freeing it by hand.
 */
static void free_thread_caches(void)
{
    h2o_mem_recycle_t *buffers = &h2o_socket_buffer_prototype.allocator;
    while (buffers->cnt != 0)
        free(h2o_mem_alloc_recycle(buffers, 0));
    for (int i = 0; i != 16; ++i) {
        h2o_mem_pool_t pool;
        h2o_mem_init_pool(&pool);
        h2o_mem_alloc_pool(&pool, 1);
        free(pool.chunks);
    }
}

static void *admin_main(void *arg)
{
    hg_admin_t *a = arg;
    while (!(a->stopping && quiet(a))) {
        h2o_evloop_run(a->ctx.loop, a->stopping ? 50 : INT32_MAX);
        if (a->stopping && a->queries == 0 && hg_now_ms() >= a->stop_deadline_ms)
            break;
    }
    h2o_loop_t *loop = a->ctx.loop;
    if (!quiet(a)) {
        /* a client that does not read its answer: the context cannot be disposed of with its timers linked */
        hg_log(a->log, HG_LOG_WARN, "admin", "stopped with connections still open");
        a->abandoned = 1;
        return NULL;
    }
    h2o_multithread_queue_t *queue = a->ctx.queue;
    h2o_multithread_unregister_receiver(queue, &a->receiver);
    h2o_context_dispose(&a->ctx);
    free(queue); /* the evloop flavour of h2o_multithread_destroy_queue closes the queue but does not free it */
    h2o_evloop_destroy(loop);
    h2o_config_dispose(&a->globalconf);
    free_thread_caches();
    return NULL;
}

/* setup */

/* "host:port" or "[v6]:port" into host and port strings; -1 when malformed */
static int split_listen(const char *listen, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *h = listen, *colon;
    size_t hlen;
    if (*listen == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = listen + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        if ((colon = strrchr(listen, ':')) == NULL)
            return -1;
        hlen = (size_t)(colon - listen);
    }
    const char *p = colon + 1;
    size_t plen = strlen(p);
    if (hlen == 0 || hlen >= host_size || plen == 0 || plen > 5 || plen >= port_size || strspn(p, "0123456789") != plen ||
        atoi(p) > 65535)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(port, p, plen + 1);
    return 0;
}

static int open_listener(const char *address, hg_log_t *log, uint16_t *bound_port)
{
    char host[256], port[8];
    if (split_listen(address, host, sizeof(host), port, sizeof(port)) != 0) {
        hg_log(log, HG_LOG_ERROR, "admin", "%s: not host:port", address);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        hg_log(log, HG_LOG_ERROR, "admin", "%s: %s", address, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0 || getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        hg_log(log, HG_LOG_ERROR, "admin", "%s: %s", address, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    } else {
        *bound_port =
            ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    }
    freeaddrinfo(res);
    return fd;
}

hg_admin_t *hg_admin_start(hg_server_t *server, const char *listen, hg_log_t *log)
{
    uint16_t port = 0;
    int fd = open_listener(listen, log, &port);
    if (fd < 0)
        return NULL;

    hg_admin_t *a = hg_xcalloc(1, sizeof(*a));
    a->server = server;
    a->log = log;
    a->port = port;
    h2o_config_init(&a->globalconf);
    a->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("hubgate"));
    a->globalconf.max_request_entity_size = MAX_REQUEST_BODY;
    /* HTTP/1.1 only: probes, scrapers and curl need nothing more, and an HTTP/2 connection leaves a per-thread
       write buffer behind in h2o 2.2.5 that nothing can free when the thread ends */
    a->globalconf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&a->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    admin_handler_t *handler = (admin_handler_t *)h2o_create_handler(path, sizeof(*handler));
    handler->super.on_req = on_req;
    handler->admin = a;

    h2o_context_init(&a->ctx, h2o_evloop_create(), &a->globalconf);
    h2o_multithread_register_receiver(a->ctx.queue, &a->receiver, on_message);
    a->accept_ctx.ctx = &a->ctx;
    a->accept_ctx.hosts = a->globalconf.hosts;
    a->listener = h2o_evloop_socket_create(a->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    a->listener->data = a;
    h2o_socket_read_start(a->listener, on_accept);

    int err = pthread_create(&a->thread, NULL, admin_main, a);
    if (err != 0) {
        hg_log(log, HG_LOG_ERROR, "admin", "cannot start the admin thread: %s", strerror(err));
        h2o_socket_read_stop(a->listener);
        h2o_socket_close(a->listener);
        h2o_multithread_queue_t *queue = a->ctx.queue;
        h2o_multithread_unregister_receiver(queue, &a->receiver);
        h2o_loop_t *loop = a->ctx.loop;
        h2o_context_dispose(&a->ctx);
        free(queue);
        h2o_evloop_destroy(loop);
        h2o_config_dispose(&a->globalconf);
        free(a);
        return NULL;
    }
    hg_log(log, HG_LOG_INFO, "listening", "%s (admin: http/1.1; port %u)", listen, port);
    return a;
}

uint16_t hg_admin_port(const hg_admin_t *a)
{
    return a->port;
}

void hg_admin_stop(hg_admin_t *a)
{
    if (a == NULL)
        return;
    admin_msg_t *m = hg_xcalloc(1, sizeof(*m));
    m->type = MSG_STOP;
    h2o_multithread_send_message(&a->receiver, &m->super);
    pthread_join(a->thread, NULL);
    if (!a->abandoned)
        free(a);
}
