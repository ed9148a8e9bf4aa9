/*
 * daemon.h - the start-up steps every leafmail daemon takes, in order:
 *
 *   daemon_pidfile_lock()  refuse to start when another instance holds the
 *                          pid file's lock ("already running as pid N")
 *   ... bind sockets, read secret files ...
 *   daemon_prepare_dirs()  create state-dir and run-dir owned by user
 *   daemon_drop_privs()    as root: initgroups, setgid, setuid to user for
 *                          good, verified; otherwise stay who we are
 *   daemon_detach()        fork into the background unless -f
 *   daemon_pidfile_write() write the (final) pid into the locked file
 *
 * Each returns 0 or -1 with a message in err; the caller picks the exit
 * code: DAEMON_EX_* are the sysexits values the BRIEF fixes.
 */
#ifndef LEAFMAIL_DAEMON_H
#define LEAFMAIL_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

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

struct daemon_user {
	uid_t uid;
	gid_t gid;
	char name[64];
	int is_root; /* we were started as root and will switch */
};

/* Look up user when running as root (missing user: -1, a configuration
 * error); as an ordinary user, describe ourselves instead. */
int daemon_user_lookup(const char *user, struct daemon_user *u, char *err,
                       size_t errlen);
/* mkdir -p each non-NULL dir (mode 0755), chown to u when root. */
int daemon_prepare_dirs(const struct daemon_user *u, const char *state_dir,
                        const char *run_dir, char *err, size_t errlen);
/* Open and lock path (created 0644); returns the fd, to be kept open. */
int daemon_pidfile_lock(const char *path, char *err, size_t errlen);
int daemon_pidfile_write(int fd, char *err, size_t errlen);
int daemon_drop_privs(const struct daemon_user *u, char *err, size_t errlen);
int daemon_detach(char *err, size_t errlen);
/* chown path to u when root (files created before dropping privileges). */
int daemon_chown(const struct daemon_user *u, const char *path, char *err,
                 size_t errlen);

#endif
