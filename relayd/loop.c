/*
 * loop.c - leafmail-relayd's event loop (see loop.h for the interface).
 *
 * One wake-up: read every source that has data (inotify said so, its
 * descriptor is readable, or a retry is due), feed each line to the
 * source's parser, keep successful logins that are neither in
 * relay.ignore-networks nor already expired in a pending batch (one entry
 * per address, the latest expiry wins), then write the batch in ONE table
 * transaction and only after that let the positions be saved.  A
 * catch-up over a large log flushes every LOOP_BATCH addresses, but still
 * saves positions only once the source has been read to its end and
 * everything it produced has committed.
 *
 * Why the expiry counts from the line's own time: after downtime relayd
 * catches up on old lines, and a login from three hours ago must not
 * authorize anybody now.
 *
 * Failures: a table write error is logged once, the batch is kept and
 * retried with a growing delay (100 ms doubling to 5 s), positions stay
 * where they were.  A source read error (e.g. the rotated log is not
 * readable by relayd's user) is logged once per distinct message and the
 * source is retried at every sweep tick and on SIGHUP.
 *
 * Positions are written at most once a second (each save is an fsync and
 * a rename), and always at exit; a crash may therefore re-read up to a
 * second of lines, which only refreshes entries.
 *
 * Durability.  Batches commit with STORE_DEFER_SYNC: visible to Postfix
 * and the milter at once, crash-consistent, but not yet on disk; the
 * table is synced (store_sync) before positions are saved, at most a
 * second after a commit even when no file source has a position to save
 * (stdin), and at exit.  So the invariant holds: a saved position never
 * runs ahead of logins that a system crash could still take out of the
 * table.  What it buys: a catch-up pays one fdatasync per batch instead
 * of an fdatasync plus a synchronous meta-page write, and the exclusive
 * lock is held that much shorter.  A failed sync is logged and keeps the
 * positions where they were (retried a second later).
 *
 * A batch that fills up while reading (catch-up) is written by a thread
 * of its own while reading goes on (flush_async): the parsing of the next
 * batch overlaps the disk wait of this one.  One batch at most is in
 * flight; the end of every drain waits for it, so all of the above is
 * unchanged: the table has one writer at a time, and positions are saved
 * only after every batch before them committed and was synced.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "position.h"
#include "relaystore.h"

#define TAG_INOTIFY 0xfffffff0u
#define TAG_SIGNAL 0xfffffff1u
#define TAG_TIMER 0xfffffff2u

/* A batch of this many addresses or fewer is logged address by address;
 * a larger one (catch-up) in one summary line, so logging never becomes
 * the bottleneck. */
#define LOOP_LOG_EACH 16
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define POSITION_SAVE_MS 1000
/* A batch waiting for the background writer may grow to this many
 * addresses: a write of 8192 deferred-sync entries holds the lock about
 * as long as one of 4096 synced entries did (8-9 ms measured). */
#define LOOP_BATCH_MAX (2 * LOOP_BATCH)

struct pending {
	struct addr a;
	time_t expires;
	time_t when;        /* the login's own time, for the log line */
	const char *source; /* source name, for the log line */
};

struct batch {
	struct pending *v;
	size_t n, cap;
	uint32_t *slot; /* open addressing: index + 1, 0 = empty */
	size_t nslot;   /* power of two, >= 2 * cap */
};

/* The batch being written in the background (flush_async), or, while
 * none is, the cleared spare that the next full batch is swapped with. */
struct writer {
	pthread_t th;
	int busy;     /* th is running or not yet joined */
	int finished; /* th has written (atomic: set by th) */
	struct batch b;
	unsigned long logins, ignored, stale; /* counted into b */
	struct store *store;
	int rc;
	char err[512];
};

struct srcstate {
	int ready;        /* read it at the next drain */
	int done;         /* stdin reached EOF */
	int always_ready; /* a stdin that epoll cannot watch (regular file) */
	int failing;      /* last read failed */
	char lasterr[512];
	struct source_pos saved; /* last position written to the file */
	int saved_valid;
};

