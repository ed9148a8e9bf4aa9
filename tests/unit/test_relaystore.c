/*
 * test_relaystore.c - unit tests for lib/relaystore.c on the LMDB store:
 * the file name and spec, record encoding and decoding (round trip and a
 * table of malformed records), relaystore_check() (present, expired,
 * absent, malformed), relaystore_write() (a write never shortens a
 * record; puts and deletes in one batch), relaystore_sweep() in batches
 * and relaystore_foreach().  The Redis side: tests/relayd/redis.t.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conf.h"
#include "relaystore.h"
#include "lmdbfile_testutil.h"

static char dir[256], path[300], spec[320];

static int
setup(void **state)
{
	(void)state;
	if (tt_mkdtemp(dir, sizeof(dir)) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/relay.lmdb", dir);
	snprintf(spec, sizeof(spec), "lmdb:%s", path);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tt_rmtree(dir);
	return 0;
}

static struct store *
open_store(int mode)
{
	char err[256];
	struct store *s = store_open(NULL, spec, mode, err, sizeof(err));

	if (s == NULL)
		fail_msg("store_open: %s", err);
	return s;
}

static void
test_path_and_spec(void **state)
{
	char buf[32], err[256], big[4300];
	FILE *f;
	cfg_t *cfg;

	(void)state;
	assert_int_equal(relaystore_path("/var/lib/leafmail/relay", buf,
	                                 sizeof(buf)),
	                 0);
	assert_string_equal(buf, "/var/lib/leafmail/relay.lmdb");
	assert_int_equal(relaystore_path("/var/lib/leafmail/relay-is-long", buf,
	                                 sizeof(buf)),
	                 -1);
	/* exactly fitting, and one byte short */
	assert_int_equal(relaystore_path("0123456789012345678901234", buf, 31),
	                 0);
	assert_int_equal(relaystore_path("0123456789012345678901234", buf, 30),
	                 -1);
	/* the spec each relay.store names */
	assert_int_equal(tt_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/c.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "relay { table = \"/x/relay\" }\n");
	fclose(f);
	cfg = conf_load(path, err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(relaystore_spec(cfg, big, sizeof(big), err, sizeof(err)),
	                 0);
	assert_string_equal(big, "lmdb:/x/relay.lmdb");
	conf_free(cfg);
	f = fopen(path, "w");
	fprintf(f, "relay { store = \"redis\" }\nredis { address = \"127.0.0.1:1\" }\n");
	fclose(f);
	cfg = conf_load(path, err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(relaystore_spec(cfg, big, sizeof(big), err, sizeof(err)),
	                 0);
	assert_string_equal(big, "redis:relay:");
	conf_free(cfg);
	tt_rmtree(dir);
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
test_encode_decode_round_trip(void **state)
{
	char key[ADDR_STRLEN + 1], val[24];
	struct addr a, b;
	size_t kl, vl, i;
	time_t e;

	(void)state;
	for (i = 0; i < sizeof(round_trip) / sizeof(round_trip[0]); i++) {
		assert_int_equal(addr_parse(round_trip[i].in, &a), 0);
		kl = relaystore_key(&a, key);
		vl = relaystore_expiry(1900000000, val);
		assert_int_equal(kl, strlen(round_trip[i].key));
		assert_memory_equal(key, round_trip[i].key, kl + 1); /* and NUL */
		assert_int_equal(vl, 10);
		assert_memory_equal(val, "1900000000", 11);
		assert_int_equal(relaystore_decode(key, kl, val, vl, &b, &e), 0);
		assert_true(addr_equal(&a, &b));
		assert_int_equal(e, 1900000000);
	}
	/* largest value */
	vl = relaystore_expiry(INT64_MAX, val);
	assert_string_equal(val, "9223372036854775807");
	assert_int_equal(relaystore_decode(key, kl, val, vl, &b, &e), 0);
	assert_true(e == (time_t)INT64_MAX);
}

static const struct {
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
} malformed[] = {
    {"127.0.0.2\0x", 11, "1900000000", 10},        /* NUL inside key */
    {"", 0, "1900000000", 10},                     /* empty key */
    {"127.0.0", 7, "1900000000", 10},              /* not an address */
    {"example.com", 11, "1900000000", 10},         /* a Postfix domain key */
    {"::ffff:10.1.2.3", 15, "1900000000", 10},     /* not canonical */
    {"2001:DB8::5", 11, "1900000000", 10},         /* not canonical */
    {"[127.0.0.2]", 11, "1900000000", 10},         /* not canonical */
    {"127.0.0.2", 9, "", 0},                       /* empty value */
    {"127.0.0.2", 9, "OK", 2},                     /* not a number */
    {"127.0.0.2", 9, "-5", 2},                     /* signed */
    {"127.0.0.2", 9, "19000 0000", 10},            /* space */
    {"127.0.0.2", 9, "1900000000\0" "5", 12},      /* NUL inside value */
    {"127.0.0.2", 9, "99999999999999999999", 20},  /* 20 digits */
};

static void
test_decode_malformed(void **state)
{
	struct addr a;
	time_t e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		if (relaystore_decode(malformed[i].key, malformed[i].klen,
		                      malformed[i].val, malformed[i].vlen, &a,
		                      &e) != -1)
			fail_msg("record %zu decoded", i);
	}
}

static void
put_addr(struct store *s, const char *ip, time_t expires)
{
	char err[256];
	struct relay_rec r;

	assert_int_equal(addr_parse(ip, &r.a), 0);
	r.expires = expires;
	assert_int_equal(relaystore_write(s, &r, 1, 0, err, sizeof(err)),
	                 STORE_OK);
}

/* A raw record in the file, as something else might have written it. */
static void
put_raw(const char *key, size_t klen, const char *val, size_t vlen)
{
	char err[256];
	struct lmdbfile *t = lmdbfile_open(path, LMDBFILE_WRITE, err, sizeof(err));
	struct lmdbfile_op op = {0, key, klen, val, vlen};

	assert_non_null(t);
	assert_int_equal(lmdbfile_write(t, &op, 1, err, sizeof(err)), LMDBFILE_OK);
	lmdbfile_close(t);
}

static void
test_check(void **state)
{
	char err[256];
	struct store *t = open_store(STORE_WRITE);
	struct addr a;
	time_t e;

	(void)state;
	put_addr(t, "127.0.0.2", 1000);
	put_addr(t, "::ffff:10.0.0.1", 2000); /* stored as 10.0.0.1 */
	put_raw("10.0.0.9", 9, "soon", 5);
	put_raw("10.0.0.8", 9, "123456789012345678901234567890", 31);

	assert_int_equal(addr_parse("127.0.0.2", &a), 0);
	assert_int_equal(relaystore_check(t, &a, 999, &e, err, sizeof(err)), 1);
	assert_int_equal(e, 1000);
	assert_int_equal(relaystore_check(t, &a, 999, NULL, err, sizeof(err)), 1);
	/* expires == now: no longer */
	assert_int_equal(relaystore_check(t, &a, 1000, &e, err, sizeof(err)), 0);
	assert_int_equal(relaystore_check(t, &a, 5000, &e, err, sizeof(err)), 0);

	/* looked up as the mapped form finds the plain IPv4 key */
	assert_int_equal(addr_parse("::ffff:10.0.0.1", &a), 0);
	assert_int_equal(relaystore_check(t, &a, 1500, &e, err, sizeof(err)), 1);
	assert_int_equal(e, 2000);

	/* absent, malformed (fail closed), too long to be a time */
	assert_int_equal(addr_parse("10.0.0.7", &a), 0);
	assert_int_equal(relaystore_check(t, &a, 0, &e, err, sizeof(err)), 0);
	assert_int_equal(addr_parse("10.0.0.9", &a), 0);
	assert_int_equal(relaystore_check(t, &a, 0, &e, err, sizeof(err)), 0);
	assert_int_equal(addr_parse("10.0.0.8", &a), 0);
	assert_int_equal(relaystore_check(t, &a, 0, &e, err, sizeof(err)), 0);
	store_close(t);

	/* no table file: not relayed; unreadable table: STORE_ERR */
	struct store *m;
	char other[340];
	snprintf(other, sizeof(other), "lmdb:%s/none.lmdb", dir);
	m = store_open(NULL, other, STORE_READ, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(addr_parse("127.0.0.2", &a), 0);
	assert_int_equal(relaystore_check(m, &a, 0, &e, err, sizeof(err)), 0);
	store_close(m);
	m = open_store(STORE_READ);
	assert_int_equal(relaystore_check(m, &a, 0, &e, err, sizeof(err)), 1);
	assert_int_equal(truncate(path, 3000), 0);
	err[0] = '\0';
	assert_int_equal(relaystore_check(m, &a, 0, &e, err, sizeof(err)),
	                 STORE_ERR);
	assert_non_null(strstr(err, path));
	store_close(m);
}

/* The latest login wins: a write never shortens a record, whatever
 * order writes come in; a delete in the same batch still deletes. */
static void
test_write_never_shortens(void **state)
{
	char err[256];
	struct store *t = open_store(STORE_WRITE);
	struct relay_rec v[3];
	struct addr a;
	time_t e;

	(void)state;
	put_addr(t, "192.0.2.1", 3000);
	put_addr(t, "192.0.2.1", 2000); /* an older login, replayed */
	assert_int_equal(addr_parse("192.0.2.1", &a), 0);
	assert_int_equal(relaystore_check(t, &a, 0, &e, err, sizeof(err)), 1);
	assert_int_equal(e, 3000);
	put_addr(t, "192.0.2.1", 4000);
	assert_int_equal(relaystore_check(t, &a, 0, &e, err, sizeof(err)), 1);
	assert_int_equal(e, 4000);
	/* one batch: a new record, a refresh, a removal */
	assert_int_equal(addr_parse("192.0.2.2", &v[0].a), 0);
	v[0].expires = 100;
	assert_int_equal(addr_parse("192.0.2.1", &v[1].a), 0);
	v[1].expires = 0;
	assert_int_equal(addr_parse("192.0.2.3", &v[2].a), 0);
	v[2].expires = 300;
	assert_int_equal(relaystore_write(t, v, 3, STORE_DEFER_SYNC, err,
	                                  sizeof(err)),
	                 STORE_OK);
	assert_int_equal(store_sync(t, err, sizeof(err)), STORE_OK);
	assert_int_equal(relaystore_check(t, &a, 0, &e, err, sizeof(err)), 0);
	assert_int_equal(relaystore_check(t, &v[2].a, 0, &e, err, sizeof(err)), 1);
	assert_int_equal(e, 300);
	store_close(t);
}

struct list {
	char keys[64][64];
	int n;
};

static int
list_visit(void *arg, const struct addr *a, time_t expires)
{
	struct list *l = arg;

	(void)expires;
	if (l->n < 64)
		addr_format(a, l->keys[l->n++], 64);
	return 0;
}

static void
test_sweep(void **state)
{
	char err[256], ip[32];
	struct store *t = open_store(STORE_WRITE);
	struct list l = {0};
	int i;

	(void)state;
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
	put_raw("10.0.2.1", 9, "x", 2);
	put_raw("not-an-address", 15, "1", 2);
	put_raw("10.0.2.2", 8, "1900000000", 11); /* no NUL after the key */

	assert_int_equal(relaystore_sweep(t, 1500, 2, err, sizeof(err)), 10);
	assert_int_equal(relaystore_foreach(t, list_visit, &l, err, sizeof(err)),
	                 STORE_OK);
	assert_int_equal(l.n, 10);
	for (i = 0; i < l.n; i++)
		assert_int_equal(strncmp(l.keys[i], "10.0.1.", 7), 0);
	/* nothing more to do; then everything expires, one batch each */
	assert_int_equal(relaystore_sweep(t, 1500, 2, err, sizeof(err)), 0);
	assert_int_equal(relaystore_sweep(t, 2005, 0, err, sizeof(err)), 6);
	assert_int_equal(relaystore_sweep(t, 9999, 100, err, sizeof(err)), 4);
	l.n = 0;
	assert_int_equal(relaystore_foreach(t, list_visit, &l, err, sizeof(err)),
	                 STORE_OK);
	assert_int_equal(l.n, 0);
	store_close(t);

	/* a read-only store cannot be swept */
	t = open_store(STORE_READ);
	assert_int_equal(relaystore_sweep(t, 9999, 10, err, sizeof(err)), 0);
	store_close(t);
	t = open_store(STORE_WRITE);
	put_addr(t, "10.0.1.1", 5);
	store_close(t);
	t = open_store(STORE_READ);
	assert_int_equal(relaystore_sweep(t, 9999, 10, err, sizeof(err)),
	                 STORE_ERR);
	assert_non_null(strstr(err, path));
	store_close(t);
}

static void
test_sweep_many(void **state)
{
	char err[256];
	struct store *t = open_store(STORE_WRITE);
	struct relay_rec v[100];
	int i, j;

	(void)state;
	/* 3000 records, every third expired */
	for (i = 0; i < 3000; i += 100) {
		for (j = 0; j < 100; j++) {
			memset(&v[j].a, 0, sizeof(v[j].a));
			v[j].a.family = AF_INET6;
			v[j].a.bytes[0] = 0x20;
			v[j].a.bytes[1] = 0x01;
			v[j].a.bytes[14] = (uint8_t)((i + j) >> 8);
			v[j].a.bytes[15] = (uint8_t)(i + j);
			v[j].expires = (i + j) % 3 ? 5000 : 100;
		}
		assert_int_equal(relaystore_write(t, v, 100, 0, err, sizeof(err)),
		                 STORE_OK);
	}
	assert_int_equal(relaystore_sweep(t, 1000, 64, err, sizeof(err)), 1000);
	assert_int_equal(relaystore_sweep(t, 1000, 64, err, sizeof(err)), 0);
	assert_int_equal(relaystore_sweep(t, 5000, 500, err, sizeof(err)), 2000);
	store_close(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_and_spec),
	    cmocka_unit_test(test_encode_decode_round_trip),
	    cmocka_unit_test(test_decode_malformed),
	    cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_never_shortens, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sweep_many, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
