/*
 * jsonschema_prune.c: removes the object members that a schema refuses through
 * additionalProperties: false, for normalization's `unknown_fields: drop`.
 *
 * Follows the schema where it applies to the same members: properties,
 * patternProperties, additionalProperties (a schema), items, prefixItems,
 * $ref and allOf; not anyOf, oneOf, not or if, whose branches may disagree.
 * A member no properties entry and no patternProperties regex claims is
 * deleted when additionalProperties is false. Array items are never removed,
 * so the pointers of later violations keep the client's indices.
 */
#include "jsonschema_int.h"

typedef struct st_pctx_t {
    const hg_schema_t *schema;
    pcre2_match_data *md;
} pctx_t;

static size_t prune(pctx_t *p, const js_node_t *n, json_t *v, unsigned depth);

static size_t prune_object(pctx_t *p, const js_node_t *n, json_t *v, unsigned depth)
{
    size_t removed = 0;
    const char *key;
    size_t klen;
    json_t *value;
    void *tmp;
    json_object_keylen_foreach_safe(v, tmp, key, klen, value)
    {
        int matched = js_find_prop(n, key, klen) != NULL;
        for (size_t i = 0; i != n->npatprops && !matched; ++i)
            matched = js_regex_search(p->schema, &n->patprops[i].re, &p->md, key, klen) > 0;
        if (!matched && n->additional != NULL && n->additional->boolean == 0) {
            json_object_deln(v, key, klen);
            ++removed;
        }
    }
    json_object_keylen_foreach(v, key, klen, value)
    {
        const js_prop_t *prop = js_find_prop(n, key, klen);
        int matched = prop != NULL;
        if (prop != NULL)
            removed += prune(p, prop->node, value, depth + 1);
        for (size_t i = 0; i != n->npatprops; ++i) {
            if (js_regex_search(p->schema, &n->patprops[i].re, &p->md, key, klen) > 0) {
                matched = 1;
                removed += prune(p, n->patprops[i].node, value, depth + 1);
            }
        }
        if (!matched && n->additional != NULL)
            removed += prune(p, n->additional, value, depth + 1);
    }
    return removed;
}

static size_t prune(pctx_t *p, const js_node_t *n, json_t *v, unsigned depth)
{
    if (n->boolean != -1 || depth >= HG_SCHEMA_MAX_DEPTH)
        return 0;
    size_t removed = 0;
    if (json_is_object(v) && (n->nprops != 0 || n->npatprops != 0 || n->additional != NULL))
        removed += prune_object(p, n, v, depth);
    if (json_is_array(v)) {
        for (size_t i = 0; i != json_array_size(v); ++i) {
            const js_node_t *child = i < n->prefix.count ? n->prefix.items[i] : n->items;
            if (child == NULL)
                break;
            removed += prune(p, child, json_array_get(v, i), depth + 1);
        }
    }
    if (n->ref_node != NULL)
        removed += prune(p, n->ref_node, v, depth + 1);
    for (size_t i = 0; i != n->all_of.count; ++i)
        removed += prune(p, n->all_of.items[i], v, depth + 1);
    return removed;
}

size_t hg_schema_prune(const hg_schema_t *s, json_t *instance)
{
    pctx_t p = {.schema = s};
    size_t removed = prune(&p, s->root, instance, 0);
    pcre2_match_data_free(p.md);
    return removed;
}
