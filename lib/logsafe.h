/*
 * logsafe.h - make client-supplied text safe to put in a log line.
 *
 * Recipients, HELO names and the like come from whoever connects to the
 * MTA.  Written raw, a CR or LF would forge a second log line (and fool
 * anything that parses the log), other control bytes would garble a
 * terminal.  logsafe_str() escapes them.
 */
#ifndef LEAFMAIL_LOGSAFE_H
#define LEAFMAIL_LOGSAFE_H

#include <stddef.h>

/* Copy s into out (outlen > 4): printable ASCII other than '\\' as is,
 * '\\' as "\\\\", every other byte as "\xHH".  Text that does not fit is
 * cut and ends in "...".  NULL is written "(null)".  Returns out. */
char *logsafe_str(const char *s, char *out, size_t outlen);

#endif
