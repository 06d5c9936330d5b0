/*
 * annotate.h: the response filter.
 *
 * Every answer leaves with X-Request-Id, X-Hubgate-Route (when a route
 * matched), X-Hubgate-Normalized (on routes with `normalize: associations`)
 * and Server-Timing. Answers that h2o writes itself (413 before our handler
 * ran, 400 for a malformed body, the proxy's 502 on connection or TLS
 * failures and its "I/O timeout", which becomes a 504) are text/plain: they
 * are replaced by HubSpot-shaped JSON. Upstream answers pass unchanged; their
 * body is scanned as it streams by (outcome.h), for the audit's view of
 * HubSpot's outcome (status, numErrors).
 */
#ifndef HUBGATE_ANNOTATE_H
#define HUBGATE_ANNOTATE_H

#include <h2o.h>

void hg_annotate_register(h2o_pathconf_t *pathconf);

#endif
