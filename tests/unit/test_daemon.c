/*
 * test_daemon.c - start-up helpers: the pid file lock refuses a second
 * instance and names the first; a missing user is an error; directories
 * are created (and handed to the user when we are root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"

static char dir[] = "/tmp/leafmail-daemon-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[256];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_pidfile(void **state)
{
	char path[512], err[512], buf[64];
	int fd, st;
	pid_t pid;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "%s/x.pid", dir);
	fd = daemon_pidfile_lock(path, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(daemon_pidfile_write(fd, err, sizeof(err)), 0);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_int_equal(atol(buf), (long)getpid());

	/* Another process (a second instance) must be refused, naming us. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char e[512];
		int fd2 = daemon_pidfile_lock(path, e, sizeof(e));
		char want[64];
		snprintf(want, sizeof(want), "already running as pid %ld",
		         (long)getppid());
		_exit(fd2 < 0 && strstr(e, want) != NULL ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* Once we let go, a new instance may start. */
	close(fd);
	pid = fork();
	if (pid == 0) {
		char e[512];
		_exit(daemon_pidfile_lock(path, e, sizeof(e)) >= 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_user(void **state)
{
	struct daemon_user u;
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
	assert_int_equal(daemon_user_lookup("no-such-user-xyz", &u, err,
	                                    sizeof(err)), -1);
	assert_non_null(strstr(err, "no-such-user-xyz"));
	assert_int_equal(daemon_user_lookup("root", &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "root"));
	assert_int_equal(daemon_user_lookup("nobody", &u, err, sizeof(err)), 0);
	assert_true(u.is_root);
	assert_true(u.uid != 0);
}

static void
test_dirs_and_drop(void **state)
{
	struct daemon_user u;
	char s[512], r[512], err[512];
	struct stat st;
	pid_t pid;
	int status;

	(void)state;
	snprintf(s, sizeof(s), "%s/state/deep", dir);
	snprintf(r, sizeof(r), "%s/run", dir);
	assert_int_equal(daemon_user_lookup(geteuid() == 0 ? "nobody" : NULL, &u,
	                                    err, sizeof(err)), 0);
	assert_int_equal(daemon_prepare_dirs(&u, s, r, err, sizeof(err)), 0);
	assert_int_equal(stat(s, &st), 0);
	assert_int_equal(st.st_uid, u.uid);
	assert_int_equal(stat(r, &st), 0);
	assert_int_equal(st.st_uid, u.uid);
	if (!u.is_root)
		return;
	/* The switch is for good: the child cannot get root back. */
	pid = fork();
	if (pid == 0) {
		char e[512];
		if (daemon_drop_privs(&u, e, sizeof(e)) != 0)
			_exit(2);
		_exit(getuid() == u.uid && geteuid() == u.uid && setuid(0) != 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pidfile),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_dirs_and_drop),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
