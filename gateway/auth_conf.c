/*
 * auth_conf.c: builds an hg_auth_t from the configuration's /auth object:
 * defaults, value checks with JSON pointers, key files read and parsed once.
 * The configuration schema rejects unknown keys before this runs; here every
 * key that is read is checked for its type and range, and every key file for
 * fitting its algorithm, so `hubgate -t` reports each problem where it is.
 */
#include "auth_int.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct st_conf_t {
    hg_violations_t *errors;
    hg_jptr_t ptr;
    const char *basedir;
    int failed;
} conf_t;

/* reports a problem at the current pointer plus key (NULL: the current pointer itself) */
__attribute__((format(printf, 4, 5))) static void problem(conf_t *c, const char *key, const char *code, const char *fmt, ...)
{
    size_t at = c->ptr.len;
    if (key != NULL)
        hg_jptr_push_key(&c->ptr, key);
    va_list ap;
    va_start(ap, fmt);
    char *msg;
    if (vasprintf(&msg, fmt, ap) < 0)
        abort();
    va_end(ap);
    hg_violations_add(c->errors, c->ptr.buf, code, "%s", msg);
    free(msg);
    hg_jptr_truncate(&c->ptr, at);
    c->failed = 1;
}

static int64_t get_int(conf_t *c, const json_t *obj, const char *key, int64_t def, int64_t min, int64_t max)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return def;
    if (!json_is_integer(v)) {
        problem(c, key, "type", "%s must be an integer", key);
        return def;
    }
    json_int_t n = json_integer_value(v);
    if (n < min) {
        problem(c, key, "minimum", "%s must be at least %lld", key, (long long)min);
        return def;
    }
    if (n > max) {
        problem(c, key, "maximum", "%s must be at most %lld", key, (long long)max);
        return def;
    }
    return n;
}

/* a non-empty string member; NULL (reported when required) otherwise */
static const char *get_string(conf_t *c, const json_t *obj, const char *key, int required)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            problem(c, key, "required", "%s is required", key);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        problem(c, key, "type", "%s must be a non-empty string", key);
        return NULL;
    }
    return json_string_value(v);
}

/* an array of non-empty strings into a new heap array; def (a NULL-terminated list) when absent */
static char **get_strings(conf_t *c, const json_t *obj, const char *key, const char *const *def, size_t *count)
{
    const json_t *v = json_object_get(obj, key), *item;
    size_t n = 0, i;
    char **out;
    if (v == NULL) {
        while (def != NULL && def[n] != NULL)
            ++n;
        out = hg_xcalloc(n + 1, sizeof(*out));
        for (i = 0; i != n; ++i)
            out[i] = hg_xstrdup(def[i]);
        *count = n;
        return out;
    }
    *count = 0;
    out = hg_xcalloc(json_is_array(v) ? json_array_size(v) + 1 : 1, sizeof(*out));
    if (!json_is_array(v)) {
        problem(c, key, "type", "%s must be an array of strings", key);
        return out;
    }
    size_t at = c->ptr.len;
    hg_jptr_push_key(&c->ptr, key);
    json_array_foreach(v, i, item)
    {
        if (json_is_string(item) && json_string_length(item) != 0) {
            out[(*count)++] = hg_xstrdup(json_string_value(item));
        } else {
            char idx[24];
            snprintf(idx, sizeof(idx), "%zu", i);
            problem(c, idx, "type", "%s entries must be non-empty strings", key);
        }
    }
    hg_jptr_truncate(&c->ptr, at);
    return out;
}

static void free_strings(char **list, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        free(list[i]);
    free(list);
}

/* algs of a JWKS entry as a mask; 0 after a problem */
static unsigned get_algs(conf_t *c, const json_t *entry, int from_url)
{
    size_t n;
    char **names = get_strings(c, entry, "algs", NULL, &n);
    unsigned mask = 0;
    if (json_object_get(entry, "algs") == NULL)
        problem(c, "algs", "required", "algs is required with jwks_file and jwks_url");
    else if (n == 0 && json_is_array(json_object_get(entry, "algs")))
        problem(c, "algs", "minItems", "algs must name at least one algorithm");
    size_t at = hg_jptr_push_key(&c->ptr, "algs");
    for (size_t i = 0; i != n; ++i) {
        int a = hg_jws_alg_from_name(names[i]);
        char idx[24];
        snprintf(idx, sizeof(idx), "%zu", i);
        if (a < 0)
            problem(c, idx, "enum", "unknown algorithm \"%s\" (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, EdDSA)",
                    names[i]);
        else if (from_url && hg_jws_alg_family(a) == HG_JWS_HMAC)
            problem(c, idx, "enum", "%s keys are secrets and cannot come from a jwks_url", names[i]);
        else
            mask |= HG_ALG_BIT(a);
    }
    hg_jptr_truncate(&c->ptr, at);
    free_strings(names, n);
    return mask;
}

