/*
 * redis.c - pooled, authenticated hiredis connections with a deadline
 * (redis.h).
 *
 * Why a pool and not a connection per thread: the milter runs a thread
 * per SMTP session, hundreds at a time, and Redis handles a few busy
 * connections better than many idle ones.  A caller takes a connection,
 * runs its pipeline and puts it back; when every pooled connection is in
 * use it makes another, and at most REDIS_POOL_MAX go back to the pool.
 * The pool must hold about as many as run at once: with 8, 50 sessions
 * made 1,450 new connections a second (milter_bench.sh), each leaving a
 * TIME_WAIT port behind, enough to run out of ports in a minute; with
 * 64, the same run made 54 connections in all, at the same speed.
 */
#include "redis.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "conf.h"
#include "listen.h"
#include "secret.h"

#define REDIS_PASSWORD_MAX 512

struct redis {
	char *host;      /* NULL for a unix socket */
	int port;
	char *path;      /* unix socket path, or NULL */
	char *username;  /* NULL: AUTH with the password alone */
	unsigned char *password;
	size_t passlen;
	long long db;
	struct timeval tv;
	char prefix[REDIS_PREFIX_MAX];
	char name[300];
	pthread_mutex_t mu;
	redisContext *idle[REDIS_POOL_MAX];
	size_t nidle;
};

static void
set_err(char *err, size_t errlen, const struct redis *r, const char *what,
        const char *why)
{
	snprintf(err, errlen, "redis %s: %s%s%s", r->name, what,
	         *what != '\0' ? ": " : "", why);
}

/* Password file contents without the trailing newline editors add. */
static int
read_password(struct redis *r, const char *file, char *err, size_t errlen)
{
	unsigned char *buf;
	size_t n;

	if (secret_read(file, REDIS_PASSWORD_MAX, &buf, &n, err, errlen) == -1)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 0) {
		free(buf);
		snprintf(err, errlen, "%s: empty password", file);
		return -1;
	}
	r->password = buf;
	r->passlen = n;
	return 0;
}

