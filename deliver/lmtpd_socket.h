/*
 * lmtpd_socket.h - the listening socket of `leafmail-deliver -L`
 * (deliver.lmtp-socket).
 *
 *   lmtpd_socket_parse(spec, &addr, err, errlen)
 *       "unix:/path" (also "local:/path" or "/path"), or "inet:HOST:PORT"
 *       ("inet:[V6]:PORT" for IPv6; HOST a numeric address or a name).
 *       0, or -1 with err saying what is wrong.
 *   lmtpd_socket_open(&addr, err, errlen)
 *       An inet: address's non-blocking listening socket (close-on-exec);
 *       the fd or -1.
 *   lmtpd_socket_bind(NULL, path, err, errlen)
 *       The same for a unix socket at path: the bind for
 *       daemon_listen_unix() (lib/daemon.h), which puts it in place with
 *       its mode and group (deliver.lmtp-socket-mode and -group).
 *
 * Nothing here logs or exits.
 */
#ifndef LEAFMAIL_LMTPD_SOCKET_H
#define LEAFMAIL_LMTPD_SOCKET_H

#include <stddef.h>
#include <sys/types.h>

struct lmtpd_addr {
	int is_unix;
	char path[108];  /* is_unix: the socket file */
	char host[256];  /* inet: address or name, without brackets */
	char port[8];
};

int lmtpd_socket_parse(const char *spec, struct lmtpd_addr *a, char *err,
                       size_t errlen);
int lmtpd_socket_open(const struct lmtpd_addr *a, char *err, size_t errlen);
int lmtpd_socket_bind(void *arg, const char *path, char *err, size_t errlen);

#endif
