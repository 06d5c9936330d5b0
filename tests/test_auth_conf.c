/*
 * test_auth_conf.c: hg_auth_new's checks of the /auth object: each problem
 * with its JSON pointer, code and message, and the key-type/algorithm fit
 * rules as `hubgate -t` reports them.
 */
#include "auth.h"
#include "authtest.h"
#include "util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static char *dir;
static EVP_PKEY *rsa;

static void setup(void)
{
    dir = at_tmpdir();
    EVP_PKEY *p256 = at_keygen("P-256"), *p384 = at_keygen("P-384");
    rsa = at_keygen("RSA");
    char *pem = at_pubkey_pem(rsa);
    free(at_write(dir, "rsa.pem", pem, strlen(pem)));
    free(pem);
    pem = at_pubkey_pem(p256);
    free(at_write(dir, "p256.pem", pem, strlen(pem)));
    free(pem);
    free(at_write(dir, "short.secret", "tooshort\n", 9));
    json_t *jwks = json_pack("{s:[o]}", "keys", at_jwk(p384, "x", "ES256"));
    char *text = json_dumps(jwks, 0);
    free(at_write(dir, "bad.jwks", text, strlen(text)));
    free(text);
    json_decref(jwks);
    jwks = json_pack("{s:[o]}", "keys", at_jwk(p256, "x", NULL));
    text = json_dumps(jwks, 0);
    free(at_write(dir, "p256.jwks", text, strlen(text)));
    free(text);
    json_decref(jwks);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
}

static void teardown(void)
{
    EVP_PKEY_free(rsa);
    at_rmdir(dir);
    free(dir);
}

/* builds from JSON text; returns the problems (the auth, if built, is freed) */
static hg_violations_t load(const char *json, int *built)
{
    json_error_t e;
    json_t *conf = json_loads(json, 0, &e);
    ck_assert_msg(conf != NULL, "%s", e.text);
    hg_violations_t v;
    hg_violations_init(&v, 20);
    hg_auth_t *a = hg_auth_new(conf, dir, &v);
    *built = a != NULL;
    hg_auth_free(a);
    json_decref(conf);
    return v;
}

#define ISSUERS(keys) "\"issuers\":[{\"issuer\":\"https://idp\",\"audiences\":[\"gw\"],\"keys\":[" keys "]}]}"
#define ISSUER(keys) "{" ISSUERS(keys)

