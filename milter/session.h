/*
 * session.h - what the milter remembers about one SMTP connection.
 *
 * libmilter runs callbacks for many connections on a pool of worker
 * threads, so nothing per connection may live in a static or a thread
 * local: it hangs off the connection's context with smfi_setpriv() (see
 * filter.c).  The client fields are computed once, at connect.
 */
#ifndef LEAFMAIL_MILTER_SESSION_H
#define LEAFMAIL_MILTER_SESSION_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "helo.h"
#include "policy.h"

struct snapshot;
struct umtp_msg;

struct session {
	int has_addr;              /* 0: unix socket, unknown family, none */
	struct addr addr;          /* client address (IPv4-mapped as IPv4) */
	char client[ADDR_STRLEN];  /* canonical text, or "unknown" */
	int trusted;               /* in trusted-networks */
	int skip_ok;               /* the MTA understands SMFIS_SKIP */
	struct snapshot *snap;     /* the configuration it started with, held */
	enum helo_result helo;     /* the last HELO's verdict */
	char helo_name[80];        /* a refused HELO, log-safe */
	uint64_t seen_headers;     /* bit i: required header i seen */
	struct umtp_msg *msg;      /* the current message's UMTP state */
};

/* A new session for a client at sa (may be NULL); NULL when out of
 * memory.  Free with session_free(). */
struct session *session_new(const struct sockaddr *sa, const struct policy *p);
/* (Re)computes the client fields: the session may exist before connect,
 * from option negotiation. */
void session_set_client(struct session *s, const struct sockaddr *sa,
                        const struct policy *p);
/* Ends the current message's UMTP state, if any (umtp_msg_end). */
void session_end_msg(struct session *s);
/* Also ends the message and releases snap; NULL is fine. */
void session_free(struct session *s);

#endif
