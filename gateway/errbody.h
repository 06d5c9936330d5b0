/*
 * errbody.h: error bodies in HubSpot's shape.
 *
 * Every refusal the gateway writes, its own and h2o's, is JSON that HubSpot's
 * SDKs parse as they parse HubSpot's own errors:
 *   {"status":"error","message":"...","correlationId":"<request id>",
 *    "category":"VALIDATION_ERROR","errors":[{"message":"...","in":"/inputs/3/from","code":"required"}]}
 * The category follows from the status (contract section 4). This module
 * only builds bytes; the HTTP layer sends them.
 */
#ifndef HUBGATE_ERRBODY_H
#define HUBGATE_ERRBODY_H

#include <jansson.h>
#include <stddef.h>

#include "violation.h"

/* VALIDATION_ERROR, INVALID_AUTHENTICATION, MISSING_SCOPES, OBJECT_NOT_FOUND or GATEWAY_ERROR */
const char *hg_errbody_category(int status);

/*
 * Builds the body (a new heap string, compact JSON; *len gets its length).
 * `errors` (may be NULL) become errors[] with in/code/message, plus a last entry saying how many more
 * there were when the list overflowed. `detail` (may be NULL, borrowed) is appended to errors[] as it is
 * (used for the 403's {"message":...,"context":{"requiredGranularScopes":[...]}}).
 */
char *hg_errbody_build(int status, const char *message, const char *correlation_id, const hg_violations_t *errors,
                       const json_t *detail, size_t *len);

#endif
