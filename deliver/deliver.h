/*
 * deliver.h - one recipient's delivery, from address to Maildir, with the
 * status the MTA gets back.  Used by pipe mode (main.c) and LMTP (lmtp.c).
 *
 *   deliver_lookup(ctx, addr, len, &d, &st)
 *       Parse and fold addr (len bytes: a NUL inside is refused), look the
 *       mailbox up: "local" first, then "user" without the extension.
 *       0 when d is ready for deliver_write(); otherwise -1 with st set.
 *   deliver_write(ctx, &d, sender, msg, len, &st)
 *       Loop check, quota, trace headers, the durable write, the quota
 *       update.  Always sets st; returns st.ex.
 *   deliver_reply_code(&st)
 *       The SMTP/LMTP reply code for st (250, 550, 452, ...).
 *
 * Refused addresses and unknown users are logged through ctx->lograte
 * (the LMTP server's clients may send any number); deliveries and
 * deferrals always (each is a message the MTA handed over).
 *
 * st.text always begins with an enhanced status code ("2.0.0 ...",
 * "5.1.1 ...", "4.2.2 ..."), which Postfix pipe(8) reads from our output;
 * st.ex is the matching sysexits(3) value: 0, 65 bad address or mail loop,
 * 67 unknown user or domain, 69 over quota with quota-action "bounce",
 * 75 any temporary failure, 78 a configuration problem.
 */
#ifndef LEAFMAIL_DELIVER_H
#define LEAFMAIL_DELIVER_H

#include <stddef.h>

#include "lograte.h"
#include "mailbox.h"
#include "recipient.h"

struct deliver_ctx {
	const char *base;      /* maildir-base */
	struct mailbox_conf mc; /* lookup backend and queries */
	const char *delims;    /* recipient-delimiter characters */
	int fold;              /* fold-case */
	int quota_bounce;      /* quota-action "bounce" */
	size_t max_size;       /* max-message-size, as received (LF line ends) */
	struct lograte *lograte; /* refusals of what a client sent; NULL: all */
};

struct deliver_rcpt {
	struct recipient r;
	struct mailbox mb;
};

struct deliver_status {
	int ex;
	char text[512];
};

int deliver_lookup(const struct deliver_ctx *ctx, const char *addr,
                   size_t len, struct deliver_rcpt *d,
                   struct deliver_status *st);
int deliver_write(const struct deliver_ctx *ctx, const struct deliver_rcpt *d,
                  const char *sender, const char *msg, size_t len,
                  struct deliver_status *st);
int deliver_reply_code(const struct deliver_status *st);

#endif
