/*
 * send.c - `umtp send [-c FILE] [-f SENDER] HOST PORT RECIPIENT...`: read
 * a message on stdin (a leading mbox "From " line dropped, as the seed
 * did), put it in one datagram and send it to HOST:PORT.
 *
 * Key and protocol: those of the peer whose title is the first
 * recipient's domain, else of the peer whose address is HOST:PORT, else
 * umtp.key-file and protocol 2.  Protocol 1 carries one recipient, so it
 * sends one datagram per recipient; protocol 2 sends one for all.
 *
 * Exit (a Postfix pipe(8) transport reads these): 0 sent; 75 too large for
 * one datagram, or the send failed (the SMTP copy still goes); 64 usage;
 * 78 configuration or key file refused.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "umtp_out.h"
#include "umtp_peers.h"
#include "umtp_codec.h"

/* No message above this can fit one datagram (deflate's best ratio is
 * about 1032:1); reading stops there. */
#define SEND_MAX_INPUT (4u << 20)

static int
read_stdin(char **out, size_t *outlen)
{
	size_t cap = 65536, n = 0;
	char *b = malloc(cap);

	if (b == NULL)
		return -1;
	for (;;) {
		if (n == cap) {
			char *t;
			if (cap >= SEND_MAX_INPUT) {
				free(b);
				return 1;
			}
			if ((t = realloc(b, cap * 2)) == NULL) {
				free(b);
				return -1;
			}
			b = t;
			cap *= 2;
		}
		ssize_t r = read(0, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = b;
	*outlen = n;
	return 0;
}

static struct umtp_peer *
choose_peer(struct umtp_peers *peers, const char *host, const char *port,
            char **rcpts, int nrcpt, int *mixed)
{
	struct umtp_peer *p = NULL;

	*mixed = 0;
	for (int i = 0; i < nrcpt; i++) {
		const char *at = strrchr(rcpts[i], '@');
		struct umtp_peer *q = at ? umtp_peers_find_domain(peers, at + 1) : NULL;
		if (i == 0)
			p = q;
		else if (q != p)
			*mixed = 1;
	}
	if (p == NULL)
		p = umtp_peers_find_address(peers, host, port);
	return p != NULL ? p : &peers->def;
}

static int
open_socket(const char *host, const char *port, size_t *limit, char *err,
            size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_DGRAM;
	snprintf(err, errlen, "%s:%s: no usable address", host, port);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s:%s: %s", host, port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			*limit = umtp_out_limit(ai->ai_family);
			break;
		}
		snprintf(err, errlen, "%s:%s: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
send_main(int argc, char **argv)
{
	const char *path = CONF_DEFAULT_PATH, *sender = NULL;
	char err[1024], *msg = NULL, msgid[UMTP_MAX_FIELD + 2] = "";
	size_t msglen, limit = UMTP_MAX_DGRAM_V4;
	struct umtp_peers peers;
	struct umtp_peer *peer;
	cfg_t *cfg;
	int ch, fd, rc, mixed, ex = DAEMON_EX_TEMPFAIL;

	while ((ch = getopt(argc, argv, "c:f:h")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			sender = optarg;
			break;
		case 'h':
			printf("usage: umtp send [-c FILE] [-f SENDER] HOST PORT "
			       "RECIPIENT...\n");
			return 0;
		default:
			return DAEMON_EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	log_init("umtp", 1, 0);
	if (argc < 3) {
		log_warnx("usage: umtp send [-c FILE] [-f SENDER] HOST PORT "
		          "RECIPIENT...");
		return DAEMON_EX_USAGE;
	}
	if (argc - 2 > UMTP_MAX_RCPTS) {
		log_warnx("more than %d recipients", UMTP_MAX_RCPTS);
		return DAEMON_EX_USAGE;
	}
	for (int i = 2; i < argc; i++)
		if (!umtp_addr_ok(argv[i], 0)) {
			log_warnx("bad recipient \"%s\"", argv[i]);
			return DAEMON_EX_USAGE;
		}
	if (sender != NULL && !umtp_addr_ok(sender, 1)) {
		log_warnx("bad sender \"%s\"", sender);
		return DAEMON_EX_USAGE;
	}
	if ((cfg = conf_load(path, err, sizeof err)) == NULL) {
		log_warnx("%s", err);
		return DAEMON_EX_CONFIG;
	}
	if (umtp_peers_load(cfg_getsec(cfg, "umtp"), 0, &peers, err, sizeof err) < 0) {
		log_warnx("%s", err);
		conf_free(cfg);
		return DAEMON_EX_CONFIG;
	}
	peer = choose_peer(&peers, argv[0], argv[1], argv + 2, argc - 2, &mixed);
	if (mixed) {
		log_warnx("recipients belong to different peers; send them "
		          "separately");
		ex = DAEMON_EX_USAGE;
		goto out;
	}
	if (umtp_peers_read_key(peer, err, sizeof err) < 0) {
		log_warnx("%s", err);
		ex = DAEMON_EX_CONFIG;
		goto out;
	}
	if ((rc = read_stdin(&msg, &msglen)) != 0) {
		log_warnx(rc > 0 ? "message too large for one datagram"
		                 : "reading the message failed");
		goto out;
	}
	if (msglen >= 5 && memcmp(msg, "From ", 5) == 0) {
		char *nl = memchr(msg, '\n', msglen);
		size_t skip = nl ? (size_t)(nl - msg) + 1 : msglen;
		memmove(msg, msg + skip, msglen - skip);
		msglen -= skip;
	}
	if ((fd = open_socket(argv[0], argv[1], &limit, err, sizeof err)) < 0) {
		log_warnx("%s", err);
		goto out;
	}
	if (umtp_find_msgid(msg, msglen, msgid, sizeof msgid) < 0)
		msgid[0] = '\0';
	/* Protocol 1: one datagram per recipient; protocol 2: one for all. */
	{
		struct umtp_out o = {peer, sender ? sender : "",
		                     (const char *const *)(argv + 2),
		                     (size_t)(argc - 2), msgid, msg, msglen, limit};
		size_t npkt, len;

		rc = umtp_out_send(fd, NULL, 0, &o, time(NULL), &npkt, &len);
		if (rc == UMTP_E_SEND) {
			log_warn("send to %s:%s", argv[0], argv[1]);
			close(fd);
			goto out;
		}
		if (rc != UMTP_OK) {
			log_warnx("to %s via %s:%s: %s (message %zu bytes)", argv[2],
			          argv[0], argv[1], umtp_strerror(rc), msglen);
			ex = rc == UMTP_E_BADFIELD ? DAEMON_EX_USAGE
			                           : DAEMON_EX_TEMPFAIL;
			close(fd);
			goto out;
		}
		log_info("sent %zu protocol %d packet(s) of %zu bytes (message %zu "
		         "bytes, %s) to %s%s via %s:%s", npkt, peer->protocol, len,
		         msglen, msgid[0] ? msgid : "no Message-ID", argv[2],
		         argc > 3 ? " and others" : "", argv[0], argv[1]);
	}
	close(fd);
	ex = 0;
out:
	free(msg);
	umtp_peers_free(&peers);
	conf_free(cfg);
	return ex;
}
