/*
 * proxy.c - move bytes between a client and ssh's forwarded port (see
 * proxy.h).
 *
 * Level-triggered epoll: a side is registered only while we want
 * something from it (EPOLLIN while its peer's buffer has room and it has
 * not ended, EPOLLOUT while bytes wait for it), and deregistered when we
 * want nothing, so a socket that stays readable or hung up cannot spin
 * the loop.  Each event reads at most one buffer's worth and then writes
 * what it can at once, which saves a trip through epoll per chunk.
 *
 * Why not splice(2): bytes a client sends before the tunnel is up must be
 * held somewhere, so a user-space buffer is needed anyway; and with 64 KiB
 * buffers the copy costs less than the epoll and syscall round trips
 * around it (tests/bench/tunnel_bench.sh measures the difference against
 * ssh's port directly).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy.h"

struct conn *
conn_new(int epfd, void *owner, int cfd)
{
	struct conn *c = calloc(1, sizeof *c);
	int one = 1;

	if (c == NULL)
		return NULL;
	c->c2u.d = malloc(CONN_BUFSZ);
	c->u2c.d = malloc(CONN_BUFSZ);
	if (c->c2u.d == NULL || c->u2c.d == NULL) {
		free(c->c2u.d);
		free(c->u2c.d);
		free(c);
		return NULL;
	}
	c->owner = owner;
	c->cfd = cfd;
	c->ufd = -1;
	c->ctag.kind = EV_CLIENT;
	c->ctag.obj = c;
	c->utag.kind = EV_UPSTREAM;
	c->utag.obj = c;
	/* SMTP is request/response: a line read is a line to pass on now. */
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	conn_sync(epfd, c);
	return c;
}

static void
set_interest(int epfd, int fd, struct ev_tag *tag, uint32_t *cur,
             uint32_t want)
{
	struct epoll_event ev = {.events = want, .data.ptr = tag};

	if (fd < 0 || want == *cur)
		return;
	if (want == 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	else if (*cur == 0)
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
	else
		epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
	*cur = want;
}

void
conn_sync(int epfd, struct conn *c)
{
	uint32_t cw = 0, uw = 0;

	if (!c->c_eof && c->c2u.len < CONN_BUFSZ)
		cw |= EPOLLIN;
	if (c->u2c.len > 0)
		cw |= EPOLLOUT;
	if (c->ustate == CONN_CONNECTING) {
		uw = EPOLLOUT;
	} else if (c->ustate == CONN_OPEN) {
		if (!c->u_eof && c->u2c.len < CONN_BUFSZ)
			uw |= EPOLLIN;
		if (c->c2u.len > 0)
			uw |= EPOLLOUT;
	}
	set_interest(epfd, c->cfd, &c->ctag, &c->cev, cw);
	set_interest(epfd, c->ufd, &c->utag, &c->uev, uw);
}

static void
close_upstream(int epfd, struct conn *c)
{
	set_interest(epfd, c->ufd, &c->utag, &c->uev, 0);
	if (c->ufd >= 0)
		close(c->ufd);
	c->ufd = -1;
	c->ustate = CONN_NONE;
}

int
conn_connect(int epfd, struct conn *c, int port)
{
	struct sockaddr_in sin;
	int one = 1;

	close_upstream(epfd, c);
	c->ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->ufd < 0)
		return CONN_REFUSED;
	setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (connect(c->ufd, (struct sockaddr *)&sin, sizeof sin) == 0) {
		c->ustate = CONN_OPEN;
	} else if (errno == EINPROGRESS) {
		c->ustate = CONN_CONNECTING;
	} else {
		close_upstream(epfd, c);
		return CONN_REFUSED;
	}
	conn_sync(epfd, c);
	return c->ustate;
}

int
conn_connected(int epfd, struct conn *c)
{
	int e = 0;
	socklen_t len = sizeof e;

	if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &e, &len) != 0 || e != 0) {
		close_upstream(epfd, c);
		return CONN_REFUSED;
	}
	c->ustate = CONN_OPEN;
	conn_sync(epfd, c);
	return CONN_OPEN;
}

/* Read from `from` into b if asked; write b to `to` if it is open; shut
 * `to` down once `from` ended and b is empty.  Returns the bytes read
 * (0 when none), PUMP_RERR on a read error, PUMP_WERR on a write error. */
