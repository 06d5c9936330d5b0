/*
 * util.h: the few helpers every module needs and none should write again.
 *
 * Allocation failure is fatal here, as in h2o (h2o_mem_alloc): a gateway that
 * cannot allocate a few bytes cannot do anything useful, and NULL branches that
 * no test can reach only hide bugs. File reading is for configuration load time
 * only, never for the request path.
 */
#ifndef HUBGATE_UTIL_H
#define HUBGATE_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *hg_xmalloc(size_t n);
void *hg_xcalloc(size_t count, size_t n);
void *hg_xrealloc(void *p, size_t n);
char *hg_xstrdup(const char *s);
char *hg_xstrndup(const char *s, size_t n);
/* printf into a new heap string (never NULL) */
char *hg_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Reads a whole file into a new NUL-terminated heap buffer; *len (may be NULL)
 * gets its size. Returns NULL with errno set on failure.
 */
char *hg_read_file(const char *path, size_t *len);

/*
 * Resolves a configuration path: absolute paths are returned as they are,
 * relative ones are taken relative to basedir. Returns a new heap string.
 */
char *hg_path_join(const char *basedir, const char *path);

/* RFC 3339 UTC with milliseconds ("2026-11-29T10:00:00.123Z") into buf (at least 25 bytes); returns buf */
char *hg_format_time_ms(char *buf, size_t size, uint64_t unix_ms);

/*
 * SHA-256 with the algorithm fetched and the context allocated once: OpenSSL 3 otherwise looks the
 * algorithm up on every call (EVP_Digest: half of the cost of hashing a small body). One thread at a
 * time; each event loop has its own. hg_sha256_new aborts when OpenSSL has no SHA-256.
 */
typedef struct st_hg_sha256_t hg_sha256_t;
hg_sha256_t *hg_sha256_new(void);
void hg_sha256_free(hg_sha256_t *h);
/* the digest of buf[0..len) */
void hg_sha256(hg_sha256_t *h, const void *buf, size_t len, unsigned char out[32]);
/* its lower-case hex into hex (NUL-terminated); h NULL = a one-off hasher */
void hg_sha256_hex(hg_sha256_t *h, const char *buf, size_t len, char hex[65]);

/* writes v in decimal at p (at most 20 bytes, no NUL) and returns the end: what printf's %llu costs ten times */
char *hg_put_u64(char *p, uint64_t v);
/* bytes of the valid UTF-8 sequence at NUL-terminated s (1 for ASCII; RFC 3629: no overlongs, no surrogates,
   at most U+10FFFF), 0 when s starts an invalid one */
size_t hg_utf8_seq(const unsigned char *s);
/* milliseconds since the Unix epoch, from the real-time clock */
uint64_t hg_now_ms(void);

#endif