static const char *const key_sources[] = {"pem_file", "secret_file", "jwks_file", "jwks_url"};

/* one entry of an issuer's keys (c->ptr points at it) */
static void configure_key(conf_t *c, hg_auth_t *a, hg_auth_issuer_t *is, const json_t *entry)
{
    if (!json_is_object(entry)) {
        problem(c, NULL, "type", "a key must be an object");
        return;
    }
    const char *source = NULL;
    int sources = 0;
    for (size_t i = 0; i != sizeof(key_sources) / sizeof(key_sources[0]); ++i)
        if (json_object_get(entry, key_sources[i]) != NULL) {
            source = key_sources[i];
            ++sources;
        }
    if (sources != 1) {
        problem(c, NULL, "oneOf", "a key needs exactly one of pem_file, secret_file, jwks_file, jwks_url");
        return;
    }
    int is_jwks = strncmp(source, "jwks_", 5) == 0, is_url = strcmp(source, "jwks_url") == 0;
    static const char *const single_only[] = {"kid", "alg"}, *const jwks_only[] = {"algs"},
                             *const url_only[] = {"refresh_s", "ca_file"};
    for (size_t i = 0; i != 2; ++i)
        if (is_jwks && json_object_get(entry, single_only[i]) != NULL)
            problem(c, single_only[i], "additionalProperties", "%s is for pem_file and secret_file keys (a JWKS names its own)",
                    single_only[i]);
    if (!is_jwks && json_object_get(entry, jwks_only[0]) != NULL)
        problem(c, "algs", "additionalProperties", "algs is for jwks_file and jwks_url (use alg)");
    for (size_t i = 0; i != 2; ++i)
        if (!is_url && json_object_get(entry, url_only[i]) != NULL)
            problem(c, url_only[i], "additionalProperties", "%s is for jwks_url keys", url_only[i]);

    const char *file = get_string(c, entry, source, 1);
    char err[400];
    if (!is_jwks) {
        const char *kid = get_string(c, entry, "kid", 0), *algname = get_string(c, entry, "alg", 1);
        int alg = algname != NULL ? hg_jws_alg_from_name(algname) : -1;
        if (algname != NULL && alg < 0)
            problem(c, "alg", "enum",
                    "unknown algorithm \"%s\" (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, EdDSA)", algname);
        if (file == NULL || alg < 0)
            return;
        char *path = hg_path_join(c->basedir, file);
        int n = strcmp(source, "pem_file") == 0 ? hg_keyset_add_pem_file(is->fixed, kid, alg, path, err, sizeof(err))
                                                : hg_keyset_add_secret_file(is->fixed, kid, alg, path, err, sizeof(err));
        if (n < 0)
            problem(c, source, "invalid_key", "%s", err);
        free(path);
        return;
    }
    unsigned algs = get_algs(c, entry, is_url);
    if (file == NULL || algs == 0)
        return;
    if (!is_url) {
        char *path = hg_path_join(c->basedir, file);
        int n = hg_keyset_add_jwks_file(is->fixed, path, algs, HG_JWKS_STRICT, err, sizeof(err));
        if (n < 0)
            problem(c, source, "invalid_key", "%s", err);
        else if (n == 0)
            problem(c, source, "invalid_key", "%s: no key fits the algorithms in algs", path);
        free(path);
        return;
    }
    if (strncasecmp(file, "http://", 7) != 0 && strncasecmp(file, "https://", 8) != 0) {
        problem(c, source, "format", "jwks_url must be an http:// or https:// URL");
        return;
    }
    int64_t refresh_s = get_int(c, entry, "refresh_s", 300, 1, 86400);
    const char *ca = get_string(c, entry, "ca_file", 0);
    char *ca_path = ca != NULL ? hg_path_join(c->basedir, ca) : NULL;
    if (ca_path != NULL && access(ca_path, R_OK) != 0)
        problem(c, "ca_file", "invalid_key", "cannot read %s", ca_path);
    if (a->fetcher == NULL)
        a->fetcher = hg_jwks_fetcher_new(hg_auth_publish, a, HG_AUTH_REFETCH_MIN_MS);
    is->urls = hg_xrealloc(is->urls, (is->num_urls + 1) * sizeof(*is->urls));
    is->urls[is->num_urls++] = hg_jwks_fetcher_add(a->fetcher, file, ca_path, algs, (uint64_t)refresh_s * 1000);
    free(ca_path);
}

