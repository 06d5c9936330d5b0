/*
 * jws.c: strict compact JWS parsing and OpenSSL signature verification with
 * keys parsed once at load. See jws.h for the rules and auth.h for why this is
 * not libjwt.
 */
#include "jws.h"
#include "jwk.h"
#include "util.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    hg_jws_family_t family;
    const char *digest;
    size_t digest_size, ec_size;
    const char *curve;
} algs[HG_JWS_NUM_ALGS] = {
    [HG_JWS_HS256] = {"HS256", HG_JWS_HMAC, "SHA256", 32, 0, NULL},
    [HG_JWS_HS384] = {"HS384", HG_JWS_HMAC, "SHA384", 48, 0, NULL},
    [HG_JWS_HS512] = {"HS512", HG_JWS_HMAC, "SHA512", 64, 0, NULL},
    [HG_JWS_RS256] = {"RS256", HG_JWS_RSA, "SHA256", 32, 0, NULL},
    [HG_JWS_RS384] = {"RS384", HG_JWS_RSA, "SHA384", 48, 0, NULL},
    [HG_JWS_RS512] = {"RS512", HG_JWS_RSA, "SHA512", 64, 0, NULL},
    [HG_JWS_PS256] = {"PS256", HG_JWS_RSA_PSS, "SHA256", 32, 0, NULL},
    [HG_JWS_PS384] = {"PS384", HG_JWS_RSA_PSS, "SHA384", 48, 0, NULL},
    [HG_JWS_PS512] = {"PS512", HG_JWS_RSA_PSS, "SHA512", 64, 0, NULL},
    [HG_JWS_ES256] = {"ES256", HG_JWS_ECDSA, "SHA256", 32, 32, "prime256v1"},
    [HG_JWS_ES384] = {"ES384", HG_JWS_ECDSA, "SHA384", 48, 48, "secp384r1"},
    [HG_JWS_ES512] = {"ES512", HG_JWS_ECDSA, "SHA512", 64, 66, "secp521r1"},
    [HG_JWS_EDDSA] = {"EdDSA", HG_JWS_ED25519, NULL, 0, 0, NULL},
};

const char *hg_jws_alg_name(hg_jws_alg_t alg)
{
    return algs[alg].name;
}

int hg_jws_alg_from_name(const char *name)
{
    for (int i = 0; i != HG_JWS_NUM_ALGS; ++i)
        if (strcmp(algs[i].name, name) == 0)
            return i;
    return -1;
}

hg_jws_family_t hg_jws_alg_family(hg_jws_alg_t alg)
{
    return algs[alg].family;
}

const char *hg_jws_alg_digest(hg_jws_alg_t alg)
{
    return algs[alg].digest;
}

size_t hg_jws_alg_digest_size(hg_jws_alg_t alg)
{
    return algs[alg].digest_size;
}

size_t hg_jws_alg_ec_size(hg_jws_alg_t alg)
{
    return algs[alg].ec_size;
}

const char *hg_jws_alg_curve(hg_jws_alg_t alg)
{
    return algs[alg].curve;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long hg_b64url_decode(const char *in, size_t len, unsigned char *out)
{
    if (len % 4 == 1)
        return -1;
    size_t n = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i != len; ++i) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical: the unused trailing bits must be zero */
        return -1;
    return (long)n;
}

size_t hg_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[n++] = alphabet[v >> 18];
        out[n++] = alphabet[(v >> 12) & 63];
        out[n++] = alphabet[(v >> 6) & 63];
        out[n++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[n++] = alphabet[v >> 18];
        out[n++] = alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[n++] = alphabet[v >> 18];
        out[n++] = alphabet[(v >> 12) & 63];
        out[n++] = alphabet[(v >> 6) & 63];
    }
    out[n] = '\0';
    return n;
}

void hg_jws_sanitize(const char *s, char *out, size_t outsize)
{
    enum { MAX_CHARS = 40 };
    size_t n = 0, i = 0;
    if (outsize < 4) {
        if (outsize != 0)
            out[0] = '\0';
        return;
    }
    for (; s[i] != '\0' && i != MAX_CHARS && n + 4 < outsize; ++i) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._:/+-", c) != NULL;
        out[n++] = ok ? c : '?';
    }
    if (s[i] != '\0') {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errsize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    return -1;
}

/* decodes one part into buf and parses it as a JSON object; `what` is "header" or "payload" */
static json_t *decode_object(const char *part, size_t len, unsigned char *buf, const char *what, char *err, size_t errsize)
{
    long n = hg_b64url_decode(part, len, buf);
    if (n < 0) {
        fail(err, errsize, "malformed token: bad base64url in %s", what);
        return NULL;
    }
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (obj == NULL) {
        if (json_error_code(&jerr) == json_error_duplicate_key)
            fail(err, errsize, "malformed token: duplicate member in %s", what);
        else
            fail(err, errsize, "malformed token: %s is not valid JSON", what);
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        fail(err, errsize, "malformed token: %s is not a JSON object", what);
        return NULL;
    }
    return obj;
}

static int typ_accepted(const char *typ)
{
    if (strncasecmp(typ, "application/", 12) == 0)
        typ += 12;
    return strcasecmp(typ, "JWT") == 0 || strcasecmp(typ, "at+jwt") == 0;
}

