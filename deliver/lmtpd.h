/*
 * lmtpd.h - `leafmail-deliver -L`: a long-running LMTP server, one thread
 * per session, for Postfix's `virtual_transport = lmtp:unix:...`.
 *
 *   lmtpd_run(&conf)
 *       Serve conf.lfd (a listening, non-blocking socket) until SIGTERM or
 *       SIGINT, each connection an lmtp_session() in its own thread, at
 *       most conf.max_sessions at once (more wait in the listen backlog).
 *       Blocks SIGTERM, SIGINT and SIGHUP in every thread and takes them
 *       through a signalfd; SIGPIPE is ignored.  Returns 0 after a clean
 *       stop, -1 when the server could not run (logged), 1 when sessions
 *       were still busy past the grace time: the caller should then exit
 *       without freeing what they use (the configuration).
 *
 * Stopping: the listener is closed at once; a session between
 * transactions is answered "421 4.3.2" and closed; one inside a
 * transaction may finish it for up to conf.grace seconds, after which
 * its input is cut: an unfinished DATA delivers nothing (a Maildir
 * delivery is all or nothing anyway), and the client gets 421 and
 * retries.  A session idle for conf.idle seconds is closed.
 */
#ifndef LEAFMAIL_LMTPD_H
#define LEAFMAIL_LMTPD_H

#include "deliver.h"

struct lmtpd_conf {
	int lfd;
	const struct deliver_ctx *ctx;
	const char *myname;
	int max_sessions;
	long long grace; /* seconds */
	long long idle;  /* seconds */
};

int lmtpd_run(const struct lmtpd_conf *conf);

#endif