static void configure_issuer(conf_t *c, hg_auth_t *a, hg_auth_issuer_t *is, const json_t *obj)
{
    is->fixed = hg_keyset_new();
    if (!json_is_object(obj)) {
        problem(c, NULL, "type", "an issuer must be an object");
        return;
    }
    const char *iss = get_string(c, obj, "issuer", 1);
    is->iss = hg_xstrdup(iss != NULL ? iss : "");
    for (size_t i = 0; iss != NULL && &a->issuers[i] != is; ++i)
        if (strcmp(a->issuers[i].iss, iss) == 0)
            problem(c, "issuer", "uniqueItems", "issuer \"%s\" is configured twice", iss);
    static const char *const default_audiences[] = {"hubgate", NULL};
    is->audiences = get_strings(c, obj, "audiences", default_audiences, &is->num_audiences);

    const json_t *keys = json_object_get(obj, "keys"), *entry;
    if (keys == NULL) {
        problem(c, "keys", "required", "keys is required");
        return;
    }
    if (!json_is_array(keys) || json_array_size(keys) == 0) {
        problem(c, "keys", json_is_array(keys) ? "minItems" : "type", "keys must be an array of at least one key");
        return;
    }
    size_t at = hg_jptr_push_key(&c->ptr, "keys"), i;
    json_array_foreach(keys, i, entry)
    {
        size_t here = hg_jptr_push_index(&c->ptr, i);
        configure_key(c, a, is, entry);
        hg_jptr_truncate(&c->ptr, here);
    }
    hg_jptr_truncate(&c->ptr, at);
}

int hg_auth_configure(hg_auth_t *a, const json_t *auth, const char *basedir, hg_violations_t *errors)
{
    static const char *const default_scope_claims[] = {"scope", "scp", NULL}, *const default_client_claims[] = {"client_id", "azp",
                                                                                                                NULL};
    conf_t c = {.errors = errors, .basedir = basedir};
    hg_jptr_init(&c.ptr);
    hg_jptr_push_key(&c.ptr, "auth");
    if (!json_is_object(auth)) {
        problem(&c, NULL, auth == NULL ? "required" : "type", "auth must be an object");
        hg_jptr_dispose(&c.ptr);
        return -1;
    }
    a->leeway_s = get_int(&c, auth, "leeway_s", 30, 0, 3600);
    const json_t *require_exp = json_object_get(auth, "require_exp");
    a->require_exp = 1;
    if (require_exp != NULL && !json_is_boolean(require_exp))
        problem(&c, "require_exp", "type", "require_exp must be true or false");
    else if (require_exp != NULL)
        a->require_exp = json_is_true(require_exp);
    a->scope_claims = get_strings(&c, auth, "scope_claims", default_scope_claims, &a->num_scope_claims);
    const char *sub = get_string(&c, auth, "subject_claim", 0);
    a->subject_claim = hg_xstrdup(sub != NULL ? sub : "sub");
    a->client_claims = get_strings(&c, auth, "client_claims", default_client_claims, &a->num_client_claims);
    a->max_token_bytes = (size_t)get_int(&c, auth, "max_token_bytes", 8192, 256, 65536);
    a->cache_entries = (size_t)get_int(&c, auth, "cache_entries", 10000, 0, 1000000);

    const json_t *issuers = json_object_get(auth, "issuers"), *obj;
    if (issuers == NULL) {
        problem(&c, "issuers", "required", "issuers is required");
    } else if (!json_is_array(issuers) || json_array_size(issuers) == 0) {
        problem(&c, "issuers", json_is_array(issuers) ? "minItems" : "type", "issuers must be an array of at least one issuer");
    } else {
        a->issuers = hg_xcalloc(json_array_size(issuers), sizeof(*a->issuers));
        size_t at = hg_jptr_push_key(&c.ptr, "issuers"), i;
        json_array_foreach(issuers, i, obj)
        {
            size_t here = hg_jptr_push_index(&c.ptr, i);
            a->num_issuers = i + 1;
            configure_issuer(&c, a, &a->issuers[i], obj);
            hg_jptr_truncate(&c.ptr, here);
        }
        hg_jptr_truncate(&c.ptr, at);
    }
    hg_jptr_dispose(&c.ptr);
    return c.failed ? -1 : 0;
}
