/*
 * auth.c: verifying bearer tokens: header syntax, cache, JWS parse, key choice
 * by iss/kid/alg, signature, registered claims, principal. Also the key
 * snapshot that JWKS refreshes replace. See auth.h; configuration parsing is
 * in auth_conf.c.
 */
#include "auth_int.h"
#include "tokencache.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct st_hg_auth_cache_t {
    const hg_auth_t *auth;
    hg_tokencache_t *tc;
};

/* ---- lifecycle and key snapshots ---- */

static hg_auth_snapshot_t *snapshot_new(size_t num_sets)
{
    hg_auth_snapshot_t *s = hg_xcalloc(1, sizeof(*s) + num_sets * sizeof(s->sets[0]));
    s->refcnt = 1;
    s->num_sets = num_sets;
    return s;
}

static void snapshot_release(hg_auth_snapshot_t *s)
{
    if (s == NULL || __atomic_sub_fetch(&s->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i != s->num_sets; ++i)
        hg_keyset_release(s->sets[i]);
    free(s);
}

static hg_auth_snapshot_t *snapshot_acquire(hg_auth_t *a)
{
    pthread_mutex_lock(&a->mutex);
    hg_auth_snapshot_t *s = a->snapshot;
    __atomic_fetch_add(&s->refcnt, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&a->mutex);
    return s;
}

void hg_auth_publish(void *ctx, size_t index, hg_keyset_t *keys)
{
    hg_auth_t *a = ctx;
    pthread_mutex_lock(&a->mutex);
    hg_auth_snapshot_t *old = a->snapshot, *s = snapshot_new(old->num_sets);
    for (size_t i = 0; i != s->num_sets; ++i)
        s->sets[i] = i == index ? keys : old->sets[i] != NULL ? hg_keyset_retain(old->sets[i]) : NULL;
    a->snapshot = s;
    __atomic_fetch_add(&a->generation, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&a->mutex);
    snapshot_release(old);
}

hg_auth_t *hg_auth_new(const json_t *auth, const char *basedir, hg_violations_t *errors)
{
    hg_auth_t *a = hg_xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->mutex, NULL);
    if (hg_auth_configure(a, auth, basedir, errors) != 0) {
        hg_auth_free(a);
        return NULL;
    }
    a->snapshot = snapshot_new(a->fetcher != NULL ? hg_jwks_fetcher_count(a->fetcher) : 0);
    a->generation = 1;
    return a;
}

int hg_auth_start(hg_auth_t *a)
{
    return a->fetcher != NULL ? hg_jwks_fetcher_start(a->fetcher) : 0;
}

int hg_auth_ready(const hg_auth_t *a)
{
    return a->fetcher == NULL || hg_jwks_fetcher_ready(a->fetcher);
}

void hg_auth_jwks_stats(hg_auth_t *a, uint64_t *attempts, uint64_t *failures)
{
    *attempts = *failures = 0;
    for (size_t i = 0; a->fetcher != NULL && i != hg_jwks_fetcher_count(a->fetcher); ++i) {
        hg_jwks_stats_t st;
        hg_jwks_fetcher_stats(a->fetcher, i, &st);
        *attempts += st.attempts;
        *failures += st.failures;
    }
}

static void free_strings(char **list, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        free(list[i]);
    free(list);
}

void hg_auth_free(hg_auth_t *a)
{
    if (a == NULL)
        return;
    hg_jwks_fetcher_free(a->fetcher); /* first: it publishes into a */
    for (size_t i = 0; i != a->num_issuers; ++i) {
        hg_auth_issuer_t *is = &a->issuers[i];
        free(is->iss);
        free_strings(is->audiences, is->num_audiences);
        hg_keyset_release(is->fixed);
        free(is->urls);
    }
    free(a->issuers);
    free_strings(a->scope_claims, a->num_scope_claims);
    free_strings(a->client_claims, a->num_client_claims);
    free(a->subject_claim);
    snapshot_release(a->snapshot);
    pthread_mutex_destroy(&a->mutex);
    free(a);
}

