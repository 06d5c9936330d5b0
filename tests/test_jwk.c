/*
 * test_jwk.c: key loading (PEM, secrets, JWKS) with the type/algorithm fit
 * rules, strict base64url, description sanitizing, and hg_jws_verify's own
 * refusal of a key pinned to another algorithm.
 */
#include "authtest.h"
#include "jwk.h"
#include "jws.h"
#include "util.h"

#include <check.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static char err[400];

START_TEST(b64url_strict)
{
    unsigned char out[16];
    ck_assert_int_eq(hg_b64url_decode("", 0, out), 0);
    ck_assert_int_eq(hg_b64url_decode("eyJ9", 4, out), 3);
    ck_assert_int_eq(memcmp(out, "{\"}", 3), 0);
    ck_assert_int_eq(hg_b64url_decode("YQ", 2, out), 1);
    ck_assert_int_eq(out[0], 'a');
    ck_assert_int_eq(hg_b64url_decode("YR", 2, out), -1);   /* unused bits set */
    ck_assert_int_eq(hg_b64url_decode("YQ==", 4, out), -1); /* padding */
    ck_assert_int_eq(hg_b64url_decode("Y", 1, out), -1);    /* impossible length */
    ck_assert_int_eq(hg_b64url_decode("a+b/", 4, out), -1); /* base64, not base64url */
    ck_assert_int_eq(hg_b64url_decode("-_-_", 4, out), 3);
    ck_assert_int_eq(hg_b64url_decode("ab\ncd", 5, out), -1);
    ck_assert_int_eq(hg_b64url_decode("ab\0d", 4, out), -1);
    unsigned char all[256];
    char enc[400];
    for (int i = 0; i != 256; ++i)
        all[i] = (unsigned char)i;
    for (size_t n = 0; n != 10; ++n) {
        size_t len = hg_b64url_encode(all + 250 - n, n, enc);
        ck_assert_uint_eq(len, (n * 4 + 2) / 3);
        ck_assert_int_eq(hg_b64url_decode(enc, len, out), (long)n);
        ck_assert_int_eq(memcmp(out, all + 250 - n, n), 0);
    }
}
END_TEST

START_TEST(sanitize_and_alg_names)
{
    char out[64];
    hg_jws_sanitize("k1.a_b:c/d+e-f", out, sizeof(out));
    ck_assert_str_eq(out, "k1.a_b:c/d+e-f");
    hg_jws_sanitize("a\"b\\c d\x01\xc3\xa9", out, sizeof(out));
    ck_assert_str_eq(out, "a?b?c?d???");
    hg_jws_sanitize("0123456789012345678901234567890123456789xyz", out, sizeof(out));
    ck_assert_str_eq(out, "0123456789012345678901234567890123456789...");
    ck_assert_int_eq(hg_jws_alg_from_name("RS256"), HG_JWS_RS256);
    ck_assert_int_eq(hg_jws_alg_from_name("EdDSA"), HG_JWS_EDDSA);
    ck_assert_int_eq(hg_jws_alg_from_name("rs256"), -1);
    ck_assert_int_eq(hg_jws_alg_from_name("EDDSA"), -1);
    ck_assert_int_eq(hg_jws_alg_from_name("none"), -1);
    ck_assert_int_eq(hg_jws_alg_from_name("Ed25519"), -1);
    ck_assert_str_eq(hg_jws_alg_name(HG_JWS_PS384), "PS384");
}
END_TEST

/* adds the public PEM of a fresh key of type `what`, pinned to alg; returns the loader's result */
static int add_pem(hg_keyset_t *ks, const char *what, hg_jws_alg_t alg)
{
    EVP_PKEY *pkey = at_keygen(what);
    char *pem = at_pubkey_pem(pkey);
    err[0] = '\0';
    int ret = hg_keyset_add_pem(ks, "k", alg, pem, strlen(pem), err, sizeof(err));
    free(pem);
    EVP_PKEY_free(pkey);
    return ret;
}

