/*
 * hygiene.h: the path checks that run before routing.
 *
 * h2o resolves dot segments for matching but forwards what the client sent,
 * and it does not decode %2e; a gateway that routes on one reading of a path
 * and forwards another is a classic bypass. So a request path is refused
 * (400, code "bad_path") when it holds an encoded slash, dot or NUL (%2F, %2E,
 * %00, any case), a "." or ".." segment, an empty segment ("//"), a byte that
 * is not visible ASCII, or does not start with "/". The query string is not
 * inspected: it is forwarded as it is and never used for routing.
 */
#ifndef HUBGATE_HYGIENE_H
#define HUBGATE_HYGIENE_H

#include <stddef.h>

/* returns NULL when the path (up to '?') is acceptable, else a static reason for the error message */
const char *hg_path_problem(const char *path, size_t len);

#endif
