/*
 * mock_hubspot.c: a fast stand-in for HubSpot's CRM API, the upstream of the
 * integration tests and benchmarks. It answers the one endpoint hubgate exists
 * for, POST /crm/v4/associations/{from}/{to}/batch/associate/default, in
 * HubSpot's shapes (batch result, batch errors, error bodies, rate-limit
 * headers), records every request it receives so tests can see exactly what
 * the gateway forwarded, and lets a test choose the answer through "magic" ids.
 *
 * Magic ids: every id that does not start with "99" is ordinary. A from id
 * starting with "99" picks the behaviour (the first input with a status id wins;
 * "slow" and per-input ids combine with everything):
 *
 *   99000          answer after --slow-ms (an h2o timer; the loop never blocks)
 *   99001          never answer (the connection stays open)
 *   99202          202 with status "PENDING"
 *   99204...       prefix: this input is left out of "results" (no error; 200)
 *   99207...       prefix: this input fails: it goes to "errors", answer 207
 *   99401          401 INVALID_AUTHENTICATION body
 *   99403          403 MISSING_SCOPES body
 *   99429          429 RATE_LIMIT, policyName SECONDLY (+ Retry-After: 1)
 *   994291         429 RATE_LIMIT, policyName DAILY
 *   994292         429 RATE_LIMIT, policyName TEN_SECONDLY_ROLLING
 *   99SSS          any other SSS in 400..599 (exact, 5 digits): that status with
 *                  a HubSpot error body (400 VALIDATION_ERROR, 404
 *                  OBJECT_NOT_FOUND, 5xx "internal error")
 *
 * Ids that are not decimal digits fail per input like 99207 (the mock does not
 * normalize: " 12" fails). Without "Authorization: Bearer <t>"
 * (or, with --expect-token T, unless it is exactly "Bearer T") every path
 * answers 401. Every other path answers 404 (recorded too). GET
 * /__mock/requests, DELETE /__mock/requests, GET /__mock/stats and GET
 * /__mock/health are the mock's own and never recorded.
 *
 * One h2o evloop per thread (--threads, default 1) with one SO_REUSEPORT socket
 * per listener and thread; the record store is shared under a mutex. The
 * answers themselves are built in mock_answer.c.
 * Lifetimes: struct mock is built in main and lives until exit; struct
 * mock_thread is per thread; answers live in req->pool.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "h2o.h"
#include "h2o/http1.h"

#include "util.h"
#include "mock_answer.h"

#define RL_DAILY 500000
#define RL_MAX 190
#define RL_SECONDLY 19

struct listener {
    struct sockaddr_in addr;
    int tls;
    int *fds; /* one per thread */
};

struct store {
    pthread_mutex_t lock;
    char **ring; /* limit slots, the oldest at head */
    size_t limit, count, head;
    uint64_t seq, dropped;
};

struct mock;

struct mock_thread {
    h2o_context_t ctx; /* first: the handler finds its thread from req->conn->ctx */
    struct mock *m;
    pthread_t tid;
    h2o_accept_ctx_t *accept_ctxs; /* one per listener */
    h2o_socket_t **socks;
    h2o_timeout_t slow_timeout;
    h2o_multithread_receiver_t stop_receiver;
    h2o_multithread_message_t stop_message;
    int stop;
    uint64_t rng[2];
};

struct mock {
    const char *expect_token, *tls_cert, *tls_key, *port_file;
    int tls_min, tls_max;
    unsigned slow_ms, nthreads;
    int canned; /* --canned: every association call gets one fixed 200, its body unread (benchmarks) */
    struct listener *listeners;
    size_t nlisteners;
    h2o_globalconf_t conf;
    SSL_CTX *ssl_ctx;
    struct store store;
    uint64_t answered; /* atomic: HubSpot answers given, drives the rate-limit headers */
    struct mock_thread *threads;
    pthread_barrier_t ready; /* the threads and main: every loop is listening; later: every loop stopped */
};

struct pending {
    h2o_timeout_entry_t entry;
    h2o_req_t *req;
    struct answer ans;
    char correlation[37];
};

/* the record store */

static void store_add(struct store *s, char *rec)
{
    pthread_mutex_lock(&s->lock);
    if (s->count == s->limit) {
        free(s->ring[s->head]);
        s->ring[s->head] = rec;
        s->head = (s->head + 1) % s->limit;
        s->dropped++;
    } else {
        s->ring[(s->head + s->count++) % s->limit] = rec;
    }
    pthread_mutex_unlock(&s->lock);
}

