/*
 * test_jsonschema.c: the JSON Schema validator, keyword by keyword: verdicts,
 * the exact violations (in, code, message) it reports, load errors with their
 * pointers, $ref resolution, cycles and depth, pruning, and the seed
 * endpoint's request schema (schemas/batch-associate-default.request.json).
 * Every verdict is checked in both modes: with an output list and without.
 */
#include "jsonschema.h"

#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    ck_assert_msg(v != NULL, "bad JSON in test: %s: %s", text, err.text);
    return v;
}

static hg_schema_t *compile(const char *text)
{
    json_t *doc = parse(text);
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_schema_t *s = hg_schema_compile(doc, "t.json", &errors);
    ck_assert_msg(s != NULL, "schema refused: %s: %s", errors.count != 0 ? errors.items[0].in : "?",
                  errors.count != 0 ? errors.items[0].message : "?");
    ck_assert_uint_eq(errors.count, 0);
    hg_violations_clear(&errors);
    json_decref(doc);
    return s;
}

/* validates in both modes; the list gets at most `limit` violations */
static int run(const hg_schema_t *s, const char *instance, hg_violations_t *out)
{
    json_t *v = parse(instance);
    int quick = hg_schema_validate(s, v, NULL);
    int full = hg_schema_validate(s, v, out);
    json_decref(v);
    ck_assert_int_eq(quick, full);
    ck_assert_int_eq(full == 0, hg_violations_total(out) == 0);
    return full;
}

static void valid(const char *schema, const char *instance)
{
    hg_schema_t *s = compile(schema);
    hg_violations_t out;
    hg_violations_init(&out, 10);
    int r = run(s, instance, &out);
    ck_assert_msg(r == 0, "%s refused %s: %s %s %s", schema, instance, out.count ? out.items[0].in : "",
                  out.count ? out.items[0].code : "", out.count ? out.items[0].message : "");
    hg_violations_clear(&out);
    hg_schema_free(s);
}

/* expects exactly one violation */
static void invalid(const char *schema, const char *instance, const char *in, const char *code, const char *message)
{
    hg_schema_t *s = compile(schema);
    hg_violations_t out;
    hg_violations_init(&out, 10);
    ck_assert_int_eq(run(s, instance, &out), -1);
    ck_assert_msg(out.count == 1, "%s on %s: %zu violations, first %s %s", schema, instance, out.count, out.items[0].code,
                  out.items[0].message);
    ck_assert_str_eq(out.items[0].in, in);
    ck_assert_str_eq(out.items[0].code, code);
    ck_assert_str_eq(out.items[0].message, message);
    hg_violations_clear(&out);
    hg_schema_free(s);
}

/* expects the schema to be refused, the first error at `in` with `message` */
static void refused(const char *schema, const char *in, const char *message)
{
    json_t *doc = parse(schema);
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_ptr_null(hg_schema_compile(doc, "t.json", &errors));
    ck_assert_uint_ge(errors.count, 1);
    ck_assert_str_eq(errors.items[0].in, in);
    ck_assert_str_eq(errors.items[0].code, "schema");
    ck_assert_str_eq(errors.items[0].message, message);
    hg_violations_clear(&errors);
    json_decref(doc);
}

START_TEST(type_messages)
{
    invalid("{\"type\":\"string\"}", "5", "", "type", "must be a string, not an integer");
    invalid("{\"type\":\"object\"}", "[]", "", "type", "must be an object, not an array");
    invalid("{\"type\":[\"string\",\"null\"]}", "1.5", "", "type", "must be a string or null, not a number");
    invalid("{\"type\":[\"array\",\"string\",\"boolean\"]}", "{}", "", "type",
            "must be an array, a string or a boolean, not an object");
    invalid("{\"type\":\"integer\"}", "1.5", "", "type", "must be an integer, not a number");
    invalid("{\"type\":\"null\"}", "false", "", "type", "must be null, not a boolean");
    valid("{\"type\":\"integer\"}", "1.0");
    valid("{\"type\":\"integer\"}", "-7");
    valid("{\"type\":\"number\"}", "3");
    valid("{\"type\":[\"integer\",\"string\"]}", "\"x\"");
}
END_TEST

