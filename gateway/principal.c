/*
 * principal.c: building, sharing and querying verified principals. See principal.h.
 */
#include "principal.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

hg_principal_t *hg_principal_new(const char *issuer, const char *subject, const char *client, int64_t exp)
{
    hg_principal_t *p = hg_xcalloc(1, sizeof(*p));
    p->issuer = hg_xstrdup(issuer);
    p->subject = subject != NULL ? hg_xstrdup(subject) : NULL;
    p->client = client != NULL ? hg_xstrdup(client) : NULL;
    p->exp = exp;
    p->refcnt = 1;
    return p;
}

void hg_principal_add_scope(hg_principal_t *p, const char *scope, size_t len)
{
    if (len == 0)
        return;
    /* grow in powers of two: the capacity is implied by num_scopes */
    if ((p->num_scopes & (p->num_scopes - 1)) == 0)
        p->scopes = hg_xrealloc(p->scopes, (p->num_scopes == 0 ? 1 : p->num_scopes * 2) * sizeof(*p->scopes));
    p->scopes[p->num_scopes++] = hg_xstrndup(scope, len);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void hg_principal_seal(hg_principal_t *p)
{
    if (p->num_scopes < 2)
        return;
    qsort(p->scopes, p->num_scopes, sizeof(*p->scopes), cmp_str);
    size_t n = 1;
    for (size_t i = 1; i != p->num_scopes; ++i) {
        if (strcmp(p->scopes[i], p->scopes[n - 1]) == 0)
            free(p->scopes[i]);
        else
            p->scopes[n++] = p->scopes[i];
    }
    p->num_scopes = n;
}

int hg_principal_has_scope(const hg_principal_t *p, const char *scope)
{
    return p->num_scopes != 0 && bsearch(&scope, p->scopes, p->num_scopes, sizeof(*p->scopes), cmp_str) != NULL;
}

hg_principal_t *hg_principal_retain(hg_principal_t *p)
{
    __atomic_fetch_add(&p->refcnt, 1, __ATOMIC_RELAXED);
    return p;
}

void hg_principal_release(hg_principal_t *p)
{
    if (p == NULL || __atomic_sub_fetch(&p->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    free(p->issuer);
    free(p->subject);
    free(p->client);
    for (size_t i = 0; i != p->num_scopes; ++i)
        free(p->scopes[i]);
    free(p->scopes);
    free(p);
}
