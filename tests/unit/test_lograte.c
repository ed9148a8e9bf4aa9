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
test_times_out_of_order(void **state)
{
	(void)state;
	/* Threads read the clock before they take the lock: a time before
	 * the window's start belongs to that window, it does not open a new
	 * one (which would let a flood through, thread by thread). */
	static const struct step s[] = {
	    {5000, 0, 1, 0}, {5001, 0, 0, 0}, {4999, 0, 0, 0}, {10, 0, 0, 0},
	    {4000, 1, 0, 0}, {6000, 0, 1, 3},
	};
	run_steps(s, sizeof s / sizeof s[0], 1, 1000);
}

struct th {
	struct lograte *lr;
	long long *clock;  /* shared: one time line, read before the lock */
	unsigned long allowed, reported;
};

static void *
hammer(void *arg)
{
	struct th *t = arg;
	for (int i = 0; i < 100000; i++) {
		unsigned long c;
		long long now = __atomic_fetch_add(t->clock, 1, __ATOMIC_RELAXED);
		if (lograte_take(t->lr, now / 1000, &c))
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

	long long clock = 0;

	lograte_init(&lr, 5, 10);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct th){.lr = &lr, .clock = &clock};
		assert_int_equal(pthread_create(&id[i], NULL, hammer, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(id[i], NULL);
		allowed += t[i].allowed;
		reported += t[i].reported;
	}
	reported += lograte_summary(&lr, 1000000);
	/* Every line was either written or counted in some report, and no
	 * more were written than 5 per 10 ms window of the 400 ms the four
	 * threads' 400,000 ticks span, however their reads interleaved. */
	assert_int_equal(allowed + reported, 400000);
	assert_true(allowed <= 5 * (400 / 10 + 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_count),
	    cmocka_unit_test(test_zero_burst_counts_everything),
	    cmocka_unit_test(test_times_out_of_order),
	    cmocka_unit_test(test_threads_account_for_every_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
