/*
 * log.c: logfmt event lines on stderr. See log.h.
 */
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void hg_log(const hg_log_t *log, int level, const char *event, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (log != NULL && level > __atomic_load_n(&log->level, __ATOMIC_RELAXED))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    char line[1400], ts[32];
    hg_format_time_ms(ts, sizeof(ts), hg_now_ms());
    size_t o = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s event=%s msg=\"", ts, names[level], event);
    for (const char *s = msg; *s != '\0' && o < sizeof(line) - 3; ++s) {
        if (*s == '"' || *s == '\\')
            line[o++] = '\\';
        line[o++] = (*s == '\n' || *s == '\r') ? ' ' : *s;
    }
    line[o++] = '"';
    line[o++] = '\n';
    /* one write per line, so lines from several threads never interleave */
    ssize_t r = write(STDERR_FILENO, line, o);
    (void)r;
}
