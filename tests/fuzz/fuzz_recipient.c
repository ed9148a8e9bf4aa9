/*
 * fuzz_recipient.c - libFuzzer target for deliver/recipient.c, the parser
 * that turns an envelope recipient (from pipe(8) argv or an LMTP RCPT)
 * into the path components under maildir-base.
 *
 * The input is the address, NULs included (LMTP can carry them).  The
 * first byte picks case folding and the delimiter set.  For every address
 * the parser accepts, the user and the domain must each be one harmless
 * path component, checked here independently of recipient_name_ok(): no
 * '/', not "." or "..", no leading '.', no control character, and the
 * domain folded to lower case.  A violation aborts, which libFuzzer
 * reports as a finding.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recipient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
must_be_component(const char *s)
{
	const unsigned char *p;

	if (s[0] == '\0' || s[0] == '.' || strchr(s, '/') != NULL)
		abort();
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	if (!recipient_name_ok(s))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *delims[] = {"+", "+-", "", "@"};
	struct recipient r;
	char err[256];
	int fold;
	const char *d;

	if (size == 0)
		return 0;
	fold = data[0] & 1;
	d = delims[(data[0] >> 1) & 3];
	data++;
	size--;
	memset(&r, 0, sizeof r);
	if (recipient_parse((const char *)data, size, d, fold, &r, err,
	                    sizeof err) != 0)
		return 0;
	must_be_component(r.user);
	must_be_component(r.domain);
	for (const char *p = r.domain; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
	if (memchr(data, '\0', size) != NULL)
		abort(); /* an embedded NUL must have been refused */
	if (strchr(r.address, '@') == NULL)
		abort();
	return 0;
}