START_TEST(pem_fits_its_algorithm)
{
    hg_keyset_t *ks = hg_keyset_new();
    ck_assert_int_eq(add_pem(ks, "RSA", HG_JWS_PS512), 1);
    ck_assert_int_eq(add_pem(ks, "P-256", HG_JWS_ES256), 1);
    ck_assert_int_eq(add_pem(ks, "P-521", HG_JWS_ES512), 1);
    ck_assert_int_eq(add_pem(ks, "ED25519", HG_JWS_EDDSA), 1);
    ck_assert_uint_eq(ks->count, 4);
    ck_assert_int_eq(add_pem(ks, "P-256", HG_JWS_RS256), -1);
    ck_assert_str_eq(err, "EC P-256 key does not fit RS256");
    ck_assert_int_eq(add_pem(ks, "P-384", HG_JWS_ES256), -1);
    ck_assert_str_eq(err, "EC P-384 key does not fit ES256");
    ck_assert_int_eq(add_pem(ks, "RSA", HG_JWS_ES256), -1);
    ck_assert_str_eq(err, "RSA 2048 key does not fit ES256");
    ck_assert_int_eq(add_pem(ks, "ED25519", HG_JWS_ES256), -1);
    ck_assert_str_eq(err, "Ed25519 key does not fit ES256");
    ck_assert_int_eq(add_pem(ks, "RSA1024", HG_JWS_RS256), -1);
    ck_assert_str_eq(err, "RSA key of 1024 bits is too small for RS256 (2048 at least)");
    ck_assert_int_eq(add_pem(ks, "RSA", HG_JWS_HS256), -1);
    ck_assert_str_eq(err, "HS256 takes a secret (secret_file), not a public key");
    ck_assert_uint_eq(ks->count, 4);

    EVP_PKEY *pkey = at_keygen("P-256");
    char *priv = at_privkey_pem(pkey);
    ck_assert_int_eq(hg_keyset_add_pem(ks, NULL, HG_JWS_ES256, priv, strlen(priv), err, sizeof(err)), -1);
    ck_assert_str_eq(err, "holds a private key: give the public key (or a certificate)");
    ck_assert_int_eq(hg_keyset_add_pem(ks, NULL, HG_JWS_ES256, "hello", 5, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "no PEM public key or certificate found");
    /* a certificate carries a usable public key */
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, pkey);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC, (const unsigned char *)"idp", -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_sign(cert, pkey, EVP_sha256());
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    ck_assert_int_eq(hg_keyset_add_pem(ks, "cert", HG_JWS_ES256, data, (size_t)n, err, sizeof(err)), 1);
    ck_assert_str_eq(ks->keys[4]->kid, "cert");
    BIO_free(bio);
    X509_free(cert);
    free(priv);
    EVP_PKEY_free(pkey);
    hg_keyset_release(ks);
}
END_TEST

