/*
 * test_logtime.c - unit tests for relayd/logtime.c: syslog timestamps
 * without a year (resolved against a fixed "now", including the new-year
 * rollover and a clock a little behind the log), RFC 3339 with offsets,
 * how many bytes are consumed, refusals, and a zone other than UTC (with
 * daylight saving time, and switching TZ back, which the per-hour cache
 * must notice).  Expected times are written out as epochs computed
 * independently (date -u -d ... +%s).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../relayd/logtime.h"

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

struct tcase {
	const char *in;
	long long now;
	size_t consumed; /* 0: not a timestamp */
	long long want;  /* epoch, when consumed > 0 */
};

static void
run(const struct tcase *c, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)-777;
		size_t r = logtime_parse(c[i].in, strlen(c[i].in), (time_t)c[i].now, &t);
		if (r != c[i].consumed || (r > 0 && (long long)t != c[i].want)) {
			print_error("\"%s\" (now %lld): consumed %zu want %zu, time %lld "
			            "want %lld\n",
			            c[i].in, c[i].now, r, c[i].consumed, (long long)t,
			            c[i].want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

#define NOW 1795348800LL /* 2026-11-22T12:00:00Z */

static void
test_syslog_utc(void **state)
{
	(void)state;
	set_tz("UTC");
	static const struct tcase c[] = {
	    {"Nov 22 04:25:18 host dovecot: x", NOW, 16, 1795321518},
	    {"Nov 22 04:25:18", NOW, 15, 1795321518},
	    {"Nov  2 04:25:18 x", NOW, 16, 1793593518},
	    {"Nov 02 04:25:18 x", NOW, 16, 1793593518},
	    /* year rollover: now = 2027-01-01T00:00:10Z */
	    {"Dec 31 23:59:59 x", 1798761610LL, 16, 1798761599},
	    /* the log a little ahead of our clock: now = 2026-12-31T23:59:50Z */
	    {"Jan  1 00:00:05 x", 1798761590LL, 16, 1798761605},
	    /* not more than a day ahead, else last year */
	    {"Nov 23 11:59:59 x", NOW, 16, 1795435199},
	    {"Nov 23 12:00:01 x", NOW, 16, 1763899201},
	    /* Feb 29: the leap year near now, or "long ago" (0) */
	    {"Feb 29 12:00:00 x", 1835481600LL, 16, 1835438400},
	    {"Feb 29 12:00:00 x", 1804204800LL, 16, 0},
	    /* refused */
	    {"Nov 22 04:25:1", NOW, 0, 0},
	    {"Nov 22 04:25:18x", NOW, 0, 0},
	    {"Nov 32 04:25:18 x", NOW, 0, 0},
	    {"Nov 00 04:25:18 x", NOW, 0, 0},
	    {"Nov 22 24:00:00 x", NOW, 0, 0},
	    {"Nov 22 04:60:00 x", NOW, 0, 0},
	    {"Nov 22 04:25:61 x", NOW, 0, 0},
	    {"nov 22 04:25:18 x", NOW, 0, 0},
	    {"Foo 22 04:25:18 x", NOW, 0, 0},
	    {"Nov 22 4:25:18 x", NOW, 0, 0},
	    {"Nov 2a 04:25:18 x", NOW, 0, 0},
	    {"Nov  a 04:25:18 x", NOW, 0, 0},
	    {"Nov 22 04-25-18 x", NOW, 0, 0},
	    {"pop3-login: Login: user=<a>", NOW, 0, 0},
	    {"", NOW, 0, 0},
	};
	run(c, sizeof c / sizeof c[0]);
}

static void
test_rfc3339(void **state)
{
	(void)state;
	set_tz("UTC");
	static const struct tcase c[] = {
	    {"2026-11-22T04:25:18.123456+00:00 host", NOW, 33, 1795321518},
	    {"2026-11-22T04:25:18Z host", NOW, 21, 1795321518},
	    {"2026-11-22t04:25:18z", NOW, 20, 1795321518},
	    {"2026-11-22T05:25:18+01:00 x", NOW, 26, 1795321518},
	    {"2026-11-21T23:25:18-05:00 x", NOW, 26, 1795321518},
	    {"2026-11-22T09:55:18+05:30 x", NOW, 26, 1795321518},
	    {"2026-11-22T04:25:18.1Z x", NOW, 23, 1795321518},
	    {"2026-11-22T04:25:18,5Z x", NOW, 23, 1795321518},
	    {"2026-11-22T04:25:18.123456789Z x", NOW, 31, 1795321518},
	    /* no offset: local time (UTC here); Dovecot "%Y-%m-%d %H:%M:%S " */
	    {"2026-11-22 04:25:18 pop3-login:", NOW, 20, 1795321518},
	    {"2026-11-22T04:25:18", NOW, 19, 1795321518},
	    /* far from now: the year is the line's */
	    {"1999-12-31T23:59:59Z x", NOW, 21, 946684799},
	    {"2028-02-29T12:00:00Z x", NOW, 21, 1835438400},
	    /* refused */
	    {"2026-13-01T00:00:00Z x", NOW, 0, 0},
	    {"2026-02-29T00:00:00Z x", NOW, 0, 0},
	    {"2026-04-31T00:00:00Z x", NOW, 0, 0},
	    {"2026-11-00T00:00:00Z x", NOW, 0, 0},
	    {"2026-11-22T25:00:00Z x", NOW, 0, 0},
	    {"2026-11-22T04:25:18+0100 x", NOW, 0, 0},
	    {"2026-11-22T04:25:18+01 x", NOW, 0, 0},
	    {"2026-11-22T04:25:18+24:00 x", NOW, 0, 0},
	    {"2026-11-22T04:25:18.Z x", NOW, 0, 0},
	    {"2026-11-22T04:25:18.1234567890Z x", NOW, 0, 0},
	    {"2026-11-22T04:25:18Zx", NOW, 0, 0},
	    {"2026-11-22T04:25:18x", NOW, 0, 0},
	    {"2026-11-22X04:25:18Z", NOW, 0, 0},
	    {"2026-11-22T04:25", NOW, 0, 0},
	    {"26-11-22T04:25:18Z", NOW, 0, 0},
	    {"2026/11/22 04:25:18", NOW, 0, 0},
	};
	run(c, sizeof c / sizeof c[0]);
}

/* Length is honoured: nothing is read past len, and a timestamp cut short
 * by len is not one. */
static void
test_length(void **state)
{
	(void)state;
	set_tz("UTC");
	const char *s = "Nov 22 04:25:18 x";
	const char *r = "2026-11-22T04:25:18+01:00 x";
	time_t t;
	for (size_t n = 0; n < 15; n++) {
		char *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
		memcpy(copy, s, n);
		assert_int_equal(logtime_parse(copy, n, (time_t)NOW, &t), 0);
		free(copy);
	}
	for (size_t n = 0; n < 25; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, r, n);
		size_t got = logtime_parse(copy, n, (time_t)NOW, &t);
		/* "2026-11-22T04:25:18" alone (19 bytes) is local time. */
		assert_int_equal(got, n == 19 ? 19 : 0);
		free(copy);
	}
}

static void
test_other_zone(void **state)
{
	(void)state;
	set_tz("America/New_York");
	static const struct tcase c[] = {
	    /* November: EST, UTC-5 */
	    {"Nov 22 04:25:18 x", NOW, 16, 1795339518},
	    {"2026-11-22 04:25:18 x", NOW, 20, 1795339518},
	    /* an explicit offset does not depend on the zone */
	    {"2026-11-22T04:25:18Z x", NOW, 21, 1795321518},
	    /* July: EDT, UTC-4; now = 2026-07-05T00:00:00Z */
	    {"Jul  4 12:00:00 x", 1783209600LL, 16, 1783180800},
	};
	run(c, sizeof c / sizeof c[0]);

	/* Back to UTC: the same text now means another instant. */
	set_tz("UTC");
	static const struct tcase u[] = {
	    {"Nov 22 04:25:18 x", NOW, 16, 1795321518},
	};
	run(u, 1);
	set_tz("America/New_York");
	static const struct tcase n[] = {
	    {"Nov 22 04:25:18 x", NOW, 16, 1795339518},
	};
	run(n, 1);
	set_tz("UTC");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_syslog_utc),
	    cmocka_unit_test(test_rfc3339),
	    cmocka_unit_test(test_length),
	    cmocka_unit_test(test_other_zone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
