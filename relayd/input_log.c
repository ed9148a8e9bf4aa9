/*
 * input_log.c - the log source kind (input.h): a file followed across
 * rotation, a FIFO or stdin (source.h), each line through a log parser
 * (logparse.h) into the intake.
 *
 * A file source has an inotify instance of its own, which is the
 * descriptor the loop waits on: the loop needs to know nothing of
 * inotify, and an event on one file wakes only its own source.  On every
 * read() the queued events are handed to source_inotify() (it keeps its
 * watches current) and then the file is read whatever the events said:
 * source_read() looks at the path itself, so lost events (queue
 * overflow) or a read without one (start, SIGHUP, a retry) miss nothing.
 *
 * The position saved for a file source is restored at open; a position
 * file that cannot be read is logged and the file read from its start
 * (old lines are stale, so that only costs time).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "input.h"
#include "intake.h"
#include "log.h"
#include "logparse.h"
#include "position.h"

struct input_log {
	struct input in;
	struct source *src;
	struct logparser *parser;
	int ifd; /* file sources: our inotify instance; else -1 */
	struct intake *sink;
};

static int
log_open(struct input *in, const struct input_env *env, char *err,
         size_t errlen)
{
	struct input_log *l = (struct input_log *)in;
	struct source_pos p;

	if (source_kind(l->src) == SOURCE_FILE) {
		if (l->ifd < 0 &&
		    (l->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
			snprintf(err, errlen, "inotify_init1: %s",
			         strerror(errno));
			return -1;
		}
		int r = env != NULL && env->positions_file != NULL
		            ? position_load(env->positions_file, in->name, &p,
		                            err, errlen)
		            : 0;
		if (r < 0)
			log_warnx("%s (reading %s from its start)", err,
			          in->name);
		else if (r == 1)
			source_restore(l->src, &p);
	}
	return source_open(l->src, l->ifd, err, errlen);
}

static int
log_fd(const struct input *in)
{
	const struct input_log *l = (const struct input_log *)in;
	return l->ifd >= 0 ? l->ifd : source_pollfd(l->src);
}

static void
on_line(void *arg, const char *line, size_t len)
{
	struct input_log *l = arg;
	struct logparse_event ev;

	switch (logparser_event(l->parser, line, len, l->sink->now, &ev)) {
	case LOGPARSE_LOGIN:
		intake_login(l->sink, &l->in, &ev.a, ev.when, ev.session,
		             ev.session_len);
		break;
	case LOGPARSE_END:
		intake_logout(l->sink, ev.session, ev.session_len, ev.when);
		break;
	case LOGPARSE_RESTART:
		intake_restart(l->sink, &l->in, ev.when);
		break;
	case LOGPARSE_NONE:
		break;
	}
}

/* Hand the queued inotify events to the source (watch bookkeeping). */
static void
drain_inotify(struct input_log *l)
{
	char buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(l->ifd, buf, sizeof buf);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_warn("%s: inotify read", l->in.name);
			return;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			p += sizeof *ev + ev->len;
			source_inotify(l->src, l->ifd, ev->wd, ev->mask,
			               ev->len ? ev->name : NULL);
		}
	}
}

static int
log_read(struct input *in, struct intake *sink, char *err, size_t errlen)
{
	struct input_log *l = (struct input_log *)in;
	char msg[128];

	if (l->ifd >= 0)
		drain_inotify(l);
	l->sink = sink;
	int r = source_read(l->src, l->ifd, on_line, l, err, errlen);
	const char *lost = source_report(l->src);
	if (lost != NULL)
		log_warnx("source %s: %s", in->name, lost);
	unsigned long skipped = source_skipped(l->src);
	if (skipped > 0) {
		/* Long lines are what a hostile client makes. */
		snprintf(msg, sizeof msg, "skipped %lu line(s) longer than %d "
		         "bytes", skipped, SOURCE_MAX_LINE);
		intake_refused(sink, in, msg);
	}
	return r;
}

static int
log_position(const struct input *in, struct source_pos *p)
{
	const struct input_log *l = (const struct input_log *)in;
	return source_position(l->src, p);
}

static void
log_free(struct input *in)
{
	struct input_log *l = (struct input_log *)in;
	source_free(l->src);
	logparser_free(l->parser);
	if (l->ifd >= 0)
		close(l->ifd);
	free(l);
}

static const struct input_ops log_ops = {
    .kind = "log",
    .open = log_open,
    .fd = log_fd,
    .read = log_read,
    .timeout_ms = NULL,
    .position = log_position,
    .free = log_free,
};

struct input *
input_log_new(const char *spec, const char *format, const char *regex,
              int ip_group, char *err, size_t errlen)
{
	struct input_log *l = calloc(1, sizeof *l);
	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->in.ops = &log_ops;
	l->ifd = -1;
	if ((l->src = source_new(spec, err, errlen)) == NULL ||
	    (l->parser = logparser_new(format, regex, ip_group, err,
	                               errlen)) == NULL) {
		log_free(&l->in);
		return NULL;
	}
	l->in.name = source_name(l->src);
	return &l->in;
}
