/*
 * listener.c - policyd.socket, parsed and opened (listener.h).
 */
#include "listener.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "unixsock.h"

int
listener_parse(const char *spec, struct listener_addr *a, char *err,
               size_t errlen)
{
	char *host = NULL, *port = NULL;
	int r, ok;

	memset(a, 0, sizeof(*a));
	r = socket_unix_path(spec, a->path, sizeof(a->path));
	if (r == 1 && a->path[0] == '/') {
		a->is_unix = 1;
		return 0;
	}
	ok = r == 0 && strncasecmp(spec, "inet:", 5) == 0 &&
	     hostport_split(spec + 5, &host, &port) == 0 &&
	     hostport_port_ok(port) && strlen(host) < sizeof(a->host);
	if (ok) {
		snprintf(a->host, sizeof(a->host), "%s", host);
		snprintf(a->port, sizeof(a->port), "%s", port);
	} else
		snprintf(err, errlen, "policyd.socket \"%s\": want unix:/PATH (an "
		         "absolute path shorter than %zu bytes) or inet:HOST:PORT",
		         spec, sizeof(a->path));
	free(host);
	free(port);
	return ok ? 0 : -1;
}

static int
open_unix(const char *path, mode_t mode, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, r;

	if (socket_clear_stale(path, err, errlen) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	old = umask((mode_t)(~mode & 0777));
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r != 0) {
		snprintf(err, errlen, "bind %s: %s%s", path, strerror(errno),
		         errno == EACCES || errno == ENOENT
		             ? " (the directory must exist and be writable by the "
		               "service account, see leafmail-policyd(8))"
		             : "");
		close(fd);
		return -1;
	}
	if (listen(fd, SOMAXCONN) != 0) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int
listener_open(const struct listener_addr *a, mode_t mode, char *err,
              size_t errlen)
{
	return a->is_unix ? open_unix(a->path, mode, err, errlen)
	                  : listen_inet(a->host, a->port, err, errlen);
}
