/*
 * test_deliver_dynlib.c - unit tests for deliver/dynlib.c, the loader of
 * the SQLite and PostgreSQL client libraries: symbols resolved from a
 * real library, and the two failures a user can meet (library not
 * installed, library without a symbol) each with a message naming it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "../../deliver/dynlib.h"

static struct {
	pid_t (*getpid)(void);
	size_t (*strlen)(const char *);
} fns;

static void
test_load(void **state)
{
	const struct dynlib_sym syms[] = {
	    {"getpid", (void **)&fns.getpid},
	    {"strlen", (void **)&fns.strlen},
	};
	char err[256] = "";

	(void)state;
	assert_int_equal(dynlib_load("libc.so.6", syms, 2, err, sizeof err), 0);
	assert_string_equal(err, "");
	assert_int_equal(fns.getpid(), getpid());
	assert_int_equal(fns.strlen("four"), 4);
}

static void
test_missing_library(void **state)
{
	void *slot = NULL;
	const struct dynlib_sym syms[] = {{"x", &slot}};
	char err[256] = "";

	(void)state;
	assert_int_equal(dynlib_load("libleafmail-none.so.9", syms, 1, err,
	                             sizeof err), -1);
	assert_non_null(strstr(err, "libleafmail-none.so.9"));
}

static void
test_missing_symbol(void **state)
{
	void *a = NULL, *b = NULL;
	const struct dynlib_sym syms[] = {{"getpid", &a},
	                                  {"leafmail_no_such_symbol", &b}};
	char err[256] = "";

	(void)state;
	assert_int_equal(dynlib_load("libc.so.6", syms, 2, err, sizeof err), -1);
	assert_string_equal(err, "libc.so.6: no leafmail_no_such_symbol");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_missing_library),
	    cmocka_unit_test(test_missing_symbol),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
