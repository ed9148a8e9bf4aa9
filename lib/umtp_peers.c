/*
 * umtp_peers.c - load umtp peers and keys from the configuration
 * (umtp_peers.h), for umtp(1) and the milter's shadow sender.
 * Errors go to the caller's buffer; the caller picks the exit code (78
 * for anything here: it is all configuration).
 */
#include "umtp_peers.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "secret.h"

static int
resolve(struct umtp_peer *peer, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_DGRAM;
	if ((rc = getaddrinfo(peer->host, peer->port, &hints, &res)) != 0) {
		snprintf(err, errlen, "umtp peer \"%s\": %s: %s", peer->domain,
		         peer->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && peer->naddr < PEERS_MAX_ADDRS; ai = ai->ai_next) {
		if (addr_from_sockaddr(ai->ai_addr, &peer->addrs[peer->naddr]) < 0)
			continue;
		if (peer->naddr++ == 0 && ai->ai_addrlen <= sizeof peer->sa) {
			memcpy(&peer->sa, ai->ai_addr, ai->ai_addrlen);
			peer->salen = ai->ai_addrlen;
		}
	}
	freeaddrinfo(res);
	return 0;
}

int
umtp_peers_load(cfg_t *umtp, int do_resolve, struct umtp_peers *p, char *err,
           size_t errlen)
{
	size_t n = cfg_size(umtp, "peer");

	memset(p, 0, sizeof *p);
	p->def.protocol = 2;
	if ((p->def.key_file = strdup(cfg_getstr(umtp, "key-file"))) == NULL)
		goto nomem;
	if (n > 0 && (p->v = calloc(n, sizeof *p->v)) == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(umtp, "peer", i);
		struct umtp_peer *peer = &p->v[i];
		const char *addr = cfg_getstr(sec, "address");
		const char *kf = cfg_getstr(sec, "key-file");

		p->n = i + 1;
		peer->protocol = (int)cfg_getint(sec, "protocol");
		if ((peer->domain = strdup(cfg_title(sec))) == NULL ||
		    (peer->key_file = strdup(kf ? kf : p->def.key_file)) == NULL)
			goto nomem;
		if (addr == NULL) {
			snprintf(err, errlen, "umtp peer \"%s\": no address",
			         peer->domain);
			goto fail;
		}
		if (hostport_split(addr, &peer->host, &peer->port) < 0) {
			snprintf(err, errlen, "umtp peer \"%s\": bad address \"%s\"",
			         peer->domain, addr);
			goto fail;
		}
		if (do_resolve && resolve(peer, err, errlen) < 0)
			goto fail;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	umtp_peers_free(p);
	return -1;
}

static void
peer_clear(struct umtp_peer *peer)
{
	free(peer->domain);
	free(peer->host);
	free(peer->port);
	free(peer->key_file);
	if (peer->key != NULL) {
		memset(peer->key, 0, peer->klen);
		free(peer->key);
	}
}

void
umtp_peers_free(struct umtp_peers *p)
{
	for (size_t i = 0; i < p->n; i++)
		peer_clear(&p->v[i]);
	free(p->v);
	peer_clear(&p->def);
	memset(p, 0, sizeof *p);
}

int
umtp_peers_read_key(struct umtp_peer *peer, char *err, size_t errlen)
{
	if (peer->key != NULL)
		return 0;
	/* The whole file, byte for byte (a trailing newline included), as
	 * the seed's $g->read($secret, 8192) took it. */
	if (secret_read(peer->key_file, PEERS_MAX_KEY, &peer->key, &peer->klen,
	                err, errlen) < 0)
		return -1;
	if (peer->protocol == 2 && peer->klen < UMTP_P2_MINKEY) {
		snprintf(err, errlen, "%s: a protocol 2 key needs at least %d bytes",
		         peer->key_file, UMTP_P2_MINKEY);
		return -1;
	}
	umtp_p2_keyid(peer->key, peer->klen, peer->keyid);
	return 0;
}

int
umtp_peers_read_keys(struct umtp_peers *p, int default_optional, char *err,
                size_t errlen)
{
	for (size_t i = 0; i < p->n; i++)
		if (umtp_peers_read_key(&p->v[i], err, errlen) < 0)
			return -1;
	/* With peers configured, the default key is optional, but a key
	 * file that exists and is unsafe is still an error. */
	if (default_optional && p->n > 0 && access(p->def.key_file, F_OK) < 0 &&
	    errno == ENOENT)
		return 0;
	return umtp_peers_read_key(&p->def, err, errlen);
}

struct umtp_peer *
umtp_peers_find_domain(struct umtp_peers *p, const char *domain)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcasecmp(p->v[i].domain, domain) == 0)
			return &p->v[i];
	return NULL;
}

struct umtp_peer *
umtp_peers_find_address(struct umtp_peers *p, const char *host, const char *port)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcasecmp(p->v[i].host, host) == 0 &&
		    strcmp(p->v[i].port, port) == 0)
			return &p->v[i];
	return NULL;
}

int
umtp_peers_match_source(const struct umtp_peer *peer, const struct addr *a)
{
	for (size_t i = 0; i < peer->naddr; i++)
		if (addr_equal(&peer->addrs[i], a))
			return 1;
	return 0;
}
