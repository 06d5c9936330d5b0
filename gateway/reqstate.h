/*
 * reqstate.h: what the gateway knows about one request, from the handler
 * that decides, through the filter that annotates the answer, to the logger
 * that writes the audit record and the access log line.
 *
 * h2o 2.2.5 gives a request no user-data slot, so the state is kept in the
 * request's env vector under one name and found there by hg_reqstate_get.
 * It is allocated in req->pool with a dispose callback that drops what it
 * holds (configuration, principal, normalized body) and counts the request
 * out of its worker's in-flight total, which is what a drain waits on.
 * Requests that h2o refuses before our handler runs (413 on a too-large
 * body) get a state created on first use by the filter or the logger.
 *
 * Lifetime: per request.
 */
#ifndef HUBGATE_REQSTATE_H
#define HUBGATE_REQSTATE_H

#include <h2o.h>
#include <stdint.h>

#include "audit.h"
#include "auth.h"
#include "config.h"
#include "normalize.h"
#include "reqid.h"

struct st_hg_worker_t;

typedef struct st_hg_reqstate_t {
    struct st_hg_worker_t *worker;
    hg_config_t *config; /* retained: the configuration this request runs under */
    const hg_route_t *route;
    char request_id[HG_REQID_MAX + 1];
    uint64_t started_ns, forwarded_ns, upstream_headers_ns; /* CLOCK_MONOTONIC; 0 = not reached */
    uint64_t started_ms;                                    /* wall clock, for the audit's ts */

    const char *decision; /* one of HG_AUDIT_* (audit.h); NULL until decided */
    const char *error;    /* short reason of a refusal (pool or static) */
    unsigned handled : 1; /* the handler ran: its own answers are JSON already */
    unsigned forwarded : 1;
    unsigned own_answer : 1; /* the gateway wrote this answer itself */

    hg_principal_t *principal; /* retained; NULL when no valid token */
    const char *scope_used;    /* pool */
    char from_type[32], to_type[32];
    char canonical_path[512];

    int has_body;
    hg_body_result_t body;

    /* from the upstream answer, for the audit */
    const char *hubspot_status, *hubspot_correlation_id; /* pool */
    int64_t num_errors;                                  /* -1 = absent */
} hg_reqstate_t;

/* the state of req, created (with a new request id) when create is set and none exists yet */
hg_reqstate_t *hg_reqstate_get(h2o_req_t *req, int create);

/* monotonic nanoseconds */
uint64_t hg_mono_ns(void);

#endif
