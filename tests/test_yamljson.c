/*
 * test_yamljson.c: YAML configuration -> jansson. The YAML 1.2 core schema
 * resolution table, lines of nested nodes and sequence items (and of the
 * nearest ancestor for missing pointers), pointer escaping, and every refusal
 * with its exact pointer, line and message.
 */
#include "yamljson.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *load(const char *text, hg_yaml_lines_t **lines)
{
    hg_violations_t v;
    hg_violations_init(&v, 10);
    int line = -1;
    json_t *root = hg_yaml_load_string(text, strlen(text), lines, &line, &v);
    if (root == NULL)
        ck_abort_msg("unexpected error at line %d: %s", line, v.count != 0 ? v.items[0].message : "?");
    ck_assert_uint_eq(v.count, 0);
    ck_assert_int_eq(line, 0);
    return root;
}

static void expect_error(const char *text, int want_line, const char *want_in, const char *want_message)
{
    hg_violations_t v;
    hg_violations_init(&v, 10);
    hg_yaml_lines_t *lines = (hg_yaml_lines_t *)&v; /* must be reset to NULL */
    int line = -1;
    json_t *root = hg_yaml_load_string(text, strlen(text), &lines, &line, &v);
    ck_assert_ptr_null(root);
    ck_assert_ptr_null(lines);
    ck_assert_uint_eq(v.count, 1);
    ck_assert_str_eq(v.items[0].code, "yaml");
    ck_assert_str_eq(v.items[0].in, want_in);
    ck_assert_str_eq(v.items[0].message, want_message);
    ck_assert_int_eq(line, want_line);
    hg_violations_clear(&v);
}

static const struct {
    const char *yaml, *json;
} scalars[] = {
    /* null */
    {"", "null"},
    {"~", "null"},
    {"null", "null"},
    {"Null", "null"},
    {"NULL", "null"},
    {"nULL", "\"nULL\""},
    /* booleans; YAML 1.1's yes/no/on/off are strings in 1.2 */
    {"true", "true"},
    {"True", "true"},
    {"TRUE", "true"},
    {"false", "false"},
    {"False", "false"},
    {"FALSE", "false"},
    {"tRUE", "\"tRUE\""},
    {"yes", "\"yes\""},
    {"no", "\"no\""},
    {"on", "\"on\""},
    {"off", "\"off\""},
    /* integers */
    {"0", "0"},
    {"-0", "0"},
    {"+12", "12"},
    {"-12", "-12"},
    {"007", "7"},
    {"0x1F", "31"},
    {"0xff", "255"},
    {"0o17", "15"},
    {"9223372036854775807", "9223372036854775807"},
    {"-9223372036854775808", "-9223372036854775808"},
    {"0x7FFFFFFFFFFFFFFF", "9223372036854775807"},
    {"0X1F", "\"0X1F\""},
    {"0xG", "\"0xG\""},
    {"0o8", "\"0o8\""},
    {"0b101", "\"0b101\""},
    {"+0x1", "\"+0x1\""},
    {"1_000", "\"1_000\""},
    {"12:30", "\"12:30\""},
    /* reals */
    {"1.5", "1.5"},
    {"-.5", "-0.5"},
    {"1.", "1.0"},
    {"1e3", "1000.0"},
    {"1E-2", "0.01"},
    {"+1.5e+2", "150.0"},
    {"1.0", "1.0"},
    {".", "\".\""},
    {"1.2.3", "\"1.2.3\""},
    {"1e", "\"1e\""},
    {"e3", "\"e3\""},
    {"inf", "\"inf\""},
    {"nan", "\"nan\""},
    /* other strings */
    {"2001-12-14", "\"2001-12-14\""},
    {"127.0.0.1:8080", "\"127.0.0.1:8080\""},
    {"crm.objects.{fromObjectType}.write", "\"crm.objects.{fromObjectType}.write\""},
    {"a b  c", "\"a b  c\""},
    /* quoted styles and !!str are always strings */
    {"'1'", "\"1\""},
    {"\"true\"", "\"true\""},
    {"''", "\"\""},
    {"'~'", "\"~\""},
    {"\"null\"", "\"null\""},
    {"!!str 12", "\"12\""},
    {"!!str null", "\"null\""},
    {"!!str", "\"\""},
    {"\"tab\\there\"", "\"tab\\there\""},
    {"|\n  line1\n  line2\n", "\"line1\\nline2\\n\""},
    {">\n  folded\n  text\n", "\"folded text\\n\""},
    {"|-\n  0x10\n", "\"0x10\""},
};

