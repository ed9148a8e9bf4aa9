/*
 * addr.c - IPv4/IPv6 addresses and CIDR networks, one canonical text form.
 *
 * Interface (addr.h):
 *   addr_parse(s, a), addr_parsen(s, len, a)   text -> struct addr
 *   addr_from_sockaddr(sa, a)                 sockaddr -> struct addr
 *   addr_format(a, buf, len)                  struct addr -> canonical text
 *   addr_equal(a, b)
 *   cidr_parse(s, c), cidr_match(c, a)
 *   cidr_list_add(l, s), cidr_list_match(l, a), cidr_list_free(l)
 *
 * The canonical text is the relay table's key, and Postfix looks clients up
 * by the text it prints, so both must agree byte for byte: IPv4 dotted
 * quad; IPv6 per RFC 5952 section 4 (lowercase hex, no leading zeros, the
 * longest run of two or more zero groups as "::", the first on a tie, a
 * lone zero group written "0"); an IPv4-mapped address (::ffff:a.b.c.d,
 * RFC 5952 section 5) is stored as the plain IPv4 address, because that is
 * how Dovecot, Postfix and the kernel's dual-stack sockets disagree about
 * one client and we want one key for it.  We write IPv6 text by hand instead
 * of calling inet_ntop() because glibc's inet_ntop() prints the deprecated
 * IPv4-compatible form (::a.b.c.d) in dotted notation.
 *
 * Parsing uses inet_pton(), which is strict: no leading or trailing
 * spaces, no octal or short IPv4 forms.  Accepted around it: [brackets] and
 * an IPv6 "%zone" suffix (dropped: a zone is not part of the address).
 *
 * Limits: a CIDR only matches addresses of its own family after mapping,
 * so "::/0" does not match IPv4 clients; "::ffff:0.0.0.0/96" is the way to
 * write "every IPv4 address" in IPv6 syntax (it becomes 0.0.0.0/0).
 * Errors: every function returns -1 (or 0 for "no match"); nothing logs.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest text addr_parsen() looks at: "[" + 45-byte IPv6 + "%" + zone + "]"
 * fits easily; anything longer is not an address we want. */
#define ADDR_MAXIN 64

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int
is_mapped(const struct addr *a)
{
	return a->family == AF_INET6 &&
	       memcmp(a->bytes, mapped_prefix, sizeof(mapped_prefix)) == 0;
}

/* ::ffff:a.b.c.d -> a.b.c.d; other addresses unchanged. */
static void
unmap(struct addr *a)
{
	if (!is_mapped(a))
		return;
	memmove(a->bytes, a->bytes + 12, 4);
	memset(a->bytes + 4, 0, 12);
	a->family = AF_INET;
}

/* Interface names and numbers; ASCII only, whatever the locale. */
static int
zone_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/*
 * Parse len bytes of s without turning mapped addresses into IPv4, so that
 * cidr_parse() can still see the IPv6 prefix length.  allow_zone: accept
 * and drop "%zone" on IPv6.
 */
static int
parse_raw(const char *s, size_t len, struct addr *a, int allow_zone)
{
	char buf[ADDR_MAXIN + 1];
	char *p, *pct;
	size_t n;

	if (s == NULL || a == NULL || len == 0 || len > ADDR_MAXIN)
		return -1;
	/* A NUL inside the given length would hide trailing garbage. */
	if (memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	p = buf;
	n = len;
	if (p[0] == '[') {
		if (n < 3 || p[n - 1] != ']')
			return -1;
		p[n - 1] = '\0';
		p++;
		n -= 2;
	}
	if ((pct = strchr(p, '%')) != NULL) {
		const char *z;

		if (!allow_zone || strchr(p, ':') == NULL || pct[1] == '\0')
			return -1;
		for (z = pct + 1; *z != '\0'; z++)
			if (!zone_char(*z))
				return -1;
		*pct = '\0';
	}
	memset(a, 0, sizeof(*a));
	if (strchr(p, ':') != NULL) {
		if (inet_pton(AF_INET6, p, a->bytes) != 1)
			return -1;
		a->family = AF_INET6;
	} else {
		if (inet_pton(AF_INET, p, a->bytes) != 1)
			return -1;
		a->family = AF_INET;
	}
	return 0;
}

int
addr_parsen(const char *s, size_t len, struct addr *a)
{
	struct addr t;

	if (parse_raw(s, len, &t, 1) == -1)
		return -1;
	unmap(&t);
	*a = t;
	return 0;
}

int
addr_parse(const char *s, struct addr *a)
{
	if (s == NULL)
		return -1;
	return addr_parsen(s, strlen(s), a);
}

int
addr_from_sockaddr(const struct sockaddr *sa, struct addr *a)
{
	if (sa == NULL || a == NULL)
		return -1;
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in sin;

		/* Copy out: sa may not be aligned for sockaddr_in. */
		memcpy(&sin, sa, sizeof(sin));
		a->family = AF_INET;
		memcpy(a->bytes, &sin.sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		a->family = AF_INET6;
		memcpy(a->bytes, &sin6.sin6_addr, 16);
		unmap(a);
		return 0;
	}
	return -1;
}

/* RFC 5952 section 4 text of 16 bytes into out (ADDR_STRLEN bytes). */
static void
format6(const uint8_t *b, char *out)
{
	unsigned int w[8];
	int i, best = -1, bestlen = 0, cur = -1, curlen = 0;
	char *o = out;

	for (i = 0; i < 8; i++)
		w[i] = (unsigned int)b[2 * i] << 8 | b[2 * i + 1];
	/* Longest run of zero groups; strictly longer wins, so the first run
	 * wins a tie (4.2.3). */
	for (i = 0; i < 8; i++) {
		if (w[i] == 0) {
			if (cur == -1) {
				cur = i;
				curlen = 0;
			}
			curlen++;
			if (curlen > bestlen) {
				best = cur;
				bestlen = curlen;
			}
		} else {
			cur = -1;
		}
	}
	/* A single zero group is not compressed (4.2.2). */
	if (bestlen < 2) {
		best = -1;
		bestlen = 0;
	}
	for (i = 0; i < 8; i++) {
		if (i == best) {
			*o++ = ':';
			*o++ = ':';
			i += bestlen - 1;
			continue;
		}
		if (i > 0 && i != best + bestlen)
			*o++ = ':';
		o += sprintf(o, "%x", w[i]);
	}
	*o = '\0';
}

char *
addr_format(const struct addr *a, char *buf, size_t len)
{
	char tmp[ADDR_STRLEN];

	if (buf == NULL || len == 0)
		return buf;
	if (a == NULL) {
		buf[0] = '\0';
		return buf;
	}
	if (a->family == AF_INET)
		snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", a->bytes[0],
		         a->bytes[1], a->bytes[2], a->bytes[3]);
	else if (is_mapped(a))
		/* Not made by our parsers, but keep the promise anyway. */
		snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", a->bytes[12],
		         a->bytes[13], a->bytes[14], a->bytes[15]);
	else if (a->family == AF_INET6)
		format6(a->bytes, tmp);
	else
		snprintf(tmp, sizeof(tmp), "?");
	snprintf(buf, len, "%s", tmp);
	return buf;
}

