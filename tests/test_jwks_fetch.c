/*
 * test_jwks_fetch.c: JWKS URLs against a loopback HTTP server thread that
 * serves changing content: readiness after the first fetch, a new key picked
 * up when a token names it (unknown kid -> refetch), the refetch throttle, an
 * old key dropped at refresh (cached tokens included), the server down or
 * answering garbage (last good set kept, readiness withheld until a success).
 * Waits poll a condition (readiness, a server hit, a verify result) with a
 * deadline; nothing sleeps a fixed time.
 */
#include "auth.h"
#include "authtest.h"
#include "jwks_fetch.h"
#include "util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000LL
#define ISS "https://idp.test"
#define CLAIMS "{\"iss\":\"" ISS "\",\"aud\":\"gw\",\"exp\":1700000600}"

static EVP_PKEY *k1, *k2, *k3;

static void setup(void)
{
    k1 = at_keygen("P-256");
    k2 = at_keygen("RSA");
    k3 = at_keygen("ED25519");
}

static void teardown(void)
{
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(k3);
}

/* a JWKS text with the chosen keys (k1 ES256 "k1", k2 RS256 "k2", k3 EdDSA "k3") */
static char *jwks(int with1, int with2, int with3)
{
    json_t *keys = json_array();
    if (with1)
        json_array_append_new(keys, at_jwk(k1, "k1", "ES256"));
    if (with2)
        json_array_append_new(keys, at_jwk(k2, "k2", NULL));
    if (with3)
        json_array_append_new(keys, at_jwk(k3, "k3", NULL));
    json_t *doc = json_pack("{s:o}", "keys", keys);
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    return text;
}

static void serve(at_server_t *s, int with1, int with2, int with3)
{
    char *text = jwks(with1, with2, with3);
    at_server_set(s, 200, text);
    free(text);
}

