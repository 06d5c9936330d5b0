/*
 * jwks_fetch.c: the JWKS fetcher thread (libcurl, condition variable on the
 * monotonic clock, throttled refetch requests). See jwks_fetch.h.
 */
#include "jwks_fetch.h"
#include "util.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (1024 * 1024)
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

typedef struct st_source_t {
    char *url, *ca_file;
    unsigned algs;
    uint64_t refresh_ms;
    uint64_t due_ms;          /* monotonic time of the next scheduled fetch */
    uint64_t backoff_ms;      /* after a failure */
    uint64_t last_request_ms; /* atomic: when a verifier's request was last passed on */
    int wanted;               /* atomic: a verifier asked for a refetch */
    int has_body;
    unsigned char body_hash[32];
    hg_jwks_stats_t stats; /* under mutex */
} source_t;

struct st_hg_jwks_fetcher_t {
    hg_jwks_publish_cb publish;
    void *ctx;
    uint64_t min_refetch_ms;
    source_t *sources;
    size_t num_sources;
    size_t num_ready; /* atomic */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    pthread_t thread;
    int started, stop; /* stop: atomic, under mutex for the wait */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

hg_jwks_fetcher_t *hg_jwks_fetcher_new(hg_jwks_publish_cb publish, void *ctx, uint64_t min_refetch_ms)
{
    hg_jwks_fetcher_t *f = hg_xcalloc(1, sizeof(*f));
    f->publish = publish;
    f->ctx = ctx;
    f->min_refetch_ms = min_refetch_ms;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&f->mutex, NULL);
    return f;
}

size_t hg_jwks_fetcher_add(hg_jwks_fetcher_t *f, const char *url, const char *ca_file, unsigned algs, uint64_t refresh_ms)
{
    f->sources = hg_xrealloc(f->sources, (f->num_sources + 1) * sizeof(*f->sources));
    source_t *s = &f->sources[f->num_sources];
    *s = (source_t){.url = hg_xstrdup(url),
                    .ca_file = ca_file != NULL ? hg_xstrdup(ca_file) : NULL,
                    .algs = algs,
                    .refresh_ms = refresh_ms,
                    .backoff_ms = BACKOFF_MIN_MS};
    return f->num_sources++;
}

size_t hg_jwks_fetcher_count(const hg_jwks_fetcher_t *f)
{
    return f->num_sources;
}

typedef struct st_body_t {
    char *data;
    size_t len;
    int too_large;
} body_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body_t *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > MAX_BODY) {
        b->too_large = 1;
        return 0;
    }
    b->data = hg_xrealloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    hg_jwks_fetcher_t *f = clientp;
    return __atomic_load_n(&f->stop, __ATOMIC_ACQUIRE) ? 1 : 0;
}

/* one transfer; returns 0 with the body, or -1 with a message */
static int download(hg_jwks_fetcher_t *f, const source_t *s, body_t *body, char *err, size_t errsize)
{
    char curlerr[CURL_ERROR_SIZE] = "";
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(err, errsize, "cannot create a transfer");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hubgate/" HUBGATE_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, f);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlerr);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (body->too_large) {
        snprintf(err, errsize, "%s: answer larger than %d bytes", s->url, MAX_BODY);
        return -1;
    }
    if (rc != CURLE_OK) {
        snprintf(err, errsize, "%s: %s", s->url, curlerr[0] != '\0' ? curlerr : curl_easy_strerror(rc));
        return -1;
    }
    if (status != 200) {
        snprintf(err, errsize, "%s: HTTP status %ld", s->url, status);
        return -1;
    }
    return 0;
}

/* fetches source i (the mutex is NOT held); returns 0 on success */
static int fetch(hg_jwks_fetcher_t *f, size_t i, char *err, size_t errsize)
{
    source_t *s = &f->sources[i];
    body_t body = {NULL, 0, 0};
    err[0] = '\0';
    if (download(f, s, &body, err, errsize) != 0) {
        free(body.data);
        return -1;
    }
    unsigned char hash[32];
    unsigned int hlen = 0;
    EVP_Digest(body.data != NULL ? body.data : "", body.len, hash, &hlen, EVP_sha256(), NULL);
    if (s->has_body && memcmp(hash, s->body_hash, sizeof(hash)) == 0) {
        free(body.data);
        return 0; /* unchanged: keep the published set (and the caches built on it) */
    }
    hg_keyset_t *ks = hg_keyset_new();
    char why[256] = "";
    int n = hg_keyset_add_jwks(ks, body.data != NULL ? body.data : "", body.len, s->algs, HG_JWKS_NO_OCT, why, sizeof(why));
    free(body.data);
    if (n <= 0) {
        hg_keyset_release(ks);
        snprintf(err, errsize, "%s: %s", s->url, n < 0 ? why : "no key fits the configured algs");
        return -1;
    }
    memcpy(s->body_hash, hash, sizeof(hash));
    s->has_body = 1;
    f->publish(f->ctx, i, ks);
    pthread_mutex_lock(&f->mutex);
    ++s->stats.published;
    pthread_mutex_unlock(&f->mutex);
    return 0;
}

