/*
 * lmtpd_socket.c - the LMTP server's listening socket (lmtpd_socket.h).
 *
 * A file left by a dead server is removed by socket_clear_stale()
 * (lib/unixsock.c, shared with the milter) only when nothing answers on
 * it; the pid file lock, taken before this runs, keeps two copies of one
 * configuration from racing for it.  inet: addresses are read and
 * opened by lib/listen.c, as tunneld's listeners are.
 *
 * The socket is created under a umask that already gives it the wanted
 * mode, then chmod'ed (the umask can only take bits away), so there is no
 * moment in which it is more open than configured.  This runs before any
 * thread exists, so changing the process umask is safe.
 */
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
#include "lmtpd_socket.h"
#include "unixsock.h"

static int
parse_inet(const char *hp, struct lmtpd_addr *a, char *err, size_t errlen)
{
	char *host, *port;
	int ok;

	if (hostport_split(hp, &host, &port) != 0) {
		snprintf(err, errlen, "lmtp-socket \"inet:%s\": want inet:HOST:PORT "
		         "(IPv6 in brackets)", hp);
		return -1;
	}
	ok = hostport_port_ok(port) && strlen(host) < sizeof(a->host);
	if (ok) {
		snprintf(a->host, sizeof(a->host), "%s", host);
		snprintf(a->port, sizeof(a->port), "%s", port);
	} else
		snprintf(err, errlen, "lmtp-socket \"inet:%s\": want inet:HOST:PORT "
		         "with a port in 1..65535", hp);
	free(host);
	free(port);
	return ok ? 0 : -1;
}

int
lmtpd_socket_parse(const char *spec, struct lmtpd_addr *a, char *err,
                   size_t errlen)
{
	int r;

	memset(a, 0, sizeof(*a));
	r = socket_unix_path(spec, a->path, sizeof(a->path));
	if (r == 0 && strncasecmp(spec, "inet:", 5) == 0)
		return parse_inet(spec + 5, a, err, errlen);
	if (r == 0) {
		snprintf(err, errlen, "lmtp-socket \"%s\": want unix:/PATH or "
		         "inet:HOST:PORT", spec);
		return -1;
	}
	if (r < 0 || a->path[0] != '/') {
		snprintf(err, errlen, "lmtp-socket \"%s\": the path must be "
		         "absolute and shorter than %zu bytes", spec,
		         sizeof(a->path));
		return -1;
	}
	a->is_unix = 1;
	return 0;
}

static int
open_unix(const struct lmtpd_addr *a, mode_t mode, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, r;

	if (socket_clear_stale(a->path, err, errlen) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->path);
	old = umask((mode_t)(~mode & 0777));
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r != 0) {
		snprintf(err, errlen, "bind %s: %s", a->path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(a->path, mode) != 0 || listen(fd, 128) != 0) {
		snprintf(err, errlen, "%s: %s", a->path, strerror(errno));
		close(fd);
		unlink(a->path);
		return -1;
	}
	return fd;
}

int
lmtpd_socket_open(const struct lmtpd_addr *a, mode_t mode, char *err,
                  size_t errlen)
{
	return a->is_unix ? open_unix(a, mode, err, errlen)
	                  : listen_inet(a->host, a->port, err, errlen);
}
