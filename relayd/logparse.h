/*
 * logparse.h - recognise successful POP3/IMAP logins in log lines.
 *
 * Formats: "dovecot" (2.x, syslog layout and log_path layout, journald
 * "-o cat" layout), "courier", "cyrus", "uw-imap", "qpopper", and "custom"
 * (a POSIX ERE and the number of the group holding the address).
 * Every built-in pattern is anchored on the program tag at the start of
 * the message, so text a user controls (a user name) can never make a
 * failed login or another program's line count as a login.  An address
 * with an IPv6 zone ("fe80::1%eth0") is never a login's: the relay table
 * has no zones, and "fe80::1" would then be allowed on every link.
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

/*
 * The same, telling sessions apart (relay.hold-while-connected):
 *   LOGPARSE_LOGIN    a successful login (a, when; session/session_len
 *                     the server's session id when the line names one)
 *   LOGPARSE_END      a session ended (session, when): Dovecot's mail
 *                     process "imap(U)<PID><ID>: Disconnected..." and
 *                     "... Logged out"
 *   LOGPARSE_RESTART  the server (re)started (when): Dovecot's "master:
 *                     Dovecot vX starting up"; none of its earlier
 *                     sessions is still open
 *   LOGPARSE_NONE     anything else
 * session points into line.  Only the dovecot format knows sessions; the
 * others report logins alone.
 */
enum logparse_kind { LOGPARSE_NONE, LOGPARSE_LOGIN, LOGPARSE_END,
                     LOGPARSE_RESTART };

struct logparse_event {
	enum logparse_kind kind;
	struct addr a;
	time_t when;
	const char *session;
	size_t session_len;
};

enum logparse_kind logparser_event(const struct logparser *p,
                                   const char *line, size_t len, time_t now,
                                   struct logparse_event *ev);

#endif