START_TEST(enum_and_const)
{
    invalid("{\"enum\":[\"a\",\"b\",3]}", "\"c\"", "", "enum", "must be one of \"a\", \"b\", 3");
    valid("{\"enum\":[\"a\",1]}", "1.0");
    valid("{\"enum\":[{\"x\":[1,2]}]}", "{\"x\":[1.0,2]}");
    invalid("{\"enum\":[[1,2]]}", "[2,1]", "", "enum", "must be one of [1,2]");
    invalid("{\"const\":{\"a\":1}}", "{\"a\":2}", "", "const", "must be equal to {\"a\":1}");
    valid("{\"const\":{\"a\":1,\"b\":null}}", "{\"b\":null,\"a\":1.0}");
    invalid("{\"const\":false}", "0", "", "const", "must be equal to false");
    invalid("{\"const\":\"a\\u0000b\"}", "\"a\"", "", "const", "must be equal to \"a\\u0000b\"");
}
END_TEST

START_TEST(required_points_where_the_property_should_be)
{
    const char *schema = "{\"properties\":{\"inputs\":{\"items\":{\"required\":[\"from\",\"to\"]}}}}";
    invalid(schema, "{\"inputs\":[{\"from\":1,\"to\":2},{\"to\":2}]}", "/inputs/1/from", "required",
            "required property \"from\" is missing");
    invalid("{\"required\":[\"a/b~c\"]}", "{}", "/a~1b~0c", "required", "required property \"a/b~c\" is missing");
    valid("{\"required\":[\"a\"]}", "[]");
}
END_TEST

START_TEST(object_keywords)
{
    invalid("{\"properties\":{\"a\":true},\"additionalProperties\":false}", "{\"a\":1,\"b\":2}", "/b", "additionalProperties",
            "property \"b\" is not allowed");
    invalid("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"b\":\"x\"}", "/b", "type", "must be an integer, not a string");
    invalid("{\"properties\":{\"a\":false}}", "{\"a\":1}", "/a", "properties", "property \"a\" is not allowed");
    invalid("{\"patternProperties\":{\"^x-\":{\"type\":\"string\"}},\"additionalProperties\":false}", "{\"x-a\":\"s\",\"y\":1}",
            "/y", "additionalProperties", "property \"y\" is not allowed");
    invalid("{\"patternProperties\":{\"^x-\":{\"type\":\"string\"}}}", "{\"x-a\":1}", "/x-a", "type",
            "must be a string, not an integer");
    invalid("{\"patternProperties\":{\"b\":false}}", "{\"abc\":1}", "/abc", "patternProperties", "property \"abc\" is not allowed");
    invalid("{\"propertyNames\":{\"maxLength\":3}}", "{\"abcd\":1}", "/abcd", "propertyNames",
            "property name \"abcd\" is not valid: must be at most 3 characters long, has 4");
    invalid("{\"minProperties\":2}", "{\"a\":1}", "", "minProperties", "must have at least 2 properties, has 1");
    invalid("{\"maxProperties\":1}", "{\"a\":1,\"b\":2}", "", "maxProperties", "must have at most 1 property, has 2");
    invalid("{\"dependentRequired\":{\"card\":[\"billing\"]}}", "{\"card\":1}", "/billing", "dependentRequired",
            "property \"billing\" is required when \"card\" is present");
    valid("{\"dependentRequired\":{\"card\":[\"billing\"]}}", "{\"billing\":1}");
}
END_TEST

START_TEST(array_keywords)
{
    invalid("{\"maxItems\":2}", "[1,2,3]", "", "maxItems", "must have at most 2 items, has 3");
    invalid("{\"minItems\":1}", "[]", "", "minItems", "must have at least 1 item, has 0");
    invalid("{\"items\":{\"type\":\"string\"}}", "[\"a\",2]", "/1", "type", "must be a string, not an integer");
    invalid("{\"prefixItems\":[{\"type\":\"integer\"}],\"items\":false}", "[1,2]", "/1", "items",
            "no item is allowed at this position (at most 1 item)");
    invalid("{\"prefixItems\":[true,{\"type\":\"integer\"}]}", "[\"a\",\"b\",\"c\"]", "/1", "type",
            "must be an integer, not a string");
    invalid("{\"uniqueItems\":true}", "[1,2,1.0]", "", "uniqueItems", "must not contain duplicate items (items 0 and 2 are equal)");
    valid("{\"uniqueItems\":true}", "[1,\"1\",[1],{\"a\":1},true,null]");
    invalid("{\"contains\":{\"type\":\"string\"}}", "[1,2]", "", "contains",
            "must contain at least one item that matches the contains schema");
    invalid("{\"contains\":{\"type\":\"string\"},\"minContains\":2}", "[\"a\",2]", "", "minContains",
            "must contain at least 2 items that match the contains schema, has 1");
    invalid("{\"contains\":{\"type\":\"string\"},\"maxContains\":1}", "[\"a\",\"b\"]", "", "maxContains",
            "must contain at most 1 item that matches the contains schema, has 2");
    valid("{\"contains\":{\"type\":\"string\"},\"minContains\":0}", "[]");
    valid("{\"minContains\":5}", "[]");
}
END_TEST

