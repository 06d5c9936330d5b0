/*
 * test_configschema.c: schemas/hubgate-config.schema.json against YAML
 * configurations, through the same path `hubgate -t` takes: hg_yaml_load_string,
 * hg_schema_validate, then hg_yaml_line for each violation's pointer. A full
 * configuration (every key of CONTRACT.md section 3) and minimal ones pass;
 * broken ones give the exact code, pointer and line.
 */
#include "jsonschema.h"
#include "util.h"
#include "yamljson.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the contract's example, completed (scopes, a token source) */
static const char full_conf[] =
    "listen:\n"                                                         /* 1 */
    "  - \"127.0.0.1:8080\"\n"                                          /* 2 */
    "  - address: \"0.0.0.0:8443\"\n"                                   /* 3 */
    "    tls: {certificate: tls/server.crt, key: tls/server.key}\n"     /* 4 */
    "workers: auto\n"                                                   /* 5 */
    "shutdown_timeout_ms: 10000\n"                                      /* 6 */
    "upstream:\n"                                                       /* 7 */
    "  url: \"https://api.hubapi.com\"\n"                               /* 8 */
    "  ca_file: null\n"                                                 /* 9 */
    "  connect_timeout_ms: 5000\n"                                      /* 10 */
    "  io_timeout_ms: 30000\n"                                          /* 11 */
    "  keepalive_timeout_ms: 2000\n"                                    /* 12 */
    "  credential:\n"                                                   /* 13 */
    "    mode: inject\n"                                                /* 14 */
    "    token_file: null\n"                                            /* 15 */
    "    token_env: HUBSPOT_TOKEN\n"                                    /* 16 */
    "auth:\n"                                                           /* 17 */
    "  issuers:\n"                                                      /* 18 */
    "    - issuer: \"https://idp.example.internal\"\n"                  /* 19 */
    "      audiences: [\"hubgate\"]\n"                                  /* 20 */
    "      keys:\n"                                                     /* 21 */
    "        - {kid: k1, alg: RS256, pem_file: keys/k1.pub.pem}\n"      /* 22 */
    "        - {kid: h1, alg: HS256, secret_file: keys/h1.secret}\n"    /* 23 */
    "        - {jwks_file: keys/idp.jwks.json, algs: [RS256, ES256]}\n" /* 24 */
    "        - {jwks_url: \"https://idp.example.internal/.well-known/jwks.json\", algs: [RS256], refresh_s: 300, "
    "ca_file: null}\n"                                                                             /* 25 */
    "  leeway_s: 30\n"                                                                             /* 26 */
    "  require_exp: true\n"                                                                        /* 27 */
    "  scope_claims: [\"scope\", \"scp\"]\n"                                                       /* 28 */
    "  subject_claim: sub\n"                                                                       /* 29 */
    "  client_claims: [\"client_id\", \"azp\"]\n"                                                  /* 30 */
    "  max_token_bytes: 8192\n"                                                                    /* 31 */
    "  cache_entries: 10000\n"                                                                     /* 32 */
    "routes:\n"                                                                                    /* 33 */
    "  - name: create-default-associations\n"                                                      /* 34 */
    "    method: POST\n"                                                                           /* 35 */
    "    path: \"/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default\"\n" /* 36 */
    "    scopes_any:\n"                                                                            /* 37 */
    "      - crm.objects.contacts.write\n"                                                         /* 38 */
    "      - crm.objects.custom.highly_sensitive.write.v2\n"                                       /* 39 */
    "      - \"crm.objects.{fromObjectType}.write\"\n"                                             /* 40 */
    "    schema: ../schemas/batch-associate-default.request.json\n"                                /* 41 */
    "    normalize: associations\n"                                                                /* 42 */
    "    max_inputs: 2000\n"                                                                       /* 43 */
    "    unknown_fields: drop\n"                                                                   /* 44 */
    "unmatched: deny\n"                                                                            /* 45 */
    "limits:\n"                                                                                    /* 46 */
    "  max_body_bytes: 1048576\n"                                                                  /* 47 */
    "  max_json_depth: 32\n"                                                                       /* 48 */
    "audit:\n"                                                                                     /* 49 */
    "  sqlite: audit.db\n"                                                                         /* 50 */
    "  jsonl: null\n"                                                                              /* 51 */
    "  retention_days: 30\n"                                                                       /* 52 */
    "  on_failure: reject\n"                                                                       /* 53 */
    "admin:\n"                                                                                     /* 54 */
    "  listen: \"127.0.0.1:9901\"\n"                                                               /* 55 */
    "  token_file: null\n"                                                                         /* 56 */
    "log:\n"                                                                                       /* 57 */
    "  level: info\n"                                                                              /* 58 */
    "  access: null\n";                                                                            /* 59 */

static hg_schema_t *schema;

