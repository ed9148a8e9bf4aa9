/*
 * umtp_out.h - put one message into the datagrams for one peer and send
 * them: protocol 1 carries one recipient, so one datagram per recipient;
 * protocol 2 one datagram for all.  Shared by `umtp send` (a connected
 * socket) and the milter's shadow sender (sendto a peer's address).
 *
 * Every datagram is encoded before the first is sent, so a message that
 * does not fit sends nothing.  Nothing here logs or blocks on anything
 * but the socket the caller gives (the milter gives a non-blocking one).
 *
 *   umtp_out_limit()  the datagram limit for an address family
 *   umtp_out_send()   UMTP_OK; an encoder's UMTP_E_* (UMTP_E_TOOLARGE when
 *                     it does not fit); UMTP_E_SEND with errno kept
 */
#ifndef LEAFMAIL_UMTP_OUT_H
#define LEAFMAIL_UMTP_OUT_H

#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "umtp_peers.h"

struct umtp_out {
	const struct umtp_peer *peer; /* key and protocol */
	const char *sender;           /* "" when none (protocol 1 has none) */
	const char *const *rcpts;
	size_t nrcpt;
	const char *msgid;            /* "" when none */
	const char *msg;              /* the message as it stands */
	size_t msglen;
	size_t limit;                 /* umtp_out_limit() of the destination */
};

size_t umtp_out_limit(int family);
/* to NULL: fd is connected.  *npkt, *bytes: datagrams sent, their size. */
int umtp_out_send(int fd, const struct sockaddr *to, socklen_t tolen,
                  const struct umtp_out *o, time_t now, size_t *npkt,
                  size_t *bytes);

#endif
