/*
 * loop.c - the event loop and each tunnel's state machine (see loop.h).
 *
 *   DOWN --first client--> STARTING --connect to ssh's port works--> UP
 *   STARTING --connect-timeout, or ssh exits--> DOWN, waiting clients get
 *             failure-reply (a port race instead restarts ssh on a new
 *             port, clients keep waiting)
 *   UP --ssh exits--> DOWN, its clients are closed (those that got nothing
 *             yet get failure-reply); the next client starts ssh again
 *   STARTING/UP --no clients for idle + random(0..idle-jitter)--> DOWN
 *
 * Readiness: ssh binds its -L port only after authentication, so a
 * connect that succeeds means the tunnel is usable.  While STARTING, the
 * first waiting client's own upstream connection is the probe, tried
 * every TUNNEL_PROBE_MS (a refused connect costs a few microseconds on
 * loopback; the seed retried once a second, which made every cold start
 * take over a second).  The probe being a real client connection means
 * the smarthost sees no extra empty session.  Clients are read from the
 * moment they are accepted; their bytes wait in their buffer.
 *
 * Back-off: an ssh that exits on its own within TUNNEL_FAST_MS of its
 * start (or before it was ever ready) is a fast failure.  From the second
 * fast failure in a row on, no ssh is started for 1, 2, 4 ... 60 s, and
 * clients arriving meanwhile get failure-reply at once, so Postfix defers
 * instead of the provider seeing a login storm.
 *
 * max-clients: beyond it a new client is accepted, given failure-reply
 * and closed; likewise beyond what RLIMIT_NOFILE allows (fd_cap()).
 * Those refusals, and connections the far end closes unanswered, are
 * logged through a rate limit (tc->refusals): a client can open them as
 * fast as it likes.
 * Leaving it in the backlog would make Postfix wait for its own timeout
 * (minutes); a 421 makes it defer now and try again later.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "proxy.h"

#define TUNNEL_PROBE_MS 10
#define TUNNEL_FAST_MS 10000
#define TUNNEL_BACKOFF_MAX_S 60
#define TUNNEL_FWD_RETRIES 5
#define MAX_EVENTS 256

struct loop {
	int epfd, sfd;
	struct ev_tag stag;
	struct tunnel *tun;
	size_t ntun;
	struct conn *grave; /* closed, to be freed after the epoll batch */
	int spare;          /* a descriptor kept for EMFILE (see on_accept) */
	size_t nclients, fd_cap; /* all tunnels; what RLIMIT_NOFILE allows */
	pid_t *kids;        /* every ssh not reaped yet */
	size_t nkids;
	int stopping;
};

static void
add_fd(struct loop *L, int fd, struct ev_tag *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
	if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		log_warn("epoll_ctl add");
}

static double
secs(int64_t ms)
{
	return (double)ms / 1000.0;
}

static void
kid_add(struct loop *L, pid_t pid)
{
	pid_t *k = realloc(L->kids, (L->nkids + 1) * sizeof *k);
	if (k == NULL) {
		log_warnx("out of memory tracking ssh pid %ld", (long)pid);
		return;
	}
	L->kids = k;
	L->kids[L->nkids++] = pid;
}

static void
kid_del(struct loop *L, pid_t pid)
{
	for (size_t i = 0; i < L->nkids; i++)
		if (L->kids[i] == pid) {
			L->kids[i] = L->kids[--L->nkids];
			return;
		}
}

/* Unlink c from its tunnel and close it; failure-reply when failing. */
static void
conn_remove(struct loop *L, struct conn *c, int failing)
{
	struct tunnel *t = c->owner;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	t->nconns--;
	L->nclients--;
	if (failing)
		conn_fail(L->epfd, c, t->tc->failure_reply);
	else
		conn_close(L->epfd, c);
	c->next = L->grave;
	L->grave = c;
	if (t->nconns == 0 && t->state != TUNNEL_DOWN && !L->stopping) {
		uint32_t r = 0;
		int64_t jitter = t->tc->jitter * 1000;
		if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
			r = (uint32_t)rand();
		t->idle_at = ev_now() + t->tc->idle * 1000 +
		             (jitter > 0 ? (int64_t)(r % (uint32_t)(jitter + 1)) : 0);
		log_debug("tunnel %s: no clients; idle teardown in %.1f s",
		          t->tc->name, secs(t->idle_at - ev_now()));
	}
}

