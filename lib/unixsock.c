/*
 * unixsock.c - a daemon's unix socket, made without following a name
 * the service account could swap (unixsock.h; the rule is in daemon.c).
 *
 * socket_probe_at() asks the socket itself whether anyone is home, as
 * OpenDKIM and other careful milters do: connect() succeeds (or fails with
 * EAGAIN, a full backlog) when a process listens, and fails with
 * ECONNREFUSED when the file is left over from a dead one.  It connects to
 * the inode it looked at (an O_PATH descriptor, through /proc/self/fd), so
 * a symbolic link renamed over the name in between sends root nowhere.  A
 * name that is not a socket is never replaced: it is somebody's file, and
 * the configuration is wrong.  There is a window between the probe and the
 * rename in which a third process could start on the same path; the pid
 * file lock rules that out for two copies of one program with one
 * configuration, which is the case that matters.
 *
 * socket_create_at() never lets root chmod or chown a name: the old way
 * (bind the path, then chmod/chown it) let a process of the service
 * account, which owns run-dir, rename a link over the fresh socket so
 * that root's chmod and chown landed on the link's target.  Now the
 * socket is bound inside a new directory only we may enter (mode 0700),
 * given its mode and owner there, and renamed into place; rename()
 * replaces a name, never follows it, and the replacement is atomic, so a
 * client never sees the name missing.
 */
#include "unixsock.h"

#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
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
socket_parse_group(const char *name, gid_t *gid)
{
	struct group *gr;

	*gid = (gid_t)-1;
	if (name == NULL || name[0] == '\0')
		return 0;
	if ((gr = getgrnam(name)) == NULL)
		return -1;
	*gid = gr->gr_gid;
	return 0;
}

int
socket_probe_at(int dirfd, const char *name, const char *display, char *err,
                size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int pfd, fd, rc, saved;

	/* The inode the name holds now, without following a link... */
	pfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		if (errno == ENOENT)
			return SOCKET_ABSENT;
		snprintf(err, errlen, "%s: %s", display, strerror(errno));
		return SOCKET_ERR;
	}
	if (fstat(pfd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", display, strerror(errno));
		close(pfd);
		return SOCKET_ERR;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not touching it",
		         display);
		close(pfd);
		return SOCKET_NOTSOCK;
	}
	/* ...and connect() to that very inode, through its descriptor. */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d", pfd);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		close(pfd);
		return SOCKET_ERR;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	close(pfd);
	if (rc == 0 || saved == EAGAIN) {
		snprintf(err, errlen,
		         "%s: another process is listening on this socket "
		         "(is %s already running?)",
		         display, log_progname());
		return SOCKET_INUSE;
	}
	if (saved != ECONNREFUSED) {
		snprintf(err, errlen, "%s: cannot tell whether the socket is in use: "
		         "%s%s", display, strerror(saved),
		         saved == ENOENT ? " (is /proc mounted?)" : "");
		return SOCKET_ERR;
	}
	return SOCKET_STALE;
}

/* A fresh directory of our own in dirfd, nobody else may enter: its
 * descriptor, and its name in tmp. */
static int
private_dir(int dirfd, char *tmp, size_t tmplen, char *err, size_t errlen)
{
	unsigned char rnd[6];
	struct stat st;
	int fd, tries = 0;

	for (;;) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			return -1;
		}
		snprintf(tmp, tmplen, ".sock-%02x%02x%02x%02x%02x%02x", rnd[0],
		         rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
		if (mkdirat(dirfd, tmp, 0700) == 0)
			break;
		if (errno != EEXIST || ++tries == 10) {
			snprintf(err, errlen, "mkdir %s: %s", tmp, strerror(errno));
			return -1;
		}
	}
	/* Whoever may write dirfd could swap the name before we open it:
	 * only a directory of ours that nobody else may enter will do. */
	fd = openat(dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: changed while we created it", tmp);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int
socket_create_at(int dirfd, const char *name, mode_t mode, uid_t uid,
                 gid_t gid, socket_bind_fn *bind, void *arg, char *err,
                 size_t errlen)
{
	char tmp[32], path[64];
	mode_t old;
	int dfd, r;

	if ((dfd = private_dir(dirfd, tmp, sizeof(tmp), err, errlen)) < 0)
		return -1;
	/* bind() takes a path: this one leads through our descriptor to our
	 * directory, whatever happens to the names around it. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d/s", dfd);
	old = umask(0177);
	r = bind(arg, path, err, errlen);
	umask(old);
	/* A chown that would change nothing is not made: a daemon started
	 * as its user by a systemd unit may not call chown at all (its
	 * system call filter, contrib/systemd/hardening.inc). */
	int give = (uid != (uid_t)-1 && uid != geteuid()) ||
	           (gid != (gid_t)-1 && gid != getegid());
	if (r >= 0 && (fchmodat(dfd, "s", mode, 0) < 0 ||
	               (give && fchownat(dfd, "s", uid, gid,
	                                  AT_SYMLINK_NOFOLLOW) < 0) ||
	               renameat(dfd, "s", dirfd, name) < 0)) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		if (r > 0)
			close(r);
		r = -1;
	}
	unlinkat(dfd, "s", 0); /* after a failure */
	unlinkat(dirfd, tmp, AT_REMOVEDIR);
	if (r != 0)
		close(dfd); /* else kept: see unixsock.h */
	return r;
}
