/*
 * yamljson.h: the configuration file, YAML in, a jansson value out, with the
 * line of every node kept so that a problem found later can be shown as FILE:LINE.
 *
 * hubgate's configuration is checked by its JSON Schema validator, so the YAML
 * is turned into plain JSON first, strictly: one document; mappings become
 * objects (scalar keys only, a duplicate key is an error), sequences arrays.
 * Quoted, literal and folded scalars (and !!str) are strings; plain scalars
 * resolve per the YAML 1.2 core schema: null/Null/NULL/~/empty -> null,
 * true/True/TRUE/false/False/FALSE -> boolean, [-+]?[0-9]+, 0x.., 0o.. ->
 * integer (int64, else an error), decimal floats -> real (.inf/.nan and
 * overflow are errors), anything else -> string (so "yes" stays a string).
 * Anchors, aliases and tags other than !!str are refused: configurations stay
 * simple and a "billion laughs" file cannot blow up. A NUL character in a
 * scalar is refused. Nesting deeper than HG_YAML_MAX_DEPTH is refused.
 *
 * Lines: each node is recorded under its JSON pointer (RFC 6901). An object
 * member is recorded at the line of its key, an array item and the root at the
 * line where the node starts. Lines are 1-based.
 *
 * Lifetime: configuration load time only. The returned value and the lines map
 * belong to the caller.
 */
#ifndef HUBGATE_YAMLJSON_H
#define HUBGATE_YAMLJSON_H

#include "violation.h"

#include <jansson.h>
#include <stddef.h>

#define HG_YAML_MAX_DEPTH 64

/* JSON pointer -> line map; owned by the caller, free with hg_yaml_lines_free */
typedef struct st_hg_yaml_lines_t hg_yaml_lines_t;

/*
 * Parses YAML text (need not be NUL-terminated). On success returns a new
 * reference and, when lines is not NULL, a new map in *lines. On failure returns
 * NULL, leaves *lines NULL, adds exactly one violation (code "yaml"; `in` = the
 * pointer of the offending node, "" when unknown, e.g. for syntax errors;
 * message says what is wrong, with the column for syntax errors) and stores the
 * line of the error in *line_out (may be NULL; 0 when no line applies).
 */
json_t *hg_yaml_load_string(const char *text, size_t len, hg_yaml_lines_t **lines, int *line_out, hg_violations_t *errors);

/* hg_yaml_load_string on the contents of a file; a file that cannot be read is a violation with line 0 */
json_t *hg_yaml_load_file(const char *path, hg_yaml_lines_t **lines, int *line_out, hg_violations_t *errors);

/*
 * The line of the node at `pointer`; for a pointer that does not exist (say a
 * missing required key), the line of its nearest existing ancestor. 0 when
 * lines is NULL.
 */
int hg_yaml_line(const hg_yaml_lines_t *lines, const char *pointer);

void hg_yaml_lines_free(hg_yaml_lines_t *lines);

#endif
