/*
 * test_secret.c - unit tests for lib/secret.c: which files secret_read()
 * accepts (regular, mode 0600/0400, within max) and refuses (group or
 * other bits, directory, symlink, FIFO, too large, empty, missing), the
 * error text, and secret_equal().
 *
 * Files live in a mkdtemp() directory under $TMPDIR (or /tmp), removed by
 * the group teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"

static char dir[4096];

/* Names created under dir, removed by teardown. */
static const char *const names[] = {"s600", "s400", "s700", "s640", "s604",
                                    "s660", "s602", "big",  "empty", "link",
                                    "fifo", "sub"};

static const char *
path_of(const char *name)
{
	static char p[4200]; /* one at a time: callers copy if they need two */

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void
make_file(const char *name, const char *content, size_t len, mode_t mode)
{
	const char *p = path_of(name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	/* chmod, not the open mode: the umask must not change the test */
	assert_int_equal(chmod(p, mode), 0);
}

static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/leafmail-secret-XXXXXX",
	         t != NULL && *t != '\0' ? t : "/tmp");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *p = path_of(names[i]);
		if (unlink(p) == -1)
			rmdir(p);
	}
	return rmdir(dir);
}

static void
test_accepted(void **state)
{
	static const struct {
		const char *name;
		mode_t mode;
	} ok[] = {{"s600", 0600}, {"s400", 0400}, {"s700", 0700}};
	const char key[] = "k3y\0with NUL and newline\n";

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		unsigned char *buf = NULL;
		size_t len = 0;
		char err[512] = "";

		make_file(ok[i].name, key, sizeof(key) - 1, ok[i].mode);
		if (secret_read(path_of(ok[i].name), 1024, &buf, &len, err,
		                sizeof(err)) != 0)
			print_error("%s refused: %s\n", ok[i].name, err);
		assert_non_null(buf);
		assert_int_equal(len, sizeof(key) - 1);
		assert_memory_equal(buf, key, len);
		free(buf);
	}
}

static void
test_mode_refused(void **state)
{
	static const struct {
		const char *name;
		mode_t mode;
		const char *shown;
	} bad[] = {{"s640", 0640, "0640"},
	           {"s604", 0604, "0604"},
	           {"s660", 0660, "0660"},
	           {"s602", 0602, "0602"}};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char *buf = NULL;
		size_t len = 0;
		char err[512] = "";
		const char *p;

		make_file(bad[i].name, "secret", 6, bad[i].mode);
		p = path_of(bad[i].name);
		assert_int_equal(secret_read(p, 1024, &buf, &len, err, sizeof(err)),
		                 -1);
		assert_null(buf);
		/* the message names the file and its mode and says what to do */
		if (strstr(err, p) == NULL || strstr(err, bad[i].shown) == NULL ||
		    strstr(err, "chmod 600") == NULL)
			print_error("%s: message \"%s\"\n", bad[i].name, err);
		assert_non_null(strstr(err, p));
		assert_non_null(strstr(err, bad[i].shown));
		assert_non_null(strstr(err, "chmod 600"));
	}
}

static void
expect_refused(const char *name, size_t max, const char *why)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char err[512] = "";

	assert_int_equal(secret_read(path_of(name), max, &buf, &len, err,
	                             sizeof(err)),
	                 -1);
	assert_null(buf);
	if (strstr(err, why) == NULL)
		print_error("%s: message \"%s\", want \"%s\"\n", name, err, why);
	assert_non_null(strstr(err, why));
	assert_non_null(strstr(err, dir)); /* names the path */
}

static void
test_not_regular(void **state)
{
	(void)state;
	assert_int_equal(mkdir(path_of("sub"), 0700), 0);
	expect_refused("sub", 1024, "not a regular file");

	make_file("s600", "secret", 6, 0600);
	char target[4200];
	snprintf(target, sizeof(target), "%s", path_of("s600"));
	assert_int_equal(symlink(target, path_of("link")), 0);
	expect_refused("link", 1024, "symbolic link");

	/* a FIFO must be refused at once, not block in open() */
	assert_int_equal(mkfifo(path_of("fifo"), 0600), 0);
	expect_refused("fifo", 1024, "not a regular file");

	expect_refused("missing", 1024, "No such file");
}

static void
test_size(void **state)
{
	char data[100];
	unsigned char *buf = NULL;
	size_t len = 0;
	char err[512] = "";

	(void)state;
	memset(data, 'x', sizeof(data));
	make_file("big", data, sizeof(data), 0600);
	expect_refused("big", 99, "larger than 99 bytes");
	expect_refused("big", 0, "larger than");
	/* exactly max is fine */
	assert_int_equal(secret_read(path_of("big"), 100, &buf, &len, err,
	                             sizeof(err)),
	                 0);
	assert_int_equal(len, 100);
	free(buf);

	make_file("empty", "", 0, 0600);
	expect_refused("empty", 1024, "empty");
}

static void
test_no_err_buffer(void **state)
{
	unsigned char *buf = NULL;
	size_t len;

	(void)state;
	make_file("s640", "secret", 6, 0640);
	assert_int_equal(secret_read(path_of("s640"), 1024, &buf, &len, NULL, 0),
	                 -1);
	assert_int_equal(secret_read(NULL, 1024, &buf, &len, NULL, 0), -1);
}

static void
test_equal(void **state)
{
	unsigned char a[64], b[64];

	(void)state;
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (unsigned char)(i * 7 + 3);
	assert_int_equal(secret_equal(a, b, sizeof(a)), 1);
	assert_int_equal(secret_equal(a, b, 0), 1);
	b[0] ^= 1;
	assert_int_equal(secret_equal(a, b, sizeof(a)), 0);
	assert_int_equal(secret_equal(a + 1, b + 1, sizeof(a) - 1), 1);
	b[0] ^= 1;
	b[63] ^= 0x80;
	assert_int_equal(secret_equal(a, b, sizeof(a)), 0);
	assert_int_equal(secret_equal(a, b, sizeof(a) - 1), 1);
	assert_int_equal(secret_equal("abc", "abd", 3), 0);
	assert_int_equal(secret_equal("abc", "abc", 3), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_mode_refused),
	    cmocka_unit_test(test_not_regular),
	    cmocka_unit_test(test_size),
	    cmocka_unit_test(test_no_err_buffer),
	    cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
