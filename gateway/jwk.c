/*
 * jwk.c: loading verification keys (PEM, HMAC secrets, JWKS) into OpenSSL
 * objects once, each pinned to one algorithm and checked to fit it. See jwk.h.
 */
#include "jwk.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_RSA_BITS 2048
#define MAX_RSA_BITS (HG_JWS_MAX_SIG * 8) /* a larger key's signatures would not fit a token's */

hg_keyset_t *hg_keyset_new(void)
{
    hg_keyset_t *ks = hg_xcalloc(1, sizeof(*ks));
    ks->refcnt = 1;
    return ks;
}

hg_keyset_t *hg_keyset_retain(hg_keyset_t *ks)
{
    __atomic_fetch_add(&ks->refcnt, 1, __ATOMIC_RELAXED);
    return ks;
}

void hg_keyset_release(hg_keyset_t *ks)
{
    if (ks == NULL || __atomic_sub_fetch(&ks->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i != ks->count; ++i) {
        hg_jwk_t *k = ks->keys[i];
        free(k->kid);
        EVP_PKEY_free(k->pkey);
        EVP_MD_free(k->md);
        EVP_MAC_CTX_free(k->hmac);
        free(k);
    }
    free(ks->keys);
    free(ks);
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    ERR_clear_error();
    return -1;
}

/* takes its own reference to pkey and hmac (hmac: steals) */
static void add_key(hg_keyset_t *ks, const char *kid, hg_jws_alg_t alg, EVP_PKEY *pkey, EVP_MAC_CTX *hmac)
{
    hg_jwk_t *k = hg_xcalloc(1, sizeof(*k));
    k->kid = kid != NULL ? hg_xstrdup(kid) : NULL;
    k->alg = alg;
    if (pkey != NULL && EVP_PKEY_up_ref(pkey) == 1)
        k->pkey = pkey;
    k->hmac = hmac;
    if (hg_jws_alg_digest(alg) != NULL && (k->md = EVP_MD_fetch(NULL, hg_jws_alg_digest(alg), NULL)) == NULL)
        abort(); /* SHA-2 missing from the default provider: nothing can work */
    if (ks->count == ks->cap) {
        ks->cap = ks->cap == 0 ? 4 : ks->cap * 2;
        ks->keys = hg_xrealloc(ks->keys, ks->cap * sizeof(*ks->keys));
    }
    ks->keys[ks->count++] = k;
}

static const char *curve_display(const char *group)
{
    if (strcmp(group, "prime256v1") == 0)
        return "P-256";
    if (strcmp(group, "secp384r1") == 0)
        return "P-384";
    if (strcmp(group, "secp521r1") == 0)
        return "P-521";
    return group;
}

static void describe_pkey(EVP_PKEY *pkey, char *out, size_t outsize)
{
    char group[64];
    size_t glen = 0;
    if (EVP_PKEY_is_a(pkey, "RSA"))
        snprintf(out, outsize, "RSA %d", EVP_PKEY_get_bits(pkey));
    else if (EVP_PKEY_is_a(pkey, "EC") && EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1)
        snprintf(out, outsize, "EC %s", curve_display(group));
    else if (EVP_PKEY_is_a(pkey, "ED25519"))
        snprintf(out, outsize, "Ed25519");
    else
        snprintf(out, outsize, "%s", EVP_PKEY_get0_type_name(pkey) != NULL ? EVP_PKEY_get0_type_name(pkey) : "unknown");
}

void hg_jwk_describe(const hg_jwk_t *key, char *out, size_t outsize)
{
    if (key->pkey != NULL)
        describe_pkey(key->pkey, out, outsize);
    else
        snprintf(out, outsize, "HMAC");
}

/* 0 when the public key can verify alg, else -1 and the reason */
static int check_fit(EVP_PKEY *pkey, hg_jws_alg_t alg, char *err, size_t errsize)
{
    char desc[64], group[64];
    size_t glen = 0;
    describe_pkey(pkey, desc, sizeof(desc));
    switch (hg_jws_alg_family(alg)) {
    case HG_JWS_HMAC:
        return fail(err, errsize, "%s takes a secret (secret_file), not a public key", hg_jws_alg_name(alg));
    case HG_JWS_RSA:
    case HG_JWS_RSA_PSS:
        if (!EVP_PKEY_is_a(pkey, "RSA"))
            break;
        if (EVP_PKEY_get_bits(pkey) < MIN_RSA_BITS)
            return fail(err, errsize, "RSA key of %d bits is too small for %s (%d at least)", EVP_PKEY_get_bits(pkey),
                        hg_jws_alg_name(alg), MIN_RSA_BITS);
        if (EVP_PKEY_get_bits(pkey) > MAX_RSA_BITS)
            return fail(err, errsize, "RSA key of %d bits is too large for %s (%d at most)", EVP_PKEY_get_bits(pkey),
                        hg_jws_alg_name(alg), MAX_RSA_BITS);
        return 0;
    case HG_JWS_ECDSA:
        if (EVP_PKEY_is_a(pkey, "EC") && EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1 &&
            strcmp(group, hg_jws_alg_curve(alg)) == 0)
            return 0;
        break;
    case HG_JWS_ED25519:
        if (EVP_PKEY_is_a(pkey, "ED25519"))
            return 0;
        break;
    }
    return fail(err, errsize, "%s key does not fit %s", desc, hg_jws_alg_name(alg));
}

static EVP_PKEY *decode_pem(const char *pem, size_t len)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    const unsigned char *p = (const unsigned char *)pem;
    size_t left = len;
    if (dctx != NULL)
        OSSL_DECODER_from_data(dctx, &p, &left);
    OSSL_DECODER_CTX_free(dctx);
    if (pkey == NULL) {
        BIO *bio = BIO_new_mem_buf(pem, (int)len);
        X509 *cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        if (cert != NULL)
            pkey = X509_get_pubkey(cert);
        X509_free(cert);
        BIO_free(bio);
    }
    ERR_clear_error();
    return pkey;
}

