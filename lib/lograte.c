/*
 * lograte.c - fixed-window log line limiter (see lograte.h).
 *
 * A fixed window rather than a token bucket: the numbers an operator
 * reads ("12345 lines left out in the last 60 s") then mean exactly what
 * they say, and a burst at the start of each window is what we want to
 * see anyway (the first lines of a new flood).
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
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
	lr->what = NULL;
}

/* The window is over when its time has passed, or when the clock went
 * back further than a window (a caller's clock that stepped back).  A
 * little earlier than its start is still the window: two threads read
 * the clock, then the later reading takes the mutex first, and that must
 * not open a second window (and let a second burst through). */
static int
over(const struct lograte *lr, long long now_ms)
{
	return lr->window_start < 0 ||
	       now_ms - lr->window_start >= lr->interval_ms ||
	       lr->window_start - now_ms > lr->interval_ms;
}

/* A new window begins when the old one is over; the caller holds mu. */
static void
roll(struct lograte *lr, long long now_ms)
{
	if (over(lr, now_ms)) {
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
	if (lr->left_out > 0 && lr->window_start >= 0 && over(lr, now_ms)) {
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

unsigned long
lograte_flush(struct lograte *lr)
{
	unsigned long n;

	pthread_mutex_lock(&lr->mu);
	n = lr->left_out;
	lr->left_out = 0;
	pthread_mutex_unlock(&lr->mu);
	return n;
}

void
lograte_init_named(struct lograte *lr, const char *what, unsigned burst,
                   long long interval_ms)
{
	lograte_init(lr, burst, interval_ms);
	lr->what = what;
}

static const char *
what(const struct lograte *lr)
{
	return lr->what != NULL ? lr->what : "lines like it";
}

/* The line, when lr lets it through, by log_warnx or log_info. */
static int
say(struct lograte *lr, int warn, const char *fmt, va_list ap)
{
	char line[1024], note[160] = "";
	unsigned long left = 0;

	if (lr != NULL && !lograte_take(lr, lograte_now_ms(), &left))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (left > 0)
		snprintf(note, sizeof(note), " (%lu more %s not logged before "
		         "this one)", left, what(lr));
	if (warn)
		log_warnx("%s%s", line, note);
	else
		log_info("%s%s", line, note);
	return 1;
}

int
lograte_warnx(struct lograte *lr, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = say(lr, 1, fmt, ap);
	va_end(ap);
	return r;
}

int
lograte_info(struct lograte *lr, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = say(lr, 0, fmt, ap);
	va_end(ap);
	return r;
}

static void
summarise(const struct lograte *lr, unsigned long n)
{
	if (n > 0)
		log_warnx("%lu more %s not logged (at most %u per %lld s)", n,
		          what(lr), lr->burst, lr->interval_ms / 1000);
}

void
lograte_tick(struct lograte *lr)
{
	if (lr != NULL)
		summarise(lr, lograte_summary(lr, lograte_now_ms()));
}

void
lograte_last(struct lograte *lr)
{
	if (lr != NULL)
		summarise(lr, lograte_flush(lr));
}
