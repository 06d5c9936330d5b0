/*
 * test_auth.c: hg_auth_verify on a fixed clock. Keys are generated here with
 * OpenSSL and written to a temporary directory as PEM, secret and JWKS files;
 * good tokens are minted by libjwt (HS/RS/ES, an independent implementation)
 * and by OpenSSL directly (PS, EdDSA, and every hostile token libjwt cannot
 * make). Every refusal asserts its exact description.
 */
#include "auth.h"
#include "authtest.h"
#include "scopes.h"
#include "util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000LL
#define ISS "https://idp.test"

static char *dir;
static EVP_PKEY *rsa, *p256, *p384, *p521, *ed, *rsa_other;
static char *rsa_priv, *p256_priv, *p384_priv, *p521_priv, *rsa_pub_pem;
static const char hs256[] = "hs256-secret-0123456789abcdef-0123456789";
static const char hs384[] = "hs384-secret-0123456789abcdef-0123456789abcdef-012";
static const char hs512[] = "hs512-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef-0123";
static hg_auth_t *auth;

static void write_pem(const char *name, EVP_PKEY *pkey)
{
    char *pem = at_pubkey_pem(pkey);
    free(at_write(dir, name, pem, strlen(pem)));
    free(pem);
}

static json_t *config(void)
{
    json_error_t e;
    json_t *c = json_pack_ex(
        &e, 0,
        "{s:[{s:s, s:[s], s:["
        "{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},"
        "{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},"
        "{s:s,s:[s,s]}]},"
        "{s:s, s:[], s:[{s:s,s:s}]}]}",
        "issuers", "issuer", ISS, "audiences", "hubgate", "keys",                                                   /* */
        "kid", "rs1", "alg", "RS256", "pem_file", "rsa.pem", "kid", "rs3", "alg", "RS384", "pem_file", "rsa.pem",   /* */
        "kid", "rs5", "alg", "RS512", "pem_file", "rsa.pem", "kid", "ps1", "alg", "PS256", "pem_file", "rsa.pem",   /* */
        "kid", "ps3", "alg", "PS384", "pem_file", "rsa.pem", "kid", "ps5", "alg", "PS512", "pem_file", "rsa.pem",   /* */
        "kid", "es1", "alg", "ES256", "pem_file", "p256.pem", "kid", "es3", "alg", "ES384", "pem_file", "p384.pem", /* */
        "kid", "es5", "alg", "ES512", "pem_file", "p521.pem", "kid", "ed1", "alg", "EdDSA", "pem_file", "ed.pem",   /* */
        "kid", "hs1", "alg", "HS256", "secret_file", "hs256.secret", "kid", "hs3", "alg", "HS384", "secret_file", "hs384.secret",
        "kid", "hs5", "alg", "HS512", "secret_file", "hs512.secret", /* */
        "jwks_file", "idp.jwks.json", "algs", "RS256", "ES256",      /* */
        "issuer", "https://other.test", "audiences", "keys", "alg", "RS256", "pem_file", "other.pem");
    if (c == NULL)
        fprintf(stderr, "json_pack: %s\n", e.text);
    return c;
}

static void setup(void)
{
    dir = at_tmpdir();
    rsa = at_keygen("RSA");
    rsa_other = at_keygen("RSA");
    p256 = at_keygen("P-256");
    p384 = at_keygen("P-384");
    p521 = at_keygen("P-521");
    ed = at_keygen("ED25519");
    rsa_priv = at_privkey_pem(rsa);
    p256_priv = at_privkey_pem(p256);
    p384_priv = at_privkey_pem(p384);
    p521_priv = at_privkey_pem(p521);
    rsa_pub_pem = at_pubkey_pem(rsa);
    write_pem("rsa.pem", rsa);
    write_pem("p256.pem", p256);
    write_pem("p384.pem", p384);
    write_pem("p521.pem", p521);
    write_pem("ed.pem", ed);
    write_pem("other.pem", rsa_other);
    char *with_newline = hg_xasprintf("%s\n", hs256);
    free(at_write(dir, "hs256.secret", with_newline, strlen(with_newline)));
    free(with_newline);
    free(at_write(dir, "hs384.secret", hs384, strlen(hs384)));
    free(at_write(dir, "hs512.secret", hs512, strlen(hs512)));
    json_t *jwks = json_pack("{s:[o,o]}", "keys", at_jwk(rsa_other, "j-rs", NULL), at_jwk(p256, "j-es", "ES256"));
    char *text = json_dumps(jwks, 0);
    free(at_write(dir, "idp.jwks.json", text, strlen(text)));
    free(text);
    json_decref(jwks);

    json_t *c = config();
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    auth = hg_auth_new(c, dir, &errors);
    for (size_t i = 0; i != errors.count; ++i)
        fprintf(stderr, "%s: %s\n", errors.items[i].in, errors.items[i].message);
    hg_violations_clear(&errors);
    json_decref(c);
}

static void teardown(void)
{
    hg_auth_free(auth);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa_other);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(p521);
    EVP_PKEY_free(ed);
    free(rsa_priv);
    free(p256_priv);
    free(p384_priv);
    free(p521_priv);
    free(rsa_pub_pem);
    at_rmdir(dir);
    free(dir);
}

/* verifies "Bearer <token>" at `now`; returns the result, the principal (or NULL) in *p */
static int verify_at(hg_auth_t *a, hg_auth_cache_t *c, const char *token, int64_t now, hg_principal_t **p, hg_auth_error_t *err)
{
    char *authz = at_bearer(token);
    int ret = hg_auth_verify(a, c, authz, strlen(authz), now, p, err);
    free(authz);
    return ret;
}