static uint64_t store_next_seq(struct store *s)
{
    return __atomic_add_fetch(&s->seq, 1, __ATOMIC_RELAXED);
}

static size_t store_clear(struct store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->count;
    for (size_t i = 0; i < s->count; i++)
        free(s->ring[(s->head + i) % s->limit]);
    s->count = s->head = 0;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void store_dump(struct store *s, struct sbuf *b)
{
    sb_add(b, "[", 1);
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->count; i++) {
        if (i != 0)
            sb_add(b, ",", 1);
        sb_adds(b, s->ring[(s->head + i) % s->limit]);
    }
    pthread_mutex_unlock(&s->lock);
    sb_add(b, "]", 1);
}

static void add_header(h2o_req_t *req, const char *lc, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, lc, strlen(lc), 0, name, value, strlen(value));
}

/* sends a HubSpot answer: status, body and HubSpot's headers */
static void send_answer(struct mock_thread *t, h2o_req_t *req, const struct answer *a, const char *correlation)
{
    uint64_t n = __atomic_add_fetch(&t->m->answered, 1, __ATOMIC_RELAXED);
    int limited = a->policy != NULL, daily = limited && strcmp(a->policy, "DAILY") == 0;
    char v[32];

    req->res.status = a->status;
    req->res.reason = mock_reason(a->status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json;charset=utf-8"));
    add_header(req, "x-hubspot-correlation-id", "X-HubSpot-Correlation-Id", correlation);
    add_header(req, "x-hubspot-ratelimit-daily", "X-HubSpot-RateLimit-Daily", H2O_TO_STR(RL_DAILY));
    snprintf(v, sizeof(v), "%llu", daily || n >= RL_DAILY ? 0ULL : (unsigned long long)(RL_DAILY - n));
    add_header(req, "x-hubspot-ratelimit-daily-remaining", "X-HubSpot-RateLimit-Daily-Remaining", v);
    add_header(req, "x-hubspot-ratelimit-interval-milliseconds", "X-HubSpot-RateLimit-Interval-Milliseconds", "10000");
    add_header(req, "x-hubspot-ratelimit-max", "X-HubSpot-RateLimit-Max", H2O_TO_STR(RL_MAX));
    add_header(req, "x-hubspot-ratelimit-remaining", "X-HubSpot-RateLimit-Remaining", limited ? "0" : "189");
    add_header(req, "x-hubspot-ratelimit-secondly", "X-HubSpot-RateLimit-Secondly", H2O_TO_STR(RL_SECONDLY));
    add_header(req, "x-hubspot-ratelimit-secondly-remaining", "X-HubSpot-RateLimit-Secondly-Remaining", limited ? "0" : "18");
    if (limited)
        add_header(req, "retry-after", "Retry-After", "1");
    req->res.content_length = a->body.len; /* known length: keep-alive for every status */
    h2o_send_inline(req, a->body.base, a->body.len);
}

/* records one request as a JSON object (see the usage text for its fields) */
static void record(struct mock_thread *t, h2o_req_t *req)
{
    struct sockaddr_storage ss;
    char host[INET6_ADDRSTRLEN] = "?";
    struct sbuf b = {NULL, 0, 0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

    sb_addf(&b, "{\"seq\":%llu,\"time_ms\":%llu", (unsigned long long)store_next_seq(&t->m->store),
            (unsigned long long)hg_now_ms());
    if (req->conn->callbacks->get_sockname(req->conn, (struct sockaddr *)&ss) != 0 && ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        sb_addf(&b, ",\"listener\":\"%s:%u\"", host, ntohs(sin->sin_port));
    }
    sb_addf(&b, ",\"scheme\":\"%.*s\"", (int)req->input.scheme->name.len, req->input.scheme->name.base);
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock != NULL && sock->ssl != NULL) {
        const char *ver = h2o_socket_get_ssl_protocol_version(sock), *cipher = h2o_socket_get_ssl_cipher(sock);
        sb_addf(&b, ",\"tls\":{\"version\":\"%s\",\"cipher\":\"%s\",\"session_reused\":%s}", ver != NULL ? ver : "",
                cipher != NULL ? cipher : "", h2o_socket_get_ssl_session_reused(sock) == 1 ? "true" : "false");
    } else {
        sb_adds(&b, ",\"tls\":null");
    }
    sb_addf(&b, ",\"conn\":%llu", (unsigned long long)req->conn->id);
    if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) != 0 && ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        sb_addf(&b, ",\"peer\":\"%s:%u\"", host, ntohs(sin->sin_port));
    }
    sb_addf(&b, ",\"http_version\":\"%d.%d\",\"method\":", req->version >> 8, req->version & 0xff);
    sb_json(&b, req->input.method.base, req->input.method.len);
    sb_adds(&b, ",\"path\":");
    sb_json(&b, req->input.path.base, req->input.path.len);
    sb_adds(&b, ",\"headers\":[");
    int first = 1;
    if (req->input.authority.base != NULL) {
        sb_adds(&b, "[\"host\",");
        sb_json(&b, req->input.authority.base, req->input.authority.len);
        sb_adds(&b, "]");
        first = 0;
    }
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = req->headers.entries + i;
        sb_adds(&b, first ? "[" : ",[");
        first = 0;
        sb_json(&b, h->name->base, h->name->len);
        sb_add(&b, ",", 1);
        sb_json(&b, h->value.base, h->value.len);
        sb_add(&b, "]", 1);
    }
    sb_addf(&b, "],\"body_length\":%zu,\"body\":", req->entity.base != NULL ? req->entity.len : 0);
    sb_json(&b, req->entity.base != NULL ? req->entity.base : "", req->entity.base != NULL ? req->entity.len : 0);
    sb_add(&b, "}", 1);
    store_add(&t->m->store, b.p);
}

