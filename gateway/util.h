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

/* lower-case hex SHA-256 of buf[0..len) into hex (NUL-terminated) */
void hg_sha256_hex(const char *buf, size_t len, char hex[65]);

/* bytes of the valid UTF-8 sequence at NUL-terminated s (1 for ASCII; RFC 3629: no overlongs, no surrogates,
   at most U+10FFFF), 0 when s starts an invalid one */
size_t hg_utf8_seq(const unsigned char *s);
/* milliseconds since the Unix epoch, from the real-time clock */
uint64_t hg_now_ms(void);

#endif
