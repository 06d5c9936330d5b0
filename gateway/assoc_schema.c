/*
 * assoc_schema.c: the shipped request schema of the associations endpoint,
 * schemas/batch-associate-default.request.json, as a string in the program. A route whose schema
 * file holds the same JSON document may use the scanner of assocscan.h (hg_body_rules_fast_eligible):
 * comparing with the copy the program was built and tested with, not with a file found at run time,
 * is what ties the scanner's acceptance set to that schema. The string literal is generated from
 * the file at build time (mk/normalize.am) into gateway/assoc_schema.inc in the build tree.
 */
#include "assocscan.h"

const char hg_assoc_schema_text[] =
#include "gateway/assoc_schema.inc"
    ;
