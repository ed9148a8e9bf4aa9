/*
 * listener.c - listening sockets and free loopback ports (see listener.h).
 *
 * The listen address goes through lib/listen.c, so "127.0.0.1:10025",
 * "[::1]:10025" and "localhost:10025" all work, with a SOMAXCONN backlog:
 * a burst of Postfix deliveries must not see refused connections.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "listener.h"

int
listener_open(const char *hostport, char *err, size_t errlen)
{
	char *host, *port;
	int fd;

	if (hostport_split(hostport, &host, &port) != 0) {
		snprintf(err, errlen, "listen \"%s\" is not HOST:PORT", hostport);
		return -1;
	}
	fd = listen_inet(host, port, err, errlen);
	free(host);
	free(port);
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
