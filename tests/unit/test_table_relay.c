/*
 * test_table_relay.c - unit tests for lib/relaytable.c: the file name,
 * record encoding and decoding (round trip and a table of malformed
 * records), relaytable_check() (present, expired, absent, malformed), and
 * relaytable_sweep() in batches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "relaytable.h"
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
test_path(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(relaytable_path("/var/lib/leafmail/relay", buf,
	                                 sizeof(buf)),
	                 0);
	assert_string_equal(buf, "/var/lib/leafmail/relay.lmdb");
	assert_int_equal(relaytable_path("/var/lib/leafmail/relay-is-long", buf,
	                                 sizeof(buf)),
	                 -1);
	/* exactly fitting, and one byte short */
	assert_int_equal(relaytable_path("0123456789012345678901234", buf, 31),
	                 0);
	assert_int_equal(relaytable_path("0123456789012345678901234", buf, 30),
	                 -1);
}

static const struct {
	const char *in, *key;
} round_trip[] = {
    {"127.0.0.2", "127.0.0.2"},
    {"192.0.2.255", "192.0.2.255"},
    {"::1", "::1"},
    {"2001:DB8:0:0:0:0:0:5", "2001:db8::5"},
    {"::ffff:10.1.2.3", "10.1.2.3"},
    {"fe80::1%eth0", "fe80::1"},
    {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
};

static void
test_op_decode_round_trip(void **state)
{
	char key[ADDR_STRLEN + 1], val[24];
	struct lmdbfile_op op;
	struct addr a, b;
	time_t e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(round_trip) / sizeof(round_trip[0]); i++) {
		assert_int_equal(addr_parse(round_trip[i].in, &a), 0);
		relaytable_op(&op, &a, 1900000000, key, val);
		assert_int_equal(op.del, 0);
		assert_int_equal(op.klen, strlen(round_trip[i].key) + 1);
		assert_memory_equal(op.key, round_trip[i].key, op.klen);
		assert_int_equal(op.vlen, 11);
		assert_memory_equal(op.val, "1900000000", 11);
		assert_int_equal(relaytable_decode(op.key, op.klen, op.val,
		                                   op.vlen, &b, &e),
		                 0);
		assert_true(addr_equal(&a, &b));
		assert_int_equal(e, 1900000000);
	}
	/* expires 0: a delete of the same key */
	assert_int_equal(addr_parse("2001:db8::5", &a), 0);
	relaytable_op(&op, &a, 0, key, val);
	assert_int_equal(op.del, 1);
	assert_string_equal(op.key, "2001:db8::5");
	assert_int_equal(op.klen, 12);
	/* largest value */
	relaytable_op(&op, &a, (time_t)INT64_MAX, key, val);
	assert_string_equal(op.val, "9223372036854775807");
	assert_int_equal(relaytable_decode(op.key, op.klen, op.val, op.vlen, &b,
	                                   &e),
	                 0);
	assert_true(e == (time_t)INT64_MAX);
}

static const struct {
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
} malformed[] = {
    {"127.0.0.2", 9, "1900000000", 11},               /* key without NUL */
    {"127.0.0.2", 10, "1900000000", 10},              /* value without NUL */
    {"127.0.0.2\0x", 12, "1900000000", 11},           /* NUL inside key */
    {"", 1, "1900000000", 11},                        /* empty key */
    {"127.0.0", 8, "1900000000", 11},                 /* not an address */
    {"example.com", 12, "1900000000", 11},            /* a Postfix domain key */
    {"::ffff:10.1.2.3", 16, "1900000000", 11},        /* not canonical */
    {"2001:DB8::5", 12, "1900000000", 11},            /* not canonical */
    {"[127.0.0.2]", 12, "1900000000", 11},            /* not canonical */
    {"127.0.0.2", 10, "", 1},                         /* empty value */
    {"127.0.0.2", 10, "OK", 3},                       /* not a number */
    {"127.0.0.2", 10, "-5", 3},                       /* signed */
    {"127.0.0.2", 10, "19000 0000", 11},              /* space */
    {"127.0.0.2", 10, "1900000000\0" "5", 13},        /* NUL inside value */
    {"127.0.0.2", 10, "99999999999999999999", 21},    /* 20 digits */
    {"127.0.0.2", 10, "1900000000", 0},               /* no value at all */
};

