/*
 * recipient.c - parse, fold and check one envelope recipient (see
 * recipient.h).
 *
 * The checks here are what keeps a delivery inside maildir-base: the user
 * and the domain each become one directory name, so neither may contain a
 * '/', be or contain "..", or start with '.' (which would also collide with
 * Maildir++ folders such as ".Trash").  Control characters are refused
 * everywhere: they have no business in a file name or a header line.
 * Folding is ASCII only, like Postfix's lowercase(): 8-bit bytes (UTF-8
 * local parts) are kept as they are.
 */
#include <stdio.h>
#include <string.h>

#include "recipient.h"

static int
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static void
fold_ascii(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

int
recipient_name_ok(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (*p == '\0' || *p == '.' || strlen(name) >= RECIPIENT_MAX)
		return 0;
	if (strstr(name, "..") != NULL)
		return 0;
	for (; *p != '\0'; p++)
		if (*p == '/' || is_ctl(*p))
			return 0;
	return 1;
}

static int
domain_ok(const char *d)
{
	const unsigned char *p = (const unsigned char *)d;
	size_t n = strlen(d);

	if (!recipient_name_ok(d) || d[n - 1] == '.' || d[0] == '-')
		return 0;
	for (; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.' || *p >= 0x80))
			return 0;
	return 1;
}

int
recipient_parse(const char *addr, size_t len, const char *delims, int fold,
                struct recipient *r, char *err, size_t errlen)
{
	const char *at;
	size_t i, llen, dlen;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < len; i++) {
		if (addr[i] == '\0') {
			snprintf(err, errlen, "NUL byte in recipient");
			return -1;
		}
		if (is_ctl((unsigned char)addr[i])) {
			snprintf(err, errlen, "control character in recipient");
			return -1;
		}
	}
	at = NULL;
	for (i = len; i > 0; i--)
		if (addr[i - 1] == '@') {
			at = addr + i - 1;
			break;
		}
	if (at == NULL) {
		snprintf(err, errlen, "recipient has no domain");
		return -1;
	}
	llen = (size_t)(at - addr);
	dlen = len - llen - 1;
	if (llen == 0 || dlen == 0) {
		snprintf(err, errlen, "empty local part or domain");
		return -1;
	}
	if (llen >= RECIPIENT_MAX || dlen >= RECIPIENT_MAX) {
		snprintf(err, errlen, "recipient too long");
		return -1;
	}
	memcpy(r->local, addr, llen);
	memcpy(r->domain, at + 1, dlen);
	fold_ascii(r->domain);
	if (fold)
		fold_ascii(r->local);
	if (!domain_ok(r->domain)) {
		snprintf(err, errlen, "bad domain");
		return -1;
	}

	/* user+ext: split at the first delimiter, unless that leaves no user
	 * ("+foo" is a user of its own name, as in Postfix). */
	i = (delims != NULL && *delims != '\0') ? strcspn(r->local, delims) : llen;
	if (i > 0 && i < llen) {
		memcpy(r->user, r->local, i);
		memcpy(r->ext, r->local + i + 1, llen - i - 1);
	} else {
		memcpy(r->user, r->local, llen);
	}
	/* Both the full local part and the user may name a directory. */
	if (!recipient_name_ok(r->user) || !recipient_name_ok(r->local)) {
		snprintf(err, errlen, "bad local part");
		return -1;
	}
	snprintf(r->address, sizeof(r->address), "%s@%s", r->local, r->domain);
	return 0;
}
