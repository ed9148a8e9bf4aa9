/*
 * session.c - per-connection state (session.h).
 *
 * The MTA tells us the client's address at connect.  Postfix and sendmail
 * send AF_INET or AF_INET6; a connection over a unix socket, from an
 * unknown family ("unspec" in miltertest) or with no address at all gets
 * has_addr = 0: such a client is never trusted and never looked up in the
 * relay table, so it can only reach local domains or authenticate.
 */
#include "session.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "umtp_hooks.h"

void
session_set_client(struct session *s, const struct sockaddr *sa,
                   const struct policy *p)
{
	s->has_addr = 0;
	s->trusted = 0;
	memset(&s->addr, 0, sizeof(s->addr));
	strcpy(s->client, "unknown");
	if (sa != NULL && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
	    addr_from_sockaddr(sa, &s->addr) == 0) {
		s->has_addr = 1;
		addr_format(&s->addr, s->client, sizeof(s->client));
		s->trusted = policy_trusted(p, &s->addr);
	}
}

struct session *
session_new(const struct sockaddr *sa, const struct policy *p)
{
	struct session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	session_set_client(s, sa, p);
	return s;
}

void
session_end_msg(struct session *s)
{
	umtp_msg_end(s->msg);
	s->msg = NULL;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	session_end_msg(s);
	snapshot_release(s->snap);
	free(s);
}
