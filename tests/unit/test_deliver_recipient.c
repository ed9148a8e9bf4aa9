/*
 * test_deliver_recipient.c - unit tests for deliver/recipient.c and the
 * Maildir path check in deliver/mailbox.c: folding, the recipient
 * delimiter, and every hostile name that could leave maildir-base or
 * inject control characters ("../x@d", "a/b@d", ".x@d", NUL, CR, LF,
 * DEL), refused; plus the limits of a path component.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../deliver/mailbox.h"
#include "../../deliver/recipient.h"

struct rcase {
	const char *in;
	size_t len; /* 0: strlen(in) */
	int fold;
	int ok;
	const char *address, *user, *ext, *domain;
};

static const struct rcase cases[] = {
    {"alice@example.org", 0, 1, 1, "alice@example.org", "alice", "", "example.org"},
    {"Alice@Example.ORG", 0, 1, 1, "alice@example.org", "alice", "", "example.org"},
    {"Alice@Example.ORG", 0, 0, 1, "Alice@example.org", "Alice", "", "example.org"},
    {"bob+lists@d.org", 0, 1, 1, "bob+lists@d.org", "bob", "lists", "d.org"},
    {"bob-x+y@d.org", 0, 1, 1, "bob-x+y@d.org", "bob-x", "y", "d.org"},
    {"+only@d.org", 0, 1, 1, "+only@d.org", "+only", "", "d.org"},
    {"a@b@d.org", 0, 1, 1, "a@b@d.org", "a@b", "", "d.org"},
    {"x.y@sub.d-1.org", 0, 1, 1, "x.y@sub.d-1.org", "x.y", "", "sub.d-1.org"},
    {"j\xc3\xb6rg@d.org", 0, 1, 1, "j\xc3\xb6rg@d.org", "j\xc3\xb6rg", "", "d.org"},
    /* hostile or malformed */
    {"../x@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"..@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"a..b@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"a/b@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"/etc@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {".x@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {".@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"x@../d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"x@..", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"x@.d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"x@d/e", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"x@d.", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"x@d e", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"a\nb@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"a\rb@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"a\tb@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"a\x7f" "b@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"x@d\n", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"a\0b@d", 5, 1, 0, NULL, NULL, NULL, NULL},     /* NUL inside */
    {"x@d\0../../etc", 13, 1, 0, NULL, NULL, NULL, NULL},
    {"nodomain", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"x@", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"..+x@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {".hidden+x@d", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"x+../../y@d", 0, 1, 0, NULL, NULL, NULL, NULL}, /* whole local is a dir too */
    {"x+a/b@d", 0, 1, 0, NULL, NULL, NULL, NULL},
};

static void
test_parse(void **state)
{
	struct recipient r;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		int rc = recipient_parse(c->in, len, "+", c->fold, &r, err,
		                         sizeof(err));
		if ((rc == 0) != c->ok)
			fail_msg("case %zu (%s): got %d (%s)", i, c->in, rc,
			         rc ? err : "accepted");
		if (!c->ok)
			continue;
		assert_string_equal(r.address, c->address);
		assert_string_equal(r.user, c->user);
		assert_string_equal(r.ext, c->ext);
		assert_string_equal(r.domain, c->domain);
	}
}

static void
test_delimiters(void **state)
{
	struct recipient r;
	char err[256];

	(void)state;
	assert_int_equal(recipient_parse("a-b+c@d", 7, "+-", 1, &r, err,
	                                 sizeof(err)), 0);
	assert_string_equal(r.user, "a");
	assert_string_equal(r.ext, "b+c");
	assert_int_equal(recipient_parse("a+b@d", 5, "", 1, &r, err,
	                                 sizeof(err)), 0);
	assert_string_equal(r.user, "a+b");
	assert_int_equal(recipient_parse("a+b@d", 5, NULL, 1, &r, err,
	                                 sizeof(err)), 0);
	assert_string_equal(r.user, "a+b");
}

static void
test_lengths(void **state)
{
	char addr[700], err[256];
	struct recipient r;

	(void)state;
	memset(addr, 'a', 255);
	memcpy(addr + 255, "@d", 3);
	assert_int_equal(recipient_parse(addr, strlen(addr), "+", 1, &r, err,
	                                 sizeof(err)), 0);
	memset(addr, 'a', 256);
	memcpy(addr + 256, "@d", 3);
	assert_int_equal(recipient_parse(addr, strlen(addr), "+", 1, &r, err,
	                                 sizeof(err)), -1);
}

static void
test_paths(void **state)
{
	(void)state;
	assert_true(mailbox_path_ok("d.org/alice"));
	assert_true(mailbox_path_ok("d.org/alice/"));
	assert_true(mailbox_path_ok("x"));
	assert_false(mailbox_path_ok(""));
	assert_false(mailbox_path_ok("/abs/path"));
	assert_false(mailbox_path_ok("d.org/../etc"));
	assert_false(mailbox_path_ok(".."));
	assert_false(mailbox_path_ok("d.org/.hidden"));
	assert_false(mailbox_path_ok("d.org//x"));
	assert_false(mailbox_path_ok("d.org/a\nb"));
	assert_false(mailbox_path_ok("./x"));
	assert_false(recipient_name_ok("."));
	assert_false(recipient_name_ok("a/b"));
	assert_true(recipient_name_ok("a.b"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_delimiters),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
