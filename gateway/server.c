/*
 * server.c: h2o configuration, listeners, worker threads, configuration
 * swaps and draining. See server.h.
 */
#include "server.h"
#include "annotate.h"
#include "handler.h"
#include "reqlog.h"
#include "upstream.h"
#include "util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct st_listener_t {
    h2o_accept_ctx_t accept_ctx;
    int fd;
    h2o_socket_t *sock;
};

hg_worker_t *hg_server_worker_of(h2o_context_t *ctx)
{
    return H2O_STRUCT_FROM_MEMBER(hg_worker_t, ctx, ctx);
}

static SSL_CTX *listener_ssl_ctx(const hg_listener_conf_t *l, hg_log_t *log)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_certificate) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        char reason[256];
        ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
        hg_log(log, HG_LOG_ERROR, "tls", "%s: cannot use certificate %s with key %s: %s", l->address, l->tls_certificate,
               l->tls_key, reason);
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
}

int hg_server_init(hg_server_t *s, hg_config_t *config, hg_audit_t *audit, hg_log_t *log)
{
    memset(s, 0, sizeof(*s));
    s->log = log;
    s->audit = audit;
    s->audit_reject = audit != NULL && hg_audit_rejects_on_failure(audit);
    s->config = config;
    s->startup = hg_config_retain(config);
    s->config_generation = 1;
    pthread_mutex_init(&s->mutex, NULL);

    h2o_config_init(&s->globalconf);
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("hubgate"));
    /* h2o refuses a larger HTTP/2 body with RST_STREAM, not an answer: leave room above the configured
       limit so that the handler answers 413 in HubSpot's shape for all but absurd bodies */
    s->globalconf.max_request_entity_size = config->limits.max_body_bytes * 2 + 65536;
    s->globalconf.proxy.io_timeout = config->upstream.io_timeout_ms;
    s->globalconf.proxy.emit_x_forwarded_headers = 0;
    s->globalconf.proxy.emit_via_header = 0;
    s->hostconf = h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(s->hostconf, "/", 0);

    if (h2o_url_parse(config->upstream.url, SIZE_MAX, &s->upstream) != 0) {
        hg_log(log, HG_LOG_ERROR, "config", "cannot parse upstream.url %s", config->upstream.url);
        return -1;
    }
    if (s->upstream.scheme == &H2O_URL_SCHEME_HTTPS) {
        char host[256], err[512];
        snprintf(host, sizeof(host), "%.*s", (int)s->upstream.host.len, s->upstream.host.base);
        if ((s->upstream_ssl = hg_upstream_ssl_ctx(host, config->upstream.ca_file, err, sizeof(err))) == NULL) {
            hg_log(log, HG_LOG_ERROR, "upstream", "%s", err);
            return -1;
        }
        s->globalconf.proxy.ssl_ctx = s->upstream_ssl;
    }

    hg_handler_register(pathconf, s);
    h2o_proxy_config_vars_t vars = {0};
    vars.io_timeout = config->upstream.io_timeout_ms;
    vars.keepalive_timeout = config->upstream.keepalive_timeout_ms;
    vars.ssl_ctx = s->upstream_ssl;
    h2o_proxy_register_reverse_proxy(pathconf, &s->upstream, &vars);
    /* h2o answers some requests (a body over max_request_entity_size) before any path is chosen: those
       go through the host's fallback path, which needs the same filter and logger */
    h2o_pathconf_t *paths[2] = {pathconf, &s->hostconf->fallback_path};
    for (int i = 0; i != 2; ++i) {
        hg_annotate_register(paths[i]);
        hg_reqlog_register(paths[i], s);
    }

    s->listener_ssl = hg_xcalloc(config->num_listeners, sizeof(*s->listener_ssl));
    for (size_t i = 0; i != config->num_listeners; ++i)
        if (config->listeners[i].tls_certificate != NULL &&
            (s->listener_ssl[i] = listener_ssl_ctx(&config->listeners[i], log)) == NULL)
            return -1;

    if (config->log.access != NULL && (s->access_log = hg_linewriter_start(config->log.access, 65536)) == NULL) {
        hg_log(log, HG_LOG_ERROR, "access_log", "cannot open %s: %s", config->log.access, strerror(errno));
        return -1;
    }
    return 0;
}

