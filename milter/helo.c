/*
 * helo.c - the HELO/EHLO honesty check (helo.h).
 *
 * RFC 5321 4.1.3: an address literal is "[" IPv4 "]" or "[IPv6:" IPv6
 * "]".  We also take a bare "[2001:db8::1]", which some clients send;
 * what matters is whether it names the client.  RFC 5321 4.1.4 says a
 * server must not refuse a message merely because the HELO name does not
 * match the client; it does not ask us to accept a client that claims to
 * be us: that claim is what spam software makes to pass checks that
 * trust the local host, and no honest outside client makes it.
 */
#include "helo.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int
helo_self_add_addr(struct helo_self *h, const struct addr *a)
{
	struct addr *n;

	if ((n = realloc(h->addrs, (h->naddrs + 1) * sizeof(*n))) == NULL)
		return -1;
	h->addrs = n;
	h->addrs[h->naddrs++] = *a;
	return 0;
}

int
helo_self_load(struct helo_self *h, char *err, size_t errlen)
{
	struct ifaddrs *ifa, *i;
	struct addr a;
	size_t k;

	memset(h, 0, sizeof(*h));
	if (gethostname(h->name, sizeof(h->name) - 1) == -1)
		h->name[0] = '\0';
	for (k = 0; h->name[k] != '\0'; k++)
		if (h->name[k] >= 'A' && h->name[k] <= 'Z')
			h->name[k] = (char)(h->name[k] - 'A' + 'a');
	if (getifaddrs(&ifa) == -1) {
		snprintf(err, errlen, "getifaddrs: cannot list this host's addresses");
		return -1;
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		                            i->ifa_addr->sa_family != AF_INET6))
			continue;
		if (addr_from_sockaddr(i->ifa_addr, &a) == 0 &&
		    helo_self_add_addr(h, &a) == -1) {
			freeifaddrs(ifa);
			helo_self_free(h);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	freeifaddrs(ifa);
	return 0;
}

void
helo_self_free(struct helo_self *h)
{
	free(h->addrs);
	h->addrs = NULL;
	h->naddrs = 0;
}

static int
is_self_addr(const struct helo_self *self, const struct addr *a)
{
	size_t i;

	for (i = 0; i < self->naddrs; i++)
		if (addr_equal(&self->addrs[i], a))
			return 1;
	return 0;
}

/* Same name, ignoring case and one trailing dot on either side. */
static int
same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

/* An address literal: 1 parsed into a, 0 not a literal, -1 malformed. */
static int
parse_literal(const char *helo, struct addr *a)
{
	size_t len = strlen(helo);
	const char *s;

	if (len == 0 || helo[0] != '[')
		return 0;
	if (len < 3 || helo[len - 1] != ']')
		return -1;
	s = helo + 1;
	len -= 2;
	if (len > 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		s += 5;
		len -= 5;
		if (memchr(s, ':', len) == NULL) /* [IPv6:192.0.2.1] */
			return -1;
	}
	/* addr_parsen() would drop a %zone: a literal has none. */
	if (memchr(s, '%', len) != NULL || addr_parsen(s, len, a) == -1)
		return -1;
	return 1;
}

enum helo_result
helo_check(const char *helo, const struct addr *client, int trusted,
           const struct policy *p, const struct helo_self *self,
           const char *mta_name)
{
	struct addr a;
	int lit;
	char dom[POLICY_DOMAIN_MAX];
	size_t len;

	if (helo == NULL)
		helo = "";
	lit = parse_literal(helo, &a);
	if (lit == -1)
		return HELO_BAD_LITERAL;
	if (lit == 1 && client != NULL) /* the client's own: honest */
		return addr_equal(&a, client) ? HELO_OK : HELO_LITERAL_MISMATCH;
	if (trusted)
		return HELO_OK;
	if (lit == 1 || addr_parse(helo, &a) == 0)
		return is_self_addr(self, &a) ? HELO_CLAIMS_ADDRESS : HELO_OK;
	len = strlen(helo);
	if (len > 0 && helo[len - 1] == '.')
		len--;
	if (len > 0 && len < sizeof(dom)) {
		size_t i;

		for (i = 0; i < len; i++)
			dom[i] = helo[i] >= 'A' && helo[i] <= 'Z'
			             ? (char)(helo[i] - 'A' + 'a')
			             : helo[i];
		dom[len] = '\0';
		if (policy_is_local_domain(p, dom))
			return HELO_CLAIMS_LOCAL_DOMAIN;
	}
	if (same_name(helo, self->name) ||
	    (mta_name != NULL && same_name(helo, mta_name)))
		return HELO_CLAIMS_HOSTNAME;
	return HELO_OK;
}

const char *
helo_result_text(enum helo_result r)
{
	switch (r) {
	case HELO_OK:
		break;
	case HELO_BAD_LITERAL:
		return "HELO/EHLO address literal is not an address";
	case HELO_LITERAL_MISMATCH:
		return "HELO/EHLO address literal does not match your address";
	case HELO_CLAIMS_LOCAL_DOMAIN:
		return "HELO/EHLO names a domain of this site: say who you are";
	case HELO_CLAIMS_HOSTNAME:
		return "HELO/EHLO names this host: say who you are";
	case HELO_CLAIMS_ADDRESS:
		return "HELO/EHLO names an address of this host: say who you are";
	}
	return "ok";
}

const char *
helo_result_name(enum helo_result r)
{
	switch (r) {
	case HELO_OK:
		break;
	case HELO_BAD_LITERAL:
		return "bad-literal";
	case HELO_LITERAL_MISMATCH:
		return "literal-mismatch";
	case HELO_CLAIMS_LOCAL_DOMAIN:
		return "claims-local-domain";
	case HELO_CLAIMS_HOSTNAME:
		return "claims-hostname";
	case HELO_CLAIMS_ADDRESS:
		return "claims-address";
	}
	return "ok";
}