struct loop {
	const struct loop_conf *c;
	int ep, sfd, tfd;
	struct srcstate *st;
	struct batch b;
	struct writer w;
	time_t now; /* wall clock of the current drain */
	int stop;
	int write_failing;
	long long retry_at; /* monotonic ms */
	long backoff_ms;
	int pos_dirty;
	long long last_pos_save;
	int unsynced;     /* a deferred-sync commit not yet synced */
	int sync_failing; /* last store_sync() failed (logged once) */
	unsigned long logins, ignored, stale; /* since the last flush */
	int oom_logged;
};

struct line_ctx {
	struct loop *l;
	size_t i;
};

static long long
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

/* ---- the pending batch ---- */

static uint32_t
addr_hash(const struct addr *a)
{
	uint32_t h = 2166136261u;
	size_t n = a->family == AF_INET ? 4 : 16;
	h = (h ^ (uint32_t)a->family) * 16777619u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ a->bytes[i]) * 16777619u;
	return h;
}

static int
batch_grow(struct batch *b)
{
	size_t cap = b->cap ? b->cap * 2 : 256;
	struct pending *v = realloc(b->v, cap * sizeof *v);
	if (v == NULL)
		return -1;
	b->v = v;
	uint32_t *slot = calloc(cap * 2, sizeof *slot);
	if (slot == NULL)
		return -1;
	free(b->slot);
	b->slot = slot;
	b->nslot = cap * 2;
	b->cap = cap;
	for (size_t i = 0; i < b->n; i++) {
		size_t j = addr_hash(&b->v[i].a) & (b->nslot - 1);
		while (b->slot[j] != 0)
			j = (j + 1) & (b->nslot - 1);
		b->slot[j] = (uint32_t)(i + 1);
	}
	return 0;
}

/* Add or raise an address's expiry; -1 when out of memory. */
static int
batch_add(struct batch *b, const struct addr *a, time_t expires, time_t when,
          const char *source)
{
	if (b->nslot != 0) {
		size_t j = addr_hash(a) & (b->nslot - 1);
		while (b->slot[j] != 0) {
			struct pending *p = &b->v[b->slot[j] - 1];
			if (addr_equal(&p->a, a)) {
				if (expires > p->expires) {
					p->expires = expires;
					p->when = when;
					p->source = source;
				}
				return 0;
			}
			j = (j + 1) & (b->nslot - 1);
		}
	}
	if (b->n == b->cap && batch_grow(b) < 0)
		return -1;
	struct pending *p = &b->v[b->n++];
	p->a = *a;
	p->expires = expires;
	p->when = when;
	p->source = source;
	size_t j = addr_hash(a) & (b->nslot - 1);
	while (b->slot[j] != 0)
		j = (j + 1) & (b->nslot - 1);
	b->slot[j] = (uint32_t)b->n;
	return 0;
}

static void
batch_clear(struct batch *b)
{
	b->n = 0;
	if (b->slot != NULL)
		memset(b->slot, 0, b->nslot * sizeof *b->slot);
}

static void
batch_free(struct batch *b)
{
	free(b->v);
	free(b->slot);
	memset(b, 0, sizeof *b);
}

/* ---- writing the batch ---- */

static void
log_batch(const struct batch *b, unsigned long logins, unsigned long ignored,
          unsigned long stale)
{
	char t1[32], t2[32], ip[ADDR_STRLEN];
	if (b->n <= LOOP_LOG_EACH) {
		for (size_t i = 0; i < b->n; i++) {
			struct pending *p = &b->v[i];
			log_info("relay: %s allowed until %s (login at %s, "
			         "source %s)",
			         addr_format(&p->a, ip, sizeof ip),
			         fmt_time(p->expires, t1, sizeof t1),
			         fmt_time(p->when, t2, sizeof t2), p->source);
		}
		return;
	}
	time_t latest = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].expires > latest)
			latest = b->v[i].expires;
	log_info("relay: %zu addresses allowed from %lu logins (latest until "
	         "%s; %lu ignored networks, %lu stale)",
	         b->n, logins, fmt_time(latest, t1, sizeof t1), ignored, stale);
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

/* A flush is allowed unless a failed write is still waiting out its delay. */
static int
may_flush(struct loop *l)
{
	return !l->write_failing || mono_ms() >= l->retry_at;
}

