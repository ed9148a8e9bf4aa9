/*
 * connthreads.h - the threads of a server that gives each connection one
 * of its own (leafmail-deliver -L, leafmail-policyd): started detached,
 * counted so that serveloop.h stops accepting at a limit, and waited for
 * at the stop.
 *
 *   connthreads_init(&t)             once, before the first connection
 *   connthreads_start(&t, fn, arg)   fn(arg) in a detached thread that
 *                                    counts as running; 0, or
 *                                    pthread_create()'s error (nothing
 *                                    started, nothing counted)
 *   connthreads_done(&t)             the last call of such a thread: it
 *                                    no longer counts
 *   connthreads_active(&t)           how many run (serveloop's active)
 *   connthreads_wait(&t, secs)       until none runs or secs have passed;
 *                                    how many still run
 *   connthreads_destroy(&t)          once none runs
 *
 * A thread still running after connthreads_wait() may call
 * connthreads_done() later: a caller that returns while some run leaves
 * t, and whatever those threads use, in place (static) for exit().
 */
#ifndef LEAFMAIL_CONNTHREADS_H
#define LEAFMAIL_CONNTHREADS_H

#include <pthread.h>

struct connthreads {
	pthread_mutex_t mu;
	pthread_cond_t done; /* CLOCK_MONOTONIC */
	int active;
};

void connthreads_init(struct connthreads *t);
int connthreads_start(struct connthreads *t, void *(*fn)(void *), void *arg);
void connthreads_done(struct connthreads *t);
int connthreads_active(struct connthreads *t);
int connthreads_wait(struct connthreads *t, int secs);
void connthreads_destroy(struct connthreads *t);

#endif
