/*
 * unixsock_testutil.h - a socket_bind_fn (lib/unixsock.h) for the unit
 * tests of socket_create_at() and daemon_listen_unix(): a listening unix
 * socket bound at the path it is given.
 */
#ifndef LEAFMAIL_UNIXSOCK_TESTUTIL_H
#define LEAFMAIL_UNIXSOCK_TESTUTIL_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int
testutil_bind(void *arg, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	(void)arg;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, 5) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

#endif
