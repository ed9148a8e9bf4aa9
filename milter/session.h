/*
 * session.h - what the milter remembers about one SMTP connection.
 *
 * libmilter runs callbacks for many connections on a pool of worker
 * threads, so nothing per connection may live in a static or a thread
 * local: it hangs off the connection's context with smfi_setpriv() (see
 * filter.c).  Everything here is computed once, at connect.
 */
#ifndef LEAFMAIL_MILTER_SESSION_H
#define LEAFMAIL_MILTER_SESSION_H

#include <sys/socket.h>

#include "addr.h"
#include "policy.h"

struct session {
	int has_addr;              /* 0: unix socket, unknown family, none */
	struct addr addr;          /* client address (IPv4-mapped as IPv4) */
	char client[ADDR_STRLEN];  /* canonical text, or "unknown" */
	int trusted;               /* in trusted-networks */
};

/* A new session for a client at sa (may be NULL); NULL when out of
 * memory.  Free with session_free(). */
struct session *session_new(const struct sockaddr *sa, const struct policy *p);
void session_free(struct session *s);

#endif
