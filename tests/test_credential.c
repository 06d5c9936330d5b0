/*
 * test_credential.c: upstream.credential: inject from a file (trimmed) or an
 * environment variable, passthrough, and every refusal with its pointer; a
 * refused token never appears in a message.
 */
#include "authtest.h"
#include "credential.h"
#include "util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static void setup(void)
{
    dir = at_tmpdir();
    free(at_write(dir, "token", "  pat-na1-0123-abcd\n", 20));
    free(at_write(dir, "crlf", "pat-SECRET\r\nX-Injected: 1\n", 27));
    free(at_write(dir, "space", "pat SECRET", 10));
    free(at_write(dir, "empty", "\n\n", 2));
    free(at_write(dir, "utf8", "pat-SECR\xc3\xa9T", 11));
}

static void teardown(void)
{
    at_rmdir(dir);
    free(dir);
}

static hg_credential_t *load(const char *json, hg_violations_t *v)
{
    json_t *conf = json != NULL ? json_loads(json, 0, NULL) : NULL;
    hg_violations_init(v, 10);
    hg_credential_t *c = hg_credential_new(conf, dir, v);
    json_decref(conf);
    return c;
}

START_TEST(inject_from_file_and_env)
{
    hg_violations_t v;
    hg_credential_t *c = load("{\"mode\":\"inject\",\"token_file\":\"token\"}", &v);
    ck_assert_ptr_nonnull(c);
    size_t len;
    const char *h = hg_credential_header(c, &len);
    ck_assert_int_eq(hg_credential_is_passthrough(c), 0);
    ck_assert_uint_eq(len, strlen("Bearer pat-na1-0123-abcd"));
    ck_assert_int_eq(memcmp(h, "Bearer pat-na1-0123-abcd", len), 0);
    hg_credential_free(c);

    setenv("HUBGATE_TEST_TOKEN", "pat-from-env", 1);
    c = load("{\"token_env\":\"HUBGATE_TEST_TOKEN\"}", &v); /* mode defaults to inject */
    ck_assert_ptr_nonnull(c);
    h = hg_credential_header(c, &len);
    ck_assert_uint_eq(len, 19);
    ck_assert_int_eq(memcmp(h, "Bearer pat-from-env", len), 0);
    hg_credential_free(c);

    c = load("{\"mode\":\"passthrough\",\"token_file\":null}", &v);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(hg_credential_is_passthrough(c), 1);
    ck_assert_ptr_null(hg_credential_header(c, &len));
    ck_assert_uint_eq(len, 0);
    hg_credential_free(c);
}
END_TEST

static const struct {
    const char *json, *in, *code, *message; /* %s: the temp dir */
} bad[] = {
    {NULL, "/upstream/credential", "required", "mode inject needs exactly one of token_file and token_env"},
    {"{\"mode\":\"inject\"}", "/upstream/credential", "required", "mode inject needs exactly one of token_file and token_env"},
    {"{\"token_file\":\"token\",\"token_env\":\"HOME\"}", "/upstream/credential", "oneOf",
     "mode inject needs exactly one of token_file and token_env"},
    {"{\"mode\":\"copy\",\"token_file\":\"token\"}", "/upstream/credential/mode", "enum", "mode must be inject or passthrough"},
    {"{\"mode\":3}", "/upstream/credential/mode", "type", "mode must be a non-empty string"},
    {"{\"mode\":\"passthrough\",\"token_env\":\"HOME\"}", "/upstream/credential/token_env", "additionalProperties",
     "token_env is for mode inject; passthrough forwards the client's header"},
    {"{\"token_file\":\"crlf\"}", "/upstream/credential/token_file", "invalid_credential",
     "the token in %s/crlf contains a control character, space or non-ASCII byte (the token is not shown)"},
    {"{\"token_file\":\"space\"}", "/upstream/credential/token_file", "invalid_credential",
     "the token in %s/space contains a control character, space or non-ASCII byte (the token is not shown)"},
    {"{\"token_file\":\"utf8\"}", "/upstream/credential/token_file", "invalid_credential",
     "the token in %s/utf8 contains a control character, space or non-ASCII byte (the token is not shown)"},
    {"{\"token_file\":\"empty\"}", "/upstream/credential/token_file", "invalid_credential", "the token in %s/empty is empty"},
    {"{\"token_file\":\"nothere\"}", "/upstream/credential/token_file", "invalid_credential",
     "cannot read %s/nothere: No such file or directory"},
    {"{\"token_env\":\"HUBGATE_TEST_UNSET\"}", "/upstream/credential/token_env", "invalid_credential",
     "environment variable HUBGATE_TEST_UNSET is not set"},
    {"{\"token_env\":\"HUBGATE_TEST_BAD\"}", "/upstream/credential/token_env", "invalid_credential",
     "environment variable HUBGATE_TEST_BAD contains a control character, space or non-ASCII byte (the token is not shown)"},
    {"[]", "/upstream/credential", "type", "credential must be an object"},
};

/* the message with "%s" replaced by the temporary directory */
static char *with_dir(const char *msg)
{
    const char *at = strstr(msg, "%s");
    if (at == NULL)
        return hg_xstrdup(msg);
    return hg_xasprintf("%.*s%s%s", (int)(at - msg), msg, dir, at + 2);
}

START_TEST(refused)
{
    unsetenv("HUBGATE_TEST_UNSET");
    setenv("HUBGATE_TEST_BAD", "pat-SECRET\rX: y", 1);
    hg_violations_t v;
    ck_assert_ptr_null(load(bad[_i].json, &v));
    ck_assert_uint_eq(v.count, 1);
    char *want = with_dir(bad[_i].message);
    ck_assert_str_eq(v.items[0].in, bad[_i].in);
    ck_assert_str_eq(v.items[0].code, bad[_i].code);
    ck_assert_str_eq(v.items[0].message, want);
    ck_assert_ptr_null(strstr(v.items[0].message, "SECRET"));
    free(want);
    hg_violations_clear(&v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("credential");
    TCase *tc = tcase_create("credential");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, inject_from_file_and_env);
    tcase_add_loop_test(tc, refused, 0, sizeof(bad) / sizeof(bad[0]));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