static const struct {
    const char *json;
    const char *in, *code, *message; /* the first problem; message with %s for the temp dir */
} bad[] = {
    {"[]", "/auth", "type", "auth must be an object"},
    {"{}", "/auth/issuers", "required", "issuers is required"},
    {"{\"issuers\":[]}", "/auth/issuers", "minItems", "issuers must be an array of at least one issuer"},
    {"{\"issuers\":[{\"audiences\":[],\"keys\":[{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"}]}]}", "/auth/issuers/0/issuer",
     "required", "issuer is required"},
    {"{\"issuers\":[{\"issuer\":\"i\",\"audiences\":\"gw\",\"keys\":[{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"}]}]}",
     "/auth/issuers/0/audiences", "type", "audiences must be an array of strings"},
    {"{\"issuers\":[{\"issuer\":\"i\",\"audiences\":[]}]}", "/auth/issuers/0/keys", "required", "keys is required"},
    {ISSUER("{\"alg\":\"RS256\"}"), "/auth/issuers/0/keys/0", "oneOf",
     "a key needs exactly one of pem_file, secret_file, jwks_file, jwks_url"},
    {ISSUER("{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\",\"secret_file\":\"short.secret\"}"), "/auth/issuers/0/keys/0", "oneOf",
     "a key needs exactly one of pem_file, secret_file, jwks_file, jwks_url"},
    {ISSUER("{\"pem_file\":\"rsa.pem\"}"), "/auth/issuers/0/keys/0/alg", "required", "alg is required"},
    {ISSUER("{\"alg\":\"rs256\",\"pem_file\":\"rsa.pem\"}"), "/auth/issuers/0/keys/0/alg", "enum",
     "unknown algorithm \"rs256\" (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, EdDSA)"},
    {ISSUER("{\"alg\":\"none\",\"pem_file\":\"rsa.pem\"}"), "/auth/issuers/0/keys/0/alg", "enum",
     "unknown algorithm \"none\" (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, EdDSA)"},
    {ISSUER("{\"alg\":\"HS256\",\"pem_file\":\"rsa.pem\"}"), "/auth/issuers/0/keys/0/pem_file", "invalid_key",
     "%s/rsa.pem: HS256 takes a secret (secret_file), not a public key"},
    {ISSUER("{\"alg\":\"RS256\",\"pem_file\":\"p256.pem\"}"), "/auth/issuers/0/keys/0/pem_file", "invalid_key",
     "%s/p256.pem: EC P-256 key does not fit RS256"},
    {ISSUER("{\"alg\":\"ES384\",\"pem_file\":\"p256.pem\"}"), "/auth/issuers/0/keys/0/pem_file", "invalid_key",
     "%s/p256.pem: EC P-256 key does not fit ES384"},
    {ISSUER("{\"alg\":\"RS256\",\"pem_file\":\"missing.pem\"}"), "/auth/issuers/0/keys/0/pem_file", "invalid_key",
     "cannot read %s/missing.pem: No such file or directory"},
    {ISSUER("{\"alg\":\"HS256\",\"secret_file\":\"short.secret\"}"), "/auth/issuers/0/keys/0/secret_file", "invalid_key",
     "%s/short.secret: secret of 8 bytes is too short for HS256 (32 at least)"},
    {ISSUER("{\"alg\":\"RS256\",\"secret_file\":\"short.secret\"}"), "/auth/issuers/0/keys/0/secret_file", "invalid_key",
     "%s/short.secret: RS256 takes a public key (pem_file), not a secret"},
    {ISSUER("{\"jwks_file\":\"bad.jwks\",\"algs\":[\"ES256\"]}"), "/auth/issuers/0/keys/0/jwks_file", "invalid_key",
     "%s/bad.jwks: keys[0] (kid x): alg ES256 does not fit kty EC P-384"},
    {ISSUER("{\"jwks_file\":\"p256.jwks\",\"algs\":[\"RS256\"]}"), "/auth/issuers/0/keys/0/jwks_file", "invalid_key",
     "%s/p256.jwks: no key fits the algorithms in algs"},
    {ISSUER("{\"jwks_file\":\"p256.jwks\"}"), "/auth/issuers/0/keys/0/algs", "required",
     "algs is required with jwks_file and jwks_url"},
    {ISSUER("{\"jwks_file\":\"p256.jwks\",\"algs\":[\"ES256\"],\"kid\":\"k\"}"), "/auth/issuers/0/keys/0/kid",
     "additionalProperties", "kid is for pem_file and secret_file keys (a JWKS names its own)"},
    {ISSUER("{\"jwks_url\":\"ftp://idp/jwks\",\"algs\":[\"RS256\"]}"), "/auth/issuers/0/keys/0/jwks_url", "format",
     "jwks_url must be an http:// or https:// URL"},
    {ISSUER("{\"jwks_url\":\"https://idp/jwks\",\"algs\":[\"HS256\"]}"), "/auth/issuers/0/keys/0/algs/0", "enum",
     "HS256 keys are secrets and cannot come from a jwks_url"},
    {ISSUER("{\"jwks_url\":\"https://idp/jwks\",\"algs\":[\"RS256\"],\"refresh_s\":0}"), "/auth/issuers/0/keys/0/refresh_s",
     "minimum", "refresh_s must be at least 1"},
    {ISSUER("{\"jwks_url\":\"https://idp/jwks\",\"algs\":[\"RS256\"],\"ca_file\":\"nope.pem\"}"), "/auth/issuers/0/keys/0/ca_file",
     "invalid_key", "cannot read %s/nope.pem"},
    {ISSUER("{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\",\"refresh_s\":5}"), "/auth/issuers/0/keys/0/refresh_s",
     "additionalProperties", "refresh_s is for jwks_url keys"},
    {"{\"leeway_s\":-1," ISSUERS("{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"}"), "/auth/leeway_s", "minimum",
     "leeway_s must be at least 0"},
    {"{\"require_exp\":\"yes\"," ISSUERS("{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"}"), "/auth/require_exp", "type",
     "require_exp must be true or false"},
    {"{\"scope_claims\":[\"scope\",3]," ISSUERS("{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"}"), "/auth/scope_claims/1", "type",
     "scope_claims entries must be non-empty strings"},
    {"{\"cache_entries\":1.5," ISSUERS("{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"}"), "/auth/cache_entries", "type",
     "cache_entries must be an integer"},
    {"{\"max_token_bytes\":10," ISSUERS("{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"}"), "/auth/max_token_bytes", "minimum",
     "max_token_bytes must be at least 256"},
    {"{\"leeway_s\":3601," ISSUERS("{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"}"), "/auth/leeway_s", "maximum",
     "leeway_s must be at most 3600"},
    {"{\"issuers\":[{\"issuer\":\"i\",\"audiences\":[],\"keys\":[{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"}]},"
     "{\"issuer\":\"i\",\"audiences\":[],\"keys\":[{\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"}]}]}",
     "/auth/issuers/1/issuer", "uniqueItems", "issuer \"i\" is configured twice"},
};

