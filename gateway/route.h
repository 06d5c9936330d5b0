/*
 * route.h: path templates such as
 * "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default".
 *
 * A template is compiled once, at configuration load, into segments: literal
 * ones match byte for byte (case-sensitive, as HubSpot's paths are), a
 * "{name}" one matches exactly one non-empty segment. Matching a request path
 * (query excluded) fills the parameter values as slices of that path, with no
 * allocation, so it can run on every request. hg_template_build writes a path
 * back from the template with new parameter values (the canonical upstream
 * path after normalization).
 *
 * Lifetime: a template belongs to its configuration; match results point
 * into the matched path and live as long as it.
 */
#ifndef HUBGATE_ROUTE_H
#define HUBGATE_ROUTE_H

#include <stddef.h>

#include "violation.h"

#define HG_TEMPLATE_MAX_PARAMS 8

typedef struct st_hg_template_t hg_template_t;

typedef struct st_hg_slice_t {
    const char *base;
    size_t len;
} hg_slice_t;

typedef struct st_hg_template_match_t {
    size_t num_params;
    hg_slice_t values[HG_TEMPLATE_MAX_PARAMS]; /* in template order */
} hg_template_match_t;

/* compiles a template; on a malformed one returns NULL and adds a violation at `pointer` */
hg_template_t *hg_template_compile(const char *text, const char *pointer, hg_violations_t *errors);
void hg_template_free(hg_template_t *t);
/* 1 when path (without query) matches; fills m */
int hg_template_match(const hg_template_t *t, const char *path, size_t len, hg_template_match_t *m);
size_t hg_template_num_params(const hg_template_t *t);
const char *hg_template_param_name(const hg_template_t *t, size_t i);
/* index of the named parameter, or -1 */
int hg_template_param_index(const hg_template_t *t, const char *name);
/* writes the path for these values into buf (NUL-terminated); returns its length, or 0 when bufsize is too small */
size_t hg_template_build(const hg_template_t *t, const hg_slice_t *values, char *buf, size_t bufsize);

#endif
