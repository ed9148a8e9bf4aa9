/*
 * test_listen.c - unit tests for lib/listen.c: HOST:PORT forms accepted
 * and refused, port ranges, and a real listening socket on loopback
 * (non-blocking, close-on-exec, refused when the port is taken).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"

static void
test_split(void **state)
{
	static const struct {
		const char *in, *host, *port;
	} good[] = {
	    {"127.0.0.1:10025", "127.0.0.1", "10025"},
	    {"[::1]:24", "::1", "24"},
	    {"localhost:25", "localhost", "25"},
	    {"[2001:db8::5]:2526", "2001:db8::5", "2526"},
	};
	static const char *bad[] = {"127.0.0.1", "127.0.0.1:", ":25", "::1:25",
	                            "[::1:25", "[]:25", "[::1]25", ""};
	char *h, *p;

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_int_equal(hostport_split(good[i].in, &h, &p), 0);
		assert_string_equal(h, good[i].host);
		assert_string_equal(p, good[i].port);
		free(h);
		free(p);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(hostport_split(bad[i], &h, &p), -1);
		assert_null(h);
		assert_null(p);
	}
}

static void
test_port(void **state)
{
	(void)state;
	assert_true(hostport_port_ok("1"));
	assert_true(hostport_port_ok("65535"));
	assert_false(hostport_port_ok("0"));
	assert_false(hostport_port_ok("65536"));
	assert_false(hostport_port_ok("-1"));
	assert_false(hostport_port_ok("+25"));
	assert_false(hostport_port_ok("25x"));
	assert_false(hostport_port_ok(""));
	assert_false(hostport_port_ok("99999999999999999999"));
}

static void
test_listen(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	char err[256], port[16];
	int fd, fd2;

	(void)state;
	fd = listen_inet("127.0.0.1", "0", err, sizeof err);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(port, sizeof port, "%u", ntohs(sin.sin_port));
	/* Taken: a clear error naming the address. */
	fd2 = listen_inet("127.0.0.1", port, err, sizeof err);
	assert_int_equal(fd2, -1);
	assert_non_null(strstr(err, "listen on 127.0.0.1:"));
	close(fd);
	/* A service name is not a port (no lookup, so no network needed). */
	assert_int_equal(listen_inet("127.0.0.1", "smtp", err, sizeof err), -1);
	assert_non_null(strstr(err, "listen on 127.0.0.1:smtp: "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_port),
	    cmocka_unit_test(test_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
