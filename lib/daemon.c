/*
 * daemon.c - start-up steps shared by the leafmail daemons (see daemon.h).
 *
 * The pid file is locked with an open-file-description lock held for the
 * life of the process: a second instance fails to take it and can name the
 * pid written inside; a crashed instance's lock vanishes with it, so a
 * stale pid file never blocks a restart.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"

int
daemon_user_lookup(const char *user, struct daemon_user *u, char *err,
                   size_t errlen)
{
	struct passwd *pw;

	memset(u, 0, sizeof(*u));
	if (geteuid() != 0) {
		/* An ordinary user runs as itself whatever `user` says. */
		u->uid = geteuid();
		u->gid = getegid();
		pw = getpwuid(u->uid);
		snprintf(u->name, sizeof(u->name), "%s",
		         pw ? pw->pw_name : "(unknown)");
		return 0;
	}
	if (user == NULL || *user == '\0') {
		snprintf(err, errlen, "no user configured to run as");
		return -1;
	}
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "user \"%s\" does not exist (create it, or "
		         "set user = in the configuration)", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user \"%s\" is root: refusing to keep running "
		         "as root", user);
		return -1;
	}
	if (strlen(user) >= sizeof(u->name)) {
		snprintf(err, errlen, "user name \"%s\" is too long", user);
		return -1;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	snprintf(u->name, sizeof(u->name), "%s", user);
	u->is_root = 1;
	return 0;
}

static int
mkdir_p(const char *dir, const struct daemon_user *u, char *err, size_t errlen)
{
	char path[4096];
	size_t i, len = strlen(dir);

	if (len == 0 || len >= sizeof(path)) {
		snprintf(err, errlen, "bad directory name \"%s\"", dir);
		return -1;
	}
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
			return -1;
		}
		if (i < len)
			path[i] = '/';
	}
	/* Only the leaf belongs to us; parents like /run or /var/lib don't. */
	if (u->is_root && chown(dir, u->uid, u->gid) != 0) {
		snprintf(err, errlen, "chown %s to %s: %s", dir, u->name,
		         strerror(errno));
		return -1;
	}
	return 0;
}

int
daemon_prepare_dirs(const struct daemon_user *u, const char *state_dir,
                    const char *run_dir, char *err, size_t errlen)
{
	if (state_dir != NULL && mkdir_p(state_dir, u, err, errlen) != 0)
		return -1;
	if (run_dir != NULL && mkdir_p(run_dir, u, err, errlen) != 0)
		return -1;
	return 0;
}

int
daemon_chown(const struct daemon_user *u, const char *path, char *err,
             size_t errlen)
{
	if (!u->is_root)
		return 0;
	if (chown(path, u->uid, u->gid) != 0) {
		snprintf(err, errlen, "chown %s to %s: %s", path, u->name,
		         strerror(errno));
		return -1;
	}
	return 0;
}

int
daemon_pidfile_lock(const char *path, char *err, size_t errlen)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char buf[32];
	ssize_t n;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "pid file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		int e = errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (e == EAGAIN || e == EACCES)
			snprintf(err, errlen, "already running as pid %s (pid file %s "
			         "is locked)", buf[0] ? buf : "?", path);
		else
			snprintf(err, errlen, "lock %s: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	return fd;
}

int
daemon_pidfile_write(int fd, char *err, size_t errlen)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		snprintf(err, errlen, "write pid file: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
daemon_drop_privs(const struct daemon_user *u, char *err, size_t errlen)
{
	if (!u->is_root)
		return 0;
	if (initgroups(u->name, u->gid) != 0) {
		snprintf(err, errlen, "initgroups %s: %s", u->name, strerror(errno));
		return -1;
	}
	if (setresgid(u->gid, u->gid, u->gid) != 0) {
		snprintf(err, errlen, "setgid %lu: %s", (unsigned long)u->gid,
		         strerror(errno));
		return -1;
	}
	if (setresuid(u->uid, u->uid, u->uid) != 0) {
		snprintf(err, errlen, "setuid %s: %s", u->name, strerror(errno));
		return -1;
	}
	/* Belt and braces: a switch that can be undone was no switch. */
	if (setuid(0) == 0 || geteuid() == 0 || getuid() == 0) {
		snprintf(err, errlen, "still able to regain root after switching "
		         "to %s: refusing to run", u->name);
		return -1;
	}
	return 0;
}

int
daemon_detach(char *err, size_t errlen)
{
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (setsid() < 0) {
		snprintf(err, errlen, "setsid: %s", strerror(errno));
		return -1;
	}
	/* A second fork so we can never reacquire a controlling terminal. */
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0) {
		snprintf(err, errlen, "chdir /: %s", strerror(errno));
		return -1;
	}
	fd = open("/dev/null", O_RDWR);
	if (fd < 0) {
		snprintf(err, errlen, "/dev/null: %s", strerror(errno));
		return -1;
	}
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}
