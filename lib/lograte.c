/*
 * lograte.c - fixed-window log line limiter (see lograte.h).
 *
 * A fixed window rather than a token bucket: the numbers an operator
 * reads ("12345 lines left out in the last 60 s") then mean exactly what
 * they say, and a burst at the start of each window is what we want to
 * see anyway (the first lines of a new flood).
 */
#include <time.h>

#include "lograte.h"

void
lograte_init(struct lograte *lr, unsigned burst, long long interval_ms)
{
	pthread_mutex_init(&lr->mu, NULL);
	lr->burst = burst;
	lr->interval_ms = interval_ms > 0 ? interval_ms : 1;
	lr->window_start = -1;
	lr->used = 0;
	lr->left_out = 0;
}

/* A new window begins when the old one has passed; the caller holds mu.
 * A time before the window's start is counted in it: threads read the
 * clock before they take the mutex, so their times arrive a little out
 * of order, and restarting the window for them would let a flood spread
 * over threads through the gate. */
static void
roll(struct lograte *lr, long long now_ms)
{
	if (lr->window_start < 0 || now_ms - lr->window_start >= lr->interval_ms) {
		lr->window_start = now_ms;
		lr->used = 0;
	}
}

int
lograte_take(struct lograte *lr, long long now_ms, unsigned long *left_out)
{
	int allow;

	pthread_mutex_lock(&lr->mu);
	roll(lr, now_ms);
	allow = lr->used < lr->burst;
	if (allow) {
		lr->used++;
		*left_out = lr->left_out;
		lr->left_out = 0;
	} else {
		*left_out = 0;
		lr->left_out++;
	}
	pthread_mutex_unlock(&lr->mu);
	return allow;
}

unsigned long
lograte_summary(struct lograte *lr, long long now_ms)
{
	unsigned long n = 0;

	pthread_mutex_lock(&lr->mu);
	if (lr->left_out > 0 && lr->window_start >= 0 &&
	    now_ms - lr->window_start >= lr->interval_ms) {
		n = lr->left_out;
		lr->left_out = 0;
		/* The reported lines' window is over; the next line opens a
		 * new one. */
		lr->window_start = now_ms;
		lr->used = 0;
	}
	pthread_mutex_unlock(&lr->mu);
	return n;
}

long long
lograte_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
