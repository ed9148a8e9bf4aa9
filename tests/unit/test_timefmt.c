/*
 * test_timefmt.c - lib/timefmt.c: RFC 3339 UTC times, and "?" for a
 * buffer too short or a year outside 0..9999.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "timefmt.h"

static const struct {
	long long t;
	size_t len;
	const char *want;
} cases[] = {
    {0, 32, "1970-01-01T00:00:00Z"},
    {2000000000, 32, "2033-05-18T03:33:20Z"},
    {951782400, 21, "2000-02-29T00:00:00Z"}, /* exactly fits */
    {951782400, 20, "?"},
    {253402300800LL, 32, "?"}, /* 10000-01-01 */
    {-1, 32, "1969-12-31T23:59:59Z"},
};

static void
test_cases(void **state)
{
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		timefmt_utc((time_t)cases[i].t, buf, cases[i].len);
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("%lld: \"%s\", want \"%s\"", cases[i].t, buf,
			         cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
