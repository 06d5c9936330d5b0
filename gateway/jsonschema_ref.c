/*
 * jsonschema_ref.c: $ref resolution inside one schema document, at compile time.
 *
 * Every schema resource of the document (the root, and each subschema with an
 * $id) is registered under its absolute URI, every $anchor under "URI#name".
 * A $ref is resolved against the base URI in effect where it is written
 * (RFC 3986 section 5.2, with dot-segment removal), then looked up: the
 * fragment is a JSON pointer (percent-decoded, then RFC 6901 with ~0 and ~1)
 * into that resource, or an anchor name. A URI that no resource of the
 * document carries is a remote reference: hubgate never fetches schemas, so
 * that is a load error, as is a pointer to nothing or to a value that is not
 * a schema.
 *
 * Finally the graph of in-place applicators ($ref, allOf, anyOf, oneOf, not,
 * if, then, else: the keywords that apply a subschema to the same value) must
 * be free of cycles; a cycle there would make validation recurse forever on
 * the same value, so it is refused at load instead of at run time.
 */
#include "jsonschema_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct st_part_t {
    const char *s;
    size_t len;
    int defined;
} part_t;

typedef struct st_uri_t {
    part_t scheme, authority, path, query, fragment;
} uri_t;

/* splits a URI reference per RFC 3986 appendix B */
static void uri_parse(const char *u, uri_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = strcspn(u, ":/?#");
    if (u[n] == ':' && n != 0) {
        out->scheme = (part_t){u, n, 1};
        u += n + 1;
    }
    if (u[0] == '/' && u[1] == '/') {
        n = strcspn(u + 2, "/?#");
        out->authority = (part_t){u + 2, n, 1};
        u += 2 + n;
    }
    n = strcspn(u, "?#");
    out->path = (part_t){u, n, 1};
    u += n;
    if (*u == '?') {
        n = strcspn(u + 1, "#");
        out->query = (part_t){u + 1, n, 1};
        u += 1 + n;
    }
    if (*u == '#')
        out->fragment = (part_t){u + 1, strlen(u + 1), 1};
}

/* RFC 3986 section 5.2.4; returns a new string */
static char *remove_dot_segments(const char *path, size_t len)
{
    char *in = hg_xstrndup(path, len), *p = in;
    char *out = hg_xmalloc(len + 1);
    size_t olen = 0;
    while (*p != '\0') {
        if (strncmp(p, "../", 3) == 0) {
            p += 3;
        } else if (strncmp(p, "./", 2) == 0) {
            p += 2;
        } else if (strncmp(p, "/./", 3) == 0) {
            p += 2;
        } else if (strcmp(p, "/.") == 0) {
            p[1] = '\0';
        } else if (strncmp(p, "/../", 4) == 0 || strcmp(p, "/..") == 0) {
            if (p[3] == '/')
                p += 3;
            else
                p[1] = '\0';
            while (olen != 0 && out[olen - 1] != '/')
                --olen;
            if (olen != 0)
                --olen;
        } else if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
            p += strlen(p);
        } else {
            if (*p == '/')
                out[olen++] = *p++;
            while (*p != '\0' && *p != '/')
                out[olen++] = *p++;
        }
    }
    out[olen] = '\0';
    free(in);
    return out;
}

