/*
 * loop.c - leafmail-relayd's event loop (see loop.h): epoll over the
 * sources' descriptors, a signalfd and a timerfd; nothing else.
 *
 * Per source the loop keeps whether it is ready (its descriptor said
 * so, or a read is due without one), whether it has ended (stdin at
 * EOF), and whether its last read failed (logged once per distinct
 * message, retried at every tick and on SIGHUP).  A descriptor epoll
 * refuses (stdin redirected from a regular file) makes its source always
 * ready until it ends.
 *
 * A drain reads every ready source, then the intake settles the holds a
 * catch-up left open and the writer commits the batch; positions and
 * sessions are saved after that (durable.h), never before.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "durable.h"
#include "intake.h"
#include "log.h"
#include "loop.h"
#include "relaystore.h"
#include "sessions.h"
#include "writer.h"

#define TAG_SIGNAL 0xfffffff1u
#define TAG_TIMER 0xfffffff2u

struct srcstate {
	int ready;        /* read it at the next drain */
	int done;         /* it has ended (stdin at EOF) */
	int always_ready; /* a descriptor epoll cannot watch */
	int failing;      /* last read failed */
	long long due_at; /* monotonic ms it asked to be read by; -1 none */
	char lasterr[512];
};

struct loop {
	const struct loop_conf *c;
	int ep, sfd, tfd;
	struct srcstate *st;
	struct writer w;
	struct intake in;
	struct intake_conf ic;
	struct durable d;
	struct sessions *sess;
	const char **names;
	int stop;
};

static void
sweep(struct loop *l)
{
	char err[512];
	long n = relaystore_sweep(l->c->store, time(NULL), LOOP_SWEEP_BATCH,
	                          err, sizeof err);
	if (n < 0)
		log_warnx("sweep: %s", err);
	else if (n > 0)
		log_info("sweep: %ld expired entr%s deleted", n,
		         n == 1 ? "y" : "ies");
}

static int
active_sources(const struct loop *l)
{
	int n = 0;
	for (size_t i = 0; i < l->c->ninputs; i++)
		if (!l->st[i].done)
			n++;
	return n;
}

