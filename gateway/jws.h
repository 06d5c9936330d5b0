/*
 * jws.h: compact JWS (RFC 7515) parsing and signature verification.
 *
 * A bearer token is three base64url parts joined by dots. hg_jws_parse checks
 * the form strictly (exactly two dots, base64url without padding and with zero
 * trailing bits, header and payload JSON objects without duplicate members),
 * applies the JOSE header rules hubgate enforces (an `alg` we implement, never
 * "none"; no `crit`; `typ` absent, JWT or at+jwt) and decodes the signature.
 * It does no cryptography and trusts nothing in the token: choosing the key is
 * the caller's job (auth.c), and hg_jws_verify refuses any key whose pinned
 * algorithm differs from the token's before touching OpenSSL.
 *
 * Why not libjwt: see auth.h.
 *
 * Lifetime: an hg_jws_t is per request, on the caller's stack; it borrows the
 * token text and owns its two JSON trees (hg_jws_dispose frees them).
 */
#ifndef HUBGATE_JWS_H
#define HUBGATE_JWS_H

#include <jansson.h>
#include <stddef.h>

typedef enum en_hg_jws_alg_t {
    HG_JWS_HS256,
    HG_JWS_HS384,
    HG_JWS_HS512,
    HG_JWS_RS256,
    HG_JWS_RS384,
    HG_JWS_RS512,
    HG_JWS_PS256,
    HG_JWS_PS384,
    HG_JWS_PS512,
    HG_JWS_ES256,
    HG_JWS_ES384,
    HG_JWS_ES512,
    HG_JWS_EDDSA,
    HG_JWS_NUM_ALGS
} hg_jws_alg_t;

typedef enum en_hg_jws_family_t { HG_JWS_HMAC, HG_JWS_RSA, HG_JWS_RSA_PSS, HG_JWS_ECDSA, HG_JWS_ED25519 } hg_jws_family_t;

/* the algorithm's JOSE name ("RS256", "EdDSA"); static string */
const char *hg_jws_alg_name(hg_jws_alg_t alg);
/* exact, case-sensitive lookup of a JOSE name; -1 when hubgate does not implement it */
int hg_jws_alg_from_name(const char *name);
hg_jws_family_t hg_jws_alg_family(hg_jws_alg_t alg);
/* OpenSSL digest name ("SHA256"); NULL for EdDSA (Ed25519 hashes internally) */
const char *hg_jws_alg_digest(hg_jws_alg_t alg);
/* bytes of the digest: the minimum HMAC secret, the size of r and s for ES* is separate */
size_t hg_jws_alg_digest_size(hg_jws_alg_t alg);
/* ES*: bytes of r and of s in the JOSE signature (32, 48, 66); 0 for others */
size_t hg_jws_alg_ec_size(hg_jws_alg_t alg);
/* ES*: OpenSSL group name ("prime256v1", "secp384r1", "secp521r1"); NULL for others */
const char *hg_jws_alg_curve(hg_jws_alg_t alg);

/* largest decoded signature accepted: RSA 8192 bits */
#define HG_JWS_MAX_SIG 1024

typedef struct st_hg_jws_t {
    hg_jws_alg_t alg;
    json_t *header;            /* owned: the protected header, a JSON object */
    json_t *payload;           /* owned: the claims, a JSON object */
    const char *kid;           /* borrowed from header; NULL when the header has no kid */
    const char *signing_input; /* borrowed from the token: "header.payload" */
    size_t signing_input_len;
    size_t sig_len;
    unsigned char sig[HG_JWS_MAX_SIG];
} hg_jws_t;

/*
 * Parses a compact JWS. Returns 0 and fills *jws, or -1 with a description for
 * error_description in err (never echoing the token; values of header members
 * are echoed only after sanitize, see hg_jws_sanitize). On failure *jws holds
 * nothing to free; on success call hg_jws_dispose.
 */
int hg_jws_parse(const char *token, size_t len, hg_jws_t *jws, char *err, size_t errsize);
void hg_jws_dispose(hg_jws_t *jws);

struct st_hg_jwk_t;
/*
 * Verifies the signature with one key. Returns 1 when it is valid, 0 when not,
 * or when the key is pinned to another algorithm than jws->alg (checked before
 * any cryptography), or when the key has no material.
 */
int hg_jws_verify(const hg_jws_t *jws, const struct st_hg_jwk_t *key);

/*
 * Strict base64url decode (RFC 4648 section 5, no padding, no whitespace, unused
 * trailing bits zero). out needs len * 3 / 4 + 1 bytes. Returns the decoded
 * length, or -1.
 */
long hg_b64url_decode(const char *in, size_t len, unsigned char *out);
/* base64url encode without padding; out needs (len + 2) / 3 * 4 + 1 bytes; returns the length written (NUL added) */
size_t hg_b64url_encode(const unsigned char *in, size_t len, char *out);

/*
 * Copies an untrusted string into out for a description: at most 40 characters
 * of [A-Za-z0-9._:/+-], anything else becomes '?', "..." marks a cut. The
 * result is safe in a quoted-string of WWW-Authenticate (RFC 6750 section 3).
 */
void hg_jws_sanitize(const char *s, char *out, size_t outsize);

#endif
