/*
 * duration.h - configuration durations: a decimal number and one unit,
 * "s", "m", "h", "d" or "w" ("30s", "10m", "2h", "7d"); "0" alone means
 * zero.  Used for every time value in leafmail.conf.
 */
#ifndef LEAFMAIL_DURATION_H
#define LEAFMAIL_DURATION_H

#include <time.h>

/* Seconds into *out; 0 on success, -1 on a malformed or overflowing value. */
int duration_parse(const char *s, long long *out);

#endif