static char *token(int which)
{
    if (which == 1)
        return at_sign(HG_JWS_ES256, k1, NULL, 0, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", CLAIMS);
    if (which == 2)
        return at_sign(HG_JWS_RS256, k2, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"k2\"}", CLAIMS);
    return at_sign(HG_JWS_EDDSA, k3, NULL, 0, "{\"alg\":\"EdDSA\",\"kid\":\"k3\"}", CLAIMS);
}

static hg_auth_t *auth_for(at_server_t *s, int refresh_s)
{
    char *url = at_server_url(s, "/.well-known/jwks.json");
    json_t *conf = json_pack("{s:[{s:s,s:[s],s:[{s:s,s:[s,s,s],s:i}]}]}", "issuers", "issuer", ISS, "audiences", "gw", "keys",
                             "jwks_url", url, "algs", "ES256", "RS256", "EdDSA", "refresh_s", refresh_s);
    hg_violations_t v;
    hg_violations_init(&v, 4);
    hg_auth_t *a = hg_auth_new(conf, NULL, &v);
    ck_assert_uint_eq(v.count, 0);
    ck_assert_ptr_nonnull(a);
    json_decref(conf);
    free(url);
    return a;
}

typedef struct st_probe_t {
    hg_auth_t *auth;
    hg_auth_cache_t *cache;
    at_server_t *server;
    char *token;
    const char *want; /* NULL: pass */
    unsigned hits;
} probe_t;

/* 1 when verifying probe->token gives the wanted outcome */
static int verify_gives(void *ctx)
{
    probe_t *p = ctx;
    char *authz = at_bearer(p->token);
    hg_principal_t *pr = NULL;
    hg_auth_error_t err;
    int ret = hg_auth_verify(p->auth, p->cache, authz, strlen(authz), NOW, &pr, &err);
    free(authz);
    hg_principal_release(pr);
    return p->want == NULL ? ret == 0 : ret == -1 && strcmp(err.description, p->want) == 0;
}

static int is_ready(void *ctx)
{
    return hg_auth_ready(((probe_t *)ctx)->auth);
}

static int server_hit(void *ctx)
{
    probe_t *p = ctx;
    return at_server_hits(p->server) >= p->hits;
}

START_TEST(ready_then_new_key_on_unknown_kid)
{
    at_server_t *s = at_server_start();
    serve(s, 1, 0, 0);
    probe_t p = {.auth = auth_for(s, 300), .server = s};
    ck_assert_int_eq(hg_auth_ready(p.auth), 0);
    ck_assert_uint_eq(at_server_hits(s), 0); /* nothing fetched before start */
    ck_assert_int_eq(hg_auth_start(p.auth), 0);
    ck_assert_int_eq(at_wait(is_ready, &p, 3000), 1);
    ck_assert_uint_eq(at_server_hits(s), 1);
    p.token = token(1);
    ck_assert_int_eq(verify_gives(&p), 1);
    free(p.token);

    /* k2 appears; the first token naming it is refused but makes the fetcher look again */
    serve(s, 1, 1, 0);
    p.token = token(2);
    p.want = "unknown key id 'k2'";
    ck_assert_int_eq(verify_gives(&p), 1);
    p.want = NULL;
    ck_assert_int_eq(at_wait(verify_gives, &p, 3000), 1);
    ck_assert_uint_eq(at_server_hits(s), 2);
    free(p.token);

    /* k3 appears too, but within 30 s of the last kid-triggered refetch: no new fetch */
    serve(s, 1, 1, 1);
    p.token = token(3);
    p.want = "unknown key id 'k3'";
    ck_assert_int_eq(verify_gives(&p), 1);
    ck_assert_int_eq(verify_gives(&p), 1);
    free(p.token);
    hg_auth_free(p.auth); /* joins the fetcher: every fetch it started is counted */
    ck_assert_uint_eq(at_server_hits(s), 2);
    at_server_stop(s);
}
END_TEST

START_TEST(old_key_dropped_at_refresh_even_when_cached)
{
    at_server_t *s = at_server_start();
    serve(s, 1, 1, 0);
    probe_t p = {.auth = auth_for(s, 1), .server = s};
    p.cache = hg_auth_cache_new(p.auth);
    ck_assert_int_eq(hg_auth_start(p.auth), 0);
    ck_assert_int_eq(at_wait(is_ready, &p, 3000), 1);
    p.token = token(1);
    ck_assert_int_eq(verify_gives(&p), 1);
    ck_assert_int_eq(verify_gives(&p), 1);
    uint64_t hits, misses;
    hg_auth_cache_stats(p.cache, &hits, &misses);
    ck_assert_uint_eq(hits, 1);
    serve(s, 0, 1, 0); /* k1 rotated out */
    p.want = "unknown key id 'k1'";
    ck_assert_int_eq(at_wait(verify_gives, &p, 4000), 1);
    free(p.token);
    p.token = token(2);
    p.want = NULL;
    ck_assert_int_eq(verify_gives(&p), 1);
    free(p.token);
    hg_auth_cache_free(p.cache);
    hg_auth_free(p.auth);
    at_server_stop(s);
}
END_TEST

START_TEST(server_down_keeps_last_good_set)
{
    at_server_t *s = at_server_start();
    serve(s, 1, 0, 0);
    probe_t p = {.auth = auth_for(s, 1), .server = s};
    ck_assert_int_eq(hg_auth_start(p.auth), 0);
    ck_assert_int_eq(at_wait(is_ready, &p, 3000), 1);
    p.token = token(1);
    at_server_set(s, 0, NULL);      /* connections closed without an answer */
    p.hits = at_server_hits(s) + 2; /* the second request starts after the first failed */
    ck_assert_int_eq(at_wait(server_hit, &p, 4000), 1);
    ck_assert_int_eq(verify_gives(&p), 1);
    at_server_set(s, 503, "{}");
    p.hits = at_server_hits(s) + 2;
    ck_assert_int_eq(at_wait(server_hit, &p, 4000), 1);
    ck_assert_int_eq(verify_gives(&p), 1);
    at_server_set(s, 200, "{\"keys\":\"not a list\"}");
    p.hits = at_server_hits(s) + 2;
    ck_assert_int_eq(at_wait(server_hit, &p, 4000), 1);
    ck_assert_int_eq(verify_gives(&p), 1);
    ck_assert_int_eq(hg_auth_ready(p.auth), 1);
    free(p.token);
    hg_auth_free(p.auth);
    at_server_stop(s);
}
END_TEST

START_TEST(not_ready_until_first_success)
{
    at_server_t *s = at_server_start();
    at_server_set(s, 404, "not found");
    probe_t p = {.auth = auth_for(s, 300), .server = s, .hits = 1};
    ck_assert_int_eq(hg_auth_start(p.auth), 0);
    ck_assert_int_eq(at_wait(server_hit, &p, 3000), 1);
    p.token = token(1);
    p.want = "unknown key id 'k1'";
    ck_assert_int_eq(verify_gives(&p), 1);
    ck_assert_int_eq(hg_auth_ready(p.auth), 0);
    serve(s, 1, 0, 0); /* the retry after 1 s of backoff succeeds */
    ck_assert_int_eq(at_wait(is_ready, &p, 4000), 1);
    p.want = NULL;
    ck_assert_int_eq(verify_gives(&p), 1);
    free(p.token);
    hg_auth_free(p.auth);
    at_server_stop(s);
}
END_TEST

typedef struct st_published_t {
    hg_keyset_t *last;
    unsigned count;
} published_t;

static void on_publish(void *ctx, size_t index, hg_keyset_t *keys)
{
    published_t *p = ctx;
    hg_keyset_release(__atomic_exchange_n(&p->last, keys, __ATOMIC_ACQ_REL));
    __atomic_fetch_add(&p->count, 1, __ATOMIC_RELEASE);
}

typedef struct st_fstate_t {
    hg_jwks_fetcher_t *f;
    uint64_t attempts;
} fstate_t;

static int attempted(void *ctx)
{
    fstate_t *st = ctx;
    hg_jwks_stats_t stats;
    hg_jwks_fetcher_stats(st->f, 0, &stats);
    return stats.attempts >= st->attempts && stats.successes + stats.failures >= st->attempts;
}

START_TEST(fetcher_publishes_changes_only)
{
    at_server_t *s = at_server_start();
    serve(s, 1, 1, 0);
    published_t pub = {NULL, 0};
    hg_jwks_fetcher_t *f = hg_jwks_fetcher_new(on_publish, &pub, 100);
    char *url = at_server_url(s, "/jwks");
    ck_assert_uint_eq(hg_jwks_fetcher_add(f, url, NULL, HG_ALG_BIT(HG_JWS_ES256) | HG_ALG_BIT(HG_JWS_PS256), 300000), 0);
    ck_assert_int_eq(hg_jwks_fetcher_request(f, 0), 0); /* not started */
    ck_assert_int_eq(hg_jwks_fetcher_start(f), 0);
    fstate_t st = {f, 1};
    ck_assert_int_eq(at_wait(attempted, &st, 3000), 1);
    ck_assert_uint_eq(__atomic_load_n(&pub.count, __ATOMIC_ACQUIRE), 1);
    ck_assert_uint_eq(pub.last->count, 2); /* ES256 k1, PS256 k2 (RS256 not configured) */
    ck_assert_int_eq(pub.last->keys[1]->alg, HG_JWS_PS256);
    /* the same body again: fetched, not published */
    ck_assert_int_eq(hg_jwks_fetcher_request(f, 0), 1);
    ck_assert_int_eq(hg_jwks_fetcher_request(f, 0), 0); /* throttled */
    st.attempts = 2;
    ck_assert_int_eq(at_wait(attempted, &st, 3000), 1);
    ck_assert_uint_eq(__atomic_load_n(&pub.count, __ATOMIC_ACQUIRE), 1);
    /* a failure is recorded and keeps what was published */
    at_server_set(s, 500, "x");
    while (hg_jwks_fetcher_request(f, 0) == 0) /* wait out the 100 ms throttle */
        ;
    st.attempts = 3;
    ck_assert_int_eq(at_wait(attempted, &st, 3000), 1);
    hg_jwks_stats_t stats;
    hg_jwks_fetcher_stats(f, 0, &stats);
    ck_assert_uint_eq(stats.failures, 1);
    char *want = hg_xasprintf("%s: HTTP status 500", url);
    ck_assert_str_eq(stats.last_error, want);
    ck_assert_int_eq(hg_jwks_fetcher_ready(f), 1);
    ck_assert_uint_eq(__atomic_load_n(&pub.count, __ATOMIC_ACQUIRE), 1);
    hg_jwks_fetcher_free(f);
    hg_keyset_release(pub.last);
    free(want);
    free(url);
    at_server_stop(s);
}
END_TEST

/* one fetch of an https URL served with a certificate for `san`; returns the stats, *published the keys seen */
static hg_jwks_stats_t fetch_tls(const char *san, int trust, unsigned *published)
{
    char *dir = at_tmpdir();
    EVP_PKEY *key = at_keygen("P-256");
    char *cert = at_selfsigned(key, san), *ca = at_write(dir, "ca.pem", cert, strlen(cert));
    at_server_t *s = at_server_start_tls(cert, key);
    serve(s, 1, 0, 0);
    published_t pub = {NULL, 0};
    hg_jwks_fetcher_t *f = hg_jwks_fetcher_new(on_publish, &pub, 100);
    char *url = at_server_url(s, "/jwks");
    ck_assert_int_eq(strncmp(url, "https://127.0.0.1:", 18), 0);
    hg_jwks_fetcher_add(f, url, trust ? ca : NULL, HG_ALG_BIT(HG_JWS_ES256), 300000);
    ck_assert_int_eq(hg_jwks_fetcher_start(f), 0);
    fstate_t st = {f, 1};
    ck_assert_int_eq(at_wait(attempted, &st, 5000), 1);
    hg_jwks_stats_t stats;
    hg_jwks_fetcher_stats(f, 0, &stats);
    ck_assert_int_eq(hg_jwks_fetcher_ready(f), stats.successes != 0);
    hg_jwks_fetcher_free(f);
    *published = pub.last != NULL ? (unsigned)pub.last->count : 0;
    hg_keyset_release(pub.last);
    at_server_stop(s);
    free(url);
    free(cert);
    free(ca);
    EVP_PKEY_free(key);
    at_rmdir(dir);
    free(dir);
    return stats;
}

START_TEST(https_verifies_chain_and_host)
{
    unsigned published;
    hg_jwks_stats_t st = fetch_tls("DNS:localhost,IP:127.0.0.1", 1, &published);
    ck_assert_msg(st.successes == 1, "%s", st.last_error);
    ck_assert_uint_eq(published, 1);
    /* the system bundle does not trust the test's self-signed certificate */
    st = fetch_tls("DNS:localhost,IP:127.0.0.1", 0, &published);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_msg(strstr(st.last_error, "SSL certificate problem: self-signed certificate") != NULL, "%s", st.last_error);
    ck_assert_uint_eq(published, 0);
    /* a trusted certificate for another name */
    st = fetch_tls("DNS:other.test", 1, &published);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_msg(strstr(st.last_error, "no alternative certificate subject name matches target host name '127.0.0.1'") != NULL,
                  "%s", st.last_error);
    ck_assert_uint_eq(published, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jwks_fetch");
    TCase *tc = tcase_create("jwks_url");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 15);
    tcase_add_test(tc, ready_then_new_key_on_unknown_kid);
    tcase_add_test(tc, old_key_dropped_at_refresh_even_when_cached);
    tcase_add_test(tc, server_down_keeps_last_good_set);
    tcase_add_test(tc, not_ready_until_first_success);
    tcase_add_test(tc, fetcher_publishes_changes_only);
    tcase_add_test(tc, https_verifies_chain_and_host);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