struct redis *
redis_new(cfg_t *cfg, char *err, size_t errlen)
{
	cfg_t *sec = cfg_getsec(cfg, "redis");
	const char *addr, *pwfile, *user, *prefix;
	char *port = NULL;
	long long secs;
	struct redis *r;

	if (sec == NULL || (addr = cfg_getstr(sec, "address")) == NULL) {
		snprintf(err, errlen, "redis.address is not set");
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	if (strncmp(addr, "unix:", 5) == 0) {
		r->path = strdup(addr + 5);
		if (r->path == NULL)
			goto oom;
	} else {
		if (hostport_split(addr, &r->host, &port) == -1 ||
		    !hostport_port_ok(port)) {
			free(port);
			snprintf(err, errlen, "redis.address \"%s\" is not HOST:PORT "
			         "or unix:/PATH", addr);
			goto fail;
		}
		r->port = atoi(port);
		free(port);
	}
	r->db = cfg_getint(sec, "database");
	/* Validated by conf_load(); "0" would mean no deadline at all. */
	secs = conf_duration(sec, "timeout");
	r->tv.tv_sec = (time_t)(secs > 0 ? secs : 1);
	prefix = cfg_getstr(sec, "key-prefix");
	if (prefix == NULL || strlen(prefix) >= sizeof(r->prefix)) {
		snprintf(err, errlen, "redis.key-prefix is longer than %d bytes",
		         REDIS_PREFIX_MAX - 1);
		goto fail;
	}
	strcpy(r->prefix, prefix);
	if ((user = cfg_getstr(sec, "username")) != NULL &&
	    (r->username = strdup(user)) == NULL)
		goto oom;
	if ((pwfile = cfg_getstr(sec, "password-file")) != NULL &&
	    read_password(r, pwfile, err, errlen) == -1)
		goto fail;
	if (r->username != NULL && r->password == NULL) {
		snprintf(err, errlen, "redis.username needs redis.password-file");
		goto fail;
	}
	snprintf(r->name, sizeof(r->name), "%.250s db %lld", addr, r->db);
	return r;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	redis_free(r);
	return NULL;
}

void
redis_free(struct redis *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nidle; i++)
		redisFree(r->idle[i]);
	if (r->password != NULL) {
		explicit_bzero(r->password, r->passlen);
		free(r->password);
	}
	free(r->username);
	free(r->host);
	free(r->path);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

const char *
redis_name(const struct redis *r)
{
	return r->name;
}

const char *
redis_prefix(const struct redis *r)
{
	return r->prefix;
}

/* Why c failed, for err; e is errno as it was at the failure.  hiredis
 * says "Resource temporarily unavailable" for a read past the deadline. */
static void
conn_err(const struct redis *r, const redisContext *c, int e, const char *what,
         char *err, size_t errlen)
{
	char why[64];

	if (c->err == REDIS_ERR_IO && (e == EAGAIN || e == EWOULDBLOCK)) {
		snprintf(why, sizeof(why), "no answer within %lld s",
		         (long long)r->tv.tv_sec);
		set_err(err, errlen, r, what, why);
	} else {
		set_err(err, errlen, r, what,
		        c->errstr[0] ? c->errstr : "connection lost");
	}
}

/* Whether c failed because the server closed or reset it: what a
 * connection kept in the pool meets after a Redis restart, and the one
 * failure worth trying again at once on a fresh connection.  (A timeout
 * is not: a stalled server would cost the deadline twice.) */
static int
conn_closed(const redisContext *c, int e)
{
	return c->err == REDIS_ERR_EOF ||
	       (c->err == REDIS_ERR_IO && (e == ECONNRESET || e == EPIPE));
}

/* A reply that must be +OK; 0, or -1 with err. */
static int
expect_ok(struct redis *r, redisContext *c, const char *what, int argc,
          const char **argv, const size_t *lens, char *err, size_t errlen)
{
	redisReply *rep = redisCommandArgv(c, argc, argv, lens);
	int ok;

	if (rep == NULL) {
		conn_err(r, c, errno, what, err, errlen);
		return -1;
	}
	ok = rep->type == REDIS_REPLY_STATUS;
	if (!ok)
		set_err(err, errlen, r, what,
		        rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

static redisContext *
connect_new(struct redis *r, char *err, size_t errlen)
{
	redisContext *c;
	char db[24];

	c = r->path != NULL ? redisConnectUnixWithTimeout(r->path, r->tv)
	                    : redisConnectWithTimeout(r->host, r->port, r->tv);
	if (c == NULL) {
		set_err(err, errlen, r, "connect", "out of memory");
		return NULL;
	}
	if (c->err) {
		set_err(err, errlen, r, "connect", c->errstr);
		goto fail;
	}
	if (redisSetTimeout(c, r->tv) != REDIS_OK) {
		set_err(err, errlen, r, "connect", strerror(errno));
		goto fail;
	}
	if (r->password != NULL) {
		const char *argv[3] = {"AUTH", NULL, NULL};
		size_t lens[3] = {4, 0, 0};
		int argc = 2;
		if (r->username != NULL) {
			argv[1] = r->username;
			lens[1] = strlen(r->username);
			argc = 3;
		}
		argv[argc - 1] = (const char *)r->password;
		lens[argc - 1] = r->passlen;
		if (expect_ok(r, c, "AUTH", argc, argv, lens, err, errlen) == -1)
			goto fail;
	}
	if (r->db != 0) {
		const char *argv[2] = {"SELECT", db};
		size_t lens[2] = {6, 0};
		lens[1] = (size_t)snprintf(db, sizeof(db), "%lld", r->db);
		if (expect_ok(r, c, "SELECT", 2, argv, lens, err, errlen) == -1)
			goto fail;
	}
	return c;
fail:
	redisFree(c);
	return NULL;
}

/* A pooled connection (*pooled = 1) or a new one; NULL with err. */
static redisContext *
take(struct redis *r, int *pooled, char *err, size_t errlen)
{
	redisContext *c = NULL;

	pthread_mutex_lock(&r->mu);
	if (r->nidle > 0)
		c = r->idle[--r->nidle];
	pthread_mutex_unlock(&r->mu);
	*pooled = c != NULL;
	return c != NULL ? c : connect_new(r, err, errlen);
}

static void
put(struct redis *r, redisContext *c)
{
	pthread_mutex_lock(&r->mu);
	if (r->nidle < REDIS_POOL_MAX) {
		r->idle[r->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	if (c != NULL)
		redisFree(c);
}

int
redis_run(struct redis *r, size_t n, const struct redis_cmd *cmds,
          redisReply **replies, char *err, size_t errlen)
{
	redisContext *c;
	size_t i, got;
	int pooled, attempt, e, again;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((c = take(r, &pooled, err, errlen)) == NULL)
			return -1;
		got = 0;
		for (i = 0; i < n; i++)
			if (redisAppendCommandArgv(c, cmds[i].argc, cmds[i].argv,
			                           cmds[i].lens) != REDIS_OK)
				goto broken;
		for (got = 0; got < n; got++) {
			void *rep;
			if (redisGetReply(c, &rep) != REDIS_OK)
				goto broken;
			replies[got] = rep;
		}
		put(r, c);
		return 0;
	broken:
		e = errno;
		conn_err(r, c, e, "", err, errlen);
		for (i = 0; i < got; i++)
			freeReplyObject(replies[i]);
		/* Only a pooled connection may have gone stale in the pool
		 * (a Redis restart); a fresh one failing is the answer. */
		again = pooled && conn_closed(c, e);
		redisFree(c);
		if (!again)
			break;
	}
	return -1;
}

redisReply *
redis_cmd(struct redis *r, int argc, const char **argv, const size_t *lens,
          char *err, size_t errlen)
{
	struct redis_cmd c = {argc, argv, lens};
	redisReply *rep;

	return redis_run(r, 1, &c, &rep, err, errlen) == 0 ? rep : NULL;
}
