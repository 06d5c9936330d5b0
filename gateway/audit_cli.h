/*
 * audit_cli.h: `hubgate audit`, the audit store queried from a shell.
 *
 *   hubgate audit [--db FILE | -c FILE] [--since T] [--until T] [--subject S]
 *                 [--client C] [--route R] [--decision D] [--status N|Nxx]
 *                 [--request-id ID] [--object-id ID] [--limit N] [--cursor C]
 *                 [--format table|jsonl]
 *
 * The filters are those of GET /audit (audit_query.h). --format table (the
 * default) prints aligned columns for people, control characters shown as
 * '?'; jsonl prints one record per line, in the JSON Lines store's shape, for
 * scripts. When there are more records, "next page: --cursor N" goes to
 * stderr, so stdout holds only records. Options take their value as the next
 * argument or after '='. Exit status: 0 success, 1 the store or configuration
 * cannot be read, 2 a usage error or a bad filter value (the message names it).
 *
 * The program's main knows the configuration format; this module does not:
 * `-c FILE` (and the default, conf/hubgate.yaml, when neither --db nor -c is
 * given) is turned into the SQLite path by the callback main passes.
 */
#ifndef HUBGATE_AUDIT_CLI_H
#define HUBGATE_AUDIT_CLI_H

#include <stddef.h>
#include <stdio.h>

#define HG_AUDIT_CLI_DEFAULT_CONFIG "conf/hubgate.yaml"

/*
 * Reads config_file and returns the resolved audit.sqlite path as a new heap
 * string (the caller frees it), or NULL with a message in err (unreadable or
 * invalid file, or `sqlite: null`).
 */
typedef char *(*hg_audit_resolve_db_cb)(const char *config_file, char *err, size_t errlen);

/* argv[0] is the command's name ("audit"), options follow; prints to stdout/stderr; returns the exit status */
int hg_audit_cli_main(int argc, char **argv, hg_audit_resolve_db_cb resolve_config_db);
/* the same with explicit streams (tests) */
int hg_audit_cli_run(int argc, char **argv, hg_audit_resolve_db_cb resolve_config_db, FILE *out, FILE *err);

#endif