START_TEST(scalar_resolution)
{
    const char *yaml = scalars[_i].yaml, *want = scalars[_i].json;
    char *doc = NULL;
    if (asprintf(&doc, "v: %s\n", yaml) < 0)
        ck_abort();
    json_t *root = load(doc, NULL);
    char *got = json_dumps(json_object_get(root, "v"), JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_msg(strcmp(got, want) == 0, "%s: got %s, want %s", yaml, got, want);
    free(got);
    free(doc);
    json_decref(root);
}
END_TEST

START_TEST(structure_and_keys)
{
    json_t *root = load("# comment\n"
                        "listen: [\"127.0.0.1:8080\", {address: \"0.0.0.0:8443\"}]\n"
                        "empty_map: {}\n"
                        "empty_seq: []\n"
                        "1: numeric key stays a string\n"
                        "null: so does null\n"
                        "'quoted': x\n"
                        "? explicit\n"
                        ": y\n",
                        NULL);
    char *got = json_dumps(root, JSON_COMPACT);
    ck_assert_str_eq(got, "{\"listen\":[\"127.0.0.1:8080\",{\"address\":\"0.0.0.0:8443\"}],\"empty_map\":{},\"empty_seq\":[],"
                          "\"1\":\"numeric key stays a string\",\"null\":\"so does null\",\"quoted\":\"x\",\"explicit\":\"y\"}");
    free(got);
    json_decref(root);

    root = load("- 1\n- [a, b]\n", NULL);
    got = json_dumps(root, JSON_COMPACT);
    ck_assert_str_eq(got, "[1,[\"a\",\"b\"]]");
    free(got);
    json_decref(root);

    root = load("--- just a scalar\n...\n", NULL);
    ck_assert_str_eq(json_string_value(root), "just a scalar");
    json_decref(root);
}
END_TEST

START_TEST(lines_of_nodes)
{
    hg_yaml_lines_t *lines = NULL;
    json_t *root = load("# hubgate\n"                         /* 1 */
                        "\n"                                  /* 2 */
                        "listen:\n"                           /* 3 */
                        "  - \"127.0.0.1:8080\"\n"            /* 4 */
                        "  - address: \"0.0.0.0:8443\"\n"     /* 5 */
                        "    tls: {certificate: a, key: b}\n" /* 6 */
                        "upstream:\n"                         /* 7 */
                        "  url: http://x\n"                   /* 8 */
                        "  credential:\n"                     /* 9 */
                        "    mode:\n"                         /* 10 */
                        "      inject\n"                      /* 11 */
                        "\"a/b~c\":\n"                        /* 12 */
                        "  k: [1,\n"                          /* 13 */
                        "      2]\n"                          /* 14 */
                        "seq:\n"                              /* 15 */
                        "-\n"                                 /* 16 */
                        "  - nested\n",                       /* 17 */
                        &lines);
    ck_assert_ptr_nonnull(lines);
    static const struct {
        const char *pointer;
        int line;
    } want[] = {
        {"", 3},
        {"/listen", 3},
        {"/listen/0", 4},
        {"/listen/1", 5},
        {"/listen/1/address", 5},
        {"/listen/1/tls", 6},
        {"/listen/1/tls/key", 6},
        {"/upstream", 7},
        {"/upstream/url", 8},
        {"/upstream/credential", 9},
        {"/upstream/credential/mode", 10},
        {"/a~1b~0c", 12},
        {"/a~1b~0c/k", 13},
        {"/a~1b~0c/k/0", 13},
        {"/a~1b~0c/k/1", 14},
        {"/seq/0", 17},
        {"/seq/0/0", 17},
        /* missing: the nearest existing ancestor */
        {"/upstream/credential/token_file", 9},
        {"/listen/1/tls/nope/deeper", 6},
        {"/listen/7", 3},
        {"/routes", 3},
        {"/a/b~c", 3},
    };
    for (size_t i = 0; i != sizeof(want) / sizeof(want[0]); ++i)
        ck_assert_msg(hg_yaml_line(lines, want[i].pointer) == want[i].line, "%s: line %d, want %d", want[i].pointer,
                      hg_yaml_line(lines, want[i].pointer), want[i].line);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(root, "a/b~c"), "k"));
    ck_assert_int_eq(hg_yaml_line(NULL, "/listen"), 0);
    hg_yaml_lines_free(lines);
    json_decref(root);
}
END_TEST

START_TEST(syntax_errors)
{
    expect_error(
        "a:\n\tb: 1\n", 2, "",
        "YAML syntax error: found character that cannot start any token while scanning for the next token (column 1); a tab "
        "cannot indent YAML, use spaces");
    expect_error("a:\n  b: 1\n c: 2\n", 3, "",
                 "YAML syntax error: did not find expected key while parsing a block mapping (column 2)");
    expect_error("a: b: c\n", 1, "", "YAML syntax error: mapping values are not allowed in this context (column 5)");
    expect_error("a: [1, 2\n", 2, "",
                 "YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence (column 1)");
    expect_error("x: 1\ny: 2\nz: \xc3\x28\n", 3, "", "YAML error: invalid trailing UTF-8 octet (byte 0x28 at offset 14)");
}
END_TEST

