/*
 * filter.c - the libmilter callbacks (filter.h).
 *
 * negotiate  the session starts here, holding the current configuration
 *            snapshot until close (a SIGUSR1 reload never changes a
 *            session in progress); the SMFIF_* actions UMTP needs, SKIP
 *            when the MTA offers it, no body when nothing reads it
 * connect    the client's address; velocity: more than
 *            max-connections-per-minute from one untrusted address in a
 *            sliding minute -> 421 4.7.0 (the MTA hangs up)
 * helo       helo-check (helo.h) -> 550 5.7.1; remembered, so MAIL
 *            after a refused HELO is refused the same way
 * envfrom    a new message (umtp_msg_begin)
 * envrcpt    policy_decide() and the SMTP answer:
 *              accepted  SMFIS_CONTINUE (and umtp_msg_rcpt)
 *              denied    550 5.7.1 "Relaying denied. Check your mail ..."
 *              table     451 4.3.0, never an open relay
 *            each decision logged at info with client, recipient, reason;
 *            every RCPT asks the table afresh, so a login takes effect
 *            at once, even inside a session that was refused before it
 * header     required-headers seen; umtp_msg_header
 * eoh        a required header missing -> 550 5.6.0 naming it
 * body, eom  UMTP (umtp_hooks.h); abort ends the message, close the
 *            session
 *
 * Everything the client sends (recipient, HELO) reaches the log only
 * through logsafe_str().  Lines any client can cause go through the rate
 * limits of loglimit.h; relaying allowed for an authenticated client is
 * always logged.  Reply texts are fixed here or come from the
 * configuration, free of '%' and CR/LF, which libmilter and the MTAs
 * would mangle or refuse.
 *
 * Nothing here may exit(): one exit ends every session of every thread.
 */
#include <stdbool.h>

#include <libmilter/mfapi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "filter.h"
#include "helo.h"
#include "log.h"
#include "loglimit.h"
#include "logsafe.h"
#include "relaystore.h"
#include "session.h"
#include "snapshot.h"
#include "storeref.h"
#include "timefmt.h"
#include "umtp_hooks.h"
#include "velocity.h"

/* Text of a recipient or HELO name as logged; enough for any real one. */
#define RCPT_LOGLEN 320

static struct velocity *velocity;
static char tempfail_text[] =
    "Relay permission cannot be checked now, try again later";
static char velocity_text[] =
    "Too many connections from your address, try again later";

/* Seconds on a clock that never jumps: the velocity window. */
static uint32_t
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_sec;
}

static void
reply(SMFICTX *ctx, const char *code, const char *xcode, const char *text)
{
	/* smfi_setreply() takes char *; it copies the strings. */
	if (smfi_setreply(ctx, (char *)code, (char *)xcode, (char *)text) !=
	    MI_SUCCESS)
		log_warnx("smfi_setreply failed; the MTA uses its own %s text",
		          code[0] == '4' ? "4xx" : "5xx");
}

struct lookup_ctx {
	struct storeref *relay;
};

static int
table_lookup(void *arg, const struct addr *a, time_t now, time_t *expires,
             char *err, size_t errlen)
{
	struct lookup_ctx *lc = arg;

	return relaystore_check(storeref_store(lc->relay), a, now, expires, err,
	                        errlen);
}

/* The context's session, made now (with the current snapshot) if it has
 * none yet; NULL when out of memory. */
static struct session *
get_session(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);
	struct snapshot *snap;

	if (s != NULL)
		return s;
	if ((snap = snapshot_current()) == NULL)
		return NULL;
	loglimit_start(snap->cfg);
	if ((s = session_new(NULL, &snap->policy)) == NULL) {
		snapshot_release(snap);
		return NULL;
	}
	s->snap = snap;
	smfi_setpriv(ctx, s);
	return s;
}