/* the message with "%s" replaced by the temporary directory */
static char *with_dir(const char *msg)
{
    const char *at = strstr(msg, "%s");
    if (at == NULL)
        return hg_xstrdup(msg);
    return hg_xasprintf("%.*s%s%s", (int)(at - msg), msg, dir, at + 2);
}

START_TEST(refused_configurations)
{
    int built;
    hg_violations_t v = load(bad[_i].json, &built);
    ck_assert_int_eq(built, 0);
    ck_assert_uint_ge(v.count, 1);
    char *want = with_dir(bad[_i].message);
    ck_assert_str_eq(v.items[0].in, bad[_i].in);
    ck_assert_str_eq(v.items[0].code, bad[_i].code);
    ck_assert_str_eq(v.items[0].message, want);
    free(want);
    hg_violations_clear(&v);
}
END_TEST

START_TEST(every_problem_reported)
{
    int built;
    hg_violations_t v = load("{\"leeway_s\":\"x\",\"issuers\":[{\"issuer\":\"i\",\"audiences\":[],\"keys\":["
                             "{\"alg\":\"RS256\",\"pem_file\":\"p256.pem\"},{\"alg\":\"PS256\",\"pem_file\":\"p256.pem\"}]}]}",
                             &built);
    ck_assert_int_eq(built, 0);
    ck_assert_uint_eq(v.count, 3);
    ck_assert_str_eq(v.items[0].in, "/auth/leeway_s");
    ck_assert_str_eq(v.items[1].in, "/auth/issuers/0/keys/0/pem_file");
    ck_assert_str_eq(v.items[2].in, "/auth/issuers/0/keys/1/pem_file");
    hg_violations_clear(&v);
}
END_TEST

START_TEST(good_configurations)
{
    int built;
    hg_violations_t v = load(ISSUER("{\"kid\":\"a\",\"alg\":\"RS256\",\"pem_file\":\"rsa.pem\"},"
                                    "{\"jwks_file\":\"p256.jwks\",\"algs\":[\"ES256\",\"RS256\"]},"
                                    "{\"jwks_url\":\"https://idp.invalid/jwks\",\"algs\":[\"RS256\",\"EdDSA\"],\"ca_file\":null}"),
                             &built);
    ck_assert_uint_eq(v.count, 0);
    ck_assert_int_eq(built, 1);
    char *abs = hg_xasprintf(
        "{\"issuers\":[{\"issuer\":\"i\",\"audiences\":[],\"keys\":[{\"alg\":\"PS384\",\"pem_file\":\"%s/rsa.pem\"}]}]}", dir);
    v = load(abs, &built);
    ck_assert_uint_eq(v.count, 0);
    ck_assert_int_eq(built, 1);
    free(abs);
}
END_TEST

START_TEST(audiences_default_to_hubgate)
{
    json_t *conf = json_pack("{s:[{s:s,s:[{s:s,s:s}]}]}", "issuers", "issuer", "i", "keys", "alg", "RS256", "pem_file", "rsa.pem");
    hg_violations_t v;
    hg_violations_init(&v, 4);
    hg_auth_t *a = hg_auth_new(conf, dir, &v);
    ck_assert_ptr_nonnull(a);
    static const struct {
        const char *claims, *want;
    } cases[] = {{"{\"iss\":\"i\",\"aud\":\"hubgate\",\"exp\":1700000600}", NULL},
                 {"{\"iss\":\"i\",\"aud\":\"other\",\"exp\":1700000600}", "audience not accepted"},
                 {"{\"iss\":\"i\",\"exp\":1700000600}", "aud claim missing"}};
    for (size_t i = 0; i != 3; ++i) {
        char *token = at_sign(HG_JWS_RS256, rsa, NULL, 0, "{\"alg\":\"RS256\"}", cases[i].claims);
        char *authz = at_bearer(token);
        hg_principal_t *p = NULL;
        hg_auth_error_t err;
        int ret = hg_auth_verify(a, NULL, authz, strlen(authz), 1700000000, &p, &err);
        if (cases[i].want == NULL)
            ck_assert_int_eq(ret, 0);
        else
            ck_assert_str_eq(err.description, cases[i].want);
        hg_principal_release(p);
        free(authz);
        free(token);
    }
    hg_auth_free(a);
    json_decref(conf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth_conf");
    TCase *tc = tcase_create("conf");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, refused_configurations, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, every_problem_reported);
    tcase_add_test(tc, good_configurations);
    tcase_add_test(tc, audiences_default_to_hubgate);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
