/*
 * test_milter_util.c - unit tests for the milter's small modules:
 * milter/logsafe.c (escaping client text for logs), milter/socket.c
 * (socket specs, modes, stale-socket handling against real unix sockets)
 * and milter/session.c (client address from the MTA's sockaddr).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "logsafe.h"
#include "../../milter/session.h"
#include "unixsock.h"
#include "unixsock_testutil.h"

/* --- logsafe --- */

struct esc_case {
	const char *in;
	size_t outlen;
	const char *out;
};

static const struct esc_case esc_cases[] = {
	{"<a@b.example>", 64, "<a@b.example>"},
	{"a\r\nb", 64, "a\\x0d\\x0ab"},
	{"tab\there", 64, "tab\\x09here"},
	{"back\\slash", 64, "back\\\\slash"},
	{"\x7f\x80\xff", 64, "\\x7f\\x80\\xff"},
	{"", 64, ""},
	{NULL, 64, "(null)"},
	{"0123456789", 11, "0123456789"},
	{"01234567890", 11, "0123456..."},
	{"0123\n", 8, "0123..."},
	{"ab\n", 8, "ab\\x0a"},
};

static void
test_logsafe(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		char out[64];

		logsafe_str(esc_cases[i].in, out, esc_cases[i].outlen);
		if (strcmp(out, esc_cases[i].out) != 0)
			print_error("row %zu: got \"%s\"\n", i, out);
		assert_string_equal(out, esc_cases[i].out);
		assert_true(strlen(out) < esc_cases[i].outlen);
	}
}

/* --- socket specs and modes --- */

static void
test_unix_path(void **state)
{
	char buf[200], longp[300];

	(void)state;
	assert_int_equal(socket_unix_path("unix:/run/x.sock", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "/run/x.sock");
	assert_int_equal(socket_unix_path("local:/run/y", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "/run/y");
	assert_int_equal(socket_unix_path("/run/z", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "/run/z");
	assert_int_equal(socket_unix_path("inet:8891@127.0.0.1", buf, sizeof(buf)), 0);
	assert_int_equal(socket_unix_path("inet6:8891@[::1]", buf, sizeof(buf)), 0);
	assert_int_equal(socket_unix_path("unix:", buf, sizeof(buf)), -1);
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "unix:/", 6);
	longp[5 + 108] = '\0'; /* a 108-byte path: no room for the NUL */
	assert_int_equal(socket_unix_path(longp, buf, sizeof(buf)), -1);
	longp[5 + 107] = '\0';
	assert_int_equal(socket_unix_path(longp, buf, sizeof(buf)), 1);
}

static void
test_parse_mode(void **state)
{
	mode_t m;

	(void)state;
	assert_int_equal(socket_parse_mode("0660", &m), 0);
	assert_int_equal(m, 0660);
	assert_int_equal(socket_parse_mode("600", &m), 0);
	assert_int_equal(m, 0600);
	assert_int_equal(socket_parse_mode("0", &m), 0);
	assert_int_equal(m, 0);
	assert_int_equal(socket_parse_mode("0777", &m), 0);
	assert_int_equal(socket_parse_mode("1777", &m), -1);
	assert_int_equal(socket_parse_mode("0999", &m), -1);
	assert_int_equal(socket_parse_mode("", &m), -1);
	assert_int_equal(socket_parse_mode("06600", &m), -1);
	assert_int_equal(socket_parse_mode("rw", &m), -1);
	assert_int_equal(socket_parse_mode(NULL, &m), -1);
}

/* --- socket_clear_stale against real sockets --- */

static char tmpdir[64];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_milter_util.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A unix socket bound at path; listening when listen_too. */
static int
bound_socket(const char *path, int listen_too)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listen_too)
		assert_int_equal(listen(fd, 5), 0);
	return fd;
}