static sfsistat
fi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
             unsigned long f2, unsigned long f3, unsigned long *pf0,
             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct session *s;
	unsigned long want;

	(void)f2;
	(void)f3;
	if ((s = get_session(ctx)) == NULL) {
		log_warnx("out of memory at option negotiation");
		return SMFIS_REJECT;
	}
	want = umtp_hooks_flags(s->snap->hooks);
	if ((f0 & want) != want) {
		log_warnx("the MTA does not allow the actions UMTP needs "
		          "(offered 0x%lx, needed 0x%lx)", f0, want);
		/* libmilter drops the connection: no close callback follows. */
		smfi_setpriv(ctx, NULL);
		session_free(s);
		return SMFIS_REJECT;
	}
	*pf0 = want;
	/* *pf1 arrives holding the steps libmilter has no callback for. */
	if (f1 & SMFIP_SKIP)
		*pf1 |= SMFIP_SKIP;
	if (!umtp_hooks_wants_body(s->snap->hooks) && (f1 & SMFIP_NOBODY))
		*pf1 |= SMFIP_NOBODY;
	if (s->snap->nrequired == 0 && s->snap->hooks != NULL &&
	    umtp_hooks_flags(s->snap->hooks) == 0 && (f1 & SMFIP_NOHDRS) &&
	    (f1 & SMFIP_NOEOH)) {
		/* Nothing reads headers: the MTA need not send them. */
		*pf1 |= SMFIP_NOHDRS | SMFIP_NOEOH;
	}
	*pf2 = 0;
	*pf3 = 0;
	s->skip_ok = (*pf1 & SMFIP_SKIP) != 0;
	return SMFIS_CONTINUE;
}

static sfsistat
fi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct session *s;
	const struct snapshot *sn;
	uint32_t n;

	(void)hostname;
	if ((s = get_session(ctx)) == NULL) {
		log_warnx("out of memory at connect");
		return SMFIS_TEMPFAIL;
	}
	sn = s->snap;
	session_end_msg(s); /* a second connect on one context */
	session_set_client(s, hostaddr, &sn->policy);
	s->helo = HELO_OK;
	log_debug("connect client=%s%s", s->client, s->trusted ? " trusted" : "");
	if (sn->max_per_minute <= 0 || !s->has_addr || s->trusted ||
	    velocity == NULL)
		return SMFIS_CONTINUE;
	n = velocity_hit(velocity, &s->addr, mono_seconds());
	if ((unsigned long)n <= (unsigned long)sn->max_per_minute)
		return SMFIS_CONTINUE;
	/* One line when an address crosses the limit, then one per
	 * hundred, and those through the rate limit: a flood from many
	 * addresses must not become a flood of log lines either. */
	if ((unsigned long)n == (unsigned long)sn->max_per_minute + 1 ||
	    n % 100 == 0)
		lograte_info(loglimit_refused, "client=%s velocity=refused "
		             "connections=%lu limit=%ld (in the last minute)",
		             s->client, (unsigned long)n, sn->max_per_minute);
	reply(ctx, "421", "4.7.0", velocity_text);
	return SMFIS_TEMPFAIL;
}

static sfsistat
helo_refuse(SMFICTX *ctx, struct session *s, const char *helo, const char *at)
{
	char safe[RCPT_LOGLEN];

	logsafe_str(helo, safe, sizeof(safe));
	lograte_info(loglimit_refused, "client=%s helo=%s %s=refused reason=%s",
	             s->client, safe, at, helo_result_name(s->helo));
	reply(ctx, "550", "5.7.1", helo_result_text(s->helo));
	return SMFIS_REJECT;
}

