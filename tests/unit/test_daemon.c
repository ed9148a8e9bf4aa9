/*
 * test_daemon.c - the start-up (lib/daemon.h, lib/safedir.h): the pid file
 * lock refuses a second instance and names the first; a link planted in
 * place of the pid file is replaced, its target untouched; a missing user
 * is an error; directories are created for the user, and refused, table
 * by table, when the user could replace them; a unix socket gets its
 * owner; the switch to the user is for good.  As root the user is
 * "nobody"; as an ordinary user the checks that need root are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "safedir.h"
#include "unixsock_testutil.h"

static char dir[] = "/tmp/leafmail-daemon-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	/* nobody must reach what we make here */
	return chmod(dir, 0755);
}

static int
teardown(void **state)
{
	char cmd[256];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *
user(void)
{
	return geteuid() == 0 ? "nobody" : NULL;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void
assert_untouched(const char *path, const char *text)
{
	char buf[64] = "";
	struct stat st;
	FILE *f;

	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_mode & 07777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, text);
}

static void
test_pidfile(void **state)
{
	char run[512], path[600], buf[64];
	struct daemon d;
	struct stat st;
	int status;
	pid_t pid;
	FILE *fp;

	(void)state;
	snprintf(run, sizeof(run), "%s/run-pid", dir);
	snprintf(path, sizeof(path), "%s/x.pid", run);
	assert_int_equal(daemon_init(&d, "x", user()), 0);
	assert_int_equal(daemon_dirs(&d, NULL, run), 0);
	assert_int_equal(daemon_lock(&d), 0);
	assert_int_equal(daemon_ready(&d), 0);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_int_equal(atol(buf), (long)getpid());
	/* made by the user, readable by all: a pid is no secret */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, d.u.uid);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* Another process (a second instance) must be refused, naming us. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct daemon d2;
		char want[64];
		snprintf(want, sizeof(want), "already running as pid %ld",
		         (long)getppid());
		_exit(daemon_init(&d2, "x", user()) == 0 &&
		              daemon_dirs(&d2, NULL, run) == 0 &&
		              daemon_lock(&d2) < 0 && d2.ex == DAEMON_EX_UNAVAILABLE &&
		              strstr(d2.err, want) != NULL
		          ? 0
		          : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Once we let go (the file removed), a new instance may start. */
	daemon_end(&d);
	assert_int_equal(lstat(path, &st), -1);
	pid = fork();
	if (pid == 0) {
		struct daemon d2;
		_exit(daemon_init(&d2, "x", user()) == 0 &&
		              daemon_dirs(&d2, NULL, run) == 0 &&
		              daemon_lock(&d2) == 0
		          ? 0
		          : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The service account planted a link in run-dir where the pid file goes:
 * a symbolic one, then a hard one (root links here what the account could
 * with fs.protected_hardlinks = 0).  Root's file keeps its owner, mode and
 * content; the pid file is made afresh. */
static void
test_pidfile_planted(void **state)
{
	char run[512], path[600], target[512];
	struct daemon d;
	struct stat st;

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(run, sizeof(run), "%s/run-planted", dir);
	snprintf(path, sizeof(path), "%s/x.pid", run);
	snprintf(target, sizeof(target), "%s/secret", dir);
	write_file(target, "root only\n", 0600);
	for (int hard = 0; hard <= 1; hard++) {
		assert_int_equal(daemon_init(&d, "x", user()), 0);
		assert_int_equal(daemon_dirs(&d, NULL, run), 0);
		unlink(path);
		assert_int_equal(hard ? link(target, path) : symlink(target, path), 0);
		assert_int_equal(daemon_lock(&d), 0);
		assert_int_equal(daemon_ready(&d), 0);
		assert_untouched(target, "root only\n");
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_uid, d.u.uid);
		assert_int_equal(st.st_nlink, 1);
		daemon_end(&d);
	}
}

static void
test_user(void **state)
{
	struct daemon_user u;
	struct daemon d;
	char err[512];

	(void)state;
	if (geteuid() != 0) {
		/* An ordinary user is itself, whatever is configured. */
		assert_int_equal(daemon_user_lookup("no-such-user-xyz", &u, err,
		                                    sizeof(err)), 0);
		assert_int_equal(u.uid, geteuid());
		assert_false(u.is_root);
		return;
	}
	assert_int_equal(daemon_init(&d, "x", "no-such-user-xyz"), -1);
	assert_int_equal(d.ex, DAEMON_EX_CONFIG);
	assert_non_null(strstr(d.err, "no-such-user-xyz"));
	assert_int_equal(daemon_user_lookup("root", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "root"));
	assert_int_equal(daemon_user_lookup("nobody", &u, err, sizeof(err)), 0);
	assert_true(u.is_root);
	assert_true(u.uid != 0);
	assert_true(u.ngroups >= 1);
}

static void
test_dirs_and_drop(void **state)
{
	char s[512], r[512];
	struct daemon d;
	struct stat st;
	pid_t pid;
	int status;

	(void)state;
	snprintf(s, sizeof(s), "%s/state/deep", dir);
	snprintf(r, sizeof(r), "%s/run", dir);
	assert_int_equal(daemon_init(&d, "x", user()), 0);
	assert_int_equal(daemon_dirs(&d, s, r), 0);
	assert_int_equal(stat(s, &st), 0);
	assert_int_equal(st.st_uid, d.u.uid);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(stat(r, &st), 0);
	assert_int_equal(st.st_uid, d.u.uid);
	/* the parents made on the way stay ours */
	snprintf(s, sizeof(s), "%s/state", dir);
	assert_int_equal(stat(s, &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	daemon_end(&d);
	if (!d.u.is_root)
		return;
	/* The switch is for good: the child cannot get root back. */
	pid = fork();
	if (pid == 0) {
		if (daemon_drop(&d) != 0)
			_exit(2);
		_exit(getuid() == d.u.uid && geteuid() == d.u.uid && setuid(0) != 0
		          ? 0
		          : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* safedir_open, table by table: which directories on the way the user
 * may write decides; where a symbolic link sits decides, not where it
 * leads. */
static void
test_safedir(void **state)
{
	struct daemon_user u;
	char err[1024], p[600], q[600], base[512];
	struct stat st;
	int fd;
	enum { ROOT, USER, GROUP }; /* the first directory's owner */
	static const struct {
		const char *make;  /* two directories under base */
		mode_t mode;       /* of the first one */
		int owner;
		const char *open;  /* path under base */
		int want;          /* 0 opens, else SAFEDIR_UNSAFE */
	} cases[] = {
		{"a/b", 0755, ROOT, "a/b", 0},
		{"c/d", 0755, USER, "c/d", SAFEDIR_UNSAFE},   /* parent is the user's */
		{"c2/d", 0755, USER, "c2", 0},                /* itself the user's */
		{"e/f", 0777, ROOT, "e/f", SAFEDIR_UNSAFE},   /* anyone may write */
		{"g/h", 01777, ROOT, "g/h", 0},               /* sticky, h is root's */
		{"i/j", 01777, USER, "i/j", SAFEDIR_UNSAFE},  /* sticky, the user's */
		{"k/l", 0775, GROUP, "k/l", SAFEDIR_UNSAFE},  /* the user's group */
		{"m/n", 0775, ROOT, "m/n", 0},                /* root's group */
	};

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(daemon_user_lookup("nobody", &u, err, sizeof(err)), 0);
	snprintf(base, sizeof(base), "%s/sd", dir);
	assert_int_equal(mkdir(base, 0755), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *m = cases[i].make;
		char first[600];
		snprintf(p, sizeof(p), "%s/%s", base, m);
		snprintf(first, sizeof(first), "%s/%.*s", base,
		         (int)strcspn(m, "/"), m);
		assert_int_equal(mkdir(first, 0755), 0);
		assert_int_equal(mkdir(p, 0755), 0);
		assert_int_equal(chmod(first, cases[i].mode), 0);
		if (cases[i].owner != ROOT)
			assert_int_equal(chown(first, cases[i].owner == USER ? u.uid : 0,
			                       u.gid), 0);
		snprintf(q, sizeof(q), "%s/%s", base, cases[i].open);
		fd = safedir_open(q, &u, 0, err, sizeof(err));
		if (cases[i].want == 0) {
			assert_true(fd >= 0);
			close(fd);
		} else {
			assert_int_equal(fd, cases[i].want);
			assert_non_null(strstr(err, "refusing"));
		}
	}

	/* A link in a safe directory to a safe one: followed. */
	snprintf(p, sizeof(p), "%s/a/b", base);
	snprintf(q, sizeof(q), "%s/ln", base);
	assert_int_equal(symlink("a/b", q), 0);
	fd = safedir_open(q, &u, SAFEDIR_CREATE | SAFEDIR_GIVE, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, u.uid);
	/* The same link inside a directory of the user's: refused, even
	 * though it leads somewhere safe, and nothing is handed over. */
	assert_int_equal(chown(p, 0, 0), 0);
	snprintf(q, sizeof(q), "%s/c2/evil", base);
	assert_int_equal(symlink("../a/b", q), 0);
	snprintf(q, sizeof(q), "%s/c2/evil/x", base);
	assert_int_equal(safedir_open(q, &u, SAFEDIR_CREATE | SAFEDIR_GIVE, err,
	                              sizeof(err)), SAFEDIR_UNSAFE);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 0);
	snprintf(q, sizeof(q), "%s/a/b/x", base);
	assert_int_equal(stat(q, &st), -1);
	/* A leaf that is a regular file is not a directory. */
	snprintf(q, sizeof(q), "%s/file", base);
	write_file(q, "x", 0600);
	assert_int_equal(safedir_open(q, &u, SAFEDIR_CREATE, err, sizeof(err)), -1);
	/* GIVE_NEW leaves an existing directory alone. */
	snprintf(q, sizeof(q), "%s/a", base);
	fd = safedir_open(q, &u, SAFEDIR_CREATE | SAFEDIR_GIVE_NEW, err,
	                  sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_uid, 0);
}

/* daemon_listen_unix: owner and mode set; in use, or not a socket: 69. */
static void
test_listen_unix(void **state)
{
	char run[512], path[600];
	struct daemon d;
	struct stat st;
	int fd, stale;

	(void)state;
	snprintf(run, sizeof(run), "%s/run-sock", dir);
	snprintf(path, sizeof(path), "%s/s.sock", run);
	assert_int_equal(daemon_init(&d, "x", user()), 0);
	assert_int_equal(daemon_dirs(&d, NULL, run), 0);
	fd = daemon_listen_unix(&d, path, 0660, (gid_t)-1, testutil_bind, NULL, &stale);
	assert_true(fd > 0);
	assert_int_equal(stale, 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_uid, d.u.uid);
	assert_int_equal(st.st_gid, d.u.gid);
	assert_int_equal(daemon_listen_unix(&d, path, 0660, (gid_t)-1, testutil_bind,
	                                    NULL, &stale), -1);
	assert_int_equal(d.ex, DAEMON_EX_UNAVAILABLE);
	close(fd);
	fd = daemon_listen_unix(&d, path, 0600, (gid_t)-1, testutil_bind, NULL, &stale);
	assert_true(fd > 0);
	assert_int_equal(stale, 1);
	close(fd);
	daemon_end(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pidfile),
		cmocka_unit_test(test_pidfile_planted),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_dirs_and_drop),
		cmocka_unit_test(test_safedir),
		cmocka_unit_test(test_listen_unix),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
