/*
 * input_push.c - the push source kinds (input.h): Dovecot telling relayd
 * about logins over HTTP, through libmicrohttpd.
 *
 *   source "dovecot-policy:ADDR" { api-key-file = "FILE" }
 *   source "dovecot-events:ADDR" { api-key-file = "FILE" }
 * ADDR is 127.0.0.1:PORT (any 127/8 address), [::1]:PORT or unix:/PATH:
 * loopback or a local socket only, since the requests travel in clear.
 * What a request means is pushreq.c's business; this file is plumbing.
 *
 * The server runs inside relayd's loop, not in threads of its own:
 * libmicrohttpd's epoll descriptor is the source's descriptor, and read()
 * is one MHD_run(), which answers every request that is complete.  A
 * login is answered at once (Dovecot never waits on us: in report-only
 * mode it does not even wait for the answer) and goes into the batch the
 * loop commits right after, so a login reaches the table within one
 * wake-up.  Bounded: PUSH_MAX_CONN connections (more are refused by the
 * library), PUSH_CONN_MEM bytes of headers each, bodies of at most
 * PUSHREQ_MAX_BODY bytes (a longer Content-Length is refused before a
 * byte of the body is read), idle connections closed after
 * PUSH_IDLE_SECONDS.  The socket is bound at open(), as `user` (after the
 * switch from root): a port below 1024 is refused, a unix socket is made
 * mode 0666 in a directory of the administrator's choosing (the key is
 * the access control; the socket's directory decides who may reach it).
 *
 * Errors: requests refused (bad key, bad method, malformed body) and the
 * library's own complaints are logged through the intake's rate limit:
 * they are what a flood would consist of.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "input.h"
#include "intake.h"
#include "listen.h"
#include "lograte.h"
#include "log.h"
#include "pushreq.h"
#include "secret.h"

#define PUSH_MAX_CONN 64
#define PUSH_CONN_MEM 16384
#define PUSH_IDLE_SECONDS 30
#define PREFIX_POLICY "dovecot-policy:"
#define PREFIX_EVENTS "dovecot-events:"

struct input_push {
	struct input in;
	enum pushreq_kind kind;
	char *title;
	char *addr;     /* ADDR, after the prefix */
	struct pushreq_key key;
	struct MHD_Daemon *d;
	int lfd;        /* our listening socket, handed to the library */
	struct intake *sink;
	struct lograte mhd_rate;
};

/* One request's state across the access handler's calls. */
struct req {
	int refused;    /* answered already, the body is ignored */
	size_t len;
	char body[];    /* PUSHREQ_MAX_BODY bytes */
};

int
input_is_push(const char *spec)
{
	return spec != NULL && (strncmp(spec, PREFIX_POLICY, 15) == 0 ||
	                        strncmp(spec, PREFIX_EVENTS, 15) == 0);
}

static void
mhd_log(void *arg, const char *fmt, va_list ap)
{
	struct input_push *p = arg;
	unsigned long left;
	char msg[256];

	if (!lograte_take(&p->mhd_rate, lograte_now_ms(), &left))
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warnx("source %s: %s%s", p->in.name, msg,
	          left ? " (more such messages left out)" : "");
}

