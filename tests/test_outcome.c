/*
 * test_outcome.c: HubSpot's "status" and "numErrors" read from answers fed in
 * one piece and byte by byte, wherever they stand, past nested values and
 * strings full of brackets, and left unknown when the answer is not what it
 * should be.
 */
#include "outcome.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static void scan(const char *body, size_t chunk, hg_outcome_t *o)
{
    hg_outcome_init(o);
    size_t len = strlen(body);
    for (size_t i = 0; i < len; i += chunk)
        hg_outcome_feed(o, body + i, len - i < chunk ? len - i : chunk);
}

static const struct {
    const char *body;
    const char *status;
    int64_t num_errors;
} cases[] = {
    {"{\"status\":\"COMPLETE\",\"results\":[]}", "COMPLETE", -1},
    /* HubSpot's order: status last, after results with nested objects and strings holding brackets and quotes */
    {"{\"completedAt\":\"2023-11-07T05:31:56Z\",\"numErrors\":3,\"results\":[{\"from\":{\"id\":\"1\"},\"to\":{\"id\":\"}]\\\"\"}}],"
     "\"errors\":[{\"status\":\"error\",\"context\":{\"status\":[\"x\"]}}],\"status\":\"PENDING\"}",
     "PENDING", 3},
    {" \n{ \"numErrors\" : 0 , \"status\" : \"CANCELED\" }\n", "CANCELED", 0},
    {"{\"status\":\"COMPLETE\",\"status\":\"PROCESSING\"}", "PROCESSING", -1},
    {"{\"numErrors\":-1,\"status\":7}", "", -1},
    {"{\"numErrors\":1.5}", "", -1},
    {"{\"numErrors\":true,\"status\":null}", "", -1},
    {"{\"status\":\"A\\\"B\"}", "", -1},                             /* escaped: not a plain word */
    {"{\"stat\\u0075s\":\"COMPLETE\"}", "", -1},                     /* escaped key: not ours */
    {"{\"status\":\"0123456789012345678901234567890123\"}", "", -1}, /* too long to be a status */
    {"{\"status\":\"01234567890123456789012345678901\"}", "01234567890123456789012345678901", -1},
    {"{\"results\":[[[[\"status\"]]]],\"inner\":{\"status\":\"NO\",\"numErrors\":9}}", "", -1},
    {"[{\"status\":\"COMPLETE\"}]", "", -1}, /* not an object at the top */
    {"not json at all", "", -1},
    {"{\"status\":\"COMPLETE\"", "COMPLETE", -1}, /* cut after the value: it was complete */
    {"{\"status\":\"COMPL", "", -1},              /* cut inside the value */
    {"", "", -1},
};

START_TEST(reads_the_outcome)
{
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        static const size_t chunks[] = {1, 2, 3, 7, 1000};
        for (size_t c = 0; c != sizeof(chunks) / sizeof(chunks[0]); ++c) {
            hg_outcome_t o;
            scan(cases[i].body, chunks[c], &o);
            ck_assert_msg(strcmp(o.status, cases[i].status) == 0, "case %zu, chunks of %zu: status \"%s\", want \"%s\"", i,
                          chunks[c], o.status, cases[i].status);
            ck_assert_msg(o.num_errors == cases[i].num_errors, "case %zu, chunks of %zu: numErrors %lld, want %lld", i, chunks[c],
                          (long long)o.num_errors, (long long)cases[i].num_errors);
        }
    }
}
END_TEST

START_TEST(large_answers_cost_nothing_but_the_pass)
{
    /* 20000 results ahead of the status: the scanner keeps no copy, so any size works */
    const char *item = "{\"associationSpec\":{\"associationCategory\":\"HUBSPOT_DEFINED\",\"associationTypeId\":279},"
                       "\"from\":{\"id\":\"12345\"},\"to\":{\"id\":\"67890\"}},";
    hg_outcome_t o;
    hg_outcome_init(&o);
    hg_outcome_feed(&o, "{\"results\":[", 12);
    for (int i = 0; i != 20000; ++i)
        hg_outcome_feed(&o, item, strlen(item) - (i == 19999));
    hg_outcome_feed(&o, "],\"numErrors\":0,\"status\":\"COMPLETE\"}", 36);
    ck_assert_str_eq(o.status, "COMPLETE");
    ck_assert_int_eq(o.num_errors, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outcome");
    TCase *tc = tcase_create("scan");
    tcase_add_test(tc, reads_the_outcome);
    tcase_add_test(tc, large_answers_cost_nothing_but_the_pass);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
