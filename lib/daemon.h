/*
 * daemon.h - the one start-up of every leafmail daemon, so that main()
 * reads as a script and root touches nothing the service account could
 * replace (the rule, and why, is at the top of daemon.c).
 *
 *   struct daemon d;
 *   daemon_init(&d, "leafmail-foo", user)     look up user (as root: the
 *                                              account to switch to)
 *   daemon_dirs(&d, state_dir, run_dir)       create them for user, each
 *                                              reached safely (NULL: none)
 *   daemon_dir(&d, dir)                       another directory (the relay
 *                                              table's): created for user
 *                                              when missing, else left alone
 *   daemon_lock(&d)                           <run-dir>/<name>.pid, locked:
 *                                              a second instance stops here
 *   ... inet sockets bound (as root for a low port), and
 *   daemon_listen_unix(&d, path, mode, group, bind, arg, &stale)
 *                                              a unix socket, mode and owner
 *                                              set before anyone can see it
 *   ... secret files read ...
 *   daemon_drop(&d)                           switch to user for good
 *   ... state opened: tables, positions, as user ...
 *   daemon_block_signals(&d, SIGTERM, ..., 0) for the loop's signalfd
 *   daemon_detach(&d, foreground)             into the background unless -f
 *   daemon_ready(&d)                          the pid written; systemd
 *                                              told READY=1 (Type=notify)
 *   ... the loop ...
 *   daemon_end(&d)                            the pid file removed
 *
 * Each step returns 0 (daemon_listen_unix: bind's result) or -1 with
 * d.err saying why and d.ex the sysexits code main() exits with, so every
 * main handles them alike:
 *
 *   if (daemon_lock(&d) < 0)
 *           log_fatalx(d.ex, "%s", d.err);
 *
 * The codes (BRIEF): 78 configuration (a missing user, a directory the
 * service account could replace), 73 a directory cannot be created, 69
 * another instance runs or a socket cannot be had, 71 an operating system
 * error (the switch, fork).  Started as an ordinary user, a daemon runs
 * as that user and `user` is not looked at.
 *
 * daemon_user_lookup() and daemon_drop_privs() are the two steps that
 * one-shot commands need too (leafmail-deliver's pipe mode, relayd -a).
 */
#ifndef LEAFMAIL_DAEMON_H
#define LEAFMAIL_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

#include "unixsock.h"

#define DAEMON_EX_USAGE 64
#define DAEMON_EX_DATAERR 65
#define DAEMON_EX_NOUSER 67
#define DAEMON_EX_UNAVAILABLE 69
#define DAEMON_EX_SOFTWARE 70
#define DAEMON_EX_OSERR 71
#define DAEMON_EX_CANTCREAT 73
#define DAEMON_EX_TEMPFAIL 75
#define DAEMON_EX_NOPERM 77
#define DAEMON_EX_CONFIG 78

#define DAEMON_MAX_GROUPS 64

struct daemon_user {
	uid_t uid;
	gid_t gid;
	char name[64];
	int is_root; /* we were started as root and will switch */
	int ngroups; /* the user's groups (is_root only), gid included */
	gid_t groups[DAEMON_MAX_GROUPS];
};

struct daemon {
	const char *name; /* the pid file is <run-dir>/<name>.pid */
	struct daemon_user u;
	int run_fd;       /* run-dir, reached safely; -1 until daemon_dirs() */
	int pid_fd;       /* the locked pid file; -1 until daemon_lock() */
	int ex;           /* why the last step failed: DAEMON_EX_* */
	char err[1024];
};

int daemon_init(struct daemon *d, const char *name, const char *user);
int daemon_dirs(struct daemon *d, const char *state_dir, const char *run_dir);
int daemon_dir(struct daemon *d, const char *dir);
int daemon_lock(struct daemon *d);
/* bind (unixsock.h) creates the socket at the path it is given.  group
 * (gid_t)-1: the user's own.  *stale = 1 when a socket left by a
 * dead process was replaced (stale may be NULL). */
int daemon_listen_unix(struct daemon *d, const char *path, mode_t mode,
                       gid_t group, socket_bind_fn *bind, void *arg,
                       int *stale);
int daemon_drop(struct daemon *d);
/* Block the 0-terminated signals (taken later by a signalfd or sigwait)
 * and ignore SIGPIPE. */
int daemon_block_signals(struct daemon *d, ...);
int daemon_detach(struct daemon *d, int foreground);
int daemon_ready(struct daemon *d);
void daemon_end(struct daemon *d);

/* Look up user when running as root (missing user: -1, a configuration
 * error); as an ordinary user, describe ourselves instead. */
int daemon_user_lookup(const char *user, struct daemon_user *u, char *err,
                       size_t errlen);
/* As root: initgroups, setgid, setuid to u for good, verified. */
int daemon_drop_privs(const struct daemon_user *u, char *err, size_t errlen);

#endif
