/*
 * objtypes.h: HubSpot CRM object types, from path segment to canonical id.
 *
 * The associations API names object types in its path ({fromObjectType},
 * {toObjectType}) either by id ("0-1") or by name ("contacts"). hubgate
 * forwards the id form only, so the upstream path, the audit and the scope
 * templates (CONTRACT.md sections 5 and 6) see one spelling per type.
 *
 * Accepted segments:
 *   - ids "0-<digits>" and "2-<digits>", kept as they are whether known or not
 *     (HubSpot adds types); digits are ASCII, 1 to HG_OBJTYPE_MAX_DIGITS of
 *     them, and no leading zero except the single digit "0" ("0-01" is refused);
 *   - the singular and the plural of HubSpot's documented object name, plus
 *     the name used in its OAuth scopes where that differs, in any ASCII case.
 *
 *   id      names accepted                                          scope name
 *   0-1     contact contacts                                        contacts
 *   0-2     company companies                                       companies
 *   0-3     deal deals                                              deals
 *   0-5     ticket tickets                                          tickets
 *   0-7     product products                                        products
 *   0-8     line_item line_items                                    line_items
 *   0-14    quote quotes                                            quotes
 *   0-27    task tasks                                              (none)
 *   0-46    note notes                                              (none)
 *   0-47    meeting meetings                                        (none)
 *   0-48    call calls                                              (none)
 *   0-49    email emails                                            (none)
 *   0-53    invoice invoices                                        invoices
 *   0-69    subscription subscriptions                              subscriptions
 *   0-101   commerce_payment commerce_payments commercepayments     commercepayments
 *   0-115   user users                                              users
 *   0-123   order orders                                            orders
 *   0-136   lead leads                                              leads
 *   0-142   cart carts                                              carts
 *   0-162   service services                                        services
 *   0-410   course courses                                          courses
 *   0-420   listing listings                                        listings
 *   0-421   appointment appointments                                appointments
 *   2-N     (custom objects: by id only)                            custom
 *
 * A scope name is the <name> of HubSpot's `crm.objects.<name>.*` scopes in the
 * endpoint's scope list (the seed), "tickets" for its `tickets` scope. The five
 * engagement types have no such scope: their scope name is NULL, so a scope
 * template built on them never matches (fail closed). Unknown "0-N" ids have
 * none either.
 *
 * Everything here is static, read-only data: safe from any thread, no lifetime.
 */
#ifndef HUBGATE_OBJTYPES_H
#define HUBGATE_OBJTYPES_H

#include <stddef.h>

/* digits after "0-" / "2-" at most; 20 digits hold any 64-bit id */
#define HG_OBJTYPE_MAX_DIGITS 20
/* buffer size that holds any canonical id and its NUL */
#define HG_OBJTYPE_ID_SIZE (2 + HG_OBJTYPE_MAX_DIGITS + 1)

/*
 * Canonical id for a path segment (seg need not be NUL-terminated): writes e.g.
 * "0-1" and a NUL into out. Returns 0 on success, -1 when the segment is no
 * accepted id or name, or when outsize is too small (HG_OBJTYPE_ID_SIZE always
 * suffices); out is then an empty string if outsize > 0.
 */
int hg_objtype_canonical(const char *seg, size_t len, char *out, size_t outsize);

/*
 * Scope name for a canonical id ("contacts"; "custom" for any valid "2-N"), or
 * NULL when the type has none or the argument is no valid id. Static string.
 */
const char *hg_objtype_scope_name(const char *canonical_id);

#endif
