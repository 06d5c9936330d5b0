/*
 * config.h: hubgate's configuration, loaded from one YAML file.
 *
 * Loading runs in three passes, each stopping the load when it finds
 * problems: the YAML is read into JSON values (yamljson), the values are
 * checked against the configuration's own JSON Schema (compiled into the
 * binary, see schemas/hubgate-config.schema.json), then every section is
 * built into the structures the gateway serves from: route templates, request
 * schemas, scope sets, keys and the upstream credential. Every problem is
 * reported as `FILE:LINE: /json/pointer: what is wrong`.
 *
 * Lifetime: a hg_config_t is immutable once loaded and reference-counted.
 * SIGHUP loads a new one and swaps it in; a request keeps the configuration
 * it started with until it ends. The audit section is read once at start
 * (the audit writer lives as long as the process).
 */
#ifndef HUBGATE_CONFIG_H
#define HUBGATE_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "credential.h"
#include "jsonschema.h"
#include "normalize.h"
#include "route.h"
#include "scopes.h"
#include "violation.h"

enum { HG_LOG_ERROR, HG_LOG_WARN, HG_LOG_INFO, HG_LOG_DEBUG };

typedef struct st_hg_listener_conf_t {
    char *address; /* "host:port" as written */
    char *host;    /* numeric host or name, without brackets */
    uint16_t port;
    char *tls_certificate, *tls_key; /* NULL for cleartext; resolved paths */
} hg_listener_conf_t;

typedef struct st_hg_route_t {
    char *name;
    char *method;
    hg_template_t *path;
    int from_param, to_param; /* indexes of {fromObjectType} and {toObjectType}, or -1 */
    hg_scopeset_t *scopes;    /* NULL when the route lists none (then any valid token passes) */
    hg_schema_t *schema;      /* may be NULL */
    hg_body_rules_t body;
} hg_route_t;

typedef struct st_hg_config_t {
    size_t refcnt;
    char *path, *basedir;
    json_t *doc; /* the file as loaded (no defaults applied); /config shows it redacted */

    hg_listener_conf_t *listeners;
    size_t num_listeners;
    size_t workers;
    uint64_t shutdown_timeout_ms;

    struct {
        char *url;
        char *ca_file; /* NULL = system bundle */
        uint64_t connect_timeout_ms, io_timeout_ms, keepalive_timeout_ms;
        hg_credential_t *credential;
    } upstream;

    hg_auth_t *auth;
    hg_route_t *routes;
    size_t num_routes;
    int unmatched_forward;

    struct {
        size_t max_body_bytes, max_json_depth;
    } limits;

    const json_t *audit; /* the /audit object (borrowed from doc); NULL = defaults */

    struct {
        char *listen; /* NULL = no admin listener */
        char *token;  /* NULL = no token required */
    } admin;

    struct {
        int level;
        char *access; /* NULL, "-" or a path */
    } log;
} hg_config_t;

/*
 * Loads and checks the file. On failure returns NULL; every problem is added to `errors` with
 * in = the JSON pointer and message = the full line "FILE:LINE: /pointer: what is wrong".
 */
hg_config_t *hg_config_load(const char *path, hg_violations_t *errors);
hg_config_t *hg_config_retain(hg_config_t *c);
/* drops a reference; frees the configuration with the last one */
void hg_config_release(hg_config_t *c);

/* the route for this method and path (no query), or NULL; m gets the parameters */
const hg_route_t *hg_config_match(const hg_config_t *c, const char *method, size_t method_len, const char *path, size_t path_len,
                                  hg_template_match_t *m);

/* the running configuration as JSON with defaults applied and every secret replaced by "<redacted>" (new reference) */
json_t *hg_config_redacted(const hg_config_t *c);

/* the SQLite file of the audit store named by a configuration file, for `hubgate audit -c FILE` (new heap string or NULL) */
char *hg_config_audit_db(const char *config_path, char *err, size_t errlen);

#endif
