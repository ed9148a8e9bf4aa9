/*
 * test_lmdbfile.c - unit tests for lib/lmdbfile.c: the LMDB file shared with
 * Postfix.  Put/get/delete, the three open modes, a file replaced or
 * deleted under a reader, map growth seen by a reader opened before it,
 * garbage and truncated files (LMDBFILE_ERR, never a crash), the fcntl lock
 * protocol against a classic-lock holder in another process (as Postfix
 * is), readers as an unprivileged user, and threads reading while a thread
 * or another process writes.  Postfix itself: test_lmdbfile_postfix.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "lmdbfile_testutil.h"

struct fx {
	char dir[256];
	char path[300];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || tt_mkdtemp(f->dir, sizeof(f->dir)) == -1)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/relay.lmdb", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tt_rmtree(f->dir);
	free(f);
	return 0;
}

static int
count_visit(void *arg, const void *key, size_t klen, const void *val,
            size_t vlen)
{
	(void)key, (void)klen, (void)val, (void)vlen;
	(*(int *)arg)++;
	return 0;
}

static int
stop_visit(void *arg, const void *key, size_t klen, const void *val,
           size_t vlen)
{
	(void)key, (void)klen, (void)val, (void)vlen;
	(*(int *)arg)++;
	return 7;
}

static void
test_put_get_delete(void **state)
{
	struct fx *f = *state;
	char err[256], val[64];
	struct stat st;
	mode_t old = umask(077); /* the file must be 0644 anyway */
	struct lmdbfile *t = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
	int n;

	umask(old);
	assert_non_null(t);
	assert_string_equal(lmdbfile_path(t), f->path);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_true(st.st_size >= 8192); /* two meta pages: Postfix can open it */

	struct lmdbfile_op ops[] = {
	    {0, "a", 2, "1", 2},
	    {0, "b", 2, "22", 3},
	    {0, "c", 2, "333333", 7},
	};
	assert_int_equal(lmdbfile_write(t, ops, 3, err, sizeof(err)), LMDBFILE_OK);
	assert_int_equal(tt_get(t, "a", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "1");
	assert_int_equal(tt_get(t, "c", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "333333");
	assert_int_equal(tt_get(t, "c", val, 3), LMDBFILE_OK); /* truncated */
	assert_string_equal(val, "33");
	assert_int_equal(tt_get(t, "zz", val, sizeof(val)), LMDBFILE_NOTFOUND);
	/* the NUL is part of the key */
	assert_int_equal(lmdbfile_get(t, "a", 1, val, sizeof(val), err, sizeof(err)),
	                 LMDBFILE_NOTFOUND);

	/* overwrite, delete, delete a missing key: one transaction */
	struct lmdbfile_op ops2[] = {
	    {0, "a", 2, "9", 2},
	    {1, "b", 2, NULL, 0},
	    {1, "nope", 5, NULL, 0},
	};
	assert_int_equal(lmdbfile_write(t, ops2, 3, err, sizeof(err)), LMDBFILE_OK);
	assert_int_equal(tt_get(t, "a", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "9");
	assert_int_equal(tt_get(t, "b", val, sizeof(val)), LMDBFILE_NOTFOUND);

	n = 0;
	assert_int_equal(lmdbfile_foreach(t, count_visit, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(lmdbfile_foreach(t, stop_visit, &n, err, sizeof(err)), 7);
	assert_int_equal(n, 1);
	lmdbfile_close(t);

	/* a reader sees the same, and cannot write */
	t = lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(tt_get(t, "c", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "333333");
	assert_int_equal(lmdbfile_write(t, ops, 1, err, sizeof(err)), LMDBFILE_ERR);
	assert_non_null(strstr(err, f->path));
	lmdbfile_close(t);

	/* reopening a writer keeps the data */
	t = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(tt_get(t, "a", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "9");
	lmdbfile_close(t);
}

static void
test_missing_modes(void **state)
{
	struct fx *f = *state;
	char err[256] = "", val[64], bad[400];
	struct lmdbfile *r, *m, *w;
	int n;

	r = lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err));
	assert_null(r);
	assert_non_null(strstr(err, f->path));

	m = lmdbfile_open(f->path, LMDBFILE_READ_MISSING_OK, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(tt_get(m, "a", val, sizeof(val)), LMDBFILE_NOTFOUND);
	n = 0;
	assert_int_equal(lmdbfile_foreach(m, count_visit, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(access(f->path, F_OK), -1); /* readers create nothing */

	/* the file appears later: picked up */
	w = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tt_put(w, "a", "1"), LMDBFILE_OK);
	assert_int_equal(tt_get(m, "a", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "1");
	r = lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(r);

	/* deleted: empty for MISSING_OK, an error for READ */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(tt_get(m, "a", val, sizeof(val)), LMDBFILE_NOTFOUND);
	assert_int_equal(tt_get(r, "a", val, sizeof(val)), LMDBFILE_ERR);
	assert_non_null(strstr(val, f->path));
	n = 0;
	assert_int_equal(lmdbfile_foreach(m, count_visit, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	/* a writer reads it as empty too, and its next write recreates it */
	assert_int_equal(tt_get(w, "a", val, sizeof(val)), LMDBFILE_NOTFOUND);
	assert_int_equal(tt_put(w, "b", "2"), LMDBFILE_OK);
	assert_int_equal(access(f->path, F_OK), 0);
	assert_int_equal(tt_get(r, "b", val, sizeof(val)), LMDBFILE_OK);
	assert_int_equal(tt_get(m, "b", val, sizeof(val)), LMDBFILE_OK);
	assert_int_equal(tt_get(m, "a", val, sizeof(val)), LMDBFILE_NOTFOUND);
	lmdbfile_close(r);
	lmdbfile_close(m);
	lmdbfile_close(w);

	/* no directory: a writer cannot create the file */
	snprintf(bad, sizeof(bad), "%s/nodir/relay.lmdb", f->dir);
	w = lmdbfile_open(bad, LMDBFILE_WRITE, err, sizeof(err));
	assert_null(w);
	assert_non_null(strstr(err, bad));
	assert_null(lmdbfile_open(bad, 99, err, sizeof(err)));
}

/* Build a table at path with key "k" = val (and n filler records). */
static void
make_table(const char *path, const char *val, int n)
{
	char err[256], k[100][24], v[128];
	struct lmdbfile *t = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	struct lmdbfile_op ops[100];
	int i, nops = 0;

	assert_non_null(t);
	assert_int_equal(tt_put(t, "k", val), LMDBFILE_OK);
	memset(v, 'x', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	for (i = 0; i < n; i++) { /* 100 a transaction: few fsyncs */
		snprintf(k[nops], sizeof(k[nops]), "filler%06d", i);
		ops[nops] = (struct lmdbfile_op){0, k[nops], strlen(k[nops]) + 1, v,
		                              sizeof(v)};
		if (++nops == 100 || i == n - 1) {
			assert_int_equal(lmdbfile_write(t, ops, (size_t)nops, err,
			                             sizeof(err)),
			                 LMDBFILE_OK);
			nops = 0;
		}
	}
	lmdbfile_close(t);
}

static void
test_replace_under_reader(void **state)
{
	struct fx *f = *state;
	char err[256], val[64], tmp[320];
	struct lmdbfile *r, *w;

	make_table(f->path, "old", 0);
	r = lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(r);
	w = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "old");

	/* deleted and recreated with other content */
	assert_int_equal(unlink(f->path), 0);
	make_table(f->path, "new1", 0);
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "new1");

	/* replaced by rename(2); the open writer follows too */
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	make_table(tmp, "new2", 50);
	assert_int_equal(rename(tmp, f->path), 0);
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "new2");
	assert_int_equal(tt_put(w, "k2", "fromw"), LMDBFILE_OK);
	assert_int_equal(tt_get(r, "k2", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "fromw");
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "new2");
	lmdbfile_close(w);
	lmdbfile_close(r);
}

/* The map size the file records (its newest meta page). */
static size_t
file_mapsize(const char *path)
{
	MDB_env *env;
	MDB_envinfo info;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, path,
	                              MDB_NOSUBDIR | MDB_NOLOCK | MDB_RDONLY,
	                              0644),
	                 0);
	assert_int_equal(mdb_env_info(env, &info), 0);
	mdb_env_close(env);
	return info.me_mapsize;
}

struct check_arg {
	int n, bad;
};

static int
check_visit(void *arg, const void *key, size_t klen, const void *val,
            size_t vlen)
{
	struct check_arg *c = arg;
	const char *k = key, *v = val;

	c->n++;
	/* filler values are the key repeated, see test_growth */
	if (klen < 2 || vlen < 2 || v[vlen - 1] != '\0' ||
	    strncmp(v, k, klen - 1) != 0)
		c->bad++;
	return 0;
}

static void
test_growth(void **state)
{
	struct fx *f = *state;
	char err[256], val[2048];
	struct lmdbfile *w, *w2, *r;
	struct lmdbfile_op ops[100];
	char keys[100][32], vals[100][1024];
	struct check_arg c = {0, 0};
	int i, j;

	w = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tt_put(w, "first", "first"), LMDBFILE_OK);
	assert_int_equal(file_mapsize(f->path), 1 << 20);
	/* opened before the growth, each with a 1 MiB map */
	r = lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(r);
	w2 = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w2);
	assert_int_equal(tt_get(r, "first", val, sizeof(val)), LMDBFILE_OK);

	/* 5000 records of about 1 KiB: several doublings past 1 MiB */
	for (i = 0; i < 50; i++) {
		for (j = 0; j < 100; j++) {
			snprintf(keys[j], sizeof(keys[j]), "key%05d", i * 100 + j);
			size_t kl = strlen(keys[j]);
			for (size_t p = 0; p < sizeof(vals[j]) - 1; p++)
				vals[j][p] = keys[j][p % kl];
			vals[j][sizeof(vals[j]) - 1] = '\0';
			ops[j] = (struct lmdbfile_op){0, keys[j], kl + 1, vals[j],
			                           sizeof(vals[j])};
		}
		assert_int_equal(lmdbfile_write(w, ops, 100, err, sizeof(err)),
		                 LMDBFILE_OK);
	}
	assert_true(file_mapsize(f->path) >= (size_t)8 << 20);

	assert_int_equal(lmdbfile_foreach(r, check_visit, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 5001);
	assert_int_equal(c.bad, 0);
	assert_int_equal(tt_get(r, "key04999", val, sizeof(val)), LMDBFILE_OK);
	assert_int_equal(strlen(val), 1023);
	assert_int_equal(strncmp(val, "key04999", 8), 0);

	/* the other writer, with its small map, adopts the new size */
	assert_int_equal(tt_put(w2, "last", "w2"), LMDBFILE_OK);
	assert_int_equal(tt_get(r, "last", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "w2");
	assert_int_equal(tt_get(w, "last", val, sizeof(val)), LMDBFILE_OK);

	/* delete most of it again: still readable, pages reused */
	for (i = 0; i < 5000; i += 100) {
		for (j = 0; j < 100; j++) {
			snprintf(keys[j], sizeof(keys[j]), "key%05d", i + j);
			ops[j] = (struct lmdbfile_op){1, keys[j], strlen(keys[j]) + 1,
			                           NULL, 0};
		}
		assert_int_equal(lmdbfile_write(w2, ops, 100, err, sizeof(err)),
		                 LMDBFILE_OK);
	}
	c.n = c.bad = 0;
	assert_int_equal(lmdbfile_foreach(r, check_visit, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 2);
	lmdbfile_close(w2);
	lmdbfile_close(w);
	lmdbfile_close(r);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
test_garbage_and_truncated(void **state)
{
	struct fx *f = *state;
	char err[256], val[256], tmp[320], good[320];
	unsigned char junk[12288];
	struct lmdbfile *r, *m;
	struct stat st;
	size_t i;
	int n;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 2654435761u >> 13);
	write_file(f->path, junk, sizeof(junk));
	err[0] = '\0';
	assert_null(lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err)));
	assert_non_null(strstr(err, f->path));
	assert_null(lmdbfile_open(f->path, LMDBFILE_READ_MISSING_OK, err, sizeof(err)));
	assert_null(lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err)));
	write_file(f->path, "", 0); /* empty */
	assert_null(lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err)));
	assert_non_null(strstr(err, f->path));

	/* a good table; a reader on it; then garbage renamed over it */
	assert_int_equal(unlink(f->path), 0);
	make_table(f->path, "v", 2000);
	r = lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(r);
	m = lmdbfile_open(f->path, LMDBFILE_READ_MISSING_OK, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	snprintf(good, sizeof(good), "%s.good", f->path);
	assert_int_equal(link(f->path, good), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	write_file(tmp, junk, sizeof(junk));
	assert_int_equal(rename(tmp, f->path), 0);
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_ERR);
	assert_non_null(strstr(val, f->path));
	assert_int_equal(tt_get(m, "k", val, sizeof(val)), LMDBFILE_ERR);
	n = 0;
	assert_int_equal(lmdbfile_foreach(r, count_visit, &n, err, sizeof(err)),
	                 LMDBFILE_ERR);
	/* the good file back: readable again */
	assert_int_equal(rename(good, f->path), 0);
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "v");

	/* truncated in place under the reader: half, then below 2 pages */
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(st.st_size > 100000);
	assert_int_equal(truncate(f->path, st.st_size / 2), 0);
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_ERR);
	assert_non_null(strstr(val, "truncated"));
	assert_int_equal(lmdbfile_foreach(r, count_visit, &n, err, sizeof(err)),
	                 LMDBFILE_ERR);
	assert_null(lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err)));
	assert_int_equal(truncate(f->path, 6000), 0);
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_ERR);
	assert_int_equal(truncate(f->path, 1000), 0);
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_ERR);
	assert_null(lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err)));
	assert_non_null(strstr(err, f->path));
	lmdbfile_close(r);
	lmdbfile_close(m);
}

