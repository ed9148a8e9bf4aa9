/*
 * addr.h - IPv4/IPv6 addresses and CIDR networks with one canonical text
 * form.
 *
 * Canonical text: IPv4 dotted quad; IPv6 per RFC 5952 (lowercase hex, no
 * leading zeros, the longest run of two or more zero groups compressed to
 * "::", the first such run on a tie); an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is the plain IPv4 address.  The relay table's keys are
 * this form, and Postfix looks clients up the same way.
 *
 * addr_parse() accepts what log files contain: IPv4, IPv6, IPv4-mapped,
 * optionally in brackets, optionally with an IPv6 "%zone" suffix (dropped).
 * Nothing here logs or exits.
 */
#ifndef LEAFMAIL_ADDR_H
#define LEAFMAIL_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

struct addr {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* network order; 4 used for AF_INET */
};

struct cidr {
	struct addr net; /* host bits cleared */
	int prefix;      /* 0..32 or 0..128 */
};

struct cidr_list {
	struct cidr *v;
	size_t n;
};

/* 0 on success, -1 when s is not an address.  Mapped addresses become v4. */
int addr_parse(const char *s, struct addr *a);
/* Same for a length-delimited string (need not be NUL-terminated). */
int addr_parsen(const char *s, size_t len, struct addr *a);
int addr_from_sockaddr(const struct sockaddr *sa, struct addr *a);
/* Canonical text into buf (at least ADDR_STRLEN bytes); returns buf. */
char *addr_format(const struct addr *a, char *buf, size_t len);
int addr_equal(const struct addr *a, const struct addr *b);

/* "a.b.c.d/n", "v6/n", or a bare address (a host network).  Host bits set
 * beyond the prefix are an error (-1), as is a prefix out of range. */
int cidr_parse(const char *s, struct cidr *c);
int cidr_match(const struct cidr *c, const struct addr *a);
/* Frees v; leaves an empty list. */
void cidr_list_free(struct cidr_list *l);
/* Appends; -1 on a bad network or no memory. */
int cidr_list_add(struct cidr_list *l, const char *s);
int cidr_list_match(const struct cidr_list *l, const struct addr *a);

#endif