static int open_listener(const hg_listener_conf_t *l, hg_log_t *log)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
    char port[8];
    snprintf(port, sizeof(port), "%u", l->port);
    int rc = getaddrinfo(l->host, port, &hints, &res);
    if (rc != 0) {
        hg_log(log, HG_LOG_ERROR, "listen", "%s: %s", l->address, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        hg_log(log, HG_LOG_ERROR, "listen", "%s: %s", l->address, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct st_listener_t *l = listener->data;
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&l->accept_ctx, sock);
}

/* the worker takes the server's current configuration when it has changed */
static void adopt_config(hg_worker_t *w)
{
    hg_server_t *s = w->server;
    pthread_mutex_lock(&s->mutex);
    if (w->config_generation == s->config_generation) {
        pthread_mutex_unlock(&s->mutex);
        return;
    }
    hg_config_t *old = w->config;
    w->config = hg_config_retain(s->config);
    w->config_generation = s->config_generation;
    pthread_mutex_unlock(&s->mutex);
    if (w->auth_cache != NULL) {
        hg_auth_cache_free(w->auth_cache);
        hg_metrics_jwt_cache_replaced(w->metrics);
    }
    w->auth_cache = hg_auth_cache_new(w->config->auth);
    if (old != NULL)
        hg_config_release(old);
}

static void stop_listening(hg_worker_t *w)
{
    if (!w->listening)
        return;
    for (size_t i = 0; i != w->num_listeners; ++i) {
        struct st_listener_t *l = w->listeners[i]->data;
        h2o_socket_read_stop(w->listeners[i]);
        h2o_socket_close(w->listeners[i]);
        free(l);
    }
    w->num_listeners = 0;
    __atomic_store_n(&w->listening, 0, __ATOMIC_RELEASE);
    h2o_context_request_shutdown(&w->ctx);
}

static void on_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    hg_worker_t *w = H2O_STRUCT_FROM_MEMBER(hg_worker_t, receiver, receiver);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    /* cleared before the state is read: a change made after this point sends a new wake-up */
    __atomic_store_n(&w->wake_pending, 0, __ATOMIC_SEQ_CST);
    adopt_config(w);
    if (__atomic_load_n(&w->server->draining, __ATOMIC_ACQUIRE))
        stop_listening(w);
}

/* the worker's one wake-up message is sent only when none is pending, so it is never linked twice and
   never left allocated when a worker exits with one still queued */
static void wake(hg_worker_t *w)
{
    if (__atomic_exchange_n(&w->wake_pending, 1, __ATOMIC_SEQ_CST) == 0)
        h2o_multithread_send_message(&w->receiver, &w->wake_message);
}

static void *worker_main(void *arg)
{
    hg_worker_t *w = arg;
    while (!__atomic_load_n(&w->exiting, __ATOMIC_ACQUIRE))
        h2o_evloop_run(w->ctx.loop, INT32_MAX);
    return NULL;
}