static int
sleep_ms_pipe(int rfd)
{
	char c;
	ssize_t n;

	while ((n = read(rfd, &c, 1)) < 0 && errno == EINTR)
		;
	return n == 1 ? 0 : -1;
}

static int
write_byte(int fd)
{
	ssize_t n;

	while ((n = write(fd, "x", 1)) < 0 && errno == EINTR)
		;
	return n == 1 ? 0 : -1;
}

/* A child that takes a classic fcntl lock (as Postfix does), tells us
 * (a byte on *ready), and holds it until we write a byte to *release;
 * then it exits, and the lock goes with it. */
static pid_t
classic_locker(const char *path, short type, int *ready, int *release)
{
	int p[2], q[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock l = {0};
		char c;
		int fd = open(path, type == F_WRLCK ? O_RDWR : O_RDONLY);
		l.l_type = type;
		l.l_whence = SEEK_SET;
		close(q[1]);
		if (fd < 0 || fcntl(fd, F_SETLK, &l) == -1)
			_exit(2);
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		while (read(q[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[1]);
	close(q[0]);
	*ready = p[0];
	*release = q[1];
	return pid;
}

static void
on_alarm(int sig)
{
	(void)sig;
}

/* One of our calls in a thread of its own, which notes whether the
 * locker had been told to let go by the time the call returned. */
struct blocked_call {
	struct lmdbfile *t;
	int write;
	atomic_int *released;
	int rc, saw_released;
};

static void *
blocked_call_run(void *arg)
{
	struct blocked_call *b = arg;
	char val[64];
	sigset_t alrm;

	/* The interval timer's SIGALRM is for this thread's fcntl wait. */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
	b->rc = b->write ? tt_put(b->t, "k", "w") : tt_get(b->t, "k", val, sizeof(val));
	b->saw_released = atomic_load(b->released);
	return NULL;
}

/* Our call on t must wait for the locker: it runs in a thread while the
 * lock is held; only after a pause do we set released and let the
 * locker go.  A call that did not wait returns before released is set
 * and fails the check; a call that waits can never see it unset, however
 * slow the machine (no time is asserted, the pause only gives a wrong
 * implementation its chance to show). */
static void
expect_waits(struct lmdbfile *t, int write, const char *path, short type)
{
	struct blocked_call b = {.t = t, .write = write};
	struct timespec pause = {0, 200 * 1000 * 1000};
	atomic_int released = 0;
	sigset_t alrm, old;
	pthread_t th;
	int ready, release, status;
	pid_t pid;

	b.released = &released;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, &old);
	pid = classic_locker(path, type, &ready, &release);
	assert_int_equal(sleep_ms_pipe(ready), 0);
	assert_int_equal(pthread_create(&th, NULL, blocked_call_run, &b), 0);
	while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
		;
	atomic_store(&released, 1);
	assert_int_equal(write_byte(release), 0);
	pthread_join(th, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(b.rc, LMDBFILE_OK);
	assert_true(b.saw_released);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	close(ready);
	close(release);
}

static void
test_lock_waits_for_classic_lock(void **state)
{
	struct fx *f = *state;
	char err[256], val[64];
	struct lmdbfile *r, *w;
	struct sigaction sa, osa;
	struct itimerval it = {{0, 20000}, {0, 20000}}, off = {{0, 0}, {0, 0}};
	int ready, release, status;
	pid_t pid;

	make_table(f->path, "v", 0);
	r = lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(r);
	w = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);

	/* Interrupt the blocked fcntl every 20 ms: EINTR must be retried. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, &osa);
	setitimer(ITIMER_REAL, &it, NULL);

	/* a Postfix writer holds the lock: our reader waits for it */
	expect_waits(r, 0, f->path, F_WRLCK);
	/* a Postfix reader holds a shared lock: our writer waits for it */
	expect_waits(w, 1, f->path, F_RDLCK);
	/* ... and our reader does not: it returns while the lock is held
	 * (were it to wait, this would hang until the suite's timeout) */
	pid = classic_locker(f->path, F_RDLCK, &ready, &release);
	assert_int_equal(sleep_ms_pipe(ready), 0);
	assert_int_equal(tt_get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_int_equal(write_byte(release), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	close(ready);
	close(release);

	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &osa, NULL);
	lmdbfile_close(r);
	lmdbfile_close(w);
}

/* Child: on each 'g', try a classic F_WRLCK and F_RDLCK without waiting
 * and answer two bytes ('y' taken / 'n' refused with EAGAIN or EACCES). */
static pid_t
lock_prober(const char *path, int *to, int *from)
{
	int a[2], b[2];
	pid_t pid;

	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c, res[2];
		close(a[1]);
		close(b[0]);
		while (read(a[0], &c, 1) == 1) {
			short types[2] = {F_WRLCK, F_RDLCK};
			for (int i = 0; i < 2; i++) {
				struct flock l = {0};
				int fd = open(path, O_RDWR);
				l.l_type = types[i];
				l.l_whence = SEEK_SET;
				if (fd >= 0 && fcntl(fd, F_SETLK, &l) == 0)
					res[i] = 'y';
				else if (errno == EAGAIN || errno == EACCES)
					res[i] = 'n';
				else
					res[i] = '?';
				if (fd >= 0)
					close(fd);
			}
			if (write(b[1], res, 2) != 2)
				_exit(1);
		}
		_exit(0);
	}
	close(a[0]);
	close(b[1]);
	*to = a[1];
	*from = b[0];
	return pid;
}

struct probe_arg {
	int to, from;
	char res[3];
	int visits;
};

static int
probe_visit(void *arg, const void *key, size_t klen, const void *val,
            size_t vlen)
{
	struct probe_arg *p = arg;

	(void)key, (void)klen, (void)val, (void)vlen;
	if (p->visits++ == 0) {
		if (write(p->to, "g", 1) != 1 || read(p->from, p->res, 2) != 2)
			p->res[0] = 'E';
	}
	return 0;
}

static void
test_shared_lock_blocks_classic_writer(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct lmdbfile *r;
	struct probe_arg p = {0};
	int status;
	pid_t pid;

	make_table(f->path, "v", 3);
	r = lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(r);
	pid = lock_prober(f->path, &p.to, &p.from);

	/* inside our read transaction: exclusive refused, shared granted */
	assert_int_equal(lmdbfile_foreach(r, probe_visit, &p, err, sizeof(err)), 0);
	assert_int_equal(p.visits, 4);
	assert_string_equal(p.res, "ny");

	/* after it: both free (nothing left locked by us) */
	assert_int_equal(write(p.to, "g", 1), 1);
	assert_int_equal(read(p.from, p.res, 2), 2);
	assert_string_equal(p.res, "yy");

	close(p.to);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(p.from);
	lmdbfile_close(r);
}

static void
test_reader_needs_no_write_permission(void **state)
{
	struct fx *f = *state;
	char missing[320];
	int status;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	make_table(f->path, "v", 0);
	snprintf(missing, sizeof(missing), "%s/none.lmdb", f->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256], val[64];
		struct lmdbfile *t;
		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(2);
		if (access(f->path, W_OK) == 0)
			_exit(3); /* the test would prove nothing */
		t = lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err));
		if (t == NULL || tt_get(t, "k", val, sizeof(val)) != LMDBFILE_OK ||
		    strcmp(val, "v") != 0)
			_exit(4);
		lmdbfile_close(t);
		t = lmdbfile_open(missing, LMDBFILE_READ_MISSING_OK, err, sizeof(err));
		if (t == NULL || tt_get(t, "k", val, sizeof(val)) != LMDBFILE_NOTFOUND)
			_exit(5);
		lmdbfile_close(t);
		/* and a writer as that user is refused, with the path */
		t = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
		if (t != NULL || strstr(err, f->path) == NULL)
			_exit(6);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* and nothing was created beside the table */
	assert_int_equal(access(missing, F_OK), -1);
}

