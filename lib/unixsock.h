/*
 * unixsock.h - a daemon's unix listening socket, before it is bound: the
 * milter's (libmilter then opens it) and leafmail-deliver -L's.
 *
 *   socket_unix_path()    "unix:/p", "local:/p" or "/p" -> "/p"
 *   socket_parse_mode()   socket-mode keys ("0660") -> mode_t
 *   socket_clear_stale()  make room for a unix socket, the careful way
 *
 * A unix socket file outlives a daemon that was killed, and binding fails
 * while it exists.  Removing it unconditionally (smfi_opensocket(true))
 * would silently steal the socket from a daemon that still runs, so
 * socket_clear_stale() removes it only when it is a socket and connecting
 * to it is refused.  Nothing here logs or exits.
 */
#ifndef LEAFMAIL_UNIXSOCK_H
#define LEAFMAIL_UNIXSOCK_H

#include <stddef.h>
#include <sys/types.h>

/* socket_clear_stale() results */
#define SOCKET_ABSENT 0   /* nothing there */
#define SOCKET_REMOVED 1  /* a stale socket was there and is gone */
#define SOCKET_ERR (-1)   /* could not find out or remove (err says why) */
#define SOCKET_INUSE (-2) /* something answers on it */
#define SOCKET_NOTSOCK (-3) /* the path exists and is not a socket */

/* 1 and the path in buf for a unix socket, 0 for inet/inet6, -1 when the
 * path is empty or longer than a sockaddr_un holds. */
int socket_unix_path(const char *spec, char *buf, size_t len);
/* Octal permission bits, at most 0777; 0 or -1 when malformed. */
int socket_parse_mode(const char *s, mode_t *mode);
int socket_clear_stale(const char *path, char *err, size_t errlen);

#endif
