/*
 * umtp_hooks.c - the milter's UMTP side (umtp_hooks.h): configuration,
 * the per-message state, and the libmilter calls at end of message.  The
 * work is in umtp_collect.c (keeping the message), umtp_shadow.c
 * (sending datagrams) and umtp_dedup.c (the claim store's verdict),
 * which need no libmilter and have unit tests.
 *
 * At end of message, in this order:
 *   dedup   each recipient is claimed for SMTP (claimstore.h): those the
 *           UMTP copy delivered are removed (smfi_delrcpt), or the
 *           message is discarded when that is all of them; when a UMTP
 *           injection is still under way after umtp.claim-wait, 451 4.3.0
 *           (the sender retries; its SMTP claims stand, so the retry
 *           keeps those recipients).  A store that cannot be used: 451
 *           as well, or, with milter.umtp-dedup-unavailable = "deliver",
 *           the message goes on (a duplicate is possible, never a loss).
 *   shadow  when a recipient's domain has a umtp.peer and the message
 *           fits one datagram: a Message-ID is added if there is none
 *           (smfi_addheader; if that fails, no datagram), then the
 *           datagrams go out.  The SMTP transaction goes on regardless.
 *
 * The claim store belongs to the snapshot (storeref.h: one handle per
 * process, shared across reloads); any number of sessions use it at
 * once.
 */
#include "umtp_hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claimstore.h"
#include "conf.h"
#include "log.h"
#include "logsafe.h"
#include "umtp_collect.h"
#include "umtp_dedup.h"
#include "umtp_peers.h"
#include "umtp_shadow.h"

struct umtp_hooks {
	int shadow, dedup;
	struct umtp_peers peers;
	size_t cap;          /* umtp.max-message-size: most bytes kept */
	long long ttl;       /* umtp.dedup-ttl */
	long long wait_ms;   /* umtp.claim-wait */
	int deliver_unavailable; /* milter.umtp-dedup-unavailable = deliver */
	struct store *claims;    /* the snapshot's */
};

struct umtp_msg {
	const struct umtp_hooks *h;
	struct umtp_collect c;
};

struct umtp_hooks *
umtp_hooks_load(cfg_t *cfg, struct store *claims, char *err, size_t errlen)
{
	cfg_t *m = cfg_getsec(cfg, "milter"), *u = cfg_getsec(cfg, "umtp");
	struct umtp_hooks *h = calloc(1, sizeof *h);

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->shadow = m != NULL && cfg_getbool(m, "umtp-shadow");
	h->dedup = m != NULL && cfg_getbool(m, "umtp-dedup");
	if (!h->shadow && !h->dedup)
		return h;
	h->cap = (size_t)cfg_getint(u, "max-message-size");
	h->ttl = conf_duration(u, "dedup-ttl");
	/* Peers: the shadow side sends to them (addresses resolved and keys
	 * read now, before privileges go); the dedup side only needs to
	 * know their domains. */
	if (umtp_peers_load(u, h->shadow, &h->peers, err, errlen) < 0) {
		free(h);
		return NULL;
	}
	for (size_t i = 0; h->shadow && i < h->peers.n; i++) {
		if (umtp_peers_read_key(&h->peers.v[i], err, errlen) < 0)
			goto fail;
		if (h->peers.v[i].salen == 0) {
			snprintf(err, errlen, "umtp peer \"%s\": %s has no address",
			         h->peers.v[i].domain, h->peers.v[i].host);
			goto fail;
		}
	}
	if (h->shadow && h->peers.n == 0)
		log_warnx("milter.umtp-shadow is on but no umtp peer is "
		          "configured: nothing will be sent");
	if (h->dedup) {
		if (claims == NULL) {
			snprintf(err, errlen, "milter.umtp-dedup: no duplicate store");
			goto fail;
		}
		h->claims = claims;
		h->wait_ms = conf_duration(u, "claim-wait") * 1000;
		h->deliver_unavailable =
		    strcmp(cfg_getstr(m, "umtp-dedup-unavailable"), "deliver") == 0;
	}
	return h;
fail:
	umtp_hooks_free(h);
	return NULL;
}

void
umtp_hooks_free(struct umtp_hooks *h)
{
	if (h == NULL)
		return;
	umtp_peers_free(&h->peers);
	free(h);
}