static size_t
addr_size(int family)
{
	return family == AF_INET ? 4 : 16;
}

int
addr_equal(const struct addr *a, const struct addr *b)
{
	if (a == NULL || b == NULL)
		return 0;
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, addr_size(a->family)) == 0;
}

/* 1 when the first prefix bits of x and y agree. */
static int
prefix_equal(const uint8_t *x, const uint8_t *y, int prefix)
{
	int full = prefix / 8, rest = prefix % 8;

	if (memcmp(x, y, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (x[full] & mask) == (y[full] & mask);
}

/* 1 when any bit after the first prefix bits of b (size bytes) is set. */
static int
host_bits_set(const uint8_t *b, size_t size, int prefix)
{
	size_t i = (size_t)prefix / 8;
	int rest = prefix % 8;

	if (rest != 0) {
		if (b[i] & (uint8_t)(0xff >> rest))
			return 1;
		i++;
	}
	for (; i < size; i++)
		if (b[i] != 0)
			return 1;
	return 0;
}

int
cidr_parse(const char *s, struct cidr *c)
{
	const char *slash;
	struct addr a;
	int prefix, max;

	if (s == NULL || c == NULL)
		return -1;
	slash = strchr(s, '/');
	if (slash == NULL) {
		if (parse_raw(s, strlen(s), &a, 0) == -1)
			return -1;
		unmap(&a);
		c->net = a;
		c->prefix = a.family == AF_INET ? 32 : 128;
		return 0;
	}
	if (parse_raw(s, (size_t)(slash - s), &a, 0) == -1)
		return -1;
	/* Decimal digits only: no sign, no spaces, no hex; at most three. */
	const char *d = slash + 1;
	size_t nd = strlen(d);
	if (nd == 0 || nd > 3 || strspn(d, "0123456789") != nd)
		return -1;
	prefix = atoi(d);
	max = a.family == AF_INET ? 32 : 128;
	if (prefix > max)
		return -1;
	if (host_bits_set(a.bytes, addr_size(a.family), prefix))
		return -1;
	/* ::ffff:10.0.0.0/104 is 10.0.0.0/8.  A mapped network shorter than
	 * /96 has bits 80..95 set, so host_bits_set() refused it above. */
	if (is_mapped(&a)) {
		unmap(&a);
		prefix -= 96;
	}
	c->net = a;
	c->prefix = prefix;
	return 0;
}

int
cidr_match(const struct cidr *c, const struct addr *a)
{
	if (c == NULL || a == NULL || c->net.family != a->family)
		return 0;
	return prefix_equal(c->net.bytes, a->bytes, c->prefix);
}

void
cidr_list_free(struct cidr_list *l)
{
	if (l == NULL)
		return;
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
cidr_list_add(struct cidr_list *l, const char *s)
{
	struct cidr c, *v;

	if (l == NULL || cidr_parse(s, &c) == -1)
		return -1;
	if (l->n >= SIZE_MAX / sizeof(*v) - 1)
		return -1;
	/* Lists are a handful of networks read once: grow one at a time. */
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	v[l->n++] = c;
	l->v = v;
	return 0;
}

int
cidr_list_match(const struct cidr_list *l, const struct addr *a)
{
	size_t i;

	if (l == NULL)
		return 0;
	for (i = 0; i < l->n; i++)
		if (cidr_match(&l->v[i], a))
			return 1;
	return 0;
}
