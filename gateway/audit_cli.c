/*
 * audit_cli.c: `hubgate audit`: parses options into an audit filter, runs
 * the query on the SQLite store, prints a table for people or JSON lines for
 * scripts. The store's values come from requests (subjects, User-Agents,
 * errors), so the table never sends a control character to the terminal.
 * See audit_cli.h.
 */
#include "audit_cli.h"
#include "audit.h"
#include "audit_query.h"
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: hubgate audit [--db FILE | -c FILE] [--since T] [--until T] [--subject S] [--client C]\n"
    "                     [--route R] [--decision D] [--status N|Nxx] [--request-id ID] [--object-id ID]\n"
    "                     [--limit N] [--cursor C] [--format table|jsonl]\n"
    "Queries the audit store, newest first. T is an RFC 3339 date-time (2024-05-01T12:00:00Z) or a date;\n"
    "since <= ts < until. --object-id matches either side of a forwarded pair. --limit: 1..1000 (100).\n"
    "Without --db, the store is the audit.sqlite of the configuration (-c, default " HG_AUDIT_CLI_DEFAULT_CONFIG ").\n";

/* option name (after "--") to filter name */
static const char *const filter_options[][2] = {
    {"since", "since"},           {"until", "until"},         {"subject", "subject"},     {"client", "client"},
    {"route", "route"},           {"decision", "decision"},   {"status", "status"},       {"request-id", "request_id"},
    {"request_id", "request_id"}, {"object-id", "object_id"}, {"object_id", "object_id"}, {"limit", "limit"},
    {"cursor", "cursor"}};

typedef struct st_cell_t {
    char *text;
    size_t width; /* in characters */
} cell_t;

/* a table cell: control characters become '?', text longer than cap characters ends in "..." (cap >= 4) */
static cell_t make_cell(const char *s, size_t cap)
{
    size_t len = strlen(s), total = 0;
    for (size_t i = 0; i != len; ++i)
        total += ((unsigned char)s[i] & 0xc0) != 0x80;
    size_t keep = total > cap ? cap - 3 : total, width = 0;
    char *text = hg_xmalloc(len + 4), *o = text;
    for (size_t i = 0; i < len && width < keep; ++width) {
        const unsigned char *p = (const unsigned char *)s + i;
        size_t n = 1;
        while (i + n < len && (p[n] & 0xc0) == 0x80)
            ++n;
        if (p[0] < 0x20 || p[0] == 0x7f || (p[0] == 0xc2 && n == 2 && p[1] < 0xa0)) {
            *o++ = '?'; /* C0 and C1 controls: never to the terminal */
        } else {
            memcpy(o, p, n);
            o += n;
        }
        i += n;
    }
    if (total > cap) {
        memcpy(o, "...", 3);
        o += 3;
        width += 3;
    }
    *o = '\0';
    return (cell_t){text, width};
}

static const char *str_of(const json_t *rec, const char *key, char *buf, size_t size)
{
    const json_t *v = json_object_get(rec, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, size, "%.1f", json_real_value(v));
        return buf;
    }
    return "-";
}

enum { C_TS, C_REQUEST_ID, C_DECISION, C_STATUS, C_ROUTE, C_SUBJECT, C_CLIENT, C_INPUTS, C_MS, C_ERROR, C_NUM };

static void print_table(FILE *out, const json_t *records)
{
    static const char *const headers[C_NUM] = {"TS",      "REQUEST_ID", "DECISION", "STATUS", "ROUTE",
                                               "SUBJECT", "CLIENT",     "INPUTS",   "MS",     "ERROR"};
    static const char *const keys[C_NUM] = {"ts",      "request_id", "decision", "status",      "route",
                                            "subject", "client",     NULL,       "duration_ms", "error"};
    size_t rows = json_array_size(records) + 1, widths[C_NUM] = {0};
    cell_t *cells = hg_xcalloc(rows * C_NUM, sizeof(*cells));
    for (size_t r = 0; r != rows; ++r) {
        const json_t *rec = r != 0 ? json_array_get(records, r - 1) : NULL;
        for (size_t c = 0; c != C_NUM; ++c) {
            char buf[64];
            const char *s = headers[c];
            if (rec != NULL && keys[c] != NULL) {
                s = str_of(rec, keys[c], buf, sizeof(buf));
            } else if (rec != NULL) {
                char a[24], b[24];
                snprintf(buf, sizeof(buf), "%s/%s", str_of(rec, "inputs_received", a, sizeof(a)),
                         str_of(rec, "inputs_forwarded", b, sizeof(b)));
                s = strcmp(buf, "-/-") != 0 ? buf : "-";
            }
            cell_t *cell = &cells[r * C_NUM + c];
            *cell = make_cell(s, c == C_ERROR ? 80 : 40);
            if (cell->width > widths[c])
                widths[c] = cell->width;
        }
    }
    for (size_t r = 0; r != rows; ++r) {
        for (size_t c = 0; c != C_NUM; ++c) {
            cell_t *cell = &cells[r * C_NUM + c];
            if (c + 1 == C_NUM)
                fprintf(out, "%s\n", cell->text);
            else
                fprintf(out, "%s%*s  ", cell->text, (int)(widths[c] - cell->width), "");
            free(cell->text);
        }
    }
    free(cells);
}

