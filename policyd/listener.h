/*
 * listener.h - where leafmail-policyd listens (policyd.socket).
 *
 *   listener_parse(spec, &a, err, errlen)
 *       "unix:/PATH" (also "local:/PATH" or "/PATH"), or "inet:HOST:PORT"
 *       ("inet:[V6]:PORT" for IPv6).  0, or -1 with err.
 *   listener_open(&a, mode, err, errlen)
 *       A non-blocking, close-on-exec listening socket, or -1 with err.
 *       inet: through lib/listen.c, called as root before the switch to
 *       the service account.  unix: called AFTER the switch: the socket
 *       is made by the service account in a directory it may write (for
 *       a chrooted Postfix, /var/spool/postfix/leafmail/), under a umask
 *       that gives it exactly mode; nothing is chmod'ed or chown'ed by
 *       path, and root never touches the directory.  A file left by a
 *       dead service is removed first, only when nothing answers on it
 *       (lib/unixsock.h).
 *
 * Nothing here logs.  listener_open() changes the umask for a moment:
 * call it before any thread exists.
 */
#ifndef LEAFMAIL_POLICYD_LISTENER_H
#define LEAFMAIL_POLICYD_LISTENER_H

#include <stddef.h>
#include <sys/types.h>

struct listener_addr {
	int is_unix;
	char path[108]; /* sun_path */
	char host[256];
	char port[8];
};

int listener_parse(const char *spec, struct listener_addr *a, char *err,
                   size_t errlen);
int listener_open(const struct listener_addr *a, mode_t mode, char *err,
                  size_t errlen);

#endif
