/*
 * test_deliver_pgsql.c - unit tests for mailbox_pgsql_positional()
 * (deliver/mailbox_pgsql.c), which turns the configured queries' named
 * parameters into libpq's $1..$3: names replaced outside literals,
 * quoted identifiers, comments and dollar quotes; "::" casts kept; a
 * positional parameter or an unknown name refused; a too small buffer
 * refused.  Table-driven; needs no PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../deliver/mailbox.h"

static const struct {
	const char *in, *out; /* out NULL: refused */
} cases[] = {
    {"SELECT 1 FROM d WHERE name = :domain", "SELECT 1 FROM d WHERE name = $2"},
    {"SELECT maildir, quota FROM mailbox WHERE local_part = :local AND "
     "domain = :domain AND active",
     "SELECT maildir, quota FROM mailbox WHERE local_part = $1 AND "
     "domain = $2 AND active"},
    {"SELECT 1 FROM m WHERE username = :address", "SELECT 1 FROM m WHERE username = $3"},
    {"x = :domain::text", "x = $2::text"},
    {"x = ':local' OR y = :local", "x = ':local' OR y = $1"},
    {"x = 'it''s :local' AND y=:domain", "x = 'it''s :local' AND y=$2"},
    {"x = E'\\' :local' AND y=:domain", "x = E'\\' :local' AND y=$2"},
    {"SELECT \":local\" FROM t WHERE a=:local", "SELECT \":local\" FROM t WHERE a=$1"},
    {"SELECT 1 -- :nope\nWHERE a=:local", "SELECT 1 -- :nope\nWHERE a=$1"},
    {"SELECT /* :nope */ 1 WHERE a=:local", "SELECT /* :nope */ 1 WHERE a=$1"},
    {"SELECT $q$:nope$q$ WHERE a=:local", "SELECT $q$:nope$q$ WHERE a=$1"},
    {"SELECT a[1:2] FROM t", "SELECT a[1:2] FROM t"},
    {"a = :localpart", NULL},
    {"a = :user", NULL},
    {"a = $1", NULL},
};

static void
test_table(void **state)
{
	char out[256], err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = mailbox_pgsql_positional(cases[i].in, out, sizeof(out), err,
		                                 sizeof(err));
		if (cases[i].out == NULL) {
			if (r != -1)
				fail_msg("accepted: %s -> %s", cases[i].in, out);
			assert_non_null(strstr(err, ":local"));
		} else {
			if (r != 0)
				fail_msg("refused: %s (%s)", cases[i].in, err);
			assert_string_equal(out, cases[i].out);
		}
	}
}

static void
test_too_small(void **state)
{
	char out[8], err[128];

	(void)state;
	assert_int_equal(mailbox_pgsql_positional("SELECT 1 FROM t", out,
	                                          sizeof(out), err, sizeof(err)),
	                 -1);
	assert_int_equal(mailbox_pgsql_positional("SELECT", out, sizeof(out), err,
	                                          sizeof(err)),
	                 0);
	assert_string_equal(out, "SELECT");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_too_small),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
