/*
 * writer.h - getting logins into the relay table: the pending batch, the
 * background thread that writes a full one while reading goes on, and
 * the retry of a failed write.
 *
 *   writer_init(w, store), writer_free(w)
 *   writer_add(w, a, expires, when, source)  one login into the pending
 *              batch; a batch that reaches WRITER_BATCH addresses is
 *              handed to the background thread (one in flight at most)
 *   writer_note(w, what)   count a login (and whether it was left out:
 *              ignored network, stale), for the summary line
 *   writer_flush(w)        wait for the thread, write the rest in one
 *              transaction: 0, or -1 (addresses kept, retry scheduled)
 *   writer_wait(w)         wait for the thread and take its result
 *   writer_may_flush(w)    not waiting out a failed write's delay
 *   writer_retry_ms(w)     ms until that delay ends (-1: none pending)
 *
 * Batches commit with STORE_DEFER_SYNC: visible at once, durable after
 * the next store_sync() (durable.h does that, before any position that
 * counts on them is saved).  w->unsynced says a commit awaits that sync.
 * A write error is logged once; the addresses stay pending and are
 * retried after 100 ms, doubling to 5 s.  Only the loop's thread calls
 * these functions; the background thread touches only its own batch and
 * the store, and the store has one writer at a time.
 */
#ifndef LEAFMAIL_RELAYD_WRITER_H
#define LEAFMAIL_RELAYD_WRITER_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "batch.h"
#include "relaystore.h"

/* Hand the pending batch to the thread when it holds this many distinct
 * addresses. */
#define WRITER_BATCH 4096

enum writer_note { WRITER_LOGIN, WRITER_IGNORED, WRITER_STALE };

struct writer_counts {
	unsigned long logins, ignored, stale;
};

struct writer {
	struct store *store;
	struct batch b;            /* pending */
	struct writer_counts n;    /* counted into b */
	/* The batch being written in the background, or, while none is,
	 * the cleared spare that the next full batch is swapped with. */
	pthread_t th;
	int busy;     /* th is running or not yet joined */
	int finished; /* th has written (atomic: set by th) */
	struct batch fb;
	struct writer_counts fn;
	int rc;
	char err[512];
	/* A failed write waits out its delay. */
	int failing;
	long long retry_at; /* monotonic ms */
	long backoff_ms;
	int unsynced;       /* a deferred-sync commit not yet synced */
	int oom_logged;
};

void writer_init(struct writer *w, struct store *store);
void writer_free(struct writer *w);
void writer_add(struct writer *w, const struct addr *a, time_t expires,
                time_t when, const char *source);
void writer_note(struct writer *w, enum writer_note what);
int writer_flush(struct writer *w);
void writer_wait(struct writer *w);
int writer_may_flush(const struct writer *w);
long long writer_retry_ms(const struct writer *w);
/* Monotonic milliseconds (every relayd timer counts in them). */
long long writer_mono_ms(void);
/* t as local "YYYY-MM-DD hh:mm:ss" in buf, for log lines; returns buf. */
const char *writer_fmt_time(time_t t, char *buf, size_t len);

#endif
