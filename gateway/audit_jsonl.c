/*
 * audit_jsonl.c: the JSON Lines audit store: formats a batch into one buffer
 * and appends it with write(2), resuming after partial failures, reopening
 * deleted or failed files. Lines come from hg_audit_record_append_json, which
 * prints what jansson would without building its objects. See audit_jsonl.h.
 */
#include "audit_jsonl.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct st_hg_audit_jsonl_t {
    char *path; /* "-" = stdout */
    int fd;     /* -1 while closed */
    char *buf;  /* the pending batch, formatted */
    size_t len, off, cap;
    int pending; /* buf holds a batch not completely written */
};

static int is_stdout(const hg_audit_jsonl_t *j)
{
    return strcmp(j->path, "-") == 0;
}

hg_audit_jsonl_t *hg_audit_jsonl_new(const char *path)
{
    hg_audit_jsonl_t *j = hg_xcalloc(1, sizeof(*j));
    j->path = hg_xstrdup(path);
    j->fd = -1;
    return j;
}

static void close_fd(hg_audit_jsonl_t *j)
{
    if (j->fd >= 0 && !is_stdout(j))
        close(j->fd);
    j->fd = -1;
}

void hg_audit_jsonl_free(hg_audit_jsonl_t *j)
{
    if (j == NULL)
        return;
    close_fd(j);
    free(j->buf);
    free(j->path);
    free(j);
}

int hg_audit_jsonl_open(hg_audit_jsonl_t *j, char *err, size_t errlen)
{
    close_fd(j);
    if (is_stdout(j)) {
        j->fd = STDOUT_FILENO;
        return 0;
    }
    j->fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (j->fd < 0) {
        snprintf(err, errlen, "audit log %s: %s", j->path, strerror(errno));
        return -1;
    }
    return 0;
}

static void append(hg_audit_jsonl_t *j, const char *s, size_t n)
{
    if (j->len + n > j->cap) {
        while (j->len + n > j->cap)
            j->cap = j->cap != 0 ? j->cap * 2 : 65536;
        j->buf = hg_xrealloc(j->buf, j->cap);
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
}

static void format_batch(hg_audit_jsonl_t *j, hg_audit_record_t *const *recs, size_t n)
{
    j->len = j->off = 0;
    for (size_t i = 0; i != n; ++i) {
        hg_audit_record_append_json(recs[i], &j->buf, &j->len, &j->cap);
        append(j, "\n", 1);
    }
    j->pending = 1;
}

int hg_audit_jsonl_write(hg_audit_jsonl_t *j, hg_audit_record_t *const *recs, size_t n, char *err, size_t errlen)
{
    if (!j->pending)
        format_batch(j, recs, n);
    if (j->fd >= 0 && !is_stdout(j)) {
        struct stat st;
        if (fstat(j->fd, &st) == 0 && st.st_nlink == 0)
            close_fd(j); /* deleted: nobody would ever read what we append */
    }
    if (j->fd < 0 && hg_audit_jsonl_open(j, err, errlen) != 0)
        return -1;
    while (j->off < j->len) {
        ssize_t w = write(j->fd, j->buf + j->off, j->len - j->off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "audit log %s: %s", j->path, w < 0 ? strerror(errno) : "nothing written");
            close_fd(j);
            return -1;
        }
        j->off += (size_t)w;
    }
    j->pending = 0;
    if (j->cap > (1 << 22)) { /* a batch of huge records should not pin its buffer forever */
        free(j->buf);
        j->buf = NULL;
        j->cap = 0;
    }
    return 0;
}

void hg_audit_jsonl_discard(hg_audit_jsonl_t *j)
{
    j->pending = 0;
}