static void send_json(h2o_req_t *req, int status, struct sbuf *b)
{
    req->res.status = status;
    req->res.reason = mock_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_iovec_t body = sb_to_pool(b, req);
    req->res.content_length = body.len;
    h2o_send_inline(req, body.base, body.len);
}

/* GET/DELETE /__mock/... : the mock's own endpoints */
static int on_admin(struct mock *m, h2o_req_t *req, h2o_iovec_t path)
{
    struct sbuf b = {NULL, 0, 0};
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    if (get && h2o_memis(path.base, path.len, H2O_STRLIT("/__mock/health"))) {
        sb_adds(&b, "{\"status\":\"ok\"}");
    } else if (get && h2o_memis(path.base, path.len, H2O_STRLIT("/__mock/requests"))) {
        store_dump(&m->store, &b);
    } else if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE")) &&
               h2o_memis(path.base, path.len, H2O_STRLIT("/__mock/requests"))) {
        sb_addf(&b, "{\"cleared\":%zu}", store_clear(&m->store));
    } else if (get && h2o_memis(path.base, path.len, H2O_STRLIT("/__mock/stats"))) {
        pthread_mutex_lock(&m->store.lock);
        sb_addf(&b, "{\"received\":%llu,\"recorded\":%zu,\"dropped\":%llu,\"answered\":%llu}", (unsigned long long)m->store.seq,
                m->store.count, (unsigned long long)m->store.dropped,
                (unsigned long long)__atomic_load_n(&m->answered, __ATOMIC_RELAXED));
        pthread_mutex_unlock(&m->store.lock);
    } else {
        sb_adds(&b, "{\"status\":\"error\",\"message\":\"unknown mock endpoint\"}");
        send_json(req, 404, &b);
        return 0;
    }
    send_json(req, 200, &b);
    return 0;
}

static int authorized(struct mock *m, h2o_req_t *req)
{
    const h2o_header_t *h = mock_find_header(req, H2O_TOKEN_AUTHORIZATION);
    if (h == NULL)
        return 0;
    if (m->expect_token != NULL)
        return h->value.len == 7 + strlen(m->expect_token) && memcmp(h->value.base, "Bearer ", 7) == 0 &&
               memcmp(h->value.base + 7, m->expect_token, h->value.len - 7) == 0;
    return h->value.len > 7 && strncasecmp(h->value.base, "Bearer ", 7) == 0;
}

static void pending_dispose(void *p)
{
    struct pending *pd = p;
    if (h2o_timeout_is_linked(&pd->entry))
        h2o_timeout_unlink(&pd->entry);
}

