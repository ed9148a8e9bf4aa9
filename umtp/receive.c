/*
 * receive.c - `umtp receive [-c FILE] [-f] [-t] [HOST PORT]`: the daemon
 * that accepts UMTP datagrams and injects their messages into the local
 * MTA.
 *
 * Start-up (lib/daemon.h): configuration (-t stops here), state-dir and
 * run-dir, the pid file lock, bind, every key and the Redis password
 * read, the switch to `user`, detach unless -f, the pid; then, as
 * `user`, the duplicate store.  Exit codes: 0 after SIGTERM, 64 usage,
 * 69 another instance or the socket cannot be bound, 70 libcurl, 71 the
 * switch or fork, 73 a directory or the duplicate store cannot be
 * created, 78 configuration (a missing user, unreadable keys, a state-dir
 * or run-dir the user could replace).
 *
 * For every datagram one log line, accepted or refused with the reason;
 * refusals through a rate limit (log-rate-burst per log-rate-interval,
 * lib/lograte.h): anyone can send junk, and spoofed datagrams cost the
 * sender nothing, so 5,000 of them must not be 5,000 lines.  The lines
 * left out are counted, said with the next refusal logged, and in a
 * summary once the flood stops (the receive loop wakes at least once per
 * interval for it).
 * Rules (BRIEF): protocol 1 only from a peer configured with protocol = 1
 * whose address host is the datagram's source, verified under its key;
 * protocol 2 under the key its key id names, which must be the key of a
 * peer whose address is the source, or umtp.key-file (any source); then
 * the timestamp within umtp.max-skew and (key id, nonce) not seen before.
 * Accepted messages get "X-Via: umtp" prepended and are injected, with
 * umtp.inject-retries further attempts; a message still not injected is
 * logged as LOST.
 *
 * Exactly one copy (claimstore.h): before injecting, each recipient is
 * claimed under the message's Message-ID (protocol 2's field, or for
 * protocol 1 the header's) with put-if-absent, PENDING until
 * umtp.inject-timeout + CLAIM_GRACE_MS from now.  A recipient claimed
 * already (the SMTP copy came first, an earlier datagram, another
 * receiver sharing Redis) is dropped.  After the MTA's 250 the claims
 * become UMTP; after a failed attempt they are released, so the SMTP
 * copy, which the milter holds while a claim is PENDING, goes through at
 * once, and claimed afresh before the next attempt.  When the store
 * cannot be used the datagram is dropped: the SMTP copy still delivers.
 * A store that fails after the injection: the UMTP record is retried
 * (at most once a second) until the store answers.  So a store that
 * stalls costs at most one redis.timeout per datagram.  Claims are
 * committed at once (visible to the milter) and synced when the socket
 * is idle, at least every 100 ms: a system crash in between can lose a
 * claim, and then the SMTP copy delivers a second time; never a loss.
 *
 * Bursts: a large socket receive buffer (SO_RCVBUFFORCE as root, else
 * SO_RCVBUF up to the system's rmem_max) and recvmmsg() to take many
 * datagrams per system call.  Injection is synchronous, so the buffer is
 * what holds a burst while a message is being injected.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "addr.h"
#include "cmd.h"
#include "conf.h"
#include "daemon.h"
#include "claimstore.h"
#include "inject.h"
#include "listen.h"
#include "log.h"
#include "lograte.h"
#include "umtp_peers.h"
#include "replay.h"
#include "store.h"
#include "umtp_codec.h"

#define RECV_BATCH 64
#define RECV_BUFSZ 2048               /* > any datagram we accept: spots oversize */
#define INJECT_BACKOFF_MS 200
#define DEDUP_SWEEP_BATCH 256
#define RECV_SYNC_MS 100              /* most time records stay unsynced */
#define OWED_MAX 4096                 /* UMTP records waiting for the store */
#define OWED_RETRY_MS 1000

/* A UMTP record the store failed to take after the injection. */
struct owed {
	struct claim_umtp u;
	char *msgid;
	char **rcpts;
	enum claim_outcome *out;
	size_t n;
};

