/*
 * test_jsonsuite.c: conformance of hubgate's JSON Schema validator with the
 * official JSON-Schema-Test-Suite, draft 2020-12.
 *
 * Runs every group of the suite's files for the keywords hubgate supports
 * (the `scoped` list below), compiles each group's schema, validates each test
 * datum twice (yes/no mode and reporting mode, which must agree) and compares
 * with the expected verdict. Prints a table: file, groups, tests, passed,
 * skipped, failed. Every test must pass except those listed BY NAME in
 * `skips` with the reason (a remote reference, or a keyword hubgate refuses
 * on purpose); a listed skip that no longer applies is a failure too, so the
 * list cannot rot.
 *
 * The suite is looked up in $HUBGATE_SHARED/json-schema-test-suite (the make
 * check harness exports HUBGATE_SHARED); without it the test exits 77 (skip)
 * and says where it looked. `--all` (or HUBGATE_JSONSUITE_ALL=1) also runs
 * every other file of the suite, optional ones included, and prints the
 * honest table: unsupported keywords fail there. The exit status only ever
 * reflects the scoped files.
 *
 * Data-driven rather than Check-based: the unit of work is a file of the
 * suite, and the output is the table.
 */
#include "jsonschema.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const scoped[] = {
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "dependentRequired",
    "items",
    "prefixItems",
    "contains",
    "minContains",
    "maxContains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if-then-else",
    "ref",
    "anchor",
    "defs",
    "boolean_schema",
    "default",
    "infinite-loop-detection",
    "format",
    "content",
};

/* groups (test == NULL) or single tests of scoped files that are skipped on purpose, and why */
static const struct {
    const char *file, *group, *test, *reason;
} skips[] = {
    {"additionalProperties", "dependentSchemas with additionalProperties", NULL, "dependentSchemas is not supported (load error)"},
    {"not", "collect annotations inside a 'not', even if collection is disabled", NULL,
     "unevaluatedProperties is not supported (load error)"},
    {"ref", "remote ref, containing refs itself", NULL, "remote $ref to the 2020-12 meta-schema (never fetched)"},
    {"ref", "ref creates new scope when adjacent to keywords", NULL, "unevaluatedProperties is not supported (load error)"},
    {"defs", "validate definition against metaschema", NULL, "remote $ref to the 2020-12 meta-schema (never fetched)"},
    {"content", "validation of binary-encoded media type documents with schema", NULL,
     "contentSchema is not supported (load error)"},
};

typedef struct st_tally_t {
    size_t groups, tests, passed, skipped, failed;
} tally_t;

static int verbose_failures = 1;

static const char *skip_reason(const char *file, const char *group, const char *test, int *used)
{
    for (size_t i = 0; i != sizeof(skips) / sizeof(skips[0]); ++i) {
        if (strcmp(skips[i].file, file) == 0 && strcmp(skips[i].group, group) == 0 &&
            (test == NULL ? skips[i].test == NULL : skips[i].test != NULL && strcmp(skips[i].test, test) == 0)) {
            if (used != NULL)
                used[i] = 1;
            return skips[i].reason;
        }
    }
    return NULL;
}

static void run_file(const char *dir, const char *relpath, const char *label, int check_skips, int *used, tally_t *t)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, relpath) < 0)
        abort();
    json_error_t err;
    json_t *groups = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    free(path);
    if (!json_is_array(groups)) {
        printf("FAIL %s: cannot parse the file: line %d: %s\n", label, err.line, err.text);
        t->failed += 1;
        t->tests += 1;
        json_decref(groups);
        return;
    }
    size_t gi;
    json_t *group;
    json_array_foreach(groups, gi, group)
    {
        const char *gdesc = json_string_value(json_object_get(group, "description"));
        json_t *tests = json_object_get(group, "tests");
        size_t ntests = json_array_size(tests);
        ++t->groups;
        t->tests += ntests;
        const char *greason = check_skips ? skip_reason(label, gdesc, NULL, used) : NULL;
        hg_violations_t errors;
        hg_violations_init(&errors, 5);
        char *name;
        if (asprintf(&name, "%s: %s", label, gdesc) < 0)
            abort();
        hg_schema_t *s = hg_schema_compile(json_object_get(group, "schema"), name, &errors);
        free(name);
        if (greason != NULL) {
            t->skipped += ntests;
            if (s != NULL) {
                printf("FAIL %s | %s: listed as skipped (%s) but compiles now: update the list\n", label, gdesc, greason);
                t->skipped -= ntests;
                t->failed += ntests;
            }
            hg_schema_free(s);
            hg_violations_clear(&errors);
            continue;
        }
        if (s == NULL) {
            if (verbose_failures)
                printf("FAIL %s | %s: schema refused: %s %s\n", label, gdesc, errors.items[0].in, errors.items[0].message);
            t->failed += ntests;
            hg_violations_clear(&errors);
            continue;
        }
        size_t ti;
        json_t *test;
        json_array_foreach(tests, ti, test)
        {
            const char *tdesc = json_string_value(json_object_get(test, "description"));
            if (check_skips && skip_reason(label, gdesc, tdesc, used) != NULL) {
                ++t->skipped;
                continue;
            }
            int expected = json_is_true(json_object_get(test, "valid"));
            const json_t *data = json_object_get(test, "data");
            hg_violations_t out;
            hg_violations_init(&out, 20);
            int quick = hg_schema_validate(s, data, NULL) == 0;
            int full = hg_schema_validate(s, data, &out) == 0;
            int consistent = quick == full && full == (hg_violations_total(&out) == 0);
            if (quick == expected && consistent) {
                ++t->passed;
            } else {
                ++t->failed;
                if (verbose_failures)
                    printf("FAIL %s | %s | %s: expected %s, got %s%s%s%s\n", label, gdesc, tdesc, expected ? "valid" : "invalid",
                           quick ? "valid" : "invalid", consistent ? "" : " (modes disagree)", out.count ? ": " : "",
                           out.count ? out.items[0].message : "");
            }
            hg_violations_clear(&out);
        }
        hg_schema_free(s);
        hg_violations_clear(&errors);
    }
    json_decref(groups);
}