static void
bury(struct loop *L)
{
	while (L->grave != NULL) {
		struct conn *c = L->grave;
		L->grave = c->next;
		free(c);
	}
}

static void
fail_all(struct loop *L, struct tunnel *t)
{
	while (t->conns != NULL)
		conn_remove(L, t->conns, 1);
}

/* Stop ssh (if any) and forget it; its exit is reaped later. */
static void
tunnel_stop(struct loop *L, struct tunnel *t, const char *reason)
{
	int64_t now = ev_now();

	if (t->pid > 0)
		log_info("tunnel %s: stopping ssh (pid %ld): %s; ran %.1f s%s, "
		         "%lu client(s)",
		         t->tc->name, (long)t->pid, reason, secs(now - t->started),
		         t->ready_at ? "" : ", never ready", t->served);
	if (t->errfd >= 0) {
		epoll_ctl(L->epfd, EPOLL_CTL_DEL, t->errfd, NULL);
		tunnel_read_stderr(t);
		tunnel_close_stderr(t);
	}
	tunnel_kill(t);
	t->state = TUNNEL_DOWN;
	t->idle_at = 0;
}

/* An ssh that ended without being asked to. */
static void
note_failure(struct tunnel *t, int64_t now)
{
	if (t->ready_at == 0 || now - t->started < TUNNEL_FAST_MS)
		t->fast_failures++;
	else
		t->fast_failures = 1;
	if (t->fast_failures >= 2) {
		int sh = t->fast_failures - 2;
		long delay = sh >= 6 ? TUNNEL_BACKOFF_MAX_S : 1L << sh;
		if (delay > TUNNEL_BACKOFF_MAX_S)
			delay = TUNNEL_BACKOFF_MAX_S;
		t->backoff_until = now + delay * 1000;
		log_warnx("tunnel %s: %d quick ssh failures in a row: no new "
		          "ssh for %ld s (clients get \"%s\")",
		          t->tc->name, t->fast_failures, delay,
		          t->tc->failure_reply);
	}
}

static int
spawn(struct loop *L, struct tunnel *t)
{
	char err[512];

	if (tunnel_spawn(t, err, sizeof err) < 0) {
		log_warnx("tunnel %s: cannot start ssh: %s", t->tc->name, err);
		return -1;
	}
	kid_add(L, t->pid);
	add_fd(L, t->errfd, &t->etag);
	t->next_probe = ev_now() + TUNNEL_PROBE_MS;
	return 0;
}

static void
tunnel_start(struct loop *L, struct tunnel *t)
{
	int64_t now = ev_now();

	t->started = now;
	t->ready_at = 0;
	t->served = 0;
	t->fwd_retries = 0;
	t->deadline = now + t->tc->connect_timeout * 1000;
	t->idle_at = 0;
	if (spawn(L, t) < 0) {
		note_failure(t, now);
		fail_all(L, t);
		return;
	}
	t->state = TUNNEL_STARTING;
}

static void
tunnel_ready(struct loop *L, struct tunnel *t)
{
	struct conn *c, *next;

	t->state = TUNNEL_UP;
	t->ready_at = ev_now();
	log_info("tunnel %s: ready after %lld ms (127.0.0.1:%d)", t->tc->name,
	         (long long)(t->ready_at - t->started), t->port);
	for (c = t->conns; c != NULL; c = next) {
		next = c->next;
		if (c->ustate == CONN_NONE &&
		    conn_connect(L->epfd, c, t->port) == CONN_REFUSED)
			conn_remove(L, c, 1);
	}
}

