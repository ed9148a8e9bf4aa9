/*
 * test_source.c - relayd/source.c against real files, inotify, FIFOs.
 *
 * Each test works in its own temporary directory and drives the source the
 * way relayd's loop does: a real inotify descriptor, polled with a
 * timeout, every event passed to source_inotify() and source_read()
 * called when it says the event was ours (pump() below).  Lines are
 * collected with their exact bytes and compared with what was written:
 * nothing lost, nothing twice, in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../relayd/position.h"
#include "../../relayd/source.h"

/* ---- collected lines ---- */

struct lines {
	char **v;
	size_t *len;
	size_t n, cap;
	int bad_nul; /* a line whose line[len] was not NUL */
};

static void collect(void *arg, const char *line, size_t len)
{
	struct lines *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		l->len = realloc(l->len, l->cap * sizeof *l->len);
		assert_non_null(l->v);
		assert_non_null(l->len);
	}
	if (line[len] != '\0')
		l->bad_nul = 1;
	l->v[l->n] = malloc(len + 1);
	assert_non_null(l->v[l->n]);
	memcpy(l->v[l->n], line, len);
	l->v[l->n][len] = '\0';
	l->len[l->n] = len;
	l->n++;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->len);
	memset(l, 0, sizeof *l);
}

/* The collected lines must be exactly the strings given (NULL-terminated). */
static void expect_lines(const struct lines *l, ...)
{
	va_list ap;
	const char *want;
	size_t i = 0;

	va_start(ap, l);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (i >= l->n)
			fail_msg("line %zu missing: expected \"%s\"", i, want);
		assert_string_equal(l->v[i], want);
		assert_int_equal(l->len[i], strlen(want));
		i++;
	}
	va_end(ap);
	if (i != l->n)
		fail_msg("%zu lines, expected %zu; extra: \"%s\"", l->n, i,
		         l->v[i]);
	assert_int_equal(l->bad_nul, 0);
}

/* ---- the test environment ---- */

struct env {
	char dir[1024];
	char path[PATH_MAX];
	int ifd;
	struct source *s;
	struct lines l;
};