static enum MHD_Result
answer(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	if (text[0] == '{')
		MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static void
refused(struct input_push *p, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (p->sink != NULL)
		intake_refused(p->sink, &p->in, msg);
}

/* The whole body is in: what it says goes to the intake. */
static enum MHD_Result
complete(struct input_push *p, struct MHD_Connection *c, struct req *q)
{
	struct pushreq_event ev;
	char why[200];
	enum pushreq_result r =
	    pushreq_body(p->kind, q->body, q->len, &ev, why, sizeof why);

	switch (r) {
	case PUSHREQ_LOGIN:
		/* The policy client never says when a session ends: a
		 * session it opened would be held until hold-max.  Its
		 * logins count alone; a log source beside it (the same
		 * session id) opens and ends the session. */
		intake_login(p->sink, &p->in, &ev.a, p->sink->now,
		             p->kind == PUSHREQ_EVENTS && ev.session_len
		                 ? ev.session
		                 : NULL,
		             ev.session_len);
		break;
	case PUSHREQ_END:
		intake_logout(p->sink, ev.session, ev.session_len,
		              p->sink->now);
		break;
	case PUSHREQ_SKIP:
		break;
	case PUSHREQ_BAD:
		refused(p, "request refused: %s", why);
		return answer(c, MHD_HTTP_BAD_REQUEST, pushreq_reply(p->kind));
	}
	return answer(c, MHD_HTTP_OK, pushreq_reply(p->kind));
}

static enum MHD_Result
on_request(void *arg, struct MHD_Connection *c, const char *url,
           const char *method, const char *version, const char *data,
           size_t *data_size, void **state)
{
	struct input_push *p = arg;
	struct req *q = *state;
	(void)version;

	if (q == NULL) {
		/* Headers complete: decide before reading any body. */
		const char *hk = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, "X-API-Key");
		int st = pushreq_auth(p->kind, &p->key, method, url, hk);
		if (st == PUSHREQ_OK && p->kind == PUSHREQ_POLICY) {
			const char *cmd = MHD_lookup_connection_value(
			    c, MHD_GET_ARGUMENT_KIND, "command");
			if (cmd == NULL || strcmp(cmd, "report") != 0) {
				/* A check before or after auth: answered "no
				 * objection" (Dovecot would otherwise wait and
				 * fail logins), never taken as a login. */
				refused(p, "command=%s: only reports are read; "
				        "set auth_policy_check_before_auth and "
				        "auth_policy_check_after_auth to no",
				        cmd ? cmd : "(none)");
				st = MHD_HTTP_OK;
			}
		}
		const char *cl = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (st == PUSHREQ_OK && cl != NULL &&
		    (strlen(cl) > 9 || strtoul(cl, NULL, 10) > PUSHREQ_MAX_BODY))
			st = MHD_HTTP_CONTENT_TOO_LARGE;
		q = malloc(sizeof *q + PUSHREQ_MAX_BODY);
		if (q == NULL)
			return MHD_NO;
		q->refused = st != PUSHREQ_OK;
		q->len = 0;
		*state = q;
		if (q->refused) {
			if (st == 403)
				refused(p, "request without the right key");
			else if (st == 405)
				refused(p, "method %s refused", method);
			else if (st == MHD_HTTP_CONTENT_TOO_LARGE)
				refused(p, "body over %d bytes refused",
				        PUSHREQ_MAX_BODY);
			return answer(c, (unsigned)st, pushreq_reply(p->kind));
		}
		return MHD_YES;
	}
	if (*data_size > 0) {
		if (!q->refused) {
			if (*data_size > PUSHREQ_MAX_BODY - q->len) {
				/* Chunked, so no Content-Length said so.  No
				 * answer can be queued in the middle of a body:
				 * the connection is closed instead. */
				refused(p, "body over %d bytes: connection "
				        "closed", PUSHREQ_MAX_BODY);
				return MHD_NO;
			}
			memcpy(q->body + q->len, data, *data_size);
			q->len += *data_size;
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (q->refused)
		return MHD_YES; /* answered already */
	q->refused = 1;
	return complete(p, c, q);
}

static void
on_completed(void *arg, struct MHD_Connection *c, void **state,
             enum MHD_RequestTerminationCode code)
{
	(void)arg;
	(void)c;
	(void)code;
	free(*state);
	*state = NULL;
}

/* 127.0.0.0/8, ::1, or an IPv4-mapped loopback. */
static int
loopback(const struct addr *a)
{
	static const unsigned char one[16] = {[15] = 1};
	if (a->family == AF_INET)
		return a->bytes[0] == 127;
	return memcmp(a->bytes, one, 16) == 0;
}

static int
bind_tcp(struct input_push *p, char *err, size_t errlen)
{
	char *host = NULL, *port = NULL;
	struct addr a;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = -1, one = 1;

	if (hostport_split(p->addr, &host, &port) != 0 ||
	    !hostport_port_ok(port) || addr_parse(host, &a) != 0) {
		snprintf(err, errlen, "\"%s\" is not 127.0.0.1:PORT, "
		         "[::1]:PORT or unix:/PATH", p->addr);
		goto fail;
	}
	if (!loopback(&a)) {
		snprintf(err, errlen, "%s is not a loopback address: pushed "
		         "logins travel in clear, so relayd takes them on "
		         "loopback or a unix socket only", host);
		goto fail;
	}
	unsigned long pn = strtoul(port, NULL, 10);
	memset(&ss, 0, sizeof ss);
	if (a.family == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)pn);
		memcpy(&in4->sin_addr, a.bytes, 4);
		sl = sizeof *in4;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)pn);
		memcpy(&in6->sin6_addr, a.bytes, 16);
		sl = sizeof *in6;
	}
	fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s%s", p->addr,
		         strerror(errno),
		         errno == EACCES ? " (relayd binds after switching to "
		                           "its user: use a port above 1023)"
		                         : "");
		goto fail;
	}
	free(host);
	free(port);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	free(host);
	free(port);
	return -1;
}