static void usage_error(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void usage_error(FILE *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hubgate audit: ", err);
    vfprintf(err, fmt, ap);
    fputs("\n(hubgate audit --help shows the options)\n", err);
    va_end(ap);
}

int hg_audit_cli_run(int argc, char **argv, hg_audit_resolve_db_cb resolve_config_db, FILE *out, FILE *err)
{
    const char *db = NULL, *config = NULL, *format = "table";
    char *resolved = NULL;
    int status = 2;
    hg_violations_t problems;
    hg_violations_init(&problems, 10);
    hg_audit_filter_t *f = hg_audit_filter_new();
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i], *value = NULL;
        char name[64];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage, out);
            status = 0;
            goto Exit;
        }
        if (strcmp(arg, "-c") == 0) {
            snprintf(name, sizeof(name), "config");
        } else if (strncmp(arg, "--", 2) == 0) {
            const char *eq = strchr(arg, '=');
            size_t n = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            if (n >= sizeof(name)) {
                usage_error(err, "unknown option %s", arg);
                goto Exit;
            }
            memcpy(name, arg + 2, n);
            name[n] = '\0';
            value = eq != NULL ? eq + 1 : NULL;
        } else {
            usage_error(err, "unexpected argument %s", arg);
            goto Exit;
        }
        const char *filter = NULL;
        for (size_t k = 0; k != sizeof(filter_options) / sizeof(filter_options[0]); ++k)
            if (strcmp(name, filter_options[k][0]) == 0)
                filter = filter_options[k][1];
        if (filter == NULL && strcmp(name, "db") != 0 && strcmp(name, "config") != 0 && strcmp(name, "format") != 0) {
            usage_error(err, "unknown option %s", arg);
            goto Exit;
        }
        if (value == NULL) {
            if (i + 1 == argc) {
                usage_error(err, "%s needs a value", arg);
                goto Exit;
            }
            value = argv[++i];
        }
        if (filter != NULL) {
            if (hg_audit_filter_set(f, filter, value, &problems) != 0) {
                fprintf(err, "hubgate audit: --%s: %s\n", name, problems.items[0].message);
                goto Exit;
            }
        } else if (strcmp(name, "db") == 0) {
            db = value;
        } else if (strcmp(name, "config") == 0) {
            config = value;
        } else if (strcmp(value, "table") == 0 || strcmp(value, "jsonl") == 0) {
            format = value;
        } else {
            usage_error(err, "--format must be table or jsonl, not %s", value);
            goto Exit;
        }
    }
    if (db != NULL && config != NULL) {
        usage_error(err, "give --db or -c, not both");
        goto Exit;
    }
    if (db == NULL) {
        char msg[512] = "";
        if (resolve_config_db == NULL) {
            usage_error(err, "give --db FILE");
            goto Exit;
        }
        if ((resolved = resolve_config_db(config != NULL ? config : HG_AUDIT_CLI_DEFAULT_CONFIG, msg, sizeof(msg))) == NULL) {
            fprintf(err, "hubgate audit: %s\n", msg);
            status = 1;
            goto Exit;
        }
        db = resolved;
    }
    json_t *answer = hg_audit_query(db, f, &problems);
    if (answer == NULL) {
        fprintf(err, "hubgate audit: %s\n", problems.items[0].message);
        status = 1;
        goto Exit;
    }
    const json_t *records = json_object_get(answer, "records");
    if (strcmp(format, "table") == 0) {
        print_table(out, records);
    } else {
        size_t i;
        const json_t *rec;
        json_array_foreach(records, i, rec)
        {
            char *line = json_dumps(rec, HG_AUDIT_JSON_FLAGS);
            fprintf(out, "%s\n", line);
            free(line);
        }
    }
    const char *next = json_string_value(json_object_get(answer, "next_cursor"));
    if (next != NULL)
        fprintf(err, "next page: --cursor %s\n", next);
    json_decref(answer);
    status = fflush(out) == 0 ? 0 : 1;
Exit:
    hg_audit_filter_free(f);
    hg_violations_clear(&problems);
    free(resolved);
    return status;
}

int hg_audit_cli_main(int argc, char **argv, hg_audit_resolve_db_cb resolve_config_db)
{
    return hg_audit_cli_run(argc, argv, resolve_config_db, stdout, stderr);
}