/*
 * Concurrency.  Every write transaction sets keys s0..s9 to one and the
 * same new value (and adds a filler record, so the map grows meanwhile).
 * A reader's lmdbfile_foreach is one read transaction under the shared lock,
 * so it must see ten equal values; without the lock a NOLOCK writer reuses
 * pages a reader is still walking, and it would see a mix or garbage.
 */
#define NSLOT 10
#define NWRITES 200

struct conc {
	struct lmdbfile *t;
	atomic_int stop;
	atomic_int torn, errors, reads;
};

struct slot_arg {
	char v[NSLOT][32];
	int seen, visits;
};

static int
slot_visit(void *arg, const void *key, size_t klen, const void *val,
           size_t vlen)
{
	struct slot_arg *s = arg;
	const char *k = key;

	/* Stay in the transaction long enough for several unlocked commits
	 * to happen meanwhile, were the writer not kept out. */
	if (s->visits++ == 0)
		usleep(500);
	if (klen == 3 && k[0] == 's' && k[1] >= '0' && k[1] <= '9' &&
	    vlen < sizeof(s->v[0])) {
		memcpy(s->v[k[1] - '0'], val, vlen);
		s->v[k[1] - '0'][vlen] = '\0';
		s->seen++;
	}
	return 0;
}

static void *
reader_thread(void *arg)
{
	struct conc *c = arg;
	char err[256], val[64];

	while (!atomic_load(&c->stop)) {
		struct slot_arg s;
		int i;
		memset(&s, 0, sizeof(s));
		if (lmdbfile_foreach(c->t, slot_visit, &s, err, sizeof(err)) != 0) {
			atomic_fetch_add(&c->errors, 1);
			fprintf(stderr, "reader: %s\n", err);
			continue;
		}
		if (s.seen != 0 && s.seen != NSLOT)
			atomic_fetch_add(&c->torn, 1);
		for (i = 1; i < s.seen; i++)
			if (strcmp(s.v[i], s.v[0]) != 0)
				atomic_fetch_add(&c->torn, 1);
		if (lmdbfile_get(c->t, "s0", 3, val, sizeof(val), err,
		              sizeof(err)) == LMDBFILE_ERR) {
			atomic_fetch_add(&c->errors, 1);
			fprintf(stderr, "reader: %s\n", err);
		}
		atomic_fetch_add(&c->reads, 1);
		/* a busy milter, not a spin loop: fcntl locks do not queue a
		 * writer ahead of new readers, and the machine is shared */
		usleep(2000);
	}
	return NULL;
}

