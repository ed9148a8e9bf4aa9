/*
 * daemon.c - the start-up every leafmail daemon takes (daemon.h).
 *
 * THE RULE: root never touches a path the service account can replace.
 * The service account (`user`) is the attacker: a daemon running as it
 * may be compromised; it owns run-dir and state-dir, so it can put any
 * name in them (a symbolic link, a hard link to a file of root's) and
 * rename one over another at any moment; and by exiting it can make
 * systemd start us again, as root, whenever it likes.  So, as root:
 *   - a directory is reached by safedir_open(): every directory on the
 *     way one the account cannot write (else refused, exit 78), symbolic
 *     links followed by hand; it is then changed through its descriptor
 *     (fchown), never by name;
 *   - what root creates in such a directory is either made where only
 *     root may enter and renamed into place (the unix sockets:
 *     unixsock.c), or made with the account's own credentials (the pid
 *     file: as_user() below), so a planted link leads only where the
 *     account could go itself;
 *   - everything else in them (the relay table, relayd's positions, the
 *     UMTP duplicate store) is opened only after daemon_drop(), as
 *     `user`: root never opens it, not even to create it.
 * Secret files are read as root from where the configuration points
 * (/etc/leafmail): they are the admin's, and secret.c refuses links.
 *
 * The pid file is locked with an open-file-description lock held for the
 * life of the process: a second instance fails to take it and can name the
 * pid written inside; a crashed instance's lock vanishes with it, so a
 * stale pid file never blocks a restart.  It is opened as `user` (it lives
 * in run-dir, which `user` owns); a name there that `user` cannot open for
 * writing (a link to a file of root's, or a pid file an older version
 * created as root) is removed and the file made afresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "safedir.h"

static int
fail(struct daemon *d, int ex)
{
	d->ex = ex;
	return -1;
}

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
	u->ngroups = DAEMON_MAX_GROUPS;
	if (getgrouplist(user, u->gid, u->groups, &u->ngroups) < 0) {
		snprintf(err, errlen, "user \"%s\" is in more than %d groups", user,
		         DAEMON_MAX_GROUPS);
		return -1;
	}
	u->is_root = 1;
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

/* Root's identity while as_user() lends us the user's. */
struct self {
	gid_t egid;
	int ngroups;
	gid_t *groups;
};

/* Take the user's effective ids and groups (the real and saved ids stay
 * root, so as_self() can return, and the user cannot signal us). */
static int
as_user(const struct daemon_user *u, struct self *s, char *err, size_t errlen)
{
	s->egid = getegid();
	s->groups = NULL;
	if ((s->ngroups = getgroups(0, NULL)) < 0 ||
	    (s->groups = calloc((size_t)s->ngroups + 1, sizeof(gid_t))) == NULL ||
	    getgroups(s->ngroups, s->groups) != s->ngroups) {
		snprintf(err, errlen, "getgroups: %s", strerror(errno));
		free(s->groups);
		return -1;
	}
	if (setgroups((size_t)u->ngroups, u->groups) != 0 ||
	    setresgid((gid_t)-1, u->gid, (gid_t)-1) != 0 ||
	    setresuid((uid_t)-1, u->uid, (uid_t)-1) != 0) {
		int e = errno;
		/* Back to root's group and groups; the caller exits either
		 * way, but says so when even that failed. */
		int back = setresgid((gid_t)-1, s->egid, (gid_t)-1) == 0 &&
		           setgroups((size_t)s->ngroups, s->groups) == 0;
		snprintf(err, errlen, "acting as %s: %s%s", u->name, strerror(e),
		         back ? "" : " (and root's groups could not be restored)");
		free(s->groups);
		return -1;
	}
	return 0;
}

static int
as_self(struct self *s, char *err, size_t errlen)
{
	int rc = 0;

	if (setresuid((uid_t)-1, 0, (uid_t)-1) != 0 ||
	    setresgid((gid_t)-1, s->egid, (gid_t)-1) != 0 ||
	    setgroups((size_t)s->ngroups, s->groups) != 0) {
		snprintf(err, errlen, "returning to root: %s", strerror(errno));
		rc = -1;
	}
	free(s->groups);
	return rc;
}

int
daemon_init(struct daemon *d, const char *name, const char *user)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->run_fd = -1;
	d->pid_fd = -1;
	if (daemon_user_lookup(user, &d->u, d->err, sizeof(d->err)) < 0)
		return fail(d, DAEMON_EX_CONFIG);
	return 0;
}

