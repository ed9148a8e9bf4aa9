/*
 * umtp_out.c - encode one message for one peer and send it (umtp_out.h).
 */
#include "umtp_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t
umtp_out_limit(int family)
{
	return family == AF_INET6 ? UMTP_MAX_DGRAM_V6 : UMTP_MAX_DGRAM_V4;
}

int
umtp_out_send(int fd, const struct sockaddr *to, socklen_t tolen,
              const struct umtp_out *o, time_t now, size_t *npkt,
              size_t *bytes)
{
	size_t n = o->peer->protocol == 1 ? o->nrcpt : 1;
	size_t limit = o->limit < UMTP_MAX_DGRAM_V4 ? o->limit : UMTP_MAX_DGRAM_V4;
	unsigned char *pkts;
	size_t *lens;
	int rc = UMTP_OK;

	*npkt = *bytes = 0;
	if (o->nrcpt == 0)
		return UMTP_E_BADFIELD;
	pkts = malloc(n * UMTP_MAX_DGRAM_V4);
	lens = calloc(n, sizeof *lens);
	if (pkts == NULL || lens == NULL) {
		rc = UMTP_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && rc == UMTP_OK; i++) {
		unsigned char *p = pkts + i * UMTP_MAX_DGRAM_V4;
		if (o->peer->protocol == 1) {
			rc = umtp_p1_encode(o->peer->key, o->peer->klen, o->rcpts[i],
			                    o->msg, o->msglen, p, limit, &lens[i]);
		} else {
			struct umtp_p2_env env = {o->sender, o->rcpts, o->nrcpt,
			                          o->msgid};
			rc = umtp_p2_encode(o->peer->key, o->peer->klen, &env, o->msg,
			                    o->msglen, now, p, limit, &lens[i]);
		}
	}
	for (size_t i = 0; i < n && rc == UMTP_OK; i++) {
		const unsigned char *p = pkts + i * UMTP_MAX_DGRAM_V4;
		ssize_t w;
		do
			w = to != NULL ? sendto(fd, p, lens[i], 0, to, tolen)
			               : send(fd, p, lens[i], 0);
		while (w < 0 && errno == EINTR);
		if (w != (ssize_t)lens[i]) {
			if (w >= 0)
				errno = EMSGSIZE;
			rc = UMTP_E_SEND;
			break;
		}
		(*npkt)++;
		*bytes = lens[i];
	}
out:
	{
		int e = errno;
		free(pkts);
		free(lens);
		errno = e;
	}
	return rc;
}