START_TEST(unique_items_large_arrays)
{
    hg_schema_t *s = compile("{\"uniqueItems\":true}");
    char buf[4096];
    size_t len = 0;
    len += (size_t)sprintf(buf + len, "[");
    for (int i = 0; i != 200; ++i)
        len += (size_t)sprintf(buf + len, "%s{\"k\":%d}", i ? "," : "", i);
    strcpy(buf + len, "]");
    hg_violations_t out;
    hg_violations_init(&out, 10);
    ck_assert_int_eq(run(s, buf, &out), 0);
    strcpy(buf + len, ",{\"k\":57.0}]");
    ck_assert_int_eq(run(s, buf, &out), -1);
    ck_assert_str_eq(out.items[0].message, "must not contain duplicate items (items 57 and 200 are equal)");
    hg_violations_clear(&out);
    hg_schema_free(s);
}
END_TEST

START_TEST(string_keywords)
{
    invalid("{\"minLength\":2}", "\"\\u00e9\"", "", "minLength", "must be at least 2 characters long, has 1");
    valid("{\"maxLength\":2}", "\"\\u00e9\\ud83d\\udc32\"");
    invalid("{\"maxLength\":1}", "\"ab\"", "", "maxLength", "must be at most 1 character long, has 2");
    invalid("{\"pattern\":\"^[0-9]{1,20}$\"}", "\"12a\"", "", "pattern", "must match the pattern ^[0-9]{1,20}$");
    valid("{\"pattern\":\"a+\"}", "\"xxaayy\"");
    valid("{\"pattern\":\"^a\"}", "5");
}
END_TEST

START_TEST(patterns_follow_ecma262)
{
    /* $ matches only at the end: PCRE2's default would accept a trailing newline */
    invalid("{\"pattern\":\"^[0-9]{1,20}$\"}", "\"123\\n\"", "", "pattern", "must match the pattern ^[0-9]{1,20}$");
    /* \d, \w are ASCII */
    invalid("{\"pattern\":\"^\\\\d+$\"}", "\"\\u09ea\\u09e8\"", "", "pattern", "must match the pattern ^\\d+$");
    invalid("{\"pattern\":\"^\\\\w$\"}", "\"\\u00e9\"", "", "pattern", "must match the pattern ^\\w$");
    /* \s is Unicode whitespace, \S its complement */
    valid("{\"pattern\":\"^\\\\s$\"}", "\"\\u00a0\"");
    valid("{\"pattern\":\"^\\\\s$\"}", "\"\\ufeff\"");
    valid("{\"pattern\":\"^\\\\S$\"}", "\"\\u2013\"");
    invalid("{\"pattern\":\"^\\\\S$\"}", "\"\\u2003\"", "", "pattern", "must match the pattern ^\\S$");
    /* characters, not bytes; long property names; \u escapes */
    valid("{\"pattern\":\"^.$\"}", "\"\\ud83d\\udc32\"");
    invalid("{\"pattern\":\"^.$\"}", "\"\\n\"", "", "pattern", "must match the pattern ^.$");
    valid("{\"pattern\":\"^\\\\p{Letter}+$\"}", "\"\\u03c0x\"");
    valid("{\"pattern\":\"^\\\\p{digit}+$\"}", "\"\\u09ea\"");
    valid("{\"pattern\":\"^\\\\p{gc=Lu}$\"}", "\"\\u00c9\"");
    valid("{\"pattern\":\"^\\\\u00e9$\"}", "\"\\u00e9\"");
    valid("{\"pattern\":\"^\\\\cC$\"}", "\"\\u0003\"");
    invalid("{\"pattern\":\"[]\"}", "\"a\"", "", "pattern", "must match the pattern []");
}
END_TEST