static void append(char **buf, size_t *len, const char *s, size_t n)
{
    *buf = hg_xrealloc(*buf, *len + n + 1);
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

char *js_uri_resolve(const char *base, const char *ref)
{
    uri_t b, r;
    uri_parse(base, &b);
    uri_parse(ref, &r);
    part_t scheme, authority, query;
    char *path;
    if (r.scheme.defined) {
        scheme = r.scheme;
        authority = r.authority;
        path = remove_dot_segments(r.path.s, r.path.len);
        query = r.query;
    } else {
        scheme = b.scheme;
        if (r.authority.defined) {
            authority = r.authority;
            path = remove_dot_segments(r.path.s, r.path.len);
            query = r.query;
        } else {
            authority = b.authority;
            if (r.path.len == 0) {
                path = hg_xstrndup(b.path.s, b.path.len);
                query = r.query.defined ? r.query : b.query;
            } else {
                if (r.path.s[0] == '/') {
                    path = remove_dot_segments(r.path.s, r.path.len);
                } else {
                    char *merged;
                    if (b.authority.defined && b.path.len == 0) {
                        merged = hg_xasprintf("/%.*s", (int)r.path.len, r.path.s);
                    } else {
                        size_t keep = b.path.len;
                        while (keep != 0 && b.path.s[keep - 1] != '/')
                            --keep;
                        merged = hg_xasprintf("%.*s%.*s", (int)keep, b.path.s, (int)r.path.len, r.path.s);
                    }
                    path = remove_dot_segments(merged, strlen(merged));
                    free(merged);
                }
                query = r.query;
            }
        }
    }
    char *out = NULL;
    size_t len = 0;
    append(&out, &len, "", 0);
    if (scheme.defined) {
        append(&out, &len, scheme.s, scheme.len);
        append(&out, &len, ":", 1);
    }
    if (authority.defined) {
        append(&out, &len, "//", 2);
        append(&out, &len, authority.s, authority.len);
    }
    append(&out, &len, path, strlen(path));
    free(path);
    if (query.defined) {
        append(&out, &len, "?", 1);
        append(&out, &len, query.s, query.len);
    }
    if (r.fragment.defined) {
        append(&out, &len, "#", 1);
        append(&out, &len, r.fragment.s, r.fragment.len);
    }
    return out;
}

void js_register(js_compiler_t *cc, js_resource_t **list, size_t *count, char *uri, js_node_t *node, const char *ptr)
{
    for (size_t i = 0; i != *count; ++i) {
        if (strcmp((*list)[i].uri, uri) == 0) {
            js_error(cc, ptr, "\"%s\" already identifies the schema at \"%s\"", uri, (*list)[i].node->ptr);
            free(uri);
            return;
        }
    }
    *list = hg_xrealloc(*list, (*count + 1) * sizeof(**list));
    (*list)[(*count)++] = (js_resource_t){uri, node};
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* decodes %XX in place; returns the new length, or SIZE_MAX for a broken escape */
static size_t percent_decode(char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i] != '\0'; ++i) {
        if (s[i] == '%') {
            int hi = hexval(s[i + 1]), lo = hi < 0 ? -1 : hexval(s[i + 2]);
            if (lo < 0)
                return SIZE_MAX;
            s[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    return o;
}

/* evaluates an RFC 6901 pointer (given with its length, it may hold NULs) on a document; NULL when nothing is there */
static const json_t *pointer_get(const json_t *doc, const char *p, size_t len)
{
    const char *end = p + len;
    char *token = hg_xmalloc(len + 1);
    while (doc != NULL && p != end) {
        if (*p != '/') {
            doc = NULL;
            break;
        }
        ++p;
        size_t tlen = 0;
        for (; p != end && *p != '/'; ++p) {
            if (*p == '~' && p + 1 != end && (p[1] == '0' || p[1] == '1')) {
                token[tlen++] = p[1] == '0' ? '~' : '/';
                ++p;
            } else if (*p == '~') {
                tlen = SIZE_MAX;
                break;
            } else {
                token[tlen++] = *p;
            }
        }
        if (tlen == SIZE_MAX) {
            doc = NULL;
        } else if (json_is_object(doc)) {
            doc = json_object_getn(doc, token, tlen);
        } else if (json_is_array(doc)) {
            size_t index = 0;
            int ok = tlen != 0 && (tlen == 1 || token[0] != '0') && tlen < 10;
            for (size_t i = 0; ok && i != tlen; ++i) {
                ok = token[i] >= '0' && token[i] <= '9';
                index = index * 10 + (size_t)(token[i] - '0');
            }
            doc = ok ? json_array_get(doc, index) : NULL;
        } else {
            doc = NULL;
        }
    }
    free(token);
    return doc;
}

static js_node_t *node_of(js_compiler_t *cc, const json_t *v)
{
    for (size_t i = 0; i != cc->schema->nnodes; ++i)
        if (cc->schema->nodes[i]->src == v)
            return cc->schema->nodes[i];
    return NULL;
}

static js_node_t *lookup(const js_resource_t *list, size_t count, const char *uri)
{
    for (size_t i = 0; i != count; ++i)
        if (strcmp(list[i].uri, uri) == 0)
            return list[i].node;
    return NULL;
}

static void resolve_one(js_compiler_t *cc, js_node_t *n)
{
    char *where = hg_xasprintf("%s/$ref", n->ptr);
    char *target = js_uri_resolve(n->base, n->ref);
    char *hash = strchr(target, '#');
    char *fragment = NULL;
    if (hash != NULL) {
        *hash = '\0';
        fragment = hash + 1;
    }
    js_node_t *resource = lookup(cc->resources, cc->nresources, target);
    if (resource == NULL) {
        js_error(cc, where, "remote $ref \"%s\" is not supported (only references inside this document are)", n->ref);
        goto Exit;
    }
    if (fragment == NULL || *fragment == '\0') {
        n->ref_node = resource;
        goto Exit;
    }
    size_t flen = percent_decode(fragment);
    if (flen == SIZE_MAX) {
        js_error(cc, where, "$ref \"%s\" has a broken percent-escape", n->ref);
        goto Exit;
    }
    if (fragment[0] == '/') {
        const json_t *v = pointer_get(resource->src, fragment, flen);
        if (v == NULL) {
            js_error(cc, where, "dangling $ref \"%s\": nothing is there", n->ref);
        } else if ((n->ref_node = node_of(cc, v)) == NULL) {
            js_error(cc, where, "$ref \"%s\" points to a value that is not a schema", n->ref);
        }
    } else {
        char *anchor = hg_xasprintf("%s#%s", target, fragment);
        if ((n->ref_node = lookup(cc->anchors, cc->nanchors, anchor)) == NULL)
            js_error(cc, where, "dangling $ref \"%s\": no $anchor \"%s\" in this document", n->ref, fragment);
        free(anchor);
    }
Exit:
    free(target);
    free(where);
}

/* depth-first search over in-place edges; state: 0 unseen, 1 on the current path, 2 done */
static void visit(js_compiler_t *cc, js_node_t *n, unsigned char *state);

static void edge(js_compiler_t *cc, js_node_t *from, js_node_t *to, const char *via, unsigned char *state)
{
    if (to == NULL)
        return;
    if (state[to->index] == 1) {
        char *where = hg_xasprintf("%s%s", from->ptr, via);
        js_error(cc, where, "$ref cycle: this leads back to the schema at \"%s\" without descending into the instance", to->ptr);
        free(where);
    } else if (state[to->index] == 0) {
        visit(cc, to, state);
    }
}

static void visit(js_compiler_t *cc, js_node_t *n, unsigned char *state)
{
    state[n->index] = 1;
    edge(cc, n, n->ref_node, "/$ref", state);
    const js_list_t *lists[] = {&n->all_of, &n->any_of, &n->one_of};
    for (size_t l = 0; l != 3; ++l)
        for (size_t i = 0; i != lists[l]->count; ++i)
            edge(cc, n, lists[l]->items[i], "", state);
    edge(cc, n, n->not_, "", state);
    edge(cc, n, n->if_, "", state);
    edge(cc, n, n->then_, "", state);
    edge(cc, n, n->else_, "", state);
    state[n->index] = 2;
}

void js_resolve_refs(js_compiler_t *cc)
{
    hg_schema_t *s = cc->schema;
    for (size_t i = 0; i != s->nnodes; ++i)
        if (s->nodes[i]->ref != NULL)
            resolve_one(cc, s->nodes[i]);
    if (cc->failed)
        return;
    unsigned char *state = hg_xcalloc(s->nnodes, 1);
    for (size_t i = 0; i != s->nnodes; ++i)
        if (state[i] == 0)
            visit(cc, s->nodes[i], state);
    free(state);
}
