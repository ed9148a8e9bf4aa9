/*
 * listenaddr.h - where a daemon listens, as its configuration says it:
 * the LMTP server's deliver.lmtp-socket and the policy service's
 * policyd.socket.
 *
 *   listenaddr_parse(spec, key, &a, err, errlen)
 *       "unix:/PATH" (also "local:/PATH" or "/PATH"), or "inet:HOST:PORT"
 *       ("inet:[V6]:PORT" for IPv6; HOST a numeric address or a name).
 *       0, or -1 with err saying what is wrong, naming key.
 *   listenaddr_bind_unix(NULL, path, err, errlen)
 *       The socket_bind_fn (unixsock.h) for daemon_listen_unix(): a
 *       non-blocking, close-on-exec stream socket bound and listening at
 *       the path daemon_listen_unix() chooses, which then gives it its
 *       mode and owner and only then its name (lib/daemon.c: root never
 *       chmods or chowns a name the service account could replace).
 *   listenaddr_open_inet(&a, err, errlen)
 *       An inet: address's listening socket (listen_inet()), bound as
 *       root when the port needs it.
 *   listenaddr_listen(&d, &a, mode, group, &stale)
 *       Either of the two for a daemon between daemon_lock() and
 *       daemon_drop(): a unix: socket through daemon_listen_unix() (mode,
 *       group; *stale set when a dead one was removed), an inet: one
 *       with listenaddr_open_inet().  The socket, or -1 with d.ex and
 *       d.err set.
 *
 * Nothing here logs or exits.
 */
#ifndef LEAFMAIL_LISTENADDR_H
#define LEAFMAIL_LISTENADDR_H

#include <stddef.h>
#include <sys/types.h>

#include "daemon.h"

struct listenaddr {
	int is_unix;
	char path[108];  /* is_unix: the socket file (sun_path) */
	char host[256];  /* inet: address or name, without brackets */
	char port[8];
};

int listenaddr_parse(const char *spec, const char *key, struct listenaddr *a,
                     char *err, size_t errlen);
int listenaddr_bind_unix(void *arg, const char *path, char *err,
                         size_t errlen);
int listenaddr_open_inet(const struct listenaddr *a, char *err, size_t errlen);
int listenaddr_listen(struct daemon *d, const struct listenaddr *a,
                      mode_t mode, gid_t group, int *stale);

#endif
