/*
 * lmtp.h - an LMTP (RFC 2033) session on a pair of streams, for
 * `leafmail-deliver -l` (stdin/stdout, like mail.local -l and sendmail's
 * FEATURE(local_lmtp)).
 *
 *   lmtp_session(in, out, ctx, myname)
 *       Greet, then serve LHLO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, QUIT
 *       until QUIT or end of input.  Each RCPT is looked up when given
 *       (unknown users are refused at once, 550 5.1.1); after DATA there is
 *       one reply per accepted recipient, in RCPT order, each its own
 *       delivery status.  Returns 0, or -1 when writing a reply failed.
 *       ctl is NULL for -l; the LMTP server (-L, lmtpd.c) passes one:
 *       once *ctl->stop is set, the session finishes the transaction in
 *       progress (if any), then answers "421 4.3.2" and ends; an
 *       incomplete DATA delivers nothing.  The session keeps
 *       ctl->in_transaction up to date (MAIL given, DATA not yet done),
 *       so the server's reader knows whether an idle wait may be cut
 *       short.
 *       Input is bounded as it is read: commands to a line of
 *       LMTP_LINE_MAX bytes ("500 5.5.2" beyond), a message to
 *       ctx->max_size ("552 5.3.4" for each recipient, after the rest of
 *       the message was read and dropped); see lmtp.c.
 */
#ifndef LEAFMAIL_LMTP_H
#define LEAFMAIL_LMTP_H

#include <stdatomic.h>
#include <stdio.h>

#include "deliver.h"

#define LMTP_MAX_RCPT 1000

struct lmtp_ctl {
	const atomic_int *stop; /* non-zero: the server is stopping */
	int in_transaction;     /* written by the session */
};

int lmtp_session(FILE *in, FILE *out, const struct deliver_ctx *ctx,
                 const char *myname, struct lmtp_ctl *ctl);

#endif
