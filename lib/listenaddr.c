/*
 * listenaddr.c - a daemon's listening address (listenaddr.h).
 *
 * One reader for what deliver.lmtp-socket and policyd.socket accept, so
 * that both take the same forms and say the same things about a wrong
 * one; unix sockets are put in place by daemon_listen_unix(), inet
 * sockets opened by lib/listen.c as tunneld's listeners are.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "listenaddr.h"
#include "unixsock.h"

static int
parse_inet(const char *hp, const char *key, struct listenaddr *a, char *err,
           size_t errlen)
{
	char *host, *port;
	int ok;

	if (hostport_split(hp, &host, &port) != 0) {
		snprintf(err, errlen, "%s \"inet:%s\": want inet:HOST:PORT (IPv6 "
		         "in brackets)", key, hp);
		return -1;
	}
	ok = hostport_port_ok(port) && strlen(host) < sizeof(a->host);
	if (ok) {
		snprintf(a->host, sizeof(a->host), "%s", host);
		snprintf(a->port, sizeof(a->port), "%s", port);
	} else
		snprintf(err, errlen, "%s \"inet:%s\": want inet:HOST:PORT with a "
		         "port in 1..65535", key, hp);
	free(host);
	free(port);
	return ok ? 0 : -1;
}

int
listenaddr_parse(const char *spec, const char *key, struct listenaddr *a,
                 char *err, size_t errlen)
{
	int r;

	memset(a, 0, sizeof(*a));
	r = socket_unix_path(spec, a->path, sizeof(a->path));
	if (r == 0 && strncasecmp(spec, "inet:", 5) == 0)
		return parse_inet(spec + 5, key, a, err, errlen);
	if (r == 0) {
		snprintf(err, errlen, "%s \"%s\": want unix:/PATH or "
		         "inet:HOST:PORT", key, spec);
		return -1;
	}
	if (r < 0 || a->path[0] != '/') {
		snprintf(err, errlen, "%s \"%s\": want unix:/PATH with an absolute "
		         "path shorter than %zu bytes, or inet:HOST:PORT", key, spec,
		         sizeof(a->path));
		return -1;
	}
	a->is_unix = 1;
	return 0;
}

int
listenaddr_bind_unix(void *arg, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd;

	(void)arg;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
listenaddr_open_inet(const struct listenaddr *a, char *err, size_t errlen)
{
	return listen_inet(a->host, a->port, err, errlen);
}

int
listenaddr_listen(struct daemon *d, const struct listenaddr *a, mode_t mode,
                  gid_t group, int *stale)
{
	int fd;

	*stale = 0;
	if (a->is_unix)
		/* its mode and group set before it has its name (lib/daemon.c) */
		return daemon_listen_unix(d, a->path, mode, group,
		                          listenaddr_bind_unix, NULL, stale);
	if ((fd = listenaddr_open_inet(a, d->err, sizeof(d->err))) < 0)
		d->ex = DAEMON_EX_UNAVAILABLE;
	return fd;
}
