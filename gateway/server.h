/*
 * server.h: the serving side of hubgate on libh2o.
 *
 * One h2o_globalconf_t with one host whose "/" path runs, in order, the
 * pipeline handler (handler.c: hygiene, route, token, scopes, body) and h2o's
 * reverse proxy to the upstream; a filter (annotate.c) adds the gateway's
 * headers to every answer and turns h2o's own text/plain refusals into
 * HubSpot-shaped JSON; a logger (reqlog.c) writes the audit record, the
 * access log line and the metrics of every request.
 *
 * Threads: `workers` event-loop threads, each with its own h2o context and
 * one SO_REUSEPORT listening socket per listen address; the main thread
 * handles signals and tells workers what changed through h2o's multithread
 * queues (a new configuration, drain, exit). No worker ever blocks on I/O:
 * the audit writer, the access log and JWKS fetches have threads of their own.
 *
 * Lifetimes: hg_server_t and its workers live as long as the process; each
 * worker holds a reference to the configuration it serves new requests with,
 * and every request holds one to the configuration it started with.
 */
#ifndef HUBGATE_SERVER_H
#define HUBGATE_SERVER_H

#include <h2o.h>
#include <pthread.h>

#include "audit.h"
#include "auth.h"
#include "config.h"
#include "linewriter.h"
#include "log.h"
#include "metrics.h"
#include "reqid.h"

typedef struct st_hg_server_t hg_server_t;

typedef struct st_hg_worker_t {
    hg_server_t *server;
    size_t index;
    pthread_t thread;
    h2o_context_t ctx;
    h2o_multithread_receiver_t receiver;
    h2o_multithread_message_t wake_message; /* "look at the server's state": config, draining, exiting */
    int wake_pending;                       /* atomic: wake_message is queued */
    h2o_socket_t **listeners;
    size_t num_listeners;
    hg_config_t *config;         /* for new requests; touched only by this worker's thread */
    unsigned config_generation;  /* of `config` */
    hg_auth_cache_t *auth_cache; /* belongs to config->auth */
    hg_metrics_t *metrics;       /* written by this thread only; read when scraped */
    hg_rng_t rng;                /* request ids; this thread only */
    size_t inflight;             /* atomic: requests with a live state */
    int listening, exiting;
} hg_worker_t;

struct st_hg_server_t {
    h2o_globalconf_t globalconf;
    h2o_hostconf_t *hostconf;
    hg_log_t *log;
    hg_audit_t *audit;
    hg_linewriter_t *access_log; /* NULL when log.access is null */
    int audit_reject;            /* on_failure: reject */

    pthread_mutex_t mutex; /* guards config and config_generation */
    hg_config_t *startup;  /* what the process was started with: listeners, workers, upstream, audit, admin */
    hg_config_t *config;
    unsigned config_generation;

    h2o_url_t upstream;
    SSL_CTX *upstream_ssl;  /* NULL for http:// */
    SSL_CTX **listener_ssl; /* per listen entry; NULL for cleartext */

    hg_worker_t *workers;
    size_t num_workers;
    int draining; /* atomic */
    uint64_t reloads_ok, reloads_failed;
};

/* builds the h2o configuration for `config` (retained) and opens the access log; -1 with a logged error */
int hg_server_init(hg_server_t *s, hg_config_t *config, hg_audit_t *audit, hg_log_t *log);
/* opens the listeners and starts the worker threads; -1 with a logged error */
int hg_server_start(hg_server_t *s);
/* installs a new configuration (retained) for new requests on every worker */
void hg_server_swap_config(hg_server_t *s, hg_config_t *config);
/* the current configuration (new reference) */
hg_config_t *hg_server_config(hg_server_t *s);
/* the running configuration for /config: the current policy, with the keys that only a restart applies
   (listen, workers, upstream url and timeouts, audit, admin.listen) as the process runs them; redacted */
json_t *hg_server_running_config(hg_server_t *s);
/* SIGUSR1: reopen the access log and the audit's JSONL file */
void hg_server_reopen_logs(hg_server_t *s);
/* stops accepting, waits for in-flight requests up to timeout_ms, stops the workers; returns requests still in flight */
size_t hg_server_drain(hg_server_t *s, uint64_t timeout_ms);
void hg_server_dispose(hg_server_t *s);
/* the worker that owns an h2o context */
hg_worker_t *hg_server_worker_of(h2o_context_t *ctx);

#endif