static int
open_dir(struct daemon *d, const char *what, const char *dir, int flags)
{
	char err[sizeof(d->err) - 32];
	int fd = safedir_open(dir, &d->u, flags, err, sizeof(err));

	if (fd >= 0)
		return fd;
	snprintf(d->err, sizeof(d->err), "%s: %s", what, err);
	return fail(d, fd == SAFEDIR_UNSAFE ? DAEMON_EX_CONFIG
	                                    : DAEMON_EX_CANTCREAT);
}

int
daemon_dirs(struct daemon *d, const char *state_dir, const char *run_dir)
{
	int fd;

	if (state_dir != NULL) {
		if ((fd = open_dir(d, "state-dir", state_dir,
		                   SAFEDIR_CREATE | SAFEDIR_GIVE)) < 0)
			return -1;
		close(fd);
	}
	if (run_dir != NULL) {
		if ((fd = open_dir(d, "run-dir", run_dir,
		                   SAFEDIR_CREATE | SAFEDIR_GIVE)) < 0)
			return -1;
		if (d->run_fd >= 0)
			close(d->run_fd);
		d->run_fd = fd;
	}
	return 0;
}

int
daemon_dir(struct daemon *d, const char *dir)
{
	int fd = open_dir(d, "directory", dir, SAFEDIR_CREATE | SAFEDIR_GIVE_NEW);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Open (creating) name in run-dir for writing, as whoever we are now. */
static int
pidfile_open(struct daemon *d, const char *name)
{
	const char *why = "keeps changing";
	struct stat st;
	int fd, tries;

	for (tries = 0; tries < 3; tries++) {
		fd = openat(d->run_fd, name,
		            O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		            0644);
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_nlink == 1)
			return fd;
		if (fd < 0 && errno != ELOOP && errno != EACCES && errno != EPERM) {
			why = strerror(errno);
			break;
		}
		/* Not a pid file of ours: remove the name, never what it
		 * leads to (we act as the user, who owns run-dir). */
		if (fd >= 0)
			close(fd);
		if (unlinkat(d->run_fd, name, 0) != 0 && errno != ENOENT) {
			why = strerror(errno);
			break;
		}
	}
	snprintf(d->err, sizeof(d->err), "pid file %s: %s", name, why);
	return -1;
}

int
daemon_lock(struct daemon *d)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char name[NAME_MAX + 1], buf[32];
	struct self self = {0, 0, NULL};
	ssize_t n;
	int fd, e;

	if (d->run_fd < 0) {
		snprintf(d->err, sizeof(d->err), "no run-dir for the pid file");
		return fail(d, DAEMON_EX_SOFTWARE);
	}
	if ((size_t)snprintf(name, sizeof(name), "%s.pid", d->name) >=
	    sizeof(name)) {
		snprintf(d->err, sizeof(d->err), "pid file name too long");
		return fail(d, DAEMON_EX_SOFTWARE);
	}
	if (d->u.is_root && as_user(&d->u, &self, d->err, sizeof(d->err)) < 0)
		return fail(d, DAEMON_EX_OSERR);
	fd = pidfile_open(d, name);
	if (d->u.is_root && as_self(&self, d->err, sizeof(d->err)) < 0) {
		if (fd >= 0)
			close(fd);
		return fail(d, DAEMON_EX_OSERR);
	}
	if (fd < 0)
		return fail(d, DAEMON_EX_CANTCREAT);
	if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		e = errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (e == EAGAIN || e == EACCES)
			snprintf(d->err, sizeof(d->err), "already running as pid %s "
			         "(pid file %s is locked)", buf[0] ? buf : "?", name);
		else
			snprintf(d->err, sizeof(d->err), "lock %s: %s", name,
			         strerror(e));
		close(fd);
		return fail(d, DAEMON_EX_UNAVAILABLE);
	}
	d->pid_fd = fd;
	return 0;
}