static sfsistat
fi_helo(SMFICTX *ctx, char *helohost)
{
	static char jmacro[] = "j", jbraced[] = "{j}";
	struct session *s = smfi_getpriv(ctx);
	const char *j;

	if (s == NULL)
		return SMFIS_CONTINUE;
	s->helo = HELO_OK; /* a second HELO is judged afresh */
	if (!s->snap->helo_check)
		return SMFIS_CONTINUE;
	if ((j = smfi_getsymval(ctx, jmacro)) == NULL)
		j = smfi_getsymval(ctx, jbraced);
	s->helo = helo_check(helohost, s->has_addr ? &s->addr : NULL, s->trusted,
	                     &s->snap->policy, &s->snap->self, j);
	if (s->helo == HELO_OK)
		return SMFIS_CONTINUE;
	logsafe_str(helohost != NULL ? helohost : "", s->helo_name,
	            sizeof(s->helo_name));
	return helo_refuse(ctx, s, helohost != NULL ? helohost : "", "helo");
}

/* A new message: whatever the last one left is ended first (RSET, or a
 * second MAIL after a rejected one, reaches us as abort or not at all). */
static sfsistat
fi_envfrom(SMFICTX *ctx, char **argv)
{
	struct session *s = smfi_getpriv(ctx);

	if (s == NULL)
		return SMFIS_CONTINUE;
	session_end_msg(s);
	s->seen_headers = 0;
	if (s->helo != HELO_OK) {
		/* Postfix and sendmail let a client go on to MAIL after
		 * its HELO was refused; the refusal must stick. */
		lograte_info(loglimit_refused, "client=%s helo=%s mail=refused "
		             "reason=%s", s->client, s->helo_name,
		             helo_result_name(s->helo));
		reply(ctx, "550", "5.7.1", helo_result_text(s->helo));
		return SMFIS_REJECT;
	}
	s->msg = umtp_msg_begin(s->snap->hooks,
	                        argv != NULL && argv[0] != NULL ? argv[0] : "");
	return SMFIS_CONTINUE;
}

static sfsistat
tempfail(SMFICTX *ctx)
{
	reply(ctx, "451", "4.3.0", tempfail_text);
	return SMFIS_TEMPFAIL;
}

static sfsistat
fi_envrcpt(SMFICTX *ctx, char **argv)
{
	static char auth_macro[] = "{auth_authen}";
	struct session *s = smfi_getpriv(ctx);
	struct policy_client c;
	struct policy_decision d;
	struct lookup_ctx lc;
	const char *rcpt = argv != NULL && argv[0] != NULL ? argv[0] : "";
	const char *why;
	char safe[RCPT_LOGLEN];

	logsafe_str(rcpt, safe, sizeof(safe));
	if (s == NULL) {
		log_warnx("client=unknown rcpt=%s relay=tempfail reason=no-session",
		          safe);
		return tempfail(ctx);
	}
	c.addr = s->has_addr ? &s->addr : NULL;
	c.trusted = s->trusted;
	c.auth_authen = smfi_getsymval(ctx, auth_macro);
	lc.relay = s->snap->relay;
	policy_decide(&s->snap->policy, rcpt, &c, table_lookup, &lc, time(NULL),
	              &d);
	why = policy_reason_name(d.reason);
	switch (d.verdict) {
	case POLICY_ACCEPT:
		if (d.reason == POLICY_POP_AUTH) {
			char when[32];

			timefmt_utc(d.expires, when, sizeof(when));
			log_info("client=%s rcpt=%s relay=allowed reason=%s expires=%s",
			         s->client, safe, why, when);
		} else
			lograte_info(d.reason == POLICY_LOCAL_DOMAIN ? loglimit_local
			                                             : NULL,
			             "client=%s rcpt=%s relay=allowed reason=%s",
			             s->client, safe, why);
		umtp_msg_rcpt(s->msg, rcpt);
		return SMFIS_CONTINUE;
	case POLICY_REJECT:
		lograte_info(loglimit_refused, "client=%s rcpt=%s relay=denied "
		             "reason=%s%s", s->client, safe, why,
		             d.routed ? " (local domain, but the local part routes)"
		                      : "");
		reply(ctx, "550", "5.7.1", s->snap->deny_text);
		return SMFIS_REJECT;
	case POLICY_TEMPFAIL:
		break;
	}
	lograte_info(loglimit_failed, "client=%s rcpt=%s relay=tempfail "
	             "reason=%s: %s", s->client, safe, why, d.err);
	return tempfail(ctx);
}