static void
read_source(struct loop *l, size_t i)
{
	struct srcstate *st = &l->st[i];
	struct input *in = l->c->inputs[i];
	char err[512];

	st->ready = st->always_ready;
	int r = in->ops->read(in, &l->in, err, sizeof err);
	if (r < 0) {
		if (!st->failing || strcmp(err, st->lasterr) != 0)
			log_warnx("source %s: %s", in->name, err);
		st->failing = 1;
		snprintf(st->lasterr, sizeof st->lasterr, "%s", err);
		return;
	}
	if (st->failing)
		log_info("source %s: readable again", in->name);
	st->failing = 0;
	if (r == 1) {
		log_info("source %s: end of input", in->name);
		st->done = 1;
		st->ready = 0;
		int fd = in->ops->fd(in);
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
	intake_begin(&l->in, time(NULL));
	for (size_t i = 0; i < l->c->ninputs; i++) {
		if (l->st[i].ready && !l->st[i].done) {
			read_source(l, i);
			any = 1;
		}
	}
	intake_settle(&l->in);
	writer_wait(&l->w);
	if ((any || l->w.b.n > 0) && writer_may_flush(&l->w) &&
	    writer_flush(&l->w) == 0)
		durable_maybe_save(&l->d);
	if (active_sources(l) == 0) {
		log_info("no source left to read: stopping");
		l->stop = 1;
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
			         l->c->ninputs);
			for (size_t i = 0; i < l->c->ninputs; i++)
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
	if (read(l->tfd, &ticks, sizeof ticks) < 0)
		return;
	sweep(l);
	intake_tick(&l->in, time(NULL));
	/* Sources whose last read failed are retried here. */
	for (size_t i = 0; i < l->c->ninputs; i++)
		if (l->st[i].failing)
			l->st[i].ready = 1;
}

static int
epoll_add(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* The tick: the sweep interval, and while holding often enough that a
 * held entry is refreshed before it lapses (intake.c). */
static long long
tick_seconds(const struct loop_conf *c)
{
	long long iv = c->sweep_interval > 0 ? c->sweep_interval : 5;
	if (c->hold && c->expire / 3 < iv)
		iv = c->expire / 3 > 0 ? c->expire / 3 : 1;
	return iv;
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
	long long iv = tick_seconds(l->c);
	struct itimerspec its = {.it_interval = {.tv_sec = (time_t)iv},
	                         .it_value = {.tv_sec = (time_t)iv}};
	if (timerfd_settime(l->tfd, 0, &its, NULL) < 0) {
		log_warn("timerfd_settime");
		return -1;
	}
	if (epoll_add(l->ep, l->sfd, TAG_SIGNAL) < 0 ||
	    epoll_add(l->ep, l->tfd, TAG_TIMER) < 0) {
		log_warn("epoll_ctl");
		return -1;
	}
	for (size_t i = 0; i < l->c->ninputs; i++) {
		struct input *in = l->c->inputs[i];
		int fd = in->ops->fd(in);
		l->st[i].ready = 1; /* catch up at start */
		l->st[i].due_at = -1;
		if (fd < 0)
			continue;
		if (epoll_add(l->ep, fd, (uint32_t)i) < 0) {
			if (errno != EPERM) {
				log_warn("epoll_ctl %s", in->name);
				return -1;
			}
			/* stdin redirected from a regular file: always
			 * readable, read until EOF. */
			l->st[i].always_ready = 1;
		}
	}
	return 0;
}

/* Sources' own timeouts (an HTTP server's idle connections): ask each
 * and remember when it is due. */
static long long
source_timeouts(struct loop *l, long long now)
{
	long long t = -1;
	for (size_t i = 0; i < l->c->ninputs; i++) {
		struct input *in = l->c->inputs[i];
		struct srcstate *st = &l->st[i];
		st->due_at = -1;
		if (in->ops->timeout_ms == NULL || st->done)
			continue;
		long long d = in->ops->timeout_ms(in);
		if (d < 0)
			continue;
		st->due_at = now + d;
		if (t < 0 || d < t)
			t = d;
	}
	return t;
}

static int
compute_timeout(struct loop *l)
{
	long long now = writer_mono_ms();
	for (size_t i = 0; i < l->c->ninputs; i++)
		if (l->st[i].always_ready && !l->st[i].done)
			return 0;
	long long t = writer_retry_ms(&l->w);
	long long d = durable_due_ms(&l->d);
	if (d >= 0 && (t < 0 || d < t))
		t = d;
	d = source_timeouts(l, now);
	if (d >= 0 && (t < 0 || d < t))
		t = d;
	return t > 60000 ? 60000 : (int)t;
}

static void
mark_due(struct loop *l)
{
	long long now = writer_mono_ms();
	for (size_t i = 0; i < l->c->ninputs; i++)
		if (l->st[i].due_at >= 0 && now >= l->st[i].due_at)
			l->st[i].ready = 1;
}

static int
init(struct loop *l, const struct loop_conf *conf)
{
	memset(l, 0, sizeof *l);
	l->c = conf;
	l->ep = l->sfd = l->tfd = -1;
	l->st = calloc(conf->ninputs + 1, sizeof *l->st);
	l->names = calloc(conf->ninputs + 1, sizeof *l->names);
	if (l->st == NULL || l->names == NULL)
		return -1;
	for (size_t i = 0; i < conf->ninputs; i++)
		l->names[i] = conf->inputs[i]->name;
	writer_init(&l->w, conf->store);
	if (conf->hold) {
		char err[512];
		l->sess = sessions_new(conf->hold_max_sessions, l->names,
		                       conf->ninputs);
		if (l->sess == NULL)
			return -1;
		if (sessions_load(l->sess, conf->sessions_file, err,
		                  sizeof err) < 0)
			log_warnx("%s (open sessions forgotten: their "
			          "addresses relay for relay.expire after the "
			          "last refresh)",
			          err);
		else if (sessions_count(l->sess) > 0)
			log_info("%zu open session%s restored",
			         sessions_count(l->sess),
			         sessions_count(l->sess) == 1 ? "" : "s");
	}
	l->ic.ignore = conf->ignore;
	l->ic.expire = conf->expire;
	l->ic.max_skew = conf->max_skew;
	l->ic.hold_max = conf->hold_max;
	intake_init(&l->in, &l->ic, &l->w, l->sess);
	return durable_init(&l->d, &l->w, conf->inputs, conf->ninputs,
	                    conf->positions_file, l->sess,
	                    conf->sessions_file);
}

int
loop_run(const struct loop_conf *conf)
{
	struct loop l;
	int rc = DAEMON_EX_OSERR;

	if (init(&l, conf) < 0) {
		log_warnx("out of memory");
		goto out;
	}
	if (setup(&l) < 0)
		goto out;
	/* Entries that expired while relayd was down go before anything
	 * is read: Postfix reading the table itself never looks at the
	 * time. */
	sweep(&l);
	/* Restored sessions are held from the first drain on, after its
	 * catch-up has seen the ends of those that closed meanwhile. */
	intake_settle_all(&l.in);
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
			if (tag == TAG_SIGNAL)
				on_signal(&l);
			else if (tag == TAG_TIMER)
				on_timer(&l);
			else if (tag < conf->ninputs)
				l.st[tag].ready = 1;
		}
		mark_due(&l);
		drain(&l);
		if (l.d.due && l.w.b.n == 0 && durable_due_ms(&l.d) == 0)
			durable_save(&l.d);
	}

	/* Stopping: commit what was read, then record how far. */
	writer_wait(&l.w);
	l.w.failing = 0;
	if (writer_flush(&l.w) < 0) {
		log_warnx("exiting with %zu addresses not written; their lines "
		          "will be read again at the next start",
		          l.w.b.n);
		rc = DAEMON_EX_TEMPFAIL;
	} else if (durable_needed(&l.d) && durable_save(&l.d) < 0) {
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
	writer_free(&l.w);
	durable_free(&l.d);
	intake_free(&l.in);
	sessions_free(l.sess);
	free(l.names);
	free(l.st);
	return rc;
}