int hg_keyset_add_pem(hg_keyset_t *ks, const char *kid, hg_jws_alg_t alg, const char *pem, size_t len, char *err, size_t errsize)
{
    if (hg_jws_alg_family(alg) == HG_JWS_HMAC)
        return fail(err, errsize, "%s takes a secret (secret_file), not a public key", hg_jws_alg_name(alg));
    if (memmem(pem, len, "PRIVATE KEY-----", 16) != NULL)
        return fail(err, errsize, "holds a private key: give the public key (or a certificate)");
    EVP_PKEY *pkey = decode_pem(pem, len);
    if (pkey == NULL)
        return fail(err, errsize, "no PEM public key or certificate found");
    int ret = check_fit(pkey, alg, err, errsize);
    if (ret == 0) {
        add_key(ks, kid, alg, pkey, NULL);
        ret = 1;
    }
    EVP_PKEY_free(pkey);
    return ret;
}

static char *read_whole(const char *path, size_t *len, char *err, size_t errsize)
{
    char *data = hg_read_file(path, len);
    if (data == NULL)
        fail(err, errsize, "cannot read %s: %s", path, strerror(errno));
    return data;
}

int hg_keyset_add_pem_file(hg_keyset_t *ks, const char *kid, hg_jws_alg_t alg, const char *path, char *err, size_t errsize)
{
    size_t len;
    char *pem = read_whole(path, &len, err, errsize);
    if (pem == NULL)
        return -1;
    char why[200];
    int ret = hg_keyset_add_pem(ks, kid, alg, pem, len, why, sizeof(why));
    if (ret < 0)
        fail(err, errsize, "%s: %s", path, why);
    OPENSSL_cleanse(pem, len);
    free(pem);
    return ret;
}

int hg_keyset_add_secret(hg_keyset_t *ks, const char *kid, hg_jws_alg_t alg, const unsigned char *secret, size_t len, char *err,
                         size_t errsize)
{
    if (hg_jws_alg_family(alg) != HG_JWS_HMAC)
        return fail(err, errsize, "%s takes a public key (pem_file), not a secret", hg_jws_alg_name(alg));
    if (len < hg_jws_alg_digest_size(alg))
        return fail(err, errsize, "secret of %zu bytes is too short for %s (%zu at least)", len, hg_jws_alg_name(alg),
                    hg_jws_alg_digest_size(alg));
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)hg_jws_alg_digest(alg), 0),
                           OSSL_PARAM_construct_end()};
    if (ctx == NULL || EVP_MAC_init(ctx, secret, len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return fail(err, errsize, "cannot set up HMAC for %s", hg_jws_alg_name(alg));
    }
    add_key(ks, kid, alg, NULL, ctx);
    return 1;
}