static void on_slow_timeout(h2o_timeout_entry_t *entry)
{
    struct pending *pd = H2O_STRUCT_FROM_MEMBER(struct pending, entry, entry);
    struct mock_thread *t = H2O_STRUCT_FROM_MEMBER(struct mock_thread, ctx, pd->req->conn->ctx);
    send_answer(t, pd->req, &pd->ans, pd->correlation);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct mock_thread *t = H2O_STRUCT_FROM_MEMBER(struct mock_thread, ctx, req->conn->ctx);
    struct mock *m = t->m;
    const char *q = memchr(req->input.path.base, '?', req->input.path.len);
    h2o_iovec_t path = h2o_iovec_init(req->input.path.base, q != NULL ? (size_t)(q - req->input.path.base) : req->input.path.len);
    h2o_iovec_t from, to;
    char correlation[37], fbuf[32], tbuf[32];
    const char *ft, *tt;
    struct answer a;
    int delay = 0, hang = 0;

    if (path.len >= 8 && memcmp(path.base, "/__mock/", 8) == 0)
        return on_admin(m, req, path);
    if (m->store.limit != 0)
        record(t, req);
    else
        store_next_seq(&m->store);
    mock_make_uuid(t->rng, correlation);
    if (!authorized(m, req)) {
        a = mock_unauthorized(req, correlation);
    } else if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) || mock_match_endpoint(path, &from, &to) != 0) {
        a = mock_error_answer(req, 404, "OBJECT_NOT_FOUND", "resource not found", correlation, NULL);
    } else if ((ft = mock_object_type_id(from.base, from.len, fbuf, sizeof(fbuf))) == NULL ||
               (tt = mock_object_type_id(to.base, to.len, tbuf, sizeof(tbuf))) == NULL) {
        h2o_iovec_t bad = ft == NULL ? from : to;
        char msg[200];
        snprintf(msg, sizeof(msg), "Unable to infer object type from: %.*s", (int)(bad.len < 100 ? bad.len : 100), bad.base);
        a = mock_error_answer(req, 400, "VALIDATION_ERROR", msg, correlation, NULL);
    } else if (m->canned) {
        static const char body[] = "{\"status\":\"COMPLETE\",\"results\":[],\"startedAt\":\"2026-01-01T00:00:00.000Z\","
                                   "\"completedAt\":\"2026-01-01T00:00:00.000Z\"}";
        a = (struct answer){200, {(char *)body, sizeof(body) - 1}, NULL};
    } else {
        a = mock_associate(req, ft, tt, correlation, &delay, &hang);
    }
    if (hang)
        return 0;
    if (delay) {
        struct pending *pd = h2o_mem_alloc_shared(&req->pool, sizeof(*pd), pending_dispose);
        *pd = (struct pending){{0, on_slow_timeout, {NULL, NULL}}, req, a, ""};
        memcpy(pd->correlation, correlation, sizeof(pd->correlation));
        h2o_timeout_link(t->ctx.loop, &t->slow_timeout, &pd->entry);
        return 0;
    }
    send_answer(t, req, &a, correlation);
    return 0;
}

/* server plumbing */

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err != NULL || (sock = h2o_evloop_socket_accept(listener)) == NULL)
        return;
    h2o_accept(listener->data, sock);
}

static void on_stop(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    struct mock_thread *t = H2O_STRUCT_FROM_MEMBER(struct mock_thread, stop_receiver, receiver);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    t->stop = 1;
}

