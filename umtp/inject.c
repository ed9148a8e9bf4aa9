/*
 * inject.c - inject a message into the local MTA (inject.h).
 */
#include "inject.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "umtp_codec.h"

#define UMTP_ADDRBUF (UMTP_MAX_FIELD + 3)

int
inject_parse(const char *spec, struct inject *in, char *err, size_t errlen)
{
	memset(in, 0, sizeof *in);
	if (strncmp(spec, "smtp://", 7) == 0) {
		in->kind = INJECT_SMTP;
		in->target = strdup(spec);
	} else if (strncmp(spec, "sendmail:/", 10) == 0) {
		in->kind = INJECT_SENDMAIL;
		in->target = strdup(spec + 9);
	} else {
		snprintf(err, errlen, "inject: \"%s\" is not smtp://HOST:PORT or "
		         "sendmail:/PATH", spec);
		return -1;
	}
	if (in->target == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void
inject_free(struct inject *in)
{
	if (in->curl != NULL)
		curl_easy_cleanup(in->curl);
	in->curl = NULL;
	free(in->target);
	in->target = NULL;
}

/* Copy with every line ending turned into crlf ? "\r\n" : "\n". */
static char *
normalise(const char *d, size_t len, int crlf, size_t *outlen)
{
	char *o = malloc(len * 2 + 1);
	size_t n = 0;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (d[i] == '\r' && i + 1 < len && d[i + 1] == '\n')
			continue; /* the \n that follows writes the ending */
		if (d[i] == '\n') {
			if (crlf)
				o[n++] = '\r';
			o[n++] = '\n';
		} else {
			o[n++] = d[i];
		}
	}
	o[n] = '\0';
	*outlen = n;
	return o;
}

struct reader {
	const char *p;
	size_t left;
};

static size_t
read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct reader *r = arg;
	size_t n = size * nmemb;

	if (n > r->left)
		n = r->left;
	memcpy(buf, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

static int
inject_smtp(struct inject *in, const char *sender, char *const *rcpts,
            size_t nrcpt, const char *data, size_t len, char *err,
            size_t errlen)
{
	char ebuf[CURL_ERROR_SIZE] = "", from[UMTP_ADDRBUF];
	struct curl_slist *rl = NULL;
	struct reader r;
	size_t n;
	char *msg = normalise(data, len, 1, &n);
	CURL *c;
	CURLcode rc = CURLE_OUT_OF_MEMORY;

	/* One handle kept between messages: libcurl keeps its connection
	 * open, so a burst costs one MAIL/RCPT/DATA per message, not a
	 * connection, EHLO and QUIT as well.  A dead connection is noticed
	 * and replaced by libcurl; after any failure the handle goes. */
	if (in->curl == NULL)
		in->curl = curl_easy_init();
	else
		curl_easy_reset(in->curl);
	c = in->curl;

	if (msg == NULL || c == NULL)
		goto out;
	/* Addresses were checked by the codec: printable, no blanks, no
	 * angle brackets, so they cannot break out of the command. */
	snprintf(from, sizeof from, "<%s>", sender ? sender : "");
	for (size_t i = 0; i < nrcpt; i++) {
		char to[UMTP_ADDRBUF];
		struct curl_slist *t;

		snprintf(to, sizeof to, "<%s>", rcpts[i]);
		if ((t = curl_slist_append(rl, to)) == NULL)
			goto out;
		rl = t;
	}
	r.p = msg;
	r.left = n;
	curl_easy_setopt(c, CURLOPT_URL, in->target);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rl);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &r);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)n);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	                 in->timeout > 0 && in->timeout < 10 ? (long)in->timeout : 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT,
	                 in->timeout > 0 ? (long)in->timeout : 60L);
	rc = curl_easy_perform(c);
out:
	if (rc != CURLE_OK) {
		long code = 0;
		if (c != NULL)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		snprintf(err, errlen, "%s: %s%s%s (reply %ld)", in->target,
		         curl_easy_strerror(rc), ebuf[0] ? ": " : "", ebuf, code);
	}
	curl_slist_free_all(rl);
	if (rc != CURLE_OK && c != NULL) {
		curl_easy_cleanup(c);
		in->curl = NULL;
	}
	free(msg);
	return rc == CURLE_OK ? 0 : -1;
}

/* Kill the child, reap it, say why in err. */
static void
kill_child(pid_t pid, long long timeout, char *err, size_t errlen)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	snprintf(err, errlen, "sendmail killed: no exit after %lld s", timeout);
}