unsigned long
umtp_hooks_flags(const struct umtp_hooks *h)
{
	unsigned long f = 0;

	if (h != NULL && h->shadow)
		f |= SMFIF_ADDHDRS;
	if (h != NULL && h->dedup)
		f |= SMFIF_DELRCPT;
	return f;
}

int
umtp_hooks_wants_body(const struct umtp_hooks *h)
{
	return h != NULL && h->shadow;
}

struct umtp_msg *
umtp_msg_begin(const struct umtp_hooks *h, const char *sender)
{
	struct umtp_msg *m;

	if (h == NULL || (!h->shadow && !h->dedup))
		return NULL;
	if ((m = calloc(1, sizeof *m)) == NULL) {
		log_warnx("umtp: out of memory at MAIL FROM; UMTP skipped for this "
		          "message");
		return NULL;
	}
	m->h = h;
	umtp_collect_init(&m->c, h->cap, h->shadow);
	umtp_collect_sender(&m->c, sender != NULL ? sender : "");
	return m;
}

void
umtp_msg_rcpt(struct umtp_msg *m, const char *rcpt)
{
	if (m != NULL && rcpt != NULL)
		umtp_collect_rcpt(&m->c, rcpt);
}

void
umtp_msg_header(struct umtp_msg *m, const char *name, const char *value)
{
	if (m != NULL && name != NULL && value != NULL)
		umtp_collect_header(&m->c, name, value);
}

void
umtp_msg_body(struct umtp_msg *m, const unsigned char *data, size_t len)
{
	if (m != NULL && data != NULL)
		umtp_collect_body(&m->c, data, len);
}

struct wait_log {
	const char *client, *id;
	long long wait_ms;
};

static void
log_waiting(void *arg, const char *rcpt, const struct claim *c)
{
	const struct wait_log *w = arg;
	char r[256];

	logsafe_str(rcpt, r, sizeof r);
	log_info("umtp dedup client=%s %s: rcpt=%s being delivered by UMTP "
	         "(claimed at %lld); waiting up to %lld ms", w->client, w->id, r,
	         (long long)c->first_seen, w->wait_ms);
}

static sfsistat
tempfail(SMFICTX *ctx, const char *text)
{
	if (smfi_setreply(ctx, (char *)"451", (char *)"4.3.0", (char *)text) !=
	    MI_SUCCESS)
		log_warnx("smfi_setreply failed; the MTA uses its own 4xx text");
	return SMFIS_TEMPFAIL;
}

static sfsistat
do_dedup(struct umtp_msg *m, SMFICTX *ctx, const char *client)
{
	const struct umtp_hooks *h = m->h;
	struct umtp_collect *c = &m->c;
	char err[512] = "", id[128];
	enum claim_verdict *verdict;
	struct claim *found;
	size_t nwait = 0;
	long n;

	if (c->msgid == NULL || c->nrcpt == 0)
		return SMFIS_CONTINUE; /* nothing to match on */
	logsafe_str(c->msgid, id, sizeof id);
	verdict = calloc(c->nrcpt, sizeof *verdict);
	found = calloc(c->nrcpt, sizeof *found);
	if (verdict == NULL || found == NULL) {
		free(verdict);
		free(found);
		log_warnx("umtp dedup client=%s %s: out of memory; deferred",
		          client, id);
		return tempfail(ctx, "Duplicate check failed, try again later");
	}
	struct wait_log wl = {client, id, h->wait_ms};
	n = umtp_dedup_decide(h->claims, (struct umtp_peers *)&h->peers,
	                      c->msgids, c->nmsgid, c->rcpts, c->nrcpt, h->ttl,
	                      h->wait_ms, log_waiting, &wl, verdict, found, &nwait,
	                      err, sizeof err);
	if (n == STORE_ERR) {
		free(verdict);
		free(found);
		if (h->deliver_unavailable) {
			log_warnx("umtp dedup client=%s %s: duplicate store: %s; "
			          "delivering (umtp-dedup-unavailable = deliver)",
			          client, id, err);
			return SMFIS_CONTINUE;
		}
		log_warnx("umtp dedup client=%s %s: duplicate store: %s; "
		          "deferred (451)", client, id, err);
		return tempfail(ctx, "Duplicate check unavailable, try again later");
	}
	if (nwait > 0) {
		for (size_t i = 0; i < c->nrcpt; i++) {
			char r[256];
			if (verdict[i] != CLAIM_WAIT)
				continue;
			logsafe_str(c->rcpts[i], r, sizeof r);
			log_info("umtp dedup client=%s %s: rcpt=%s still being "
			         "delivered by UMTP after %lld ms; deferred (451)",
			         client, id, r, h->wait_ms);
			break;
		}
		free(verdict);
		free(found);
		return tempfail(ctx, "Being delivered by another path, try again "
		                     "later");
	}
	if (n > 0 && (size_t)n == c->nrcpt) {
		log_info("umtp dedup client=%s %s: every recipient already "
		         "delivered by UMTP; message discarded", client, id);
		free(verdict);
		free(found);
		return SMFIS_DISCARD;
	}
	for (size_t i = 0; i < c->nrcpt; i++) {
		char r[256];
		if (verdict[i] != CLAIM_DROP)
			continue;
		logsafe_str(c->rcpts[i], r, sizeof r);
		if (smfi_delrcpt(ctx, c->rcpts[i]) == MI_SUCCESS)
			log_info("umtp dedup client=%s %s: rcpt=%s already delivered "
			         "by UMTP; removed", client, id, r);
		else
			log_warnx("umtp dedup client=%s %s: removing rcpt=%s failed; "
			          "it gets a second copy", client, id, r);
	}
	free(verdict);
	free(found);
	return SMFIS_CONTINUE;
}

