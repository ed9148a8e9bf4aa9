/*
 * loglimit.c - the milter's rate-limited log classes (loglimit.h).
 *
 * The pointers stay NULL (every line through) until loglimit_start() has
 * set the limits up; they are published with release stores, after the
 * structs they point to are ready, so a callback sees either NULL or a
 * usable limiter.  The summary thread wakes once a second; it blocks
 * every signal, which belong to libmilter's signal thread and the
 * reload thread.
 */
#include "loglimit.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "conf.h"
#include "log.h"

struct lograte *loglimit_refused, *loglimit_local, *loglimit_failed;

static struct lograte refused, local, failed;
static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int started;

static void *
ticker(void *arg)
{
	struct timespec second = {1, 0};

	(void)arg;
	for (;;) {
		nanosleep(&second, NULL);
		lograte_tick(&refused);
		lograte_tick(&local);
		lograte_tick(&failed);
	}
	return NULL;
}

void
loglimit_start(cfg_t *cfg)
{
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int e;

	if (atomic_load_explicit(&started, memory_order_acquire))
		return;
	pthread_mutex_lock(&start_mu);
	if (!atomic_load_explicit(&started, memory_order_relaxed)) {
		conf_lograte(cfg, &refused, "refusals of SMTP clients");
		conf_lograte(cfg, &local, "local-domain recipients");
		conf_lograte(cfg, &failed, "failed relay table lookups");
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		e = pthread_create(&t, &attr, ticker, NULL);
		pthread_attr_destroy(&attr);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (e != 0)
			log_warnx("no summary thread for rate-limited log lines: "
			          "summaries come with the next line logged");
		__atomic_store_n(&loglimit_refused, &refused, __ATOMIC_RELEASE);
		__atomic_store_n(&loglimit_local, &local, __ATOMIC_RELEASE);
		__atomic_store_n(&loglimit_failed, &failed, __ATOMIC_RELEASE);
		atomic_store_explicit(&started, 1, memory_order_release);
	}
	pthread_mutex_unlock(&start_mu);
}