static void *run(void *arg)
{
    hg_jwks_fetcher_t *f = arg;
    pthread_mutex_lock(&f->mutex);
    while (!f->stop) {
        uint64_t now = mono_ms(), next = UINT64_MAX;
        size_t pick = SIZE_MAX;
        for (size_t i = 0; i != f->num_sources && pick == SIZE_MAX; ++i) {
            source_t *s = &f->sources[i];
            if (__atomic_exchange_n(&s->wanted, 0, __ATOMIC_ACQ_REL) || s->due_ms <= now)
                pick = i;
            else if (s->due_ms < next)
                next = s->due_ms;
        }
        if (pick == SIZE_MAX) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            uint64_t wait = next - now < 3600000 ? next - now : 3600000;
            until.tv_sec += (time_t)(wait / 1000);
            until.tv_nsec += (long)(wait % 1000) * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec += 1;
                until.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&f->cond, &f->mutex, &until);
            continue;
        }
        source_t *s = &f->sources[pick];
        ++s->stats.attempts;
        pthread_mutex_unlock(&f->mutex);
        char err[sizeof(s->stats.last_error)];
        int ok = fetch(f, pick, err, sizeof(err)) == 0;
        pthread_mutex_lock(&f->mutex);
        now = mono_ms();
        if (ok) {
            if (s->stats.successes++ == 0)
                __atomic_fetch_add(&f->num_ready, 1, __ATOMIC_RELEASE);
            s->stats.last_error[0] = '\0';
            s->backoff_ms = BACKOFF_MIN_MS;
            s->due_ms = now + s->refresh_ms;
        } else if (!f->stop) {
            ++s->stats.failures;
            snprintf(s->stats.last_error, sizeof(s->stats.last_error), "%s", err);
            s->due_ms = now + (s->backoff_ms < s->refresh_ms ? s->backoff_ms : s->refresh_ms);
            s->backoff_ms = s->backoff_ms * 2 < BACKOFF_MAX_MS ? s->backoff_ms * 2 : BACKOFF_MAX_MS;
        }
    }
    pthread_mutex_unlock(&f->mutex);
    return NULL;
}

int hg_jwks_fetcher_start(hg_jwks_fetcher_t *f)
{
    if (f->num_sources == 0 || f->started)
        return 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    if (pthread_create(&f->thread, NULL, run, f) != 0) {
        curl_global_cleanup();
        return -1;
    }
    f->started = 1;
    return 0;
}

int hg_jwks_fetcher_request(hg_jwks_fetcher_t *f, size_t index)
{
    if (index >= f->num_sources || !f->started)
        return 0;
    source_t *s = &f->sources[index];
    uint64_t now = mono_ms(), last = __atomic_load_n(&s->last_request_ms, __ATOMIC_RELAXED);
    if (last != 0 && now - last < f->min_refetch_ms)
        return 0;
    /* one of the threads racing here wins the window */
    if (!__atomic_compare_exchange_n(&s->last_request_ms, &last, now, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return 0;
    __atomic_store_n(&s->wanted, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&f->mutex); /* held by the fetcher only between transfers, never during one */
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->mutex);
    return 1;
}

int hg_jwks_fetcher_ready(const hg_jwks_fetcher_t *f)
{
    return __atomic_load_n(&f->num_ready, __ATOMIC_ACQUIRE) == f->num_sources;
}

void hg_jwks_fetcher_stats(hg_jwks_fetcher_t *f, size_t index, hg_jwks_stats_t *out)
{
    pthread_mutex_lock(&f->mutex);
    *out = f->sources[index].stats;
    pthread_mutex_unlock(&f->mutex);
}

void hg_jwks_fetcher_free(hg_jwks_fetcher_t *f)
{
    if (f == NULL)
        return;
    if (f->started) {
        pthread_mutex_lock(&f->mutex);
        __atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
        pthread_cond_signal(&f->cond);
        pthread_mutex_unlock(&f->mutex);
        pthread_join(f->thread, NULL);
        curl_global_cleanup();
    }
    for (size_t i = 0; i != f->num_sources; ++i) {
        free(f->sources[i].url);
        free(f->sources[i].ca_file);
    }
    free(f->sources);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->mutex);
    free(f);
}
