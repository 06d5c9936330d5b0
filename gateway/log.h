/*
 * log.h: the gateway's own event log, one logfmt line per event on stderr:
 *   ts=2026-11-29T10:00:00.123Z level=info event=listening msg="127.0.0.1:8080 (http/1.1, h2c)"
 * Events are rare (start, reload, drain, upstream failures at debug level);
 * per-request lines go to the access log (log.access), not here. Messages
 * never carry tokens or secrets: callers pass what they know to be safe.
 *
 * Lifetime: one hg_log_t for the process, owned by main.c; the level may be
 * changed by a reload (relaxed atomic).
 */
#ifndef HUBGATE_LOG_H
#define HUBGATE_LOG_H

#include "config.h"

typedef struct st_hg_log_t {
    int level; /* HG_LOG_ERROR .. HG_LOG_DEBUG */
} hg_log_t;

void hg_log(const hg_log_t *log, int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