static int
bind_unix(struct input_push *p, char *err, size_t errlen)
{
	const char *path = p->addr + 5;
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (path[0] != '/' || strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "%s: the socket path must be absolute "
		         "and shorter than %zu bytes", p->addr,
		         sizeof sun.sun_path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* A socket left by an earlier run goes; anything else stays. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket",
			         path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	mode_t old = umask(0111); /* 0666: see the top of the file */
	int r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (r < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
		         strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
push_open(struct input *in, const struct input_env *env, char *err,
          size_t errlen)
{
	struct input_push *p = (struct input_push *)in;
	(void)env;

	if (p->d != NULL)
		return 0;
	p->lfd = strncmp(p->addr, "unix:", 5) == 0 ? bind_unix(p, err, errlen)
	                                           : bind_tcp(p, err, errlen);
	if (p->lfd < 0)
		return -1;
	p->d = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    on_request, p, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, p,
	    MHD_OPTION_LISTEN_SOCKET, p->lfd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)PUSH_MAX_CONN, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)PUSH_CONN_MEM, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)PUSH_IDLE_SECONDS, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, p, MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1,
	    MHD_OPTION_END);
	if (p->d == NULL) {
		snprintf(err, errlen, "cannot start the HTTP server on %s",
		         p->addr);
		close(p->lfd);
		p->lfd = -1;
		return -1;
	}
	return 0;
}

static int
push_fd(const struct input *in)
{
	const struct input_push *p = (const struct input_push *)in;
	const union MHD_DaemonInfo *i;
	if (p->d == NULL ||
	    (i = MHD_get_daemon_info(p->d, MHD_DAEMON_INFO_EPOLL_FD)) == NULL)
		return -1;
	return i->epoll_fd;
}

static int
push_read(struct input *in, struct intake *sink, char *err, size_t errlen)
{
	struct input_push *p = (struct input_push *)in;
	p->sink = sink;
	if (MHD_run(p->d) != MHD_YES) {
		snprintf(err, errlen, "the HTTP server failed");
		return -1;
	}
	return 0;
}

static long long
push_timeout_ms(struct input *in)
{
	struct input_push *p = (struct input_push *)in;
	MHD_UNSIGNED_LONG_LONG t;
	if (p->d == NULL || MHD_get_timeout(p->d, &t) != MHD_YES)
		return -1;
	return t > 60000 ? 60000 : (long long)t;
}

static void
push_free(struct input *in)
{
	struct input_push *p = (struct input_push *)in;
	if (p->d != NULL)
		MHD_stop_daemon(p->d); /* closes the listening socket too */
	else if (p->lfd >= 0)
		close(p->lfd);
	free(p->title);
	free(p);
}

static const struct input_ops push_ops = {
    .kind = "push",
    .open = push_open,
    .fd = push_fd,
    .read = push_read,
    .timeout_ms = push_timeout_ms,
    .position = NULL,
    .free = push_free,
};

struct input *
input_push_new(const char *spec, const char *key_file, char *err,
               size_t errlen)
{
	unsigned char *key = NULL;
	size_t keylen = 0;
	struct input_push *p = calloc(1, sizeof *p);

	if (p == NULL || (p->title = strdup(spec)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(p);
		return NULL;
	}
	p->in.ops = &push_ops;
	p->in.name = p->title;
	p->lfd = -1;
	p->kind = strncmp(spec, PREFIX_POLICY, 15) == 0 ? PUSHREQ_POLICY
	                                                : PUSHREQ_EVENTS;
	p->addr = p->title + 15;
	lograte_init(&p->mhd_rate, 5, 60000);
	if (key_file == NULL) {
		snprintf(err, errlen, "api-key-file is required");
		goto fail;
	}
	if (secret_read(key_file, PUSHREQ_KEY_MAX + 2, &key, &keylen, err,
	                errlen) < 0)
		goto fail;
	int r = pushreq_key_set(&p->key, (const char *)key, keylen, err,
	                        errlen);
	explicit_bzero(key, keylen);
	free(key);
	if (r < 0)
		goto fail;
	/* The address is checked now, so -t finds a bad one. */
	if (strncmp(p->addr, "unix:", 5) == 0) {
		if (p->addr[5] != '/') {
			snprintf(err, errlen, "%s: the socket path must be "
			         "absolute", p->addr);
			goto fail;
		}
	} else {
		char *host = NULL, *port = NULL;
		struct addr a;
		int ok = hostport_split(p->addr, &host, &port) == 0 &&
		         hostport_port_ok(port) && addr_parse(host, &a) == 0 &&
		         loopback(&a);
		free(host);
		free(port);
		if (!ok) {
			snprintf(err, errlen, "\"%s\" is not 127.0.0.1:PORT, "
			         "[::1]:PORT or unix:/PATH (loopback only)",
			         p->addr);
			goto fail;
		}
	}
	return &p->in;
fail:
	push_free(&p->in);
	return NULL;
}