static void
write_failed(struct loop *l, const char *err, size_t n)
{
	if (!l->write_failing)
		log_warnx("relay table: %s; %zu addresses kept, retrying", err,
		          n);
	l->write_failing = 1;
	l->backoff_ms = l->backoff_ms == 0 ? RETRY_MIN_MS : l->backoff_ms * 2;
	if (l->backoff_ms > RETRY_MAX_MS)
		l->backoff_ms = RETRY_MAX_MS;
	l->retry_at = mono_ms() + l->backoff_ms;
}

static void
write_done(struct loop *l, const struct batch *b, unsigned long logins,
           unsigned long ignored, unsigned long stale)
{
	if (l->write_failing)
		log_warnx("relay table %s: written again", store_name(l->c->store));
	l->write_failing = 0;
	l->backoff_ms = 0;
	l->unsynced = 1;
	log_batch(b, logins, ignored, stale);
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	w->rc = write_batch(w->store, &w->b, w->err, sizeof w->err);
	__atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Wait for the batch being written in the background, if any, and take
 * its result: on failure its addresses go back into the pending batch
 * (the later expiry wins, as always) and the retry delay starts. */
static void
writer_take(struct loop *l)
{
	struct writer *w = &l->w;
	if (w->rc == 0) {
		write_done(l, &w->b, w->logins, w->ignored, w->stale);
	} else {
		write_failed(l, w->err, w->b.n);
		for (size_t i = 0; i < w->b.n; i++) {
			struct pending *p = &w->b.v[i];
			if (batch_add(&l->b, &p->a, p->expires, p->when,
			              p->source) < 0 &&
			    !l->oom_logged) {
				log_warnx("out of memory: logins dropped");
				l->oom_logged = 1;
			}
		}
		l->logins += w->logins;
		l->ignored += w->ignored;
		l->stale += w->stale;
	}
	batch_clear(&w->b);
}

static void
writer_wait(struct loop *l)
{
	if (!l->w.busy)
		return;
	pthread_join(l->w.th, NULL);
	l->w.busy = 0;
	writer_take(l);
}

/*
 * A full batch while reading: write it in a background thread while the
 * reading goes on, so that parsing the next batch overlaps the disk wait
 * of this one (a catch-up then takes about as long as the larger of the
 * two, not their sum).  At most one batch is in flight, the thread is
 * the only writer while it runs, and drain() waits for it before it
 * commits the rest and before positions are saved, so the rules above
 * hold unchanged.
 */
static void
flush_async(struct loop *l)
{
	struct writer *w = &l->w;
	writer_wait(l);
	if (!may_flush(l))
		return; /* that write failed: retried after the delay */
	struct batch tmp = w->b;
	w->b = l->b;
	l->b = tmp; /* the cleared spare */
	w->logins = l->logins;
	w->ignored = l->ignored;
	w->stale = l->stale;
	l->logins = l->ignored = l->stale = 0;
	w->store = l->c->store;
	w->finished = 0;
	if (pthread_create(&w->th, NULL, writer_main, w) == 0) {
		w->busy = 1;
		return;
	}
	/* No thread: write it here, then take the result the same way. */
	writer_main(w);
	writer_take(l);
}

/* Write the pending batch in one transaction, after any background
 * write.  0 when written (or empty), -1 when a write failed: its
 * addresses are kept and a retry scheduled. */
static int
flush(struct loop *l)
{
	struct batch *b = &l->b;
	char err[512];
	writer_wait(l);
	if (l->write_failing && !may_flush(l))
		return -1;
	if (b->n == 0) {
		l->logins = l->ignored = l->stale = 0;
		return 0;
	}
	if (write_batch(l->c->store, b, err, sizeof err) < 0) {
		write_failed(l, err, b->n);
		return -1;
	}
	write_done(l, b, l->logins, l->ignored, l->stale);
	batch_clear(b);
	l->logins = l->ignored = l->stale = 0;
	return 0;
}

/* ---- reading sources ---- */

static void
on_line(void *arg, const char *line, size_t len)
{
	struct line_ctx *x = arg;
	struct loop *l = x->l;
	const struct loop_source *ls = &l->c->sources[x->i];
	struct addr a;
	time_t when;

	if (!logparser_line(ls->parser, line, len, l->now, &a, &when))
		return;
	l->logins++;
	if (l->c->ignore != NULL && cidr_list_match(l->c->ignore, &a)) {
		l->ignored++;
		return;
	}
	time_t expires = when + (time_t)l->c->expire;
	if (expires <= l->now) {
		/* An old line read while catching up: never authorizes. */
		l->stale++;
		return;
	}
	if (batch_add(&l->b, &a, expires, when, source_name(ls->src)) < 0) {
		if (!l->oom_logged)
			log_warnx("out of memory: logins dropped");
		l->oom_logged = 1;
		return;
	}
	if (l->b.n < LOOP_BATCH || !may_flush(l))
		return;
	/* The previous batch still being written: let this one grow while
	 * the disk works, up to LOOP_BATCH_MAX (fewer, larger commits when the
	 * disk is the bottleneck). */
	if (l->w.busy && !__atomic_load_n(&l->w.finished, __ATOMIC_ACQUIRE) &&
	    l->b.n < LOOP_BATCH_MAX)
		return;
	flush_async(l);
}

static int
positions_changed(struct loop *l)
{
	for (size_t i = 0; i < l->c->nsources; i++) {
		struct source_pos p;
		struct srcstate *st = &l->st[i];
		if (source_kind(l->c->sources[i].src) != SOURCE_FILE ||
		    source_position(l->c->sources[i].src, &p) != 0)
			continue;
		if (!st->saved_valid || p.dev != st->saved.dev ||
		    p.ino != st->saved.ino || p.offset != st->saved.offset)
			return 1;
	}
	return 0;
}

/* Make every commit so far durable; 0, or -1 (logged once). */
static int
sync_table(struct loop *l)
{
	char err[512];
	if (!l->unsynced)
		return 0;
	if (store_sync(l->c->store, err, sizeof err) != STORE_OK) {
		if (!l->sync_failing)
			log_warnx("relay table: %s; positions not saved, "
			          "retrying",
			          err);
		l->sync_failing = 1;
		return -1;
	}
	if (l->sync_failing)
		log_warnx("relay table %s: synced again",
		          store_name(l->c->store));
	l->sync_failing = 0;
	l->unsynced = 0;
	return 0;
}

/* Sync the table, then save the positions of file sources; only called
 * with an empty batch, i.e. when everything read so far has committed.
 * -1 when the sync failed: nothing saved, tried again a second later. */
static int
positions_save(struct loop *l)
{
	struct position_entry *e = NULL;
	size_t *idx = NULL;
	size_t n = 0;
	char err[512];
	int rc = 0;
	l->last_pos_save = mono_ms();
	if (sync_table(l) < 0) {
		l->pos_dirty = 1;
		return -1;
	}
	e = calloc(l->c->nsources + 1, sizeof *e);
	idx = calloc(l->c->nsources + 1, sizeof *idx);
	if (e == NULL || idx == NULL) {
		log_warnx("positions: out of memory");
		goto out;
	}
	for (size_t i = 0; i < l->c->nsources; i++) {
		const struct source *s = l->c->sources[i].src;
		if (source_kind(s) != SOURCE_FILE ||
		    source_position(s, &e[n].pos) != 0)
			continue;
		e[n].path = source_name(s);
		idx[n++] = i;
	}
	l->pos_dirty = 0;
	if (n == 0)
		goto out;
	if (position_save(l->c->positions_file, e, n, err, sizeof err) < 0) {
		log_warnx("%s", err);
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		l->st[idx[k]].saved = e[k].pos;
		l->st[idx[k]].saved_valid = 1;
	}
out:
	free(e);
	free(idx);
	return rc;
}

static void
maybe_save_positions(struct loop *l)
{
	if (l->b.n != 0 || (!l->unsynced && !positions_changed(l)))
		return;
	if (mono_ms() - l->last_pos_save >= POSITION_SAVE_MS)
		positions_save(l);
	else
		l->pos_dirty = 1;
}

static int
active_sources(const struct loop *l)
{
	int n = 0;
	for (size_t i = 0; i < l->c->nsources; i++)
		if (!l->st[i].done)
			n++;
	return n;
}

static void
read_source(struct loop *l, size_t i)
{
	struct srcstate *st = &l->st[i];
	struct source *s = l->c->sources[i].src;
	struct line_ctx x = {l, i};
	char err[512];

	st->ready = st->always_ready;
	int r = source_read(s, l->c->ifd, on_line, &x, err, sizeof err);
	unsigned long skipped = source_skipped(s);
	if (skipped > 0)
		log_warnx("%s: skipped %lu line(s) longer than %d bytes",
		          source_name(s), skipped, SOURCE_MAX_LINE);
	if (r < 0) {
		if (!st->failing || strcmp(err, st->lasterr) != 0)
			log_warnx("source %s: %s", source_name(s), err);
		st->failing = 1;
		snprintf(st->lasterr, sizeof st->lasterr, "%s", err);
		return;
	}
	if (st->failing)
		log_info("source %s: readable again", source_name(s));
	st->failing = 0;
	if (r == 1) {
		log_info("source %s: end of input", source_name(s));
		st->done = 1;
		st->ready = 0;
		int fd = source_pollfd(s);
		if (fd >= 0 && !st->always_ready)
			epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
		st->always_ready = 0;
	}
}

/* Read every ready source, then commit what they produced. */
static void
drain(struct loop *l)
{
	int any = 0;
	l->now = time(NULL);
	for (size_t i = 0; i < l->c->nsources; i++) {
		if (l->st[i].ready && !l->st[i].done) {
			read_source(l, i);
			any = 1;
		}
	}
	writer_wait(l);
	if ((any || l->b.n > 0) && may_flush(l) && flush(l) == 0)
		maybe_save_positions(l);
	if (active_sources(l) == 0) {
		log_info("no source left to read: stopping");
		l->stop = 1;
	}
}

/* ---- events ---- */

static void
on_inotify(struct loop *l)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(l->c->ifd, buf, sizeof buf);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_warn("inotify read");
			return;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			p += sizeof *ev + ev->len;
			const char *name = ev->len ? ev->name : NULL;
			for (size_t i = 0; i < l->c->nsources; i++) {
				if (source_inotify(l->c->sources[i].src, l->c->ifd,
				                   ev->wd, ev->mask, name))
					l->st[i].ready = 1;
				/* Events were lost: look at everything. */
				if (ev->mask & IN_Q_OVERFLOW)
					l->st[i].ready = 1;
			}
		}
	}
}

