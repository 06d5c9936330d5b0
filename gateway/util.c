/*
 * util.c: allocation that dies on failure, whole-file reads and path joining
 * for configuration load, and the wall clock. See util.h.
 */
#include "util.h"

#include <openssl/evp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(void)
{
    fputs("hubgate: out of memory\n", stderr);
    abort();
}

void *hg_xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *hg_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count != 0 ? count : 1, n != 0 ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *hg_xrealloc(void *p, size_t n)
{
    p = realloc(p, n != 0 ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

char *hg_xstrdup(const char *s)
{
    return hg_xstrndup(s, strlen(s));
}

char *hg_xstrndup(const char *s, size_t n)
{
    char *p = hg_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *hg_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    return s;
}

char *hg_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = hg_xmalloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (n + 1 < cap)
            break;
        cap *= 2;
        buf = hg_xrealloc(buf, cap);
    }
    int failed = ferror(fp);
    fclose(fp);
    if (failed) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

char *hg_path_join(const char *basedir, const char *path)
{
    if (path[0] == '/' || basedir == NULL || basedir[0] == '\0')
        return hg_xstrdup(path);
    return hg_xasprintf("%s/%s", basedir, path);
}

uint64_t hg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

char *hg_format_time_ms(char *buf, size_t size, uint64_t unix_ms)
{
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, (unsigned)(unix_ms % 1000));
    return buf;
}

struct st_hg_sha256_t {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

hg_sha256_t *hg_sha256_new(void)
{
    hg_sha256_t *h = hg_xcalloc(1, sizeof(*h));
    if ((h->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL || (h->ctx = EVP_MD_CTX_new()) == NULL)
        abort();
    return h;
}

void hg_sha256_free(hg_sha256_t *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    free(h);
}

void hg_sha256(hg_sha256_t *h, const void *buf, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 || EVP_DigestUpdate(h->ctx, buf, len) != 1 ||
        EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != 32)
        abort();
}

void hg_sha256_hex(hg_sha256_t *h, const char *buf, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    hg_sha256_t *own = h == NULL ? hg_sha256_new() : NULL;
    hg_sha256(h != NULL ? h : own, buf, len, md);
    hg_sha256_free(own);
    for (unsigned i = 0; i != 32; ++i) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

/* length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), 0 if invalid;
   s is NUL-terminated, so a truncated sequence stops at the NUL, which is no continuation byte */
size_t hg_utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        if (s[0] == 0xe0)
            lo = 0xa0;
        else if (s[0] == 0xed)
            hi = 0x9f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        if (s[0] == 0xf0)
            lo = 0x90;
        else if (s[0] == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i != n; ++i)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

char *hg_put_u64(char *p, uint64_t v)
{
    char digits[20], *d = digits + sizeof(digits);
    do
        *--d = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    size_t n = (size_t)(digits + sizeof(digits) - d);
    memcpy(p, d, n);
    return p + n;
}