static void *thread_main(void *arg)
{
    struct mock_thread *t = arg;
    struct mock *m = t->m;
    size_t idx = (size_t)(t - m->threads);

    h2o_context_init(&t->ctx, h2o_evloop_create(), &m->conf);
    h2o_timeout_init(t->ctx.loop, &t->slow_timeout, m->slow_ms);
    h2o_multithread_register_receiver(t->ctx.queue, &t->stop_receiver, on_stop);
    t->accept_ctxs = hg_xcalloc(m->nlisteners, sizeof(*t->accept_ctxs));
    t->socks = hg_xcalloc(m->nlisteners, sizeof(*t->socks));
    for (size_t i = 0; i < m->nlisteners; i++) {
        t->accept_ctxs[i] = (h2o_accept_ctx_t){&t->ctx, m->conf.hosts, m->listeners[i].tls ? m->ssl_ctx : NULL, 0, NULL};
        t->socks[i] = h2o_evloop_socket_create(t->ctx.loop, m->listeners[i].fds[idx], H2O_SOCKET_FLAG_DONT_READ);
        t->socks[i]->data = t->accept_ctxs + i;
        h2o_socket_read_start(t->socks[i], on_accept);
    }
    pthread_barrier_wait(&m->ready);
    while (!t->stop)
        h2o_evloop_run(t->ctx.loop, INT32_MAX);
    for (size_t i = 0; i < m->nlisteners; i++) {
        h2o_socket_read_stop(t->socks[i]);
        h2o_socket_close(t->socks[i]);
    }
    /*
     * Stay alive until the process exits: h2o keeps recycled memory in
     * thread-local lists, which LeakSanitizer sees only while the thread lives.
     */
    pthread_barrier_wait(&m->ready);
    for (;;)
        pause();
    return NULL;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    char *end;
    if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    long port = strtol(colon + 1, &end, 10);
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (*end != '\0' || colon[1] == '\0' || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    return 0;
}

/* binds one socket per thread for every listener; fills in the ephemeral port */
static int bind_listeners(struct mock *m)
{
    for (size_t i = 0; i < m->nlisteners; i++) {
        struct listener *l = m->listeners + i;
        l->fds = hg_xcalloc(m->nthreads, sizeof(int));
        for (unsigned t = 0; t < m->nthreads; t++) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
            socklen_t len = sizeof(l->addr);
            if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
                setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
                bind(fd, (struct sockaddr *)&l->addr, sizeof(l->addr)) != 0 || listen(fd, SOMAXCONN) != 0 ||
                getsockname(fd, (struct sockaddr *)&l->addr, &len) != 0) {
                char a[INET_ADDRSTRLEN];
                fprintf(stderr, "mock_hubspot: cannot listen on %s:%u: %s\n", inet_ntop(AF_INET, &l->addr.sin_addr, a, sizeof(a)),
                        ntohs(l->addr.sin_port), strerror(errno));
                if (fd != -1)
                    close(fd);
                return -1;
            }
            l->fds[t] = fd;
        }
    }
    return 0;
}

