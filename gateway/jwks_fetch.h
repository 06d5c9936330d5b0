/*
 * jwks_fetch.h: keeping JWKS documents from URLs current in the background.
 *
 * One fetcher thread per auth configuration serves all of its jwks_url
 * sources with libcurl (http and https; https verifies the chain and the host
 * name against ca_file or the system bundle). Each source is fetched at start,
 * then every refresh interval, and sooner when a verifier asks because a token
 * named an unknown kid (hg_jwks_fetcher_request: never blocks on I/O; at most
 * one such refetch per source per min_refetch interval, 30 s in production).
 * A fetch that fails (network, status, not a JWKS, no usable key) keeps the
 * last good set and is retried with a backoff from 1 s up to 60 s (never later
 * than the refresh interval). A successful fetch whose body differs from the
 * last one is parsed once and handed to the publish callback, on the fetcher
 * thread. No event-loop thread ever runs any of this.
 *
 * Lifetime: configuration (owned by hg_auth_t). Sources are added before
 * hg_jwks_fetcher_start; hg_jwks_fetcher_free stops the thread (an ongoing
 * transfer is aborted) and joins it.
 */
#ifndef HUBGATE_JWKS_FETCH_H
#define HUBGATE_JWKS_FETCH_H

#include "jwk.h"

#include <stddef.h>
#include <stdint.h>

typedef struct st_hg_jwks_fetcher_t hg_jwks_fetcher_t;

/* runs on the fetcher thread; keys is a new reference that the callee takes over */
typedef void (*hg_jwks_publish_cb)(void *ctx, size_t index, hg_keyset_t *keys);

hg_jwks_fetcher_t *hg_jwks_fetcher_new(hg_jwks_publish_cb publish, void *ctx, uint64_t min_refetch_ms);
/* adds a source before start; ca_file NULL = system bundle; algs: HG_ALG_BIT mask. Returns its index. */
size_t hg_jwks_fetcher_add(hg_jwks_fetcher_t *f, const char *url, const char *ca_file, unsigned algs, uint64_t refresh_ms);
size_t hg_jwks_fetcher_count(const hg_jwks_fetcher_t *f);
/* starts the thread (no-op without sources); 0 or -1 */
int hg_jwks_fetcher_start(hg_jwks_fetcher_t *f);
/* asks for a refetch of one source; thread-safe, non-blocking, throttled by min_refetch_ms; 1 when it was passed on */
int hg_jwks_fetcher_request(hg_jwks_fetcher_t *f, size_t index);
/* 1 when every source has been fetched successfully at least once */
int hg_jwks_fetcher_ready(const hg_jwks_fetcher_t *f);

typedef struct st_hg_jwks_stats_t {
    uint64_t attempts, successes, failures, published;
    char last_error[256]; /* "" after a success */
} hg_jwks_stats_t;
void hg_jwks_fetcher_stats(hg_jwks_fetcher_t *f, size_t index, hg_jwks_stats_t *out);

void hg_jwks_fetcher_free(hg_jwks_fetcher_t *f);

#endif