#define CLAIMS                                                                                                                     \
    "{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"sub\":\"user-1\",\"client_id\":\"svc-a\",\"exp\":1700000600,"                      \
    "\"iat\":1700000000,\"scope\":\"crm.objects.contacts.write crm.objects.companies.write\"}"

static void assert_good_principal(hg_principal_t *p)
{
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->issuer, ISS);
    ck_assert_str_eq(p->subject, "user-1");
    ck_assert_str_eq(p->client, "svc-a");
    ck_assert_int_eq(p->exp, 1700000600);
    ck_assert_uint_eq(p->num_scopes, 2);
    ck_assert_str_eq(p->scopes[0], "crm.objects.companies.write");
    ck_assert_str_eq(p->scopes[1], "crm.objects.contacts.write");
}

/* ---- every algorithm, minted by libjwt (HS/RS/ES) and by OpenSSL (all) ---- */

static const struct {
    const char *alg, *kid;
} good[] = {{"HS256", "hs1"}, {"HS384", "hs3"}, {"HS512", "hs5"}, {"RS256", "rs1"}, {"RS384", "rs3"},
            {"RS512", "rs5"}, {"ES256", "es1"}, {"ES384", "es3"}, {"ES512", "es5"}, {"PS256", "ps1"},
            {"PS384", "ps3"}, {"PS512", "ps5"}, {"EdDSA", "ed1"}};

static void key_for(const char *alg, EVP_PKEY **pkey, const char **priv, const char **secret)
{
    *pkey = NULL;
    *priv = *secret = NULL;
    if (alg[0] == 'H')
        *secret = strcmp(alg, "HS256") == 0 ? hs256 : strcmp(alg, "HS384") == 0 ? hs384 : hs512;
    else if (alg[0] == 'R' || alg[0] == 'P')
        *pkey = rsa, *priv = rsa_priv;
    else if (strcmp(alg, "ES256") == 0)
        *pkey = p256, *priv = p256_priv;
    else if (strcmp(alg, "ES384") == 0)
        *pkey = p384, *priv = p384_priv;
    else if (strcmp(alg, "ES512") == 0)
        *pkey = p521, *priv = p521_priv;
    else
        *pkey = ed;
}

START_TEST(libjwt_tokens_verify)
{
    if (_i >= 9) /* libjwt 1.10.2 has no PS* and no EdDSA */
        return;
    EVP_PKEY *pkey;
    const char *priv, *secret;
    key_for(good[_i].alg, &pkey, &priv, &secret);
    const char *key = secret != NULL ? secret : priv;
    char *token = at_jwt_mint(good[_i].alg, key, strlen(key), good[_i].kid, CLAIMS);
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    int ret = verify_at(auth, NULL, token, NOW, &p, &err);
    ck_assert_msg(ret == 0, "%s: %s", good[_i].alg, err.description);
    assert_good_principal(p);
    hg_principal_release(p);
    free(token);
}
END_TEST

START_TEST(openssl_tokens_verify)
{
    EVP_PKEY *pkey;
    const char *priv, *secret;
    key_for(good[_i].alg, &pkey, &priv, &secret);
    char *header = hg_xasprintf("{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}", good[_i].alg, good[_i].kid);
    char *token = at_sign(hg_jws_alg_from_name(good[_i].alg), pkey, secret, secret != NULL ? strlen(secret) : 0, header, CLAIMS);
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    int ret = verify_at(auth, NULL, token, NOW, &p, &err);
    ck_assert_msg(ret == 0, "%s: %s", good[_i].alg, err.description);
    assert_good_principal(p);
    hg_principal_release(p);
    free(token);
    free(header);
}
END_TEST

/* ---- hostile tokens ---- */

enum { SIGN_RS256, SIGN_RS384, SIGN_HS256, SIGN_HS256_WITH_PEM, SIGN_ES256, SIGN_ES256_DER, SIGN_EMPTY };
enum { AS_IS, TAMPER_PAYLOAD, TAMPER_HEADER, TAMPER_SIG, PAD_HEADER, NONCANONICAL_SIG, OVERSIZE, LONG_SIG, MAX_SIG, LITERAL };

