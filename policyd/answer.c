/*
 * answer.c - the action for a policy request (answer.h).
 *
 * Why DUNNO rather than REJECT for a client without permission: the
 * service only ever grants or fails closed.  Whether a recipient is ours
 * is Postfix's knowledge (mydestination, virtual and relay domains); had
 * we refused on our own list, a domain missing from it would bounce
 * inbound mail.  reject_unauth_destination after us does the refusing.
 */
#include "answer.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "logsafe.h"
#include "timefmt.h"

#define RCPT_LOGLEN 320

const char *
answer_request(const struct answer_ctx *ctx, const struct policyreq *r,
               time_t now)
{
	struct policy_client c;
	struct policy_decision d;
	struct addr a;
	char client[RCPT_LOGLEN], rcpt[RCPT_LOGLEN], t[32];
	const char *bad = r->bad;

	logsafe_str(r->client_address, client, sizeof(client));
	logsafe_str(r->recipient, rcpt, sizeof(rcpt));
	if (bad == NULL && strcmp(r->request, "smtpd_access_policy") != 0)
		bad = "not an smtpd_access_policy request";
	if (bad != NULL) {
		lograte_warnx(ctx->bad, "policy request refused (451): %s", bad);
		return ANSWER_BADREQ;
	}
	if (strcmp(r->protocol_state, "RCPT") != 0) {
		logsafe_str(r->protocol_state[0] ? r->protocol_state : "(none)", t,
		            sizeof(t));
		lograte_warnx(ctx->bad, "a request at the %s stage, answered DUNNO: "
		              "use check_policy_service in smtpd_relay_restrictions",
		              t);
		return "DUNNO";
	}
	memset(&c, 0, sizeof(c));
	if (addr_parse(r->client_address, &a) == 0) {
		c.addr = &a;
		c.trusted = policy_trusted(ctx->policy, &a);
	}
	c.auth_authen = r->sasl_username;
	policy_decide(ctx->policy, r->recipient, &c, ctx->lookup, ctx->lookup_arg,
	              now, &d);
	switch (d.verdict) {
	case POLICY_ACCEPT:
		if (d.reason == POLICY_LOCAL_DOMAIN)
			break;
		if (d.reason == POLICY_POP_AUTH)
			log_info("client=%s rcpt=%s relay=allowed reason=%s expires=%s",
			         client, rcpt, policy_reason_name(d.reason),
			         timefmt_utc(d.expires, t, sizeof(t)));
		else
			log_info("client=%s rcpt=%s relay=allowed reason=%s", client,
			         rcpt, policy_reason_name(d.reason));
		return "OK";
	case POLICY_REJECT:
		break;
	case POLICY_TEMPFAIL:
		lograte_warnx(ctx->failed, "client=%s rcpt=%s relay=tempfail "
		              "reason=%s: %s", client, rcpt,
		              policy_reason_name(d.reason), d.err);
		return ANSWER_TEMPFAIL;
	}
	lograte_info(ctx->denied, "client=%s rcpt=%s relay=dunno reason=%s%s",
	             client, rcpt, policy_reason_name(d.reason),
	             d.routed ? " (local domain, but the local part routes)" : "");
	return "DUNNO";
}
