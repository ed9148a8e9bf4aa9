/*
 * duration.c - parse configuration durations ("30s", "10m", "2h", "7d",
 * "1w"; "0" alone is zero).
 *
 * Interface: duration_parse(s, &seconds) -> 0, or -1 when s is malformed.
 *
 * Strict on purpose: one run of decimal digits, then exactly one unit
 * letter, nothing else.  No sign, no spaces, no bare number other than "0"
 * (is "30" seconds or minutes?  The reader of the config file should not
 * have to guess), no compound forms ("1h30m").  The value must fit in a
 * long long; overflow is checked before each multiplication, so a huge
 * number is an error rather than a wrapped, possibly negative, time.
 */
#include "duration.h"

#include <limits.h>
#include <stddef.h>

static long long
unit_seconds(char u)
{
	switch (u) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 60 * 60;
	case 'd':
		return 24 * 60 * 60;
	case 'w':
		return 7 * 24 * 60 * 60;
	default:
		return 0;
	}
}

int
duration_parse(const char *s, long long *out)
{
	long long n = 0, mult;
	const char *p;

	if (s == NULL || out == NULL)
		return -1;
	if (s[0] == '0' && s[1] == '\0') {
		*out = 0;
		return 0;
	}
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		int d = *p - '0';

		if (n > (LLONG_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	if (p == s)
		return -1; /* empty, sign, space, or a unit without a number */
	mult = unit_seconds(p[0]);
	if (mult == 0 || p[1] != '\0')
		return -1;
	if (n > LLONG_MAX / mult)
		return -1;
	*out = n * mult;
	return 0;
}
