/*
 * holdbind.c - LD_PRELOAD shim for tests/security/socket.t: after a
 * successful bind() of a unix socket, create $HOLDBIND.bound and wait
 * (up to 20 s) until $HOLDBIND.go exists.  That holds a daemon right
 * where the old start-up was open to a swapped socket (between bind()
 * and its chmod/chown by name), so the attack meets it every time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	const char *hold = getenv("HOLDBIND");
	char path[4096];
	int r, f;

	if (real == NULL)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(
		    RTLD_NEXT, "bind");
	r = real(fd, sa, len);
	if (r != 0 || hold == NULL || sa->sa_family != AF_UNIX)
		return r;
	snprintf(path, sizeof path, "%s.bound", hold);
	if ((f = open(path, O_WRONLY | O_CREAT, 0644)) >= 0)
		close(f);
	snprintf(path, sizeof path, "%s.go", hold);
	for (int i = 0; i < 2000 && access(path, F_OK) != 0; i++) {
		struct timespec ts = {0, 10000000L};
		nanosleep(&ts, NULL);
	}
	return r;
}