/* One transaction: s0..s9 = gen, fill<gen> = 16 KiB. */
static int
write_gen(struct lmdbfile *t, int gen)
{
	static char fill[16384];
	char keys[NSLOT][16], val[32], fk[32], err[256];
	struct lmdbfile_op ops[NSLOT + 1];
	int i;

	memset(fill, 'f', sizeof(fill));
	snprintf(val, sizeof(val), "%d", gen);
	for (i = 0; i < NSLOT; i++) {
		snprintf(keys[i], sizeof(keys[i]), "s%d", i);
		ops[i] = (struct lmdbfile_op){0, keys[i], 3, val, strlen(val) + 1};
	}
	snprintf(fk, sizeof(fk), "fill%06d", gen);
	ops[NSLOT] = (struct lmdbfile_op){0, fk, strlen(fk) + 1, fill, sizeof(fill)};
	if (lmdbfile_write(t, ops, NSLOT + 1, err, sizeof(err)) != LMDBFILE_OK) {
		fprintf(stderr, "writer: %s\n", err);
		return -1;
	}
	return 0;
}

static void *
writer_thread(void *arg)
{
	struct conc *c = arg;
	int g;

	for (g = 1; g <= NWRITES; g++)
		if (write_gen(c->t, g) == -1)
			atomic_fetch_add(&c->errors, 1);
	atomic_store(&c->stop, 1);
	return NULL;
}