int hg_server_start(hg_server_t *s)
{
    hg_config_t *c = s->startup;
    s->num_workers = c->workers;
    s->workers = hg_xcalloc(s->num_workers, sizeof(*s->workers));
    for (size_t i = 0; i != s->num_workers; ++i) {
        hg_worker_t *w = &s->workers[i];
        w->server = s;
        w->index = i;
        w->metrics = hg_metrics_new();
        hg_rng_seed(&w->rng);
        h2o_context_init(&w->ctx, h2o_evloop_create(), &s->globalconf);
        h2o_multithread_register_receiver(w->ctx.queue, &w->receiver, on_message);
        adopt_config(w);
        w->listeners = hg_xcalloc(c->num_listeners, sizeof(*w->listeners));
        for (size_t j = 0; j != c->num_listeners; ++j) {
            int fd = open_listener(&c->listeners[j], s->log);
            if (fd < 0)
                return -1;
            struct st_listener_t *l = hg_xcalloc(1, sizeof(*l));
            l->accept_ctx.ctx = &w->ctx;
            l->accept_ctx.hosts = s->globalconf.hosts;
            l->accept_ctx.ssl_ctx = s->listener_ssl[j];
            l->fd = fd;
            w->listeners[j] = h2o_evloop_socket_create(w->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
            w->listeners[j]->data = l;
            h2o_socket_read_start(w->listeners[j], on_accept);
        }
        w->num_listeners = c->num_listeners;
        w->listening = 1;
    }
    for (size_t j = 0; j != c->num_listeners; ++j)
        hg_log(s->log, HG_LOG_INFO, "listening", "%s (%s)", c->listeners[j].address,
               s->listener_ssl[j] != NULL ? "https: http/1.1, h2" : "http: http/1.1, h2c");
    for (size_t i = 0; i != s->num_workers; ++i)
        pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
    hg_log(s->log, HG_LOG_INFO, "started", "%zu workers, upstream %s", s->num_workers, c->upstream.url);
    return 0;
}

void hg_server_swap_config(hg_server_t *s, hg_config_t *config)
{
    pthread_mutex_lock(&s->mutex);
    hg_config_t *old = s->config;
    s->config = config;
    ++s->config_generation;
    pthread_mutex_unlock(&s->mutex);
    for (size_t i = 0; i != s->num_workers; ++i)
        wake(&s->workers[i]);
    hg_config_release(old);
}

hg_config_t *hg_server_config(hg_server_t *s)
{
    pthread_mutex_lock(&s->mutex);
    hg_config_t *c = hg_config_retain(s->config);
    pthread_mutex_unlock(&s->mutex);
    return c;
}

json_t *hg_server_running_config(hg_server_t *s)
{
    hg_config_t *c = hg_server_config(s);
    json_t *doc = hg_config_redacted(c), *started = hg_config_redacted(s->startup);
    static const char *const restart_only[] = {"listen", "workers", "audit", NULL};
    for (const char *const *key = restart_only; *key != NULL; ++key) {
        json_t *v = json_object_get(started, *key);
        if (v != NULL)
            json_object_set(doc, *key, v);
        else
            json_object_del(doc, *key);
    }
    json_t *up = json_object_get(doc, "upstream"), *up0 = json_object_get(started, "upstream");
    static const char *const upstream_keys[] = {"url", "ca_file", "connect_timeout_ms", "io_timeout_ms", "keepalive_timeout_ms",
                                                NULL};
    for (const char *const *key = upstream_keys; json_is_object(up) && *key != NULL; ++key) {
        json_t *v = json_object_get(up0, *key);
        if (v != NULL)
            json_object_set(up, *key, v);
        else
            json_object_del(up, *key);
    }
    json_t *admin = json_object_get(doc, "admin"), *admin0 = json_object_get(started, "admin");
    if (json_is_object(admin) && json_object_get(admin0, "listen") != NULL)
        json_object_set(admin, "listen", json_object_get(admin0, "listen"));
    json_decref(started);
    hg_config_release(c);
    return doc;
}

void hg_server_reopen_logs(hg_server_t *s)
{
    if (s->access_log != NULL)
        hg_linewriter_reopen(s->access_log);
    if (s->audit != NULL)
        hg_audit_reopen(s->audit);
}

static size_t inflight(hg_server_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i != s->num_workers; ++i)
        n += __atomic_load_n(&s->workers[i].inflight, __ATOMIC_ACQUIRE);
    return n;
}

size_t hg_server_drain(hg_server_t *s, uint64_t timeout_ms)
{
    __atomic_store_n(&s->draining, 1, __ATOMIC_RELEASE);
    for (size_t i = 0; i != s->num_workers; ++i)
        wake(&s->workers[i]);
    uint64_t deadline = hg_now_ms() + timeout_ms;
    size_t left;
    /* poll the in-flight count: requests end on the workers' own time */
    while ((left = inflight(s)) != 0 && hg_now_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i != s->num_workers; ++i) {
        __atomic_store_n(&s->workers[i].exiting, 1, __ATOMIC_RELEASE);
        wake(&s->workers[i]);
    }
    for (size_t i = 0; i != s->num_workers; ++i)
        pthread_join(s->workers[i].thread, NULL);
    return left;
}

void hg_server_dispose(hg_server_t *s)
{
    /* the workers' h2o contexts are not disposed of: h2o 2.2.5 asserts on contexts whose connections or
       shutdown timers are still linked, and the process is about to exit anyway */
    for (size_t i = 0; i != s->num_workers; ++i) {
        hg_worker_t *w = &s->workers[i];
        hg_auth_cache_free(w->auth_cache);
        hg_config_release(w->config);
        hg_metrics_free(w->metrics);
        free(w->listeners);
    }
    free(s->workers);
    if (s->access_log != NULL)
        hg_linewriter_stop(s->access_log);
    for (size_t i = 0; i != s->startup->num_listeners; ++i)
        if (s->listener_ssl[i] != NULL)
            SSL_CTX_free(s->listener_ssl[i]);
    free(s->listener_ssl);
    hg_config_release(s->config);
    hg_config_release(s->startup);
    pthread_mutex_destroy(&s->mutex);
}
