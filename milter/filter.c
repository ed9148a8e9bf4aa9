/*
 * filter.c - the libmilter callbacks: relay policy at RCPT (filter.h).
 *
 * connect  remember the client (session.c) with smfi_setpriv(): Debian's
 *          libmilter serves connections from a pool of worker threads,
 *          so per-connection state must hang off the context
 * helo, envfrom, eom, abort
 *          nothing to do yet; HELO and MAIL are registered all the same,
 *          because miltertest (and so our tests) fails negotiation with
 *          a filter that registers neither
 * envrcpt  policy_decide() and the SMTP answer:
 *            accepted  SMFIS_CONTINUE
 *            denied    550 5.7.1 "Relaying denied. Check your mail ..."
 *            table     451 4.3.0, never an open relay
 *          each decision logged at info with client, recipient, reason
 * close    free the session
 *
 * The recipient is attacker-controlled: it reaches the log only through
 * logsafe_str().  Reply texts are fixed here, free of '%' and CR/LF, which
 * libmilter and the MTAs would mangle or refuse.
 *
 * Nothing here may exit(): one exit ends every session of every thread.
 */
#include <stdbool.h>

#include <libmilter/mfapi.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "filter.h"
#include "log.h"
#include "logsafe.h"
#include "relaytable.h"
#include "session.h"
#include "table.h"

/* Text of a recipient as logged; enough for any real address. */
#define RCPT_LOGLEN 320

static struct filter_config *fcfg;
static pthread_mutex_t table_mutex = PTHREAD_MUTEX_INITIALIZER;
static char deny_text[200];
static char tempfail_text[] =
    "Relay permission cannot be checked now, try again later";

/* "30 minutes", "2 hours": how long a login allows relaying. */
static void
format_expire(long long secs, char *buf, size_t len)
{
	long long n;
	const char *unit;

	if (secs >= 3600 && secs % 3600 == 0)
		n = secs / 3600, unit = "hour";
	else if (secs >= 60)
		n = secs / 60, unit = "minute";
	else
		n = secs, unit = "second";
	snprintf(buf, len, "%lld %s%s", n, unit, n == 1 ? "" : "s");
}

/* The shared table, opened now if main() could not.  The mutex makes the
 * pointer's one change safe; the table's own reads need no lock. */
static struct table *
get_table(char *err, size_t errlen)
{
	struct table *t;

	pthread_mutex_lock(&table_mutex);
	if (fcfg->table == NULL) {
		fcfg->table = table_open(fcfg->table_path, TABLE_READ_MISSING_OK,
		                         err, errlen);
		if (fcfg->table != NULL)
			log_info("relay table %s opened", fcfg->table_path);
	}
	t = fcfg->table;
	pthread_mutex_unlock(&table_mutex);
	return t;
}

static int
table_lookup(void *arg, const struct addr *a, time_t now, time_t *expires,
             char *err, size_t errlen)
{
	struct table *t;

	(void)arg;
	if ((t = get_table(err, errlen)) == NULL)
		return TABLE_ERR;
	return relaytable_check(t, a, now, expires, err, errlen);
}

static sfsistat
fi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct session *s;

	(void)hostname;
	if ((s = smfi_getpriv(ctx)) != NULL)
		session_free(s); /* a second connect on one context */
	s = session_new(hostaddr, &fcfg->policy);
	smfi_setpriv(ctx, s);
	if (s == NULL) {
		log_warnx("out of memory at connect");
		return SMFIS_TEMPFAIL;
	}
	log_debug("connect client=%s%s", s->client, s->trusted ? " trusted" : "");
	return SMFIS_CONTINUE;
}

static sfsistat
fi_helo(SMFICTX *ctx, char *helohost)
{
	(void)ctx;
	(void)helohost;
	return SMFIS_CONTINUE;
}

static sfsistat
fi_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
tempfail(SMFICTX *ctx)
{
	if (smfi_setreply(ctx, "451", "4.3.0", tempfail_text) != MI_SUCCESS)
		log_warnx("smfi_setreply failed; the MTA uses its own 4xx text");
	return SMFIS_TEMPFAIL;
}

static sfsistat
fi_envrcpt(SMFICTX *ctx, char **argv)
{
	static char auth_macro[] = "{auth_authen}";
	struct session *s = smfi_getpriv(ctx);
	struct policy_client c;
	struct policy_decision d;
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
	policy_decide(&fcfg->policy, rcpt, &c, table_lookup, NULL, time(NULL), &d);
	why = policy_reason_name(d.reason);
	switch (d.verdict) {
	case POLICY_ACCEPT:
		if (d.reason == POLICY_POP_AUTH) {
			struct tm tm;
			char when[32] = "?";

			if (gmtime_r(&d.expires, &tm) != NULL)
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			log_info("client=%s rcpt=%s relay=allowed reason=%s expires=%s",
			         s->client, safe, why, when);
		} else
			log_info("client=%s rcpt=%s relay=allowed reason=%s", s->client,
			         safe, why);
		return SMFIS_CONTINUE;
	case POLICY_REJECT:
		log_info("client=%s rcpt=%s relay=denied reason=%s%s", s->client, safe,
		         why, d.routed ? " (local domain, but the local part routes)" : "");
		if (smfi_setreply(ctx, "550", "5.7.1", deny_text) != MI_SUCCESS)
			log_warnx("smfi_setreply failed; the MTA uses its own 5xx text");
		return SMFIS_REJECT;
	case POLICY_TEMPFAIL:
		break;
	}
	log_info("client=%s rcpt=%s relay=tempfail reason=%s: %s", s->client, safe,
	         why, d.err);
	return tempfail(ctx);
}

static sfsistat
fi_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
fi_abort(SMFICTX *ctx)
{
	/* Per-message state goes here; the session outlives the message. */
	(void)ctx;
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
filter_register(struct filter_config *fc, char *err, size_t errlen)
{
	static char name[] = "leafmail-milter";
	struct smfiDesc desc;
	char within[64];

	fcfg = fc;
	if (fc->expire > 0) {
		format_expire(fc->expire, within, sizeof(within));
		snprintf(deny_text, sizeof(deny_text),
		         "Relaying denied. Check your mail (POP3/IMAP) first, then "
		         "send within %s, or use SMTP AUTH",
		         within);
	} else
		snprintf(deny_text, sizeof(deny_text),
		         "Relaying denied. Check your mail (POP3/IMAP) first, or use "
		         "SMTP AUTH");

	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = name;
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = 0;
	desc.xxfi_connect = fi_connect;
	desc.xxfi_helo = fi_helo;
	desc.xxfi_envfrom = fi_envfrom;
	desc.xxfi_envrcpt = fi_envrcpt;
	desc.xxfi_eom = fi_eom;
	desc.xxfi_abort = fi_abort;
	desc.xxfi_close = fi_close;
	if (smfi_register(desc) != MI_SUCCESS) {
		snprintf(err, errlen, "smfi_register failed");
		return -1;
	}
	return 0;
}
