/*
 * listener.c - listening sockets and free loopback ports (see listener.h).
 *
 * The listen address is resolved with getaddrinfo (numeric service), so
 * "127.0.0.1:10025", "[::1]:10025" and "localhost:10025" all work; the
 * first address returned is used.  The backlog is SOMAXCONN: a burst of
 * Postfix deliveries must not see refused connections while we accept.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener.h"

int
listener_open(const char *hostport, char *err, size_t errlen)
{
	char host[256], port[16];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints, *res = NULL;
	size_t hl;
	int fd, one = 1, rc;

	if (colon == NULL || strlen(colon + 1) >= sizeof port) {
		snprintf(err, errlen, "listen \"%s\" is not HOST:PORT", hostport);
		return -1;
	}
	hl = (size_t)(colon - hostport);
	if (hl >= 2 && hostport[0] == '[' && hostport[hl - 1] == ']') {
		hostport++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof host) {
		snprintf(err, errlen, "listen \"%s\": bad host", hostport);
		return -1;
	}
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	snprintf(port, sizeof port, "%s", colon + 1);

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen %s:%s: %s", host, port,
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
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
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

/* Bind port 0 on 127.0.0.1, read what the kernel chose, close.  Racy by
 * nature: another program may take the port before ssh binds it.  ssh
 * then fails with ExitOnForwardFailure=yes, says so on stderr, and the
 * caller starts it again with a new port (tunnel.c, loop.c).  In the
 * window before ssh exits, that program would also accept our readiness
 * probe: a local user who wins the race sees one client's session.  A
 * Unix-socket forward in the private run-dir would close the window; the
 * TCP port is what the design asks for, so the limit is stated here. */
int
listener_free_port(char *err, size_t errlen)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		snprintf(err, errlen, "choosing a local port: %s", strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return ntohs(sin.sin_port);
}
