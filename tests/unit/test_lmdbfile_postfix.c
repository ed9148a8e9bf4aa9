/*
 * test_lmdbfile_postfix.c - the relay table against Postfix's own lmdb:
 * client (postmap(1), the same dict_lmdb code smtpd uses).  Postfix must
 * read what we write, byte for byte, while our writer has the table open;
 * we must read what Postfix writes; Postfix must leave nothing beside the
 * file (no lock files); and Postfix lookups must work while another process
 * of ours is writing and growing the map.  Skipped when postmap or its
 * lmdb support is not installed (Debian: postfix, postfix-lmdb).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "relaystore.h"
#include "lmdbfile_testutil.h"

#define POSTMAP "/usr/sbin/postmap"
#define POSTCONF "/usr/sbin/postconf"

static char dir[256], conf[300], table[300], path[320];

/* Run argv (no shell), feeding it `in`; its stdout into out.  The exit
 * status, or -1. */
static int
run(char *const argv[], const char *in, char *out, size_t outlen)
{
	int po[2], pi[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(po) == -1 || pipe(pi) == -1)
		return -1;
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		dup2(pi[0], 0);
		dup2(po[1], 1);
		close(pi[0]), close(pi[1]), close(po[0]), close(po[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pi[0]);
	close(po[1]);
	if (in != NULL && write(pi[1], in, strlen(in)) != (ssize_t)strlen(in))
		fprintf(stderr, "run: short write\n");
	close(pi[1]);
	while (n + 1 < outlen && (r = read(po[0], out + n, outlen - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(po[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
postmap_q(const char *key, const char *map, char *out, size_t outlen)
{
	char *argv[] = {POSTMAP, "-c", conf, "-q", (char *)key, (char *)map,
	                NULL};

	return run(argv, NULL, out, outlen);
}

static int
setup(void **state)
{
	char out[340], mf[340];
	int fd;

	(void)state;
	if (tt_mkdtemp(dir, sizeof(dir)) == -1)
		return -1;
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	snprintf(table, sizeof(table), "%s/data/relay", dir);
	snprintf(path, sizeof(path), "%s.lmdb", table);
	snprintf(mf, sizeof(mf), "%s/main.cf", conf);
	snprintf(out, sizeof(out), "%s/data", dir);
	if (mkdir(conf, 0755) == -1 || mkdir(out, 0755) == -1)
		return -1;
	/* postmap wants a main.cf; the defaults are what we test against.
	 * Postfix waits (0.3 s at a time) for a main.cf changed within the
	 * last second or two to settle: date it an hour back. */
	if ((fd = open(mf, O_WRONLY | O_CREAT, 0644)) == -1)
		return -1;
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 3600;
	ts[1] = ts[0];
	futimens(fd, ts);
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tt_rmtree(dir);
	return 0;
}

static void
need_postfix(void)
{
	static int have = -1; /* postconf -m is slow: ask once */
	char *argv[] = {POSTCONF, "-c", conf, "-m", NULL};
	char out[4096];

	if (have == -1)
		have = access(POSTMAP, X_OK) == 0 && access(POSTCONF, X_OK) == 0 &&
		       run(argv, NULL, out, sizeof(out)) == 0 &&
		       strstr(out, "\nlmdb\n") != NULL;
	if (!have)
		skip();
}

/* Names in the table's directory, sorted, one per line. */
static void
list_dir(const char *d, char *out, size_t len)
{
	struct dirent **ents;
	int n, i;

	out[0] = '\0';
	n = scandir(d, &ents, NULL, alphasort);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		strncat(out, ents[i]->d_name, len - strlen(out) - 1);
		strncat(out, "\n", len - strlen(out) - 1);
		free(ents[i]);
	}
	free(ents);
}

/* Our reader, through the store interface the programs use. */
static struct store *
open_store(const char *file)
{
	char err[256], spec[400];
	struct store *s;

	snprintf(spec, sizeof(spec), "lmdb:%s", file);
	s = store_open(NULL, spec, STORE_READ, err, sizeof(err));
	if (s == NULL || store_probe(s, err, sizeof(err)) != STORE_OK)
		fail_msg("%s: %s", spec, err);
	return s;
}

static void
put_addr(struct lmdbfile *t, const char *ip, time_t expires)
{
	char key[ADDR_STRLEN + 1], val[24], err[256];
	struct lmdbfile_op op;
	struct addr a;

	assert_int_equal(addr_parse(ip, &a), 0);
	/* the record as relaystore.h writes it into LMDB: NULs included */
	op.del = expires == 0 ? LMDBFILE_DEL : LMDBFILE_PUT;
	op.key = key;
	op.klen = relaystore_key(&a, key) + 1;
	op.val = val;
	op.vlen = relaystore_expiry(expires, val) + 1;
	assert_int_equal(lmdbfile_write(t, &op, 1, err, sizeof(err)), LMDBFILE_OK);
}

static void
test_postfix_reads_our_table(void **state)
{
	char err[256], out[4096], map[340], before[1024], after[1024], d[300];
	char *list[] = {POSTMAP, "-c", conf, "-s", map, NULL};
	struct lmdbfile *w;

	(void)state;
	need_postfix();
	snprintf(map, sizeof(map), "lmdb:%s", table);
	snprintf(d, sizeof(d), "%s/data", dir);
	w = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	/* the empty table is a valid one to Postfix: "not found", exit 1 */
	assert_int_equal(postmap_q("127.0.0.2", map, out, sizeof(out)), 1);
	assert_string_equal(out, "");

	put_addr(w, "127.0.0.2", 1900000001);
	put_addr(w, "2001:DB8:0::5", 1900000002);
	put_addr(w, "::ffff:10.1.2.3", 1900000003);
	list_dir(d, before, sizeof(before));
	assert_string_equal(before, ".\n..\nrelay.lmdb\n");

	assert_int_equal(postmap_q("127.0.0.2", map, out, sizeof(out)), 0);
	assert_string_equal(out, "1900000001\n");
	assert_int_equal(postmap_q("2001:db8::5", map, out, sizeof(out)), 0);
	assert_string_equal(out, "1900000002\n");
	assert_int_equal(postmap_q("10.1.2.3", map, out, sizeof(out)), 0);
	assert_string_equal(out, "1900000003\n");
	assert_int_equal(postmap_q("10.9.9.9", map, out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(run(list, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "10.1.2.3\t1900000003\n"
	                         "127.0.0.2\t1900000001\n"
	                         "2001:db8::5\t1900000002\n");

	/* our writer goes on after Postfix read; Postfix sees the changes */
	put_addr(w, "127.0.0.2", 0); /* delete */
	put_addr(w, "10.1.2.3", 1900000033);
	assert_int_equal(postmap_q("127.0.0.2", map, out, sizeof(out)), 1);
	assert_int_equal(postmap_q("10.1.2.3", map, out, sizeof(out)), 0);
	assert_string_equal(out, "1900000033\n");

	/* Postfix made nothing beside the table (no lock file) */
	list_dir(d, after, sizeof(after));
	assert_string_equal(after, before);
	lmdbfile_close(w);
}

static void
test_we_read_postfix_table(void **state)
{
	char err[256], out[256], src[340], map[340], mapsrc[360];
	char *build[] = {POSTMAP, "-c", conf, mapsrc, NULL};
	char *add[] = {POSTMAP, "-c", conf, "-i", map, NULL};
	struct store *r;
	struct lmdbfile *w;
	struct addr a;
	time_t e;
	int fd;

	(void)state;
	need_postfix();
	/* a table postmap builds from a text file */
	snprintf(src, sizeof(src), "%s/data/src", dir);
	snprintf(mapsrc, sizeof(mapsrc), "lmdb:%s", src);
	fd = open(src, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	const char *text = "127.0.0.5 1900000005\n2001:db8::7 1900000007\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(run(build, NULL, out, sizeof(out)), 0);
	snprintf(src, sizeof(src), "%s/data/src.lmdb", dir);
	r = open_store(src);
	assert_non_null(r);
	assert_int_equal(addr_parse("2001:db8::7", &a), 0);
	assert_int_equal(relaystore_check(r, &a, 1800000000, &e, err,
	                                  sizeof(err)),
	                 1);
	assert_int_equal(e, 1900000007);
	assert_int_equal(addr_parse("127.0.0.5", &a), 0);
	assert_int_equal(relaystore_check(r, &a, 1800000000, &e, err,
	                                  sizeof(err)),
	                 1);
	store_close(r);

	/* Postfix adds to our table while our reader and writer have it
	 * open */
	snprintf(map, sizeof(map), "lmdb:%s", table);
	w = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	r = open_store(path);
	assert_non_null(r);
	put_addr(w, "127.0.0.2", 1900000001);
	assert_int_equal(run(add, "127.0.0.9 1900000009\n", out, sizeof(out)), 0);
	assert_int_equal(addr_parse("127.0.0.9", &a), 0);
	assert_int_equal(relaystore_check(r, &a, 1800000000, &e, err,
	                                  sizeof(err)),
	                 1);
	assert_int_equal(e, 1900000009);
	put_addr(w, "127.0.0.3", 1900000003);
	assert_int_equal(postmap_q("127.0.0.3", map, out, sizeof(out)), 0);
	assert_string_equal(out, "1900000003\n");
	assert_int_equal(postmap_q("127.0.0.9", map, out, sizeof(out)), 0);
	assert_string_equal(out, "1900000009\n");
	store_close(r);
	lmdbfile_close(w);
}

static void
test_postfix_reads_while_we_grow(void **state)
{
	static char out[20000];
	char err[256], map[340];
	struct lmdbfile *w;
	int i, status;
	pid_t pid;

	(void)state;
	need_postfix();
	snprintf(map, sizeof(map), "lmdb:%s", table);
	w = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	put_addr(w, "127.0.0.2", 1900000001);
	lmdbfile_close(w);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* 150 transactions, 16 KiB each: the map doubles twice */
		static char big[16384];
		char k[32];
		struct lmdbfile *cw = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
		if (cw == NULL)
			_exit(2);
		memset(big, 'b', sizeof(big) - 1);
		for (i = 0; i < 150; i++) {
			snprintf(k, sizeof(k), "big%d", i);
			struct lmdbfile_op op = {0, k, strlen(k) + 1, big, sizeof(big)};
			if (lmdbfile_write(cw, &op, 1, err, sizeof(err)) != LMDBFILE_OK)
				_exit(3);
		}
		lmdbfile_close(cw);
		_exit(0);
	}
	for (i = 0; i < 6; i++) {
		assert_int_equal(postmap_q("127.0.0.2", map, out, sizeof(out)), 0);
		assert_string_equal(out, "1900000001\n");
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(postmap_q("big149", map, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 16384); /* 16383 b's and a newline */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_postfix_reads_our_table, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_we_read_postfix_table, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_postfix_reads_while_we_grow,
	                                    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