/* While STARTING: try the first waiting client's connection. */
static void
probe(struct loop *L, struct tunnel *t)
{
	struct conn *c;

	t->next_probe = ev_now() + TUNNEL_PROBE_MS;
	for (c = t->conns; c != NULL; c = c->next)
		if (c->ustate == CONN_CONNECTING)
			return; /* a probe is under way */
	if (t->conns == NULL)
		return;
	if (conn_connect(L->epfd, t->conns, t->port) == CONN_OPEN)
		tunnel_ready(L, t);
}

static void
on_accept(struct loop *L, struct tunnel *t)
{
	for (int i = 0; i < 128; i++) {
		int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE) &&
		    L->spare >= 0) {
			/* Out of descriptors: the pending client would keep
			 * the listener readable and spin the loop.  Give up
			 * the spare one, take the client, tell it, close. */
			lograte_warnx(t->tc->refusals, "tunnel %s: out of file "
			              "descriptors: refusing a client", t->tc->name);
			close(L->spare);
			fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				char r[600];
				int len = snprintf(r, sizeof r, "%s\r\n",
				                   t->tc->failure_reply);
				ssize_t w = send(fd, r, (size_t)len,
				                 MSG_NOSIGNAL | MSG_DONTWAIT);
				(void)w;
				close(fd);
			}
			L->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
			return;
		}
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("tunnel %s: accept", t->tc->name);
			return;
		}
		struct conn *c = conn_new(L->epfd, t, fd);
		if (c == NULL) {
			log_warnx("tunnel %s: out of memory", t->tc->name);
			close(fd);
			continue;
		}
		c->next = t->conns;
		if (t->conns != NULL)
			t->conns->prev = c;
		t->conns = c;
		t->nconns++;
		L->nclients++;
		t->idle_at = 0;
		if (L->nclients > L->fd_cap) {
			lograte_warnx(t->tc->refusals, "tunnel %s: %zu clients is all "
			              "the descriptor limit allows: refusing a client",
			              t->tc->name, L->fd_cap);
			conn_remove(L, c, 1);
			continue;
		}
		if (t->tc->max_clients > 0 &&
		    t->nconns > (size_t)t->tc->max_clients) {
			lograte_warnx(t->tc->refusals, "tunnel %s: max-clients (%ld) "
			              "reached: refusing a client", t->tc->name,
			              t->tc->max_clients);
			conn_remove(L, c, 1);
			continue;
		}
		if (t->state == TUNNEL_DOWN && ev_now() < t->backoff_until) {
			log_debug("tunnel %s: backing off: refusing a client",
			          t->tc->name);
			conn_remove(L, c, 1);
			continue;
		}
		if (t->state == TUNNEL_DOWN)
			tunnel_start(L, t);
		t->served++;
		if (t->state == TUNNEL_UP &&
		    conn_connect(L->epfd, c, t->port) == CONN_REFUSED)
			conn_remove(L, c, 1);
	}
}

static void
on_conn(struct loop *L, struct conn *c, int upstream, uint32_t events)
{
	struct tunnel *t = c->owner;
	int r;

	if (upstream && c->ustate == CONN_CONNECTING) {
		if (conn_connected(L->epfd, c) == CONN_OPEN) {
			if (t->state == TUNNEL_STARTING)
				tunnel_ready(L, t);
		} else if (t->state == TUNNEL_UP) {
			conn_remove(L, c, 1);
		}
		return;
	}
	r = conn_io(c, upstream, events);
	if (r == CONN_ALIVE) {
		conn_sync(L->epfd, c);
		return;
	}
	if (r == CONN_FAILED)
		lograte_warnx(t->tc->refusals, "tunnel %s: the far end closed a "
		              "connection without a word (is %s reachable from "
		              "%s?)", t->tc->name, t->tc->remote, t->tc->dest);
	conn_remove(L, c, r == CONN_FAILED);
}

static void
describe(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "ended (status 0x%x)", (unsigned)st);
}

