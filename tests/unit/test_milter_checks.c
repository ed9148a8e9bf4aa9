/*
 * test_milter_checks.c - unit tests for the milter's connection checks:
 * milter/velocity.c (sliding-minute counts, bounded memory, threads) and
 * milter/helo.c (the HELO honesty rules, table-driven).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../milter/helo.h"
#include "policy.h"
#include "../../milter/velocity.h"

static struct addr
ip(const char *s)
{
	struct addr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

/* --- velocity --- */

static void
test_velocity_window(void **state)
{
	struct velocity *v = velocity_new(64);
	struct addr a = ip("192.0.2.1"), b = ip("2001:db8::1");
	uint32_t t0 = 1000;

	(void)state;
	assert_non_null(v);
	assert_int_equal(velocity_hit(v, &a, t0), 1);
	assert_int_equal(velocity_hit(v, &a, t0), 2);
	assert_int_equal(velocity_hit(v, &b, t0), 1);
	assert_int_equal(velocity_hit(v, &a, t0 + 30), 3);
	/* t0's two leave the window at t0 + 60; t0 + 30's stays. */
	assert_int_equal(velocity_hit(v, &a, t0 + 59), 4);
	assert_int_equal(velocity_hit(v, &a, t0 + 60), 3);
	assert_int_equal(velocity_hit(v, &a, t0 + 89), 4);
	assert_int_equal(velocity_hit(v, &a, t0 + 90), 4); /* t0+30 gone */
	/* Idle for more than a minute: starts again. */
	assert_int_equal(velocity_hit(v, &a, t0 + 500), 1);
	/* IPv4-mapped is the same address as IPv4 (addr_parse maps). */
	{
		struct addr m = ip("::ffff:192.0.2.1");

		assert_int_equal(velocity_hit(v, &m, t0 + 500), 2);
	}
	velocity_free(v);
}

static void
test_velocity_bounded(void **state)
{
	struct velocity *v = velocity_new(1024);
	struct addr a, busy = ip("198.51.100.1");
	size_t mem = velocity_memory(v);
	uint32_t i, now = 5000;

	(void)state;
	/* 100,000 distinct addresses in one second: the table stays the
	 * size it was made, and counts each new address as 1. */
	for (i = 0; i < 100000; i++) {
		a.family = AF_INET;
		a.bytes[0] = 10;
		a.bytes[1] = (uint8_t)(i >> 16);
		a.bytes[2] = (uint8_t)(i >> 8);
		a.bytes[3] = (uint8_t)i;
		assert_int_equal(velocity_hit(v, &a, now), 1);
		if (i % 64 == 0) /* a busy sender among them stays recent */
			velocity_hit(v, &busy, now);
	}
	assert_int_equal(velocity_memory(v), mem);
	assert_true(mem < 1024 * 200);
	velocity_free(v);
}

struct hammer {
	struct velocity *v;
	int id;
};

static void *
hammer(void *arg)
{
	struct hammer *h = arg;
	struct addr a = ip("203.0.113.7");
	int i;

	for (i = 0; i < 5000; i++)
		velocity_hit(h->v, &a, 7000);
	(void)h->id;
	return NULL;
}

