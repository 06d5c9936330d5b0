/*
 * credential.h: the Authorization header hubgate sends upstream
 * (CONTRACT.md section 3 `upstream.credential`, section 4 step 7).
 *
 * mode inject (the default): the token T is read once at load (and again at
 * each reload, which builds a new hg_credential_t) from token_file (its
 * contents with surrounding whitespace trimmed) or from the environment
 * variable token_env (exactly one of the two), and "Bearer T" is kept ready;
 * the client's own Authorization header is never forwarded. mode passthrough:
 * the client's header is forwarded as it is. A token with control characters
 * (CR, LF, NUL, ...), spaces or non-ASCII bytes is refused at load, so it can
 * never split or bend a header. The token is never logged or shown: messages
 * name the file or variable only, and the memory is wiped when freed.
 *
 * Lifetime: configuration (immutable, shared by all threads).
 */
#ifndef HUBGATE_CREDENTIAL_H
#define HUBGATE_CREDENTIAL_H

#include "violation.h"

#include <jansson.h>
#include <stddef.h>

typedef struct st_hg_credential_t hg_credential_t;

/*
 * Builds from the /upstream/credential object (NULL: the defaults, i.e. inject
 * without a token, which is an error). Problems are reported with in =
 * "/upstream/credential/..."; returns NULL when there was any.
 */
hg_credential_t *hg_credential_new(const json_t *credential, const char *basedir, hg_violations_t *errors);
int hg_credential_is_passthrough(const hg_credential_t *c);
/* inject: "Bearer T" (not NUL-terminated: use *len; borrowed, configuration lifetime); passthrough: NULL and *len 0 */
const char *hg_credential_header(const hg_credential_t *c, size_t *len);
void hg_credential_free(hg_credential_t *c);

#endif
