/*
 * test_mailaddr.c - unit tests for lib/mailaddr.c: blanks and one pair of
 * angle brackets stripped, "<>" empty, and the size limit exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "mailaddr.h"

static void
test_strip(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"<a@b>", "a@b"},
	    {"a@b", "a@b"},
	    {" \t<id@host>\r\n", "id@host"},
	    {"<<a@b>>", "<a@b>"}, /* one pair only */
	    {"<a@b", "<a@b"},     /* unbalanced: kept as it is */
	    {"<>", ""},
	    {"  ", ""},
	    {"", ""},
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(mailaddr_strip(cases[i].in, out, sizeof out),
		                 (long)strlen(cases[i].out));
		assert_string_equal(out, cases[i].out);
	}
}

static void
test_limit(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(mailaddr_strip("<abc>", out, sizeof out), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(mailaddr_strip("<abcd>", out, sizeof out), -1);
	assert_int_equal(mailaddr_strip("a", out, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strip),
	    cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
