/*
 * lograte.h - a bound on the log lines that unauthenticated input causes.
 *
 * A flood of junk (spoofed datagrams, hostile log lines, bad requests)
 * must not become a flood of log lines that fills the disk or hides the
 * one line that matters.  Each class of such lines gets a struct lograte
 * that lets `burst` lines through per `interval_ms`; the others are
 * counted, and the count is said with the next line let through or, once
 * the flood has stopped, by lograte_summary(), which a daemon calls from
 * its periodic timer.
 *
 *   lograte_init(lr, burst, interval_ms)
 *   lograte_take(lr, now_ms, &left_out)  1: write this line, and when
 *                  *left_out > 0 say that so many like it were left out
 *                  before it; 0: leave it out (it is counted)
 *   lograte_summary(lr, now_ms)  lines left out and not yet reported,
 *                  once the window they were left out in has ended (0
 *                  before that, so a running flood is summarised once per
 *                  window, not once per call); the count starts again
 *   lograte_now_ms()  CLOCK_MONOTONIC in milliseconds: wall-clock steps
 *                  must not open or close the gate
 *   lograte_flush(lr)  lines left out and not yet reported, whatever
 *                  the window: for a program's last words
 *
 * Written through log.h, for the callers (a NULL lr lets every line
 * through, for a program that runs once per message and needs no bound):
 *
 *   lograte_init_named(lr, what, burst, interval_ms)  what names the
 *                  lines in the summaries, plural: "refused datagrams"
 *   lograte_warnx(lr, fmt, ...), lograte_info(lr, fmt, ...)
 *                  log_warnx()/log_info() the line when lr lets it
 *                  through, with " (N more WHAT not logged before this
 *                  one)" added when lines were left out; 1 when written
 *   lograte_tick(lr)  the periodic summary: "N more WHAT not logged (at
 *                  most B per S s)" once their window is over; a daemon
 *                  calls it from its timer, at least once per interval
 *   lograte_last(lr)  the same summary at exit, whatever the window
 *
 * Time is passed in to take and summary so that tests need no clock.
 * Thread-safe (a mutex): the milter's sessions may share one.
 */
#ifndef LEAFMAIL_LOGRATE_H
#define LEAFMAIL_LOGRATE_H

#include <pthread.h>

struct lograte {
	pthread_mutex_t mu;
	unsigned burst;            /* lines per window */
	long long interval_ms;     /* window length */
	long long window_start;    /* ms; -1 before the first line */
	unsigned used;             /* lines let through in this window */
	unsigned long left_out;    /* not yet reported */
	const char *what;          /* for the summaries */
};

void lograte_init(struct lograte *lr, unsigned burst, long long interval_ms);
int lograte_take(struct lograte *lr, long long now_ms,
                 unsigned long *left_out);
unsigned long lograte_summary(struct lograte *lr, long long now_ms);
unsigned long lograte_flush(struct lograte *lr);
long long lograte_now_ms(void);

void lograte_init_named(struct lograte *lr, const char *what, unsigned burst,
                        long long interval_ms);
int lograte_warnx(struct lograte *lr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int lograte_info(struct lograte *lr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lograte_tick(struct lograte *lr);
void lograte_last(struct lograte *lr);

#endif
