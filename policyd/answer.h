/*
 * answer.h - the action for one policy request, from the relay decision
 * the milter makes too (lib/policy.h).
 *
 *   answer_request(ctx, &req, now)
 *       The action text Postfix gets ("action=" is the caller's), with
 *       the decision logged:
 *         OK         the client may relay: in the relay table and not
 *                    expired (a POP/IMAP login), SMTP AUTH
 *                    (sasl_username), or in policyd.trusted-networks
 *         DUNNO      no permission from us, or a recipient in
 *                    policyd.local-domains: Postfix's next restriction
 *                    decides (reject_unauth_destination refuses remote
 *                    recipients, lets its own domains through); also for
 *                    a request from another stage than RCPT
 *         451 4.3.0  the relay table could not be read: never "allowed"
 *         451 4.3.5  a bad request (policyreq.h), or not an
 *                    smtpd_access_policy request
 *       Allowed relaying is logged every time (the client authenticated);
 *       the other lines, which any SMTP client can cause, through the
 *       rate limits in ctx.
 *
 * The relay table is asked through ctx->lookup at the time of each
 * request, so an entry that expired a second ago no longer allows, and a
 * table that cannot be read answers 451.
 */
#ifndef LEAFMAIL_POLICYD_ANSWER_H
#define LEAFMAIL_POLICYD_ANSWER_H

#include <time.h>

#include "lograte.h"
#include "policy.h"
#include "policyreq.h"

struct answer_ctx {
	const struct policy *policy;
	policy_lookup_fn lookup;
	void *lookup_arg;
	struct lograte *denied; /* DUNNO decisions */
	struct lograte *failed; /* tables that could not be read */
	struct lograte *bad;    /* bad requests, wrong stage */
};

#define ANSWER_TEMPFAIL "451 4.3.0 Relay permission cannot be checked now, try again later"
#define ANSWER_BADREQ "451 4.3.5 Policy request not understood"

const char *answer_request(const struct answer_ctx *ctx,
                           const struct policyreq *r, time_t now);

#endif
