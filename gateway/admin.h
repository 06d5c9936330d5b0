/*
 * admin.h: the admin listener (contract section 8): probes, metrics, the
 * running configuration and audit queries, on a port of its own.
 *
 * It runs on a thread of its own with its own event loop, h2o context and
 * h2o configuration, so a slow scrape or audit query never takes time from
 * the request workers, and a flood of requests on the gateway's port never
 * starves the probes. It only reads the server's state: atomics of the
 * workers and the server, hg_server_config for the current configuration,
 * and the audit trail's statistics (each under a lock held for a copy).
 * Audit queries (SQLite) run on short-lived threads of their own, at most
 * four at once (more get 503), never on the admin's event loop. HTTP/1.1 only.
 *
 *   GET /healthz   200 "ok"                          never needs the token
 *   GET /readyz    200 "ready" / 503 "not ready: ..." never needs the token
 *   GET /metrics   Prometheus text 0.0.4
 *   GET /config    the running configuration, secrets redacted
 *   GET /audit     audit records (filters of contract section 7)
 *
 * With admin.token_file set (read from the current configuration on every
 * request, so a reload changes it), every endpoint but the probes needs
 * "Authorization: Bearer <token>". Refusals are JSON in HubSpot's error shape.
 *
 * Lifetime: start after hg_server_start (it reads server->workers) and stop
 * before the server's workers, metrics, access log and audit trail are freed.
 */
#ifndef HUBGATE_ADMIN_H
#define HUBGATE_ADMIN_H

#include <stdint.h>

#include "log.h"
#include "server.h"

typedef struct st_hg_admin_t hg_admin_t;

/*
 * Binds `listen` ("host:port", "[v6]:port"; port 0 picks a free one) on the calling thread, so that the
 * port is open when this returns, then starts the admin thread. NULL with a logged error. `server` and
 * `log` are borrowed and must outlive the admin listener.
 */
hg_admin_t *hg_admin_start(hg_server_t *server, const char *listen, hg_log_t *log);
/* the port bound (useful with port 0) */
uint16_t hg_admin_port(const hg_admin_t *a);
/*
 * Closes the listener, lets answers in progress and running audit queries finish (idle connections are
 * closed; at most about 2 s), joins the thread and frees `a`. NULL is fine.
 */
void hg_admin_stop(hg_admin_t *a);

#endif
