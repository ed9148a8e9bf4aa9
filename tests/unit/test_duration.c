/*
 * test_duration.c - unit tests for lib/duration.c: every unit, "0",
 * and the malformed and overflowing values that must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>

#include "duration.h"

struct dcase {
	const char *in;
	int ok;
	long long secs;
};

static const struct dcase cases[] = {
	{"0", 1, 0},
	{"0s", 1, 0},
	{"0w", 1, 0},
	{"1s", 1, 1},
	{"30s", 1, 30},
	{"10m", 1, 600},
	{"2h", 1, 7200},
	{"7d", 1, 604800},
	{"1w", 1, 604800},
	{"2w", 1, 1209600},
	{"90m", 1, 5400},
	{"007s", 1, 7},
	{"9223372036854775807s", 1, LLONG_MAX},
	{"152720145287894m", 1, 152720145287894LL * 60},
	/* refused */
	{"", 0, 0},
	{"00", 0, 0},
	{"30", 0, 0},
	{"1", 0, 0},
	{"s", 0, 0},
	{"-1s", 0, 0},
	{"+1s", 0, 0},
	{"-0", 0, 0},
	{" 30s", 0, 0},
	{"30s ", 0, 0},
	{"30 s", 0, 0},
	{"30S", 0, 0},
	{"30x", 0, 0},
	{"30ms", 0, 0},
	{"30ss", 0, 0},
	{"1h30m", 0, 0},
	{"1.5h", 0, 0},
	{"0x10s", 0, 0},
	{"30s\n", 0, 0},
	{"9223372036854775808s", 0, 0},
	{"99999999999999999999s", 0, 0},
	{"153722867280912931m", 0, 0},
	{"15250284452472w", 0, 0},
	{"15250284452471w", 1, 15250284452471LL * 604800},
	{"106751991167301d", 0, 0},
};

static void
test_duration_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dcase *c = &cases[i];
		long long v = -12345;
		int rc = duration_parse(c->in, &v);

		if ((rc == 0) != c->ok || (c->ok && v != c->secs))
			print_error("\"%s\": rc %d value %lld, want %s %lld\n", c->in,
			            rc, v, c->ok ? "ok" : "error", c->secs);
		assert_int_equal(rc, c->ok ? 0 : -1);
		if (c->ok)
			assert_int_equal(v, c->secs);
		else
			assert_int_equal(v, -12345); /* untouched on error */
	}
}

static void
test_duration_null(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(duration_parse(NULL, &v), -1);
	assert_int_equal(duration_parse("1s", NULL), -1);
}

/* the largest value of each unit is accepted, one more overflows */
static void
test_duration_limits(void **state)
{
	static const struct {
		char unit;
		long long mult;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};

	(void)state;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char s[40];
		long long max = LLONG_MAX / units[i].mult, v;

		snprintf(s, sizeof(s), "%lld%c", max, units[i].unit);
		assert_int_equal(duration_parse(s, &v), 0);
		assert_int_equal(v, max * units[i].mult);
		snprintf(s, sizeof(s), "%llu%c", (unsigned long long)max + 1,
		         units[i].unit);
		assert_int_equal(duration_parse(s, &v), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_table),
	    cmocka_unit_test(test_duration_null),
	    cmocka_unit_test(test_duration_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
