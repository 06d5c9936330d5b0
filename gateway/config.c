/*
 * config.c: load, check and build hubgate's configuration. See config.h.
 *
 * Defaults for the keys read here live in one place, the `get_*` calls of
 * build(); sections owned by other modules (auth, upstream.credential,
 * audit) are handed to those modules, which apply their own defaults and
 * report problems under the same pointers.
 */
#include "config.h"
#include "util.h"
#include "yamljson.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const char hg_config_schema_text[]; /* generated from schemas/hubgate-config.schema.json */

static const char REDACTED[] = "<redacted>";

static int64_t get_int(const json_t *obj, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static const char *get_str(const json_t *obj, const char *key, const char *dflt)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_null(v))
        return NULL;
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? hg_xstrdup(s) : NULL;
}

static char *resolve(const hg_config_t *c, const char *path)
{
    return path != NULL ? hg_path_join(c->basedir, path) : NULL;
}

/* splits "host:port" or "[v6]:port" */
static int parse_address(const char *addr, char **host, uint16_t *port)
{
    const char *colon;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        *host = hg_xstrndup(addr + 1, (size_t)(close - addr - 1));
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || colon == addr)
            return -1;
        *host = hg_xstrndup(addr, (size_t)(colon - addr));
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || p < 0 || p > 65535) {
        free(*host);
        *host = NULL;
        return -1;
    }
    *port = (uint16_t)p;
    return 0;
}

