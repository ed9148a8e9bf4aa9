/*
 * reload.h - SIGUSR1: read the configuration again, for new sessions.
 *
 *   reload_start()  block SIGUSR1 and start the thread that waits for it
 *   reload_now()    what that thread does (also for tests)
 *
 * libmilter takes SIGHUP, SIGTERM and SIGINT as "stop" in its own signal
 * thread, so reloading needs another signal and another thread: SIGUSR1 is
 * blocked before smfi_main() starts any thread (they all inherit the
 * mask) and only our thread takes it, with sigwait(), where it is safe to
 * read files, allocate and log.
 *
 * A reload that fails (syntax error, unreadable key file) changes nothing
 * and says why.  socket, socket-mode, user and run-dir are bound at start:
 * a change to them is reported as needing a restart, the rest applies.
 * The reload runs as user: the configuration file (and UMTP keys) must be
 * readable by user for it to work.
 */
#ifndef LEAFMAIL_MILTER_RELOAD_H
#define LEAFMAIL_MILTER_RELOAD_H

#include <stddef.h>

struct reload_fixed {
	const char *socket, *socket_mode, *user, *run_dir;
};

/* Call after the last fork and before smfi_main().  The strings are
 * copied.  0, or -1 with err. */
int reload_start(const char *conffile, const struct reload_fixed *fixed,
                 char *err, size_t errlen);
/* 0 reloaded, -1 kept the old configuration (logged). */
int reload_now(void);

#endif