hg_auth_cache_t *hg_auth_cache_new(const hg_auth_t *a)
{
    hg_auth_cache_t *c = hg_xcalloc(1, sizeof(*c));
    c->auth = a;
    c->tc = hg_tokencache_new(a->cache_entries);
    return c;
}

void hg_auth_cache_free(hg_auth_cache_t *c)
{
    if (c == NULL)
        return;
    hg_tokencache_free(c->tc);
    free(c);
}

void hg_auth_cache_stats(const hg_auth_cache_t *c, uint64_t *hits, uint64_t *misses)
{
    hg_tokencache_stats(c->tc, hits, misses);
}

/* ---- verification ---- */

__attribute__((format(printf, 2, 3))) static int refuse(hg_auth_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->description, sizeof(err->description), fmt, ap);
    va_end(ap);
    return -1;
}

static const hg_auth_issuer_t *find_issuer(const hg_auth_t *a, const char *iss)
{
    for (size_t i = 0; i != a->num_issuers; ++i)
        if (strcmp(a->issuers[i].iss, iss) == 0)
            return &a->issuers[i];
    return NULL;
}

typedef struct st_key_search_t {
    int kid_seen; /* a key carries the token's kid */
    int tried;    /* a key pinned to the token's alg was tried */
    int verified;
} key_search_t;

/*
 * Tries the keys of one set: with want_kid, those whose kid equals the token's;
 * without, those with no kid (token with an unknown kid) or any kid (token
 * without kid). Only keys pinned to the token's alg are ever verified with.
 */
static void search_set(const hg_keyset_t *ks, const hg_jws_t *jws, int by_kid, key_search_t *ks_out)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i != ks->count && !ks_out->verified; ++i) {
        const hg_jwk_t *key = ks->keys[i];
        if (by_kid) {
            if (key->kid == NULL || strcmp(key->kid, jws->kid) != 0)
                continue;
            ks_out->kid_seen = 1;
        } else if (jws->kid != NULL && key->kid != NULL) {
            continue;
        }
        if (key->alg != jws->alg)
            continue;
        ks_out->tried = 1;
        ks_out->verified = hg_jws_verify(jws, key);
    }
}

static void search_issuer(const hg_auth_issuer_t *is, const hg_auth_snapshot_t *snap, const hg_jws_t *jws, int by_kid,
                          key_search_t *out)
{
    search_set(is->fixed, jws, by_kid, out);
    for (size_t i = 0; i != is->num_urls && !out->verified; ++i)
        search_set(snap->sets[is->urls[i]], jws, by_kid, out);
}

static int verify_signature(hg_auth_t *a, const hg_auth_issuer_t *is, const hg_jws_t *jws, hg_auth_error_t *err)
{
    key_search_t found = {0, 0, 0};
    hg_auth_snapshot_t *snap = is->num_urls != 0 ? snapshot_acquire(a) : NULL;
    if (jws->kid != NULL)
        search_issuer(is, snap, jws, 1, &found);
    if (!found.verified && !found.kid_seen)
        search_issuer(is, snap, jws, 0, &found);
    snapshot_release(snap);
    if (found.verified)
        return 0;

    char shown[48];
    if (jws->kid != NULL && !found.kid_seen) {
        for (size_t i = 0; i != is->num_urls; ++i)
            hg_jwks_fetcher_request(a->fetcher, is->urls[i]);
        hg_jws_sanitize(jws->kid, shown, sizeof(shown));
        return refuse(err, "unknown key id '%s'", shown);
    }
    if (!found.tried) {
        if (jws->kid == NULL)
            return refuse(err, "algorithm %s not allowed for this issuer", hg_jws_alg_name(jws->alg));
        hg_jws_sanitize(jws->kid, shown, sizeof(shown));
        return refuse(err, "algorithm %s not allowed for key %s", hg_jws_alg_name(jws->alg), shown);
    }
    return refuse(err, "signature invalid");
}

