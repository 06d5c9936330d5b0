/*
 * respond.h: the gateway's own answers.
 *
 * Every refusal goes out as JSON in HubSpot's error shape (errbody.h) with
 * `Content-Type: application/json;charset=utf-8`, the request id as
 * `correlationId`, and for 401/403 the RFC 6750 `WWW-Authenticate` header.
 * The request's state records the decision and the short reason for the
 * audit. Nothing is forwarded once one of these has been sent.
 */
#ifndef HUBGATE_RESPOND_H
#define HUBGATE_RESPOND_H

#include <h2o.h>
#include <jansson.h>

#include "reqstate.h"
#include "violation.h"

/*
 * Sends status with a HubSpot-shaped body. `errors` and `detail` as in hg_errbody_build (may be NULL);
 * `www_authenticate` (may be NULL) is sent as is.
 */
void hg_respond_error(h2o_req_t *req, hg_reqstate_t *st, int status, const char *decision, const char *message,
                      const hg_violations_t *errors, const json_t *detail, const char *www_authenticate);

#endif