START_TEST(simple_patterns_match_like_pcre2)
{
    /* one anchored ASCII class, repeated: matched by a byte table; each case also runs through PCRE2 with an equivalent
       pattern that the fast path does not recognize (a group around the class) */
    static const struct {
        const char *simple, *general, *subject;
        int matches;
    } cases[] = {
        {"^[0-9]{1,20}$", "^(?:[0-9]){1,20}$", "\"12345678901234567890\"", 1},
        {"^[0-9]{1,20}$", "^(?:[0-9]){1,20}$", "\"123456789012345678901\"", 0},
        {"^[0-9]{1,20}$", "^(?:[0-9]){1,20}$", "\"\"", 0},
        {"^[0-9]{1,20}$", "^(?:[0-9]){1,20}$", "\"\u0661\"", 0},
        {"^[0-9]{1,20}$", "^(?:[0-9]){1,20}$", "\"1 \"", 0},
        {"^[a-z-]+$", "^(?:[a-z-])+$", "\"a-b\"", 1},
        {"^[a-z-]+$", "^(?:[a-z-])+$", "\"A\"", 0},
        {"^[-_.]*$", "^(?:[-_.])*$", "\"\"", 1},
        {"^\\\\d{3}$", "^(?:\\\\d){3}$", "\"123\"", 1},
        {"^\\\\d{3}$", "^(?:\\\\d){3}$", "\"12\"", 0},
        {"^\\\\w{2,}$", "^(?:\\\\w){2,}$", "\"a_9Z\"", 1},
        {"^\\\\w{2,}$", "^(?:\\\\w){2,}$", "\"a\\u00e9\"", 0},
        {"^[a]?$", "^(?:[a])?$", "\"aa\"", 0},
        {"^[x]$", "^(?:[x])$", "\"x\"", 1},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const char *patterns[] = {cases[i].simple, cases[i].general};
        for (size_t k = 0; k != 2; ++k) {
            char schema[128];
            snprintf(schema, sizeof(schema), "{\"pattern\":\"%s\"}", patterns[k]);
            hg_schema_t *s = compile(schema);
            json_t *v = parse(cases[i].subject);
            ck_assert_msg((hg_schema_validate(s, v, NULL) == 0) == cases[i].matches, "%s on %s", patterns[k], cases[i].subject);
            json_decref(v);
            hg_schema_free(s);
        }
    }
}
END_TEST

START_TEST(number_keywords)
{
    invalid("{\"minimum\":5}", "4.5", "", "minimum", "must be at least 5");
    invalid("{\"maximum\":1.5}", "2", "", "maximum", "must be at most 1.5");
    invalid("{\"exclusiveMinimum\":0}", "0", "", "exclusiveMinimum", "must be greater than 0");
    invalid("{\"exclusiveMaximum\":10}", "10.0", "", "exclusiveMaximum", "must be less than 10");
    invalid("{\"multipleOf\":0.01}", "0.075", "", "multipleOf", "must be a multiple of 0.01");
    valid("{\"multipleOf\":0.01}", "0.07");
    valid("{\"multipleOf\":0.0001}", "0.0075");
    valid("{\"multipleOf\":3}", "-9");
    invalid("{\"type\":\"integer\",\"multipleOf\":0.123456789}", "1e308", "", "multipleOf", "must be a multiple of 0.123456789");
    valid("{\"maximum\":9223372036854775807}", "9223372036854775807");
    invalid("{\"maximum\":9223372036854775806}", "9223372036854775807", "", "maximum", "must be at most 9223372036854775806");
}
END_TEST

START_TEST(combinators_report_once)
{
    invalid("{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":10}]}", "3", "", "anyOf",
            "must match at least one of the schemas in anyOf");
    invalid("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "3", "", "oneOf",
            "must match exactly one of the schemas in oneOf, matches schemas 0 and 1");
    invalid("{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}", "3", "", "oneOf",
            "must match exactly one of the schemas in oneOf, matches none");
    invalid("{\"not\":{\"type\":\"integer\"}}", "3", "", "not", "must not match the schema in not");
    invalid("{\"if\":{\"required\":[\"a\"]},\"then\":{\"required\":[\"b\"]},\"else\":{\"required\":[\"c\"]}}", "{\"a\":1}", "/b",
            "required", "required property \"b\" is missing");
    invalid("{\"if\":{\"required\":[\"a\"]},\"then\":{\"required\":[\"b\"]},\"else\":{\"required\":[\"c\"]}}", "{}", "/c",
            "required", "required property \"c\" is missing");
    valid("{\"then\":false}", "1");
    invalid("{\"allOf\":[{\"type\":\"object\"},{\"required\":[\"x\"]}]}", "{}", "/x", "required",
            "required property \"x\" is missing");
    invalid("{\"allOf\":[true,false]}", "1", "", "allOf", "no value is allowed here");
    invalid("false", "1", "", "false", "no value is allowed here");
    valid("true", "{\"anything\":[1]}");
    valid("{}", "null");
}
END_TEST

