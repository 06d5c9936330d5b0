/*
 * authtest.c: key material, token minting (libjwt and OpenSSL) and a loopback
 * HTTP server for the auth tests and the bench. See authtest.h.
 */
#include "authtest.h"
#include "util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jwt.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "authtest: %s failed\n", what);
    abort();
}

char *at_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = hg_xasprintf("%s/hubgate-auth-XXXXXX", base != NULL && base[0] != '\0' ? base : "/tmp");
    if (mkdtemp(tmpl) == NULL)
        die("mkdtemp");
    return tmpl;
}

void at_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = hg_xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

char *at_write(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = hg_xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
        die("write");
    return path;
}

EVP_PKEY *at_keygen(const char *what)
{
    EVP_PKEY *pkey = NULL;
    if (strcmp(what, "RSA") == 0)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else if (strcmp(what, "RSA1024") == 0)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    else if (strcmp(what, "ED25519") == 0)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", what);
    if (pkey == NULL)
        die("keygen");
    return pkey;
}

static char *bio_string(BIO *bio)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *s = hg_xstrndup(data, (size_t)n);
    BIO_free(bio);
    return s;
}

char *at_pubkey_pem(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (PEM_write_bio_PUBKEY(bio, pkey) != 1)
        die("PEM_write_bio_PUBKEY");
    return bio_string(bio);
}

char *at_privkey_pem(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1)
        die("PEM_write_bio_PrivateKey");
    return bio_string(bio);
}

static json_t *b64_json(const unsigned char *data, size_t len)
{
    char *s = hg_xmalloc(len / 3 * 4 + 5);
    hg_b64url_encode(data, len, s);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *bn_json(EVP_PKEY *pkey, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
        die("EVP_PKEY_get_bn_param");
    int len = pad > 0 ? pad : BN_num_bytes(bn);
    unsigned char *buf = hg_xmalloc((size_t)len);
    BN_bn2binpad(bn, buf, len);
    json_t *j = b64_json(buf, (size_t)len);
    free(buf);
    BN_free(bn);
    return j;
}

json_t *at_jwk(EVP_PKEY *pkey, const char *kid, const char *alg)
{
    json_t *jwk = json_object();
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        json_object_set_new(jwk, "kty", json_string("RSA"));
        json_object_set_new(jwk, "n", bn_json(pkey, OSSL_PKEY_PARAM_RSA_N, 0));
        json_object_set_new(jwk, "e", bn_json(pkey, OSSL_PKEY_PARAM_RSA_E, 0));
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64];
        size_t glen;
        EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen);
        int size = strcmp(group, "prime256v1") == 0 ? 32 : strcmp(group, "secp384r1") == 0 ? 48 : 66;
        json_object_set_new(jwk, "kty", json_string("EC"));
        json_object_set_new(jwk, "crv", json_string(size == 32 ? "P-256" : size == 48 ? "P-384" : "P-521"));
        json_object_set_new(jwk, "x", bn_json(pkey, OSSL_PKEY_PARAM_EC_PUB_X, size));
        json_object_set_new(jwk, "y", bn_json(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, size));
    } else {
        unsigned char raw[32];
        size_t len = sizeof(raw);
        if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1)
            die("EVP_PKEY_get_raw_public_key");
        json_object_set_new(jwk, "kty", json_string("OKP"));
        json_object_set_new(jwk, "crv", json_string("Ed25519"));
        json_object_set_new(jwk, "x", b64_json(raw, len));
    }
    if (kid != NULL)
        json_object_set_new(jwk, "kid", json_string(kid));
    if (alg != NULL)
        json_object_set_new(jwk, "alg", json_string(alg));
    return jwk;
}

char *at_b64(const char *s)
{
    size_t len = strlen(s);
    char *out = hg_xmalloc(len / 3 * 4 + 5);
    hg_b64url_encode((const unsigned char *)s, len, out);
    return out;
}

