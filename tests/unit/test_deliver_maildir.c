/*
 * test_deliver_maildir.c - unit tests for deliver/maildir.c and
 * deliver/quota.c: unique names and host escaping; a write landing whole
 * in new/ with its ",S=" size, tmp/ left empty, directories made 0700,
 * maildir_open refusing to follow a symlink out; Maildir++ quota parsing,
 * maildirsize accounting, and recalculation (missing file, changed quota,
 * file over 5120 bytes, stale and over quota, Maildir++ folders counted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../deliver/maildir.h"
#include "../../deliver/quota.h"

static char tmpl[] = "/tmp/test_deliver_XXXXXX";
static char *root;

static int
setup(void **state)
{
	(void)state;
	root = mkdtemp(tmpl);
	return root == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static int
count_files(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
test_names(void **state)
{
	char host[64], name[256];

	(void)state;
	maildir_host(host, sizeof(host), "mx1.example.org");
	assert_string_equal(host, "mx1.example.org");
	maildir_host(host, sizeof(host), "a/b:c");
	assert_string_equal(host, "a\\057b\\072c");
	assert_int_equal(maildir_uniqname(name, sizeof(name), 1700000000, 42,
	                                  1234, 7, "h", 99), 0);
	assert_string_equal(name, "1700000000.M000042P1234Q7.h,S=99");
	assert_int_equal(quota_size_from_name(name), 99);
	assert_int_equal(quota_size_from_name("1.M1P1Q1.h,S=12:2,S"), 12);
	assert_int_equal(quota_size_from_name("1.M1P1Q1.h,S=12,W=14:2,"), 12);
	assert_int_equal(quota_size_from_name("1.M1P1Q1.h"), -1);
	assert_int_equal(quota_size_from_name("1.h,S=x"), -1);
	assert_int_equal(maildir_uniqname(name, 10, 1700000000, 42, 1234, 7,
	                                  "h", 99), -1);
}

static void
test_write(void **state)
{
	char path[512], name[256], err[256], buf[64];
	struct iovec iov[2] = {{"Head: x\n", 8}, {"\nbody\n", 6}};
	struct stat st;
	int fd, eno = 0, i;

	(void)state;
	fd = maildir_open(root, "d.org/alice", err, sizeof(err));
	assert_true(fd >= 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(maildir_write(fd, iov, 2, name, sizeof(name), &eno,
		                               err, sizeof(err)), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/d.org/alice/new", root);
	assert_int_equal(count_files(path), 3);
	snprintf(path, sizeof(path), "%s/d.org/alice/tmp", root);
	assert_int_equal(count_files(path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/d.org/alice", root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_non_null(strstr(name, ",S=14"));
	snprintf(path, sizeof(path), "%s/d.org/alice/new/%s", root, name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 14);
	close(fd);
	assert_memory_equal(buf, "Head: x\n\nbody\n", 14);
}

static void
test_no_escape(void **state)
{
	char path[512], err[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/evil.org", root);
	assert_int_equal(symlink("/etc", path), 0);
	assert_int_equal(maildir_open(root, "evil.org/x", err, sizeof(err)), -1);
	assert_int_equal(maildir_open(root, "d.org/../../etc", err,
	                              sizeof(err)), -1);
	assert_int_equal(maildir_open(root, "d.org/.x", err, sizeof(err)), -1);
}

static void
test_quota_parse(void **state)
{
	struct quota_limit q;
	char s[64];

	(void)state;
	assert_int_equal(quota_parse("1000S,10C", &q), 0);
	assert_int_equal(q.bytes, 1000);
	assert_int_equal(q.count, 10);
	quota_format(s, sizeof(s), &q);
	assert_string_equal(s, "1000S,10C");
	assert_int_equal(quota_parse("10C,1000S", &q), 0);
	assert_int_equal(q.bytes, 1000);
	assert_int_equal(quota_parse("5C", &q), 0);
	quota_format(s, sizeof(s), &q);
	assert_string_equal(s, "5C");
	assert_int_equal(quota_parse("2M", &q), 0);
	assert_int_equal(q.bytes, 2 << 20);
	assert_int_equal(q.count, 0);
	quota_format(s, sizeof(s), &q);
	assert_string_equal(s, "2097152S");
	assert_int_equal(quota_parse("123", &q), 0);
	assert_int_equal(q.bytes, 123);
	assert_int_equal(quota_parse("-", &q), 0);
	assert_int_equal(q.bytes + q.count, 0);
	assert_int_equal(quota_parse("x", &q), -1);
	assert_int_equal(quota_parse("10S,", &q), -1);
	assert_int_equal(quota_parse("10S,5S", &q), -1);
	assert_int_equal(quota_parse("10X", &q), -1);
	assert_int_equal(quota_parse("d.org/alice", &q), -1);
	assert_int_equal(quota_parse("99999999999999999999", &q), -1);
}

static void
put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_quota(void **state)
{
	struct quota_limit q = {1000, 5};
	struct quota_usage u;
	char err[256], path[512], buf[256];
	struct timespec old[2];
	int fd, i;
	FILE *f;

	(void)state;
	fd = maildir_open(root, "q.org/bob", err, sizeof(err));
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "mkdir -p '%s/q.org/bob/cur' "
	         "'%s/q.org/bob/new' '%s/q.org/bob/.Sent/cur'", root, root, root);
	assert_int_equal(system(path), 0);
	put("q.org/bob/cur/1.M1P1Q1.h,S=100:2,S", "x");
	put("q.org/bob/new/2.M1P1Q1.h,S=200", "x");
	put("q.org/bob/new/3.nosize", "0123456789"); /* stat: 10 bytes */
	put("q.org/bob/.Sent/cur/4.M1P1Q1.h,S=50:2,S", "x");

	/* missing maildirsize: rebuilt from the files */
	assert_int_equal(quota_check(fd, &q, 100, time(NULL), &u, err,
	                             sizeof(err)), 0);
	assert_int_equal(u.bytes, 360);
	assert_int_equal(u.count, 4);
	snprintf(path, sizeof(path), "%s/q.org/bob/maildirsize", root);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, sizeof(buf), f), 15);
	fclose(f);
	assert_memory_equal(buf, "1000S,5C\n360 4\n", 15);

	/* appended lines are summed; the count limit bites at 5 */
	assert_int_equal(quota_add(fd, 100, 1, err, sizeof(err)), 0);
	assert_int_equal(quota_check(fd, &q, 10, time(NULL), &u, err,
	                             sizeof(err)), 1);
	assert_int_equal(u.bytes, 460);
	assert_int_equal(u.count, 5);
	/* an expunge line (negative) from the IMAP server frees room */
	put("q.org/bob/maildirsize", "1000S,5C\n360 4\n100 1\n-100 -1\n");
	assert_int_equal(quota_check(fd, &q, 640, time(NULL), &u, err,
	                             sizeof(err)), 0);
	assert_int_equal(quota_check(fd, &q, 641, time(NULL), &u, err,
	                             sizeof(err)), 1);

	/* over quota by the file, but the file is stale (older than 15
	 * minutes): a recount finds the truth (4 messages, 360 bytes) */
	put("q.org/bob/maildirsize", "1000S,5C\n990 4\n");
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 16 * 60;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(quota_check(fd, &q, 100, time(NULL), &u, err,
	                             sizeof(err)), 0);
	assert_int_equal(u.bytes, 360);
	/* ... but a fresh file is believed */
	put("q.org/bob/maildirsize", "1000S,5C\n990 4\n");
	assert_int_equal(quota_check(fd, &q, 100, time(NULL), &u, err,
	                             sizeof(err)), 1);

	/* changed quota definition: recount */
	q.bytes = 2000;
	assert_int_equal(quota_check(fd, &q, 100, time(NULL), &u, err,
	                             sizeof(err)), 0);
	assert_int_equal(u.bytes, 360);

	/* a file of 5120 bytes or more: recount */
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "2000S,5C\n");
	for (i = 0; i < 1500; i++) /* 6009 bytes */
		fprintf(f, "1 0\n");
	fclose(f);
	assert_int_equal(quota_check(fd, &q, 100, time(NULL), &u, err,
	                             sizeof(err)), 0);
	assert_int_equal(u.bytes, 360);
	/* a torn last line (a writer mid-append): recount, no garbage */
	put("q.org/bob/maildirsize", "2000S,5C\n360 4\n12");
	assert_int_equal(quota_check(fd, &q, 100, time(NULL), &u, err,
	                             sizeof(err)), 0);
	assert_int_equal(u.bytes, 360);
	/* quota_add with no file leaves it missing */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(quota_add(fd, 5, 1, err, sizeof(err)), 0);
	assert_int_equal(access(path, F_OK), -1);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_write),
	    cmocka_unit_test(test_no_escape),
	    cmocka_unit_test(test_quota_parse),
	    cmocka_unit_test(test_quota),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