START_TEST(refs_inside_the_document)
{
    invalid("{\"$defs\":{\"id\":{\"type\":\"string\"}},\"properties\":{\"a\":{\"$ref\":\"#/$defs/id\"}}}", "{\"a\":1}", "/a",
            "type", "must be a string, not an integer");
    valid("{\"$defs\":{\"a~b\":{\"type\":\"string\"},\"c/d\":{\"minLength\":1},\"e%f\":{\"maxLength\":2}},"
          "\"allOf\":[{\"$ref\":\"#/$defs/a~0b\"},{\"$ref\":\"#/$defs/c~1d\"},{\"$ref\":\"#/$defs/e%25f\"}]}",
          "\"xy\"");
    invalid("{\"definitions\":{\"n\":{\"type\":\"null\"}},\"$ref\":\"#/definitions/n\"}", "0", "", "type",
            "must be null, not an integer");
    invalid("{\"$defs\":{\"x\":{\"$anchor\":\"num\",\"type\":\"number\"}},\"$ref\":\"#num\"}", "\"s\"", "", "type",
            "must be a number, not a string");
    invalid("{\"prefixItems\":[{\"type\":\"integer\"},{\"$ref\":\"#/prefixItems/0\"}]}", "[1,\"a\"]", "/1", "type",
            "must be an integer, not a string");
    /* $id-relative references */
    const char *ids = "{\"$id\":\"https://example.com/root.json\",\"$ref\":\"item.json\","
                      "\"$defs\":{\"i\":{\"$id\":\"item.json\",\"$ref\":\"#/$defs/s\",\"$defs\":{\"s\":{\"type\":\"string\"}}}}}";
    valid(ids, "\"x\"");
    invalid(ids, "1", "", "type", "must be a string, not an integer");
    valid("{\"$id\":\"urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed\",\"properties\":{\"foo\":{\"$ref\":\"urn:uuid:deadbeef-1234-"
          "ffff-ffff-"
          "4321feebdaed#/$defs/bar\"}},\"$defs\":{\"bar\":{\"type\":\"string\"}}}",
          "{\"foo\":\"bar\"}");
    /* recursion through properties terminates with the instance */
    const char *tree = "{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}}}";
    valid(tree, "{\"kids\":[{\"kids\":[]},{}]}");
    invalid(tree, "{\"kids\":[{\"kids\":[5]}]}", "/kids/0/kids/0", "type", "must be an object, not an integer");
    invalid("{\"$defs\":{\"f\":false},\"properties\":{\"a\":{\"$ref\":\"#/$defs/f\"}}}", "{\"a\":1}", "/a", "$ref",
            "no value is allowed here");
}
END_TEST

START_TEST(load_errors_name_the_place)
{
    refused("{\"properties\":{\"a\":{\"$dynamicRef\":\"#x\"}}}", "/properties/a/$dynamicRef",
            "t.json: unsupported keyword \"$dynamicRef\"");
    refused("{\"unevaluatedProperties\":false}", "/unevaluatedProperties", "t.json: unsupported keyword \"unevaluatedProperties\"");
    refused("{\"dependentSchemas\":{}}", "/dependentSchemas", "t.json: unsupported keyword \"dependentSchemas\"");
    refused("{\"items\":{\"maxlength\":3}}", "/items/maxlength", "t.json: unknown keyword \"maxlength\"");
    refused("{\"$ref\":\"https://json-schema.org/draft/2020-12/schema\"}", "/$ref",
            "t.json: remote $ref \"https://json-schema.org/draft/2020-12/schema\" is not supported (only references inside this "
            "document are)");
    refused("{\"$defs\":{},\"allOf\":[{\"$ref\":\"#/$defs/missing\"}]}", "/allOf/0/$ref",
            "t.json: dangling $ref \"#/$defs/missing\": nothing is there");
    refused("{\"$ref\":\"#nowhere\"}", "/$ref", "t.json: dangling $ref \"#nowhere\": no $anchor \"nowhere\" in this document");
    refused("{\"enum\":[{\"a\":1}],\"$ref\":\"#/enum/0\"}", "/$ref",
            "t.json: $ref \"#/enum/0\" points to a value that is not a schema");
    refused("{\"pattern\":\"a(\"}", "/pattern", "t.json: bad regular expression \"a(\": missing closing parenthesis (at offset 2)");
    refused("{\"patternProperties\":{\"[\":true}}", "/patternProperties/[",
            "t.json: bad regular expression \"[\": missing terminating ] for character class (at offset 1)");
    refused("{\"type\":\"strnig\"}", "/type", "t.json: unknown type \"strnig\"");
    refused("{\"minLength\":-1}", "/minLength", "t.json: must be a non-negative integer, not an integer");
    refused("{\"multipleOf\":0}", "/multipleOf", "t.json: must be greater than 0");
    refused("{\"required\":[\"a\",\"a\"]}", "/required/1", "t.json: \"a\" is listed twice");
    refused("{\"items\":[{}]}", "/items",
            "t.json: must be a schema; the array form of items is draft 2019-09 and older (use prefixItems)");
    refused("{\"properties\":{\"a\":3}}", "/properties/a", "t.json: a schema must be an object or a boolean, not an integer");
    refused("{\"$schema\":\"http://json-schema.org/draft-07/schema#\"}", "/$schema",
            "t.json: unsupported dialect (only \"https://json-schema.org/draft/2020-12/schema\" is)");
    refused("{\"$id\":\"https://x/a.json#frag\"}", "/$id", "t.json: must not contain a fragment (use $anchor)");
    refused("{\"$defs\":{\"a\":{\"$anchor\":\"x\"},\"b\":{\"$anchor\":\"x\"}}}", "/$defs/b/$anchor",
            "t.json: \"hubgate-schema:/schema.json#x\" already identifies the schema at \"/$defs/a\"");
    refused("{\"$anchor\":\"1x\"}", "/$anchor",
            "t.json: must be a name of letters, digits, \"-\", \"_\" and \".\", starting with a letter or \"_\"");
    refused("{\"anyOf\":[]}", "/anyOf", "t.json: must be a non-empty array of schemas");
}
END_TEST

