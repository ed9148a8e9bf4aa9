/*
 * writer.c - the pending batch, its background writer, the retries (see
 * writer.h).
 *
 * Why a thread: a catch-up over a large log fills batch after batch; the
 * thread writes one while the loop parses the next, so the catch-up takes
 * about as long as the larger of the two, not their sum.  One batch at
 * most is in flight, the thread is the only writer while it runs, and
 * writer_flush() (which every drain ends with) waits for it before it
 * commits the rest: the table sees one writer at a time, and whoever
 * saves positions after a flush knows every batch before them committed.
 * While the previous batch is still being written, the pending one may
 * grow to WRITER_BATCH_MAX addresses: fewer, larger commits when the disk
 * is the bottleneck (a write of 8192 deferred-sync entries holds the lock
 * about as long as one of 4096 synced entries did, 8-9 ms measured).
 *
 * A batch of LOG_EACH addresses or fewer is logged address by address; a
 * larger one (catch-up) in one summary line, so logging never becomes the
 * bottleneck.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "writer.h"

#define WRITER_BATCH_MAX (2 * WRITER_BATCH)
#define LOG_EACH 16
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000

long long
writer_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
writer_fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

void
writer_init(struct writer *w, struct store *store)
{
	memset(w, 0, sizeof *w);
	w->store = store;
}

static void
log_batch(const struct batch *b, const struct writer_counts *n)
{
	char t1[32], t2[32], ip[ADDR_STRLEN];
	if (b->n <= LOG_EACH) {
		for (size_t i = 0; i < b->n; i++) {
			const struct pending *p = &b->v[i];
			log_info("relay: %s allowed until %s (login at %s, "
			         "source %s)",
			         addr_format(&p->a, ip, sizeof ip),
			         writer_fmt_time(p->expires, t1, sizeof t1),
			         writer_fmt_time(p->when, t2, sizeof t2), p->source);
		}
		return;
	}
	time_t latest = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].expires > latest)
			latest = b->v[i].expires;
	log_info("relay: %zu addresses allowed from %lu logins (latest until "
	         "%s; %lu ignored networks, %lu stale)",
	         b->n, n->logins, writer_fmt_time(latest, t1, sizeof t1), n->ignored,
	         n->stale);
}

/* b in one transaction (deferred sync); 0, or -1 with err.  Touches
 * nothing but b and the store: the writer thread runs it. */
static int
write_batch(struct store *st, const struct batch *b, char *err,
            size_t errlen)
{
	struct relay_rec *v = malloc(b->n * sizeof *v);
	int rc = -1;
	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
	} else {
		for (size_t i = 0; i < b->n; i++) {
			v[i].a = b->v[i].a;
			v[i].expires = b->v[i].expires;
		}
		rc = relaystore_write(st, v, b->n, STORE_DEFER_SYNC, err,
		                      errlen) == STORE_OK
		         ? 0
		         : -1;
	}
	free(v);
	return rc;
}

int
writer_may_flush(const struct writer *w)
{
	return !w->failing || writer_mono_ms() >= w->retry_at;
}

long long
writer_retry_ms(const struct writer *w)
{
	if (w->b.n == 0 || !w->failing)
		return -1;
	long long now = writer_mono_ms();
	return w->retry_at > now ? w->retry_at - now : 0;
}

static void
write_failed(struct writer *w, const char *err, size_t n)
{
	if (!w->failing)
		log_warnx("relay table: %s; %zu addresses kept, retrying", err,
		          n);
	w->failing = 1;
	w->backoff_ms = w->backoff_ms == 0 ? RETRY_MIN_MS : w->backoff_ms * 2;
	if (w->backoff_ms > RETRY_MAX_MS)
		w->backoff_ms = RETRY_MAX_MS;
	w->retry_at = writer_mono_ms() + w->backoff_ms;
}

static void
write_done(struct writer *w, const struct batch *b,
           const struct writer_counts *n)
{
	if (w->failing)
		log_warnx("relay table %s: written again", store_name(w->store));
	w->failing = 0;
	w->backoff_ms = 0;
	w->unsynced = 1;
	log_batch(b, n);
}

static void
oom(struct writer *w)
{
	if (!w->oom_logged)
		log_warnx("out of memory: logins dropped");
	w->oom_logged = 1;
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	w->rc = write_batch(w->store, &w->fb, w->err, sizeof w->err);
	__atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Take the background write's result: on failure its addresses go back
 * into the pending batch (the later expiry wins, as always) and the
 * retry delay starts. */
static void
writer_take(struct writer *w)
{
	if (w->rc == 0) {
		write_done(w, &w->fb, &w->fn);
	} else {
		write_failed(w, w->err, w->fb.n);
		for (size_t i = 0; i < w->fb.n; i++) {
			struct pending *p = &w->fb.v[i];
			if (batch_add(&w->b, &p->a, p->expires, p->when,
			              p->source) < 0)
				oom(w);
		}
		w->n.logins += w->fn.logins;
		w->n.ignored += w->fn.ignored;
		w->n.stale += w->fn.stale;
	}
	batch_clear(&w->fb);
}

void
writer_wait(struct writer *w)
{
	if (!w->busy)
		return;
	pthread_join(w->th, NULL);
	w->busy = 0;
	writer_take(w);
}

/* Hand the pending batch to the thread (after the one in flight). */
static void
flush_async(struct writer *w)
{
	writer_wait(w);
	if (!writer_may_flush(w))
		return; /* that write failed: retried after the delay */
	struct batch tmp = w->fb;
	w->fb = w->b;
	w->b = tmp; /* the cleared spare */
	w->fn = w->n;
	memset(&w->n, 0, sizeof w->n);
	w->finished = 0;
	if (pthread_create(&w->th, NULL, writer_main, w) == 0) {
		w->busy = 1;
		return;
	}
	/* No thread: write it here, then take the result the same way. */
	writer_main(w);
	writer_take(w);
}

void
writer_note(struct writer *w, enum writer_note what)
{
	w->n.logins++;
	if (what == WRITER_IGNORED)
		w->n.ignored++;
	else if (what == WRITER_STALE)
		w->n.stale++;
}

void
writer_add(struct writer *w, const struct addr *a, time_t expires,
           time_t when, const char *source)
{
	if (batch_add(&w->b, a, expires, when, source) < 0) {
		oom(w);
		return;
	}
	if (w->b.n < WRITER_BATCH || !writer_may_flush(w))
		return;
	if (w->busy && !__atomic_load_n(&w->finished, __ATOMIC_ACQUIRE) &&
	    w->b.n < WRITER_BATCH_MAX)
		return;
	flush_async(w);
}

int
writer_flush(struct writer *w)
{
	char err[512];
	writer_wait(w);
	if (w->failing && !writer_may_flush(w))
		return -1;
	if (w->b.n == 0) {
		memset(&w->n, 0, sizeof w->n);
		return 0;
	}
	if (write_batch(w->store, &w->b, err, sizeof err) < 0) {
		write_failed(w, err, w->b.n);
		return -1;
	}
	write_done(w, &w->b, &w->n);
	batch_clear(&w->b);
	memset(&w->n, 0, sizeof w->n);
	return 0;
}

void
writer_free(struct writer *w)
{
	writer_wait(w);
	batch_free(&w->b);
	batch_free(&w->fb);
}