struct receiver {
	struct umtp_peers peers;
	struct inject inject;
	struct replay *replay;
	size_t cap;                   /* umtp.max-message-size */
	long long skew;               /* umtp.max-skew */
	int retries;                  /* umtp.inject-retries */
	struct store *claims;         /* claimstore_open() */
	long long dedup_ttl;          /* umtp.dedup-ttl */
	long long hold_ms;            /* a PENDING claim's life */
	struct owed *owed;            /* records to retry, oldest first */
	size_t nowed;
	struct timespec owed_tried;
	struct owed unrec;            /* the last injection's record, to go */
	int have_unrec;               /* with the next claim (or alone) */
	int store_ok;                 /* the last claim reached the store */
	long long sweep_every;        /* umtp.dedup-sweep-interval */
	time_t last_sweep;
	unsigned long accepted, refused, lost;
	struct lograte refusals;      /* the log lines of refused datagrams */
};

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
refuse(struct receiver *r, const char *src, size_t len, const char *why,
       const char *detail)
{
	r->refused++;
	lograte_warnx(&r->refusals, "refused datagram from %s (%zu bytes): "
	              "%s%s%s", src, len, why, detail[0] ? ": " : "", detail);
}

static void
owed_free(struct owed *o)
{
	for (size_t i = 0; o->rcpts != NULL && i < o->n; i++)
		free(o->rcpts[i]);
	free(o->rcpts);
	free(o->out);
	free(o->msgid);
	memset(o, 0, sizeof(*o));
}

/* A copy of a record to make; 0, or -1 (logged) when out of memory. */
static int
owed_copy(struct owed *o, const struct claim_umtp *u, const char *msgid,
          char *const *rcpts, const enum claim_outcome *out, size_t n)
{
	o->u = *u;
	o->msgid = strdup(msgid);
	o->rcpts = calloc(n, sizeof(char *));
	o->out = calloc(n, sizeof(*out));
	o->n = n;
	if (o->msgid == NULL || o->rcpts == NULL || o->out == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++)
		if ((o->rcpts[i] = strdup(rcpts[i])) == NULL)
			goto oom;
	memcpy(o->out, out, n * sizeof(*out));
	return 0;
oom:
	log_warnx("UMTP record of %s lost (out of memory); its SMTP copy may "
	          "be delivered too", msgid);
	owed_free(o);
	return -1;
}

/* Keep a record the store did not take, to write later. */
static void
owe(struct receiver *r, const struct claim_umtp *u, const char *msgid,
    char *const *rcpts, const enum claim_outcome *out, size_t n)
{
	struct owed o;

	if (r->nowed == OWED_MAX) {
		log_warnx("UMTP record of %s never written (store down too long); "
		          "its SMTP copy may be delivered too", r->owed[0].msgid);
		owed_free(&r->owed[0]);
		memmove(r->owed, r->owed + 1, --r->nowed * sizeof(*r->owed));
	}
	if (r->owed == NULL && (r->owed = calloc(OWED_MAX, sizeof(*r->owed))) == NULL) {
		log_warnx("UMTP record of %s lost (out of memory); its SMTP copy "
		          "may be delivered too", msgid);
		return;
	}
	if (owed_copy(&o, u, msgid, rcpts, out, n) == 0)
		r->owed[r->nowed++] = o;
}

static void
log_recorded(const char *msgid, char *const *rcpts,
             const enum claim_outcome *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] == CLAIM_TWICE)
			log_warnx("%s for <%s>: the SMTP copy took the claim over "
			          "before the UMTP delivery was recorded: delivered "
			          "twice", msgid, rcpts[i]);
}