int hg_keyset_add_secret_file(hg_keyset_t *ks, const char *kid, hg_jws_alg_t alg, const char *path, char *err, size_t errsize)
{
    size_t len;
    char *secret = read_whole(path, &len, err, errsize);
    if (secret == NULL)
        return -1;
    size_t full = len;
    while (len != 0 && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
        --len;
    char why[200];
    int ret = hg_keyset_add_secret(ks, kid, alg, (const unsigned char *)secret, len, why, sizeof(why));
    if (ret < 0)
        fail(err, errsize, "%s: %s", path, why);
    OPENSSL_cleanse(secret, full);
    free(secret);
    return ret;
}

/* ---- JWKS ---- */

/* decodes a base64url member; NULL when missing, not a string or not base64url */
static unsigned char *member_bytes(const json_t *jwk, const char *name, size_t *len)
{
    const json_t *v = json_object_get(jwk, name);
    if (!json_is_string(v))
        return NULL;
    size_t slen = json_string_length(v);
    unsigned char *out = hg_xmalloc(slen / 4 * 3 + 3);
    long n = hg_b64url_decode(json_string_value(v), slen, out);
    if (n <= 0) {
        free(out);
        return NULL;
    }
    *len = (size_t)n;
    return out;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_from_jwk(const json_t *jwk, const char **why)
{
    size_t nlen = 0, elen = 0;
    unsigned char *n = member_bytes(jwk, "n", &nlen), *e = member_bytes(jwk, "e", &elen);
    EVP_PKEY *pkey = NULL;
    *why = "RSA key needs base64url members n and e";
    if (n != NULL && e != NULL) {
        BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bn != NULL && be != NULL && bld != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
            pkey = pkey_fromdata("RSA", bld);
        OSSL_PARAM_BLD_free(bld);
        BN_free(bn);
        BN_free(be);
        *why = "RSA key is not valid";
    }
    free(n);
    free(e);
    return pkey;
}

static EVP_PKEY *ec_from_jwk(const json_t *jwk, hg_jws_alg_t alg, const char **why)
{
    size_t size = hg_jws_alg_ec_size(alg), xlen = 0, ylen = 0;
    unsigned char *x = member_bytes(jwk, "x", &xlen), *y = member_bytes(jwk, "y", &ylen);
    EVP_PKEY *pkey = NULL;
    *why = "EC key needs base64url members x and y of the curve's size";
    if (x != NULL && y != NULL && xlen == size && ylen == size) {
        unsigned char point[1 + 2 * 66];
        point[0] = 0x04; /* uncompressed */
        memcpy(point + 1, x, size);
        memcpy(point + 1 + size, y, size);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld != NULL && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, hg_jws_alg_curve(alg), 0) == 1 &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size) == 1)
            pkey = pkey_fromdata("EC", bld);
        OSSL_PARAM_BLD_free(bld);
        *why = "EC key is not a point of its curve";
    }
    free(x);
    free(y);
    return pkey;
}

static EVP_PKEY *okp_from_jwk(const json_t *jwk, const char **why)
{
    size_t xlen = 0;
    unsigned char *x = member_bytes(jwk, "x", &xlen);
    EVP_PKEY *pkey = NULL;
    *why = "Ed25519 key needs a base64url member x of 32 bytes";
    if (x != NULL && xlen == 32)
        pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xlen);
    free(x);
    return pkey;
}

/* the algorithms a key of this kty/crv can verify; 0 for a type hubgate does not use */
static unsigned fitting_algs(const char *kty, const char *crv, int flags)
{
    if (strcmp(kty, "RSA") == 0)
        return HG_ALG_BIT(HG_JWS_RS256) | HG_ALG_BIT(HG_JWS_RS384) | HG_ALG_BIT(HG_JWS_RS512) | HG_ALG_BIT(HG_JWS_PS256) |
               HG_ALG_BIT(HG_JWS_PS384) | HG_ALG_BIT(HG_JWS_PS512);
    if (strcmp(kty, "oct") == 0)
        return (flags & HG_JWKS_NO_OCT) != 0 ? 0 : HG_ALGS_HMAC;
    if (crv == NULL)
        return 0;
    if (strcmp(kty, "EC") == 0) {
        if (strcmp(crv, "P-256") == 0)
            return HG_ALG_BIT(HG_JWS_ES256);
        if (strcmp(crv, "P-384") == 0)
            return HG_ALG_BIT(HG_JWS_ES384);
        if (strcmp(crv, "P-521") == 0)
            return HG_ALG_BIT(HG_JWS_ES512);
    }
    if (strcmp(kty, "OKP") == 0 && strcmp(crv, "Ed25519") == 0)
        return HG_ALG_BIT(HG_JWS_EDDSA);
    return 0;
}

static int usable_for_verify(const json_t *jwk)
{
    const json_t *use = json_object_get(jwk, "use"), *ops = json_object_get(jwk, "key_ops");
    if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
        return 0;
    if (ops != NULL) {
        size_t i;
        const json_t *op;
        json_array_foreach(ops, i, op) if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0) return 1;
        return 0;
    }
    return 1;
}

