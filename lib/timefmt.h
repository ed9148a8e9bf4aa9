/*
 * timefmt.h - a Unix time as the log lines of the relay decision show it.
 *
 *   timefmt_utc(t, buf, len)
 *       "2026-11-22T08:00:00Z" (RFC 3339, UTC) into buf (len >= 21), or
 *       "?" when it does not fit or the year is outside 0..9999.
 *       Returns buf.
 *
 * By hand rather than with strftime(): strftime() was a visible share of
 * the milter's own CPU time on the RCPT path.  Used by the milter and
 * leafmail-policyd, whose lines about the same decision must read alike.
 */
#ifndef LEAFMAIL_TIMEFMT_H
#define LEAFMAIL_TIMEFMT_H

#include <stddef.h>
#include <time.h>

char *timefmt_utc(time_t t, char *buf, size_t len);

#endif
