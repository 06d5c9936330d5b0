/*
 * auth_int.h: the inside of hg_auth_t, shared by auth_conf.c (building it from
 * the configuration) and auth.c (serving). Not for other modules.
 */
#ifndef HUBGATE_AUTH_INT_H
#define HUBGATE_AUTH_INT_H

#include "auth.h"
#include "jwk.h"
#include "jwks_fetch.h"

#include <pthread.h>

/* bound on how long a verified token stays in a cache, whatever its exp */
#define HG_AUTH_CACHE_MAX_S 300
/* unknown kid: at most one refetch per URL in this interval */
#define HG_AUTH_REFETCH_MIN_MS 30000

typedef struct st_hg_auth_issuer_t {
    char *iss;
    char **audiences; /* empty: aud not checked */
    size_t num_audiences;
    hg_keyset_t *fixed; /* keys from pem_file, secret_file, jwks_file (may be empty) */
    size_t *urls;       /* indices of this issuer's jwks_url sources in the fetcher and the snapshot */
    size_t num_urls;
} hg_auth_issuer_t;

/* the keys fetched from URLs, as published together; immutable, reference-counted */
typedef struct st_hg_auth_snapshot_t {
    uint32_t refcnt;
    size_t num_sets;
    hg_keyset_t *sets[]; /* by URL index; NULL until that URL was first fetched */
} hg_auth_snapshot_t;

struct st_hg_auth_t {
    hg_auth_issuer_t *issuers;
    size_t num_issuers;
    int64_t leeway_s;
    int require_exp;
    char **scope_claims, **client_claims, *subject_claim;
    size_t num_scope_claims, num_client_claims;
    size_t max_token_bytes, cache_entries;
    hg_jwks_fetcher_t *fetcher; /* NULL without jwks_url */
    pthread_mutex_t mutex;      /* guards snapshot (the pointer, not its contents) */
    hg_auth_snapshot_t *snapshot;
    uint64_t generation; /* atomic: bumped whenever the snapshot changes; cache entries carry it */
};

/* auth_conf.c: fills a (zeroed) from the /auth object; 0, or -1 with problems in errors */
int hg_auth_configure(hg_auth_t *a, const json_t *auth, const char *basedir, hg_violations_t *errors);
/* auth.c: called by the fetcher with a new key set for one URL */
void hg_auth_publish(void *ctx, size_t index, hg_keyset_t *keys);

#endif