static void
test_threads_with_writer_thread(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct conc c = {0};
	struct lmdbfile *r;
	struct conc c2 = {0};
	pthread_t th[8];
	int i;

	/* one struct lmdbfile shared by a writer thread and 2 readers, plus a
	 * reader table shared by 5 more threads: only the file lock keeps
	 * these out of the writer's way (classic fcntl locks would not: they
	 * never conflict within one process) */
	c.t = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(c.t);
	r = lmdbfile_open(f->path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(r);
	c2.t = r;
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &c), 0);
	for (i = 2; i < 7; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &c2),
		                 0);
	assert_int_equal(pthread_create(&th[7], NULL, writer_thread, &c), 0);
	pthread_join(th[7], NULL);
	atomic_store(&c2.stop, 1);
	for (i = 0; i < 7; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&c.errors) + atomic_load(&c2.errors), 0);
	assert_int_equal(atomic_load(&c.torn) + atomic_load(&c2.torn), 0);
	assert_true(atomic_load(&c.reads) > 0);
	assert_true(atomic_load(&c2.reads) > 0);
	assert_true(file_mapsize(f->path) > (size_t)1 << 20); /* it grew */
	lmdbfile_close(c.t);
	lmdbfile_close(r);
}

static void
test_threads_with_writer_process(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct conc c = {0};
	pthread_t th[8];
	int i, status;
	pid_t pid;

	make_table(f->path, "v", 0);
	c.t = lmdbfile_open(f->path, LMDBFILE_READ_MISSING_OK, err, sizeof(err));
	assert_non_null(c.t);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct lmdbfile *w = lmdbfile_open(f->path, LMDBFILE_WRITE, err,
		                             sizeof(err));
		int g;
		if (w == NULL)
			_exit(2);
		for (g = 1; g <= NWRITES; g++)
			if (write_gen(w, g) == -1)
				_exit(3);
		lmdbfile_close(w);
		_exit(0);
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &c), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	atomic_store(&c.stop, 1);
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(atomic_load(&c.errors), 0);
	assert_int_equal(atomic_load(&c.torn), 0);
	assert_true(atomic_load(&c.reads) > 0);
	lmdbfile_close(c.t);
}

