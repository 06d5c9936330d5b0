/*
 * fuzz_assocscan.c: a libFuzzer target for the associations fast path (assocscan.h), running the
 * same differential oracle as tests/test_assocscan.c (tests/assocdiff.h): every input is run through
 * hg_body_process with and without the fast path and everything a caller sees must agree, except
 * the one intended difference, which the oracle verifies on its own terms. Any disagreement aborts
 * with the reason; ASan and UBSan catch the rest.
 *
 * The first byte of an input chooses the route's rules (unknown_fields, max_inputs, max_json_depth);
 * the rest is the body. Built by hand with clang (not by make, so the gcc build needs nothing of
 * it): see tests/fuzz/README.md.
 */
#include "assocdiff.h"
#include "assocscan.h"
#include "jsonschema.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the shipped schema, compiled once per process (libFuzzer calls the target many times) */
static const hg_schema_t *shipped_schema(void)
{
    static hg_schema_t *schema;
    if (schema == NULL) {
        json_t *doc = json_loads(hg_assoc_schema_text, 0, NULL);
        if (doc == NULL || (schema = hg_schema_compile(doc, "shipped", NULL)) == NULL)
            abort();
        json_decref(doc);
    }
    return schema;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_inputs[8] = {2000, 0, 1, 2, 3, 5, 8, 2000};
    static const size_t max_depth[4] = {32, 4, 3, 5};
    if (size == 0)
        return 0;
    unsigned choice = data[0];
    hg_body_rules_t rules = {HG_NORMALIZE_ASSOCIATIONS,   shipped_schema(),           (int)(choice & 1),
                             max_inputs[choice >> 1 & 7], max_depth[choice >> 4 & 3], 1};
    hg_assocdiff_t d;
    if (hg_assocdiff(&rules, (const char *)data + 1, size - 1, &d) != 0) {
        fprintf(stderr, "fast and slow paths differ: %s\n", d.why);
        abort();
    }
    return 0;
}