static void load_schema(void)
{
    const char *srcdir = getenv("HUBGATE_SRCDIR");
    ck_assert_msg(srcdir != NULL, "HUBGATE_SRCDIR is not set (run through make check)");
    char *path = hg_path_join(srcdir, "schemas/hubgate-config.schema.json");
    hg_violations_t errs;
    hg_violations_init(&errs, 10);
    schema = hg_schema_load(path, &errs);
    if (schema == NULL)
        ck_abort_msg("%s: %s: %s", path, errs.count != 0 ? errs.items[0].in : "", errs.count != 0 ? errs.items[0].message : "?");
    hg_violations_clear(&errs);
    free(path);
}

static void free_schema(void)
{
    hg_schema_free(schema);
    schema = NULL;
}

/* replaces the first occurrence of `from` in full_conf by `to`; a new heap string */
static char *edit(const char *from, const char *to)
{
    const char *at = strstr(full_conf, from);
    ck_assert_msg(at != NULL, "\"%s\" is not in the sample", from);
    return hg_xasprintf("%.*s%s%s", (int)(at - full_conf), full_conf, to, at + strlen(from));
}

/* loads the YAML and validates it; the YAML must load */
static int check(const char *yaml, hg_violations_t *out, hg_yaml_lines_t **lines)
{
    hg_violations_t yerr;
    hg_violations_init(&yerr, 10);
    int line;
    json_t *conf = hg_yaml_load_string(yaml, strlen(yaml), lines, &line, &yerr);
    if (conf == NULL)
        ck_abort_msg("YAML error at line %d: %s", line, yerr.items[0].message);
    hg_violations_init(out, HG_VIOLATIONS_MAX);
    int rc = hg_schema_validate(schema, conf, out);
    json_decref(conf);
    return rc;
}

static void expect_valid(const char *yaml)
{
    hg_violations_t v;
    hg_yaml_lines_t *lines;
    int rc = check(yaml, &v, &lines);
    if (v.count != 0)
        ck_abort_msg("unexpected violation: %s: %s: %s", v.items[0].in, v.items[0].code, v.items[0].message);
    ck_assert_int_eq(rc, 0);
    hg_violations_clear(&v);
    hg_yaml_lines_free(lines);
}

/* the first violation has this code, pointer and line; message when not NULL */
static void expect_one(const char *yaml, const char *code, const char *in, int line, const char *message)
{
    hg_violations_t v;
    hg_yaml_lines_t *lines;
    int rc = check(yaml, &v, &lines);
    ck_assert_int_eq(rc, -1);
    ck_assert_uint_ge(v.count, 1);
    ck_assert_str_eq(v.items[0].in, in);
    ck_assert_str_eq(v.items[0].code, code);
    if (message != NULL)
        ck_assert_str_eq(v.items[0].message, message);
    ck_assert_int_eq(hg_yaml_line(lines, v.items[0].in), line);
    hg_violations_clear(&v);
    hg_yaml_lines_free(lines);
}

START_TEST(full_and_minimal_configurations_pass)
{
    expect_valid(full_conf);
    expect_valid("listen: [\"127.0.0.1:8080\"]\n"
                 "upstream: {credential: {token_file: hubspot.token}}\n"
                 "auth: {issuers: [{issuer: x, keys: [{alg: ES256, pem_file: k.pem}]}]}\n"
                 "routes: [{name: r, path: \"/a/{b}\", scopes_any: [s], schema: s.json}]\n");
    expect_valid("listen: [\"[::1]:8080\"]\n"
                 "workers: 4\n"
                 "upstream: {url: \"http://127.0.0.1:9000\", keepalive_timeout_ms: 0, credential: {mode: passthrough}}\n"
                 "auth: {issuers: [{issuer: x, audiences: [], keys: [{jwks_file: k.json, algs: [EdDSA]}]}]}\n"
                 "routes: [{name: r, method: PUT, path: /a, scopes_any: [s], schema: s.json, normalize: none}]\n"
                 "unmatched: forward\n"
                 "audit: {sqlite: null, jsonl: \"-\", on_failure: continue}\n"
                 "admin: {listen: null}\n"
                 "log: {level: debug, access: \"-\"}\n");
}
END_TEST

START_TEST(unknown_keys)
{
    char *yaml = edit("unmatched: deny\n", "unmatched: deny\nunmached: deny\n");
    expect_one(yaml, "additionalProperties", "/unmached", 46, "property \"unmached\" is not allowed");
    free(yaml);
    yaml = edit("  leeway_s: 30\n", "  leeway_s: 30\n  leway_s: 3\n");
    expect_one(yaml, "additionalProperties", "/auth/leway_s", 27, "property \"leway_s\" is not allowed");
    free(yaml);
    yaml = edit("key: tls/server.key}", "key: tls/server.key, ciphers: x}");
    expect_one(yaml, "additionalProperties", "/listen/1/tls/ciphers", 4, "property \"ciphers\" is not allowed");
    free(yaml);
    /* a JWKS entry has no kid of its own */
    yaml = edit("{jwks_file:", "{kid: x, jwks_file:");
    expect_one(yaml, "additionalProperties", "/auth/issuers/0/keys/2/kid", 24, "property \"kid\" is not allowed");
    free(yaml);
}
END_TEST