/* a NumericDate claim: 1 and *v when present, 0 when absent, -1 (refused) when not a number */
static int numeric_claim(const json_t *payload, const char *name, double *v, hg_auth_error_t *err)
{
    const json_t *c = json_object_get(payload, name);
    if (c == NULL)
        return 0;
    if (!json_is_number(c))
        return refuse(err, "malformed claim %s", name);
    *v = json_number_value(c);
    return 1;
}

static int64_t to_int64(double v)
{
    if (v >= 9.2e18)
        return INT64_MAX;
    if (v <= -9.2e18)
        return INT64_MIN;
    return (int64_t)v;
}

static int check_audience(const hg_auth_issuer_t *is, const json_t *payload, hg_auth_error_t *err)
{
    if (is->num_audiences == 0)
        return 0;
    const json_t *aud = json_object_get(payload, "aud"), *item;
    if (aud == NULL)
        return refuse(err, "aud claim missing");
    size_t n = json_is_array(aud) ? json_array_size(aud) : 1;
    for (size_t i = 0; i != n; ++i) {
        item = json_is_array(aud) ? json_array_get(aud, i) : aud;
        if (!json_is_string(item))
            return refuse(err, "malformed claim aud");
        for (size_t j = 0; j != is->num_audiences; ++j)
            if (strcmp(json_string_value(item), is->audiences[j]) == 0)
                return 0;
    }
    return refuse(err, "audience not accepted");
}

/* adds the first present scope claim's scopes; -1 when it is neither a string nor an array of strings */
static int add_scopes(const hg_auth_t *a, const json_t *payload, hg_principal_t *p, hg_auth_error_t *err)
{
    for (size_t i = 0; i != a->num_scope_claims; ++i) {
        const json_t *v = json_object_get(payload, a->scope_claims[i]), *item;
        if (v == NULL || json_is_null(v))
            continue;
        if (json_is_string(v)) {
            const char *s = json_string_value(v), *end = s + json_string_length(v);
            while (s < end) {
                const char *sp = memchr(s, ' ', (size_t)(end - s));
                size_t len = sp != NULL ? (size_t)(sp - s) : (size_t)(end - s);
                hg_principal_add_scope(p, s, len);
                s += len + 1;
            }
        } else if (json_is_array(v)) {
            size_t j;
            json_array_foreach(v, j, item)
            {
                if (!json_is_string(item))
                    return refuse(err, "malformed claim %s", a->scope_claims[i]);
                hg_principal_add_scope(p, json_string_value(item), json_string_length(item));
            }
        } else {
            return refuse(err, "malformed claim %s", a->scope_claims[i]);
        }
        break;
    }
    hg_principal_seal(p);
    return 0;
}

