/*
 * linewriter.c: queue lines, append them from a background thread. See linewriter.h.
 */
#include "linewriter.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct st_hg_linewriter_t {
    char *path;
    int fd;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    char **lines;
    size_t *lens;
    size_t capacity, count;
    int reopen, stopping;
    uint64_t dropped;
};

static int open_path(const char *path)
{
    if (strcmp(path, "-") == 0)
        return dup(STDOUT_FILENO);
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len != 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere to report a failing access log; lines are lost */
        buf += n;
        len -= (size_t)n;
    }
}

static void *run(void *arg)
{
    hg_linewriter_t *w = arg;
    char **lines = hg_xcalloc(w->capacity, sizeof(*lines));
    size_t *lens = hg_xcalloc(w->capacity, sizeof(*lens));
    pthread_mutex_lock(&w->mutex);
    for (;;) {
        while (w->count == 0 && !w->stopping && !w->reopen)
            pthread_cond_wait(&w->cond, &w->mutex);
        size_t n = w->count;
        int reopen = w->reopen, stopping = w->stopping;
        /* swap buffers so workers can queue while this thread writes */
        char **tl = w->lines;
        size_t *tn = w->lens;
        w->lines = lines;
        w->lens = lens;
        lines = tl;
        lens = tn;
        w->count = 0;
        w->reopen = 0;
        pthread_mutex_unlock(&w->mutex);

        if (reopen) {
            int fd = open_path(w->path);
            if (fd >= 0) {
                dup2(fd, w->fd);
                close(fd);
            }
        }
        size_t total = 0;
        for (size_t i = 0; i != n; ++i)
            total += lens[i];
        char *buf = hg_xmalloc(total + 1);
        size_t o = 0;
        for (size_t i = 0; i != n; ++i) {
            memcpy(buf + o, lines[i], lens[i]);
            o += lens[i];
            free(lines[i]);
        }
        write_all(w->fd, buf, o);
        free(buf);

        pthread_mutex_lock(&w->mutex);
        if (stopping && w->count == 0)
            break;
    }
    pthread_mutex_unlock(&w->mutex);
    free(lines);
    free(lens);
    return NULL;
}

hg_linewriter_t *hg_linewriter_start(const char *path, size_t capacity)
{
    int fd = open_path(path);
    if (fd < 0)
        return NULL;
    hg_linewriter_t *w = hg_xcalloc(1, sizeof(*w));
    w->path = hg_xstrdup(path);
    w->fd = fd;
    w->capacity = capacity;
    w->lines = hg_xcalloc(capacity, sizeof(*w->lines));
    w->lens = hg_xcalloc(capacity, sizeof(*w->lens));
    pthread_mutex_init(&w->mutex, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_create(&w->thread, NULL, run, w);
    return w;
}

void hg_linewriter_put(hg_linewriter_t *w, const char *line, size_t len)
{
    char *copy = hg_xmalloc(len + 1);
    memcpy(copy, line, len);
    copy[len] = '\n';
    pthread_mutex_lock(&w->mutex);
    if (w->count == w->capacity) {
        ++w->dropped;
        pthread_mutex_unlock(&w->mutex);
        free(copy);
        return;
    }
    w->lines[w->count] = copy;
    w->lens[w->count] = len + 1;
    if (w->count++ == 0)
        pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

void hg_linewriter_reopen(hg_linewriter_t *w)
{
    pthread_mutex_lock(&w->mutex);
    w->reopen = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

uint64_t hg_linewriter_dropped(hg_linewriter_t *w)
{
    pthread_mutex_lock(&w->mutex);
    uint64_t n = w->dropped;
    pthread_mutex_unlock(&w->mutex);
    return n;
}

void hg_linewriter_stop(hg_linewriter_t *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mutex);
    w->stopping = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
    pthread_join(w->thread, NULL);
    close(w->fd);
    pthread_mutex_destroy(&w->mutex);
    pthread_cond_destroy(&w->cond);
    free(w->lines);
    free(w->lens);
    free(w->path);
    free(w);
}