int
daemon_listen_unix(struct daemon *d, const char *path, mode_t mode,
                   gid_t group, socket_bind_fn *bind, void *arg, int *stale)
{
	char dir[PATH_MAX], err[sizeof(d->err) - 128];
	const char *base = strrchr(path, '/');
	uid_t uid = d->u.is_root ? d->u.uid : (uid_t)-1;
	gid_t gid = group != (gid_t)-1 ? group
	            : d->u.is_root    ? d->u.gid
	                              : (gid_t)-1;
	int pfd, r;

	if (stale != NULL)
		*stale = 0;
	if (base == NULL || base[1] == '\0' || strlen(path) >= sizeof(dir)) {
		snprintf(d->err, sizeof(d->err), "%s: not a socket path", path);
		return fail(d, DAEMON_EX_CONFIG);
	}
	snprintf(dir, sizeof(dir), "%.*s", base == path ? 1 : (int)(base - path),
	         path);
	base++;
	pfd = safedir_open(dir, &d->u, 0, err, sizeof(err));
	if (pfd < 0) {
		snprintf(d->err, sizeof(d->err), "socket %s: %s", path, err);
		return fail(d, pfd == SAFEDIR_UNSAFE ? DAEMON_EX_CONFIG
		                                     : DAEMON_EX_UNAVAILABLE);
	}
	switch (socket_probe_at(pfd, base, path, d->err, sizeof(d->err))) {
	case SOCKET_ABSENT:
		break;
	case SOCKET_STALE:
		if (stale != NULL)
			*stale = 1;
		break;
	case SOCKET_INUSE:
	case SOCKET_NOTSOCK:
		close(pfd);
		return fail(d, DAEMON_EX_UNAVAILABLE);
	default:
		close(pfd);
		return fail(d, DAEMON_EX_OSERR);
	}
	r = socket_create_at(pfd, base, mode, uid, gid, bind, arg, err,
	                     sizeof(err));
	close(pfd);
	if (r < 0) {
		snprintf(d->err, sizeof(d->err), "cannot listen on %s: %s", path,
		         err);
		return fail(d, DAEMON_EX_UNAVAILABLE);
	}
	return r;
}

int
daemon_drop(struct daemon *d)
{
	if (daemon_drop_privs(&d->u, d->err, sizeof(d->err)) < 0)
		return fail(d, DAEMON_EX_OSERR);
	return 0;
}

int
daemon_block_signals(struct daemon *d, ...)
{
	sigset_t set;
	va_list ap;
	int sig;

	sigemptyset(&set);
	va_start(ap, d);
	while ((sig = va_arg(ap, int)) != 0)
		sigaddset(&set, sig);
	va_end(ap);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		snprintf(d->err, sizeof(d->err), "signals: %s", strerror(errno));
		return fail(d, DAEMON_EX_OSERR);
	}
	return 0;
}

int
daemon_detach(struct daemon *d, int foreground)
{
	pid_t pid;
	int fd;

	if (foreground)
		return 0;
	pid = fork();
	if (pid < 0)
		goto err;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		goto err;
	/* A second fork so we can never reacquire a controlling terminal. */
	pid = fork();
	if (pid < 0)
		goto err;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0 || (fd = open("/dev/null", O_RDWR)) < 0)
		goto err;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
err:
	snprintf(d->err, sizeof(d->err), "detaching: %s", strerror(errno));
	return fail(d, DAEMON_EX_OSERR);
}

int
daemon_ready(struct daemon *d)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (d->pid_fd >= 0 && (ftruncate(d->pid_fd, 0) != 0 ||
	                       pwrite(d->pid_fd, buf, (size_t)n, 0) != n)) {
		snprintf(d->err, sizeof(d->err), "write pid file: %s",
		         strerror(errno));
		return fail(d, DAEMON_EX_OSERR);
	}
	/* Type=notify units (contrib/systemd): started, sockets bound,
	 * privileges dropped.  Nothing happens without NOTIFY_SOCKET. */
	sd_notifyf(0, "READY=1\nMAINPID=%ld", (long)getpid());
	return 0;
}

void
daemon_end(struct daemon *d)
{
	struct stat mine, there;
	char name[NAME_MAX + 1];

	sd_notify(0, "STOPPING=1");
	/* Still holding the lock: no other instance can own the file yet;
	 * one that is not ours any more is left alone. */
	if (d->pid_fd >= 0 && d->run_fd >= 0 &&
	    (size_t)snprintf(name, sizeof(name), "%s.pid", d->name) <
	        sizeof(name) &&
	    fstat(d->pid_fd, &mine) == 0 &&
	    fstatat(d->run_fd, name, &there, AT_SYMLINK_NOFOLLOW) == 0 &&
	    mine.st_dev == there.st_dev && mine.st_ino == there.st_ino)
		unlinkat(d->run_fd, name, 0);
	if (d->pid_fd >= 0)
		close(d->pid_fd);
	if (d->run_fd >= 0)
		close(d->run_fd);
	d->pid_fd = d->run_fd = -1;
}
