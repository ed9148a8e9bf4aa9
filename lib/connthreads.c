/*
 * connthreads.c - a server's connection threads, counted (connthreads.h).
 */
#include "connthreads.h"

#include <errno.h>
#include <time.h>

void
connthreads_init(struct connthreads *t)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	/* the wait at the stop must not stretch when the clock is set */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->done, &ca);
	pthread_condattr_destroy(&ca);
	t->active = 0;
}

int
connthreads_start(struct connthreads *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t id;
	int r;

	/* counted before it exists, so it can never be done before it is
	 * counted */
	pthread_mutex_lock(&t->mu);
	t->active++;
	pthread_mutex_unlock(&t->mu);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&id, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		pthread_mutex_lock(&t->mu);
		t->active--;
		pthread_cond_broadcast(&t->done);
		pthread_mutex_unlock(&t->mu);
	}
	return r;
}

void
connthreads_done(struct connthreads *t)
{
	pthread_mutex_lock(&t->mu);
	t->active--;
	pthread_cond_broadcast(&t->done);
	pthread_mutex_unlock(&t->mu);
}

int
connthreads_active(struct connthreads *t)
{
	int n;

	pthread_mutex_lock(&t->mu);
	n = t->active;
	pthread_mutex_unlock(&t->mu);
	return n;
}

int
connthreads_wait(struct connthreads *t, int secs)
{
	struct timespec until;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += secs;
	pthread_mutex_lock(&t->mu);
	while (t->active > 0)
		if (pthread_cond_timedwait(&t->done, &t->mu, &until) == ETIMEDOUT)
			break;
	n = t->active;
	pthread_mutex_unlock(&t->mu);
	return n;
}

void
connthreads_destroy(struct connthreads *t)
{
	pthread_cond_destroy(&t->done);
	pthread_mutex_destroy(&t->mu);
}