static char *read_secret(const char *path, const char *pointer, const char *what, hg_violations_t *errors)
{
    size_t len;
    char *s = hg_read_file(path, &len);
    if (s == NULL) {
        hg_violations_add(errors, pointer, "file", "cannot read %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    while (len != 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    if (len == 0 || strcspn(s, "\r\n") != len) {
        hg_violations_add(errors, pointer, "file", "%s %s must hold one non-empty line", what, path);
        free(s);
        return NULL;
    }
    return s;
}

static void build_listeners(hg_config_t *c, const json_t *list, hg_violations_t *errors)
{
    c->num_listeners = json_array_size(list);
    c->listeners = hg_xcalloc(c->num_listeners, sizeof(*c->listeners));
    for (size_t i = 0; i != c->num_listeners; ++i) {
        const json_t *item = json_array_get(list, i);
        hg_listener_conf_t *l = &c->listeners[i];
        char ptr[64];
        snprintf(ptr, sizeof(ptr), "/listen/%zu", i);
        const char *addr = json_is_string(item) ? json_string_value(item) : get_str(item, "address", "");
        l->address = hg_xstrdup(addr);
        if (parse_address(addr, &l->host, &l->port) != 0)
            hg_violations_add(errors, ptr, "listen", "\"%s\" is not of the form host:port", addr);
        const json_t *tls = json_object_get(item, "tls");
        if (tls != NULL) {
            l->tls_certificate = resolve(c, get_str(tls, "certificate", NULL));
            l->tls_key = resolve(c, get_str(tls, "key", NULL));
            char at[96];
            snprintf(at, sizeof(at), "%s/tls/certificate", ptr);
            if (access(l->tls_certificate, R_OK) != 0)
                hg_violations_add(errors, at, "file", "cannot read %s: %s", l->tls_certificate, strerror(errno));
            snprintf(at, sizeof(at), "%s/tls/key", ptr);
            if (access(l->tls_key, R_OK) != 0)
                hg_violations_add(errors, at, "file", "cannot read %s: %s", l->tls_key, strerror(errno));
        }
    }
}

static void build_route(hg_config_t *c, hg_route_t *r, const json_t *item, size_t index, hg_violations_t *errors)
{
    char ptr[96];
    r->name = hg_xstrdup(get_str(item, "name", ""));
    r->method = hg_xstrdup(get_str(item, "method", "POST"));
    snprintf(ptr, sizeof(ptr), "/routes/%zu/path", index);
    r->path = hg_template_compile(get_str(item, "path", ""), ptr, errors);
    r->from_param = r->path != NULL ? hg_template_param_index(r->path, "fromObjectType") : -1;
    r->to_param = r->path != NULL ? hg_template_param_index(r->path, "toObjectType") : -1;
    for (size_t j = 0; j != index; ++j) {
        if (strcmp(c->routes[j].name, r->name) == 0) {
            snprintf(ptr, sizeof(ptr), "/routes/%zu/name", index);
            hg_violations_add(errors, ptr, "unique", "route name \"%s\" is already used by /routes/%zu", r->name, j);
        }
    }

    const json_t *scopes = json_object_get(item, "scopes_any");
    if (scopes != NULL) {
        snprintf(ptr, sizeof(ptr), "/routes/%zu/scopes_any", index);
        r->scopes = hg_scopeset_new(scopes, ptr, errors);
    }

    const char *schema = get_str(item, "schema", NULL);
    int shipped_schema = 0;
    if (schema != NULL) {
        char *file = resolve(c, schema);
        hg_violations_t serr;
        hg_violations_init(&serr, 10);
        r->schema = hg_body_schema_load(file, &shipped_schema, &serr);
        snprintf(ptr, sizeof(ptr), "/routes/%zu/schema", index);
        for (size_t k = 0; k != serr.count; ++k)
            hg_violations_add(errors, ptr, "schema", "%s%s%s: %s", file, serr.items[k].in[0] != '\0' ? "#" : "", serr.items[k].in,
                              serr.items[k].message);
        hg_violations_clear(&serr);
        free(file);
    }

    const char *normalize = get_str(item, "normalize", "associations");
    r->body.mode = strcmp(normalize, "associations") == 0 ? HG_NORMALIZE_ASSOCIATIONS : HG_NORMALIZE_NONE;
    r->body.schema = r->schema;
    r->body.reject_unknown = strcmp(get_str(item, "unknown_fields", "drop"), "reject") == 0;
    r->body.max_inputs = (size_t)get_int(item, "max_inputs", 2000);
    r->body.max_depth = c->limits.max_json_depth;
    r->body.fast = r->body.mode == HG_NORMALIZE_ASSOCIATIONS && shipped_schema; /* assocscan.h */
    if (r->body.mode == HG_NORMALIZE_ASSOCIATIONS && (r->from_param < 0 || r->to_param < 0)) {
        snprintf(ptr, sizeof(ptr), "/routes/%zu/normalize", index);
        hg_violations_add(errors, ptr, "normalize",
                          "normalize: associations needs {fromObjectType} and {toObjectType} in the route's path");
    }
}

static void build(hg_config_t *c, hg_violations_t *errors)
{
    const json_t *doc = c->doc;
    build_listeners(c, json_object_get(doc, "listen"), errors);

    const json_t *workers = json_object_get(doc, "workers");
    if (json_is_integer(workers)) {
        c->workers = (size_t)json_integer_value(workers);
    } else {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = n > 0 ? (size_t)n : 1;
    }
    c->shutdown_timeout_ms = (uint64_t)get_int(doc, "shutdown_timeout_ms", 10000);

    const json_t *up = json_object_get(doc, "upstream");
    c->upstream.url = hg_xstrdup(get_str(up, "url", "https://api.hubapi.com"));
    c->upstream.ca_file = resolve(c, get_str(up, "ca_file", NULL));
    c->upstream.connect_timeout_ms = (uint64_t)get_int(up, "connect_timeout_ms", 5000);
    c->upstream.io_timeout_ms = (uint64_t)get_int(up, "io_timeout_ms", 30000);
    c->upstream.keepalive_timeout_ms = (uint64_t)get_int(up, "keepalive_timeout_ms", 2000);
    if (strncmp(c->upstream.url, "https://", 8) != 0 && strncmp(c->upstream.url, "http://", 7) != 0)
        hg_violations_add(errors, "/upstream/url", "url", "must be an http:// or https:// URL");
    if (c->upstream.ca_file != NULL && access(c->upstream.ca_file, R_OK) != 0)
        hg_violations_add(errors, "/upstream/ca_file", "file", "cannot read %s: %s", c->upstream.ca_file, strerror(errno));
    const json_t *cred = json_object_get(up, "credential");
    json_t *empty = cred == NULL ? json_object() : NULL;
    c->upstream.credential = hg_credential_new(cred != NULL ? cred : empty, c->basedir, errors);
    json_decref(empty);

    c->auth = hg_auth_new(json_object_get(doc, "auth"), c->basedir, errors);

    const json_t *limits = json_object_get(doc, "limits");
    c->limits.max_body_bytes = (size_t)get_int(limits, "max_body_bytes", 1048576);
    c->limits.max_json_depth = (size_t)get_int(limits, "max_json_depth", 32);

    const json_t *routes = json_object_get(doc, "routes");
    c->num_routes = json_array_size(routes);
    c->routes = hg_xcalloc(c->num_routes, sizeof(*c->routes));
    for (size_t i = 0; i != c->num_routes; ++i)
        build_route(c, &c->routes[i], json_array_get(routes, i), i, errors);
    c->unmatched_forward = strcmp(get_str(doc, "unmatched", "deny"), "forward") == 0;

    c->audit = json_object_get(doc, "audit");

    const json_t *admin = json_object_get(doc, "admin");
    c->admin.listen = dup_or_null(admin != NULL ? get_str(admin, "listen", "127.0.0.1:9901") : "127.0.0.1:9901");
    const char *token_file = get_str(admin, "token_file", NULL);
    if (token_file != NULL) {
        char *path = resolve(c, token_file);
        c->admin.token = read_secret(path, "/admin/token_file", "admin token file", errors);
        free(path);
    }
    if (c->admin.listen != NULL) {
        char *host = NULL;
        uint16_t port;
        if (parse_address(c->admin.listen, &host, &port) != 0)
            hg_violations_add(errors, "/admin/listen", "listen", "\"%s\" is not of the form host:port", c->admin.listen);
        free(host);
    }

    const json_t *log = json_object_get(doc, "log");
    const char *level = get_str(log, "level", "info");
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    c->log.level = HG_LOG_INFO;
    for (int i = 0; i != 4; ++i)
        if (strcmp(level, levels[i]) == 0)
            c->log.level = i;
    const char *access_log = get_str(log, "access", NULL);
    c->log.access = access_log == NULL || strcmp(access_log, "-") == 0 ? dup_or_null(access_log) : resolve(c, access_log);
}

/* rewrites every problem's message into "FILE:LINE: /pointer: message" */
static void locate(hg_violations_t *errors, size_t from, const char *path, const hg_yaml_lines_t *lines, int fallback_line)
{
    for (size_t i = from; i != errors->count; ++i) {
        hg_violation_t *v = &errors->items[i];
        int line = lines != NULL ? hg_yaml_line(lines, v->in) : 0;
        if (line == 0)
            line = fallback_line > 0 ? fallback_line : 1;
        char *msg = hg_xasprintf("%s:%d: %s: %s", path, line, v->in[0] != '\0' ? v->in : "/", v->message);
        free(v->message);
        v->message = msg;
    }
}

static hg_schema_t *config_schema(hg_violations_t *errors)
{
    json_error_t jerr;
    json_t *doc = json_loads(hg_config_schema_text, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        hg_violations_add(errors, "", "schema", "built-in configuration schema: %s", jerr.text);
        return NULL;
    }
    hg_schema_t *s = hg_schema_compile(doc, "hubgate-config.schema.json", errors);
    json_decref(doc);
    return s;
}

hg_config_t *hg_config_load(const char *path, hg_violations_t *errors)
{
    size_t first = errors->count;
    hg_yaml_lines_t *lines = NULL;
    int err_line = 0;
    json_t *doc = hg_yaml_load_file(path, &lines, &err_line, errors);
    if (doc == NULL) {
        if (errors->count == first)
            hg_violations_add(errors, "", "yaml", "cannot read the configuration");
        locate(errors, first, path, NULL, err_line);
        hg_yaml_lines_free(lines);
        return NULL;
    }

    hg_schema_t *schema = config_schema(errors);
    if (schema == NULL || hg_schema_validate(schema, doc, errors) != 0) {
        hg_schema_free(schema);
        locate(errors, first, path, lines, 0);
        hg_yaml_lines_free(lines);
        json_decref(doc);
        return NULL;
    }
    hg_schema_free(schema);

    hg_config_t *c = hg_xcalloc(1, sizeof(*c));
    c->refcnt = 1;
    c->path = hg_xstrdup(path);
    char *dir = hg_xstrdup(path);
    c->basedir = hg_xstrdup(dirname(dir));
    free(dir);
    c->doc = doc;
    build(c, errors);
    if (errors->count != first) {
        locate(errors, first, path, lines, 0);
        hg_yaml_lines_free(lines);
        hg_config_release(c);
        return NULL;
    }
    hg_yaml_lines_free(lines);
    return c;
}

hg_config_t *hg_config_retain(hg_config_t *c)
{
    __atomic_add_fetch(&c->refcnt, 1, __ATOMIC_RELAXED);
    return c;
}

void hg_config_release(hg_config_t *c)
{
    if (c == NULL || __atomic_sub_fetch(&c->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i != c->num_listeners; ++i) {
        hg_listener_conf_t *l = &c->listeners[i];
        free(l->address);
        free(l->host);
        free(l->tls_certificate);
        free(l->tls_key);
    }
    free(c->listeners);
    for (size_t i = 0; i != c->num_routes; ++i) {
        hg_route_t *r = &c->routes[i];
        free(r->name);
        free(r->method);
        hg_template_free(r->path);
        hg_scopeset_free(r->scopes);
        hg_schema_free(r->schema);
    }
    free(c->routes);
    free(c->upstream.url);
    free(c->upstream.ca_file);
    hg_credential_free(c->upstream.credential);
    hg_auth_free(c->auth);
    free(c->admin.listen);
    if (c->admin.token != NULL) {
        explicit_bzero(c->admin.token, strlen(c->admin.token));
        free(c->admin.token);
    }
    free(c->log.access);
    json_decref(c->doc);
    free(c->path);
    free(c->basedir);
    free(c);
}

const hg_route_t *hg_config_match(const hg_config_t *c, const char *method, size_t method_len, const char *path, size_t path_len,
                                  hg_template_match_t *m)
{
    for (size_t i = 0; i != c->num_routes; ++i) {
        const hg_route_t *r = &c->routes[i];
        if (strlen(r->method) != method_len || memcmp(r->method, method, method_len) != 0)
            continue;
        if (r->path != NULL && hg_template_match(r->path, path, path_len, m))
            return r;
    }
    return NULL;
}

/* keys whose values are secrets or name files that hold them (token_env only names a variable) */
static int is_secret_key(const char *key)
{
    static const char *const secrets[] = {"token_file", "secret_file", "key", "secret", "token", NULL};
    for (const char *const *s = secrets; *s != NULL; ++s)
        if (strcmp(key, *s) == 0)
            return 1;
    return 0;
}

static json_t *redact(const json_t *v)
{
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            if (is_secret_key(key) && !json_is_null(child))
                json_object_set_new(out, key, json_string(REDACTED));
            else
                json_object_set_new(out, key, redact(child));
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) json_array_append_new(out, redact(child));
        return out;
    }
    return json_deep_copy(v);
}