static void
ssh_exited(struct loop *L, struct tunnel *t, int st)
{
	int64_t now = ev_now();
	char how[64];

	describe(st, how, sizeof how);
	if (t->errfd >= 0) {
		epoll_ctl(L->epfd, EPOLL_CTL_DEL, t->errfd, NULL);
		tunnel_read_stderr(t); /* its last words explain the exit */
		tunnel_close_stderr(t);
	}
	t->pid = 0;
	if (t->state == TUNNEL_STARTING && t->fwd_failed &&
	    t->fwd_retries < TUNNEL_FWD_RETRIES && now < t->deadline) {
		/* Someone took the port between our probe bind and ssh's. */
		t->fwd_retries++;
		log_warnx("tunnel %s: local port %d was taken; starting ssh "
		          "again on another",
		          t->tc->name, t->port);
		if (spawn(L, t) == 0)
			return;
	}
	log_warnx("tunnel %s: ssh %s after %.1f s (%s); closing %zu client(s)",
	          t->tc->name, how, secs(now - t->started),
	          t->state == TUNNEL_UP ? "was up" : "never ready", t->nconns);
	t->state = TUNNEL_DOWN;
	t->idle_at = 0;
	note_failure(t, now);
	fail_all(L, t);
}

static void
reap(struct loop *L)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		kid_del(L, pid);
		for (size_t i = 0; i < L->ntun; i++)
			if (L->tun[i].pid == pid) {
				ssh_exited(L, &L->tun[i], st);
				pid = 0;
				break;
			}
		if (pid != 0)
			log_debug("reaped ssh pid %ld", (long)pid);
	}
}

static void
on_signal(struct loop *L)
{
	struct signalfd_siginfo si;

	while (read(L->sfd, &si, sizeof si) == sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(L);
			break;
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: shutting down", si.ssi_signo);
			L->stopping = 1;
			break;
		case SIGHUP:
			log_info("SIGHUP ignored: restart to read a changed "
			         "configuration");
			break;
		}
	}
}

/* Fire due timers; return the epoll timeout until the next one. */
static int
timers(struct loop *L)
{
	int64_t now = ev_now(), next = -1;

	for (size_t i = 0; i < L->ntun; i++) {
		struct tunnel *t = &L->tun[i];
		if (t->state == TUNNEL_STARTING && now >= t->deadline) {
			log_warnx("tunnel %s: not ready within connect-timeout "
			          "(%lld s): answering %zu waiting client(s) \"%s\"",
			          t->tc->name, t->tc->connect_timeout, t->nconns,
			          t->tc->failure_reply);
			tunnel_stop(L, t, "not ready within connect-timeout");
			if (t->nconns > 0)
				note_failure(t, now);
			fail_all(L, t);
		}
		if (t->state == TUNNEL_STARTING && now >= t->next_probe)
			probe(L, t);
		if (t->idle_at != 0 && now >= t->idle_at && t->nconns == 0) {
			if (t->ready_at != 0)
				t->fast_failures = 0;
			tunnel_stop(L, t, "idle");
		}
		if (t->state == TUNNEL_STARTING) {
			if (next < 0 || t->deadline < next)
				next = t->deadline;
			if (t->nconns > 0 && t->next_probe < next)
				next = t->next_probe;
		}
		if (t->idle_at != 0 && (next < 0 || t->idle_at < next))
			next = t->idle_at;
	}
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

/* SIGTERM: close every client, stop every ssh, wait for them (2 s, then
 * SIGKILL), so we leave neither processes nor zombies behind. */
static void
shutdown_all(struct loop *L)
{
	for (size_t i = 0; i < L->ntun; i++) {
		fail_all(L, &L->tun[i]);
		tunnel_stop(L, &L->tun[i], "shutting down");
	}
	for (int i = 0; i < 200 && L->nkids > 0; i++) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid > 0)
			kid_del(L, pid);
		else if (pid < 0)
			break;
		else
			usleep(10000);
	}
	for (size_t i = 0; i < L->nkids; i++) {
		log_warnx("ssh pid %ld ignored SIGTERM: killing it",
		          (long)L->kids[i]);
		kill(L->kids[i], SIGKILL);
		waitpid(L->kids[i], NULL, 0);
	}
	L->nkids = 0;
}