static int check_header(hg_jws_t *jws, char *err, size_t errsize)
{
    char shown[48];
    json_t *alg = json_object_get(jws->header, "alg");
    if (alg == NULL)
        return fail(err, errsize, "malformed token: alg missing");
    if (!json_is_string(alg))
        return fail(err, errsize, "malformed token: alg is not a string");
    if (strcasecmp(json_string_value(alg), "none") == 0)
        return fail(err, errsize, "algorithm none not allowed");
    int a = hg_jws_alg_from_name(json_string_value(alg));
    if (a < 0) {
        hg_jws_sanitize(json_string_value(alg), shown, sizeof(shown));
        return fail(err, errsize, "unsupported algorithm '%s'", shown);
    }
    jws->alg = (hg_jws_alg_t)a;
    if (json_object_get(jws->header, "crit") != NULL)
        return fail(err, errsize, "crit header not supported");
    json_t *typ = json_object_get(jws->header, "typ");
    if (typ != NULL) {
        if (!json_is_string(typ))
            return fail(err, errsize, "malformed token: typ is not a string");
        if (!typ_accepted(json_string_value(typ))) {
            hg_jws_sanitize(json_string_value(typ), shown, sizeof(shown));
            return fail(err, errsize, "token type '%s' not accepted", shown);
        }
    }
    json_t *kid = json_object_get(jws->header, "kid");
    if (kid != NULL) {
        if (!json_is_string(kid))
            return fail(err, errsize, "malformed token: kid is not a string");
        jws->kid = json_string_value(kid);
    }
    return 0;
}

int hg_jws_parse(const char *token, size_t len, hg_jws_t *jws, char *err, size_t errsize)
{
    jws->header = jws->payload = NULL;
    jws->kid = NULL;
    jws->sig_len = 0;
    const char *end = token + len;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL)
        return fail(err, errsize, "malformed token: expected three dot-separated parts");
    size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - dot1 - 1), slen = (size_t)(end - dot2 - 1);
    if (slen * 3 / 4 > HG_JWS_MAX_SIG) /* the exact decoded size: sig[] must hold it */
        return fail(err, errsize, "malformed token: signature too long");

    unsigned char *buf = hg_xmalloc((hlen > plen ? hlen : plen) / 4 * 3 + 3);
    if ((jws->header = decode_object(token, hlen, buf, "header", err, errsize)) == NULL)
        goto Error;
    if (check_header(jws, err, errsize) != 0)
        goto Error;
    if ((jws->payload = decode_object(dot1 + 1, plen, buf, "payload", err, errsize)) == NULL)
        goto Error;
    long n = hg_b64url_decode(dot2 + 1, slen, jws->sig);
    if (n < 0) {
        fail(err, errsize, "malformed token: bad base64url in signature");
        goto Error;
    }
    jws->sig_len = (size_t)n;
    jws->signing_input = token;
    jws->signing_input_len = (size_t)(dot2 - token);
    free(buf);
    return 0;
Error:
    free(buf);
    hg_jws_dispose(jws);
    return -1;
}

void hg_jws_dispose(hg_jws_t *jws)
{
    json_decref(jws->header);
    json_decref(jws->payload);
    jws->header = jws->payload = NULL;
    jws->kid = NULL;
}

static int verify_hmac(const hg_jws_t *jws, const hg_jwk_t *key)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    if (key->hmac == NULL || jws->sig_len != hg_jws_alg_digest_size(key->alg))
        return 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(key->hmac);
    if (ctx == NULL)
        return 0;
    int ok = EVP_MAC_update(ctx, (const unsigned char *)jws->signing_input, jws->signing_input_len) == 1 &&
             EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 && maclen == jws->sig_len &&
             CRYPTO_memcmp(mac, jws->sig, maclen) == 0;
    EVP_MAC_CTX_free(ctx);
    OPENSSL_cleanse(mac, sizeof(mac));
    if (!ok)
        ERR_clear_error();
    return ok;
}

/* JOSE ECDSA signatures are r || s, fixed size; OpenSSL wants DER. Returns the DER length or 0. */
static size_t ecdsa_to_der(const hg_jws_t *jws, size_t n, unsigned char *der, size_t dersize)
{
    if (jws->sig_len != 2 * n)
        return 0;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(jws->sig, (int)n, NULL), *s = BN_bin2bn(jws->sig + n, (int)n, NULL);
    size_t len = 0;
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto Exit;
    }
    int need = i2d_ECDSA_SIG(sig, NULL);
    if (need > 0 && (size_t)need <= dersize) {
        unsigned char *p = der;
        len = (size_t)i2d_ECDSA_SIG(sig, &p);
    }
Exit:
    ECDSA_SIG_free(sig);
    return len;
}

int hg_jws_verify(const hg_jws_t *jws, const hg_jwk_t *key)
{
    if (key->alg != jws->alg)
        return 0;
    hg_jws_family_t family = hg_jws_alg_family(key->alg);
    if (family == HG_JWS_HMAC)
        return verify_hmac(jws, key);
    if (key->pkey == NULL)
        return 0;

    unsigned char der[256];
    const unsigned char *sig = jws->sig;
    size_t sig_len = jws->sig_len;
    if (family == HG_JWS_ECDSA) {
        if ((sig_len = ecdsa_to_der(jws, hg_jws_alg_ec_size(key->alg), der, sizeof(der))) == 0)
            return 0;
        sig = der;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;
    if (ctx == NULL || EVP_DigestVerifyInit(ctx, &pctx, key->md, NULL, key->pkey) != 1)
        goto Exit;
    if (family == HG_JWS_RSA_PSS &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, key->md) != 1))
        goto Exit;
    ok = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)jws->signing_input, jws->signing_input_len) == 1;
Exit:
    EVP_MD_CTX_free(ctx);
    if (!ok)
        ERR_clear_error(); /* a refusal must not leave errors for the next TLS call on this thread */
    return ok;
}