#define PUMP_RERR (-1)
#define PUMP_WERR (-2)
static ssize_t
pump(int from, int to, int to_open, struct conn_buf *b, int *eof, int *shut,
     unsigned long long *count, int do_read)
{
	ssize_t got = 0;

	if (do_read && !*eof && b->len < CONN_BUFSZ) {
		if (b->off > 0 && b->off + b->len == CONN_BUFSZ) {
			memmove(b->d, b->d + b->off, b->len);
			b->off = 0;
		}
		ssize_t r = read(from, b->d + b->off + b->len,
		                 CONN_BUFSZ - b->off - b->len);
		if (r > 0) {
			b->len += (size_t)r;
			got = r;
			if (count != NULL)
				*count += (unsigned long long)r;
		} else if (r == 0) {
			*eof = 1;
		} else if (errno != EAGAIN && errno != EINTR) {
			return PUMP_RERR;
		}
	}
	if (to_open && b->len > 0) {
		ssize_t w = send(to, b->d + b->off, b->len, MSG_NOSIGNAL);
		if (w > 0) {
			b->off += (size_t)w;
			b->len -= (size_t)w;
			if (b->len == 0)
				b->off = 0;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			return PUMP_WERR;
		}
	}
	if (to_open && *eof && b->len == 0 && !*shut) {
		shutdown(to, SHUT_WR);
		*shut = 1;
	}
	return got;
}

/* A bulk transfer keeps a side readable for a long time: go round a few
 * times per event while whole buffers come in and go out, instead of
 * through epoll_wait for each 64 KiB. */
#define PUMP_ROUNDS 8

int
conn_io(struct conn *c, int upstream_side, uint32_t events)
{
	int readable = (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0;
	int open = c->ustate == CONN_OPEN;
	ssize_t r;

	for (int round = 0; round < PUMP_ROUNDS; round++) {
		r = pump(c->cfd, c->ufd, open, &c->c2u, &c->c_eof, &c->u_shut,
		         NULL, !upstream_side && readable);
		if (r == PUMP_RERR)
			return CONN_DONE; /* the client went away */
		if (r == PUMP_WERR)
			return c->from_up == 0 ? CONN_FAILED : CONN_DONE;
		if (!open)
			/* A client that leaves before the tunnel is up and
			 * left nothing to deliver needs nothing more. */
			return c->c_eof && c->c2u.len == 0 ? CONN_DONE
			                                   : CONN_ALIVE;
		ssize_t r2 = pump(c->ufd, c->cfd, 1, &c->u2c, &c->u_eof,
		                  &c->c_shut, &c->from_up,
		                  upstream_side && readable);
		if (r2 == PUMP_RERR)
			return c->from_up == 0 ? CONN_FAILED : CONN_DONE;
		if (r2 == PUMP_WERR)
			return CONN_DONE;
		/* Another round only while a full buffer's worth moved
		 * through and was passed on: more is likely waiting. */
		struct conn_buf *b = upstream_side ? &c->u2c : &c->c2u;
		ssize_t moved = upstream_side ? r2 : r;
		if (moved < (ssize_t)(CONN_BUFSZ / 2) || b->len > 0)
			break;
	}
	/* The far end closed without a word (ssh could not reach the remote
	 * port): tell the client something an MTA understands. */
	if (c->u_eof && c->from_up == 0)
		return CONN_FAILED;
	if (c->c_eof && c->u_shut && c->u_eof && c->c_shut)
		return CONN_DONE;
	return CONN_ALIVE;
}

void
conn_fail(int epfd, struct conn *c, const char *reply)
{
	char buf[600];
	size_t n = strlen(reply);

	/* Nothing reached the client yet, so its socket buffer is empty and
	 * this short write completes; if it doesn't, the close still tells
	 * the client the session is over. */
	if (c->from_up == 0 && n + 2 < sizeof buf) {
		memcpy(buf, reply, n);
		memcpy(buf + n, "\r\n", 2);
		ssize_t w = send(c->cfd, buf, n + 2, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
	}
	/* Closing a socket with unread input sends a reset, which can make
	 * the client lose the reply above: end our side, drop its input. */
	shutdown(c->cfd, SHUT_WR);
	for (int i = 0; i < 16 && read(c->cfd, buf, sizeof buf) > 0; i++)
		;
	conn_close(epfd, c);
}

void
conn_close(int epfd, struct conn *c)
{
	if (c->dead)
		return;
	close_upstream(epfd, c);
	set_interest(epfd, c->cfd, &c->ctag, &c->cev, 0);
	close(c->cfd);
	c->cfd = -1;
	free(c->c2u.d);
	free(c->u2c.d);
	c->c2u.d = c->u2c.d = NULL;
	c->dead = 1;
}