static void
test_probe(void **state)
{
	char path[128], err[256];
	struct stat st;
	int fd, dfd;
	FILE *f;

	(void)state;
	dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	snprintf(path, sizeof(path), "%s/m.sock", tmpdir);
	assert_int_equal(socket_probe_at(dfd, "m.sock", path, err, sizeof(err)),
	                 SOCKET_ABSENT);

	/* Someone listens: hands off. */
	fd = bound_socket(path, 1);
	assert_int_equal(socket_probe_at(dfd, "m.sock", path, err, sizeof(err)),
	                 SOCKET_INUSE);
	assert_non_null(strstr(err, "is listening on this socket"));

	/* A link to that live socket is not a socket, and not followed. */
	assert_int_equal(symlinkat(path, dfd, "link.sock"), 0);
	assert_int_equal(socket_probe_at(dfd, "link.sock", "link", err,
	                                 sizeof(err)), SOCKET_NOTSOCK);
	close(fd);

	/* The listener is gone, its file stays: stale, left for the
	 * rename that replaces it. */
	assert_int_equal(socket_probe_at(dfd, "m.sock", path, err, sizeof(err)),
	                 SOCKET_STALE);
	assert_int_equal(lstat(path, &st), 0);
	unlink(path);

	/* Bound but never listening answers ECONNREFUSED too. */
	fd = bound_socket(path, 0);
	assert_int_equal(socket_probe_at(dfd, "m.sock", path, err, sizeof(err)),
	                 SOCKET_STALE);
	close(fd);
	unlink(path);

	/* A regular file is never touched. */
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(socket_probe_at(dfd, "m.sock", path, err, sizeof(err)),
	                 SOCKET_NOTSOCK);
	assert_int_equal(lstat(path, &st), 0);
	assert_non_null(strstr(err, "not a socket"));
	unlink(path);
	unlinkat(dfd, "link.sock", 0);
	close(dfd);
}

static int
bind_fails(void *arg, const char *path, char *err, size_t errlen)
{
	(void)arg;
	(void)path;
	snprintf(err, errlen, "no");
	return -1;
}

/* socket_create_at: the socket appears with its mode, replaces what the
 * name held (a link is replaced, its target untouched), and leaves no
 * temporary directory behind, after success or failure. */
static void
test_create(void **state)
{
	char path[128], target[128], err[256];
	struct stat st;
	int fd, dfd, n = 0;
	FILE *f;
	DIR *dir;
	struct dirent *de;

	(void)state;
	dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	snprintf(path, sizeof(path), "%s/c.sock", tmpdir);
	snprintf(target, sizeof(target), "%s/target", tmpdir);
	f = fopen(target, "w");
	assert_non_null(f);
	fputs("keep", f);
	fclose(f);
	assert_int_equal(chmod(target, 0600), 0);
	assert_int_equal(symlink(target, path), 0);

	fd = socket_create_at(dfd, "c.sock", 0640, (uid_t)-1, (gid_t)-1,
	                      testutil_bind, NULL, err, sizeof(err));
	assert_true(fd > 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(stat(target, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(socket_probe_at(dfd, "c.sock", path, err, sizeof(err)),
	                 SOCKET_INUSE);
	close(fd);

	/* Over the stale one. */
	fd = socket_create_at(dfd, "c.sock", 0600, (uid_t)-1, (gid_t)-1,
	                      testutil_bind, NULL, err, sizeof(err));
	assert_true(fd > 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
	assert_int_equal(socket_create_at(dfd, "c.sock", 0600, (uid_t)-1,
	                                  (gid_t)-1, bind_fails, NULL, err,
	                                  sizeof(err)), -1);
	assert_string_equal(err, "no");

	dir = fdopendir(dup(dfd));
	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL)
		n += strncmp(de->d_name, ".sock-", 6) == 0;
	closedir(dir);
	assert_int_equal(n, 0);
	unlink(path);
	unlink(target);
	close(dfd);
}

/* --- session --- */

static void
test_session(void **state)
{
	struct policy p;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
	struct session *s;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(cidr_list_add(&p.trusted, "192.0.2.0/24"), 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.9", &sin.sin_addr);
	s = session_new((struct sockaddr *)&sin, &p);
	assert_non_null(s);
	assert_int_equal(s->has_addr, 1);
	assert_string_equal(s->client, "192.0.2.9");
	assert_int_equal(s->trusted, 1);
	session_free(s);

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
	s = session_new((struct sockaddr *)&sin6, &p);
	assert_non_null(s);
	assert_string_equal(s->client, "192.0.2.7");
	assert_int_equal(s->trusted, 1);
	session_free(s);

	inet_pton(AF_INET6, "2001:DB8:0:0:0:0:0:5", &sin6.sin6_addr);
	s = session_new((struct sockaddr *)&sin6, &p);
	assert_non_null(s);
	assert_string_equal(s->client, "2001:db8::5");
	assert_int_equal(s->trusted, 0);
	session_free(s);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	s = session_new((struct sockaddr *)&sun, &p);
	assert_non_null(s);
	assert_int_equal(s->has_addr, 0);
	assert_int_equal(s->trusted, 0);
	assert_string_equal(s->client, "unknown");
	session_free(s);

	s = session_new(NULL, &p);
	assert_non_null(s);
	assert_int_equal(s->has_addr, 0);
	session_free(s);
	policy_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logsafe),
		cmocka_unit_test(test_unix_path),
		cmocka_unit_test(test_parse_mode),
		cmocka_unit_test_setup_teardown(test_probe, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_create, setup_dir, teardown_dir),
		cmocka_unit_test(test_session),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