/* put-if-absent / compare-and-swap / conditional delete, as the claim
 * store uses them: fn decides per key from what the key holds now. */
struct upd {
	const char *expect; /* NULL: must be absent */
	const char *val;    /* NULL: delete */
	int done;
};

static void
upd_fn(void *arg, size_t i, const void *cur, size_t curlen,
       struct lmdbfile_op *op)
{
	struct upd *u = (struct upd *)arg + i;
	int match = u->expect == NULL ? cur == NULL
	            : cur != NULL && curlen == strlen(u->expect) + 1 &&
	                  memcmp(cur, u->expect, curlen) == 0;

	u->done = match;
	if (!match)
		return;
	op->del = u->val == NULL ? LMDBFILE_DEL : LMDBFILE_PUT;
	op->val = u->val;
	op->vlen = u->val != NULL ? strlen(u->val) + 1 : 0;
}

static void
test_update(void **state)
{
	struct fx *f = *state;
	char err[256], val[64];
	struct lmdbfile *t = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
	struct lmdbfile_op k[3] = {{0, "k1", 3, NULL, 0}, {0, "k2", 3, NULL, 0},
	                           {0, "k1", 3, NULL, 0}};
	struct upd u[3] = {{NULL, "a", 0}, {NULL, "b", 0}, {NULL, "c", 0}};

	assert_non_null(t);
	/* the third sees what the first did: k1 no longer absent */
	assert_int_equal(lmdbfile_update(t, k, 3, upd_fn, u, 0, err, sizeof(err)),
	                 LMDBFILE_OK);
	assert_int_equal(u[0].done, 1);
	assert_int_equal(u[1].done, 1);
	assert_int_equal(u[2].done, 0);
	assert_int_equal(tt_get(t, "k1", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "a");
	/* compare-and-swap: wrong expectation changes nothing */
	struct upd w[1] = {{"x", "z", 0}};
	assert_int_equal(lmdbfile_update(t, k, 1, upd_fn, w, 0, err, sizeof(err)),
	                 LMDBFILE_OK);
	assert_int_equal(w[0].done, 0);
	struct upd r[2] = {{"a", "a2", 0}, {"b", NULL, 0}};
	assert_int_equal(lmdbfile_update(t, k, 2, upd_fn, r, LMDBFILE_DEFER_SYNC,
	                                 err, sizeof(err)), LMDBFILE_OK);
	assert_int_equal(r[0].done + r[1].done, 2);
	assert_int_equal(tt_get(t, "k1", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "a2");
	assert_int_equal(tt_get(t, "k2", val, sizeof(val)), LMDBFILE_NOTFOUND);
	lmdbfile_close(t);
}

/* Put-if-absent from many processes at once, each on its own table
 * handle: exactly one wins each key. */
static void
test_update_processes_race(void **state)
{
	struct fx *f = *state;
	enum { NPROC = 6, NKEY = 200 };
	char err[256];
	struct lmdbfile *t = lmdbfile_open(f->path, LMDBFILE_WRITE, err, sizeof(err));
	int fds[NPROC][2], wins = 0;
	pid_t pid[NPROC];

	assert_non_null(t);
	lmdbfile_close(t);
	for (int p = 0; p < NPROC; p++) {
		assert_int_equal(pipe(fds[p]), 0);
		pid[p] = fork();
		assert_true(pid[p] >= 0);
		if (pid[p] == 0) {
			struct lmdbfile *c = lmdbfile_open(f->path, LMDBFILE_WRITE, err,
			                                   sizeof(err));
			char key[16], me[16];
			int won = 0;
			snprintf(me, sizeof(me), "p%d", p);
			for (int i = 0; c != NULL && i < NKEY; i++) {
				struct lmdbfile_op k = {0, key, 0, NULL, 0};
				struct upd u = {NULL, me, 0};
				k.klen = (size_t)snprintf(key, sizeof(key), "key%d", i) + 1;
				if (lmdbfile_update(c, &k, 1, upd_fn, &u, LMDBFILE_DEFER_SYNC,
				                    err, sizeof(err)) != LMDBFILE_OK)
					_exit(2);
				won += u.done;
			}
			lmdbfile_close(c);
			if (write(fds[p][1], &won, sizeof(won)) != sizeof(won))
				_exit(3);
			_exit(c == NULL ? 1 : 0);
		}
		close(fds[p][1]);
	}
	for (int p = 0; p < NPROC; p++) {
		int won = 0, st;
		assert_int_equal(read(fds[p][0], &won, sizeof(won)), sizeof(won));
		close(fds[p][0]);
		assert_int_equal(waitpid(pid[p], &st, 0), pid[p]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		wins += won;
	}
	assert_int_equal(wins, NKEY);
}

/* LMDBFILE_PRIVATE: created 0600 whatever the umask; an old 0644 file of
 * ours is tightened. */
static void
test_private(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct stat st;
	mode_t old = umask(0);
	struct lmdbfile *t = lmdbfile_open(f->path,
	                                   LMDBFILE_WRITE | LMDBFILE_PRIVATE,
	                                   err, sizeof(err));

	umask(old);
	assert_non_null(t);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	lmdbfile_close(t);
	assert_int_equal(chmod(f->path, 0644), 0);
	t = lmdbfile_open(f->path, LMDBFILE_WRITE | LMDBFILE_PRIVATE, err,
	                  sizeof(err));
	assert_non_null(t);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	lmdbfile_close(t);
	/* private is for writers only */
	assert_null(lmdbfile_open(f->path, LMDBFILE_READ | LMDBFILE_PRIVATE, err,
	                          sizeof(err)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_processes_race, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_private, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replace_under_reader, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_and_truncated, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_lock_waits_for_classic_lock,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shared_lock_blocks_classic_writer,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_needs_no_write_permission,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads_with_writer_thread, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_threads_with_writer_process,
	                                    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
