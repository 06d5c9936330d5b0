/*
 * upstream.h: the TLS client context for the HubSpot upstream.
 *
 * h2o 2.2.5 checks the upstream's host name itself, but skips the check under
 * TLS 1.3 and on TLS 1.2 session resumption (LIBRARY-FACTS), which would let
 * a certificate for any other name through. So the name (or IP address) is
 * pinned in OpenSSL's verify parameters, which apply to every handshake, and
 * the chain is verified against ca_file or the system bundle.
 */
#ifndef HUBGATE_UPSTREAM_H
#define HUBGATE_UPSTREAM_H

#include <openssl/ssl.h>
#include <stddef.h>

/* a new client SSL_CTX that verifies the chain and pins `host`; NULL with a reason in err */
SSL_CTX *hg_upstream_ssl_ctx(const char *host, const char *ca_file, char *err, size_t errlen);

#endif