static void rm_rf(const char *dir)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof *e);
	const char *tmp = getenv("LEAFMAIL_TMP");

	assert_non_null(e);
	snprintf(e->dir, sizeof e->dir, "%s/source.XXXXXX",
	         tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof e->path, "%s/dovecot.log", e->dir);
	e->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(e->ifd >= 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	source_free(e->s);
	lines_free(&e->l);
	close(e->ifd);
	rm_rf(e->dir);
	free(e);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What relayd's loop does: wait for inotify events, hand each to the
 * source, read when one concerned it.  Runs until `want` lines have been
 * collected and then `quiet_ms` pass without an event (so a duplicate
 * would still show up), or until 5 s are over. */
static void pump(struct env *e, size_t want, int quiet_ms)
{
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	char err[512];
	long long deadline = now_ms() + 5000, quiet_end = -1;
	struct pollfd pfd = {.fd = e->ifd, .events = POLLIN};

	for (;;) {
		long long now = now_ms();
		int t;

		if (e->l.n >= want && quiet_end < 0)
			quiet_end = now + quiet_ms;
		if (quiet_end >= 0 && now >= quiet_end)
			return;
		if (now >= deadline)
			return;
		t = (int)((quiet_end >= 0 ? quiet_end : deadline) - now);
		if (poll(&pfd, 1, t) <= 0)
			continue;
		ssize_t n = read(e->ifd, buf, sizeof buf);
		int ours = 0;
		for (char *p = buf; n > 0 && p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			p += sizeof *ev + ev->len;
			if (source_inotify(e->s, e->ifd, ev->wd, ev->mask,
			                   ev->len ? ev->name : NULL))
				ours = 1;
		}
		if (ours) {
			int r = source_read(e->s, e->ifd, collect, &e->l, err,
			                    sizeof err);
			if (r != 0)
				fail_msg("source_read: %d %s", r, err);
		}
	}
}

static void open_source(struct env *e)
{
	char err[512];

	e->s = source_new(e->path, err, sizeof err);
	assert_non_null(e->s);
	if (source_open(e->s, e->ifd, err, sizeof err) != 0)
		fail_msg("source_open: %s", err);
	/* The loop's catch-up read at start. */
	if (source_read(e->s, e->ifd, collect, &e->l, err, sizeof err) != 0)
		fail_msg("source_read: %s", err);
}

static void write_file(const char *path, int flags, const char *data,
                       size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void append(const char *path, const char *data)
{
	write_file(path, O_APPEND, data, strlen(data));
}

static void put(int fd, const char *data)
{
	size_t n = strlen(data);

	assert_int_equal(write(fd, data, n), (ssize_t)n);
}

/* ---- tests ---- */

static void test_spec(void **state)
{
	char err[256];
	struct source *s;

	(void)state;
	assert_null(source_new("relative/log", err, sizeof err));
	assert_non_null(strstr(err, "absolute"));
	assert_null(source_new("fifo:", err, sizeof err));
	assert_null(source_new("/var/log/", err, sizeof err));
	assert_null(source_new("", err, sizeof err));
	s = source_new("-", err, sizeof err);
	assert_non_null(s);
	assert_int_equal(source_kind(s), SOURCE_STDIN);
	assert_string_equal(source_name(s), "-");
	source_free(s);
	s = source_new("fifo:/run/x fifo", err, sizeof err);
	assert_non_null(s);
	assert_int_equal(source_kind(s), SOURCE_FIFO);
	assert_string_equal(source_name(s), "/run/x fifo");
	source_free(s);
	s = source_new("/var/log/mail.log", err, sizeof err);
	assert_non_null(s);
	assert_int_equal(source_kind(s), SOURCE_FILE);
	assert_int_equal(source_pollfd(s), -1);
	assert_string_equal(source_name(s), "/var/log/mail.log");
	source_free(s);
}

static void test_append(void **state)
{
	struct env *e = *state;

	append(e->path, "one\ntwo\n");
	open_source(e);
	expect_lines(&e->l, "one", "two", NULL);
	append(e->path, "three\nfour\n");
	pump(e, 4, 100);
	expect_lines(&e->l, "one", "two", "three", "four", NULL);
	append(e->path, "\n");
	pump(e, 5, 100);
	expect_lines(&e->l, "one", "two", "three", "four", "", NULL);
}

static void test_partial(void **state)
{
	struct env *e = *state;

	append(e->path, "a\nhel");
	open_source(e);
	expect_lines(&e->l, "a", NULL);
	append(e->path, "lo, wor");
	pump(e, 0, 150); /* nothing more may arrive yet */
	expect_lines(&e->l, "a", NULL);
	append(e->path, "ld\nb");
	pump(e, 2, 100);
	expect_lines(&e->l, "a", "hello, world", NULL);
}

static void test_rename_rotation(void **state)
{
	struct env *e = *state;
	char rotated[PATH_MAX + 8], rotated2[PATH_MAX + 8];
	int w;

	snprintf(rotated, sizeof rotated, "%s.1", e->path);
	snprintf(rotated2, sizeof rotated2, "%s.2", e->path);
	w = open(e->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	assert_true(w >= 0);
	put(w, "1\n2\n");
	open_source(e);
	expect_lines(&e->l, "1", "2", NULL);

	/* logrotate renames; the writer still writes into the old file,
	 * and we look before the new file exists. */
	assert_int_equal(rename(e->path, rotated), 0);
	put(w, "3\n4");
	pump(e, 3, 100);
	expect_lines(&e->l, "1", "2", "3", NULL);
	/* The new file appears; the old one's partial last line is
	 * delivered as it is, then the new file from its start. */
	write_file(e->path, O_EXCL, "5\n", 2);
	pump(e, 5, 100);
	expect_lines(&e->l, "1", "2", "3", "4", "5", NULL);
	/* The writer has not reopened yet: still writing to the old file. */
	put(w, "6\n");
	pump(e, 6, 100);
	expect_lines(&e->l, "1", "2", "3", "4", "5", "6", NULL);
	close(w);
	append(e->path, "7\n");
	pump(e, 7, 100);

	/* Second rotation, all of it before we get to look. */
	w = open(e->path, O_WRONLY | O_APPEND);
	assert_true(w >= 0);
	assert_int_equal(rename(rotated, rotated2), 0);
	assert_int_equal(rename(e->path, rotated), 0);
	put(w, "8\n");
	write_file(e->path, O_EXCL, "9\n", 2);
	put(w, "10\n");
	pump(e, 10, 150);
	/* The renamed file is read to its end before the new one. */
	expect_lines(&e->l, "1", "2", "3", "4", "5", "6", "7", "8", "10", "9",
	             NULL);
	close(w);
	append(e->path, "11\n");
	append(rotated2, "never\n"); /* two rotations ago: not followed */
	pump(e, 11, 150);
	expect_lines(&e->l, "1", "2", "3", "4", "5", "6", "7", "8", "10", "9",
	             "11", NULL);
}

static void test_copytruncate(void **state)
{
	struct env *e = *state;
	int w;

	append(e->path, "first\nsecond\nhalf");
	open_source(e);
	expect_lines(&e->l, "first", "second", NULL);
	/* logrotate copytruncate: copy, then truncate in place. */
	w = open(e->path, O_WRONLY | O_TRUNC);
	assert_true(w >= 0);
	close(w);
	pump(e, 0, 100);
	append(e->path, "third\n");
	pump(e, 3, 100);
	/* "half" went with the truncated content. */
	expect_lines(&e->l, "first", "second", "third", NULL);

	/* Truncated and rewritten before we look, shorter than before. */
	assert_int_equal(truncate(e->path, 0), 0);
	append(e->path, "4\n");
	pump(e, 4, 100);
	expect_lines(&e->l, "first", "second", "third", "4", NULL);
	struct source_pos p;
	assert_int_equal(source_position(e->s, &p), 0);
	assert_int_equal(p.offset, 2);
}

static void test_delete_recreate(void **state)
{
	struct env *e = *state;

	append(e->path, "a\nb\n");
	open_source(e);
	expect_lines(&e->l, "a", "b", NULL);
	char err[256];
	assert_int_equal(unlink(e->path), 0);
	pump(e, 0, 100);
	/* However late the event: any read now sees the file is gone. */
	assert_int_equal(source_read(e->s, e->ifd, collect, &e->l, err,
	                             sizeof err), 0);
	struct source_pos p;
	assert_int_equal(source_position(e->s, &p), -1); /* no file now */
	append(e->path, "c\n");
	pump(e, 3, 100);
	expect_lines(&e->l, "a", "b", "c", NULL);
	/* Deleted and recreated with the same content size, unseen. */
	assert_int_equal(unlink(e->path), 0);
	append(e->path, "d\ne\n");
	pump(e, 5, 100);
	expect_lines(&e->l, "a", "b", "c", "d", "e", NULL);
}

static void test_missing_file(void **state)
{
	struct env *e = *state;
	char tmp[PATH_MAX + 8];

	open_source(e); /* not there yet: not an error */
	expect_lines(&e->l, NULL);
	append(e->path, "born\n");
	pump(e, 1, 100);
	expect_lines(&e->l, "born", NULL);
	/* Also when it is moved into place. */
	assert_int_equal(unlink(e->path), 0);
	pump(e, 0, 50);
	snprintf(tmp, sizeof tmp, "%s.new", e->path);
	append(tmp, "moved\n");
	assert_int_equal(rename(tmp, e->path), 0);
	pump(e, 2, 100);
	expect_lines(&e->l, "born", "moved", NULL);
}

static void test_long_lines(void **state)
{
	struct env *e = *state;
	size_t big = 1024 * 1024;
	char *buf = malloc(big + 1);

	assert_non_null(buf);
	append(e->path, "before\n");
	open_source(e);
	/* 1 MB in one write. */
	memset(buf, 'x', big);
	buf[big] = '\n';
	write_file(e->path, O_APPEND, buf, big + 1);
	append(e->path, "after\n");
	pump(e, 2, 100);
	expect_lines(&e->l, "before", "after", NULL);
	assert_int_equal(source_skipped(e->s), 1);
	assert_int_equal(source_skipped(e->s), 0);

	/* 1 MB arriving in pieces, read in between (held, then skipped). */
	for (size_t i = 0; i < big; i += 100000) {
		write_file(e->path, O_APPEND, buf, big - i < 100000 ? big - i
		                                                    : 100000);
		pump(e, 0, 20);
	}
	append(e->path, "\nnext\n");
	pump(e, 3, 100);
	expect_lines(&e->l, "before", "after", "next", NULL);
	assert_int_equal(source_skipped(e->s), 1);

	/* The limit itself: SOURCE_MAX_LINE bytes pass, one more do not. */
	write_file(e->path, O_APPEND, buf, SOURCE_MAX_LINE);
	append(e->path, "\n");
	write_file(e->path, O_APPEND, buf, SOURCE_MAX_LINE + 1);
	append(e->path, "\nlast\n");
	pump(e, 5, 100);
	assert_int_equal(e->l.n, 5);
	assert_int_equal(e->l.len[3], SOURCE_MAX_LINE);
	assert_string_equal(e->l.v[4], "last");
	assert_int_equal(source_skipped(e->s), 1);
	free(buf);
}

static void test_binary(void **state)
{
	struct env *e = *state;
	enum { N = 200000 };
	char *data = malloc(N);
	uint32_t x = 12345;
	size_t nl = 0, start = 0, k = 0;

	assert_non_null(data);
	/* Every byte value, NULs and newlines included (xorshift). */
	for (size_t i = 0; i < N; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (char)(x >> 24);
	}
	data[N - 1] = '\n';
	for (size_t i = 0; i < N; i++)
		nl += data[i] == '\n';
	open_source(e);
	for (size_t off = 0; off < N; off += 7777) {
		write_file(e->path, O_APPEND, data + off,
		           N - off < 7777 ? N - off : 7777);
		if ((off / 7777) % 5 == 0)
			pump(e, 0, 10);
	}
	pump(e, nl, 100);
	/* The lines are the bytes between the newlines, exactly. */
	for (size_t i = 0; i < N; i++) {
		if (data[i] != '\n')
			continue;
		if (k >= e->l.n)
			fail_msg("line %zu missing", k);
		assert_int_equal(e->l.len[k], i - start);
		assert_memory_equal(e->l.v[k], data + start, i - start);
		k++;
		start = i + 1;
	}
	assert_int_equal(e->l.n, k);
	assert_int_equal(source_skipped(e->s), 0);
	free(data);
}

static void test_position_resume(void **state)
{
	struct env *e = *state;
	char pf[PATH_MAX + 16], err[512];
	struct position_entry pe;
	struct source_pos p, q;
	struct stat st;

	snprintf(pf, sizeof pf, "%s/relayd.positions", e->dir);
	append(e->path, "a\nbb\nccc\npart");
	open_source(e);
	expect_lines(&e->l, "a", "bb", "ccc", NULL);
	assert_int_equal(source_position(e->s, &p), 0);
	assert_int_equal(stat(e->path, &st), 0);
	assert_true(p.dev == st.st_dev && p.ino == st.st_ino);
	assert_int_equal(p.offset, 9); /* "part" is not delivered */
	pe.path = source_name(e->s);
	pe.pos = p;
	assert_int_equal(position_save(pf, &pe, 1, err, sizeof err), 0);
	source_free(e->s);
	e->s = NULL;
	lines_free(&e->l);

	/* "Restart": more was written meanwhile. */
	append(e->path, "ial\nd\n");
	assert_int_equal(position_load(pf, e->path, &q, err, sizeof err), 1);
	assert_true(q.dev == p.dev && q.ino == p.ino && q.offset == p.offset);
	e->s = source_new(e->path, err, sizeof err);
	assert_non_null(e->s);
	source_restore(e->s, &q);
	assert_int_equal(source_position(e->s, &p), 0); /* kept until open */
	assert_int_equal(p.offset, 9);
	assert_int_equal(source_open(e->s, e->ifd, err, sizeof err), 0);
	assert_int_equal(source_read(e->s, e->ifd, collect, &e->l, err,
	                             sizeof err), 0);
	expect_lines(&e->l, "partial", "d", NULL);
	append(e->path, "e\n");
	pump(e, 3, 100);
	expect_lines(&e->l, "partial", "d", "e", NULL);
	assert_int_equal(source_position(e->s, &p), 0);
	assert_int_equal(p.offset, 21);
}

/* Restart with a saved position for the file in the state given; returns
 * after the catch-up read. */
static void restart(struct env *e, const struct source_pos *p)
{
	char err[512];

	source_free(e->s);
	lines_free(&e->l);
	e->s = source_new(e->path, err, sizeof err);
	assert_non_null(e->s);
	source_restore(e->s, p);
	assert_int_equal(source_open(e->s, e->ifd, err, sizeof err), 0);
	assert_int_equal(source_read(e->s, e->ifd, collect, &e->l, err,
	                             sizeof err), 0);
}

static void test_restore_rotated_while_down(void **state)
{
	struct env *e = *state;
	char rotated[PATH_MAX + 8];
	struct source_pos p;

	snprintf(rotated, sizeof rotated, "%s.1", e->path);
	append(e->path, "old1\nold2\n");
	open_source(e);
	assert_int_equal(source_position(e->s, &p), 0);

	/* Down: the log was rotated; the old file got one more line. */
	append(e->path, "old3\n");
	assert_int_equal(rename(e->path, rotated), 0);
	append(e->path, "new1\n");
	restart(e, &p);
	expect_lines(&e->l, "old3", "new1", NULL);
	append(rotated, "old4\n"); /* still followed */
	append(e->path, "new2\n");
	pump(e, 4, 100);
	expect_lines(&e->l, "old3", "new1", "old4", "new2", NULL);

	/* Rotated and the old file removed: the new file from 0. */
	assert_int_equal(source_position(e->s, &p), 0);
	assert_int_equal(unlink(rotated), 0);
	assert_int_equal(rename(e->path, rotated), 0);
	assert_int_equal(unlink(rotated), 0);
	append(e->path, "fresh1\nfresh2\n");
	restart(e, &p);
	expect_lines(&e->l, "fresh1", "fresh2", NULL);

	/* Same file, truncated while we were down. */
	assert_int_equal(source_position(e->s, &p), 0);
	assert_int_equal(truncate(e->path, 0), 0);
	append(e->path, "t\n");
	restart(e, &p);
	expect_lines(&e->l, "t", NULL);

	/* A position for a file that never existed here. */
	p.ino ^= 0x5a5a;
	p.offset = 1;
	restart(e, &p);
	expect_lines(&e->l, "t", NULL);
}

/* A writer logs steadily while its log is rotated by rename every 2000
 * lines, and keeps writing to the old file for a while after the new one
 * was created (logrotate's create, then postrotate's reopen).  Each line
 * must arrive exactly once. */
/* What relayd does without waiting: hand every queued inotify event to
 * the source, then read it (input_log.c reads whatever the events say). */
static void read_now(struct env *e)
{
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	char err[512];
	ssize_t n;

	while ((n = read(e->ifd, buf, sizeof buf)) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			p += sizeof *ev + ev->len;
			source_inotify(e->s, e->ifd, ev->wd, ev->mask,
			               ev->len ? ev->name : NULL);
		}
	if (source_read(e->s, e->ifd, collect, &e->l, err, sizeof err) != 0)
		fail_msg("source_read: %s", err);
}

/* A writer of numbered lines with logrotate's rename rotation. */
struct wlog {
	struct env *e;
	int fd;   /* the writer's descriptor (may point at a rotated file) */
	int next; /* the next line number */
	int keep; /* rotated files kept: <path>.1 .. <path>.<keep> */
};

static void wlog_lines(struct wlog *w, int n)
{
	char line[32];

	for (int i = 0; i < n; i++) {
		int k = snprintf(line, sizeof line, "line %d\n", w->next++);
		assert_int_equal(write(w->fd, line, (size_t)k), k);
	}
}

/* rename .k-1 -> .k ... path -> .1 (the oldest is replaced, i.e. gone),
 * create the new file; the writer keeps its descriptor until reopen. */
static void wlog_rotate(struct wlog *w)
{
	char from[PATH_MAX + 16], to[PATH_MAX + 16];

	for (int k = w->keep; k > 1; k--) {
		snprintf(from, sizeof from, "%s.%d", w->e->path, k - 1);
		snprintf(to, sizeof to, "%s.%d", w->e->path, k);
		rename(from, to); /* may not exist yet */
	}
	snprintf(to, sizeof to, "%s.1", w->e->path);
	assert_int_equal(rename(w->e->path, to), 0);
}

static void wlog_create(struct wlog *w)
{
	int fd = open(w->e->path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	assert_true(fd >= 0);
	close(fd);
}

static void wlog_reopen(struct wlog *w)
{
	close(w->fd);
	w->fd = open(w->e->path, O_WRONLY | O_APPEND);
	assert_true(w->fd >= 0);
}

/* Wait until a file created now is born after the current log file:
 * file systems stamp births with a coarse clock (a few ms), and the
 * restart test needs generations it can tell apart without memory. */
static void wlog_next_tick(struct wlog *w)
{
	char probe[PATH_MAX + 16];
	struct statx a, b;

	snprintf(probe, sizeof probe, "%s/tick", w->e->dir);
	assert_int_equal(statx(AT_FDCWD, w->e->path, 0, STATX_BTIME, &a), 0);
	if (!(a.stx_mask & STATX_BTIME))
		return;
	for (;;) {
		close(open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600));
		assert_int_equal(statx(AT_FDCWD, probe, 0, STATX_BTIME, &b),
		                 0);
		unlink(probe);
		if (b.stx_btime.tv_sec != a.stx_btime.tv_sec ||
		    b.stx_btime.tv_nsec != a.stx_btime.tv_nsec)
			return;
		usleep(1000);
	}
}

static void wlog_start(struct wlog *w, struct env *e, int keep)
{
	w->e = e;
	w->next = 0;
	w->keep = keep;
	w->fd = open(e->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	assert_true(w->fd >= 0);
}

/* Every line 0 .. n-1 exactly once and in order, except those in lost[]. */
static void expect_numbered(const struct lines *l, int n, const int *lost,
                            size_t nlost)
{
	int want = 0;

	for (size_t i = 0; i < l->n; i++) {
		int k;
		for (size_t j = 0; j < nlost; j++)
			if (want == lost[j])
				want++;
		if (sscanf(l->v[i], "line %d", &k) != 1)
			fail_msg("unexpected line \"%s\"", l->v[i]);
		if (k != want)
			fail_msg("line %zu is \"%s\", expected line %d (%zu "
			         "lines read)", i, l->v[i], want, l->n);
		want++;
	}
	for (size_t j = 0; j < nlost; j++)
		if (want == lost[j])
			want++;
	if (want != n)
		fail_msg("read up to line %d of %d", want, n);
}

/* The reader stalls across two rotations: the generation in between was
 * never at the path when we looked, and is read all the same, in order
 * (relayd followed only the newest file, and lost this one whole). */
static void test_stall_two_rotations(void **state)
{
	struct env *e = *state;
	struct wlog w;

	wlog_start(&w, e, 5);
	wlog_lines(&w, 3);
	open_source(e);
	for (int r = 0; r < 2; r++) {
		wlog_lines(&w, 2);
		wlog_rotate(&w);
		wlog_lines(&w, 2); /* late lines, into the renamed file */
		wlog_create(&w);
		wlog_reopen(&w);
		wlog_lines(&w, 3);
	}
	read_now(e);
	expect_numbered(&e->l, w.next, NULL, 0);
	assert_null(source_report(e->s));
	close(w.fd);
}

/* Three rotations, keep = 2: the file we were reading is replaced (gone
 * from the directory) while we hold it, two others were born since. */
static void test_stall_three_rotations(void **state)
{
	struct env *e = *state;
	struct wlog w;

	wlog_start(&w, e, 2);
	wlog_lines(&w, 3);
	open_source(e);
	for (int r = 0; r < 3; r++) {
		wlog_rotate(&w);
		wlog_create(&w);
		wlog_reopen(&w);
		wlog_lines(&w, 4);
	}
	read_now(e);
	expect_numbered(&e->l, w.next, NULL, 0);
	close(w.fd);
}

/* keep = 1 and three rotations: the middle generation is removed before
 * anybody could read it.  What survives is read in order, and the loss
 * is said. */
static void test_generation_gone(void **state)
{
	struct env *e = *state;
	struct wlog w;
	const char *rep;
	int lost[4];

	wlog_start(&w, e, 1);
	wlog_lines(&w, 2);
	open_source(e);
	wlog_rotate(&w);
	wlog_create(&w);
	wlog_reopen(&w);
	for (int i = 0; i < 4; i++)
		lost[i] = w.next + i;
	wlog_lines(&w, 4);   /* generation 2: replaced below, unread */
	wlog_rotate(&w);     /* gen 2 -> .1, gen 1 (held by us) gone */
	wlog_create(&w);
	wlog_reopen(&w);
	wlog_lines(&w, 3);   /* generation 3 */
	wlog_rotate(&w);     /* gen 3 -> .1: gen 2 gone for good */
	wlog_create(&w);
	wlog_reopen(&w);
	wlog_lines(&w, 3);   /* generation 4 */
	read_now(e);
	expect_numbered(&e->l, w.next, lost, 4);
	rep = source_report(e->s);
	if (rep == NULL || strstr(rep, "1 generation") == NULL)
		fail_msg("the lost generation was not reported: %s",
		         rep ? rep : "(nothing)");
	close(w.fd);
}

/* relayd was stopped across two rotations: after the restart the rest of
 * the file it had read from, then the generation born in between (never
 * at the path while relayd ran), then the current file.  The birth time
 * that orders them goes through the positions file.  Then the same with
 * the file of the saved position compressed away: the loss is said. */
static void test_restore_two_rotations_while_down(void **state)
{
	struct env *e = *state;
	char posfile[PATH_MAX + 16], err[512], gz[PATH_MAX + 16];
	struct position_entry pe = {e->path, {0, 0, 0, 0}};
	struct source_pos p;
	struct wlog w;
	const char *rep;
	int lost[3];

	snprintf(posfile, sizeof posfile, "%s/positions", e->dir);
	wlog_start(&w, e, 3);
	wlog_lines(&w, 3);
	open_source(e);
	assert_int_equal(source_position(e->s, &pe.pos), 0);
	assert_int_equal(position_save(posfile, &pe, 1, err, sizeof err), 0);
	/* Down. */
	source_free(e->s);
	e->s = NULL;
	lines_free(&e->l);
	wlog_lines(&w, 2); /* after the saved position */
	for (int r = 0; r < 2; r++) {
		wlog_next_tick(&w);
		wlog_rotate(&w);
		wlog_create(&w);
		wlog_reopen(&w);
		wlog_lines(&w, 3);
	}
	assert_int_equal(position_load(posfile, e->path, &p, err, sizeof err),
	                 1);
	restart(e, &p);
	for (size_t i = 0; i < e->l.n; i++) /* numbered from line 3 */
		assert_true(sscanf(e->l.v[i], "line %d", &lost[0]) == 1 &&
		            lost[0] == (int)i + 3);
	assert_int_equal(e->l.n, (size_t)w.next - 3);
	assert_null(source_report(e->s));

	/* Again, and the file of the saved position is compressed (a new
	 * file) and removed while relayd is down. */
	assert_int_equal(source_position(e->s, &pe.pos), 0);
	assert_int_equal(position_save(posfile, &pe, 1, err, sizeof err), 0);
	source_free(e->s);
	e->s = NULL;
	lines_free(&e->l);
	int first = w.next;
	for (int i = 0; i < 3; i++)
		lost[i] = w.next + i;
	wlog_lines(&w, 3);
	wlog_next_tick(&w);
	wlog_rotate(&w);
	wlog_create(&w);
	wlog_reopen(&w);
	wlog_lines(&w, 2);
	snprintf(gz, sizeof gz, "%s.1", e->path);
	char gzname[PATH_MAX + 16];
	snprintf(gzname, sizeof gzname, "%s.1.gz", e->path);
	assert_int_equal(rename(gz, gzname), 0); /* "compressed" */
	assert_int_equal(position_load(posfile, e->path, &p, err, sizeof err),
	                 1);
	restart(e, &p);
	assert_int_equal(e->l.n, (size_t)(w.next - first - 3));
	rep = source_report(e->s);
	if (rep == NULL || strstr(rep, "gone") == NULL)
		fail_msg("the lost rest was not reported: %s",
		         rep ? rep : "(nothing)");
	close(w.fd);
}

/*
 * Rotation under load, deterministic: a seeded schedule of appends,
 * rotations (rename, late lines into the renamed file, create, reopen,
 * each step apart) and reads at any point between them, the reader
 * stalling across up to keep - 1 rotations.  Hundreds of rounds under
 * several seeds; every line must be read once, in order.  (This was a
 * writer process racing the reader, losing a line about one run in ten
 * under load.)
 */
static unsigned rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

static void test_rotation_under_load(void **state)
{
	struct env *e = *state;

	for (unsigned seed = 1; seed <= 8; seed++) {
		struct wlog w;
		unsigned x = seed;
		int since_read = 0;
		char err[512];

		source_free(e->s);
		e->s = NULL;
		lines_free(&e->l);
		rm_rf(e->dir);
		assert_int_equal(mkdir(e->dir, 0700), 0);
		wlog_start(&w, e, 4);
		open_source(e);
		for (int op = 0; op < 300; op++) {
			unsigned r = rnd(&x) % 10;
			if (r < 4) {
				wlog_lines(&w, 1 + (int)(rnd(&x) % 20));
			} else if (r < 6 && since_read < w.keep - 1) {
				wlog_rotate(&w);
				if (rnd(&x) % 2)
					read_now(e); /* the path is missing */
				wlog_lines(&w, (int)(rnd(&x) % 3));
				wlog_create(&w);
				if (rnd(&x) % 2)
					read_now(e); /* late lines pending */
				wlog_lines(&w, (int)(rnd(&x) % 3));
				wlog_reopen(&w);
				since_read++;
			} else {
				read_now(e);
				since_read = 0;
			}
		}
		read_now(e);
		if (e->l.n != (size_t)w.next)
			print_error("seed %u: %zu lines of %d\n", seed, e->l.n,
			            w.next);
		expect_numbered(&e->l, w.next, NULL, 0);
		const char *rep = source_report(e->s);
		if (rep != NULL)
			fail_msg("seed %u: %s", seed, rep);
		close(w.fd);
		(void)err;
	}
}

/* relayd may restore after source_open: the next read starts there. */
static void test_restore_after_open(void **state)
{
	struct env *e = *state;
	char rotated[PATH_MAX + 16], err[512];
	struct source_pos p;

	snprintf(rotated, sizeof rotated, "%s-20261122", e->path);
	append(e->path, "a\nb\n");
	open_source(e);
	assert_int_equal(source_position(e->s, &p), 0);
	p.offset = 2;
	source_free(e->s);
	lines_free(&e->l);
	append(e->path, "c\n");
	e->s = source_new(e->path, err, sizeof err);
	assert_non_null(e->s);
	assert_int_equal(source_open(e->s, e->ifd, err, sizeof err), 0);
	source_restore(e->s, &p);
	assert_int_equal(source_read(e->s, e->ifd, collect, &e->l, err,
	                             sizeof err), 0);
	expect_lines(&e->l, "b", "c", NULL);

	/* And when the file was rotated (dateext) meanwhile. */
	source_free(e->s);
	lines_free(&e->l);
	assert_int_equal(rename(e->path, rotated), 0);
	append(e->path, "new\n");
	e->s = source_new(e->path, err, sizeof err);
	assert_non_null(e->s);
	assert_int_equal(source_open(e->s, e->ifd, err, sizeof err), 0);
	source_restore(e->s, &p);
	assert_int_equal(source_read(e->s, e->ifd, collect, &e->l, err,
	                             sizeof err), 0);
	expect_lines(&e->l, "b", "c", "new", NULL);
}

static void test_fifo(void **state)
{
	struct env *e = *state;
	char spec[PATH_MAX + 8], err[512], line[32];
	size_t total = 0, sent = 0;
	struct stat st;
	int w, rfd;

	snprintf(spec, sizeof spec, "fifo:%s/syslog.fifo", e->dir);
	e->s = source_new(spec, err, sizeof err);
	assert_non_null(e->s);
	if (source_open(e->s, e->ifd, err, sizeof err) != 0)
		fail_msg("source_open: %s", err);
	assert_int_equal(stat(source_name(e->s), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	rfd = source_pollfd(e->s);
	assert_true(rfd >= 0);
	/* syslog's side: nonblocking, so a reader that stops draining shows
	 * up as EAGAIN here instead of a hung test. */
	w = open(source_name(e->s), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(w >= 0);
	while (total < 1024 * 1024) {
		int n = snprintf(line, sizeof line, "line %07zu\n", sent);
		ssize_t r = write(w, line, (size_t)n);
		if (r < 0) {
			assert_int_equal(errno, EAGAIN);
			struct pollfd pfd = {.fd = rfd, .events = POLLIN};
			assert_int_equal(poll(&pfd, 1, 2000), 1);
			assert_int_equal(source_read(e->s, e->ifd, collect,
			                             &e->l, err, sizeof err), 0);
			continue;
		}
		assert_int_equal(r, n); /* small writes to a pipe are atomic */
		total += (size_t)n;
		sent++;
	}
	close(w);
	assert_int_equal(source_read(e->s, e->ifd, collect, &e->l, err,
	                             sizeof err), 0);
	assert_int_equal(e->l.n, sent);
	for (size_t i = 0; i < sent; i++) {
		snprintf(line, sizeof line, "line %07zu", i);
		assert_string_equal(e->l.v[i], line);
	}
	/* The writer is gone, and yet no EOF: we hold the FIFO open. */
	assert_int_equal(source_read(e->s, e->ifd, collect, &e->l, err,
	                             sizeof err), 0);

	/* One source_read drains all there is, more than one read() holds:
	 * a pipe grown to 1 MB (the default limit for anyone) and filled. */
	if (fcntl(rfd, F_SETPIPE_SZ, 1024 * 1024) >= 1024 * 1024) {
		lines_free(&e->l);
		w = open(source_name(e->s), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		assert_true(w >= 0);
		for (sent = 0; sent < 50000; sent++) {
			int n = snprintf(line, sizeof line, "line %07zu\n",
			                 sent);
			assert_int_equal(write(w, line, (size_t)n), n);
		}
		close(w);
		assert_int_equal(source_read(e->s, e->ifd, collect, &e->l,
		                             err, sizeof err), 0);
		assert_int_equal(e->l.n, 50000);
		assert_string_equal(e->l.v[49999], "line 0049999");
	}

	/* A path that exists and is not a FIFO is refused. */
	source_free(e->s);
	append(e->path, "x\n");
	snprintf(spec, sizeof spec, "fifo:%s", e->path);
	e->s = source_new(spec, err, sizeof err);
	assert_non_null(e->s);
	assert_int_equal(source_open(e->s, e->ifd, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a FIFO"));
}

static void test_stdin(void **state)
{
	struct env *e = *state;
	char err[256];
	int p[2], saved;

	(void)e;
	assert_int_equal(pipe(p), 0);
	saved = dup(0);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[0], 0), 0);
	close(p[0]);
	e->s = source_new("-", err, sizeof err);
	assert_int_equal(source_open(e->s, e->ifd, err, sizeof err), 0);
	assert_int_equal(source_pollfd(e->s), 0);
	put(p[1], "x\ny");
	/* Nonblocking: returns with what there is, holding "y". */
	assert_int_equal(source_read(e->s, e->ifd, collect, &e->l, err,
	                             sizeof err), 0);
	expect_lines(&e->l, "x", NULL);
	put(p[1], "z\nlast");
	close(p[1]);
	assert_int_equal(source_read(e->s, e->ifd, collect, &e->l, err,
	                             sizeof err), 1);
	expect_lines(&e->l, "x", "yz", "last", NULL);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
}

/* Run as an unprivileged user: a file we may not read is reported with
 * the user and the fix; a readable one in the same place opens. */
static int denied_check(const char *secret, const char *open_file,
                        char *msg, size_t msglen)
{
	char err[512];
	struct source *s;
	int ifd = inotify_init1(IN_CLOEXEC), r;

	if (ifd < 0)
		return 10;
	s = source_new(secret, err, sizeof err);
	if (s == NULL)
		return 11;
	r = source_open(s, ifd, err, sizeof err);
	snprintf(msg, msglen, "%s", err);
	source_free(s);
	if (r != -1)
		return 12;
	s = source_new(open_file, err, sizeof err);
	if (s == NULL)
		return 13;
	r = source_open(s, ifd, err, sizeof err);
	source_free(s);
	close(ifd);
	return r == 0 ? 0 : 14;
}

static void check_denied_msg(const char *msg, const char *path, uid_t uid)
{
	char want[64];

	assert_non_null(strstr(msg, path));
	assert_non_null(strstr(msg, "as user "));
	snprintf(want, sizeof want, "(uid %u)", (unsigned)uid);
	assert_non_null(strstr(msg, want));
	assert_non_null(strstr(msg, "Permission denied"));
	assert_non_null(strstr(msg, "group"));
}

static void test_permission_denied(void **state)
{
	struct env *e = *state;
	char ok[PATH_MAX + 8], msg[512];
	int pfd[2], status;
	pid_t pid;

	snprintf(ok, sizeof ok, "%s/readable.log", e->dir);
	append(e->path, "secret\n");
	append(ok, "fine\n");
	assert_int_equal(chmod(e->path, 0600), 0);
	if (geteuid() != 0) {
		assert_int_equal(chmod(e->path, 0), 0);
		assert_int_equal(denied_check(e->path, ok, msg, sizeof msg), 0);
		check_denied_msg(msg, e->path, geteuid());
		return;
	}
	/* Root reads anything: test as nobody (65534) in a child, on a
	 * root-owned 0600 file in a directory nobody may enter and list. */
	assert_int_equal(chmod(e->dir, 0755), 0);
	assert_int_equal(chown(e->path, 0, 0), 0);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = 20;
		close(pfd[0]);
		memset(msg, 0, sizeof msg);
		if (setgroups(0, NULL) == 0 && setgid(65534) == 0 &&
		    setuid(65534) == 0 && geteuid() == 65534)
			rc = denied_check(e->path, ok, msg, sizeof msg);
		if (write(pfd[1], msg, sizeof msg) < 0)
			rc = 21;
		_exit(rc);
	}
	close(pfd[1]);
	memset(msg, 0, sizeof msg);
	assert_int_equal(read(pfd[0], msg, sizeof msg), (ssize_t)sizeof msg);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	msg[sizeof msg - 1] = '\0';
	check_denied_msg(msg, e->path, 65534);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec),
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_rotation, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_stall_two_rotations, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_stall_three_rotations,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_generation_gone, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(
		    test_restore_two_rotations_while_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_under_load, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_copytruncate, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_delete_recreate, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_position_resume, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_restore_rotated_while_down,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_after_open, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission_denied, setup,
		                                teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
