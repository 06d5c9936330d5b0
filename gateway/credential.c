/*
 * credential.c: loading the upstream token once and keeping "Bearer T" ready.
 * See credential.h.
 */
#include "credential.h"
#include "util.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

struct st_hg_credential_t {
    int passthrough;
    char *header; /* "Bearer T", NUL-terminated too */
    size_t len;
};

#define PTR "/upstream/credential"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* trims the token (moves *s, shortens *len) and checks it; returns a problem or NULL */
static const char *check_token(const char **s, size_t *len)
{
    while (*len != 0 && is_space((*s)[*len - 1]))
        --*len;
    while (*len != 0 && is_space(**s)) {
        ++*s;
        --*len;
    }
    if (*len == 0)
        return "is empty";
    for (size_t i = 0; i != *len; ++i) {
        unsigned char c = (unsigned char)(*s)[i];
        if (c < 0x21 || c > 0x7e)
            return "contains a control character, space or non-ASCII byte (the token is not shown)";
    }
    return NULL;
}

/* a non-empty string member or NULL; a wrong type is reported */
static const char *get_string(const json_t *obj, const char *key, hg_violations_t *errors, int *failed)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) == 0) {
        char *in = hg_xasprintf(PTR "/%s", key);
        hg_violations_add(errors, in, "type", "%s must be a non-empty string", key);
        free(in);
        *failed = 1;
        return NULL;
    }
    return json_string_value(v);
}

static void set_token(hg_credential_t *c, const char *token, size_t len)
{
    c->len = 7 + len;
    c->header = hg_xmalloc(c->len + 1);
    memcpy(c->header, "Bearer ", 7);
    memcpy(c->header + 7, token, len);
    c->header[c->len] = '\0';
}

hg_credential_t *hg_credential_new(const json_t *credential, const char *basedir, hg_violations_t *errors)
{
    hg_credential_t *c = hg_xcalloc(1, sizeof(*c));
    int failed = 0;
    if (credential != NULL && !json_is_object(credential)) {
        hg_violations_add(errors, PTR, "type", "credential must be an object");
        goto Error;
    }
    const char *mode = get_string(credential, "mode", errors, &failed);
    const char *file = get_string(credential, "token_file", errors, &failed);
    const char *env = get_string(credential, "token_env", errors, &failed);
    if (failed)
        goto Error;
    if (mode != NULL && strcmp(mode, "inject") != 0 && strcmp(mode, "passthrough") != 0) {
        hg_violations_add(errors, PTR "/mode", "enum", "mode must be inject or passthrough");
        goto Error;
    }
    if (mode != NULL && strcmp(mode, "passthrough") == 0) {
        if (file != NULL || env != NULL) {
            hg_violations_add(errors, file != NULL ? PTR "/token_file" : PTR "/token_env", "additionalProperties",
                              "%s is for mode inject; passthrough forwards the client's header",
                              file != NULL ? "token_file" : "token_env");
            goto Error;
        }
        c->passthrough = 1;
        return c;
    }
    if ((file == NULL) == (env == NULL)) {
        hg_violations_add(errors, PTR, file == NULL ? "required" : "oneOf",
                          "mode inject needs exactly one of token_file and token_env");
        goto Error;
    }
    const char *problem;
    if (file != NULL) {
        char *path = hg_path_join(basedir, file);
        size_t len = 0, full;
        char *data = hg_read_file(path, &len);
        if (data == NULL) {
            hg_violations_add(errors, PTR "/token_file", "invalid_credential", "cannot read %s: %s", path, strerror(errno));
            free(path);
            goto Error;
        }
        const char *token = data;
        full = len;
        if ((problem = check_token(&token, &len)) != NULL)
            hg_violations_add(errors, PTR "/token_file", "invalid_credential", "the token in %s %s", path, problem);
        else
            set_token(c, token, len);
        OPENSSL_cleanse(data, full);
        free(data);
        free(path);
    } else {
        const char *value = getenv(env);
        size_t len = value != NULL ? strlen(value) : 0;
        if (value == NULL)
            problem = "is not set";
        else
            problem = check_token(&value, &len);
        if (problem != NULL)
            hg_violations_add(errors, PTR "/token_env", "invalid_credential", "environment variable %s %s", env, problem);
        else
            set_token(c, value, len);
    }
    if (c->header != NULL)
        return c;
Error:
    hg_credential_free(c);
    return NULL;
}

int hg_credential_is_passthrough(const hg_credential_t *c)
{
    return c->passthrough;
}

const char *hg_credential_header(const hg_credential_t *c, size_t *len)
{
    *len = c->len;
    return c->header;
}

void hg_credential_free(hg_credential_t *c)
{
    if (c == NULL)
        return;
    if (c->header != NULL) {
        OPENSSL_cleanse(c->header, c->len);
        free(c->header);
    }
    free(c);
}
