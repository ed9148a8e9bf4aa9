/*
 * test_lograte.c - lib/lograte.c: the burst per window, the count of
 * lines left out said with the next line let through or by the summary
 * once the window is over, a backwards clock, and many threads at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "lograte.h"

/* One step: at time t, take (or summary when summary=1), expect allow and
 * the count reported. */
struct step {
	long long t;
	int summary;
	int allow;
	unsigned long count;
};

static void
run_steps(const struct step *s, size_t n, unsigned burst, long long iv)
{
	struct lograte lr;

	lograte_init(&lr, burst, iv);
	for (size_t i = 0; i < n; i++) {
		unsigned long c = 99;
		if (s[i].summary) {
			c = lograte_summary(&lr, s[i].t);
		} else {
			int a = lograte_take(&lr, s[i].t, &c);
			if (a != s[i].allow)
				fail_msg("step %zu: allow %d, expected %d", i, a,
				         s[i].allow);
		}
		if (c != s[i].count)
			fail_msg("step %zu: count %lu, expected %lu", i, c,
			         s[i].count);
	}
}

static void
test_burst_then_count(void **state)
{
	(void)state;
	static const struct step s[] = {
	    {0, 0, 1, 0},     {1, 0, 1, 0},    {2, 0, 1, 0},
	    {3, 0, 0, 0},     {4, 0, 0, 0},    {999, 0, 0, 0},
	    {500, 1, 0, 0},   /* window not over: no summary yet */
	    {1000, 0, 1, 3},  /* new window: the three left out said */
	    {1001, 0, 1, 0},  {1002, 0, 1, 0}, {1003, 0, 0, 0},
	    {1500, 1, 0, 0},  {2003, 1, 0, 1}, /* flood over: summary */
	    {2004, 1, 0, 0},  /* said once */
	    {2005, 0, 1, 0},  /* a new window after the summary */
	};
	run_steps(s, sizeof s / sizeof s[0], 3, 1000);
}

static void
test_zero_burst_counts_everything(void **state)
{
	(void)state;
	static const struct step s[] = {
	    {0, 0, 0, 0}, {10, 0, 0, 0}, {100, 1, 0, 2}, {100, 1, 0, 0},
	};
	run_steps(s, sizeof s / sizeof s[0], 0, 100);
}

static void
test_clock_backwards(void **state)
{
	(void)state;
	/* A monotonic clock does not go back, but a caller's may: a time
	 * before the window opens a new one rather than closing the gate
	 * for good. */
	static const struct step s[] = {
	    {5000, 0, 1, 0}, {5001, 0, 0, 0}, {10, 0, 1, 1}, {11, 0, 0, 0},
	};
	run_steps(s, sizeof s / sizeof s[0], 1, 1000);
}

struct th {
	struct lograte *lr;
	unsigned long allowed, reported;
};

/* Every thread at the same moment (one window): whatever the
 * interleaving, exactly `burst` lines pass and every other is counted. */
static void *
hammer(void *arg)
{
	struct th *t = arg;
	for (int i = 0; i < 100000; i++) {
		unsigned long c;
		if (lograte_take(t->lr, 0, &c))
			t->allowed++;
		t->reported += c;
	}
	return NULL;
}

static void
test_threads_account_for_every_line(void **state)
{
	(void)state;
	struct lograte lr;
	struct th t[4];
	pthread_t id[4];
	unsigned long allowed = 0, reported = 0;

	lograte_init(&lr, 5, 10);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct th){.lr = &lr};
		assert_int_equal(pthread_create(&id[i], NULL, hammer, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(id[i], NULL);
		allowed += t[i].allowed;
		reported += t[i].reported;
	}
	assert_int_equal(allowed, 5);
	reported += lograte_summary(&lr, 1000000);
	/* Every line was either written or counted in some report. */
	assert_int_equal(allowed + reported, 400000);
}

static void
test_slightly_earlier_is_the_same_window(void **state)
{
	(void)state;
	static const struct step s[] = {
	    {100, 0, 1, 0}, {99, 0, 0, 0},  /* a reading from just before */
	    {50, 0, 0, 0},  {1100, 0, 1, 2}, /* 1000 after the start: new */
	};
	run_steps(s, sizeof s / sizeof s[0], 1, 1000);
}

/* The logging side: lines through log.h (stderr here), the count of
 * those left out said with the next one, the summary, the last words;
 * NULL lets everything through. */
static void
test_written_lines(void **state)
{
	char path[] = "/tmp/leafmail-test-lograte.XXXXXX", buf[4096];
	struct lograte lr;
	int fd = mkstemp(path), saved = dup(2);
	FILE *f;
	size_t n;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	log_init("t", 1, 0);
	log_set_syslog_path("/nonexistent/log"); /* stderr only */
	assert_int_equal(dup2(fd, 2), 2);
	lograte_init_named(&lr, "bad things", 2, 3600000);
	for (int i = 0; i < 5; i++)
		lograte_warnx(&lr, "bad thing %d", i);
	lograte_tick(&lr); /* the hour is not over: nothing */
	lograte_last(&lr);
	assert_int_equal(lograte_flush(&lr), 0);
	assert_int_equal(lograte_info(NULL, "unlimited %d", 1), 1);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	assert_string_equal(buf, "t: bad thing 0\nt: bad thing 1\n"
	                         "t: 3 more bad things not logged (at most 2 per "
	                         "3600 s)\nt: unlimited 1\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_count),
	    cmocka_unit_test(test_zero_burst_counts_everything),
	    cmocka_unit_test(test_clock_backwards),
	    cmocka_unit_test(test_threads_account_for_every_line),
	    cmocka_unit_test(test_slightly_earlier_is_the_same_window),
	    cmocka_unit_test(test_written_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
