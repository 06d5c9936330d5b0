/*
 * bench_jwt.c: what one token verification costs, in one run, side by side:
 * OpenSSL's raw signature verify with the key loaded once (the floor), our
 * hg_auth_verify without a cache (parse, key choice, verify, claims,
 * principal), with the per-thread cache (a repeat of the same token), and
 * libjwt 1.10.2's jwt_decode (which re-parses the PEM on every call), for
 * RS256 (RSA 2048) and ES256 (P-256). Rounds are interleaved and the best
 * round of each is kept, so machine noise hits all of them alike.
 *
 * Build and run: make bench/bench_jwt && ./bench/bench_jwt [rounds]
 */
#include "auth.h"
#include "authtest.h"
#include "util.h"

#include <jwt.h>
#include <openssl/ecdsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW 1700000000LL

typedef struct st_subject_t {
    const char *alg;
    EVP_PKEY *pkey;
    EVP_MD *md;
    char *pem, *token, *authz;
    unsigned char sig[256]; /* DER for ES256 */
    size_t sig_len, input_len;
} subject_t;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int raw_verify(subject_t *s)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(ctx, NULL, s->md, NULL, s->pkey) == 1 &&
             EVP_DigestVerify(ctx, s->sig, s->sig_len, (const unsigned char *)s->token, s->input_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static int ours(hg_auth_t *a, hg_auth_cache_t *c, subject_t *s)
{
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    int ok = hg_auth_verify(a, c, s->authz, strlen(s->authz), NOW, &p, &err) == 0;
    hg_principal_release(p);
    return ok;
}

static int libjwt(subject_t *s)
{
    jwt_t *jwt = NULL;
    int ok = jwt_decode(&jwt, s->token, (const unsigned char *)s->pem, (int)strlen(s->pem)) == 0;
    jwt_free(jwt);
    return ok;
}

enum { RAW, COLD, CACHED, LIBJWT, NUM_WAYS };
static const char *const way_names[NUM_WAYS] = {"openssl raw verify", "hg_auth_verify, no cache", "hg_auth_verify, cached",
                                                "libjwt jwt_decode"};

static double measure(int way, hg_auth_t *a, hg_auth_cache_t *c, subject_t *s, int n)
{
    double start = now_us();
    for (int i = 0; i != n; ++i) {
        int ok = way == RAW ? raw_verify(s) : way == COLD ? ours(a, NULL, s) : way == CACHED ? ours(a, c, s) : libjwt(s);
        if (!ok) {
            fprintf(stderr, "bench_jwt: %s %s failed\n", s->alg, way_names[way]);
            exit(1);
        }
    }
    return (now_us() - start) / n;
}

static void prepare(subject_t *s, const char *dir, const char *kid)
{
    char *priv = at_privkey_pem(s->pkey);
    s->pem = at_pubkey_pem(s->pkey);
    char *name = hg_xasprintf("%s.pem", kid);
    free(at_write(dir, name, s->pem, strlen(s->pem)));
    free(name);
    s->token =
        at_jwt_mint(s->alg, priv, strlen(priv), kid,
                    "{\"iss\":\"https://idp.bench\",\"aud\":\"hubgate\",\"sub\":\"user-1\",\"client_id\":\"svc\","
                    "\"exp\":1700000600,\"iat\":1700000000,\"scope\":\"crm.objects.contacts.write crm.objects.companies.write\"}");
    s->authz = at_bearer(s->token);
    s->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    const char *dot = strrchr(s->token, '.');
    s->input_len = (size_t)(dot - s->token);
    unsigned char raw[256];
    long n = hg_b64url_decode(dot + 1, strlen(dot + 1), raw);
    if (strcmp(s->alg, "ES256") == 0) { /* the raw floor gets the DER form for free */
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
        unsigned char *p = s->sig;
        s->sig_len = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
    } else {
        memcpy(s->sig, raw, (size_t)n);
        s->sig_len = (size_t)n;
    }
    free(priv);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    char *dir = at_tmpdir();
    subject_t subjects[2] = {{.alg = "RS256", .pkey = at_keygen("RSA")}, {.alg = "ES256", .pkey = at_keygen("P-256")}};
    prepare(&subjects[0], dir, "rs1");
    prepare(&subjects[1], dir, "es1");
    json_t *conf = json_pack("{s:[{s:s,s:[s],s:[{s:s,s:s,s:s},{s:s,s:s,s:s}]}]}", "issuers", "issuer", "https://idp.bench",
                             "audiences", "hubgate", "keys", "kid", "rs1", "alg", "RS256", "pem_file", "rs1.pem", "kid", "es1",
                             "alg", "ES256", "pem_file", "es1.pem");
    hg_violations_t v;
    hg_violations_init(&v, 4);
    hg_auth_t *auth = hg_auth_new(conf, dir, &v);
    if (auth == NULL) {
        fprintf(stderr, "bench_jwt: %s\n", v.count != 0 ? v.items[0].message : "configuration refused");
        return 1;
    }
    hg_auth_cache_t *cache = hg_auth_cache_new(auth);
    static const int iterations[2][NUM_WAYS] = {{3000, 3000, 300000, 300}, {1500, 1500, 300000, 300}};
    double best[2][NUM_WAYS];
    for (int i = 0; i != 2; ++i)
        for (int w = 0; w != NUM_WAYS; ++w) {
            measure(w, auth, cache, &subjects[i], 50); /* warm up */
            best[i][w] = 1e18;
        }
    for (int r = 0; r != rounds; ++r)
        for (int i = 0; i != 2; ++i)
            for (int w = 0; w != NUM_WAYS; ++w) {
                double us = measure(w, auth, cache, &subjects[i], iterations[i][w] / rounds + 1);
                if (us < best[i][w])
                    best[i][w] = us;
            }
    printf("%-6s %-26s %12s %14s\n", "alg", "way", "us/op", "vs raw verify");
    for (int i = 0; i != 2; ++i)
        for (int w = 0; w != NUM_WAYS; ++w)
            printf("%-6s %-26s %12.2f %13.2fx\n", subjects[i].alg, way_names[w], best[i][w], best[i][w] / best[i][RAW]);
    for (int i = 0; i != 2; ++i)
        printf("%s: cold verify / raw = %.2f (goal <= 2), libjwt / cold = %.1f, cold / cached = %.0f\n", subjects[i].alg,
               best[i][COLD] / best[i][RAW], best[i][LIBJWT] / best[i][COLD], best[i][COLD] / best[i][CACHED]);
    uint64_t hits, misses;
    hg_auth_cache_stats(cache, &hits, &misses);
    printf("cache: %llu hits, %llu misses\n", (unsigned long long)hits, (unsigned long long)misses);
    hg_auth_cache_free(cache);
    hg_auth_free(auth);
    json_decref(conf);
    hg_violations_clear(&v);
    for (int i = 0; i != 2; ++i) {
        EVP_PKEY_free(subjects[i].pkey);
        EVP_MD_free(subjects[i].md);
        free(subjects[i].pem);
        free(subjects[i].token);
        free(subjects[i].authz);
    }
    at_rmdir(dir);
    free(dir);
    return 0;
}
