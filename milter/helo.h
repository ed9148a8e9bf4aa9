/*
 * helo.h - is the HELO/EHLO argument honest?  (milter.helo-check)
 *
 *   helo_self_load()  this host's name and addresses (gethostname(),
 *                     getifaddrs()), read once per configuration
 *   helo_check()      the verdict for one HELO
 *   helo_result_text() the reply text for a refusal
 *
 * Refused:
 *   - an address literal ([192.0.2.1], [IPv6:2001:db8::1]) that is not
 *     the client's own address, or that does not parse (the client's
 *     own address as a literal is honest, whatever else it is);
 *   - from a client outside trusted-networks: a name that is one of
 *     local-domains or this host's name (the MTA's {j} too), or an
 *     address of this host written bare (or as a literal when the client
 *     has no address to compare with).
 * A client with no IP address (unix socket) is only held to the second
 * rule.  Comparisons ignore case and one trailing dot.  Nothing here logs.
 */
#ifndef LEAFMAIL_MILTER_HELO_H
#define LEAFMAIL_MILTER_HELO_H

#include <stddef.h>

#include "addr.h"
#include "policy.h"

struct helo_self {
	char name[256];     /* gethostname(), lowercase; "" if unknown */
	struct addr *addrs; /* every interface address */
	size_t naddrs;
};

/* 0, or -1 with err (out of memory, getifaddrs failed). */
int helo_self_load(struct helo_self *h, char *err, size_t errlen);
void helo_self_free(struct helo_self *h);
/* Adds an address (tests; hosts whose public address is NATed). */
int helo_self_add_addr(struct helo_self *h, const struct addr *a);

enum helo_result {
	HELO_OK,
	HELO_BAD_LITERAL,     /* [...] that is not an address */
	HELO_LITERAL_MISMATCH,
	HELO_CLAIMS_LOCAL_DOMAIN,
	HELO_CLAIMS_HOSTNAME,
	HELO_CLAIMS_ADDRESS
};

/* client may be NULL; mta_name is the MTA's {j} macro or NULL. */
enum helo_result helo_check(const char *helo, const struct addr *client,
                            int trusted, const struct policy *p,
                            const struct helo_self *self,
                            const char *mta_name);
/* Fixed text for the 550 5.7.1 reply (no '%', no CR/LF); "ok" for OK. */
const char *helo_result_text(enum helo_result r);
/* One word for the log. */
const char *helo_result_name(enum helo_result r);

#endif
