/*
 * umtp_shadow.c - the sending side of the milter's UMTP (umtp_shadow.h).
 *
 * Recipients are grouped by peer: protocol 2 puts a peer's recipients in
 * one datagram, protocol 1 sends one per recipient (umtp_out.c).  The
 * datagram carries the same Message-ID as the SMTP copy, which is what
 * lets the receiving site keep one of the two (claimstore.h): the receiver
 * records what it injects, its milter what arrives by SMTP.  This side
 * records nothing: its own store is for mail arriving here.
 */
#include "umtp_shadow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "log.h"
#include "logsafe.h"
#include "mailaddr.h"
#include "umtp_out.h"

struct umtp_peer *
umtp_shadow_peer_of(struct umtp_peers *peers, const char *rcpt)
{
	char a[UMTP_MAX_FIELD + 1];
	const char *at;

	if (mailaddr_strip(rcpt, a, sizeof a) < 0 ||
	    (at = strrchr(a, '@')) == NULL || at[1] == '\0')
		return NULL;
	return umtp_peers_find_domain(peers, at + 1);
}

int
umtp_shadow_wanted(struct umtp_peers *peers, const struct umtp_collect *c)
{
	for (size_t i = 0; i < c->nrcpt; i++)
		if (umtp_shadow_peer_of(peers, c->rcpts[i]) != NULL)
			return 1;
	return 0;
}

int
umtp_shadow_msgid(const char *host, char *buf, size_t len)
{
	unsigned char r[12];
	char hex[2 * sizeof r + 1];
	struct timespec ts;
	int n;

	if (RAND_bytes(r, sizeof r) != 1)
		return -1;
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(buf, len, "<%lld.%s.umtp@%s>", (long long)ts.tv_sec, hex,
	             host != NULL && host[0] ? host : "localhost");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* One peer's recipients (addresses without <>), umtp_addr_ok()'d. */
static size_t
send_peer(const struct umtp_peer *peer, const char *sender,
          const char *const *rcpts, size_t n, const char *msgid,
          const char *msg, size_t msglen, const char *client)
{
	struct umtp_out o = {peer, sender, rcpts, n, msgid, msg, msglen,
	                     umtp_out_limit(peer->sa.ss_family)};
	size_t npkt = 0, bytes = 0;
	int fd, rc;

	fd = socket(peer->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd < 0) {
		log_warn("umtp shadow %s to peer %s: socket", msgid, peer->domain);
		return 0;
	}
	rc = umtp_out_send(fd, (const struct sockaddr *)&peer->sa, peer->salen,
	                   &o, time(NULL), &npkt, &bytes);
	if (rc == UMTP_E_SEND)
		log_warn("umtp shadow %s to peer %s (%s:%s): sent %zu of %zu "
		         "datagram(s)", msgid, peer->domain, peer->host, peer->port,
		         npkt, peer->protocol == 1 ? n : (size_t)1);
	else if (rc != UMTP_OK)
		log_info("umtp shadow %s to peer %s: not sent: %s (message %zu "
		         "bytes); SMTP only", msgid, peer->domain,
		         umtp_strerror(rc), msglen);
	else
		log_info("umtp shadow client=%s %s: %zu protocol %d datagram(s) of "
		         "%zu bytes to peer %s (%s:%s) for %zu recipient(s)", client,
		         msgid, npkt, peer->protocol, bytes, peer->domain, peer->host,
		         peer->port, n);
	close(fd);
	return npkt;
}

size_t
umtp_shadow_send(struct umtp_peers *peers, const struct umtp_collect *c,
                 const char *msgid, const char *msg, size_t msglen,
                 const char *client)
{
	char (*addrs)[UMTP_MAX_FIELD + 1] = calloc(c->nrcpt, sizeof *addrs);
	const char **group = calloc(c->nrcpt, sizeof *group);
	struct umtp_peer **of = calloc(c->nrcpt, sizeof *of);
	size_t sent = 0;

	if (addrs == NULL || group == NULL || of == NULL) {
		log_warnx("umtp shadow %s: out of memory; SMTP only", msgid);
		goto out;
	}
	if (!umtp_addr_ok(c->sender ? c->sender : "", 1)) {
		char safe[128];
		logsafe_str(c->sender, safe, sizeof safe);
		log_info("umtp shadow %s: sender %s cannot go in a datagram; SMTP "
		         "only", msgid, safe);
		goto out;
	}
	for (size_t i = 0; i < c->nrcpt; i++) {
		of[i] = umtp_shadow_peer_of(peers, c->rcpts[i]);
		if (of[i] == NULL)
			continue;
		if (mailaddr_strip(c->rcpts[i], addrs[i], sizeof addrs[i]) < 0 ||
		    !umtp_addr_ok(addrs[i], 0)) {
			char safe[128];
			logsafe_str(c->rcpts[i], safe, sizeof safe);
			log_info("umtp shadow %s: recipient %s cannot go in a "
			         "datagram; SMTP only", msgid, safe);
			of[i] = NULL;
		}
	}
	/* Each peer once, with all its recipients, in their order. */
	for (size_t i = 0; i < c->nrcpt; i++) {
		struct umtp_peer *p = of[i];
		size_t n = 0;

		if (p == NULL)
			continue;
		for (size_t j = i; j < c->nrcpt; j++)
			if (of[j] == p) {
				if (n < UMTP_MAX_RCPTS)
					group[n++] = addrs[j];
				of[j] = NULL;
			}
		sent += send_peer(p, c->sender ? c->sender : "", group, n, msgid,
		                  msg, msglen, client);
	}
out:
	free(addrs);
	free(group);
	free(of);
	return sent;
}