static const struct hostile {
    const char *name;
    const char *header, *payload; /* JSON texts (LITERAL: header is the whole Authorization value, or NULL for none) */
    int signer, mutation;
    int present;
    const char *want;
} hostile[] = {
    {"alg none", "{\"alg\":\"none\"}", CLAIMS, SIGN_EMPTY, AS_IS, 1, "algorithm none not allowed"},
    {"alg NONE", "{\"alg\":\"NONE\",\"kid\":\"rs1\"}", CLAIMS, SIGN_EMPTY, AS_IS, 1, "algorithm none not allowed"},
    {"alg nOnE", "{\"alg\":\"nOnE\"}", CLAIMS, SIGN_RS256, AS_IS, 1, "algorithm none not allowed"},
    {"HS256 with the RSA PEM, kid of the RSA key", "{\"alg\":\"HS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_HS256_WITH_PEM, AS_IS, 1,
     "algorithm HS256 not allowed for key rs1"},
    {"HS256 with the RSA PEM, no kid", "{\"alg\":\"HS256\"}", CLAIMS, SIGN_HS256_WITH_PEM, AS_IS, 1, "signature invalid"},
    {"tampered payload", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, TAMPER_PAYLOAD, 1, "signature invalid"},
    {"tampered header", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, TAMPER_HEADER, 1, "signature invalid"},
    {"tampered signature", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, TAMPER_SIG, 1, "signature invalid"},
    {"HS256 wrong secret", "{\"alg\":\"HS256\",\"kid\":\"hs1\"}", CLAIMS, SIGN_HS256_WITH_PEM, AS_IS, 1, "signature invalid"},
    {"ES256 DER signature", "{\"alg\":\"ES256\",\"kid\":\"es1\"}", CLAIMS, SIGN_ES256_DER, AS_IS, 1, "signature invalid"},
    {"empty signature", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_EMPTY, AS_IS, 1, "signature invalid"},
    {"expired beyond leeway", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"exp\":1699999970}",
     SIGN_RS256, AS_IS, 1, "token expired"},
    {"expired, real exp", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"exp\":1.69999997e9}",
     SIGN_RS256, AS_IS, 1, "token expired"},
    {"not yet valid", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}",
     "{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"exp\":1700000600,\"nbf\":1700000031}", SIGN_RS256, AS_IS, 1,
     "token not yet valid"},
    {"iat in the future", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}",
     "{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"exp\":1700000600,\"iat\":1700000031}", SIGN_RS256, AS_IS, 1,
     "token issued in the future"},
    {"wrong iss", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"iss\":\"https://evil.test\",\"aud\":\"hubgate\",\"exp\":1700000600}",
     SIGN_RS256, AS_IS, 1, "issuer not accepted"},
    {"iss missing", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"aud\":\"hubgate\",\"exp\":1700000600}", SIGN_RS256, AS_IS, 1,
     "iss claim missing"},
    {"iss prefix of a configured one", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}",
     "{\"iss\":\"https://idp.tes\",\"aud\":\"hubgate\",\"exp\":1700000600}", SIGN_RS256, AS_IS, 1, "issuer not accepted"},
    {"wrong aud", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"iss\":\"" ISS "\",\"aud\":\"hubgate2\",\"exp\":1700000600}",
     SIGN_RS256, AS_IS, 1, "audience not accepted"},
    {"wrong aud array", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"iss\":\"" ISS "\",\"aud\":[\"a\",\"b\"],\"exp\":1700000600}",
     SIGN_RS256, AS_IS, 1, "audience not accepted"},
    {"aud missing", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"iss\":\"" ISS "\",\"exp\":1700000600}", SIGN_RS256, AS_IS, 1,
     "aud claim missing"},
    {"unknown kid", "{\"alg\":\"RS256\",\"kid\":\"k9\"}", CLAIMS, SIGN_RS256, AS_IS, 1, "unknown key id 'k9'"},
    {"unknown kid, hostile characters", "{\"alg\":\"RS256\",\"kid\":\"k\\\"9\\r\\n x\"}", CLAIMS, SIGN_RS256, AS_IS, 1,
     "unknown key id 'k?9???x'"},
    {"missing exp", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"iss\":\"" ISS "\",\"aud\":\"hubgate\"}", SIGN_RS256, AS_IS, 1,
     "exp claim missing"},
    {"exp a string", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"exp\":\"1700000600\"}",
     SIGN_RS256, AS_IS, 1, "malformed claim exp"},
    {"lower-case alg", "{\"alg\":\"rs256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, AS_IS, 1, "unsupported algorithm 'rs256'"},
    {"unknown alg", "{\"alg\":\"HS1\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, AS_IS, 1, "unsupported algorithm 'HS1'"},
    {"alg the key is not pinned to", "{\"alg\":\"RS384\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS384, AS_IS, 1,
     "algorithm RS384 not allowed for key rs1"},
    {"ES256 for the P-384 key", "{\"alg\":\"ES256\",\"kid\":\"es3\"}", CLAIMS, SIGN_ES256, AS_IS, 1,
     "algorithm ES256 not allowed for key es3"},
    {"alg missing", "{\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, AS_IS, 1, "malformed token: alg missing"},
    {"alg not a string", "{\"alg\":256,\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, AS_IS, 1, "malformed token: alg is not a string"},
    {"kid not a string", "{\"alg\":\"RS256\",\"kid\":1}", CLAIMS, SIGN_RS256, AS_IS, 1, "malformed token: kid is not a string"},
    {"oversized", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, OVERSIZE, 1, "token too large"},
    {"bad base64", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, LITERAL, 1,
     "malformed token: bad base64url in header"},
    {"padding", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, PAD_HEADER, 1,
     "malformed token: bad base64url in header"},
    {"non-canonical base64 in signature", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, NONCANONICAL_SIG, 1,
     "malformed token: bad base64url in signature"},
    {"signature one byte too long", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, LONG_SIG, 1,
     "malformed token: signature too long"},
    {"signature of the largest size", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, MAX_SIG, 1, "signature invalid"},
    {"no dots", "Bearer eyJhbGciOiJSUzI1NiJ9", NULL, 0, LITERAL, 1, "malformed token: expected three dot-separated parts"},
    {"one dot", "Bearer eyJhbGciOiJSUzI1NiJ9.e30", NULL, 0, LITERAL, 1, "malformed token: expected three dot-separated parts"},
    {"extra dot", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.e30.e30", NULL, 0, LITERAL, 1,
     "malformed token: expected three dot-separated parts"},
    {"header JSON an array", "[\"alg\",\"RS256\"]", CLAIMS, SIGN_RS256, AS_IS, 1, "malformed token: header is not a JSON object"},
    {"header not JSON", "{alg:RS256}", CLAIMS, SIGN_RS256, AS_IS, 1, "malformed token: header is not valid JSON"},
    {"payload JSON a string", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "\"claims\"", SIGN_RS256, AS_IS, 1,
     "malformed token: payload is not a JSON object"},
    {"payload with NUL", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"iss\":\"" ISS "\\u0000\",\"exp\":1700000600}", SIGN_RS256,
     AS_IS, 1, "malformed token: payload is not valid JSON"},
    {"payload invalid UTF-8", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{\"iss\":\"\xc3\x28\",\"exp\":1700000600}", SIGN_RS256, AS_IS,
     1, "malformed token: payload is not valid JSON"},
    {"duplicate claim", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}",
     "{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"sub\":\"a\",\"sub\":\"admin\",\"exp\":1700000600}", SIGN_RS256, AS_IS, 1,
     "malformed token: duplicate member in payload"},
    {"duplicate header member", "{\"alg\":\"RS256\",\"alg\":\"HS256\",\"kid\":\"rs1\"}", CLAIMS, SIGN_RS256, AS_IS, 1,
     "malformed token: duplicate member in header"},
    {"typ JWS", "{\"alg\":\"RS256\",\"kid\":\"rs1\",\"typ\":\"JWS\"}", CLAIMS, SIGN_RS256, AS_IS, 1,
     "token type 'JWS' not accepted"},
    {"typ not a string", "{\"alg\":\"RS256\",\"kid\":\"rs1\",\"typ\":1}", CLAIMS, SIGN_RS256, AS_IS, 1,
     "malformed token: typ is not a string"},
    {"crit header", "{\"alg\":\"RS256\",\"kid\":\"rs1\",\"crit\":[\"exp\"],\"exp\":1}", CLAIMS, SIGN_RS256, AS_IS, 1,
     "crit header not supported"},
    {"scope claim a number", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}",
     "{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"exp\":1700000600,\"scope\":7}", SIGN_RS256, AS_IS, 1, "malformed claim scope"},
    {"scp array with a number", "{\"alg\":\"RS256\",\"kid\":\"rs1\"}",
     "{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"exp\":1700000600,\"scp\":[\"a\",1]}", SIGN_RS256, AS_IS, 1, "malformed claim scp"},
    {"Basic scheme", "Basic dXNlcjpwYXNz", NULL, 0, LITERAL, 0, "authorization scheme is not Bearer"},
    {"Bearer glued to the token", "BearereyJhbGciOiJSUzI1NiJ9.e30.e30", NULL, 0, LITERAL, 0, "authorization scheme is not Bearer"},
    {"empty bearer", "Bearer ", NULL, 0, LITERAL, 1, "empty bearer token"},
    {"bare Bearer", "Bearer", NULL, 0, LITERAL, 1, "empty bearer token"},
    {"two spaces", "Bearer  eyJhbGciOiJSUzI1NiJ9.e30.e30", NULL, 0, LITERAL, 1, "malformed authorization header"},
    {"two tokens", "Bearer a.b.c d.e.f", NULL, 0, LITERAL, 1, "malformed authorization header"},
    {"no header", NULL, NULL, 0, LITERAL, 0, "missing bearer token"},
};

static char *replace_part(const char *token, int part, const char *with)
{
    const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
    if (part == 0)
        return hg_xasprintf("%s%s", with, d1);
    if (part == 1)
        return hg_xasprintf("%.*s.%s%s", (int)(d1 - token), token, with, d2);
    return hg_xasprintf("%.*s.%s", (int)(d2 - token), token, with);
}

static char *make_hostile(const struct hostile *h)
{
    if (h->mutation == LITERAL && h->payload == NULL)
        return h->header != NULL ? hg_xstrdup(h->header) : NULL;
    char *token = NULL, *payload = (char *)h->payload, *t;
    if (h->mutation == OVERSIZE) {
        char *big = hg_xmalloc(7000);
        memset(big, 'x', 6999);
        big[6999] = '\0';
        payload = hg_xasprintf("{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"exp\":1700000600,\"pad\":\"%s\"}", big);
        free(big);
    }
    switch (h->signer) {
    case SIGN_RS256:
        token = at_sign(HG_JWS_RS256, rsa, NULL, 0, h->header, payload);
        break;
    case SIGN_RS384:
        token = at_sign(HG_JWS_RS384, rsa, NULL, 0, h->header, payload);
        break;
    case SIGN_HS256:
        token = at_sign(HG_JWS_HS256, NULL, hs256, strlen(hs256), h->header, payload);
        break;
    case SIGN_HS256_WITH_PEM:
        token = at_sign(HG_JWS_HS256, NULL, rsa_pub_pem, strlen(rsa_pub_pem), h->header, payload);
        break;
    case SIGN_ES256:
        token = at_sign(HG_JWS_ES256, p256, NULL, 0, h->header, payload);
        break;
    case SIGN_ES256_DER: { /* the DER form OpenSSL produces, which JOSE does not use */
        char *hb = at_b64(h->header), *pb = at_b64(payload), *input = hg_xasprintf("%s.%s", hb, pb);
        unsigned char der[256];
        size_t n = at_sign_raw(HG_JWS_RS256, p256, NULL, 0, input, strlen(input), der); /* ECDSA, DER, SHA-256 */
        char sig[400];
        hg_b64url_encode(der, n, sig);
        token = hg_xasprintf("%s.%s", input, sig);
        free(hb);
        free(pb);
        free(input);
        break;
    }
    case SIGN_EMPTY: {
        char *hb = at_b64(h->header), *pb = at_b64(payload);
        token = hg_xasprintf("%s.%s.", hb, pb);
        free(hb);
        free(pb);
        break;
    }
    }
    if (payload != h->payload)
        free(payload);
    switch (h->mutation) {
    case TAMPER_PAYLOAD: {
        char *pb = at_b64("{\"iss\":\"" ISS "\",\"aud\":\"hubgate\",\"sub\":\"admin\",\"exp\":1700000600}");
        t = replace_part(token, 1, pb);
        free(pb);
        free(token);
        token = t;
        break;
    }
    case TAMPER_HEADER: {
        char *hb = at_b64("{\"alg\":\"RS256\",\"kid\":\"rs1\",\"x\":1}");
        t = replace_part(token, 0, hb);
        free(hb);
        free(token);
        token = t;
        break;
    }
    case TAMPER_SIG: {
        char *last = strrchr(token, '.') + 1;
        last[10] = last[10] == 'A' ? 'B' : 'A';
        break;
    }
    case PAD_HEADER: {
        char *hb = at_b64(h->header), *padded = hg_xasprintf("%s=", hb);
        t = replace_part(token, 0, padded);
        free(hb);
        free(padded);
        free(token);
        token = t;
        break;
    }
    case NONCANONICAL_SIG: { /* 256 bytes encode to 342 characters whose last carries 4 unused bits */
        char *end = token + strlen(token) - 1;
        *end = *end == 'A' ? 'B' : *end == 'Q' ? 'R' : *end == 'g' ? 'h' : 'x';
        break;
    }
    case LONG_SIG:  /* 1367 characters decode to 1025 bytes, one more than any accepted signature */
    case MAX_SIG: { /* 1366 characters decode to exactly 1024 */
        size_t n = h->mutation == LONG_SIG ? 1367 : 1366;
        char *sig = hg_xmalloc(n + 1);
        memset(sig, 'A', n);
        sig[n] = '\0';
        t = replace_part(token, 2, sig);
        free(sig);
        free(token);
        token = t;
        break;
    }
    case LITERAL: {
        t = replace_part(token, 0, "eyJhbGciOiJSUzI1NiJ9*");
        free(token);
        token = t;
        break;
    }
    }
    t = at_bearer(token);
    free(token);
    return t;
}

START_TEST(hostile_tokens_refused)
{
    const struct hostile *h = &hostile[_i];
    char *authz = make_hostile(h);
    hg_principal_t *p = (hg_principal_t *)1;
    hg_auth_error_t err;
    int ret = hg_auth_verify(auth, NULL, authz, authz != NULL ? strlen(authz) : 0, NOW, &p, &err);
    ck_assert_msg(ret == -1, "%s: accepted", h->name);
    ck_assert_ptr_null(p);
    ck_assert_msg(strcmp(err.description, h->want) == 0, "%s: got \"%s\", want \"%s\"", h->name, err.description, h->want);
    ck_assert_msg(err.token_present == h->present, "%s: token_present %d", h->name, err.token_present);
    ck_assert_ptr_null(strchr(err.description, '"'));
    free(authz);
}
END_TEST

/* ---- rules, one test each ---- */

/* an RS256 token (kid rs1) with these claims; expects pass (want NULL) or that refusal */
static void expect(const char *header, const char *claims, int64_t now, const char *want)
{
    char *token = at_sign(HG_JWS_RS256, rsa, NULL, 0, header != NULL ? header : "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", claims);
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    int ret = verify_at(auth, NULL, token, now, &p, &err);
    if (want == NULL)
        ck_assert_msg(ret == 0, "%s: refused: %s", claims, err.description);
    else
        ck_assert_msg(ret == -1 && strcmp(err.description, want) == 0, "%s: got %d \"%s\"", claims, ret,
                      ret == 0 ? "" : err.description);
    hg_principal_release(p);
    free(token);
}

#define BASE "\"iss\":\"" ISS "\",\"aud\":\"hubgate\""

START_TEST(leeway_bounds)
{
    expect(NULL, "{" BASE ",\"exp\":1699999971}", NOW, NULL);
    expect(NULL, "{" BASE ",\"exp\":1699999970}", NOW, "token expired");
    expect(NULL, "{" BASE ",\"exp\":1699999970.5}", NOW, NULL);
    expect(NULL, "{" BASE ",\"exp\":1700000600,\"nbf\":1700000030}", NOW, NULL);
    expect(NULL, "{" BASE ",\"exp\":1700000600,\"nbf\":1700000030.5}", NOW, "token not yet valid");
    expect(NULL, "{" BASE ",\"exp\":1700000600,\"iat\":1700000030}", NOW, NULL);
    expect(NULL, "{" BASE ",\"exp\":1700000600,\"iat\":1700000031}", NOW, "token issued in the future");
    expect(NULL, "{" BASE ",\"exp\":1700000600,\"iat\":1600000000,\"nbf\":1600000000}", NOW, NULL);
    expect(NULL, "{" BASE ",\"exp\":1e300}", NOW, NULL);
    expect(NULL, "{" BASE ",\"exp\":-1e300}", NOW, "token expired");
    expect(NULL, "{" BASE ",\"exp\":true}", NOW, "malformed claim exp");
    expect(NULL, "{" BASE ",\"exp\":1700000600,\"nbf\":null}", NOW, "malformed claim nbf");
}
END_TEST

START_TEST(real_exp_rounds_down)
{
    char *token = at_sign(HG_JWS_RS256, rsa, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{" BASE ",\"exp\":1700000600.9}");
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    ck_assert_int_eq(verify_at(auth, NULL, token, NOW, &p, &err), 0);
    ck_assert_int_eq(p->exp, 1700000600);
    ck_assert_ptr_null(p->subject);
    ck_assert_ptr_null(p->client);
    ck_assert_uint_eq(p->num_scopes, 0);
    hg_principal_release(p);
    free(token);
}
END_TEST

START_TEST(audiences)
{
    expect(NULL, "{" BASE ",\"exp\":1700000600}", NOW, NULL);
    expect(NULL, "{\"iss\":\"" ISS "\",\"aud\":[\"x\",\"hubgate\"],\"exp\":1700000600}", NOW, NULL);
    expect(NULL, "{\"iss\":\"" ISS "\",\"aud\":[],\"exp\":1700000600}", NOW, "audience not accepted");
    expect(NULL, "{\"iss\":\"" ISS "\",\"aud\":\"HUBGATE\",\"exp\":1700000600}", NOW, "audience not accepted");
    expect(NULL, "{\"iss\":\"" ISS "\",\"aud\":[\"x\",7],\"exp\":1700000600}", NOW, "malformed claim aud");
    expect(NULL, "{\"iss\":\"" ISS "\",\"aud\":{\"a\":1},\"exp\":1700000600}", NOW, "malformed claim aud");
    /* an issuer with audiences: [] does not look at aud */
    char *token = at_sign(HG_JWS_RS256, rsa_other, NULL, 0, "{\"alg\":\"RS256\"}",
                          "{\"iss\":\"https://other.test\",\"aud\":7,\"exp\":1700000600}");
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    ck_assert_int_eq(verify_at(auth, NULL, token, NOW, &p, &err), 0);
    ck_assert_str_eq(p->issuer, "https://other.test");
    hg_principal_release(p);
    free(token);
}
END_TEST

START_TEST(key_choice)
{
    /* no kid: every key of the issuer pinned to the alg */
    expect("{\"alg\":\"RS256\"}", "{" BASE ",\"exp\":1700000600}", NOW, NULL);
    expect("{\"alg\":\"PS512\"}", "{" BASE ",\"exp\":1700000600}", NOW, "signature invalid");
    expect("{\"alg\":\"HS384\"}", "{" BASE ",\"exp\":1700000600}", NOW, "signature invalid");
    /* the other issuer has one kid-less RS256 key: tokens with or without a kid use it */
    const char *other = "{\"iss\":\"https://other.test\",\"exp\":1700000600}";
    char *t1 = at_sign(HG_JWS_RS256, rsa_other, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"anything\"}", other);
    char *t2 = at_sign(HG_JWS_RS256, rsa, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", other);
    char *t3 = at_sign(HG_JWS_ES256, p256, NULL, 0, "{\"alg\":\"ES256\"}", other);
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    ck_assert_int_eq(verify_at(auth, NULL, t1, NOW, &p, &err), 0);
    hg_principal_release(p);
    ck_assert_int_eq(verify_at(auth, NULL, t2, NOW, &p, &err), -1);
    ck_assert_str_eq(err.description, "unknown key id 'rs1'");
    ck_assert_int_eq(verify_at(auth, NULL, t3, NOW, &p, &err), -1);
    ck_assert_str_eq(err.description, "algorithm ES256 not allowed for this issuer");
    free(t1);
    free(t2);
    free(t3);
}
END_TEST

START_TEST(jwks_file_keys)
{
    const char *claims = "{" BASE ",\"exp\":1700000600}";
    char *rs = at_sign(HG_JWS_RS256, rsa_other, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"j-rs\"}", claims);
    char *ps = at_sign(HG_JWS_PS256, rsa_other, NULL, 0, "{\"alg\":\"PS256\",\"kid\":\"j-rs\"}", claims);
    char *es = at_sign(HG_JWS_ES256, p256, NULL, 0, "{\"alg\":\"ES256\",\"kid\":\"j-es\"}", claims);
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    ck_assert_int_eq(verify_at(auth, NULL, rs, NOW, &p, &err), 0);
    hg_principal_release(p);
    ck_assert_int_eq(verify_at(auth, NULL, es, NOW, &p, &err), 0);
    hg_principal_release(p);
    ck_assert_int_eq(verify_at(auth, NULL, ps, NOW, &p, &err), -1);
    ck_assert_str_eq(err.description, "algorithm PS256 not allowed for key j-rs");
    free(rs);
    free(ps);
    free(es);
}
END_TEST

START_TEST(header_forms)
{
    static const char *const typs[] = {"",
                                       ",\"typ\":\"JWT\"",
                                       ",\"typ\":\"jwt\"",
                                       ",\"typ\":\"at+jwt\"",
                                       ",\"typ\":\"AT+JWT\"",
                                       ",\"typ\":\"application/at+jwt\"",
                                       ",\"jku\":\"https://evil.test/jwks\""};
    for (size_t i = 0; i != sizeof(typs) / sizeof(typs[0]); ++i) {
        char *h = hg_xasprintf("{\"alg\":\"RS256\",\"kid\":\"rs1\"%s}", typs[i]);
        expect(h, "{" BASE ",\"exp\":1700000600}", NOW, NULL);
        free(h);
    }
    expect("{\"alg\":\"RS256\",\"kid\":\"rs1\",\"typ\":\"application/jws\"}", "{" BASE ",\"exp\":1700000600}", NOW,
           "token type 'application/jws' not accepted");
    char *token = at_sign(HG_JWS_RS256, rsa, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{" BASE ",\"exp\":1700000600}");
    static const char *const schemes[] = {"bearer", "BEARER", "bEaReR"};
    for (size_t i = 0; i != 3; ++i) {
        char *authz = hg_xasprintf("%s %s", schemes[i], token);
        hg_principal_t *p = NULL;
        hg_auth_error_t err;
        ck_assert_int_eq(hg_auth_verify(auth, NULL, authz, strlen(authz), NOW, &p, &err), 0);
        hg_principal_release(p);
        free(authz);
    }
    free(token);
}
END_TEST

START_TEST(scope_and_identity_claims)
{
    const char *hdr = "{\"alg\":\"RS256\",\"kid\":\"rs1\"}";
    char *t1 = at_sign(HG_JWS_RS256, rsa, NULL, 0, hdr,
                       "{" BASE ",\"exp\":1700000600,\"scp\":[\"b\",\"a\",\"b\"],\"sub\":7,\"azp\":\"svc-b\"}");
    char *t2 = at_sign(HG_JWS_RS256, rsa, NULL, 0, hdr,
                       "{" BASE ",\"exp\":1700000600,\"scope\":\" x  y \",\"scp\":[\"z\"],\"client_id\":1}");
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    ck_assert_int_eq(verify_at(auth, NULL, t1, NOW, &p, &err), 0);
    ck_assert_uint_eq(p->num_scopes, 2);
    ck_assert_str_eq(p->scopes[0], "a");
    ck_assert_str_eq(p->scopes[1], "b");
    ck_assert_ptr_null(p->subject);
    ck_assert_str_eq(p->client, "svc-b");
    hg_principal_release(p);
    ck_assert_int_eq(verify_at(auth, NULL, t2, NOW, &p, &err), 0);
    ck_assert_uint_eq(p->num_scopes, 2); /* scope wins over scp; empty pieces dropped */
    ck_assert_str_eq(p->scopes[0], "x");
    ck_assert_str_eq(p->scopes[1], "y");
    ck_assert_ptr_null(p->client);
    hg_principal_release(p);
    free(t1);
    free(t2);
}
END_TEST

/* scope strings that resemble a required one must not pass: exact match only */
static const struct {
    const char *granted;
    const char *required; /* a scopes_any entry */
    const char *from, *to;
    const char *want; /* the matched scope, or NULL */
} scope_cases[] = {
    {"crm.objects.contacts.write", "crm.objects.contacts.write", NULL, NULL, "crm.objects.contacts.write"},
    {"crm.objects.contacts", "crm.objects.contacts.write", NULL, NULL, NULL},
    {"objects.contacts.write", "crm.objects.contacts.write", NULL, NULL, NULL},
    {"crm.objects.contacts.write.all", "crm.objects.contacts.write", NULL, NULL, NULL},
    {"crm.objects.contacts.writer", "crm.objects.contacts.write", NULL, NULL, NULL},
    {"CRM.OBJECTS.CONTACTS.WRITE", "crm.objects.contacts.write", NULL, NULL, NULL},
    {"crm.objects.contacts.write,crm.objects.deals.write", "crm.objects.contacts.write", NULL, NULL, NULL},
    {"crm", "crm.objects.contacts.write", NULL, NULL, NULL},
    {"crm.objects.contacts.write", "crm.objects.{fromObjectType}.write", "contacts", "deals", "crm.objects.contacts.write"},
    {"crm.objects.contacts.write", "crm.objects.{toObjectType}.write", "contacts", "deals", NULL},
    {"crm.objects.contacts.write", "crm.objects.{fromObjectType}.write", NULL, "contacts", NULL},
    {"crm.objects.custom.write", "crm.objects.{fromObjectType}.write", "custom", NULL, "crm.objects.custom.write"},
    {"crm.objects.{fromObjectType}.write", "crm.objects.{fromObjectType}.write", "contacts", NULL, NULL},
};

START_TEST(scope_matching)
{
    char *claims = hg_xasprintf("{" BASE ",\"exp\":1700000600,\"scope\":\"%s\"}", scope_cases[_i].granted);
    char *token = at_sign(HG_JWS_RS256, rsa, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", claims);
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    ck_assert_int_eq(verify_at(auth, NULL, token, NOW, &p, &err), 0);
    json_t *any = json_pack("[s]", scope_cases[_i].required);
    hg_violations_t errors;
    hg_violations_init(&errors, 4);
    hg_scopeset_t *set = hg_scopeset_new(any, "/routes/0/scopes_any", &errors);
    ck_assert_ptr_nonnull(set);
    char buf[HG_SCOPE_MAX];
    const char *got = hg_scopeset_match(set, p, scope_cases[_i].from, scope_cases[_i].to, buf, sizeof(buf));
    if (scope_cases[_i].want == NULL)
        ck_assert_msg(got == NULL, "%s matched %s", scope_cases[_i].granted, got);
    else
        ck_assert_str_eq(got, scope_cases[_i].want);
    hg_scopeset_free(set);
    json_decref(any);
    hg_principal_release(p);
    free(token);
    free(claims);
}
END_TEST

START_TEST(cache_hits_and_bounds)
{
    hg_auth_cache_t *c = hg_auth_cache_new(auth);
    const char *hdr = "{\"alg\":\"ES256\",\"kid\":\"es1\"}";
    char *token = at_sign(HG_JWS_ES256, p256, NULL, 0, hdr, "{" BASE ",\"exp\":1700000600,\"nbf\":1699999990}");
    char *forged = at_sign(HG_JWS_ES256, p256, NULL, 0, hdr, "{" BASE ",\"exp\":1700000600,\"sub\":\"x\"}");
    /* break its signature with another base64url character (flipping a bit could leave the alphabet) */
    char *c5 = &forged[strlen(forged) - 5];
    *c5 = *c5 == 'A' ? 'B' : 'A';
    hg_principal_t *p1 = NULL, *p2 = NULL;
    hg_auth_error_t err;
    uint64_t hits, misses;
    ck_assert_int_eq(verify_at(auth, c, token, NOW, &p1, &err), 0);
    ck_assert_int_eq(verify_at(auth, c, token, NOW + 1, &p2, &err), 0);
    ck_assert_ptr_eq(p1, p2); /* the cached principal */
    hg_auth_cache_stats(c, &hits, &misses);
    ck_assert_uint_eq(hits, 1);
    ck_assert_uint_eq(misses, 1);
    hg_principal_release(p1);
    hg_principal_release(p2);
    /* a refusal is never cached as a pass, and each try is verified again */
    for (int i = 0; i != 2; ++i) {
        ck_assert_int_eq(verify_at(auth, c, forged, NOW, &p1, &err), -1);
        ck_assert_ptr_null(p1);
        ck_assert_str_eq(err.description, "signature invalid");
    }
    hg_auth_cache_stats(c, &hits, &misses);
    ck_assert_uint_eq(hits, 1);
    ck_assert_uint_eq(misses, 3);
    /* past exp + leeway the cached entry is not used: the token is verified again and refused */
    ck_assert_int_eq(verify_at(auth, c, token, 1700000630, &p1, &err), -1);
    ck_assert_str_eq(err.description, "token expired");
    /* before nbf - leeway (a clock going back) neither */
    ck_assert_int_eq(verify_at(auth, c, token, NOW, &p1, &err), 0);
    hg_principal_release(p1);
    ck_assert_int_eq(verify_at(auth, c, token, 1699999959, &p1, &err), -1);
    ck_assert_str_eq(err.description, "token not yet valid");
    hg_auth_cache_free(c);
    free(token);
    free(forged);
}
END_TEST

START_TEST(cache_bound_and_off)
{
    hg_auth_cache_t *c = hg_auth_cache_new(auth);
    char *token = at_sign(HG_JWS_RS256, rsa, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{" BASE ",\"exp\":1800000000}");
    hg_principal_t *p = NULL;
    hg_auth_error_t err;
    uint64_t hits, misses;
    ck_assert_int_eq(verify_at(auth, c, token, NOW, &p, &err), 0);
    hg_principal_release(p);
    ck_assert_int_eq(verify_at(auth, c, token, NOW + 299, &p, &err), 0);
    hg_principal_release(p);
    ck_assert_int_eq(verify_at(auth, c, token, NOW + 300, &p, &err), 0); /* 300 s bound: verified again */
    hg_principal_release(p);
    hg_auth_cache_stats(c, &hits, &misses);
    ck_assert_uint_eq(hits, 1);
    ck_assert_uint_eq(misses, 2);
    hg_auth_cache_free(c);

    json_t *conf = config();
    json_object_set_new(conf, "cache_entries", json_integer(0));
    json_object_set_new(conf, "require_exp", json_false());
    hg_violations_t errors;
    hg_violations_init(&errors, 4);
    hg_auth_t *a = hg_auth_new(conf, dir, &errors);
    ck_assert_ptr_nonnull(a);
    c = hg_auth_cache_new(a);
    char *noexp = at_sign(HG_JWS_RS256, rsa, NULL, 0, "{\"alg\":\"RS256\",\"kid\":\"rs1\"}", "{" BASE "}");
    for (int i = 0; i != 2; ++i) {
        ck_assert_int_eq(verify_at(a, c, noexp, NOW, &p, &err), 0);
        ck_assert_int_eq(p->exp, 0);
        hg_principal_release(p);
    }
    hg_auth_cache_stats(c, &hits, &misses);
    ck_assert_uint_eq(hits, 0);
    ck_assert_uint_eq(misses, 0);
    hg_auth_cache_free(c);
    hg_auth_free(a);
    json_decref(conf);
    free(noexp);
    free(token);
}
END_TEST

static void add_rule_cases(Suite *s)
{
    TCase *tc = tcase_create("rules");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, leeway_bounds);
    tcase_add_test(tc, real_exp_rounds_down);
    tcase_add_test(tc, audiences);
    tcase_add_test(tc, key_choice);
    tcase_add_test(tc, jwks_file_keys);
    tcase_add_test(tc, header_forms);
    tcase_add_test(tc, scope_and_identity_claims);
    tcase_add_loop_test(tc, scope_matching, 0, sizeof(scope_cases) / sizeof(scope_cases[0]));
    tcase_add_test(tc, cache_hits_and_bounds);
    tcase_add_test(tc, cache_bound_and_off);
    suite_add_tcase(s, tc);
}

int main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("algorithms");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, libjwt_tokens_verify, 0, sizeof(good) / sizeof(good[0]));
    tcase_add_loop_test(tc, openssl_tokens_verify, 0, sizeof(good) / sizeof(good[0]));
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, hostile_tokens_refused, 0, sizeof(hostile) / sizeof(hostile[0]));
    suite_add_tcase(s, tc);
    add_rule_cases(s);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
