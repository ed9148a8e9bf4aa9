/*
 * test_lmdbfile_fast.c - unit tests for what was added to make the relay
 * table fast, each checked against the slow way it replaced:
 *  - relaystore_key() and relaystore_expiry() format keys and values by
 *    hand: the same bytes as addr_format() and "%lld", for edge octets,
 *    IPv6 and odd values;
 *  - lmdbfile.c's pool of read-lock descriptors: many reads keep the number
 *    of open descriptors flat; a deleted file reads as empty at the very
 *    next lookup; a replaced file (rename over it, or delete and
 *    recreate) is read at the very next lookup; a forked child reads
 *    through descriptors of its own;
 *  - lmdbfile_write_flags(LMDBFILE_DEFER_SYNC) and lmdbfile_sync(): visible to
 *    another reader at once, synced and kept across close and reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/wait.h>

#include "relaystore.h"
#include "lmdbfile_testutil.h"

static char dir[256], path[300];

static int
setup(void **state)
{
	(void)state;
	if (tt_mkdtemp(dir, sizeof(dir)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/relay.lmdb", dir);
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
check_op(const struct addr *a, time_t expires)
{
	char key[ADDR_STRLEN + 1], val[24], want[ADDR_STRLEN + 1], wantv[24];
	size_t kl = relaystore_key(a, key), vl = relaystore_expiry(expires, val);

	addr_format(a, want, sizeof(want));
	assert_int_equal(kl, strlen(want));
	assert_memory_equal(key, want, kl + 1); /* the NUL too */
	snprintf(wantv, sizeof(wantv), "%lld", (long long)expires);
	assert_int_equal(vl, strlen(wantv));
	assert_memory_equal(val, wantv, vl + 1);
}

static void
test_op_format(void **state)
{
	static const unsigned oct[] = {0, 1, 9, 10, 11, 99, 100, 101, 199, 200, 255};
	static const char *v6[] = {"::1", "2001:db8::1", "fe80::a:b:c:d",
	                           "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8", "::"};
	static const long long vals[] = {1, 9, 10, 99, 100, 1700000000,
	                                 9999999999LL, LLONG_MAX, -1, -42,
	                                 LLONG_MIN, 0};
	size_t n = sizeof(oct) / sizeof(oct[0]);
	struct addr a;

	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			memset(&a, 0, sizeof(a));
			a.family = AF_INET;
			a.bytes[0] = (uint8_t)oct[i];
			a.bytes[1] = (uint8_t)oct[j];
			a.bytes[2] = (uint8_t)oct[(i + j) % n];
			a.bytes[3] = (uint8_t)oct[(i * 7 + j) % n];
			check_op(&a, 1700000000);
		}
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		assert_int_equal(addr_parse(v6[i], &a), 0);
		check_op(&a, 1700000000);
	}
	assert_int_equal(addr_parse("192.0.2.77", &a), 0);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		if ((long long)(time_t)vals[i] == vals[i])
			check_op(&a, (time_t)vals[i]);
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int
get(struct lmdbfile *t, const char *key, char *val, size_t vlen)
{
	char err[256];
	int rc = lmdbfile_get(t, key, strlen(key) + 1, val, vlen, err, sizeof(err));

	if (rc == LMDBFILE_ERR)
		fprintf(stderr, "get: %s\n", err);
	return rc;
}

static void
test_pool_and_replacement(void **state)
{
	char err[256], val[32], tmp[320];
	struct lmdbfile *w, *r;
	int before, i;

	(void)state;
	w = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tt_put(w, "k", "one"), LMDBFILE_OK);
	r = lmdbfile_open(path, LMDBFILE_READ_MISSING_OK, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	before = count_fds();
	for (i = 0; i < 2000; i++)
		assert_int_equal(get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "one");
	assert_int_equal(count_fds(), before);

	/* deleted: empty at the very next lookup */
	lmdbfile_close(w);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(get(r, "k", val, sizeof(val)), LMDBFILE_NOTFOUND);

	/* recreated with other contents: read at the very next lookup */
	w = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tt_put(w, "k", "two"), LMDBFILE_OK);
	lmdbfile_close(w);
	assert_int_equal(get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "two");

	/* replaced by rename (as postmap does): the same */
	snprintf(tmp, sizeof(tmp), "%s/new.lmdb", dir);
	w = lmdbfile_open(tmp, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tt_put(w, "k", "three"), LMDBFILE_OK);
	lmdbfile_close(w);
	assert_int_equal(rename(tmp, path), 0);
	assert_int_equal(get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "three");
	before = count_fds();
	for (i = 0; i < 100; i++)
		assert_int_equal(get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_int_equal(count_fds(), before);
	lmdbfile_close(r);
}

static void
test_fork_child_reads(void **state)
{
	char err[256], val[32];
	struct lmdbfile *w, *r;
	pid_t pid;
	int st;

	(void)state;
	w = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(tt_put(w, "k", "v"), LMDBFILE_OK);
	r = lmdbfile_open(path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(get(r, "k", val, sizeof(val)), LMDBFILE_OK); /* pools one */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = 1;
		for (int i = 0; i < 100 && ok; i++)
			ok = get(r, "k", val, sizeof(val)) == LMDBFILE_OK &&
			     strcmp(val, "v") == 0;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(get(r, "k", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "v");
	lmdbfile_close(r);
	lmdbfile_close(w);
}

static void
test_deferred_sync(void **state)
{
	char err[256], val[32];
	struct lmdbfile *w, *r;
	struct lmdbfile_op op = {0, "d", 2, "1", 2};

	(void)state;
	w = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	assert_non_null(w);
	r = lmdbfile_open(path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(lmdbfile_sync(w, err, sizeof(err)), LMDBFILE_OK); /* nothing */
	assert_int_equal(lmdbfile_write_flags(w, &op, 1, LMDBFILE_DEFER_SYNC, err,
	                                   sizeof(err)),
	                 LMDBFILE_OK);
	assert_int_equal(get(r, "d", val, sizeof(val)), LMDBFILE_OK);
	assert_string_equal(val, "1");
	assert_int_equal(lmdbfile_sync(w, err, sizeof(err)), LMDBFILE_OK);
	assert_int_equal(lmdbfile_sync(w, err, sizeof(err)), LMDBFILE_OK);
	/* a deferred commit, then close: synced by lmdbfile_close */
	op.key = "e";
	assert_int_equal(lmdbfile_write_flags(w, &op, 1, LMDBFILE_DEFER_SYNC, err,
	                                   sizeof(err)),
	                 LMDBFILE_OK);
	lmdbfile_close(w);
	lmdbfile_close(r);
	r = lmdbfile_open(path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(get(r, "d", val, sizeof(val)), LMDBFILE_OK);
	assert_int_equal(get(r, "e", val, sizeof(val)), LMDBFILE_OK);
	/* lmdbfile_sync on a reader is a no-op */
	assert_int_equal(lmdbfile_sync(r, err, sizeof(err)), LMDBFILE_OK);
	lmdbfile_close(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_op_format),
	    cmocka_unit_test_setup_teardown(test_pool_and_replacement, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_fork_child_reads, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_deferred_sync, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