static const char *string_claim(const json_t *payload, const char *name)
{
    const json_t *v = json_object_get(payload, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * The registered claims (RFC 7519 section 4.1) and the principal. valid_from and
 * valid_until get the span of `now` values for which this token would pass.
 */
static hg_principal_t *check_claims(const hg_auth_t *a, const hg_auth_issuer_t *is, const json_t *payload, int64_t now,
                                    int64_t *valid_from, int64_t *valid_until, hg_auth_error_t *err)
{
    double exp = 0, nbf = 0, iat = 0, t = (double)now, leeway = (double)a->leeway_s;
    int has_exp, has_nbf, has_iat;
    if ((has_exp = numeric_claim(payload, "exp", &exp, err)) < 0 || (has_nbf = numeric_claim(payload, "nbf", &nbf, err)) < 0 ||
        (has_iat = numeric_claim(payload, "iat", &iat, err)) < 0)
        return NULL;
    if (!has_exp && a->require_exp)
        return refuse(err, "exp claim missing"), NULL;
    if (has_exp && t >= exp + leeway)
        return refuse(err, "token expired"), NULL;
    if (has_nbf && t + leeway < nbf)
        return refuse(err, "token not yet valid"), NULL;
    if (has_iat && t + leeway < iat)
        return refuse(err, "token issued in the future"), NULL;
    if (check_audience(is, payload, err) != 0)
        return NULL;

    const char *client = NULL;
    for (size_t i = 0; i != a->num_client_claims && client == NULL; ++i)
        client = string_claim(payload, a->client_claims[i]);
    hg_principal_t *p =
        hg_principal_new(is->iss, string_claim(payload, a->subject_claim), client, has_exp ? to_int64(floor(exp)) : 0);
    if (add_scopes(a, payload, p, err) != 0) {
        hg_principal_release(p);
        return NULL;
    }
    double from = -9.2e18, until = t + HG_AUTH_CACHE_MAX_S;
    if (has_nbf)
        from = nbf - leeway;
    if (has_iat && iat - leeway > from)
        from = iat - leeway;
    if (has_exp && exp + leeway < until)
        until = exp + leeway;
    *valid_from = to_int64(ceil(from));
    *valid_until = to_int64(ceil(until));
    return p;
}

/* splits "Bearer <token>"; returns 0 with the token, or -1 with err filled */
static int bearer_token(const hg_auth_t *a, const char *authz, size_t len, const char **token, size_t *tlen, hg_auth_error_t *err)
{
    if (authz == NULL || len == 0)
        return refuse(err, "missing bearer token");
    if (len < 6 || strncasecmp(authz, "Bearer", 6) != 0 || (len > 6 && authz[6] != ' '))
        return refuse(err, "authorization scheme is not Bearer");
    err->token_present = 1;
    if (len <= 7)
        return refuse(err, "empty bearer token");
    *token = authz + 7;
    *tlen = len - 7;
    for (size_t i = 0; i != *tlen; ++i)
        if ((*token)[i] == ' ' || (*token)[i] == '\t')
            return refuse(err, "malformed authorization header");
    if (*tlen > a->max_token_bytes)
        return refuse(err, "token too large");
    return 0;
}

int hg_auth_verify(hg_auth_t *a, hg_auth_cache_t *cache, const char *authz, size_t len, int64_t now, hg_principal_t **out,
                   hg_auth_error_t *err)
{
    const char *token = NULL;
    size_t tlen = 0;
    err->token_present = 0;
    err->description[0] = '\0';
    *out = NULL;
    if (bearer_token(a, authz, len, &token, &tlen, err) != 0)
        return -1;

    unsigned char key[HG_TOKENCACHE_KEY_SIZE];
    uint64_t generation = __atomic_load_n(&a->generation, __ATOMIC_ACQUIRE);
    hg_tokencache_t *tc = cache != NULL && cache->auth == a ? cache->tc : NULL;
    if (tc != NULL && a->cache_entries != 0) {
        hg_tokencache_key(tc, token, tlen, key);
        hg_principal_t *hit = hg_tokencache_get(tc, key, now, generation);
        if (hit != NULL) {
            *out = hg_principal_retain(hit);
            return 0;
        }
    } else {
        tc = NULL;
    }

    hg_jws_t jws;
    if (hg_jws_parse(token, tlen, &jws, err->description, sizeof(err->description)) != 0)
        return -1;
    int ret = -1;
    const char *iss = string_claim(jws.payload, "iss");
    const hg_auth_issuer_t *is = iss != NULL ? find_issuer(a, iss) : NULL;
    if (is == NULL) {
        refuse(err, json_object_get(jws.payload, "iss") == NULL ? "iss claim missing" : "issuer not accepted");
        goto Exit;
    }
    if (verify_signature(a, is, &jws, err) != 0)
        goto Exit;
    int64_t valid_from = 0, valid_until = 0;
    if ((*out = check_claims(a, is, jws.payload, now, &valid_from, &valid_until, err)) == NULL)
        goto Exit;
    if (tc != NULL)
        hg_tokencache_put(tc, key, *out, valid_from, valid_until, generation);
    ret = 0;
Exit:
    hg_jws_dispose(&jws);
    return ret;
}
