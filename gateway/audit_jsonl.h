/*
 * audit_jsonl.h: the JSON Lines audit store: one line per record, in the
 * shape of hg_audit_record_to_json, appended to a file or written to stdout.
 *
 * Used by the writer thread only. A batch is formatted once and written with
 * as few write() calls as the kernel allows; when a write fails part-way, the
 * rest of that batch is kept and the next call with the same batch goes on
 * where the failure stopped, so a retried batch neither loses nor repeats a
 * line. A failed file is closed and reopened on the next attempt; a file whose
 * last link is gone (deleted) is reopened too. Renamed files are followed until
 * hg_audit_jsonl_reopen (SIGUSR1), the usual log rotation contract.
 */
#ifndef HUBGATE_AUDIT_JSONL_H
#define HUBGATE_AUDIT_JSONL_H

#include "audit.h"

#include <stddef.h>

typedef struct st_hg_audit_jsonl_t hg_audit_jsonl_t;

/* `path` is "-" for stdout (never closed) or a file path; copied. Opens nothing. */
hg_audit_jsonl_t *hg_audit_jsonl_new(const char *path);
void hg_audit_jsonl_free(hg_audit_jsonl_t *j);
/* (re)opens the file for appending (creating it with mode 0640); 0, or -1 with a message */
int hg_audit_jsonl_open(hg_audit_jsonl_t *j, char *err, size_t errlen);
/*
 * Writes the batch, or what is left of it after a failed call: callers retry
 * with the same records until it returns 0, or call hg_audit_jsonl_discard.
 * Returns 0, or -1 with a message.
 */
int hg_audit_jsonl_write(hg_audit_jsonl_t *j, hg_audit_record_t *const *recs, size_t n, char *err, size_t errlen);
/* forgets a batch that will not be retried */
void hg_audit_jsonl_discard(hg_audit_jsonl_t *j);

#endif
