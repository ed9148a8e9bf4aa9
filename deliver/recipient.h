/*
 * recipient.h - parse, fold and check one envelope recipient for delivery.
 *
 *   recipient_parse(addr, len, delims, fold, &r, err, errlen)
 *       Split "local@domain" at the last '@', lower-case the domain (always)
 *       and the local part (when fold), split the local part at the first
 *       recipient-delimiter character into user and extension.  len is the
 *       byte count of addr, so an embedded NUL (possible over LMTP) is seen
 *       and refused instead of silently cutting the address short.
 *   recipient_name_ok(name)
 *       1 when name can be one path component under maildir-base.
 *
 * Refused (-1, reason in err): no '@', empty parts, too long, NUL or
 * control characters, and for user and domain anything that could leave
 * maildir-base: '/', "..", a leading '.'.  The domain must also look like a
 * host name (letters, digits, '-', '_', '.', and 8-bit bytes).
 */
#ifndef LEAFMAIL_RECIPIENT_H
#define LEAFMAIL_RECIPIENT_H

#include <stddef.h>

#define RECIPIENT_MAX 256 /* one path component, NUL included */

struct recipient {
	char address[2 * RECIPIENT_MAX]; /* folded local@domain, as delivered */
	char local[RECIPIENT_MAX];       /* folded local part, extension kept */
	char user[RECIPIENT_MAX];        /* local part without the extension */
	char ext[RECIPIENT_MAX];         /* extension ("" when none) */
	char domain[RECIPIENT_MAX];      /* lower-cased domain */
};

int recipient_parse(const char *addr, size_t len, const char *delims, int fold,
                    struct recipient *r, char *err, size_t errlen);
int recipient_name_ok(const char *name);

#endif