size_t at_sign_raw(hg_jws_alg_t alg, EVP_PKEY *pkey, const void *secret, size_t secret_len, const char *data, size_t len,
                   unsigned char *sig)
{
    const char *digest = hg_jws_alg_digest(alg);
    if (hg_jws_alg_family(alg) == HG_JWS_HMAC) {
        unsigned int n = 0;
        if (HMAC(EVP_get_digestbyname(digest), secret, (int)secret_len, (const unsigned char *)data, len, sig, &n) == NULL)
            die("HMAC");
        return n;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char der[1024];
    size_t n = sizeof(der);
    if (EVP_DigestSignInit(ctx, &pctx, digest != NULL ? EVP_get_digestbyname(digest) : NULL, NULL, pkey) != 1)
        die("EVP_DigestSignInit");
    if (hg_jws_alg_family(alg) == HG_JWS_RSA_PSS && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                                                     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        die("PSS parameters");
    if (EVP_DigestSign(ctx, der, &n, (const unsigned char *)data, len) != 1)
        die("EVP_DigestSign");
    EVP_MD_CTX_free(ctx);
    if (hg_jws_alg_family(alg) != HG_JWS_ECDSA) {
        memcpy(sig, der, n);
        return n;
    }
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    size_t size = hg_jws_alg_ec_size(alg);
    if (es == NULL)
        die("d2i_ECDSA_SIG");
    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)size);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + size, (int)size);
    ECDSA_SIG_free(es);
    return 2 * size;
}

char *at_sign(hg_jws_alg_t alg, EVP_PKEY *pkey, const void *secret, size_t secret_len, const char *header, const char *payload)
{
    char *h = at_b64(header), *p = at_b64(payload), *input = hg_xasprintf("%s.%s", h, p);
    unsigned char sig[1024];
    size_t n = at_sign_raw(alg, pkey, secret, secret_len, input, strlen(input), sig);
    char *s = hg_xmalloc(n / 3 * 4 + 5);
    hg_b64url_encode(sig, n, s);
    char *token = hg_xasprintf("%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(s);
    return token;
}

char *at_jwt_mint(const char *alg, const void *key, size_t keylen, const char *kid, const char *claims_json)
{
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0 || jwt_add_grants_json(jwt, claims_json) != 0)
        die("libjwt grants");
    if (kid != NULL && jwt_add_header(jwt, "kid", kid) != 0)
        die("libjwt kid");
    if (jwt_set_alg(jwt, jwt_str_alg(alg), key, (int)keylen) != 0)
        die("libjwt jwt_set_alg");
    char *token = jwt_encode_str(jwt);
    if (token == NULL)
        die("libjwt jwt_encode_str");
    jwt_free(jwt);
    return token;
}

char *at_bearer(const char *token)
{
    return hg_xasprintf("Bearer %s", token);
}

/* ---- loopback HTTP server ---- */

struct st_at_server_t {
    int fd, stop_pipe[2];
    SSL_CTX *tls; /* NULL: plain HTTP */
    unsigned short port;
    pthread_t thread;
    pthread_mutex_t mutex;
    int status;
    char *body;
    unsigned hits;
};

static ssize_t conn_read(SSL *ssl, int conn, char *buf, size_t len)
{
    return ssl != NULL ? SSL_read(ssl, buf, (int)len) : read(conn, buf, len);
}

static ssize_t conn_write(SSL *ssl, int conn, const char *buf, size_t len)
{
    return ssl != NULL ? SSL_write(ssl, buf, (int)len) : send(conn, buf, len, MSG_NOSIGNAL);
}

