/*
 * listen.c - host:port addresses and listening TCP sockets (listen.h).
 */
#include "listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
hostport_split(const char *s, char **host, char **port)
{
	const char *colon = strrchr(s, ':');
	const char *h = s;
	size_t hl;

	*host = *port = NULL;
	if (colon == NULL || colon == s || colon[1] == '\0')
		return -1;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			return -1;
		h = s + 1;
		hl -= 2;
	} else if (memchr(s, ':', hl) != NULL) {
		return -1; /* IPv6 must be in brackets */
	}
	*host = strndup(h, hl);
	*port = strdup(colon + 1);
	if (*host == NULL || *port == NULL) {
		free(*host);
		free(*port);
		*host = *port = NULL;
		return -1;
	}
	return 0;
}

int
hostport_port_ok(const char *port)
{
	char *end;
	long v;

	if (port[0] < '0' || port[0] > '9')
		return 0;
	errno = 0;
	v = strtol(port, &end, 10);
	return *end == '\0' && errno == 0 && v >= 1 && v <= 65535;
}

int
listen_inet(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	int fd, one = 1, rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen on %s:%s: %s", host, port,
		         gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (res->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		snprintf(err, errlen, "listen on %s:%s: %s", host, port,
		         strerror(errno));
		close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}
