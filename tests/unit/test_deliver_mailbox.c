/*
 * test_deliver_mailbox.c - unit tests for the file: mailbox backend
 * (deliver/mailbox_file.c) through mailbox_lookup(): known and unknown
 * users and domains, "@domain" lines, comments, case folding, the
 * optional quota and maildir-path fields, a path that would leave
 * maildir-base (refused as a configuration error), a missing file
 * (temporary failure) and an unknown backend.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../deliver/mailbox.h"

static char path[] = "/tmp/test_deliver_mbXXXXXX";
static char specbuf[64];
static struct mailbox_conf spec_mc = {specbuf, NULL, NULL};
#define spec (&spec_mc)

static int
setup(void **state)
{
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	fputs("# mailboxes\n"
	      "alice@example.org\n"
	      "  Bob@Example.ORG   100M   # with a quota\n"
	      "carol@example.org 1000S,10C example.org/c/\n"
	      "dave@example.org other/dave\n"
	      "eve@example.org - ../../etc\n"
	      "bad@example.org nonsense! x/y\n"
	      "@empty.org\n",
	      f);
	fclose(f);
	snprintf(specbuf, sizeof(specbuf), "file:%s", path);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return unlink(path);
}

static void
test_lookup(void **state)
{
	struct mailbox mb;
	char err[256];

	(void)state;
	assert_int_equal(mailbox_lookup(spec, "alice", "example.org", 1, &mb, err,
	                                sizeof(err)), MAILBOX_OK);
	assert_string_equal(mb.maildir, "example.org/alice");
	assert_int_equal(mb.quota.bytes + mb.quota.count, 0);

	assert_int_equal(mailbox_lookup(spec, "bob", "example.org", 1, &mb, err,
	                                sizeof(err)), MAILBOX_OK);
	assert_int_equal(mb.quota.bytes, 100 << 20);
	/* without folding, case matters in the local part only */
	assert_int_equal(mailbox_lookup(spec, "bob", "example.org", 0, &mb, err,
	                                sizeof(err)), MAILBOX_NOUSER);
	assert_int_equal(mailbox_lookup(spec, "Bob", "example.org", 0, &mb, err,
	                                sizeof(err)), MAILBOX_OK);

	assert_int_equal(mailbox_lookup(spec, "carol", "example.org", 1, &mb,
	                                err, sizeof(err)), MAILBOX_OK);
	assert_string_equal(mb.maildir, "example.org/c/");
	assert_int_equal(mb.quota.bytes, 1000);
	assert_int_equal(mb.quota.count, 10);

	assert_int_equal(mailbox_lookup(spec, "dave", "example.org", 1, &mb, err,
	                                sizeof(err)), MAILBOX_OK);
	assert_string_equal(mb.maildir, "other/dave");

	assert_int_equal(mailbox_lookup(spec, "eve", "example.org", 1, &mb, err,
	                                sizeof(err)), MAILBOX_CONFIG);
	assert_int_equal(mailbox_lookup(spec, "bad", "example.org", 1, &mb, err,
	                                sizeof(err)), MAILBOX_CONFIG);
	assert_int_equal(mailbox_lookup(spec, "zed", "example.org", 1, &mb, err,
	                                sizeof(err)), MAILBOX_NOUSER);
	assert_int_equal(mailbox_lookup(spec, "zed", "empty.org", 1, &mb, err,
	                                sizeof(err)), MAILBOX_NOUSER);
	assert_int_equal(mailbox_lookup(spec, "alice", "example.com", 1, &mb,
	                                err, sizeof(err)), MAILBOX_NODOMAIN);
	/* "@domain" must not make the empty local part a mailbox */
	assert_int_equal(mailbox_lookup(spec, "", "empty.org", 1, &mb, err,
	                                sizeof(err)), MAILBOX_NOUSER);
	/* a comment is not a mailbox */
	assert_int_equal(mailbox_lookup(spec, "#", "mailboxes", 1, &mb, err,
	                                sizeof(err)), MAILBOX_NODOMAIN);
}

static void
test_failures(void **state)
{
	struct mailbox mb;
	char err[256];
	struct mailbox_conf missing = {"file:/nonexistent/mailboxes", NULL, NULL};
	struct mailbox_conf ldap = {"ldap:x", NULL, NULL};

	(void)state;

	assert_int_equal(mailbox_lookup(&missing, "a", "b", 1, &mb, err,
	                                sizeof(err)), MAILBOX_TEMPFAIL);
	assert_non_null(strstr(err, "/nonexistent/mailboxes"));
	assert_int_equal(mailbox_lookup(&ldap, "a", "b", 1, &mb, err,
	                                sizeof(err)), MAILBOX_CONFIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