static void
on_signal(struct loop *l)
{
	struct signalfd_siginfo si;
	while (read(l->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: stopping", (int)si.ssi_signo);
			l->stop = 1;
			break;
		case SIGHUP:
			log_info("SIGHUP: re-checking %zu source(s)",
			         l->c->nsources);
			for (size_t i = 0; i < l->c->nsources; i++)
				l->st[i].ready = 1;
			break;
		default:
			break;
		}
	}
}

static void
on_timer(struct loop *l)
{
	uint64_t ticks;
	char err[512];
	if (read(l->tfd, &ticks, sizeof ticks) < 0)
		return;
	long n = relaystore_sweep(l->c->store, time(NULL), LOOP_SWEEP_BATCH,
	                          err, sizeof err);
	if (n < 0)
		log_warnx("sweep: %s", err);
	else if (n > 0)
		log_info("sweep: %ld expired entr%s deleted", n,
		         n == 1 ? "y" : "ies");
	/* Sources whose last read failed are retried here. */
	for (size_t i = 0; i < l->c->nsources; i++)
		if (l->st[i].failing)
			l->st[i].ready = 1;
}

static int
epoll_add(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int
setup(struct loop *l)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		log_warn("sigprocmask");
		return -1;
	}
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->ep < 0 || l->sfd < 0 || l->tfd < 0) {
		log_warn("epoll/signalfd/timerfd");
		return -1;
	}
	long long iv = l->c->sweep_interval > 0 ? l->c->sweep_interval : 5;
	struct itimerspec its = {.it_interval = {.tv_sec = (time_t)iv},
	                         .it_value = {.tv_sec = (time_t)iv}};
	if (timerfd_settime(l->tfd, 0, &its, NULL) < 0) {
		log_warn("timerfd_settime");
		return -1;
	}
	if (epoll_add(l->ep, l->c->ifd, TAG_INOTIFY) < 0 ||
	    epoll_add(l->ep, l->sfd, TAG_SIGNAL) < 0 ||
	    epoll_add(l->ep, l->tfd, TAG_TIMER) < 0) {
		log_warn("epoll_ctl");
		return -1;
	}
	for (size_t i = 0; i < l->c->nsources; i++) {
		int fd = source_pollfd(l->c->sources[i].src);
		l->st[i].ready = 1; /* catch up at start */
		if (fd < 0)
			continue;
		if (epoll_add(l->ep, fd, (uint32_t)i) < 0) {
			if (errno != EPERM) {
				log_warn("epoll_ctl %s",
				         source_name(l->c->sources[i].src));
				return -1;
			}
			/* stdin redirected from a regular file: always
			 * readable, read until EOF. */
			l->st[i].always_ready = 1;
		}
	}
	return 0;
}

