/*
 * jwk.h: verification keys, each pinned to one JWS algorithm, and key sets.
 *
 * Keys come from PEM public keys (or certificates), HMAC secret files and JWKS
 * documents (RFC 7517, from a file or fetched from a URL). Every key is parsed
 * into an OpenSSL object ONCE, here, at load time: the request path only uses
 * it. A key is pinned to exactly one algorithm; a JWKS key without an `alg`
 * member that fits several configured algorithms becomes several hg_jwk_t
 * sharing one EVP_PKEY. A key whose type does not fit its algorithm is a load
 * error: an EC key for RS256, a P-384 key for ES256, a PEM for HS256 (the
 * classic "HMAC with the RSA public key" confusion cannot be configured). RSA
 * keys below 2048 bits are refused (RFC 7518 section 3.3 says MUST), and
 * above 8192 (their signatures exceed HG_JWS_MAX_SIG); HMAC secrets shorter
 * than the hash output too (section 3.2), so no key is ever empty.
 *
 * Lifetime: an hg_keyset_t is immutable once built and reference-counted
 * (atomically), so a JWKS refresh can publish a new set while requests still
 * verify with the old one. Keys belong to their set.
 */
#ifndef HUBGATE_JWK_H
#define HUBGATE_JWK_H

#include "jws.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_hg_jwk_t {
    char *kid;         /* NULL: the key has no id */
    hg_jws_alg_t alg;  /* the one algorithm this key verifies */
    EVP_PKEY *pkey;    /* RSA, EC, Ed25519 key (shared with EVP_PKEY_up_ref); NULL for HS* */
    EVP_MD *md;        /* fetched digest of alg; NULL for EdDSA */
    EVP_MAC_CTX *hmac; /* HS*: initialized HMAC holding the secret (dup'ed per verify); NULL otherwise */
} hg_jwk_t;

typedef struct st_hg_keyset_t {
    uint32_t refcnt;
    size_t count, cap;
    hg_jwk_t **keys;
} hg_keyset_t;

/* a new empty set, reference count 1 */
hg_keyset_t *hg_keyset_new(void);
hg_keyset_t *hg_keyset_retain(hg_keyset_t *ks);
/* drops one reference; frees the keys with the last (NULL is fine) */
void hg_keyset_release(hg_keyset_t *ks);

#define HG_ALG_BIT(alg) (1u << (alg))
#define HG_ALGS_HMAC (HG_ALG_BIT(HG_JWS_HS256) | HG_ALG_BIT(HG_JWS_HS384) | HG_ALG_BIT(HG_JWS_HS512))

/*
 * Loaders. Each returns the number of keys added (>= 1), or -1 with a message
 * in err (first error wins; never contains key material). kid may be NULL.
 */
/* a PEM public key ("PUBLIC KEY", "RSA PUBLIC KEY") or certificate, pinned to alg (not HS*) */
int hg_keyset_add_pem(hg_keyset_t *ks, const char *kid, hg_jws_alg_t alg, const char *pem, size_t len, char *err, size_t errsize);
int hg_keyset_add_pem_file(hg_keyset_t *ks, const char *kid, hg_jws_alg_t alg, const char *path, char *err, size_t errsize);
/* an HMAC secret (HS* only), at least the hash size */
int hg_keyset_add_secret(hg_keyset_t *ks, const char *kid, hg_jws_alg_t alg, const unsigned char *secret, size_t len, char *err,
                         size_t errsize);
/* raw file contents, trailing CR/LF trimmed */
int hg_keyset_add_secret_file(hg_keyset_t *ks, const char *kid, hg_jws_alg_t alg, const char *path, char *err, size_t errsize);

/* hg_keyset_add_jwks flags */
#define HG_JWKS_STRICT 1 /* a key of a fitting type that cannot be used is an error (files); else it is skipped */
#define HG_JWKS_NO_OCT 2 /* ignore symmetric ("oct") keys (documents fetched from a URL) */
/*
 * A JWKS document {"keys":[...]}: adds every key whose kty/crv fit one of
 * `algs` (HG_ALG_BIT mask). A key with an `alg` member is pinned to it (skipped
 * when it is not in algs; an error under STRICT when it does not fit the key
 * type), else to each alg of `algs` its type fits. Keys with `use` other than
 * "sig" or `key_ops` without "verify" are skipped. Returns the number of keys
 * added (0 is possible: the caller decides), or -1 when the document itself is
 * unusable or, under STRICT, a key is. Without STRICT, err receives the first
 * skipped key's problem, for diagnostics, while the call still succeeds.
 */
int hg_keyset_add_jwks(hg_keyset_t *ks, const char *json, size_t len, unsigned algs, int flags, char *err, size_t errsize);
int hg_keyset_add_jwks_file(hg_keyset_t *ks, const char *path, unsigned algs, int flags, char *err, size_t errsize);

/* "RSA 2048", "EC P-256", "Ed25519", "HMAC": for messages */
void hg_jwk_describe(const hg_jwk_t *key, char *out, size_t outsize);

#endif
