/*
 * lmtpd.c - the LMTP server loop (see lmtpd.h).
 *
 * Why threads: a session spends its time in fsync() and in the mailbox
 * lookup, both blocking calls, and the LMTP code (lmtp.c) is written for
 * blocking streams; a thread per session reuses it unchanged, and the
 * number of sessions is bounded by Postfix's process limit for the lmtp
 * transport (and by max_sessions here).  Everything a delivery touches is
 * per call (the Maildir descriptors, the lookup handle) or thread-safe
 * (the unique-name counter is atomic, logging is one write per line).
 *
 * Each session's socket is wrapped in two stdio streams (fopencookie) so
 * lmtp_session() can use getline()/fprintf().  The read side polls the
 * socket together with a "stop" pipe: when the server stops, a session
 * waiting for its next command sees end of input at once (and answers
 * 421), while one inside a transaction keeps reading until the grace
 * time is over.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "connthreads.h"
#include "lmtp.h"
#include "lmtpd.h"
#include "log.h"
#include "serveloop.h"

struct server {
	const struct lmtpd_conf *conf;
	atomic_int stop;
	int stop_rd, stop_wr; /* written once, never drained: stays readable */
	struct connthreads threads;
};

struct session {
	struct server *srv;
	int fd;
	struct lmtp_ctl ctl;
	int have_deadline;
	struct timespec deadline; /* CLOCK_MONOTONIC, once stopping */
};

static long long
ms_until(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(t->tv_sec - now.tv_sec) * 1000 +
	       (t->tv_nsec - now.tv_nsec) / 1000000;
}

static ssize_t
conn_read(void *cookie, char *buf, size_t size)
{
	struct session *s = cookie;
	struct server *srv = s->srv;
	struct pollfd p[2];
	long long timeout;
	ssize_t n;
	int r, stop;

	for (;;) {
		stop = atomic_load(&srv->stop);
		if (stop) {
			if (!s->ctl.in_transaction)
				return 0; /* lmtp_session answers 421 */
			if (!s->have_deadline) {
				clock_gettime(CLOCK_MONOTONIC, &s->deadline);
				s->deadline.tv_sec += (time_t)srv->conf->grace;
				s->have_deadline = 1;
			}
			timeout = ms_until(&s->deadline);
			if (timeout <= 0) {
				log_warnx("stopping: cutting off a session inside a "
				          "transaction after %llds", srv->conf->grace);
				return 0;
			}
		} else {
			timeout = srv->conf->idle * 1000;
		}
		p[0].fd = s->fd;
		p[0].events = POLLIN;
		p[1].fd = srv->stop_rd;
		p[1].events = POLLIN;
		r = poll(p, stop ? 1 : 2, timeout > INT_MAX ? INT_MAX : (int)timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			if (stop)
				continue; /* the deadline check above ends it */
			log_info("session idle for %llds: closing", srv->conf->idle);
			return 0;
		}
		if (p[0].revents != 0) {
			n = read(s->fd, buf, size);
			if (n < 0 && errno == EINTR)
				continue;
			return n;
		}
		/* only the stop pipe: go round and decide as a stopping server */
	}
}

static ssize_t
conn_write(void *cookie, const char *buf, size_t size)
{
	struct session *s = cookie;
	size_t off = 0;
	ssize_t n;

	while (off < size) {
		n = send(s->fd, buf + off, size - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return off > 0 ? (ssize_t)off : -1;
		off += (size_t)n;
	}
	return (ssize_t)size;
}

static void *
session_main(void *arg)
{
	struct session *s = arg;
	struct server *srv = s->srv;
	cookie_io_functions_t rio = {.read = conn_read};
	cookie_io_functions_t wio = {.write = conn_write};
	FILE *in = fopencookie(s, "r", rio);
	FILE *out = fopencookie(s, "w", wio);

	/* A message body arrives in one burst: read it in big pieces. */
	if (in != NULL)
		(void)setvbuf(in, NULL, _IOFBF, 65536);
	if (in != NULL && out != NULL)
		(void)lmtp_session(in, out, srv->conf->ctx, srv->conf->myname,
		                   &s->ctl);
	else
		log_warn("session streams");
	if (in != NULL)
		fclose(in);
	if (out != NULL)
		fclose(out);
	close(s->fd);
	free(s);
	connthreads_done(&srv->threads);
	return NULL;
}

static void
start_session(void *arg, int fd)
{
	struct server *srv = arg;
	struct session *s = calloc(1, sizeof(*s));
	int r;

	if (s == NULL) {
		log_warnx("out of memory for a session");
		(void)send(fd, "421 4.3.0 out of memory\r\n", 25, MSG_NOSIGNAL);
		close(fd);
		return;
	}
	s->srv = srv;
	s->fd = fd;
	s->ctl.stop = &srv->stop;
	if ((r = connthreads_start(&srv->threads, session_main, s)) != 0) {
		log_warnx("cannot start a session thread: %s", strerror(r));
		(void)send(fd, "421 4.3.2 too busy\r\n", 20, MSG_NOSIGNAL);
		close(fd);
		free(s);
	}
}

static int
active(void *arg)
{
	return connthreads_active(&((struct server *)arg)->threads);
}

/* After the stop: wait for the sessions, a little past their grace. */
static void
drain(struct server *srv)
{
	long long secs = srv->conf->grace + 5;
	int n = connthreads_wait(&srv->threads, secs > INT_MAX ? INT_MAX : (int)secs);

	if (n > 0)
		log_warnx("stopping with %d session(s) still busy", n);
}

static void
tick(void *arg)
{
	struct server *srv = arg;

	/* The summary of lines the sessions' clients caused but the rate
	 * limit left out. */
	lograte_tick(srv->conf->ctx->lograte);
}

/* The listener and the signals, until SIGTERM/SIGINT. */
static int
serve(struct server *srv, int sfd)
{
	struct serveloop l = {.lfd = srv->conf->lfd,
	                      .max = srv->conf->max_sessions,
	                      .arg = srv,
	                      .active = active,
	                      .accepted = start_session,
	                      .tick = tick};

	return serveloop_serve(&l, sfd,
	                       "nothing to reload (the mailbox lookups read their "
	                       "source on every delivery); restart to change "
	                       "settings");
}

int
lmtpd_run(const struct lmtpd_conf *conf)
{
	/* static: a session thread that outlives drain() must not find its
	 * server gone with our stack frame. */
	static struct server srv;
	int pfd[2], sfd, rc;

	memset(&srv, 0, sizeof(srv));
	srv.conf = conf;
	atomic_init(&srv.stop, 0);
	/* Before any thread exists (serveloop.h). */
	sfd = serveloop_signals();
	if (sfd < 0 || pipe2(pfd, O_CLOEXEC) != 0) {
		log_warn("signalfd/pipe");
		if (sfd >= 0)
			close(sfd);
		return -1;
	}
	srv.stop_rd = pfd[0];
	srv.stop_wr = pfd[1];
	connthreads_init(&srv.threads);

	rc = serve(&srv, sfd);
	/* No new sessions; then tell the running ones. */
	close(conf->lfd);
	atomic_store(&srv.stop, 1);
	if (write(srv.stop_wr, "x", 1) != 1)
		log_warn("waking sessions");
	drain(&srv);
	lograte_last(conf->ctx->lograte);
	close(sfd);
	if (active(&srv) > 0)
		return 1; /* leave everything to exit() */
	connthreads_destroy(&srv.threads);
	close(srv.stop_rd);
	close(srv.stop_wr);
	return rc;
}