static int setup_tls(struct mock *m)
{
    m->ssl_ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(m->ssl_ctx, m->tls_min);
    SSL_CTX_set_max_proto_version(m->ssl_ctx, m->tls_max);
    SSL_CTX_set_session_id_context(m->ssl_ctx, (const unsigned char *)"mock_hubspot", 12);
    if (SSL_CTX_use_certificate_chain_file(m->ssl_ctx, m->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(m->ssl_ctx, m->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(m->ssl_ctx) != 1) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        fprintf(stderr, "mock_hubspot: cannot load %s / %s: %s\n", m->tls_cert, m->tls_key, buf);
        return -1;
    }
    return 0;
}

static void usage(FILE *fp)
{
    fputs("usage: mock_hubspot [options]\n"
          "A mock of HubSpot's POST /crm/v4/associations/{from}/{to}/batch/associate/default for tests.\n"
          "\n"
          "  --listen ADDR        IPv4 ADDR:PORT (repeatable; port 0 = ephemeral; default 127.0.0.1:0);\n"
          "                       TLS when --tls-cert is given\n"
          "  --listen-http ADDR   a cleartext listener even when TLS is configured (repeatable)\n"
          "  --tls-cert FILE      PEM certificate chain (with --tls-key)\n"
          "  --tls-key FILE       PEM private key\n"
          "  --tls13-only         accept TLS 1.3 only (default: TLS 1.2 and 1.3)\n"
          "  --tls12-only         accept TLS 1.2 only\n"
          "  --expect-token T     answer 401 unless Authorization is exactly \"Bearer T\"\n"
          "                       (default: any \"Bearer <non-empty>\")\n"
          "  --slow-ms N          delay of the slow magic id (default 3000)\n"
          "  --threads N          event-loop threads (default 1)\n"
          "  --record-limit N     keep the newest N requests (default 100000; 0 = record nothing)\n"
          "  --port-file FILE     also write the bound ports there, one a line\n"
          "  --canned             answer every association call 200 with one fixed body, without\n"
          "                       reading it (benchmarks: the gateway, not the mock, does the work)\n"
          "  --help               this text\n"
          "\n"
          "Prints \"listening on 127.0.0.1:PORT\" per listener (in option order) once it accepts connections.\n"
          "SIGTERM or SIGINT: exit 0.\n"
          "\n"
          "Magic from ids (ids not starting with 99 are ordinary; the first status id wins):\n"
          "  99000     answer after --slow-ms            99001     never answer\n"
          "  99202     202, status PENDING               99204...  (prefix) input left out of results, 200\n"
          "  99207...  (prefix) input goes to errors[], numErrors, status 207\n"
          "  99401     401 INVALID_AUTHENTICATION        99403     403 MISSING_SCOPES\n"
          "  99429     429 RATE_LIMIT policy SECONDLY    994291    429 policy DAILY\n"
          "  994292    429 policy TEN_SECONDLY_ROLLING   (429s carry Retry-After: 1, Remaining headers 0)\n"
          "  99SSS     other SSS in 400..599: that status with a HubSpot error body\n"
          "Ids that are not decimal digits fail per input like 99207. associationTypeId: HubSpot's default for\n"
          "contact/company/deal/ticket pairs (0-1 -> 0-2 is 279), 279 otherwise.\n"
          "Every HubSpot answer: Content-Type application/json;charset=utf-8, X-HubSpot-Correlation-Id and the\n"
          "X-HubSpot-RateLimit-* headers. No Bearer token: 401; other paths or methods: 404.\n"
          "\n"
          "Mock endpoints (never recorded): GET /__mock/health, GET /__mock/requests (JSON array, oldest first),\n"
          "DELETE /__mock/requests, GET /__mock/stats ({received, recorded, dropped, answered}).\n"
          "A record: {seq, time_ms, listener \"ip:port\", scheme http|https, tls null|{version, cipher,\n"
          "session_reused}, conn, peer, http_version, method, path (with query), headers [[lower-case name,\n"
          "value]...] (host first; h2o consumes Content-Length and Transfer-Encoding), body_length, body}.\n",
          fp);
}

static int parse_args(struct mock *m, int argc, char **argv)
{
    enum {
        O_LISTEN = 256,
        O_LISTEN_HTTP,
        O_CERT,
        O_KEY,
        O_TLS13,
        O_TLS12,
        O_TOKEN,
        O_SLOW,
        O_THREADS,
        O_LIMIT,
        O_PORTFILE,
        O_CANNED,
        O_HELP
    };
    static const struct option opts[] = {{"listen", required_argument, NULL, O_LISTEN},
                                         {"listen-http", required_argument, NULL, O_LISTEN_HTTP},
                                         {"tls-cert", required_argument, NULL, O_CERT},
                                         {"tls-key", required_argument, NULL, O_KEY},
                                         {"tls13-only", no_argument, NULL, O_TLS13},
                                         {"tls12-only", no_argument, NULL, O_TLS12},
                                         {"expect-token", required_argument, NULL, O_TOKEN},
                                         {"slow-ms", required_argument, NULL, O_SLOW},
                                         {"threads", required_argument, NULL, O_THREADS},
                                         {"record-limit", required_argument, NULL, O_LIMIT},
                                         {"port-file", required_argument, NULL, O_PORTFILE},
                                         {"canned", no_argument, NULL, O_CANNED},
                                         {"help", no_argument, NULL, O_HELP},
                                         {NULL, 0, NULL, 0}};
    int c;
    char *end;
    unsigned long v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
        case O_LISTEN_HTTP:
            m->listeners = hg_xrealloc(m->listeners, (m->nlisteners + 1) * sizeof(*m->listeners));
            m->listeners[m->nlisteners] = (struct listener){.tls = c == O_LISTEN, .fds = NULL};
            if (parse_addr(optarg, &m->listeners[m->nlisteners++].addr) != 0) {
                fprintf(stderr, "mock_hubspot: bad address %s (want IPv4:PORT)\n", optarg);
                return -1;
            }
            break;
        case O_CERT:
            m->tls_cert = optarg;
            break;
        case O_KEY:
            m->tls_key = optarg;
            break;
        case O_TLS13:
            m->tls_min = m->tls_max = TLS1_3_VERSION;
            break;
        case O_TLS12:
            m->tls_min = m->tls_max = TLS1_2_VERSION;
            break;
        case O_TOKEN:
            m->expect_token = optarg;
            break;
        case O_SLOW:
        case O_THREADS:
        case O_LIMIT:
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || optarg[0] == '\0' || optarg[0] == '-' || v > 100000000 ||
                (c == O_THREADS && v == 0)) {
                fprintf(stderr, "mock_hubspot: bad number %s\n", optarg);
                return -1;
            }
            if (c == O_SLOW)
                m->slow_ms = (unsigned)v;
            else if (c == O_THREADS)
                m->nthreads = (unsigned)v;
            else
                m->store.limit = v;
            break;
        case O_PORTFILE:
            m->port_file = optarg;
            break;
        case O_CANNED:
            m->canned = 1;
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc || (m->tls_cert == NULL) != (m->tls_key == NULL)) {
        fprintf(stderr, "mock_hubspot: %s\n", optind != argc ? "unexpected argument" : "--tls-cert and --tls-key go together");
        return -1;
    }
    if (m->tls_cert == NULL)
        for (size_t i = 0; i < m->nlisteners; i++)
            m->listeners[i].tls = 0;
    if (m->nlisteners == 0) {
        m->listeners = hg_xcalloc(1, sizeof(*m->listeners));
        m->nlisteners = 1;
        m->listeners[0].tls = m->tls_cert != NULL;
        parse_addr("127.0.0.1:0", &m->listeners[0].addr);
    }
    return 0;
}

