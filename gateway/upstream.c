/*
 * upstream.c: a verifying, name-pinning TLS client context. See upstream.h.
 */
#include "upstream.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

static int is_ip_literal(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

SSL_CTX *hg_upstream_ssl_ctx(const char *host, const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    int loaded = ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
    if (loaded != 1) {
        char reason[256];
        ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
        snprintf(err, errlen, "cannot load CA certificates from %s: %s", ca_file != NULL ? ca_file : "the system bundle", reason);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int pinned = is_ip_literal(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host) : X509_VERIFY_PARAM_set1_host(param, host, 0);
    if (pinned != 1) {
        snprintf(err, errlen, "cannot pin the upstream host name %s", host);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