json_t *hg_config_redacted(const hg_config_t *c)
{
    json_t *out = redact(c->doc);
    json_object_set_new(out, "workers", json_integer((json_int_t)c->workers));
    json_object_set_new(out, "shutdown_timeout_ms", json_integer((json_int_t)c->shutdown_timeout_ms));
    json_t *limits = json_pack("{s:I,s:I}", "max_body_bytes", (json_int_t)c->limits.max_body_bytes, "max_json_depth",
                               (json_int_t)c->limits.max_json_depth);
    json_object_set_new(out, "limits", limits);
    json_object_set_new(out, "unmatched", json_string(c->unmatched_forward ? "forward" : "deny"));
    return out;
}

char *hg_config_audit_db(const char *config_path, char *err, size_t errlen)
{
    hg_violations_t errors;
    hg_violations_init(&errors, 1);
    json_t *doc = hg_yaml_load_file(config_path, NULL, NULL, &errors);
    if (doc == NULL) {
        snprintf(err, errlen, "%s: %s", config_path, errors.count != 0 ? errors.items[0].message : "cannot read");
        hg_violations_clear(&errors);
        return NULL;
    }
    const json_t *audit = json_object_get(doc, "audit");
    const json_t *sqlite = json_object_get(audit, "sqlite");
    char *out = NULL;
    if (json_is_null(sqlite)) {
        snprintf(err, errlen, "%s: the configuration has no SQLite audit store (audit.sqlite is null)", config_path);
    } else {
        const char *file = json_is_string(sqlite) ? json_string_value(sqlite) : "audit.db";
        char *dir = hg_xstrdup(config_path);
        out = hg_path_join(dirname(dir), file);
        free(dir);
    }
    json_decref(doc);
    return out;
}
