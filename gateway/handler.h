/*
 * handler.h: the pipeline handler, registered before h2o's reverse proxy.
 *
 * For each request it runs, in order: request id and header hygiene, path
 * hygiene, drain and audit-store checks, routing, token verification,
 * object types, scopes, content type and size, strict parsing,
 * normalization and schema validation. A refusal is answered at once in
 * HubSpot's error shape and nothing is forwarded; a request that passes is
 * rewritten (canonical path and body, upstream credential) and declined
 * (returns -1), so the proxy handler after it sends it upstream.
 */
#ifndef HUBGATE_HANDLER_H
#define HUBGATE_HANDLER_H

#include <h2o.h>

struct st_hg_server_t;

void hg_handler_register(h2o_pathconf_t *pathconf, struct st_hg_server_t *server);

#endif
