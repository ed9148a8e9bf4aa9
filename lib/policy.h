/*
 * policy.h - the relay decision for one envelope recipient, free of
 * libmilter: the milter (milter/filter.c) and the Postfix policy service
 * (policyd/) answer from this one decision, and it is tested on its own.
 *
 *   policy_parse_rcpt()   RCPT argument -> domain, "sender-routed" flag
 *   policy_add_local_domain(), policy_is_local_domain(), policy_free()
 *   policy_trusted()      is a client address in trusted-networks?
 *   policy_decide()       local domain / trusted / SMTP AUTH / relay table
 *   policy_reason_name()  the word logged for a reason
 *
 * The relay table is reached through a lookup function with the contract
 * of relaystore_check() (1 allowed, 0 not, STORE_ERR unreadable), so tests
 * can stand in for it.  A table error never allows: it is a temporary
 * failure.  Nothing here logs.
 */
#ifndef LEAFMAIL_POLICY_H
#define LEAFMAIL_POLICY_H

#include <stddef.h>
#include <time.h>

#include "addr.h"

/* RFC 1035 limits a domain name to 255 octets. */
#define POLICY_DOMAIN_MAX 256

struct policy_rcpt {
	int has_domain; /* 0: no '@' at all, e.g. <postmaster> */
	int routed;     /* local part holds '%', '!' or '@' (see policy.c) */
	char domain[POLICY_DOMAIN_MAX]; /* lowercase, one trailing '.' gone */
};

/* 0, or -1 for an address we will not call local: empty, an unterminated
 * quote or escape, a domain longer than POLICY_DOMAIN_MAX - 1. */
int policy_parse_rcpt(const char *rcpt, struct policy_rcpt *r);

struct policy {
	char **local_domains; /* lowercase, no trailing '.' */
	size_t nlocal;
	struct cidr_list trusted;
};

/* Copies dom (case and a trailing '.' ignored); -1 when out of memory. */
int policy_add_local_domain(struct policy *p, const char *dom);
int policy_is_local_domain(const struct policy *p, const char *dom);
/* 1 when a is in trusted-networks; a NULL address is never trusted. */
int policy_trusted(const struct policy *p, const struct addr *a);
void policy_free(struct policy *p);

enum policy_verdict { POLICY_ACCEPT, POLICY_REJECT, POLICY_TEMPFAIL };

enum policy_reason {
	POLICY_LOCAL_DOMAIN,
	POLICY_TRUSTED,
	POLICY_SMTP_AUTH,
	POLICY_POP_AUTH,
	POLICY_NOT_AUTHENTICATED,
	POLICY_TABLE_ERROR
};

/* The relaystore_check() contract: 1 present and unexpired (*expires
 * set), 0 not, any negative value: cannot tell (err filled). */
typedef int (*policy_lookup_fn)(void *arg, const struct addr *a, time_t now,
                                time_t *expires, char *err, size_t errlen);

struct policy_client {
	const struct addr *addr; /* NULL: no IP address (unix socket, unknown) */
	int trusted;             /* policy_trusted(), computed at connect */
	const char *auth_authen; /* the {auth_authen} macro or NULL */
};

struct policy_decision {
	enum policy_verdict verdict;
	enum policy_reason reason;
	int routed;     /* a local-domain address refused as local (routing) */
	time_t expires; /* POLICY_POP_AUTH: when the permission ends */
	char err[256];  /* POLICY_TABLE_ERROR: why */
};

void policy_decide(const struct policy *p, const char *rcpt,
                   const struct policy_client *c, policy_lookup_fn lookup,
                   void *lookup_arg, time_t now, struct policy_decision *d);

const char *policy_reason_name(enum policy_reason r);

#endif