static int announce(struct mock *m)
{
    FILE *pf = NULL;
    if (m->port_file != NULL && (pf = fopen(m->port_file, "w")) == NULL) {
        fprintf(stderr, "mock_hubspot: cannot write %s: %s\n", m->port_file, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < m->nlisteners; i++) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &m->listeners[i].addr.sin_addr, a, sizeof(a));
        printf("listening on %s:%u\n", a, ntohs(m->listeners[i].addr.sin_port));
        if (pf != NULL)
            fprintf(pf, "%u\n", ntohs(m->listeners[i].addr.sin_port));
    }
    /* the port file is complete before stdout says we listen: readers wait on stdout */
    if (pf != NULL && fclose(pf) != 0)
        return -1;
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    /*
     * Static so that what h2o still holds at exit (open connections, contexts)
     * stays reachable for LeakSanitizer; the mock's own memory is freed below.
     */
    static struct mock m;
    sigset_t sigs;
    int sig;

    m.slow_ms = 3000;
    m.nthreads = 1;
    m.tls_min = TLS1_2_VERSION;
    m.tls_max = TLS1_3_VERSION;
    m.store.limit = 100000;
    pthread_mutex_init(&m.store.lock, NULL);
    if (parse_args(&m, argc, argv) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    h2o_config_init(&m.conf);
    m.conf.server_name = h2o_iovec_init(H2O_STRLIT("cloudflare"));
    h2o_pathconf_t *pathconf =
        h2o_config_register_path(h2o_config_register_host(&m.conf, h2o_iovec_init(H2O_STRLIT("default")), 65535), "/", 0);
    h2o_create_handler(pathconf, sizeof(h2o_handler_t))->on_req = on_req;
    if (m.tls_cert != NULL && setup_tls(&m) != 0)
        return 1;
    if (bind_listeners(&m) != 0)
        return 1;
    m.store.ring = hg_xcalloc(m.store.limit != 0 ? m.store.limit : 1, sizeof(char *));
    m.threads = hg_xcalloc(m.nthreads, sizeof(*m.threads));
    for (unsigned i = 0; i < m.nthreads; i++) {
        m.threads[i].m = &m;
        if (getrandom(m.threads[i].rng, sizeof(m.threads[i].rng), 0) != sizeof(m.threads[i].rng))
            m.threads[i].rng[0] = (uint64_t)hg_now_ms() + i, m.threads[i].rng[1] = (uint64_t)getpid();
        m.threads[i].rng[0] |= 1;
    }
    /* every loop has its listeners and its stop receiver before the ports are announced */
    pthread_barrier_init(&m.ready, NULL, m.nthreads + 1);
    for (unsigned i = 0; i < m.nthreads; i++)
        h2o_multithread_create_thread(&m.threads[i].tid, NULL, thread_main, m.threads + i);
    pthread_barrier_wait(&m.ready);
    if (announce(&m) != 0)
        return 1;

    do {
        if (sigwait(&sigs, &sig) != 0)
            break;
    } while (sig != SIGTERM && sig != SIGINT);
    for (unsigned i = 0; i < m.nthreads; i++)
        h2o_multithread_send_message(&m.threads[i].stop_receiver, &m.threads[i].stop_message);
    pthread_barrier_wait(&m.ready); /* every loop has stopped */

    store_clear(&m.store);
    free(m.store.ring);
    m.store.ring = NULL;
    for (size_t i = 0; i < m.nlisteners; i++)
        free(m.listeners[i].fds);
    free(m.listeners);
    m.listeners = NULL;
    return 0;
}
