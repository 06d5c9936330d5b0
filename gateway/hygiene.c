/*
 * hygiene.c: refuse ambiguous request paths before routing. See hygiene.h.
 */
#include "hygiene.h"

static int is_hex_pair(const char *p, char a, char b)
{
    return (p[0] == a) && (p[1] == b || p[1] == (char)(b + ('a' - 'A')));
}

const char *hg_path_problem(const char *path, size_t len)
{
    if (len == 0 || path[0] != '/')
        return "the path must start with \"/\"";
    size_t end = 0;
    while (end != len && path[end] != '?')
        ++end;
    size_t seg_start = 1;
    for (size_t i = 0; i != end; ++i) {
        unsigned char c = (unsigned char)path[i];
        if (c <= 0x20 || c >= 0x7f)
            return "the path holds a byte that is not visible ASCII";
        if (c == '%') {
            if (end - i < 3)
                return "the path holds a truncated percent-encoding";
            if (is_hex_pair(path + i + 1, '2', 'F'))
                return "the path holds an encoded slash (%2F)";
            if (is_hex_pair(path + i + 1, '2', 'E'))
                return "the path holds an encoded dot (%2E)";
            if (path[i + 1] == '0' && path[i + 2] == '0')
                return "the path holds an encoded NUL (%00)";
        }
        if (c == '/' && i != 0) {
            size_t seg_len = i - seg_start;
            if (seg_len == 0)
                return "the path holds an empty segment (//)";
            if ((seg_len == 1 && path[seg_start] == '.') || (seg_len == 2 && path[seg_start] == '.' && path[seg_start + 1] == '.'))
                return "the path holds a dot segment";
            seg_start = i + 1;
        }
    }
    size_t seg_len = end - seg_start;
    if (end > 1 &&
        ((seg_len == 1 && path[seg_start] == '.') || (seg_len == 2 && path[seg_start] == '.' && path[seg_start + 1] == '.')))
        return "the path holds a dot segment";
    return NULL;
}
