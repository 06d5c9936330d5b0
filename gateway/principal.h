/*
 * principal.h: who a verified token speaks for.
 *
 * The result of a successful hg_auth_verify: the token's issuer, subject,
 * client and scopes, everything the scope check and the audit record need, so
 * that nothing downstream keeps the token itself. A principal is immutable
 * once built and reference-counted (atomically): the per-thread token cache
 * holds one reference, each request that uses it another, and a request may
 * hand it to the audit thread.
 */
#ifndef HUBGATE_PRINCIPAL_H
#define HUBGATE_PRINCIPAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_hg_principal_t {
    char *issuer;      /* the token's iss (one of the configured issuers) */
    char *subject;     /* the subject_claim when it is a string, else NULL */
    char *client;      /* the first client_claims member that is a string, else NULL */
    char **scopes;     /* granted scopes, sorted (strcmp) and without duplicates */
    size_t num_scopes; /* 0 when the token has no scope claim */
    int64_t exp;       /* the token's exp in seconds (rounded down), 0 when it has none */
    uint32_t refcnt;
} hg_principal_t;

/* a new principal with reference count 1; strings are copied (subject, client may be NULL) */
hg_principal_t *hg_principal_new(const char *issuer, const char *subject, const char *client, int64_t exp);
/* adds a scope while the principal is being built (before it is shared); empty strings are ignored */
void hg_principal_add_scope(hg_principal_t *p, const char *scope, size_t len);
/* sorts and deduplicates the scopes: call once, after the last hg_principal_add_scope */
void hg_principal_seal(hg_principal_t *p);
/* 1 when the principal was granted exactly this scope */
int hg_principal_has_scope(const hg_principal_t *p, const char *scope);

hg_principal_t *hg_principal_retain(hg_principal_t *p);
/* drops one reference; frees with the last (NULL is fine) */
void hg_principal_release(hg_principal_t *p);

#endif