static void row(const char *label, const tally_t *t)
{
    printf("%-44s %6zu %6zu %6zu %7zu %6zu\n", label, t->groups, t->tests, t->passed, t->skipped, t->failed);
}

static void add(tally_t *sum, const tally_t *t)
{
    sum->groups += t->groups;
    sum->tests += t->tests;
    sum->passed += t->passed;
    sum->skipped += t->skipped;
    sum->failed += t->failed;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the .json files of dir/sub (sub may be ""), sorted, as relative paths */
static size_t list_files(const char *dir, const char *sub, char ***out, size_t n)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, sub) < 0)
        abort();
    DIR *d = opendir(path);
    free(path);
    if (d == NULL)
        return n;
    size_t first = n;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
            *out = realloc(*out, (n + 1) * sizeof(**out));
            if (asprintf(&(*out)[n++], "%s%s%s", sub, *sub ? "/" : "", e->d_name) < 0)
                abort();
        }
    }
    closedir(d);
    qsort(*out + first, n - first, sizeof(**out), cmp_str);
    return n;
}

int main(int argc, char **argv)
{
    int all = getenv("HUBGATE_JSONSUITE_ALL") != NULL && strcmp(getenv("HUBGATE_JSONSUITE_ALL"), "1") == 0;
    for (int i = 1; i < argc; ++i)
        all |= strcmp(argv[i], "--all") == 0;
    const char *shared = getenv("HUBGATE_SHARED");
    char *dir;
    if (shared != NULL) {
        if (asprintf(&dir, "%s/json-schema-test-suite/tests/draft2020-12", shared) < 0)
            abort();
    } else {
        const char *src = getenv("HUBGATE_SRCDIR");
        if (asprintf(&dir, "%s/../shared/json-schema-test-suite/tests/draft2020-12", src != NULL ? src : ".") < 0)
            abort();
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("test_jsonsuite: JSON-Schema-Test-Suite not found at %s (set HUBGATE_SHARED); skipped\n", dir);
        free(dir);
        return 77;
    }
    int used[sizeof(skips) / sizeof(skips[0])] = {0};
    char **files = NULL;
    size_t nfiles = list_files(dir, "", &files, 0);
    tally_t sum = {0};
    printf("%-44s %6s %6s %6s %7s %6s\n", "draft2020-12 (hubgate's keywords)", "groups", "tests", "passed", "skipped", "failed");
    for (size_t i = 0; i != sizeof(scoped) / sizeof(scoped[0]); ++i) {
        char *rel;
        if (asprintf(&rel, "%s.json", scoped[i]) < 0)
            abort();
        tally_t t = {0};
        run_file(dir, rel, scoped[i], 1, used, &t);
        row(scoped[i], &t);
        add(&sum, &t);
        free(rel);
    }
    row("total", &sum);
    for (size_t i = 0; i != sizeof(skips) / sizeof(skips[0]); ++i) {
        printf("skipped: %s | %s%s%s: %s\n", skips[i].file, skips[i].group, skips[i].test ? " | " : "",
               skips[i].test ? skips[i].test : "", skips[i].reason);
        if (!used[i]) {
            printf("FAIL the skip above names no test of the suite: update the list\n");
            ++sum.failed;
        }
    }
    int failed = sum.failed != 0 || sum.passed + sum.skipped != sum.tests;
    if (all) {
        nfiles = list_files(dir, "optional", &files, nfiles);
        nfiles = list_files(dir, "optional/format", &files, nfiles);
        tally_t every = {0};
        verbose_failures = 0;
        printf("\n%-44s %6s %6s %6s %7s %6s\n", "draft2020-12 (every file, no skips)", "groups", "tests", "passed", "skipped",
               "failed");
        for (size_t i = 0; i != nfiles; ++i) {
            tally_t t = {0};
            char *label = strdup(files[i]);
            label[strlen(label) - 5] = '\0';
            run_file(dir, files[i], label, 0, NULL, &t);
            row(label, &t);
            add(&every, &t);
            free(label);
        }
        row("total", &every);
    }
    for (size_t i = 0; i != nfiles; ++i)
        free(files[i]);
    free(files);
    free(dir);
    printf("%s\n", failed ? "FAIL" : "PASS");
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