/* adds the keys of one JWK; returns how many, or -1 with the problem in why */
static int add_jwk(hg_keyset_t *ks, const json_t *jwk, unsigned algs, int flags, char *why, size_t whysize)
{
    const json_t *kty = json_object_get(jwk, "kty"), *crv = json_object_get(jwk, "crv"), *kid = json_object_get(jwk, "kid"),
                 *alg = json_object_get(jwk, "alg");
    if (!json_is_object(jwk))
        return fail(why, whysize, "not an object");
    if (!json_is_string(kty))
        return fail(why, whysize, "kty missing");
    if (kid != NULL && !json_is_string(kid))
        return fail(why, whysize, "kid is not a string");
    if (!usable_for_verify(jwk))
        return 0;
    unsigned fits = fitting_algs(json_string_value(kty), json_is_string(crv) ? json_string_value(crv) : NULL, flags), pins;
    if (alg != NULL) {
        int a = json_is_string(alg) ? hg_jws_alg_from_name(json_string_value(alg)) : -1;
        if (a < 0 || (algs & HG_ALG_BIT(a)) == 0)
            return 0; /* an algorithm not configured here, e.g. an encryption key */
        if ((fits & HG_ALG_BIT(a)) == 0)
            return fail(why, whysize, "alg %s does not fit kty %s%s%s", json_string_value(alg), json_string_value(kty),
                        json_is_string(crv) ? " " : "", json_is_string(crv) ? json_string_value(crv) : "");
        pins = HG_ALG_BIT(a);
    } else if ((pins = fits & algs) == 0) {
        return 0;
    }

    const char *kidstr = json_is_string(kid) ? json_string_value(kid) : NULL, *problem = NULL;
    int first = __builtin_ctz(pins), added = 0;
    if (hg_jws_alg_family(first) == HG_JWS_HMAC) {
        size_t klen = 0;
        unsigned char *k = member_bytes(jwk, "k", &klen);
        if (k == NULL)
            return fail(why, whysize, "oct key needs a base64url member k");
        for (int a = first; a != HG_JWS_NUM_ALGS; ++a)
            if ((pins & HG_ALG_BIT(a)) != 0 && hg_keyset_add_secret(ks, kidstr, a, k, klen, why, whysize) > 0)
                ++added;
        OPENSSL_cleanse(k, klen);
        free(k);
        return added != 0 ? added : -1;
    }
    EVP_PKEY *pkey = NULL;
    switch (hg_jws_alg_family(first)) {
    case HG_JWS_ECDSA:
        pkey = ec_from_jwk(jwk, first, &problem);
        break;
    case HG_JWS_ED25519:
        pkey = okp_from_jwk(jwk, &problem);
        break;
    default:
        pkey = rsa_from_jwk(jwk, &problem);
        break;
    }
    EVP_PKEY_CTX *check = pkey != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    if (pkey == NULL || check == NULL || EVP_PKEY_public_check(check) != 1) {
        EVP_PKEY_CTX_free(check);
        EVP_PKEY_free(pkey);
        return fail(why, whysize, "%s", problem);
    }
    EVP_PKEY_CTX_free(check);
    for (int a = first; a != HG_JWS_NUM_ALGS; ++a) {
        if ((pins & HG_ALG_BIT(a)) == 0)
            continue;
        if (check_fit(pkey, a, why, whysize) != 0) {
            added = -1;
            break;
        }
        add_key(ks, kidstr, a, pkey, NULL);
        ++added;
    }
    EVP_PKEY_free(pkey);
    return added;
}

int hg_keyset_add_jwks(hg_keyset_t *ks, const char *json, size_t len, unsigned algs, int flags, char *err, size_t errsize)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return fail(err, errsize, "not a valid JWKS: line %d: %s", jerr.line, jerr.text);
    const json_t *keys = json_object_get(doc, "keys"), *jwk;
    if (!json_is_array(keys)) {
        json_decref(doc);
        return fail(err, errsize, "not a valid JWKS: no \"keys\" array");
    }
    int total = 0, noted = 0;
    size_t i;
    json_array_foreach(keys, i, jwk)
    {
        char why[200];
        int n = add_jwk(ks, jwk, algs, flags, why, sizeof(why));
        if (n >= 0) {
            total += n;
            continue;
        }
        const json_t *kid = json_object_get(jwk, "kid");
        if ((flags & HG_JWKS_STRICT) != 0 || !noted)
            fail(err, errsize, "keys[%zu]%s%s%s: %s", i, json_is_string(kid) ? " (kid " : "",
                 json_is_string(kid) ? json_string_value(kid) : "", json_is_string(kid) ? ")" : "", why);
        noted = 1;
        if ((flags & HG_JWKS_STRICT) != 0) {
            total = -1;
            break;
        }
    }
    json_decref(doc);
    return total;
}

int hg_keyset_add_jwks_file(hg_keyset_t *ks, const char *path, unsigned algs, int flags, char *err, size_t errsize)
{
    size_t len;
    char *json = read_whole(path, &len, err, errsize);
    if (json == NULL)
        return -1;
    char why[240];
    why[0] = '\0';
    int ret = hg_keyset_add_jwks(ks, json, len, algs, flags, why, sizeof(why));
    if (ret < 0 || why[0] != '\0')
        snprintf(err, errsize, "%s: %s", path, why);
    OPENSSL_cleanse(json, len);
    free(json);
    return ret;
}