START_TEST(load_errors_are_all_reported)
{
    json_t *doc = parse("{\"foo\":1,\"properties\":{\"a\":{\"bar\":2}},\"pattern\":\"(\"}");
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_ptr_null(hg_schema_compile(doc, "many.json", &errors));
    ck_assert_uint_eq(errors.count, 3);
    ck_assert_str_eq(errors.items[0].in, "/foo");
    ck_assert_str_eq(errors.items[1].in, "/properties/a/bar");
    ck_assert_str_eq(errors.items[2].in, "/pattern");
    hg_violations_clear(&errors);
    /* errors may be NULL */
    ck_assert_ptr_null(hg_schema_compile(doc, "many.json", NULL));
    json_decref(doc);
}
END_TEST

START_TEST(ref_cycles_are_refused)
{
    refused("{\"$ref\":\"#\"}", "/$ref",
            "t.json: $ref cycle: this leads back to the schema at \"\" without descending into the instance");
    refused("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"anyOf\":[{\"$ref\":\"#/$defs/a\"}]}},\"$ref\":\"#/$defs/a\"}",
            "/$defs/b/anyOf/0/$ref",
            "t.json: $ref cycle: this leads back to the schema at \"/$defs/a\" without descending into the instance");
    /* the same location twice on one value is no cycle */
    valid("{\"$defs\":{\"int\":{\"type\":\"integer\"}},\"allOf\":[{\"properties\":{\"foo\":{\"$ref\":\"#/$defs/int\"}}},"
          "{\"additionalProperties\":{\"$ref\":\"#/$defs/int\"}}]}",
          "{\"foo\":1}");
}
END_TEST

START_TEST(depth_is_bounded)
{
    hg_schema_t *s = compile("{\"$defs\":{\"a\":{\"items\":{\"$ref\":\"#/$defs/a\"}}},\"$ref\":\"#/$defs/a\"}");
    json_t *v = json_array();
    for (int i = 0; i != 200; ++i) {
        json_t *outer = json_array();
        json_array_append_new(outer, v);
        v = outer;
    }
    hg_violations_t out;
    hg_violations_init(&out, 10);
    ck_assert_int_eq(hg_schema_validate(s, v, NULL), -1);
    ck_assert_int_eq(hg_schema_validate(s, v, &out), -1);
    ck_assert_uint_eq(out.count, 1);
    ck_assert_str_eq(out.items[0].code, "too_deep");
    ck_assert_str_eq(out.items[0].message, "is nested deeper than the 128 schema levels the validator follows");
    /* the root (depth 1) refs $defs/a, then each array level takes two: a and its items' $ref; the 129th
       application, refused, is the items schema of the array 63 levels down, applied to its item "/0" x 64 */
    ck_assert_uint_eq(strlen(out.items[0].in), 64 * 2);
    hg_violations_clear(&out);
    json_decref(v);
    hg_schema_free(s);
}
END_TEST

START_TEST(violations_are_capped_and_counted)
{
    hg_schema_t *s = compile("{\"items\":{\"type\":\"string\"}}");
    json_t *v = json_array();
    for (int i = 0; i != 2000; ++i)
        json_array_append_new(v, json_integer(i));
    hg_violations_t out;
    hg_violations_init(&out, 100);
    ck_assert_int_eq(hg_schema_validate(s, v, &out), -1);
    ck_assert_uint_eq(out.count, 100);
    ck_assert_uint_eq(out.dropped, 1900);
    ck_assert_str_eq(out.items[99].in, "/99");
    hg_violations_clear(&out);
    json_decref(v);
    hg_schema_free(s);
}
END_TEST

