/*
 * umtp_shadow.h - milter.umtp-shadow without libmilter: which recipients
 * a umtp peer serves, a fresh Message-ID, and sending the message to each
 * peer in datagrams (lib/umtp_out.c).  umtp_hooks.c calls these at end
 * of message and does the smfi_* part.
 *
 * Never blocking: the socket is non-blocking, peers' addresses were
 * resolved at start-up, nothing here waits for an answer (UMTP has none).
 * A failure is logged and ends UMTP for that peer and message only; the
 * SMTP copy is the safety net.
 *
 *   umtp_shadow_peer_of()  the peer serving a recipient's domain, or NULL
 *   umtp_shadow_wanted()   1 when some recipient has a peer
 *   umtp_shadow_msgid()    "<time.random@host>" for a message without one
 *   umtp_shadow_send()     send to every peer concerned; datagrams sent
 */
#ifndef LEAFMAIL_MILTER_UMTP_SHADOW_H
#define LEAFMAIL_MILTER_UMTP_SHADOW_H

#include <stddef.h>

#include "umtp_collect.h"
#include "umtp_peers.h"

struct umtp_peer *umtp_shadow_peer_of(struct umtp_peers *peers,
                                      const char *rcpt);
int umtp_shadow_wanted(struct umtp_peers *peers, const struct umtp_collect *c);
/* -1 when it does not fit. */
int umtp_shadow_msgid(const char *host, char *buf, size_t len);
/* msg: the message as the SMTP copy carries it (msgid among its headers);
 * client: for the log.  Number of datagrams sent. */
size_t umtp_shadow_send(struct umtp_peers *peers, const struct umtp_collect *c,
                        const char *msgid, const char *msg, size_t msglen,
                        const char *client);

#endif
