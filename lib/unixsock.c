/*
 * unixsock.c - preparing a daemon's unix socket path (unixsock.h).
 *
 * socket_clear_stale() asks the socket itself whether anyone is home, as
 * OpenDKIM and other careful milters do: connect() succeeds (or fails with
 * EAGAIN, a full backlog) when a process listens, and fails with
 * ECONNREFUSED when the file is left over from a dead one.  There is a
 * window between our connect() and bind() in which a third process could
 * start on the same path; the pid file lock rules that out for two copies
 * of one program with one configuration, which is the case that
 * matters.  A path that is not a socket is never removed: it is somebody's
 * file, and the configuration is wrong.
 */
#include "unixsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

int
socket_unix_path(const char *spec, char *buf, size_t len)
{
	struct sockaddr_un sun;
	const char *path;
	size_t n;

	if (strncasecmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (strncasecmp(spec, "local:", 6) == 0)
		path = spec + 6;
	else if (spec[0] == '/')
		path = spec;
	else
		return 0;
	n = strlen(path);
	if (n == 0 || n >= sizeof(sun.sun_path) || n >= len)
		return -1;
	memcpy(buf, path, n + 1);
	return 1;
}

int
socket_parse_mode(const char *s, mode_t *mode)
{
	mode_t m = 0;
	const char *p;

	if (s == NULL || s[0] == '\0' || strlen(s) > 4)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			return -1;
		m = (mode_t)(m * 8 + (mode_t)(*p - '0'));
	}
	if (m > 0777)
		return -1;
	*mode = m;
	return 0;
}

int
socket_clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc, saved;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return SOCKET_ABSENT;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SOCKET_ERR;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not touching it",
		         path);
		return SOCKET_NOTSOCK;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a unix socket", path);
		return SOCKET_ERR;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return SOCKET_ERR;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	if (rc == 0 || saved == EAGAIN) {
		snprintf(err, errlen,
		         "%s: another process is listening on this socket "
		         "(is %s already running?)",
		         path, log_progname());
		return SOCKET_INUSE;
	}
	if (saved == ENOENT)
		return SOCKET_ABSENT; /* it went away meanwhile */
	if (saved != ECONNREFUSED) {
		snprintf(err, errlen, "%s: cannot tell whether the socket is in use: %s",
		         path, strerror(saved));
		return SOCKET_ERR;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove stale socket: %s", path,
		         strerror(errno));
		return SOCKET_ERR;
	}
	return SOCKET_REMOVED;
}
