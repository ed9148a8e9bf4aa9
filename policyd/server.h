/*
 * server.h - leafmail-policyd's connections: one thread each, for as long
 * as the client keeps the connection (Postfix's smtpd processes keep
 * theirs and send request after request on it).
 *
 *   server_run(&conf)
 *       Serve conf.lfd (a listening, non-blocking socket) until SIGTERM
 *       or SIGINT: each connection a client_run() in its own thread, at
 *       most conf.max_conns at once (more wait in the listen backlog).
 *       A connection that sends nothing for conf.idle seconds, or takes
 *       an answer no faster, is closed.  SIGTERM, SIGINT and SIGHUP are
 *       blocked in every thread and taken through a signalfd; SIGPIPE is
 *       ignored.  Once a second the rate-limited log lines of conf.ctx
 *       get their summary.  Returns 0 after a stop (the listener closed,
 *       every connection shut down and its thread finished), 1 when
 *       threads were still busy 5 s later (the caller should exit without
 *       freeing what they use), -1 when it could not run (logged).
 */
#ifndef LEAFMAIL_POLICYD_SERVER_H
#define LEAFMAIL_POLICYD_SERVER_H

#include "answer.h"

struct server_conf {
	int lfd;
	const struct answer_ctx *ctx;
	int max_conns;
	long long idle; /* seconds */
};

int server_run(const struct server_conf *conf);

#endif
