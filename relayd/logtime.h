/*
 * logtime.h - timestamps at the start of log lines.
 *
 * Recognised: syslog "Mmm dd hh:mm:ss" (no year: the year is the one that
 * puts the time closest to now and not more than a day ahead of it; local
 * time zone), RFC 3339 / ISO 8601 "YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm)",
 * and Dovecot's default log_timestamp "Mmm dd hh:mm:ss".
 */
#ifndef LEAFMAIL_LOGTIME_H
#define LEAFMAIL_LOGTIME_H

#include <stddef.h>
#include <time.h>

/* Parse a timestamp at s; returns the number of bytes consumed (including
 * one following space, if any) and sets *t, or 0 when s does not start
 * with a timestamp. */
size_t logtime_parse(const char *s, size_t len, time_t now, time_t *t);

#endif
