/*
 * unixsock.h - a daemon's unix listening socket: the milter's (libmilter
 * binds it) and leafmail-deliver -L's.
 *
 *   socket_unix_path()    "unix:/p", "local:/p" or "/p" -> "/p"
 *   socket_parse_mode()   socket-mode keys ("0660") -> mode_t
 *   socket_parse_group()  socket-group keys: a group name -> its gid, ""
 *                         -> (gid_t)-1, the service account's own group
 *   socket_probe_at()     is the name in dirfd free, a stale socket, or
 *                         a socket somebody answers on?
 *   socket_create_at()    put a new listening socket at the name, with
 *                         its mode and owner already set
 *
 * A unix socket file outlives a daemon that was killed, and binding fails
 * while it exists.  Replacing it unconditionally (smfi_opensocket(true))
 * would silently steal the socket from a daemon that still runs, so
 * socket_probe_at() reports a stale socket only when it is a socket and
 * connecting to it is refused; socket_create_at() then replaces it.
 *
 * Both work relative to a directory descriptor the caller verified
 * (safedir.h) and never follow a name the service account could have
 * swapped: see unixsock.c.  Linux only (/proc/self/fd).  Nothing here
 * logs or exits.
 */
#ifndef LEAFMAIL_UNIXSOCK_H
#define LEAFMAIL_UNIXSOCK_H

#include <stddef.h>
#include <sys/types.h>

/* socket_probe_at() results */
#define SOCKET_ABSENT 0   /* nothing there */
#define SOCKET_STALE 1    /* a socket nobody answers on: may be replaced */
#define SOCKET_ERR (-1)   /* could not find out (err says why) */
#define SOCKET_INUSE (-2) /* something answers on it */
#define SOCKET_NOTSOCK (-3) /* the name exists and is not a socket */

/* Creates a listening unix socket bound to path (a temporary name of
 * socket_create_at()'s); returns a descriptor or 0 when the socket is
 * kept elsewhere (libmilter), -1 with err set on failure. */
typedef int socket_bind_fn(void *arg, const char *path, char *err,
                           size_t errlen);

/* 1 and the path in buf for a unix socket, 0 for inet/inet6, -1 when the
 * path is empty or longer than a sockaddr_un holds. */
int socket_unix_path(const char *spec, char *buf, size_t len);
/* Octal permission bits, at most 0777; 0 or -1 when malformed. */
int socket_parse_mode(const char *s, mode_t *mode);
/* 0 with *gid set, or -1 when there is no such group. */
int socket_parse_group(const char *name, gid_t *gid);
/* What is at name in the directory dirfd; display names it in err. */
int socket_probe_at(int dirfd, const char *name, const char *display,
                    char *err, size_t errlen);
/* bind() a socket inside a new directory of our own in dirfd, give it
 * mode, uid and gid ((uid_t)-1 / (gid_t)-1: leave), then rename it to
 * name, replacing whatever is there.  Returns bind's result or -1.  When
 * bind returned 0 (the socket is kept by someone who remembers the path,
 * as libmilter does to unlink it at exit), the descriptor of the removed
 * temporary directory stays open for good, so that path never names
 * anything again. */
int socket_create_at(int dirfd, const char *name, mode_t mode, uid_t uid,
                     gid_t gid, socket_bind_fn *bind, void *arg, char *err,
                     size_t errlen);

#endif