START_TEST(secrets)
{
    hg_keyset_t *ks = hg_keyset_new();
    const unsigned char s64[] = "0123456789012345678901234567890123456789012345678901234567890123";
    ck_assert_int_eq(hg_keyset_add_secret(ks, NULL, HG_JWS_HS256, s64, 31, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "secret of 31 bytes is too short for HS256 (32 at least)");
    ck_assert_int_eq(hg_keyset_add_secret(ks, NULL, HG_JWS_HS512, s64, 63, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "secret of 63 bytes is too short for HS512 (64 at least)");
    ck_assert_int_eq(hg_keyset_add_secret(ks, NULL, HG_JWS_HS256, s64, 0, err, sizeof(err)), -1);
    ck_assert_int_eq(hg_keyset_add_secret(ks, NULL, HG_JWS_RS256, s64, 64, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "RS256 takes a public key (pem_file), not a secret");
    ck_assert_int_eq(hg_keyset_add_secret(ks, "h", HG_JWS_HS256, s64, 32, err, sizeof(err)), 1);
    ck_assert_int_eq(hg_keyset_add_secret(ks, "h", HG_JWS_HS512, s64, 64, err, sizeof(err)), 1);
    ck_assert_uint_eq(ks->count, 2);
    ck_assert_ptr_nonnull(ks->keys[0]->hmac);
    ck_assert_ptr_null(ks->keys[0]->pkey);

    /* files: trailing CR/LF trimmed, so "secret\n" and "secret" are one key */
    char *dir = at_tmpdir();
    char *p1 = at_write(dir, "a", "0123456789abcdef0123456789abcdef\r\n", 34);
    char *p2 = at_write(dir, "b", "0123456789abcdef0123456789abcde\n", 32);
    ck_assert_int_eq(hg_keyset_add_secret_file(ks, "f", HG_JWS_HS256, p1, err, sizeof(err)), 1);
    ck_assert_int_eq(hg_keyset_add_secret_file(ks, "f", HG_JWS_HS256, p2, err, sizeof(err)), -1);
    char *want = hg_xasprintf("%s: secret of 31 bytes is too short for HS256 (32 at least)", p2);
    ck_assert_str_eq(err, want);
    char *missing = hg_xasprintf("%s/none", dir);
    ck_assert_int_eq(hg_keyset_add_secret_file(ks, "f", HG_JWS_HS256, missing, err, sizeof(err)), -1);
    free(want);
    want = hg_xasprintf("cannot read %s: No such file or directory", missing);
    ck_assert_str_eq(err, want);
    const char *hdr_payload = "eyJhbGciOiJIUzI1NiJ9.e30";
    hg_jws_t jws;
    char *token = at_sign(HG_JWS_HS256, NULL, "0123456789abcdef0123456789abcdef", 32, "{\"alg\":\"HS256\"}", "{}");
    ck_assert_int_eq(strncmp(token, hdr_payload, strlen(hdr_payload)), 0);
    ck_assert_int_eq(hg_jws_parse(token, strlen(token), &jws, err, sizeof(err)), 0);
    ck_assert_int_eq(hg_jws_verify(&jws, ks->keys[2]), 1);
    ck_assert_int_eq(hg_jws_verify(&jws, ks->keys[0]), 0); /* another secret */
    ck_assert_int_eq(hg_jws_verify(&jws, ks->keys[1]), 0); /* pinned to HS512 */
    hg_jws_dispose(&jws);
    free(token);
    free(want);
    free(missing);
    free(p1);
    free(p2);
    at_rmdir(dir);
    free(dir);
    hg_keyset_release(ks);
}
END_TEST

START_TEST(verify_refuses_other_alg_before_crypto)
{
    EVP_PKEY *rsa = at_keygen("RSA");
    char *pem = at_pubkey_pem(rsa);
    hg_keyset_t *ks = hg_keyset_new();
    ck_assert_int_eq(hg_keyset_add_pem(ks, "r", HG_JWS_RS256, pem, strlen(pem), err, sizeof(err)), 1);
    ck_assert_int_eq(hg_keyset_add_pem(ks, "p", HG_JWS_PS256, pem, strlen(pem), err, sizeof(err)), 1);
    char *rs = at_sign(HG_JWS_RS256, rsa, NULL, 0, "{\"alg\":\"RS256\"}", "{}");
    char *ps = at_sign(HG_JWS_PS256, rsa, NULL, 0, "{\"alg\":\"PS256\"}", "{}");
    hg_jws_t a, b;
    ck_assert_int_eq(hg_jws_parse(rs, strlen(rs), &a, err, sizeof(err)), 0);
    ck_assert_int_eq(hg_jws_parse(ps, strlen(ps), &b, err, sizeof(err)), 0);
    ck_assert_int_eq(hg_jws_verify(&a, ks->keys[0]), 1);
    ck_assert_int_eq(hg_jws_verify(&b, ks->keys[1]), 1);
    ck_assert_int_eq(hg_jws_verify(&a, ks->keys[1]), 0);
    ck_assert_int_eq(hg_jws_verify(&b, ks->keys[0]), 0);
    b.alg = HG_JWS_RS256; /* a PSS signature under the PKCS#1 v1.5 key */
    ck_assert_int_eq(hg_jws_verify(&b, ks->keys[0]), 0);
    hg_jws_dispose(&a);
    hg_jws_dispose(&b);
    free(rs);
    free(ps);
    free(pem);
    EVP_PKEY_free(rsa);
    hg_keyset_release(ks);
}
END_TEST

static int jwks(hg_keyset_t *ks, json_t *keys, unsigned algs, int flags)
{
    json_t *doc = json_pack("{s:o}", "keys", keys);
    char *text = json_dumps(doc, 0);
    err[0] = '\0';
    int n = hg_keyset_add_jwks(ks, text, strlen(text), algs, flags, err, sizeof(err));
    free(text);
    json_decref(doc);
    return n;
}

START_TEST(jwks_selection)
{
    EVP_PKEY *rsa = at_keygen("RSA"), *p256 = at_keygen("P-256"), *p384 = at_keygen("P-384"), *ed = at_keygen("ED25519");
    unsigned rs_ps = HG_ALG_BIT(HG_JWS_RS256) | HG_ALG_BIT(HG_JWS_PS256);
    hg_keyset_t *ks = hg_keyset_new();
    /* an RSA key without alg: pinned to each configured RSA alg */
    ck_assert_int_eq(jwks(ks, json_pack("[o]", at_jwk(rsa, "r", NULL)), rs_ps | HG_ALG_BIT(HG_JWS_ES256), HG_JWKS_STRICT), 2);
    ck_assert_int_eq(ks->keys[0]->alg, HG_JWS_RS256);
    ck_assert_int_eq(ks->keys[1]->alg, HG_JWS_PS256);
    ck_assert_ptr_eq(ks->keys[0]->pkey, ks->keys[1]->pkey);
    /* with alg: pinned to it; an alg not configured is skipped */
    ck_assert_int_eq(jwks(ks, json_pack("[o,o]", at_jwk(rsa, "r2", "PS256"), at_jwk(rsa, "r3", "RS512")), rs_ps, HG_JWKS_STRICT),
                     1);
    ck_assert_int_eq(ks->keys[2]->alg, HG_JWS_PS256);
    /* types hubgate does not use, encryption keys and keys without verify are skipped */
    json_t *enc = at_jwk(rsa, "e", NULL), *ops = at_jwk(p256, "o", NULL);
    json_object_set_new(enc, "use", json_string("enc"));
    json_object_set_new(ops, "key_ops", json_pack("[s]", "sign"));
    ck_assert_int_eq(jwks(ks,
                          json_pack("[o,o,{s:s,s:s},{s:s,s:s,s:s}]", enc, ops, "kty", "oct", "k", "c2VjcmV0", "kty", "OKP", "crv",
                                    "X25519", "x", "AAAA"),
                          rs_ps | HG_ALG_BIT(HG_JWS_ES256) | HG_ALGS_HMAC, HG_JWKS_STRICT | HG_JWKS_NO_OCT),
                     0);
    ck_assert_int_eq(jwks(ks, json_pack("[o,o]", at_jwk(p384, "e3", NULL), at_jwk(ed, "ed", NULL)),
                          HG_ALG_BIT(HG_JWS_ES384) | HG_ALG_BIT(HG_JWS_EDDSA), HG_JWKS_STRICT),
                     2);
    ck_assert_uint_eq(ks->count, 5);
    ck_assert_int_eq(ks->keys[3]->alg, HG_JWS_ES384);
    ck_assert_int_eq(ks->keys[4]->alg, HG_JWS_EDDSA);
    /* an oct key from a file becomes an HMAC key */
    ck_assert_int_eq(
        jwks(ks, json_pack("[{s:s,s:s,s:s}]", "kty", "oct", "kid", "h", "k", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"),
             HG_ALG_BIT(HG_JWS_HS256), HG_JWKS_STRICT),
        1);
    hg_keyset_release(ks);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed);
}
END_TEST

START_TEST(jwks_problems)
{
    EVP_PKEY *p256 = at_keygen("P-256"), *p384 = at_keygen("P-384"), *rsa1k = at_keygen("RSA1024");
    unsigned es = HG_ALG_BIT(HG_JWS_ES256) | HG_ALG_BIT(HG_JWS_ES384) | HG_ALG_BIT(HG_JWS_RS256);
    hg_keyset_t *ks = hg_keyset_new();
    /* a P-384 key that claims ES256 */
    ck_assert_int_eq(jwks(ks, json_pack("[o]", at_jwk(p384, "x", "ES256")), es, HG_JWKS_STRICT), -1);
    ck_assert_str_eq(err, "keys[0] (kid x): alg ES256 does not fit kty EC P-384");
    ck_assert_int_eq(jwks(ks, json_pack("[o]", at_jwk(p256, NULL, "RS256")), es, HG_JWKS_STRICT), -1);
    ck_assert_str_eq(err, "keys[0]: alg RS256 does not fit kty EC P-256");
    /* without STRICT the bad key is skipped, the good one kept, and the problem noted */
    ck_assert_int_eq(jwks(ks, json_pack("[o,o]", at_jwk(p384, "x", "ES256"), at_jwk(p256, "g", NULL)), es, 0), 1);
    ck_assert_str_eq(err, "keys[0] (kid x): alg ES256 does not fit kty EC P-384");
    ck_assert_int_eq(jwks(ks, json_pack("[o]", at_jwk(rsa1k, "small", NULL)), es, HG_JWKS_STRICT), -1);
    ck_assert_str_eq(err, "keys[0] (kid small): RSA key of 1024 bits is too small for RS256 (2048 at least)");
    /* a point off the curve, a short coordinate */
    json_t *off = at_jwk(p256, "off", NULL), *shortx = at_jwk(p256, "short", NULL);
    json_object_set_new(off, "y", json_object_get(off, "x") != NULL ? json_copy(json_object_get(off, "x")) : NULL);
    json_object_set_new(shortx, "x", json_string("AAAA"));
    ck_assert_int_eq(jwks(ks, json_pack("[o]", off), es, HG_JWKS_STRICT), -1);
    ck_assert_str_eq(err, "keys[0] (kid off): EC key is not a point of its curve");
    ck_assert_int_eq(jwks(ks, json_pack("[o]", shortx), es, HG_JWKS_STRICT), -1);
    ck_assert_str_eq(err, "keys[0] (kid short): EC key needs base64url members x and y of the curve's size");
    ck_assert_int_eq(jwks(ks, json_pack("[{s:s,s:s}]", "kty", "RSA", "n", "AQAB"), es, HG_JWKS_STRICT), -1);
    ck_assert_str_eq(err, "keys[0]: RSA key needs base64url members n and e");
    ck_assert_int_eq(
        jwks(ks, json_pack("[{s:s,s:s,s:s}]", "kty", "oct", "kid", "h", "k", "c2hvcnQ"), HG_ALG_BIT(HG_JWS_HS256), HG_JWKS_STRICT),
        -1);
    ck_assert_str_eq(err, "keys[0] (kid h): secret of 5 bytes is too short for HS256 (32 at least)");
    ck_assert_int_eq(jwks(ks, json_pack("[{s:i}]", "kty", 1), es, HG_JWKS_STRICT), -1);
    ck_assert_str_eq(err, "keys[0]: kty missing");
    ck_assert_int_eq(hg_keyset_add_jwks(ks, "{\"keys\":{}}", 11, es, 0, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "not a valid JWKS: no \"keys\" array");
    ck_assert_int_eq(hg_keyset_add_jwks(ks, "{\"keys\":[],\"keys\":[]}", 21, es, 0, err, sizeof(err)), -1);
    ck_assert_int_eq(strncmp(err, "not a valid JWKS: line 1: duplicate object key", 46), 0);
    ck_assert_uint_eq(ks->count, 1);
    hg_keyset_release(ks);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(rsa1k);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jwk");
    TCase *tc = tcase_create("encoding");
    tcase_add_test(tc, b64url_strict);
    tcase_add_test(tc, sanitize_and_alg_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("keys");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, pem_fits_its_algorithm);
    tcase_add_test(tc, secrets);
    tcase_add_test(tc, verify_refuses_other_alg_before_crypto);
    tcase_add_test(tc, jwks_selection);
    tcase_add_test(tc, jwks_problems);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