/* Each client needs two descriptors (its socket and its upstream); keep
 * some for the listeners, signalfd, epoll, syslog, the spare, and per
 * tunnel ssh's stderr pipe and the port probe.  Clients beyond this are
 * refused with failure-reply rather than accepted and then left without
 * a descriptor for their upstream (which would stall the readiness
 * probe of a cold tunnel until connect-timeout). */
static size_t
fd_cap(size_t ntun)
{
	struct rlimit rl;
	size_t reserve = 16 + 4 * ntun;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return SIZE_MAX;
	if (rl.rlim_cur <= reserve + 2)
		return 1;
	return (size_t)(rl.rlim_cur - reserve) / 2;
}

int
loop_run(struct tunnel *tun, size_t ntun)
{
	struct loop L;
	struct epoll_event evs[MAX_EVENTS];
	sigset_t set;

	memset(&L, 0, sizeof L);
	L.tun = tun;
	L.ntun = ntun;
	L.epfd = epoll_create1(EPOLL_CLOEXEC);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	L.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (L.epfd < 0 || L.sfd < 0) {
		log_warn("epoll/signalfd");
		return DAEMON_EX_OSERR;
	}
	L.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	L.fd_cap = fd_cap(ntun);
	size_t want = 0;
	for (size_t i = 0; i < ntun; i++)
		want += tun[i].tc->max_clients > 0 ? (size_t)tun[i].tc->max_clients
		                                   : SIZE_MAX / 2;
	if (L.fd_cap < want)
		log_warnx("the descriptor limit (RLIMIT_NOFILE) allows %zu "
		          "clients in all, fewer than max-clients asks for",
		          L.fd_cap);
	L.stag.kind = EV_SIGNAL;
	add_fd(&L, L.sfd, &L.stag);
	for (size_t i = 0; i < ntun; i++) {
		struct tunnel *t = &tun[i];
		t->ltag.kind = EV_LISTEN;
		t->ltag.obj = t;
		t->etag.kind = EV_SSHERR;
		t->etag.obj = t;
		t->errfd = -1;
		add_fd(&L, t->lfd, &t->ltag);
	}

	while (!L.stopping) {
		int timeout = timers(&L);
		/* Lines left out of the log are summed up once their window
		 * is over: wake for that while there are any. */
		lograte_tick(tun[0].tc->refusals);
		if (tun[0].tc->refusals->left_out > 0 &&
		    (timeout < 0 || timeout > 1000))
			timeout = 1000;
		int n = epoll_wait(L.epfd, evs, MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			break;
		}
		for (int i = 0; i < n && !L.stopping; i++) {
			struct ev_tag *tag = evs[i].data.ptr;
			switch (tag->kind) {
			case EV_SIGNAL:
				on_signal(&L);
				break;
			case EV_LISTEN:
				on_accept(&L, tag->obj);
				break;
			case EV_SSHERR: {
				struct tunnel *t = tag->obj;
				if (tunnel_read_stderr(t)) {
					epoll_ctl(L.epfd, EPOLL_CTL_DEL, t->errfd,
					          NULL);
					tunnel_close_stderr(t);
				}
				break;
			}
			case EV_CLIENT:
			case EV_UPSTREAM:
				if (((struct conn *)tag->obj)->dead)
					break;
				on_conn(&L, tag->obj, tag->kind == EV_UPSTREAM,
				        evs[i].events);
				break;
			}
		}
		bury(&L);
	}
	shutdown_all(&L);
	bury(&L);
	for (size_t i = 0; i < ntun; i++)
		close(tun[i].lfd);
	close(L.sfd);
	close(L.epfd);
	if (L.spare >= 0)
		close(L.spare);
	free(L.kids);
	lograte_last(tun[0].tc->refusals);
	log_info("exiting");
	return 0;
}
