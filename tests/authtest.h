/*
 * authtest.h: helpers for the auth tests and the JWT bench: temporary key
 * material generated with OpenSSL, tokens minted two independent ways (libjwt
 * for HS/RS/ES, OpenSSL directly for anything, hostile tokens included), and a
 * tiny loopback HTTP server that serves changing content (JWKS URLs).
 *
 * Everything aborts on failure: these are test fixtures, not product code.
 */
#ifndef HUBGATE_AUTHTEST_H
#define HUBGATE_AUTHTEST_H

#include "jws.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/* a new private temporary directory (under $TMPDIR or /tmp) */
char *at_tmpdir(void);
/* removes the directory and the plain files in it */
void at_rmdir(const char *dir);
/* writes data to dir/name; returns the new heap path */
char *at_write(const char *dir, const char *name, const void *data, size_t len);

/* "RSA" (2048 bits), "RSA1024", "P-256", "P-384", "P-521", "ED25519" */
EVP_PKEY *at_keygen(const char *what);
/* new heap strings */
char *at_pubkey_pem(EVP_PKEY *pkey);
char *at_privkey_pem(EVP_PKEY *pkey);
/* the public JWK of a key (new reference); kid and alg may be NULL */
json_t *at_jwk(EVP_PKEY *pkey, const char *kid, const char *alg);

/* base64url of a string (new heap string) */
char *at_b64(const char *s);
/* the raw signature of data, JOSE form (ES*: r || s); pkey for asymmetric algs, secret for HS*; returns its length */
size_t at_sign_raw(hg_jws_alg_t alg, EVP_PKEY *pkey, const void *secret, size_t secret_len, const char *data, size_t len,
                   unsigned char *sig);
/* a compact JWS over the header and payload texts as given (new heap string) */
char *at_sign(hg_jws_alg_t alg, EVP_PKEY *pkey, const void *secret, size_t secret_len, const char *header, const char *payload);
/* a token minted by libjwt: alg by JOSE name (HS*, RS*, ES*), key = private key PEM or HMAC secret; claims JSON */
char *at_jwt_mint(const char *alg, const void *key, size_t keylen, const char *kid, const char *claims_json);

/* "Bearer " + token (new heap string) */
char *at_bearer(const char *token);

/* a loopback HTTP/1.1 server that answers every request with the current status and body */
typedef struct st_at_server_t at_server_t;
at_server_t *at_server_start(void);
/* the same over TLS with this certificate (PEM) and key */
at_server_t *at_server_start_tls(const char *cert_pem, EVP_PKEY *key);
/* a self-signed certificate (PEM, new heap string) for key, with subjectAltName san ("DNS:localhost,IP:127.0.0.1") */
char *at_selfsigned(EVP_PKEY *key, const char *san);
/* status 0: the server closes each connection without answering */
void at_server_set(at_server_t *s, int status, const char *body);
unsigned at_server_hits(at_server_t *s);
/* http(s)://127.0.0.1:PORT/path (new heap string) */
char *at_server_url(at_server_t *s, const char *path);
void at_server_stop(at_server_t *s);

/* polls cond every 2 ms until it returns non-zero or timeout_ms passed; returns its last value */
int at_wait(int (*cond)(void *ctx), void *ctx, unsigned timeout_ms);

#endif
