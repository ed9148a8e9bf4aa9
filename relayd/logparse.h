/*
 * logparse.h - recognise successful POP3/IMAP logins in log lines.
 *
 * Formats: "dovecot" (2.x, syslog layout and log_path layout, journald
 * "-o cat" layout), "courier", "cyrus", "uw-imap", "qpopper", and "custom"
 * (a POSIX ERE and the number of the group holding the address).
 * Every built-in pattern is anchored on the program tag at the start of
 * the message, so text a user controls (a user name) can never make a
 * failed login or another program's line count as a login.
 *
 * logparser_line() is reentrant and never writes to the line.
 */
#ifndef LEAFMAIL_LOGPARSE_H
#define LEAFMAIL_LOGPARSE_H

#include <stddef.h>
#include <time.h>

#include "addr.h"

struct logparser;

/* NULL with err filled on an unknown format or a bad regex/group. */
struct logparser *logparser_new(const char *format, const char *regex,
                                int ip_group, char *err, size_t errlen);
void logparser_free(struct logparser *p);

/* line: one log line without its newline (len bytes, not NUL-terminated,
 * may contain any bytes).  Returns 1 for a successful login (*a set; *when
 * set to the line's own time, resolved against now, or to now when the
 * line carries no timestamp), 0 otherwise. */
int logparser_line(const struct logparser *p, const char *line, size_t len,
                   time_t now, struct addr *a, time_t *when);

#endif
