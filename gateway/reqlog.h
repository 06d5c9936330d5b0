/*
 * reqlog.h: the request logger, run by h2o when a request is disposed.
 *
 * For every request, refused ones included, it hands one audit record to the
 * audit writer (never touching the store itself), queues one JSON line for
 * the access log when log.access is set, and counts the request in its
 * worker's metrics.
 */
#ifndef HUBGATE_REQLOG_H
#define HUBGATE_REQLOG_H

#include <h2o.h>

struct st_hg_server_t;

void hg_reqlog_register(h2o_pathconf_t *pathconf, struct st_hg_server_t *server);

#endif
