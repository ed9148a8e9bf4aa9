/*
 * lmtpd_socket.h - the listening socket of `leafmail-deliver -L`
 * (deliver.lmtp-socket).
 *
 *   lmtpd_socket_parse(spec, &addr, err, errlen)
 *       "unix:/path" (also "local:/path" or "/path"), or "inet:HOST:PORT"
 *       ("inet:[V6]:PORT" for IPv6; HOST a numeric address or a name).
 *       0, or -1 with err saying what is wrong.
 *   lmtpd_socket_open(&addr, mode, err, errlen)
 *       A non-blocking listening socket (close-on-exec).  For a unix
 *       socket, a file left by a dead server is removed first, but only
 *       when nothing answers on it (lib/unixsock.h), and the socket
 *       gets mode (deliver.lmtp-socket-mode).  Returns the fd or -1.
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
int lmtpd_socket_open(const struct lmtpd_addr *a, mode_t mode, char *err,
                      size_t errlen);

#endif
