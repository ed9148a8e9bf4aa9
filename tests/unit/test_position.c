/*
 * test_position.c - relayd/position.c: the saved positions file.
 *
 * Round trip (paths with spaces, large numbers), lookups that find
 * nothing, every kind of malformed line (table-driven, each must be an
 * error naming its line), and the atomic replace: the old file's inode is
 * untouched (a reader holding it sees the old content whole) and no
 * temporary file is left behind, after success or failure; privacy
 * (mode 0600, no planted link followed, no planted FIFO waited on).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../relayd/position.h"

struct env {
	char dir[1024];
	char file[PATH_MAX + 32];
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof *e);
	const char *tmp = getenv("LEAFMAIL_TMP");

	assert_non_null(e);
	snprintf(e->dir, sizeof e->dir, "%s/position.XXXXXX",
	         tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->file, sizeof e->file, "%s/relayd.positions", e->dir);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	DIR *d = opendir(e->dir);
	struct dirent *de;
	char p[PATH_MAX * 2];

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", e->dir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(e->dir);
	free(e);
	return 0;
}

static void write_raw(const char *file, const char *data, size_t len)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Names in the directory other than the positions file. */
static int strays(const struct env *e)
{
	DIR *d = opendir(e->dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, "relayd.positions") != 0)
			n++;
	closedir(d);
	return n;
}

static void test_round_trip(void **state)
{
	struct env *e = *state;
	char err[512];
	struct source_pos p;
	struct position_entry ent[] = {
		{"/var/log/dovecot.log", {2049, 131073, 4096, 0}},
		{"/var/log/with space/mail log", {1, 2, 0, 0}},
		{"/var/log/big", {UINT32_MAX, (ino_t)UINT64_MAX,
		                  (off_t)INT64_MAX, 0}},
		{"/p", {0, 0, 7, 0}},
	};
	char text[4096];

	assert_int_equal(position_save(e->file, ent, 4, err, sizeof err), 0);
	for (size_t i = 0; i < 4; i++) {
		memset(&p, 0, sizeof p);
		assert_int_equal(position_load(e->file, ent[i].path, &p, err,
		                               sizeof err), 1);
		assert_true(p.dev == ent[i].pos.dev);
		assert_true(p.ino == ent[i].pos.ino);
		assert_true(p.offset == ent[i].pos.offset);
	}
	/* Not a prefix match, not a suffix match. */
	assert_int_equal(position_load(e->file, "/var/log/with", &p, err,
	                               sizeof err), 0);
	assert_int_equal(position_load(e->file, "mail log", &p, err,
	                               sizeof err), 0);
	assert_int_equal(position_load(e->file, "/var/log/dovecot.log ", &p,
	                               err, sizeof err), 0);
	/* The documented format, byte for byte. */
	int fd = open(e->file, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	assert_string_equal(text,
	                    "2049 131073 4096 /var/log/dovecot.log\n"
	                    "1 2 0 /var/log/with space/mail log\n"
	                    "4294967295 18446744073709551615 "
	                    "9223372036854775807 /var/log/big\n"
	                    "0 0 7 /p\n");
	/* An empty set is a valid file too. */
	assert_int_equal(position_save(e->file, NULL, 0, err, sizeof err), 0);
	assert_int_equal(position_load(e->file, "/p", &p, err, sizeof err), 0);
}

static void test_no_file(void **state)
{
	struct env *e = *state;
	char err[256];
	struct source_pos p;

	assert_int_equal(position_load(e->file, "/x", &p, err, sizeof err), 0);
}

static void test_malformed(void **state)
{
	struct env *e = *state;
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		unsigned line;
	} bad[] = {
		{"1 2 3\n", 0, 1},                   /* no path */
		{"1 2 3 \n", 0, 1},                  /* empty path */
		{"1 2 x /p\n", 0, 1},                /* not a number */
		{"-1 2 3 /p\n", 0, 1},               /* sign */
		{"+1 2 3 /p\n", 0, 1},
		{"1 -2 3 /p\n", 0, 1},
		{" 1 2 3 /p\n", 0, 1},               /* leading space */
		{"1  2 3 /p\n", 0, 1},               /* two spaces */
		{"1\t2 3 /p\n", 0, 1},               /* tab */
		{"0x1 2 3 /p\n", 0, 1},              /* hex */
		{"1 2 3 /p", 0, 1},                  /* no newline: torn */
		{"\n", 0, 1},                        /* empty line */
		{"1 2 3 /a\n1 2 3 /b\ngarbage\n", 0, 3},
		{"1 2 3 /a\n1 2 3\n", 0, 2},
		{"18446744073709551616 2 3 /p\n", 0, 1}, /* > 2^64-1 */
		{"1 18446744073709551616 3 /p\n", 0, 1},
		{"1 2 9223372036854775808 /p\n", 0, 1},  /* > off_t */
		{"1 2 3 /p\0q\n", 11, 1},            /* NUL byte */
	};
	char err[512], want[64];
	struct source_pos p;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
		write_raw(e->file, bad[i].text, len);
		err[0] = '\0';
		/* Malformed wherever our own line is. */
		if (position_load(e->file, "/a", &p, err, sizeof err) != -1)
			fail_msg("case %zu accepted", i);
		snprintf(want, sizeof want, "line %u", bad[i].line);
		if (strstr(err, want) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, want);
		assert_non_null(strstr(err, e->file));
	}
	/* An unreadable file is an error, not "no position". */
	if (geteuid() != 0) {
		write_raw(e->file, "1 2 3 /a\n", 9);
		assert_int_equal(chmod(e->file, 0), 0);
		assert_int_equal(position_load(e->file, "/a", &p, err,
		                               sizeof err), -1);
	}
	/* A directory in its place as well. */
	unlink(e->file);
	assert_int_equal(mkdir(e->file, 0700), 0);
	assert_int_equal(position_load(e->file, "/a", &p, err, sizeof err), -1);
	rmdir(e->file);
}

