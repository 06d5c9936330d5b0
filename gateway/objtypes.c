/*
 * objtypes.c: the object type table and its two lookups. See objtypes.h.
 *
 * Per request cost: an id segment is checked character by character; a name is
 * compared (ASCII case folding, length first) against a table of about fifty
 * names, which is cheaper than hashing for strings this short.
 */
#include "objtypes.h"

#include <string.h>

struct st_objtype_t {
    const char *id;
    const char *scope; /* NULL: no scope of its own */
    const char *names[3];
};

static const struct st_objtype_t objtypes[] = {
    {"0-1", "contacts", {"contact", "contacts"}},
    {"0-2", "companies", {"company", "companies"}},
    {"0-3", "deals", {"deal", "deals"}},
    {"0-5", "tickets", {"ticket", "tickets"}},
    {"0-7", "products", {"product", "products"}},
    {"0-8", "line_items", {"line_item", "line_items"}},
    {"0-14", "quotes", {"quote", "quotes"}},
    {"0-27", NULL, {"task", "tasks"}},
    {"0-46", NULL, {"note", "notes"}},
    {"0-47", NULL, {"meeting", "meetings"}},
    {"0-48", NULL, {"call", "calls"}},
    {"0-49", NULL, {"email", "emails"}},
    {"0-53", "invoices", {"invoice", "invoices"}},
    {"0-69", "subscriptions", {"subscription", "subscriptions"}},
    {"0-101", "commercepayments", {"commerce_payment", "commerce_payments", "commercepayments"}},
    {"0-115", "users", {"user", "users"}},
    {"0-123", "orders", {"order", "orders"}},
    {"0-136", "leads", {"lead", "leads"}},
    {"0-142", "carts", {"cart", "carts"}},
    {"0-162", "services", {"service", "services"}},
    {"0-410", "courses", {"course", "courses"}},
    {"0-420", "listings", {"listing", "listings"}},
    {"0-421", "appointments", {"appointment", "appointments"}},
};

#define NUM_OBJTYPES (sizeof(objtypes) / sizeof(objtypes[0]))

/* "0-N" or "2-N" with N ASCII digits, no leading zero, at most HG_OBJTYPE_MAX_DIGITS */
static int is_id(const char *s, size_t len)
{
    if (len < 3 || len > 2 + HG_OBJTYPE_MAX_DIGITS || (s[0] != '0' && s[0] != '2') || s[1] != '-')
        return 0;
    if (s[2] == '0' && len != 3)
        return 0;
    for (size_t i = 2; i != len; ++i)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* name is lower case and NUL-terminated; seg is any case and len bytes long */
static int name_equals(const char *name, const char *seg, size_t len)
{
    size_t i;
    for (i = 0; i != len; ++i)
        if (name[i] == '\0' || name[i] != ascii_lower((unsigned char)seg[i]))
            return 0;
    return name[i] == '\0';
}

static int put(const char *id, size_t len, char *out, size_t outsize)
{
    if (len + 1 > outsize) {
        if (outsize > 0)
            out[0] = '\0';
        return -1;
    }
    memcpy(out, id, len);
    out[len] = '\0';
    return 0;
}

int hg_objtype_canonical(const char *seg, size_t len, char *out, size_t outsize)
{
    if (is_id(seg, len))
        return put(seg, len, out, outsize);
    for (size_t t = 0; t != NUM_OBJTYPES; ++t)
        for (size_t n = 0; n != sizeof(objtypes[t].names) / sizeof(objtypes[t].names[0]) && objtypes[t].names[n] != NULL; ++n)
            if (name_equals(objtypes[t].names[n], seg, len))
                return put(objtypes[t].id, strlen(objtypes[t].id), out, outsize);
    if (outsize > 0)
        out[0] = '\0';
    return -1;
}

const char *hg_objtype_scope_name(const char *canonical_id)
{
    size_t len = strlen(canonical_id);
    if (!is_id(canonical_id, len))
        return NULL;
    if (canonical_id[0] == '2')
        return "custom";
    for (size_t t = 0; t != NUM_OBJTYPES; ++t)
        if (strcmp(objtypes[t].id, canonical_id) == 0)
            return objtypes[t].scope;
    return NULL;
}