static void serve_one(at_server_t *s, int conn)
{
    char req[8192];
    size_t got = 0;
    struct pollfd pfd = {conn, POLLIN, 0};
    SSL *ssl = NULL;
    if (s->tls != NULL) {
        ssl = SSL_new(s->tls);
        SSL_set_fd(ssl, conn);
        if (poll(&pfd, 1, 2000) != 1 || SSL_accept(ssl) != 1) {
            SSL_free(ssl);
            close(conn);
            pthread_mutex_lock(&s->mutex);
            ++s->hits; /* a refused handshake is a request too */
            pthread_mutex_unlock(&s->mutex);
            return;
        }
    }
    while (got < sizeof(req) - 1 && ((ssl != NULL && SSL_pending(ssl) > 0) || poll(&pfd, 1, 2000) == 1)) {
        ssize_t n = conn_read(ssl, conn, req + got, sizeof(req) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    pthread_mutex_lock(&s->mutex);
    ++s->hits;
    int status = s->status;
    char *body = hg_xstrdup(s->body != NULL ? s->body : "");
    pthread_mutex_unlock(&s->mutex);
    if (status != 0) {
        char *resp = hg_xasprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                                  "Connection: close\r\n\r\n%s",
                                  status, strlen(body), body);
        size_t len = strlen(resp), off = 0;
        while (off < len) {
            ssize_t n = conn_write(ssl, conn, resp + off, len - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        free(resp);
    }
    free(body);
    if (ssl != NULL) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    close(conn);
}

static void *server_run(void *arg)
{
    at_server_t *s = arg;
    for (;;) {
        struct pollfd pfd[2] = {{s->fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents != 0)
            break;
        if (pfd[0].revents != 0) {
            int conn = accept(s->fd, NULL, NULL);
            if (conn >= 0)
                serve_one(s, conn);
        }
    }
    return NULL;
}

at_server_t *at_server_start(void)
{
    return at_server_start_tls(NULL, NULL);
}

at_server_t *at_server_start_tls(const char *cert_pem, EVP_PKEY *key)
{
    at_server_t *s = hg_xcalloc(1, sizeof(*s));
    signal(SIGPIPE, SIG_IGN); /* a client that refuses our certificate hangs up while we write */
    if (cert_pem != NULL) {
        BIO *bio = BIO_new_mem_buf(cert_pem, -1);
        X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        s->tls = SSL_CTX_new(TLS_server_method());
        if (cert == NULL || s->tls == NULL || SSL_CTX_use_certificate(s->tls, cert) != 1 ||
            SSL_CTX_use_PrivateKey(s->tls, key) != 1)
            die("server TLS");
        X509_free(cert);
        BIO_free(bio);
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof(sin);
    if ((s->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(s->fd, 16) != 0 || getsockname(s->fd, (struct sockaddr *)&sin, &slen) != 0 || pipe(s->stop_pipe) != 0)
        die("server socket");
    s->port = ntohs(sin.sin_port);
    s->status = 404;
    pthread_mutex_init(&s->mutex, NULL);
    if (pthread_create(&s->thread, NULL, server_run, s) != 0)
        die("pthread_create");
    return s;
}

void at_server_set(at_server_t *s, int status, const char *body)
{
    pthread_mutex_lock(&s->mutex);
    s->status = status;
    free(s->body);
    s->body = body != NULL ? hg_xstrdup(body) : NULL;
    pthread_mutex_unlock(&s->mutex);
}

unsigned at_server_hits(at_server_t *s)
{
    pthread_mutex_lock(&s->mutex);
    unsigned n = s->hits;
    pthread_mutex_unlock(&s->mutex);
    return n;
}

char *at_server_url(at_server_t *s, const char *path)
{
    return hg_xasprintf("%s://127.0.0.1:%u%s", s->tls != NULL ? "https" : "http", (unsigned)s->port, path);
}

void at_server_stop(at_server_t *s)
{
    if (write(s->stop_pipe[1], "x", 1) != 1)
        die("stop");
    pthread_join(s->thread, NULL);
    close(s->fd);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    pthread_mutex_destroy(&s->mutex);
    SSL_CTX_free(s->tls);
    free(s->body);
    free(s);
}

char *at_selfsigned(EVP_PKEY *key, const char *san)
{
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC, (const unsigned char *)"hubgate test", -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    if (ext == NULL || bc == NULL || X509_add_ext(cert, ext, -1) != 1 || X509_add_ext(cert, bc, -1) != 1 ||
        X509_sign(cert, key, EVP_sha256()) == 0)
        die("self-signed certificate");
    X509_EXTENSION_free(ext);
    X509_EXTENSION_free(bc);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    X509_free(cert);
    return bio_string(bio);
}

int at_wait(int (*cond)(void *ctx), void *ctx, unsigned timeout_ms)
{
    struct timespec step = {0, 2000000};
    for (unsigned waited = 0;; waited += 2) {
        int v = cond(ctx);
        if (v != 0 || waited >= timeout_ms)
            return v;
        nanosleep(&step, NULL);
    }
}