static void
test_velocity_threads(void **state)
{
	struct velocity *v = velocity_new(0);
	struct hammer h[4];
	pthread_t t[4];
	struct addr a = ip("203.0.113.7");
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		h[i].v = v;
		h[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &h[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* No increment lost under the set's lock. */
	assert_int_equal(velocity_hit(v, &a, 7000), 20001);
	velocity_free(v);
}

/* --- HELO --- */

struct helo_case {
	const char *helo;
	const char *client; /* NULL: no address */
	int trusted;
	const char *j;
	enum helo_result want;
};

static const struct helo_case helo_cases[] = {
	{"client.example.net", "203.0.113.5", 0, NULL, HELO_OK},
	{"[203.0.113.5]", "203.0.113.5", 0, NULL, HELO_OK},
	{"[203.0.113.6]", "203.0.113.5", 0, NULL, HELO_LITERAL_MISMATCH},
	{"[203.0.113.6]", "203.0.113.5", 1, NULL, HELO_LITERAL_MISMATCH},
	{"[IPv6:2001:db8::5]", "2001:db8::5", 0, NULL, HELO_OK},
	{"[ipv6:2001:DB8:0:0:0:0:0:5]", "2001:db8::5", 0, NULL, HELO_OK},
	{"[IPv6:2001:db8::6]", "2001:db8::5", 0, NULL, HELO_LITERAL_MISMATCH},
	{"[IPv6:192.0.2.1]", "192.0.2.1", 0, NULL, HELO_BAD_LITERAL},
	{"[2001:db8::5]", "2001:db8::5", 0, NULL, HELO_OK},
	{"[IPv6:fe80::1%eth0]", "fe80::1", 0, NULL, HELO_BAD_LITERAL},
	{"[300.1.1.1]", "203.0.113.5", 0, NULL, HELO_BAD_LITERAL},
	{"[", "203.0.113.5", 0, NULL, HELO_BAD_LITERAL},
	{"[]", "203.0.113.5", 0, NULL, HELO_BAD_LITERAL},
	{"[203.0.113.5", "203.0.113.5", 0, NULL, HELO_BAD_LITERAL},
	{"example.org", "203.0.113.5", 0, NULL, HELO_CLAIMS_LOCAL_DOMAIN},
	{"EXAMPLE.org.", "203.0.113.5", 0, NULL, HELO_CLAIMS_LOCAL_DOMAIN},
	{"example.org", "192.0.2.9", 1, NULL, HELO_OK},
	{"mail.example.org", "203.0.113.5", 0, NULL, HELO_OK},
	{"self.test", "203.0.113.5", 0, NULL, HELO_CLAIMS_HOSTNAME},
	{"SELF.test.", "203.0.113.5", 0, NULL, HELO_CLAIMS_HOSTNAME},
	{"mx.example.net", "203.0.113.5", 0, "mx.example.net", HELO_CLAIMS_HOSTNAME},
	{"mx.example.net", "203.0.113.5", 1, "mx.example.net", HELO_OK},
	{"198.51.100.77", "203.0.113.5", 0, NULL, HELO_CLAIMS_ADDRESS},
	{"198.51.100.78", "203.0.113.5", 0, NULL, HELO_OK},
	/* The client's own address as a literal is honest. */
	{"[198.51.100.77]", "198.51.100.77", 0, NULL, HELO_OK},
	{"[198.51.100.77]", NULL, 0, NULL, HELO_CLAIMS_ADDRESS},
	{"[198.51.100.77]", NULL, 1, NULL, HELO_OK},
	{"", "203.0.113.5", 0, NULL, HELO_OK},
};

static void
test_helo(void **state)
{
	struct policy p;
	struct helo_self self;
	struct addr own = ip("198.51.100.77"), c;
	size_t i;

	(void)state;
	memset(&p, 0, sizeof(p));
	memset(&self, 0, sizeof(self));
	assert_int_equal(policy_add_local_domain(&p, "example.org"), 0);
	strcpy(self.name, "self.test");
	assert_int_equal(helo_self_add_addr(&self, &own), 0);
	for (i = 0; i < sizeof(helo_cases) / sizeof(helo_cases[0]); i++) {
		const struct helo_case *k = &helo_cases[i];
		enum helo_result r;

		if (k->client != NULL)
			c = ip(k->client);
		r = helo_check(k->helo, k->client != NULL ? &c : NULL, k->trusted, &p,
		               &self, k->j);
		if (r != k->want)
			fail_msg("helo \"%s\" from %s: got %s, want %s", k->helo,
			         k->client ? k->client : "(none)", helo_result_name(r),
			         helo_result_name(k->want));
		assert_non_null(strstr(helo_result_text(r), r == HELO_OK ? "ok" : "HELO"));
		assert_null(strchr(helo_result_text(r), '%'));
	}
	helo_self_free(&self);
	policy_free(&p);
}

static void
test_helo_self_load(void **state)
{
	struct helo_self self;
	char err[256];
	struct addr lo = ip("127.0.0.1");
	size_t i;
	int found = 0;

	(void)state;
	assert_int_equal(helo_self_load(&self, err, sizeof(err)), 0);
	for (i = 0; i < self.naddrs; i++)
		found |= addr_equal(&self.addrs[i], &lo);
	assert_true(found); /* every Linux host has lo */
	helo_self_free(&self);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_velocity_window),
		cmocka_unit_test(test_velocity_bounded),
		cmocka_unit_test(test_velocity_threads),
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_helo_self_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