static sfsistat
fi_header(SMFICTX *ctx, char *name, char *value)
{
	struct session *s = smfi_getpriv(ctx);
	size_t i;

	if (s == NULL || name == NULL)
		return SMFIS_CONTINUE;
	for (i = 0; i < s->snap->nrequired; i++)
		if (strcasecmp(name, s->snap->required[i]) == 0)
			s->seen_headers |= UINT64_C(1) << i;
	umtp_msg_header(s->msg, name, value != NULL ? value : "");
	return SMFIS_CONTINUE;
}

static sfsistat
fi_eoh(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);
	char text[128];
	size_t i;

	if (s == NULL)
		return SMFIS_CONTINUE;
	for (i = 0; i < s->snap->nrequired; i++) {
		if (s->seen_headers & (UINT64_C(1) << i))
			continue;
		lograte_info(loglimit_refused, "client=%s header=%s message=refused "
		             "reason=missing-header", s->client,
		             s->snap->required[i]);
		snprintf(text, sizeof(text),
		         "Message refused: required header %s: is missing",
		         s->snap->required[i]);
		reply(ctx, "550", "5.6.0", text);
		session_end_msg(s);
		return SMFIS_REJECT;
	}
	return SMFIS_CONTINUE;
}

static sfsistat
fi_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	struct session *s = smfi_getpriv(ctx);

	if (s == NULL)
		return SMFIS_CONTINUE;
	if (!umtp_hooks_wants_body(s->snap->hooks))
		return s->skip_ok ? SMFIS_SKIP : SMFIS_CONTINUE;
	umtp_msg_body(s->msg, data, len);
	return SMFIS_CONTINUE;
}

static sfsistat
fi_eom(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);
	sfsistat r;

	if (s == NULL)
		return SMFIS_CONTINUE;
	r = umtp_msg_eom(s->msg, ctx, s->client);
	session_end_msg(s);
	return r;
}

static sfsistat
fi_abort(SMFICTX *ctx)
{
	/* The message ends; the session outlives it. */
	struct session *s = smfi_getpriv(ctx);

	if (s != NULL)
		session_end_msg(s);
	return SMFIS_CONTINUE;
}

static sfsistat
fi_close(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);

	if (s != NULL) {
		smfi_setpriv(ctx, NULL);
		session_free(s);
	}
	return SMFIS_CONTINUE;
}

int
filter_register(unsigned long flags, char *err, size_t errlen)
{
	static char name[] = "leafmail-milter";
	struct smfiDesc desc;

	/* Made whether or not velocity is on now: a reload may turn it on.
	 * calloc'd, so untouched until an address arrives. */
	if (velocity == NULL && (velocity = velocity_new(0)) == NULL) {
		snprintf(err, errlen, "out of memory for the velocity table");
		return -1;
	}
	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = name;
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = flags;
	desc.xxfi_connect = fi_connect;
	desc.xxfi_helo = fi_helo;
	desc.xxfi_envfrom = fi_envfrom;
	desc.xxfi_envrcpt = fi_envrcpt;
	desc.xxfi_header = fi_header;
	desc.xxfi_eoh = fi_eoh;
	desc.xxfi_body = fi_body;
	desc.xxfi_eom = fi_eom;
	desc.xxfi_abort = fi_abort;
	desc.xxfi_close = fi_close;
	desc.xxfi_negotiate = fi_negotiate;
	if (smfi_register(desc) != MI_SUCCESS) {
		snprintf(err, errlen, "smfi_register failed");
		return -1;
	}
	return 0;
}