static void
do_shadow(struct umtp_msg *m, SMFICTX *ctx, const char *client)
{
	const struct umtp_hooks *h = m->h;
	struct umtp_collect *c = &m->c;
	char newid[UMTP_MAX_FIELD + 1], msgid[UMTP_MAX_FIELD + 2], host[256];
	const char *added = NULL, *j;
	char *msg = NULL;
	size_t len;

	if (!umtp_shadow_wanted((struct umtp_peers *)&h->peers, c))
		return;
	if (c->toobig) {
		log_info("umtp shadow client=%s: message over %zu bytes; SMTP only",
		         client, h->cap);
		return;
	}
	if (c->msgid == NULL) {
		j = smfi_getsymval(ctx, (char *)"j");
		if (j == NULL && gethostname(host, sizeof host) == 0) {
			host[sizeof host - 1] = '\0';
			j = host;
		}
		if (umtp_shadow_msgid(j, newid, sizeof newid) < 0) {
			log_warnx("umtp shadow client=%s: cannot make a Message-ID; "
			          "SMTP only", client);
			return;
		}
		/* Added first: a datagram whose Message-ID the SMTP copy lacks
		 * would be delivered twice. */
		if (smfi_addheader(ctx, (char *)"Message-ID", newid) != MI_SUCCESS) {
			log_warnx("umtp shadow client=%s: adding a Message-ID failed; "
			          "SMTP only", client);
			return;
		}
		added = newid;
		log_info("umtp shadow client=%s: added Message-ID %s", client, newid);
	}
	if (umtp_collect_message(c, added ? "Message-ID" : NULL, added, &msg,
	                         &len) < 0) {
		log_warnx("umtp shadow client=%s: out of memory; SMTP only", client);
		return;
	}
	if (umtp_find_msgid(msg, len, msgid, sizeof msgid) < 0) {
		char id[128];
		logsafe_str(c->msgid ? c->msgid : "", id, sizeof id);
		log_info("umtp shadow client=%s: Message-ID %s unusable in a "
		         "datagram; SMTP only", client, id);
	} else {
		umtp_shadow_send((struct umtp_peers *)&h->peers, c, msgid, msg, len,
		                 client);
	}
	free(msg);
}

sfsistat
umtp_msg_eom(struct umtp_msg *m, SMFICTX *ctx, const char *client)
{
	sfsistat rc = SMFIS_CONTINUE;

	if (m == NULL)
		return SMFIS_CONTINUE;
	if (client == NULL)
		client = "unknown";
	if (m->c.nomem) {
		log_warnx("umtp client=%s: out of memory collecting the message; "
		          "UMTP skipped", client);
		return SMFIS_CONTINUE;
	}
	if (m->h->dedup)
		rc = do_dedup(m, ctx, client);
	if (rc == SMFIS_CONTINUE && m->h->shadow)
		do_shadow(m, ctx, client);
	return rc;
}

void
umtp_msg_end(struct umtp_msg *m)
{
	if (m == NULL)
		return;
	umtp_collect_free(&m->c);
	free(m);
}