START_TEST(wrong_types_and_values)
{
    char *yaml = edit("shutdown_timeout_ms: 10000", "shutdown_timeout_ms: \"10000\"");
    expect_one(yaml, "type", "/shutdown_timeout_ms", 6, NULL);
    free(yaml);
    yaml = edit("workers: auto", "workers: many");
    expect_one(yaml, "const", "/workers", 5, NULL);
    free(yaml);
    yaml = edit("workers: auto", "workers: 257");
    expect_one(yaml, "maximum", "/workers", 5, NULL);
    free(yaml);
    yaml = edit("  - \"127.0.0.1:8080\"", "  - 8080");
    expect_one(yaml, "type", "/listen/0", 2, NULL);
    free(yaml);
    yaml = edit("  - \"127.0.0.1:8080\"", "  - \"127.0.0.1:65536\"");
    expect_one(yaml, "pattern", "/listen/0", 2, NULL);
    free(yaml);
    yaml = edit("{kid: k1, alg: RS256,", "{kid: k1, alg: HS256,");
    expect_one(yaml, "enum", "/auth/issuers/0/keys/0/alg", 22, NULL);
    free(yaml);
    yaml = edit("algs: [RS256, ES256]", "algs: [RS256, none]");
    expect_one(yaml, "enum", "/auth/issuers/0/keys/2/algs/1", 24, NULL);
    free(yaml);
    yaml = edit("\"crm.objects.{fromObjectType}.write\"", "\"crm.objects.{fromType}.write\"");
    expect_one(yaml, "pattern", "/routes/0/scopes_any/2", 40, NULL);
    free(yaml);
    yaml = edit("unmatched: deny", "unmatched: allow");
    expect_one(yaml, "enum", "/unmatched", 45, NULL);
    free(yaml);
    yaml = edit("  on_failure: reject", "  on_failure: ignore");
    expect_one(yaml, "enum", "/audit/on_failure", 53, NULL);
    free(yaml);
    yaml = edit("  level: info", "  level: verbose");
    expect_one(yaml, "enum", "/log/level", 58, NULL);
    free(yaml);
    yaml = edit("  require_exp: true", "  require_exp: yes");
    expect_one(yaml, "type", "/auth/require_exp", 27, NULL);
    free(yaml);
    yaml = edit("  max_json_depth: 32", "  max_json_depth: 0");
    expect_one(yaml, "minimum", "/limits/max_json_depth", 48, NULL);
    free(yaml);
    /* inject takes exactly one token source; passthrough takes none */
    yaml = edit("    token_file: null\n", "    token_file: hubspot.token\n");
    expect_one(yaml, "type", "/upstream/credential/token_env", 16, NULL);
    free(yaml);
    yaml = edit("    mode: inject\n", "    mode: passthrough\n");
    expect_one(yaml, "type", "/upstream/credential/token_env", 16, NULL);
    free(yaml);
    yaml = edit("    token_env: HUBSPOT_TOKEN\n", "");
    expect_one(yaml, "anyOf", "/upstream/credential", 13, NULL);
    free(yaml);
}
END_TEST

START_TEST(missing_required)
{
    /* the pointer is where the key should be; its line is the nearest existing ancestor's */
    char *yaml = edit("routes:\n  - name: create-default-associations\n", "other_routes:\n  - name: create-default-associations\n");
    expect_one(yaml, "required", "/routes", 1, NULL);
    free(yaml);
    yaml = edit(", key: tls/server.key}", "}");
    expect_one(yaml, "required", "/listen/1/tls/key", 4, NULL);
    free(yaml);
    yaml = edit("    schema: ../schemas/batch-associate-default.request.json\n", "");
    expect_one(yaml, "required", "/routes/0/schema", 34, NULL);
    free(yaml);
    yaml = edit("  issuers:\n", "  issuer_list:\n");
    expect_one(yaml, "required", "/auth/issuers", 17, NULL);
    free(yaml);
    yaml =
        edit("  - \"127.0.0.1:8080\"\n  - address: \"0.0.0.0:8443\"\n    tls: {certificate: tls/server.crt, key: tls/server.key}\n",
             "  []\n");
    expect_one(yaml, "minItems", "/listen", 1, NULL);
    free(yaml);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("configschema");
    TCase *tc = tcase_create("configschema");
    tcase_add_unchecked_fixture(tc, load_schema, free_schema);
    tcase_add_test(tc, full_and_minimal_configurations_pass);
    tcase_add_test(tc, unknown_keys);
    tcase_add_test(tc, wrong_types_and_values);
    tcase_add_test(tc, missing_required);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
