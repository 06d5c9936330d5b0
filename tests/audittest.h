/*
 * audittest.h: what the audit test programs share: scratch folders, a fake
 * wall clock for retention, the writer's counters, and the SQLite store's
 * block index read back. Test code only.
 */
#ifndef HUBGATE_AUDITTEST_H
#define HUBGATE_AUDITTEST_H

#include "audit.h"

#include <stdint.h>

/* a new folder under /tmp (prefix names the program); a new string */
char *audittest_tmpdir(const char *prefix);
/* removes the folder and all it holds */
void audittest_rm_rf(const char *dir);

/* a fake wall clock the tests move; pass fake_now and a pointer to it as the tuning's now_ms/now_ctx */
typedef struct {
    _Atomic int64_t now;
} fake_clock_t;
int64_t fake_now(void *ctx);

/* the writer's counters, by value */
hg_audit_stats_t audittest_stats(hg_audit_t *a);

/* the sealed blocks as "first-last:records ..." (oldest first), "" when none; a new string */
char *audittest_blocks(const char *db_path);
/* 1 when every key of r (audit_index.h) is in the filters of the block whose last id is last_id */
int audittest_block_holds(const char *db_path, int64_t last_id, const hg_audit_record_t *r);

#endif