/*
 * Write the message to the child's stdin (wfd, closed here) and wait for
 * it to exit, in timeout seconds in all: a claim's deadline assumes the
 * attempt is over by then (claimstore.h), so a child still running is
 * killed.  Without pidfd_open() (Linux < 5.3) the wait is unbounded, as
 * it used to be.  0 with *status, or -1 with err.
 */
static int
feed_and_wait(pid_t pid, int wfd, const char *msg, size_t n,
              long long timeout, int *status, char *err, size_t errlen)
{
	struct timespec start, now;
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	size_t off = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	if (pfd >= 0)
		fcntl(wfd, F_SETFL, fcntl(wfd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		struct pollfd p[2] = {{pfd, POLLIN, 0}, {wfd, POLLOUT, 0}};
		long long left;
		if (pfd < 0) {
			/* blocking: write all, then wait */
			while (wfd >= 0 && off < n) {
				ssize_t w = write(wfd, msg + off, n - off);
				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0)
					break; /* the exit status tells why */
				off += (size_t)w;
			}
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout * 1000 - ((long long)(now.tv_sec - start.tv_sec) * 1000 +
		                         (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0) {
			if (wfd >= 0)
				close(wfd);
			close(pfd);
			kill_child(pid, timeout, err, errlen);
			return -1;
		}
		if (poll(p, wfd >= 0 ? 2 : 1, (int)(left < 1000 ? left : 1000)) < 0 &&
		    errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			if (wfd >= 0)
				close(wfd);
			close(pfd);
			kill_child(pid, timeout, err, errlen);
			return -1;
		}
		if (wfd >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(wfd, msg + off, n - off);
			if (w > 0)
				off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == n) {
				close(wfd); /* done, or the child stopped reading */
				wfd = -1;
			}
		}
		if (p[0].revents & POLLIN)
			break; /* it exited */
	}
	if (wfd >= 0)
		close(wfd);
	if (pfd >= 0)
		close(pfd);
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	return 0;
}

static int
inject_sendmail(struct inject *in, const char *sender,
                char *const *rcpts, size_t nrcpt, const char *data,
                size_t len, char *err, size_t errlen)
{
	char **argv = calloc(nrcpt + 7, sizeof *argv);
	size_t n, a = 0;
	char *msg = normalise(data, len, 0, &n);
	int fds[2] = {-1, -1}, status, ret = -1;
	pid_t pid;

	if (argv == NULL || msg == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	argv[a++] = "sendmail";
	argv[a++] = "-oi";
	if (sender != NULL) {
		argv[a++] = "-f";
		argv[a++] = sender[0] ? (char *)sender : "<>";
	}
	argv[a++] = "--"; /* nothing after this is an option */
	for (size_t i = 0; i < nrcpt; i++)
		argv[a++] = rcpts[i];
	argv[a] = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	/* posix_spawn (vfork underneath): no copy of our page tables per
	 * message, which fork() would make.  The child gets the pipe as
	 * stdin (dup2 clears close-on-exec) and SIGPIPE's default back. */
	{
		posix_spawn_file_actions_t fa;
		posix_spawnattr_t at;
		sigset_t def;
		int e;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
		posix_spawnattr_init(&at);
		sigemptyset(&def);
		sigaddset(&def, SIGPIPE);
		posix_spawnattr_setsigdefault(&at, &def);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
		e = posix_spawn(&pid, in->target, &fa, &at, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&at);
		if (e != 0) {
			snprintf(err, errlen, "%s: %s", in->target, strerror(e));
			goto out;
		}
	}
	close(fds[0]);
	fds[0] = -1;
	if (feed_and_wait(pid, fds[1], msg, n, in->timeout > 0 ? in->timeout : 60,
	                  &status, err, errlen) < 0) {
		fds[1] = -1; /* closed by feed_and_wait() */
		goto out;
	}
	fds[1] = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ret = 0;
	else if (WIFEXITED(status))
		snprintf(err, errlen, "%s exited with status %d", in->target,
		         WEXITSTATUS(status));
	else
		snprintf(err, errlen, "%s killed by signal %d", in->target,
		         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(argv);
	free(msg);
	return ret;
}

int
inject_message(struct inject *in, const char *sender, char *const *rcpts,
               size_t nrcpt, const char *data, size_t len, char *err,
               size_t errlen)
{
	if (in->kind == INJECT_SMTP)
		return inject_smtp(in, sender, rcpts, nrcpt, data, len, err, errlen);
	return inject_sendmail(in, sender, rcpts, nrcpt, data, len, err, errlen);
}
