/*
 * respond.c: send the gateway's own HubSpot-shaped refusals. See respond.h.
 */
#include "respond.h"
#include "errbody.h"

#include <stdlib.h>
#include <string.h>

static const char *reason_of(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

void hg_respond_error(h2o_req_t *req, hg_reqstate_t *st, int status, const char *decision, const char *message,
                      const hg_violations_t *errors, const json_t *detail, const char *www_authenticate)
{
    size_t len;
    char *body = hg_errbody_build(status, message, st->request_id, errors, detail, &len);
    st->decision = decision;
    st->own_answer = 1;
    if (st->error == NULL) {
        const char *first = errors != NULL && errors->count != 0 ? errors->items[0].message : message;
        st->error = h2o_strdup(&req->pool, first, SIZE_MAX).base;
    }

    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json;charset=utf-8"));
    if (www_authenticate != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, www_authenticate, strlen(www_authenticate));
    h2o_send_inline(req, body, len);
    free(body);
}