START_TEST(refusals)
{
    expect_error("a:\n  b: 1\n  c: 2\n  b: 3\n", 4, "/a/b", "duplicate key \"b\"");
    expect_error("x: 1\n\"a/b\": 1\n'a/b': 2\n", 3, "/a~1b", "duplicate key \"a/b\"");
    expect_error("a: &x 1\nb: *x\n", 1, "/a", "anchors and aliases are not supported (found anchor &x)");
    expect_error("a: 1\nb:\n  - *x\n", 3, "/b/0", "anchors and aliases are not supported (found alias *x)");
    expect_error("a:\n  *x : 1\n", 2, "/a", "anchors and aliases are not supported (found an alias as a key)");
    expect_error("base: &b {x: 1}\n", 1, "/base", "anchors and aliases are not supported (found anchor &b)");
    expect_error("a: !!int 1\n", 1, "/a", "tags are not supported, except !!str (found !!int)");
    expect_error("a: !custom 1\n", 1, "/a", "tags are not supported, except !!str (found !custom)");
    expect_error("a: !!seq [1]\n", 1, "/a", "tags are not supported, except !!str (found !!seq)");
    expect_error("a: !!str [1]\n", 1, "/a", "!!str cannot be applied to a sequence");
    expect_error("? [a]\n: 1\n", 1, "", "mapping keys must be scalars");
    expect_error("a: 1\n---\nb: 2\n", 2, "", "only one YAML document is allowed");
    expect_error("", 1, "", "the file holds no YAML document");
    expect_error("# only a comment\n", 1, "", "the file holds no YAML document");
    expect_error("a: \"x\\0y\"\n", 1, "/a", "a NUL character is not allowed in a scalar");
    expect_error("\"k\\0\": 1\n", 1, "", "a NUL character is not allowed in a key");
    expect_error("a:\n  - 1\n  - .inf\n", 3, "/a/1", ".inf: infinity and NaN are not supported");
    expect_error("a: -.Inf\n", 1, "/a", "-.Inf: infinity and NaN are not supported");
    expect_error("a: .NaN\n", 1, "/a", ".NaN: infinity and NaN are not supported");
    expect_error("a: 9223372036854775808\n", 1, "/a", "integer 9223372036854775808 is out of range (64 bits)");
    expect_error("a: 0x8000000000000000\n", 1, "/a", "integer 0x8000000000000000 is out of range (64 bits)");
    expect_error("a: 1e400\n", 1, "/a", "number 1e400 is out of range");

    char deep[2 * HG_YAML_MAX_DEPTH + 8];
    memset(deep, '[', HG_YAML_MAX_DEPTH);
    memset(deep + HG_YAML_MAX_DEPTH, ']', HG_YAML_MAX_DEPTH);
    deep[2 * HG_YAML_MAX_DEPTH] = '\0';
    hg_violations_t v;
    hg_violations_init(&v, 10);
    json_t *ok = hg_yaml_load_string(deep, strlen(deep), NULL, NULL, &v);
    ck_assert_ptr_nonnull(ok);
    json_decref(ok);
    memset(deep, '[', HG_YAML_MAX_DEPTH + 1);
    memset(deep + HG_YAML_MAX_DEPTH + 1, ']', HG_YAML_MAX_DEPTH + 1);
    deep[2 * HG_YAML_MAX_DEPTH + 2] = '\0';
    expect_error(deep, 1,
                 "/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/"
                 "0/0/0/0/0/0/0/0",
                 "nesting deeper than 64 levels");
}
END_TEST

START_TEST(files)
{
    char path[] = "/tmp/hubgate-yamljson-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "workers: auto\nlog:\n  level: debug\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);

    hg_violations_t v;
    hg_violations_init(&v, 10);
    hg_yaml_lines_t *lines;
    int line = -1;
    json_t *root = hg_yaml_load_file(path, &lines, &line, &v);
    unlink(path);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(root, "log"), "level")), "debug");
    ck_assert_int_eq(hg_yaml_line(lines, "/log/level"), 3);
    ck_assert_int_eq(line, 0);
    hg_yaml_lines_free(lines);
    json_decref(root);

    root = hg_yaml_load_file("/nonexistent/hubgate.yaml", &lines, &line, &v);
    ck_assert_ptr_null(root);
    ck_assert_ptr_null(lines);
    ck_assert_int_eq(line, 0);
    ck_assert_uint_eq(v.count, 1);
    ck_assert_str_eq(v.items[0].in, "");
    ck_assert_str_eq(v.items[0].code, "yaml");
    ck_assert_str_eq(v.items[0].message, "cannot read /nonexistent/hubgate.yaml: No such file or directory");
    hg_violations_clear(&v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("yamljson");
    TCase *tc = tcase_create("scalars");
    tcase_add_loop_test(tc, scalar_resolution, 0, (int)(sizeof(scalars) / sizeof(scalars[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("structure");
    tcase_add_test(tc, structure_and_keys);
    suite_add_tcase(s, tc);
    tc = tcase_create("lines");
    tcase_add_test(tc, lines_of_nodes);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, syntax_errors);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, files);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