static long
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t->tv_sec) * 1000 +
	       (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Write owed records, oldest first, at most once every OWED_RETRY_MS,
 * and, while datagrams come, only when the last claim reached the store:
 * a stalled store then costs each datagram its own claim's timeout, no
 * more.  Stop at the first failure (the store is still away). */
static void
retry_owed(struct receiver *r, int idle)
{
	char err[512];
	size_t done = 0;

	if (r->nowed == 0 || (!idle && !r->store_ok) ||
	    ms_since(&r->owed_tried) < OWED_RETRY_MS)
		return;
	clock_gettime(CLOCK_MONOTONIC, &r->owed_tried);
	for (; done < r->nowed; done++) {
		struct owed *o = &r->owed[done];
		if (claimstore_umtp_record(r->claims, &o->u, o->msgid, o->rcpts,
		                           o->n, r->dedup_ttl, o->out, err,
		                           sizeof err) != STORE_OK)
			break;
		log_info("recorded %s as delivered by UMTP (late)", o->msgid);
		log_recorded(o->msgid, o->rcpts, o->out, o->n);
		owed_free(o);
	}
	memmove(r->owed, r->owed + done, (r->nowed - done) * sizeof(*r->owed));
	r->nowed -= done;
}

/* The record that went with a claim (or alone): logged, and whatever the
 * store did not take owed. */
static void
unrec_done(struct receiver *r, int failed)
{
	struct owed *o = &r->unrec;
	size_t left = 0;

	for (size_t i = 0; i < o->n; i++)
		left += o->out[i] == CLAIM_WON;
	if (failed || left > 0) {
		log_warnx("recording %s as delivered failed; retried until the "
		          "store answers", o->msgid);
		owe(r, &o->u, o->msgid, o->rcpts, o->out, o->n);
	} else {
		log_recorded(o->msgid, o->rcpts, o->out, o->n);
	}
	owed_free(o);
	r->have_unrec = 0;
}

/* Write the last injection's record now, alone (the socket is idle, or
 * the next message has nothing to claim). */
static void
flush_unrec(struct receiver *r)
{
	char err[512];
	struct owed *o = &r->unrec;

	if (!r->have_unrec)
		return;
	if (claimstore_umtp_record(r->claims, &o->u, o->msgid, o->rcpts, o->n,
	                           r->dedup_ttl, o->out, err, sizeof err) != STORE_OK)
		log_warnx("recording %s as delivered failed: %s", o->msgid, err);
	unrec_done(r, 0);
}

/* Claim m's recipients under msgid; those won into keep[] (their
 * outcome in out[]).  Their number, or -1 when the store failed.  The
 * last injection's record goes in the same store transaction. */
static long
claim(struct receiver *r, const char *src, const char *msgid,
      char *const *rcpts, size_t n, struct claim_umtp *u,
      enum claim_outcome *out, char **keep)
{
	struct claim *found = calloc(n, sizeof(*found));
	char err[512];
	long won, k = 0;

	if (found == NULL) {
		log_warnx("dropped datagram from %s (%s): out of memory; the SMTP "
		          "copy will deliver", src, msgid);
		return -1;
	}
	struct claim_umtp_record prev = {&r->unrec.u, r->unrec.msgid,
	                                 r->unrec.rcpts, r->unrec.n, r->unrec.out};

	won = claimstore_umtp_claim(r->claims, r->have_unrec ? &prev : NULL, u,
	                            msgid, rcpts, n, claimstore_now_ms(),
	                            r->hold_ms, r->dedup_ttl, out, found, err,
	                            sizeof err);
	if (r->have_unrec)
		unrec_done(r, won == STORE_ERR);
	r->store_ok = won != STORE_ERR;
	if (won == STORE_ERR) {
		log_warnx("dropped datagram from %s (%s): duplicate store: %s; "
		          "the SMTP copy will deliver", src, msgid, err);
		free(found);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct claim *c = &found[i];
		if (out[i] == CLAIM_WON)
			keep[k++] = rcpts[i];
		else if (out[i] == CLAIM_UNKEYED)
			log_warnx("dropped %s for <%s>: too long to claim; the SMTP "
			          "copy will deliver", msgid, rcpts[i]);
		else if (c->state == CLAIM_UMTP || c->state == CLAIM_SMTP)
			log_info("dropped duplicate: %s for <%s> already delivered by "
			         "%s at %lld", msgid, rcpts[i],
			         claimstore_state_name(c->state),
			         (long long)c->first_seen);
		else if (c->state == CLAIM_PENDING)
			log_info("dropped duplicate: %s for <%s> being delivered by "
			         "another receiver (claimed at %lld)", msgid, rcpts[i],
			         (long long)c->first_seen);
		else
			log_warnx("dropped %s for <%s>: its duplicate record is "
			          "unreadable; the SMTP copy will deliver", msgid,
			          rcpts[i]);
	}
	free(found);
	return k;
}

static void
release(struct receiver *r, const struct claim_umtp *u, const char *msgid,
        char *const *keep, size_t n, const enum claim_outcome *out)
{
	char err[512];

	if (claimstore_umtp_release(r->claims, u, msgid, keep, n, out, err,
	                            sizeof err) != STORE_OK)
		log_warnx("releasing the claims on %s failed: %s; its SMTP copy "
		          "waits for their deadline", msgid, err);
}

static void
deliver(struct receiver *r, const char *src, size_t len,
        const struct umtp_packet *m, const char *keyname)
{
	static const char via[] = "X-Via: umtp\n";
	size_t n = sizeof via - 1 + m->datalen;
	char *data = NULL, err[512] = "", msgid[UMTP_MAX_FIELD + 2] = "";
	char **keep = calloc(m->nrcpt, sizeof *keep);
	enum claim_outcome *out = calloc(m->nrcpt, sizeof *out);
	const char *sender = m->protocol == 1 ? NULL : m->sender;
	struct claim_umtp u;
	long nkeep;
	int attempt;

	r->accepted++;
	if (m->msgid[0])
		snprintf(msgid, sizeof msgid, "%s", m->msgid);
	else if (umtp_find_msgid(m->data, m->datalen, msgid, sizeof msgid) < 0)
		msgid[0] = '\0';
	log_info("accepted datagram from %s (%zu bytes): protocol %d, key %s, "
	         "from <%s>, %zu recipient(s), first <%s>, %s, message %zu bytes",
	         src, len, m->protocol, keyname, sender ? sender : "",
	         m->nrcpt, m->rcpts[0], msgid[0] ? msgid : "no Message-ID",
	         m->datalen);
	if (keep == NULL || out == NULL || (data = malloc(n + 1)) == NULL) {
		r->lost++;
		log_warnx("LOST message from %s to <%s>: out of memory", src,
		          m->rcpts[0]);
		goto out;
	}
	memcpy(data, via, sizeof via - 1);
	memcpy(data + sizeof via - 1, m->data, m->datalen);
	/* Without a Message-ID there is nothing to claim on: the message
	 * did not come from a shadowing milter, which always adds one. */
	if (!msgid[0]) {
		flush_unrec(r); /* nothing to carry it */
		for (size_t i = 0; i < m->nrcpt; i++)
			keep[i] = m->rcpts[i];
		nkeep = (long)m->nrcpt;
	} else if ((nkeep = claim(r, src, msgid, m->rcpts, m->nrcpt, &u, out,
	                          keep)) <= 0) {
		goto out;
	}
	for (attempt = 0; attempt <= r->retries; attempt++) {
		if (attempt > 0) {
			struct timespec ts = {0, (long)INJECT_BACKOFF_MS * 1000000L *
			                             attempt};
			log_warnx("injecting message from %s to <%s> failed (%s); "
			          "retry %d of %d", src, keep[0], err, attempt,
			          r->retries);
			nanosleep(&ts, NULL);
			/* Claimed afresh: the SMTP copy may have passed. */
			if (msgid[0] &&
			    (nkeep = claim(r, src, msgid, keep, (size_t)nkeep, &u, out,
			                   keep)) <= 0)
				goto out;
		}
		if (inject_message(&r->inject, sender, keep, (size_t)nkeep, data, n,
		                   err, sizeof err) == 0) {
			log_info("injected message %s for <%s>%s",
			         msgid[0] ? msgid : "(no Message-ID)", keep[0],
			         nkeep > 1 ? " and others" : "");
			if (!msgid[0])
				goto out;
			/* Recorded with the next claim, or alone at the end of
			 * this batch of datagrams: one store transaction each
			 * in a burst, not two.  Never held across an injection:
			 * the next claim comes first. */
			for (long i = 0; i < nkeep; i++)
				out[i] = CLAIM_WON;
			if (owed_copy(&r->unrec, &u, msgid, keep, out, (size_t)nkeep) == 0)
				r->have_unrec = 1;
			goto out;
		}
		/* Make way for the SMTP copy while we wait. */
		if (msgid[0]) {
			for (long i = 0; i < nkeep; i++)
				out[i] = CLAIM_WON;
			release(r, &u, msgid, keep, (size_t)nkeep, out);
		}
	}
	r->lost++;
	log_warnx("LOST message %s from %s to <%s>%s after %d attempt(s): %s "
	          "(the SMTP copy is the safety net)",
	          msgid[0] ? msgid : "(no Message-ID)", src, keep[0],
	          nkeep > 1 ? " and others" : "", r->retries + 1, err);
out:
	free(keep);
	free(out);
	free(data);
}

static void
handle_p1(struct receiver *r, const struct addr *a, const char *src,
          const unsigned char *pkt, size_t len)
{
	int rc = UMTP_E_UNKNOWNKEY, tried = 0;
	struct umtp_packet m;

	for (size_t i = 0; i < r->peers.n; i++) {
		struct umtp_peer *p = &r->peers.v[i];
		if (p->protocol != 1 || !umtp_peers_match_source(p, a))
			continue;
		tried++;
		rc = umtp_p1_decode(p->key, p->klen, pkt, len, r->cap, &m);
		if (rc == UMTP_OK) {
			deliver(r, src, len, &m, p->domain);
			umtp_packet_free(&m);
			return;
		}
		if (rc != UMTP_E_BADMAC)
			break; /* structural: the same under any key */
	}
	if (tried == 0)
		refuse(r, src, len, "protocol 1 from a source that is no "
		       "protocol 1 peer", "");
	else
		refuse(r, src, len, "protocol 1", umtp_strerror(rc));
}

static void
handle_p2(struct receiver *r, const struct addr *a, const char *src,
          const unsigned char *pkt, size_t len)
{
	unsigned char id[UMTP_KEYID_LEN];
	struct umtp_peer *key = NULL;
	const char *wrong = NULL;
	struct umtp_packet m;
	time_t now = time(NULL);
	int rc;

	if ((rc = umtp_p2_peek_keyid(pkt, len, id)) != UMTP_OK) {
		refuse(r, src, len, "protocol 2", umtp_strerror(rc));
		return;
	}
	for (size_t i = 0; i < r->peers.n && key == NULL; i++) {
		struct umtp_peer *p = &r->peers.v[i];
		if (p->protocol != 2 || memcmp(p->keyid, id, sizeof id) != 0)
			continue;
		if (umtp_peers_match_source(p, a))
			key = p;
		else
			wrong = p->domain;
	}
	if (key == NULL && r->peers.def.key != NULL &&
	    memcmp(r->peers.def.keyid, id, sizeof id) == 0)
		key = &r->peers.def;
	if (key == NULL) {
		char d[128];
		snprintf(d, sizeof d, "%s%s%s", umtp_strerror(UMTP_E_UNKNOWNKEY),
		         wrong ? "; the key of peer " : "", wrong ? wrong : "");
		refuse(r, src, len, "protocol 2", d);
		return;
	}
	rc = umtp_p2_decode(key->key, key->klen, pkt, len, r->cap, now, r->skew,
	                    &m);
	if (rc != UMTP_OK) {
		refuse(r, src, len, "protocol 2", umtp_strerror(rc));
		return;
	}
	switch (replay_check_add(r->replay, m.keyid, m.nonce, now)) {
	case 0:
		deliver(r, src, len, &m, key->domain ? key->domain : "default");
		break;
	case 1:
		refuse(r, src, len, "protocol 2", umtp_strerror(UMTP_E_REPLAY));
		break;
	default:
		refuse(r, src, len, "protocol 2", "replay cache full");
		break;
	}
	umtp_packet_free(&m);
}

static void
handle(struct receiver *r, const struct sockaddr *sa, const unsigned char *pkt,
       size_t len, int truncated)
{
	struct addr a;
	char src[ADDR_STRLEN] = "?";
	size_t limit;
	int d;

	if (addr_from_sockaddr(sa, &a) < 0) {
		refuse(r, src, len, "unknown address family", "");
		return;
	}
	addr_format(&a, src, sizeof src);
	limit = a.family == AF_INET6 ? UMTP_MAX_DGRAM_V6 : UMTP_MAX_DGRAM_V4;
	if (truncated || len > limit) {
		refuse(r, src, len, umtp_strerror(UMTP_E_TOOLARGE), "");
		return;
	}
	d = umtp_detect(pkt, len);
	if (d == 1)
		handle_p1(r, &a, src, pkt, len);
	else if (d == 2)
		handle_p2(r, &a, src, pkt, len);
	else
		refuse(r, src, len, umtp_strerror(-d), "");
}

static int
bind_socket(const char *host, const char *port, int size, long long wake,
            char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, one = 1;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s:%s: %s", host, port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		snprintf(err, errlen, "bind %s:%s: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	/* As root, FORCE passes net.core.rmem_max; otherwise the kernel
	 * clamps SO_RCVBUF to it silently. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	/* Wake up now and then for the duplicate store's sweep and the
	 * summary of refusals left out of the log. */
	struct timeval tv = {wake < 1 ? 1 : wake > 60 ? 60 : (time_t)wake, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static void
sync_store(struct receiver *r, struct timespec *synced)
{
	char err[512];

	if (store_sync(r->claims, err, sizeof err) != STORE_OK)
		log_warnx("duplicate store sync: %s", err);
	clock_gettime(CLOCK_MONOTONIC, synced);
}

static void
run(struct receiver *r, int fd)
{
	static unsigned char bufs[RECV_BATCH][RECV_BUFSZ];
	struct sockaddr_storage addrs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct mmsghdr msgs[RECV_BATCH];
	struct timespec synced;
	int dirty = 0;

	clock_gettime(CLOCK_MONOTONIC, &synced);
	while (!quit) {
		memset(msgs, 0, sizeof msgs);
		for (int i = 0; i < RECV_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof bufs[i];
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &addrs[i];
			msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
		}
		/* MSG_TRUNC: msg_len is the real length of a longer datagram. */
		int n = recvmmsg(fd, msgs, RECV_BATCH, MSG_WAITFORONE | MSG_TRUNC |
		                 (dirty ? MSG_DONTWAIT : 0), NULL);
		time_t now = time(NULL);
		lograte_tick(&r->refusals);
		if (n < 0 && dirty && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			sync_store(r, &synced); /* idle: make the records durable */
			dirty = 0;
			continue;
		}
		if (now - r->last_sweep >= r->sweep_every) {
			char err[512];
			long d = claimstore_sweep(r->claims, now, r->dedup_ttl,
			                          DEDUP_SWEEP_BATCH, err, sizeof err);
			if (d < 0)
				log_warnx("duplicate store sweep: %s", err);
			else if (d > 0)
				log_info("duplicate store: %ld expired record(s) deleted", d);
			r->last_sweep = now;
		}
		retry_owed(r, n < 0);
		if (n < 0) {
			/* EAGAIN: SO_RCVTIMEO woke us for the sweep. */
			if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("recvmmsg");
			continue;
		}
		for (int i = 0; i < n; i++)
			handle(r, (struct sockaddr *)&addrs[i], bufs[i], msgs[i].msg_len,
			       (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0);
		flush_unrec(r);
		/* Records are committed visibly (the milter sees them at once)
		 * but synced only when the socket is idle, or every
		 * RECV_SYNC_MS under a steady stream: an fsync per datagram
		 * would cost more than all the rest. */
		if (n > 0 && !dirty)
			dirty = 1;
		if (dirty && ms_since(&synced) >= RECV_SYNC_MS) {
			sync_store(r, &synced);
			dirty = 0;
		}
	}
	if (dirty)
		sync_store(r, &synced);
}

int
receive_main(int argc, char **argv)
{
	const char *path = CONF_DEFAULT_PATH;
	char err[2048], *host = NULL, *port = NULL;
	int ch, foreground = 0, test = 0, fd, ex = DAEMON_EX_CONFIG;
	struct receiver r;
	size_t replay_cap;
	struct daemon d;
	struct sigaction sa;
	cfg_t *cfg, *sec;

	memset(&r, 0, sizeof r);
	while ((ch = getopt(argc, argv, "c:fhtV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("umtp %s\n", LEAFMAIL_VERSION);
			return 0;
		case 'h':
			printf("usage: umtp receive [-c FILE] [-f] [-t] [HOST PORT]\n");
			return 0;
		default:
			return DAEMON_EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	log_init("umtp", foreground || test, 0);
	if (argc != 0 && argc != 2) {
		log_warnx("usage: umtp receive [-c FILE] [-f] [-t] [HOST PORT]");
		return DAEMON_EX_USAGE;
	}
	if ((cfg = conf_load(path, err, sizeof err)) == NULL) {
		log_warnx("%s", err);
		return DAEMON_EX_CONFIG;
	}
	sec = cfg_getsec(cfg, "umtp");
	if (argc == 2) {
		host = strdup(argv[0]);
		port = strdup(argv[1]);
	} else if (hostport_split(cfg_getstr(sec, "listen"), &host, &port) < 0) {
		log_warnx("umtp.listen: bad address");
		goto out;
	}
	r.cap = (size_t)cfg_getint(sec, "max-message-size");
	r.skew = conf_duration(sec, "max-skew");
	r.retries = (int)cfg_getint(sec, "inject-retries");
	r.dedup_ttl = conf_duration(sec, "dedup-ttl");
	r.sweep_every = conf_duration(sec, "dedup-sweep-interval");
	conf_lograte(cfg, &r.refusals, "refused datagrams");
	replay_cap = (size_t)cfg_getint(sec, "replay-cache-size");
	if (replay_cap == 0)
		replay_cap = 1;
	if (umtp_peers_load(sec, 1, &r.peers, err, sizeof err) < 0 ||
	    inject_parse(cfg_getstr(sec, "inject"), &r.inject, err, sizeof err) < 0) {
		log_warnx("%s", err);
		goto out;
	}
	if (daemon_init(&d, "umtp", cfg_getstr(cfg, "user")) < 0) {
		log_warnx("%s", d.err);
		goto out;
	}
	r.inject.timeout = conf_duration(sec, "inject-timeout");
	/* An injection attempt ends by then (inject.h), so a claim past
	 * its deadline is abandoned, not slow (claimstore.h). */
	r.hold_ms = (r.inject.timeout > 0 ? r.inject.timeout : 60) * 1000 +
	            CLAIM_GRACE_MS;
	if (test) {
		if (umtp_peers_read_keys(&r.peers, 1, err, sizeof err) < 0) {
			log_warnx("%s", err);
			goto out;
		}
		if ((r.claims = claimstore_open(cfg, err, sizeof err)) == NULL) {
			log_warnx("duplicate store: %s", err);
			goto out;
		}
		printf("%s: configuration OK\n", path);
		ex = 0;
		goto out;
	}
	if (daemon_dirs(&d, cfg_getstr(cfg, "state-dir"),
	                cfg_getstr(cfg, "run-dir")) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_lock(&d) < 0)
		log_fatalx(d.ex, "%s", d.err);
	long sockbuf = cfg_getint(sec, "socket-buffer");
	if ((fd = bind_socket(host, port, sockbuf > INT_MAX ? INT_MAX : (int)sockbuf,
	                      r.sweep_every < r.refusals.interval_ms / 1000
	                          ? r.sweep_every
	                          : r.refusals.interval_ms / 1000,
	                      err, sizeof err)) < 0)
		log_fatalx(DAEMON_EX_UNAVAILABLE, "%s", err);
	if (umtp_peers_read_keys(&r.peers, 1, err, sizeof err) < 0)
		log_fatalx(DAEMON_EX_CONFIG, "%s", err);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		log_fatalx(DAEMON_EX_SOFTWARE, "curl_global_init failed");
	/* Redis: its password file is read now, as root.  LMDB: the file
	 * is opened on first use, as user (never as root: lib/daemon.c). */
	if ((r.claims = claimstore_open(cfg, err, sizeof err)) == NULL)
		log_fatalx(DAEMON_EX_CONFIG, "duplicate store: %s", err);
	if (daemon_drop(&d) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_detach(&d, foreground) < 0)
		log_fatalx(d.ex, "%s", d.err);
	/* Before we say we are ready: a TERM from then on ends the loop. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: recvmmsg returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (daemon_ready(&d) < 0)
		log_fatalx(d.ex, "%s", d.err);
	/* After detaching: an LMDB environment must not cross a fork.  A
	 * file that cannot be made is fatal; Redis may come back later. */
	if (store_probe(r.claims, err, sizeof err) != STORE_OK) {
		if (!store_expires(r.claims))
			log_fatalx(DAEMON_EX_CANTCREAT, "duplicate store: %s", err);
		log_warnx("duplicate store: %s", err);
		log_warnx("datagrams are dropped (their SMTP copies deliver) "
		          "until it answers");
	}
	if ((r.replay = replay_new(replay_cap, r.skew)) == NULL)
		log_fatalx(DAEMON_EX_OSERR, "out of memory");
	log_info("listening on %s:%s (%zu peer(s)%s, inject %s, duplicates in "
	         "%s)", host, port, r.peers.n,
	         r.peers.def.key ? ", default key" : "", r.inject.target,
	         store_name(r.claims));
	run(&r, fd);
	lograte_last(&r.refusals);
	log_info("exiting: %lu accepted, %lu refused, %lu lost", r.accepted,
	         r.refused, r.lost);
	daemon_end(&d);
	ex = 0;
out:
	flush_unrec(&r);
	for (size_t i = 0; i < r.nowed; i++)
		owed_free(&r.owed[i]);
	free(r.owed);
	store_close(r.claims);
	replay_free(r.replay);
	inject_free(&r.inject);
	umtp_peers_free(&r.peers);
	free(host);
	free(port);
	conf_free(cfg);
	return ex;
}
