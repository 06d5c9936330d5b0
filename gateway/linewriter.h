/*
 * linewriter.h: a background thread that appends lines to a file.
 *
 * The access log must not cost an event-loop thread a blocking write(), so
 * workers hand finished lines to this writer through a bounded queue and go
 * on; the writer appends them in batches. "-" means stdout. A full queue
 * drops the line and counts it (an access log is not the audit trail: the
 * audit store has its own loss rules). hg_linewriter_reopen (SIGUSR1) makes
 * the writer reopen the path before its next batch, for log rotation.
 *
 * Lifetime: process; created and stopped by the server.
 */
#ifndef HUBGATE_LINEWRITER_H
#define HUBGATE_LINEWRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_hg_linewriter_t hg_linewriter_t;

/* opens path ("-" = stdout) and starts the thread; NULL and errno on failure */
hg_linewriter_t *hg_linewriter_start(const char *path, size_t capacity);
/* queues a copy of the line (a '\n' is appended); thread-safe, never blocks on I/O */
void hg_linewriter_put(hg_linewriter_t *w, const char *line, size_t len);
void hg_linewriter_reopen(hg_linewriter_t *w);
uint64_t hg_linewriter_dropped(hg_linewriter_t *w);
/* writes what is queued, stops the thread and frees w */
void hg_linewriter_stop(hg_linewriter_t *w);

#endif