static int
compute_timeout(struct loop *l)
{
	long long now = mono_ms(), t = -1;
	for (size_t i = 0; i < l->c->nsources; i++)
		if (l->st[i].always_ready && !l->st[i].done)
			return 0;
	if (l->b.n > 0 && l->write_failing)
		t = l->retry_at > now ? l->retry_at - now : 0;
	if (l->pos_dirty) {
		long long d = l->last_pos_save + POSITION_SAVE_MS - now;
		if (d < 0)
			d = 0;
		if (t < 0 || d < t)
			t = d;
	}
	return t > 60000 ? 60000 : (int)t;
}

int
loop_run(const struct loop_conf *conf)
{
	struct loop l;
	int rc = DAEMON_EX_OSERR;

	memset(&l, 0, sizeof l);
	l.c = conf;
	l.ep = l.sfd = l.tfd = -1;
	l.st = calloc(conf->nsources + 1, sizeof *l.st);
	if (l.st == NULL) {
		log_warnx("out of memory");
		return rc;
	}
	l.last_pos_save = mono_ms() - POSITION_SAVE_MS;
	if (setup(&l) < 0)
		goto out;
	/* saved_valid starts at 0: the first committed drain records the
	 * positions, so a first start leaves a positions file behind. */
	drain(&l);
	while (!l.stop) {
		struct epoll_event evs[16];
		int n = epoll_wait(l.ep, evs, 16, compute_timeout(&l));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			break;
		}
		for (int k = 0; k < n; k++) {
			uint32_t tag = evs[k].data.u32;
			if (tag == TAG_INOTIFY)
				on_inotify(&l);
			else if (tag == TAG_SIGNAL)
				on_signal(&l);
			else if (tag == TAG_TIMER)
				on_timer(&l);
			else if (tag < conf->nsources)
				l.st[tag].ready = 1;
		}
		drain(&l);
		if (l.pos_dirty && l.b.n == 0 &&
		    mono_ms() - l.last_pos_save >= POSITION_SAVE_MS)
			positions_save(&l);
	}

	/* Stopping: commit what was read, then record how far. */
	writer_wait(&l);
	l.write_failing = 0;
	if (flush(&l) < 0) {
		log_warnx("exiting with %zu addresses not written; their lines "
		          "will be read again at the next start",
		          l.b.n);
		rc = DAEMON_EX_TEMPFAIL;
	} else if ((l.unsynced || positions_changed(&l)) &&
	           positions_save(&l) < 0) {
		log_warnx("exiting with the relay table not synced; the "
		          "lines since the last saved position will be read "
		          "again at the next start");
		rc = DAEMON_EX_TEMPFAIL;
	} else {
		rc = 0;
	}
out:
	if (l.ep >= 0)
		close(l.ep);
	if (l.sfd >= 0)
		close(l.sfd);
	if (l.tfd >= 0)
		close(l.tfd);
	writer_wait(&l);
	batch_free(&l.b);
	batch_free(&l.w.b);
	free(l.st);
	return rc;
}
