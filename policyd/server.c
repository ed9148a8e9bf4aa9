/*
 * server.c - accept, one thread per connection, stop (server.h).
 *
 * Why threads: a request waits for the relay table (a Redis round trip,
 * or an LMDB read under Postfix's fcntl lock) and the client code reads
 * blocking streams; a thread per connection keeps both simple, and their
 * number is bounded by the smtpd processes of the Postfix in front
 * (default_process_limit) and by max_conns here.  The timeouts are the
 * socket's own (SO_RCVTIMEO, SO_SNDTIMEO): a read that times out ends
 * the stream like end of input.
 *
 * Stopping: every open connection's socket is shut down under the lock
 * that also guards its removal, so a descriptor number is never shut
 * down after its thread closed it and the number was reused.  A slot is
 * freed before its thread stops counting (connthreads.h), so while fewer
 * than max_conns count there is a free slot.
 */
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "client.h"
#include "connthreads.h"
#include "log.h"
#include "serveloop.h"

#define STOP_WAIT_S 5

struct server {
	const struct server_conf *conf;
	struct connthreads threads;
	pthread_mutex_t mu; /* guards fds */
	int *fds;           /* one slot per connection, -1 when free */
};

struct conn {
	struct server *srv;
	int slot, fd;
};

static void
conn_end(struct conn *k)
{
	struct server *srv = k->srv;

	pthread_mutex_lock(&srv->mu);
	srv->fds[k->slot] = -1;
	pthread_mutex_unlock(&srv->mu);
	connthreads_done(&srv->threads);
}

static void *
conn_main(void *arg)
{
	struct conn *k = arg;
	int wfd = dup(k->fd);
	FILE *in = fdopen(k->fd, "r");
	FILE *out = wfd >= 0 ? fdopen(wfd, "w") : NULL;

	if (in != NULL && out != NULL)
		(void)client_run(in, out, k->srv->conf->ctx);
	else
		log_warn("connection streams");
	conn_end(k); /* before the close: see the header */
	if (in != NULL)
		fclose(in);
	else
		close(k->fd);
	if (out != NULL)
		fclose(out);
	else if (wfd >= 0)
		close(wfd);
	free(k);
	return NULL;
}

static void
start_conn(void *arg, int fd)
{
	struct server *srv = arg;
	struct timeval tv = {(time_t)srv->conf->idle, 0};
	struct conn *k;
	int slot, r;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		log_warnx("out of memory for a connection");
		close(fd);
		return;
	}
	pthread_mutex_lock(&srv->mu);
	for (slot = 0; srv->fds[slot] != -1; slot++)
		; /* the caller saw active < max_conns: there is a free one */
	srv->fds[slot] = fd;
	pthread_mutex_unlock(&srv->mu);
	*k = (struct conn){.srv = srv, .slot = slot, .fd = fd};
	if ((r = connthreads_start(&srv->threads, conn_main, k)) != 0) {
		log_warnx("cannot start a connection thread: %s", strerror(r));
		pthread_mutex_lock(&srv->mu);
		srv->fds[slot] = -1;
		pthread_mutex_unlock(&srv->mu);
		close(fd);
		free(k);
	}
}

static int
active(void *arg)
{
	return connthreads_active(&((struct server *)arg)->threads);
}

static void
tick(void *arg)
{
	const struct answer_ctx *ctx = ((struct server *)arg)->conf->ctx;

	lograte_tick(ctx->denied);
	lograte_tick(ctx->failed);
	lograte_tick(ctx->bad);
}

/* The listener and the signals, until SIGTERM/SIGINT. */
static int
serve(struct server *srv, int sfd)
{
	struct serveloop l = {.lfd = srv->conf->lfd,
	                      .max = srv->conf->max_conns,
	                      .arg = srv,
	                      .active = active,
	                      .accepted = start_conn,
	                      .tick = tick};

	return serveloop_serve(&l, sfd,
	                       "nothing to reload (the relay table is read at "
	                       "each request); restart to change settings");
}

/* Shut every connection down, then wait for their threads. */
static void
stop_all(struct server *srv)
{
	int i;

	pthread_mutex_lock(&srv->mu);
	for (i = 0; i < srv->conf->max_conns; i++)
		if (srv->fds[i] != -1)
			shutdown(srv->fds[i], SHUT_RDWR);
	pthread_mutex_unlock(&srv->mu);
	if ((i = connthreads_wait(&srv->threads, STOP_WAIT_S)) > 0)
		log_warnx("stopping with %d connection(s) still busy", i);
}

int
server_run(const struct server_conf *conf)
{
	/* static: a thread that outlives stop_all() must still find it. */
	static struct server srv;
	int sfd, rc, i;

	memset(&srv, 0, sizeof(srv));
	srv.conf = conf;
	if ((srv.fds = malloc((size_t)conf->max_conns * sizeof(int))) == NULL) {
		log_warnx("out of memory");
		return -1;
	}
	for (i = 0; i < conf->max_conns; i++)
		srv.fds[i] = -1;
	/* Before any thread exists (serveloop.h). */
	if ((sfd = serveloop_signals()) < 0) {
		log_warn("signalfd");
		return -1;
	}
	pthread_mutex_init(&srv.mu, NULL);
	connthreads_init(&srv.threads);

	rc = serve(&srv, sfd);
	close(conf->lfd);
	stop_all(&srv);
	close(sfd);
	lograte_last(conf->ctx->denied);
	lograte_last(conf->ctx->failed);
	lograte_last(conf->ctx->bad);
	if (active(&srv) > 0)
		return 1; /* leave what they use to exit() */
	connthreads_destroy(&srv.threads);
	pthread_mutex_destroy(&srv.mu);
	free(srv.fds);
	return rc;
}
