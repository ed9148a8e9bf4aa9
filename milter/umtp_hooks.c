/*
 * umtp_hooks.c - the milter's UMTP side (umtp_hooks.h): configuration,
 * the per-message state, and the libmilter calls at end of message.  The
 * work is in umtp_collect.c (keeping the message), umtp_shadow.c
 * (sending datagrams) and umtp_dedup.c (the duplicate store's verdict),
 * which need no libmilter and have unit tests.
 *
 * At end of message, in this order:
 *   dedup   recipients already delivered by UMTP are removed
 *           (smfi_delrcpt), or the message is discarded when that is all
 *           of them; the others are recorded as delivered by SMTP.  A
 *           store that cannot be read changes nothing: a duplicate is
 *           better than a loss.
 *   shadow  when a recipient's domain has a umtp.peer and the message
 *           fits one datagram: a Message-ID is added if there is none
 *           (smfi_addheader; if that fails, no datagram), then the
 *           datagrams go out.  The SMTP transaction goes on regardless.
 *
 * The duplicate store is opened on first use, not at load: an LMDB
 * environment must not cross the fork when the milter detaches.  One
 * mutex serialises its use (table.h: one writer thread at a time).
 */
#include "umtp_hooks.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "dedup.h"
#include "dedupstore.h"
#include "log.h"
#include "logsafe.h"
#include "lmdbfile.h"
#include "umtp_collect.h"
#include "umtp_dedup.h"
#include "umtp_peers.h"
#include "umtp_shadow.h"

struct umtp_store {
	pthread_mutex_t mu;  /* LMDB only: table.h writes one thread at a time */
	int redis;           /* set at load, never changed: read unlocked */
	struct store *t;     /* LMDB: NULL until first used; Redis: at load */
	char path[4096];
};

struct umtp_hooks {
	int shadow, dedup;
	struct umtp_peers peers;
	size_t cap;        /* umtp.max-message-size: most bytes kept */
	long long ttl;     /* umtp.dedup-ttl */
	struct umtp_store *store;
};

struct umtp_msg {
	const struct umtp_hooks *h;
	struct umtp_collect c;
};

struct umtp_hooks *
umtp_hooks_load(cfg_t *cfg, char *err, size_t errlen)
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
		if ((h->store = calloc(1, sizeof *h->store)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		pthread_mutex_init(&h->store->mu, NULL);
		if (dedup_path(cfg_getstr(cfg, "state-dir"), h->store->path,
		               sizeof h->store->path) < 0) {
			snprintf(err, errlen, "state-dir too long");
			goto fail;
		}
		/* Redis: the password file is read now, like the keys. */
		if (dedupstore_wants_redis(cfg)) {
			struct redis *rd = redis_new(cfg, err, errlen);
			if (rd == NULL)
				goto fail;
			if ((h->store->t = store_redis(rd, DEDUPSTORE_NS)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			h->store->redis = 1;
		}
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
	if (h->store != NULL) {
		store_close(h->store->t);
		pthread_mutex_destroy(&h->store->mu);
		free(h->store);
	}
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

static sfsistat
do_dedup(struct umtp_msg *m, SMFICTX *ctx, const char *client)
{
	const struct umtp_hooks *h = m->h;
	struct umtp_collect *c = &m->c;
	struct umtp_store *s = h->store;
	char err[512] = "", id[128];
	int *del;
	long n;

	if (c->msgid == NULL || c->nrcpt == 0)
		return SMFIS_CONTINUE; /* nothing to match on */
	logsafe_str(c->msgid, id, sizeof id);
	if ((del = calloc(c->nrcpt, sizeof *del)) == NULL) {
		log_warnx("umtp dedup %s: out of memory; delivering", id);
		return SMFIS_CONTINUE;
	}
	/* LMDB writes need the one lock; Redis none: each command is atomic
	 * there and SET NX keeps the first record (dedupstore.h). */
	if (!s->redis)
		pthread_mutex_lock(&s->mu);
	if (s->t == NULL) {
		struct lmdbfile *t = lmdbfile_open(s->path, LMDBFILE_WRITE, err, sizeof err);
		if (t != NULL && (s->t = store_lmdb(t)) == NULL)
			snprintf(err, sizeof err, "out of memory");
	}
	n = s->t == NULL ? LMDBFILE_ERR
	                 : umtp_dedup_decide(s->t, (struct umtp_peers *)&h->peers,
	                                     c->msgids, c->nmsgid, c->rcpts,
	                                     c->nrcpt,
	                                     time(NULL), h->ttl, del, err,
	                                     sizeof err);
	if (!s->redis)
		pthread_mutex_unlock(&s->mu);
	if (n == LMDBFILE_ERR) {
		log_warnx("umtp dedup client=%s %s: duplicate store: %s; "
		          "delivering", client, id, err);
		free(del);
		return SMFIS_CONTINUE;
	}
	if (err[0])
		log_warnx("umtp dedup client=%s %s: recording the SMTP copy "
		          "failed: %s; a later datagram may deliver it again",
		          client, id, err);
	if (n > 0 && (size_t)n == c->nrcpt) {
		log_info("umtp dedup client=%s %s: every recipient already "
		         "delivered by UMTP; message discarded", client, id);
		free(del);
		return SMFIS_DISCARD;
	}
	for (size_t i = 0; i < c->nrcpt; i++) {
		char r[256];
		if (!del[i])
			continue;
		logsafe_str(c->rcpts[i], r, sizeof r);
		if (smfi_delrcpt(ctx, c->rcpts[i]) == MI_SUCCESS)
			log_info("umtp dedup client=%s %s: rcpt=%s already delivered "
			         "by UMTP; removed", client, id, r);
		else
			log_warnx("umtp dedup client=%s %s: removing rcpt=%s failed; "
			          "it gets a second copy", client, id, r);
	}
	free(del);
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
