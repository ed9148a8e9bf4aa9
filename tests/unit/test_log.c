/*
 * test_log.c - unit tests for lib/log.c's syslog path: the record format
 * (as syslog(3) writes it), no stall while the syslog socket is missing,
 * and the reconnect once it is back (an rsyslog restart).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char dir[] = "/tmp/leafmail-test-log.XXXXXX";
static char path[100];

static int
listen_dgram(void)
{
	struct sockaddr_un sun;
	struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_syslog(void **state)
{
	char buf[4096], want[128];
	ssize_t n;
	double t0;
	int fd, i, got = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	fd = listen_dgram();
	log_set_syslog_path(path);
	log_init("logtest", 0, 0);

	/* One record, in syslog(3)'s format, facility mail. */
	log_info("hello %d", 5);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_memory_equal(buf, "<22>", 4); /* LOG_MAIL | LOG_INFO */
	snprintf(want, sizeof(want), " logtest[%ld]: hello 5", (long)getpid());
	assert_non_null(strstr(buf, want));
	assert_int_equal(buf[n - 1], '5'); /* no newline, no NUL */
	log_warnx("bad");
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	assert_memory_equal(buf, "<19>", 4); /* LOG_MAIL | LOG_ERR */

	/* The daemon goes away: logging neither fails nor stalls (a stall
	 * would hang here until the suite's per-test timeout; no speed is
	 * asserted, a loaded machine is no bug). */
	close(fd);
	unlink(path);
	for (i = 0; i < 100000; i++)
		log_info("into the void %d", i);

	/* It comes back: a reconnect is tried about once a second, so we
	 * reach it again; 60 s is only a bound on a broken reconnect. */
	fd = listen_dgram();
	t0 = now();
	while (!got && now() - t0 < 60.0) {
		log_info("again");
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			got = strstr(buf, ": again") != NULL;
		}
	}
	assert_true(got);
	close(fd);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syslog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