static size_t prune_text(const char *schema, const char *instance, const char *expected)
{
    hg_schema_t *s = compile(schema);
    json_t *v = parse(instance);
    size_t n = hg_schema_prune(s, v);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_str_eq(text, expected);
    free(text);
    json_decref(v);
    hg_schema_free(s);
    return n;
}

START_TEST(prune_drops_what_additional_properties_refuses)
{
    const char *schema = "{\"$defs\":{\"rec\":{\"properties\":{\"id\":{}},\"additionalProperties\":false}},"
                         "\"properties\":{\"inputs\":{\"items\":{\"properties\":{\"from\":{\"$ref\":\"#/$defs/rec\"},"
                         "\"to\":{\"$ref\":\"#/$defs/rec\"}},\"additionalProperties\":false}}},\"additionalProperties\":false}";
    ck_assert_uint_eq(prune_text(schema,
                                 "{\"inputs\":[{\"from\":{\"id\":\"1\",\"x\":1},\"to\":{\"id\":\"2\"},\"y\":[]},5],\"z\":null}",
                                 "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}},5]}"),
                      3);
    ck_assert_uint_eq(
        prune_text("{\"patternProperties\":{\"^x-\":true},\"additionalProperties\":false}", "{\"x-a\":1,\"b\":2}", "{\"x-a\":1}"),
        1);
    ck_assert_uint_eq(prune_text("{\"prefixItems\":[{\"additionalProperties\":false}],\"items\":{\"properties\":{\"k\":true},"
                                 "\"additionalProperties\":false}}",
                                 "[{\"a\":1},{\"k\":1,\"b\":2}]", "[{},{\"k\":1}]"),
                      2);
    ck_assert_uint_eq(
        prune_text("{\"allOf\":[{\"properties\":{\"a\":true},\"additionalProperties\":false}]}", "{\"a\":1,\"b\":2}", "{\"a\":1}"),
        1);
    /* additionalProperties that is a schema, not false, keeps members */
    ck_assert_uint_eq(prune_text("{\"additionalProperties\":{\"type\":\"string\"}}", "{\"a\":1}", "{\"a\":1}"), 0);
    ck_assert_uint_eq(prune_text("{\"additionalProperties\":false}", "[1]", "[1]"), 0);
}
END_TEST

static char *request_schema_path(void)
{
    const char *src = getenv("HUBGATE_SRCDIR");
    char *path;
    if (asprintf(&path, "%s/schemas/batch-associate-default.request.json", src != NULL ? src : ".") < 0)
        abort();
    return path;
}

START_TEST(request_schema)
{
    char *path = request_schema_path();
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    hg_schema_t *s = hg_schema_load(path, &errors);
    ck_assert_msg(s != NULL, "%s", errors.count ? errors.items[0].message : "");
    free(path);
    hg_violations_t out;
    hg_violations_init(&out, 100);
    ck_assert_int_eq(run(s, "{\"inputs\":[{\"from\":{\"id\":\"123\"},\"to\":{\"id\":\"456\"}}]}", &out), 0);
    ck_assert_int_eq(run(s,
                         "{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}},{\"to\":{\"id\":\"3\"}},"
                         "{\"from\":{\"id\":\"12a\"},\"to\":{}},{\"from\":{\"id\":7},\"to\":{\"id\":\"\",\"x\":1}},"
                         "{\"from\":{\"id\":\"123456789012345678901\"},\"to\":{\"id\":\"1\\n\"}}],\"extra\":true}",
                         &out),
                     -1);
    static const char *const expected[][3] = {
        {"/inputs/1/from", "required", "required property \"from\" is missing"},
        {"/inputs/2/from/id", "pattern", "must match the pattern ^[0-9]{1,20}$"},
        {"/inputs/2/to/id", "required", "required property \"id\" is missing"},
        {"/inputs/3/from/id", "type", "must be a string, not an integer"},
        {"/inputs/3/to/id", "pattern", "must match the pattern ^[0-9]{1,20}$"},
        {"/inputs/3/to/x", "additionalProperties", "property \"x\" is not allowed"},
        {"/inputs/4/from/id", "pattern", "must match the pattern ^[0-9]{1,20}$"},
        {"/inputs/4/to/id", "pattern", "must match the pattern ^[0-9]{1,20}$"},
        {"/extra", "additionalProperties", "property \"extra\" is not allowed"},
    };
    ck_assert_uint_eq(out.count, sizeof(expected) / sizeof(expected[0]));
    for (size_t i = 0; i != out.count; ++i) {
        ck_assert_str_eq(out.items[i].in, expected[i][0]);
        ck_assert_str_eq(out.items[i].code, expected[i][1]);
        ck_assert_str_eq(out.items[i].message, expected[i][2]);
    }
    hg_violations_clear(&out);
    ck_assert_int_eq(run(s, "{\"inputs\":[]}", &out), -1);
    ck_assert_str_eq(out.items[0].in, "/inputs");
    ck_assert_str_eq(out.items[0].code, "minItems");
    ck_assert_str_eq(out.items[0].message, "must have at least 1 item, has 0");
    hg_violations_clear(&out);
    ck_assert_int_eq(run(s, "{}", &out), -1);
    ck_assert_str_eq(out.items[0].in, "/inputs");
    ck_assert_str_eq(out.items[0].code, "required");
    hg_violations_clear(&out);
    hg_schema_free(s);
}
END_TEST