static void test_atomic_replace(void **state)
{
	struct env *e = *state;
	char err[512], buf[256];
	struct position_entry a = {"/log", {1, 2, 3, 0}};
	struct position_entry b = {"/log", {1, 2, 999, 0}};
	struct position_entry nl = {"/bad\npath", {1, 2, 3, 0}};
	struct source_pos p;
	struct stat st1, st2;
	int fd;

	assert_int_equal(position_save(e->file, &a, 1, err, sizeof err), 0);
	assert_int_equal(strays(e), 0);
	assert_int_equal(stat(e->file, &st1), 0);
	/* A reader that opened the old file keeps the old content whole:
	 * the new one is a different file renamed into place. */
	fd = open(e->file, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(position_save(e->file, &b, 1, err, sizeof err), 0);
	assert_int_equal(stat(e->file, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	assert_int_equal(n, 11);
	buf[n] = '\0';
	assert_string_equal(buf, "1 2 3 /log\n");
	assert_int_equal(position_load(e->file, "/log", &p, err, sizeof err),
	                 1);
	assert_int_equal(p.offset, 999);
	assert_int_equal(strays(e), 0);

	/* Failure leaves the old file and nothing else. */
	assert_int_equal(position_save(e->file, &nl, 1, err, sizeof err), -1);
	assert_int_equal(strays(e), 0);
	assert_int_equal(position_load(e->file, "/log", &p, err, sizeof err),
	                 1);
	assert_int_equal(p.offset, 999);
	/* The target is a directory: rename fails after the temporary file
	 * was written; it must be removed. */
	char sub[PATH_MAX + 64];
	snprintf(sub, sizeof sub, "%s/d", e->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	char inner[PATH_MAX + 80];
	snprintf(inner, sizeof inner, "%s/x", sub);
	assert_int_equal(mkdir(inner, 0700), 0);
	assert_int_equal(position_save(inner, &a, 1, err, sizeof err), -1);
	assert_non_null(strstr(err, "rename"));
	rmdir(inner);
	DIR *d = opendir(sub);
	struct dirent *de;
	int left = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			left++;
	closedir(d);
	assert_int_equal(left, 0);
	rmdir(sub);
	/* A directory that does not exist. */
	snprintf(sub, sizeof sub, "%s/none/relayd.positions", e->dir);
	assert_int_equal(position_save(sub, &a, 1, err, sizeof err), -1);
	assert_int_equal(strays(e), 0);
}

/* The positions say who logged in when: private, and written only as a
 * new file renamed into place, so nothing planted at the name (a link to
 * another file, a FIFO) is ever written through or hangs a reader. */
static void test_private(void **state)
{
	struct env *e = *state;
	char err[512], victim[PATH_MAX + 32], buf[64];
	struct position_entry a = {"/log", {1, 2, 3, 1796669719350423181LL}};
	struct source_pos p;
	struct stat st;
	mode_t old = umask(0);

	assert_int_equal(position_save(e->file, &a, 1, err, sizeof err), 0);
	umask(old);
	assert_int_equal(stat(e->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* The birth time goes through as a fourth number. */
	int fd = open(e->file, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "1 2 3 1796669719350423181 /log\n");
	memset(&p, 0, sizeof p);
	assert_int_equal(position_load(e->file, "/log", &p, err, sizeof err),
	                 1);
	assert_true(p.birth == 1796669719350423181LL && p.offset == 3);
	/* A file written before birth times were kept: birth 0. */
	write_raw(e->file, "1 2 3 /log\n", 11);
	p.birth = 7;
	assert_int_equal(position_load(e->file, "/log", &p, err, sizeof err),
	                 1);
	assert_true(p.birth == 0);

	/* A symbolic link planted at the name: not followed to read, and
	 * replaced, not written through, when saving. */
	snprintf(victim, sizeof victim, "%s/victim", e->dir);
	write_raw(victim, "1 2 3 /log\n", 11);
	unlink(e->file);
	assert_int_equal(symlink(victim, e->file), 0);
	assert_int_equal(position_load(e->file, "/log", &p, err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "symbolic link"));
	assert_int_equal(position_save(e->file, &a, 1, err, sizeof err), 0);
	assert_int_equal(lstat(e->file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 11);

	/* A FIFO planted at the name: refused at once (a plain open would
	 * wait for a writer forever; the alarm turns a hang into a fail). */
	unlink(e->file);
	assert_int_equal(mkfifo(e->file, 0600), 0);
	alarm(10);
	assert_int_equal(position_load(e->file, "/log", &p, err, sizeof err),
	                 -1);
	alarm(0);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(e->file);
	unlink(victim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_no_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_atomic_replace, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_private, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
