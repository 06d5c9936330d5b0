/*
 * auth.h: bearer token verification (CONTRACT.md section 3 `auth`, section 4
 * step 4).
 *
 * hg_auth_verify takes the Authorization header value and answers with a
 * principal (issuer, subject, client, scopes) or with the reason for a 401.
 * The issuer is chosen by the token's `iss`; its key by `kid` (keys without a
 * kid also serve tokens whose kid matches no key), else every key of the
 * issuer pinned to the token's `alg`. Each key is pinned to one algorithm: a
 * token whose alg differs is refused before any cryptography, `none` never
 * passes, and no key is ever empty. Then `exp` (required unless require_exp is
 * false), `nbf`, `iat` (not in the future) with leeway_s, and `aud` against the
 * issuer's audiences. `typ` may be absent, "JWT" or "at+jwt", compared without
 * case as RFC 7515 section 4.1.9 recommends for media types, with or without
 * the "application/" prefix. `crit` is refused; `jku`, `x5u`, `jwk` and `x5c`
 * are ignored (keys only ever come from the configuration).
 *
 * Why not libjwt (1.10.2, the version Debian 12 ships) on the request path: it
 * takes the algorithm from the token header, so an HS256 token "signed" with
 * the RSA public key's PEM verifies, and with an empty key it accepts any token
 * unverified; it has no PS256/384/512 and no EdDSA, rejects RFC 9068's at+jwt,
 * and checks no claim at all. It also re-parses the PEM key on every decode,
 * about 0.5 ms per RS256 token against 34 us for an OpenSSL verify with the key
 * parsed once. So hubgate parses the compact JWS itself (jws.c), parses every
 * key once at load (jwk.c) and verifies with OpenSSL's EVP API; the tests still
 * use libjwt, as an independent implementation that mints tokens.
 *
 * Keys: pem_file, secret_file, jwks_file at load; jwks_url fetched by one
 * background thread per hg_auth_t (jwks_fetch.h), refreshed every refresh_s,
 * refetched when a token names an unknown kid (at most once per 30 s per URL;
 * the verifying thread only signals), the last good set kept when a fetch
 * fails. Verifiers take a reference to the current key snapshot under a mutex
 * held for a pointer copy; they never wait for a fetch.
 *
 * Lifetimes: hg_auth_t is configuration (built by hg_auth_new, immutable while
 * serving except its key snapshot; hg_auth_verify is thread-safe). A
 * hg_auth_cache_t is per worker thread and belongs to one hg_auth_t (make new
 * caches when the configuration is reloaded). A principal is reference-counted
 * (principal.h).
 */
#ifndef HUBGATE_AUTH_H
#define HUBGATE_AUTH_H

#include "principal.h"
#include "violation.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_hg_auth_t hg_auth_t;
typedef struct st_hg_auth_cache_t hg_auth_cache_t;

typedef struct st_hg_auth_error_t {
    /* 0 when the request carried no bearer token (no Authorization header, or another scheme): the 401
     * then has no error="invalid_token" (RFC 6750 section 3.1) */
    int token_present;
    /* why, for error_description and the 401 message; never echoes the token; only characters allowed in
     * an RFC 6750 error_description (no '"' or '\\'), so it can be written into the header as it is */
    char description[160];
} hg_auth_error_t;

/*
 * Builds the verifier from the configuration's /auth object (defaults applied
 * for absent keys: audiences ["hubgate"] per issuer, leeway_s 30, require_exp true, scope_claims
 * ["scope","scp"], subject_claim "sub", client_claims ["client_id","azp"],
 * max_token_bytes 8192, cache_entries 10000). Key files are read and parsed
 * here, relative to basedir. Every problem is reported into errors with in =
 * "/auth/..."; returns NULL when there was any. jwks_url keys are not fetched
 * until hg_auth_start.
 */
hg_auth_t *hg_auth_new(const json_t *auth, const char *basedir, hg_violations_t *errors);
/* starts the JWKS fetcher thread (no-op without jwks_url); 0 or -1 */
int hg_auth_start(hg_auth_t *a);
/* 1 once every jwks_url has been fetched successfully at least once (always 1 without jwks_url) */
int hg_auth_ready(const hg_auth_t *a);
/* stops and joins the fetcher; frees everything (NULL is fine). Caches made from it must be freed first. */
void hg_auth_free(hg_auth_t *a);
/* JWKS URL fetches of this configuration, summed over its URLs (all 0 without jwks_url) */
void hg_auth_jwks_stats(hg_auth_t *a, uint64_t *attempts, uint64_t *failures);

/* a per-thread cache of verified tokens, sized by cache_entries (0: stores nothing) */
hg_auth_cache_t *hg_auth_cache_new(const hg_auth_t *a);
void hg_auth_cache_free(hg_auth_cache_t *c);
/* lookups that found a valid entry, and lookups that did not (nothing counted when cache_entries is 0) */
void hg_auth_cache_stats(const hg_auth_cache_t *c, uint64_t *hits, uint64_t *misses);

/*
 * Verifies an Authorization header value (authz NULL or len 0: no header).
 * `now` is the current time in seconds since the epoch (a parameter so tests
 * run on a fixed clock). cache may be NULL. Returns 0 and a new reference in
 * *out (release it with hg_principal_release), or -1 with *err filled.
 */
int hg_auth_verify(hg_auth_t *a, hg_auth_cache_t *cache, const char *authz, size_t len, int64_t now, hg_principal_t **out,
                   hg_auth_error_t *err);

#endif
