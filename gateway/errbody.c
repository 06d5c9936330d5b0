/*
 * errbody.c: build HubSpot-shaped error bodies. See errbody.h.
 */
#include "errbody.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

const char *hg_errbody_category(int status)
{
    switch (status) {
    case 401:
        return "INVALID_AUTHENTICATION";
    case 403:
        return "MISSING_SCOPES";
    case 404:
        return "OBJECT_NOT_FOUND";
    case 502:
    case 503:
    case 504:
        return "GATEWAY_ERROR";
    default:
        return status >= 500 ? "GATEWAY_ERROR" : "VALIDATION_ERROR";
    }
}

char *hg_errbody_build(int status, const char *message, const char *correlation_id, const hg_violations_t *errors,
                       const json_t *detail, size_t *len)
{
    json_t *body = json_object();
    json_object_set_new(body, "status", json_string("error"));
    json_object_set_new(body, "message", json_string(message));
    json_object_set_new(body, "correlationId", json_string(correlation_id));
    json_object_set_new(body, "category", json_string(hg_errbody_category(status)));
    json_t *list = json_array();
    if (errors != NULL) {
        for (size_t i = 0; i != errors->count; ++i) {
            const hg_violation_t *v = &errors->items[i];
            json_t *e = json_object();
            json_object_set_new(e, "message", json_string(v->message));
            json_object_set_new(e, "in", json_string(v->in));
            json_object_set_new(e, "code", json_string(v->code));
            json_array_append_new(list, e);
        }
        if (errors->dropped != 0) {
            char *more = errors->dropped == 1 ? hg_xstrdup("1 more problem was found and not listed")
                                              : hg_xasprintf("%zu more problems were found and not listed", errors->dropped);
            json_t *e = json_object();
            json_object_set_new(e, "message", json_string(more));
            json_object_set_new(e, "code", json_string("too_many_errors"));
            json_array_append_new(list, e);
            free(more);
        }
    }
    if (detail != NULL)
        json_array_append(list, (json_t *)detail);
    if (json_array_size(list) != 0)
        json_object_set_new(body, "errors", list);
    else
        json_decref(list);
    char *out = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (out == NULL)
        abort();
    *len = strlen(out);
    return out;
}