static void
test_decode_malformed(void **state)
{
	struct addr a;
	time_t e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		if (relaytable_decode(malformed[i].key, malformed[i].klen,
		                      malformed[i].val, malformed[i].vlen, &a,
		                      &e) != -1)
			fail_msg("record %zu decoded", i);
	}
}

static void
put_addr(struct lmdbfile *t, const char *ip, time_t expires)
{
	char key[ADDR_STRLEN + 1], val[24], err[256];
	struct lmdbfile_op op;
	struct addr a;

	assert_int_equal(addr_parse(ip, &a), 0);
	relaytable_op(&op, &a, expires, key, val);
	assert_int_equal(lmdbfile_write(t, &op, 1, err, sizeof(err)), LMDBFILE_OK);
}

static void
test_check(void **state)
{
	char err[256];
	struct lmdbfile *t = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	struct addr a;
	time_t e;

	(void)state;
	assert_non_null(t);
	put_addr(t, "127.0.0.2", 1000);
	put_addr(t, "::ffff:10.0.0.1", 2000); /* stored as 10.0.0.1 */
	assert_int_equal(tt_put(t, "10.0.0.9", "soon"), LMDBFILE_OK);
	assert_int_equal(tt_put(t, "10.0.0.8", "123456789012345678901234567890"),
	                 LMDBFILE_OK);

	assert_int_equal(addr_parse("127.0.0.2", &a), 0);
	assert_int_equal(relaytable_check(t, &a, 999, &e, err, sizeof(err)), 1);
	assert_int_equal(e, 1000);
	assert_int_equal(relaytable_check(t, &a, 999, NULL, err, sizeof(err)), 1);
	/* expires == now: no longer */
	assert_int_equal(relaytable_check(t, &a, 1000, &e, err, sizeof(err)), 0);
	assert_int_equal(relaytable_check(t, &a, 5000, &e, err, sizeof(err)), 0);

	/* looked up as the mapped form finds the plain IPv4 key */
	assert_int_equal(addr_parse("::ffff:10.0.0.1", &a), 0);
	assert_int_equal(relaytable_check(t, &a, 1500, &e, err, sizeof(err)), 1);
	assert_int_equal(e, 2000);

	/* absent, malformed (fail closed), too long to be a time */
	assert_int_equal(addr_parse("10.0.0.7", &a), 0);
	assert_int_equal(relaytable_check(t, &a, 0, &e, err, sizeof(err)), 0);
	assert_int_equal(addr_parse("10.0.0.9", &a), 0);
	assert_int_equal(relaytable_check(t, &a, 0, &e, err, sizeof(err)), 0);
	assert_int_equal(addr_parse("10.0.0.8", &a), 0);
	assert_int_equal(relaytable_check(t, &a, 0, &e, err, sizeof(err)), 0);
	lmdbfile_close(t);

	/* no table file: not relayed; unreadable table: LMDBFILE_ERR */
	struct lmdbfile *m;
	char other[320];
	snprintf(other, sizeof(other), "%s/none.lmdb", dir);
	m = lmdbfile_open(other, LMDBFILE_READ_MISSING_OK, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(addr_parse("127.0.0.2", &a), 0);
	assert_int_equal(relaytable_check(m, &a, 0, &e, err, sizeof(err)), 0);
	lmdbfile_close(m);
	m = lmdbfile_open(path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(relaytable_check(m, &a, 0, &e, err, sizeof(err)), 1);
	assert_int_equal(truncate(path, 3000), 0);
	err[0] = '\0';
	assert_int_equal(relaytable_check(m, &a, 0, &e, err, sizeof(err)),
	                 LMDBFILE_ERR);
	assert_non_null(strstr(err, path));
	lmdbfile_close(m);
}

struct list {
	char keys[64][64];
	int n;
};

static int
list_visit(void *arg, const void *key, size_t klen, const void *val,
           size_t vlen)
{
	struct list *l = arg;

	(void)val, (void)vlen;
	if (l->n < 64 && klen < 64) {
		memcpy(l->keys[l->n], key, klen);
		l->keys[l->n][klen] = '\0';
		l->n++;
	}
	return 0;
}

static void
test_sweep(void **state)
{
	char err[256], ip[32];
	struct lmdbfile *t = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	struct list l = {0};
	int i;

	(void)state;
	assert_non_null(t);
	/* 10 live, 7 expired (one exactly at now), 3 malformed */
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "10.0.1.%d", i);
		put_addr(t, ip, 2000 + i);
	}
	for (i = 0; i < 6; i++) {
		snprintf(ip, sizeof(ip), "2001:db8::%d", i + 1);
		put_addr(t, ip, 1000 + i);
	}
	put_addr(t, "10.9.9.9", 1500);
	assert_int_equal(tt_put(t, "10.0.2.1", "x"), LMDBFILE_OK);
	assert_int_equal(tt_put(t, "not-an-address", "1"), LMDBFILE_OK);
	struct lmdbfile_op op = {0, "10.0.2.2", 8, "1900000000", 11}; /* no NUL */
	assert_int_equal(lmdbfile_write(t, &op, 1, err, sizeof(err)), LMDBFILE_OK);

	assert_int_equal(relaytable_sweep(t, 1500, 2, err, sizeof(err)), 10);
	assert_int_equal(lmdbfile_foreach(t, list_visit, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 10);
	for (i = 0; i < l.n; i++)
		assert_int_equal(strncmp(l.keys[i], "10.0.1.", 7), 0);
	/* nothing more to do; then everything expires, one batch each */
	assert_int_equal(relaytable_sweep(t, 1500, 2, err, sizeof(err)), 0);
	assert_int_equal(relaytable_sweep(t, 2005, 0, err, sizeof(err)), 6);
	assert_int_equal(relaytable_sweep(t, 9999, 100, err, sizeof(err)), 4);
	l.n = 0;
	assert_int_equal(lmdbfile_foreach(t, list_visit, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 0);
	lmdbfile_close(t);

	/* a read-only table cannot be swept */
	t = lmdbfile_open(path, LMDBFILE_READ, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(relaytable_sweep(t, 9999, 10, err, sizeof(err)), 0);
	lmdbfile_close(t);
	t = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	put_addr(t, "10.0.1.1", 5);
	lmdbfile_close(t);
	t = lmdbfile_open(path, LMDBFILE_READ, err, sizeof(err));
	assert_int_equal(relaytable_sweep(t, 9999, 10, err, sizeof(err)),
	                 LMDBFILE_ERR);
	assert_non_null(strstr(err, path));
	lmdbfile_close(t);
}

static void
test_sweep_many(void **state)
{
	char err[256], key[100][ADDR_STRLEN + 1], val[100][24];
	struct lmdbfile *t = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	struct lmdbfile_op ops[100];
	struct addr a;
	int i, j;

	(void)state;
	assert_non_null(t);
	/* 3000 records, every third expired */
	for (i = 0; i < 3000; i += 100) {
		for (j = 0; j < 100; j++) {
			memset(&a, 0, sizeof(a));
			a.family = AF_INET6;
			a.bytes[0] = 0x20;
			a.bytes[1] = 0x01;
			a.bytes[14] = (uint8_t)((i + j) >> 8);
			a.bytes[15] = (uint8_t)(i + j);
			relaytable_op(&ops[j], &a, (i + j) % 3 ? 5000 : 100,
			              key[j], val[j]);
		}
		assert_int_equal(lmdbfile_write(t, ops, 100, err, sizeof(err)),
		                 LMDBFILE_OK);
	}
	assert_int_equal(relaytable_sweep(t, 1000, 64, err, sizeof(err)), 1000);
	assert_int_equal(relaytable_sweep(t, 1000, 64, err, sizeof(err)), 0);
	assert_int_equal(relaytable_sweep(t, 5000, 500, err, sizeof(err)), 2000);
	lmdbfile_close(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_op_decode_round_trip),
	    cmocka_unit_test(test_decode_malformed),
	    cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sweep_many, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