START_TEST(load_reports_file_problems)
{
    hg_violations_t errors;
    hg_violations_init(&errors, 10);
    ck_assert_ptr_null(hg_schema_load("/nonexistent/s.json", &errors));
    ck_assert_str_eq(errors.items[0].in, "");
    ck_assert_str_eq(errors.items[0].message, "/nonexistent/s.json: cannot read: No such file or directory");
    hg_violations_clear(&errors);
    char dir[] = "/tmp/hg-schema-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/s.json", dir);
    FILE *fp = fopen(path, "w");
    fputs("{\"type\":\"string\",\"type\":\"integer\"}", fp);
    fclose(fp);
    ck_assert_ptr_null(hg_schema_load(path, &errors));
    ck_assert_str_eq(errors.items[0].in, "");
    char *expected;
    ck_assert_int_ge(asprintf(&expected, "%s:1:23: duplicate object key near '\"type\"'", path), 0);
    ck_assert_str_eq(errors.items[0].message, expected);
    free(expected);
    hg_violations_clear(&errors);
    fp = fopen(path, "w");
    fputs("{\"type\":\"string\",\"maxLenght\":3}", fp);
    fclose(fp);
    ck_assert_ptr_null(hg_schema_load(path, &errors));
    ck_assert_str_eq(errors.items[0].in, "/maxLenght");
    ck_assert_int_ge(asprintf(&expected, "%s: unknown keyword \"maxLenght\"", path), 0);
    ck_assert_str_eq(errors.items[0].message, expected);
    free(expected);
    hg_violations_clear(&errors);
    unlink(path);
    rmdir(dir);
}
END_TEST

typedef struct st_thread_arg_t {
    const hg_schema_t *schema;
    int failures;
} thread_arg_t;

static void *validate_many(void *p)
{
    thread_arg_t *arg = p;
    json_t *good = json_loads("{\"inputs\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"2\"}}]}", 0, NULL);
    json_t *bad = json_loads("{\"inputs\":[{\"from\":{\"id\":\"x\"},\"to\":{\"id\":\"2\"}}]}", 0, NULL);
    for (int i = 0; i != 2000; ++i) {
        hg_violations_t out;
        hg_violations_init(&out, 5);
        arg->failures += hg_schema_validate(arg->schema, good, NULL) != 0;
        arg->failures += hg_schema_validate(arg->schema, bad, &out) != -1 || out.count != 1;
        hg_violations_clear(&out);
    }
    json_decref(good);
    json_decref(bad);
    return NULL;
}

START_TEST(shared_between_threads)
{
    char *path = request_schema_path();
    hg_schema_t *s = hg_schema_load(path, NULL);
    free(path);
    ck_assert_ptr_nonnull(s);
    pthread_t t[4];
    thread_arg_t args[4];
    for (int i = 0; i != 4; ++i) {
        args[i] = (thread_arg_t){s, 0};
        pthread_create(&t[i], NULL, validate_many, &args[i]);
    }
    for (int i = 0; i != 4; ++i) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(args[i].failures, 0);
    }
    hg_schema_free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jsonschema");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"type", type_messages},
        {"enum_const", enum_and_const},
        {"required", required_points_where_the_property_should_be},
        {"object", object_keywords},
        {"array", array_keywords},
        {"unique_large", unique_items_large_arrays},
        {"string", string_keywords},
        {"regex", patterns_follow_ecma262},
        {"regex_simple", simple_patterns_match_like_pcre2},
        {"number", number_keywords},
        {"combinators", combinators_report_once},
        {"ref", refs_inside_the_document},
        {"load_errors", load_errors_name_the_place},
        {"load_errors_all", load_errors_are_all_reported},
        {"cycles", ref_cycles_are_refused},
        {"depth", depth_is_bounded},
        {"cap", violations_are_capped_and_counted},
        {"prune", prune_drops_what_additional_properties_refuses},
        {"request_schema", request_schema},
        {"load_file", load_reports_file_problems},
        {"threads", shared_between_threads},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
