/*
 * test_policy.c - unit tests for lib/policy.c: the recipient parser and
 * the relay decision.
 *
 * Table-driven.  The relay table is a fake lookup function with the
 * relaystore_check() contract, so each row says what the table answers
 * (present, absent, error) and whether it may be asked at all: a local
 * recipient, a trusted or authenticated client must be decided without
 * touching the table, and a client without an address never reaches it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "policy.h"

/* --- policy_parse_rcpt --- */

struct parse_case {
	const char *in;
	int rc;
	int has_domain;
	int routed;
	const char *domain;
};

static const struct parse_case parse_cases[] = {
	{"<user@example.org>", 0, 1, 0, "example.org"},
	{"user@example.org", 0, 1, 0, "example.org"},
	{"<User@EXAMPLE.Org>", 0, 1, 0, "example.org"},
	{"<user@example.org.>", 0, 1, 0, "example.org"},
	{"<user@example.org..>", 0, 1, 0, "example.org."},
	{" <user@example.org> ", 0, 1, 0, "example.org"},
	{"<postmaster>", 0, 0, 0, ""},
	{"postmaster", 0, 0, 0, ""},
	/* quoted local parts: the domain follows the last unquoted '@' */
	{"<\"a@b\"@example.org>", 0, 1, 1, "example.org"},
	{"<\"user@example.org\"@evil.example>", 0, 1, 1, "evil.example"},
	{"<\"john doe\"@example.org>", 0, 1, 0, "example.org"},
	{"<\"a\\\"@b\"@example.org>", 0, 1, 1, "example.org"},
	{"<a\\@b@example.org>", 0, 1, 1, "example.org"},
	{"<\"x@y\">", 0, 0, 1, ""},
	/* source routes are dropped */
	{"<@a.example,@b.example:user@example.org>", 0, 1, 0, "example.org"},
	{"<@example.org:user@evil.example>", 0, 1, 0, "evil.example"},
	{"<@a.example:postmaster>", 0, 0, 0, ""},
	/* sender-specified routing in the local part */
	{"<user%evil.example@example.org>", 0, 1, 1, "example.org"},
	{"<evil.example!user@example.org>", 0, 1, 1, "example.org"},
	{"<user%evil.example>", 0, 0, 1, ""},
	{"<a@b@example.org>", 0, 1, 1, "example.org"},
	/* malformed: never local */
	{"<>", -1, 0, 0, ""},
	{"", -1, 0, 0, ""},
	{"<\"unterminated@example.org>", -1, 0, 0, ""},
	{"<user@example.org\\>", -1, 0, 0, ""},
	{"<@no-colon.example>", -1, 0, 0, ""},
	{"<user@>", 0, 1, 0, ""},
	{NULL, -1, 0, 0, ""},
};

static void
test_parse_rcpt(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct policy_rcpt r;
		int rc = policy_parse_rcpt(c->in, &r);

		if (rc != c->rc || (rc == 0 && (r.has_domain != c->has_domain ||
		                                r.routed != c->routed ||
		                                strcmp(r.domain, c->domain) != 0)))
			print_error("row %zu: \"%s\": rc %d has_domain %d routed %d "
			            "domain \"%s\"\n",
			            i, c->in ? c->in : "(null)", rc, r.has_domain,
			            r.routed, r.domain);
		assert_int_equal(rc, c->rc);
		if (rc == 0) {
			assert_int_equal(r.has_domain, c->has_domain);
			assert_int_equal(r.routed, c->routed);
			assert_string_equal(r.domain, c->domain);
		}
	}
}

static void
test_domain_too_long(void **state)
{
	char rcpt[600], dom[300];
	struct policy_rcpt r;

	(void)state;
	memset(dom, 'a', 255);
	dom[255] = '\0';
	snprintf(rcpt, sizeof(rcpt), "<u@%s>", dom);
	assert_int_equal(policy_parse_rcpt(rcpt, &r), 0);
	assert_int_equal(strlen(r.domain), 255);
	/* A trailing dot does not count against the limit. */
	snprintf(rcpt, sizeof(rcpt), "<u@%s.>", dom);
	assert_int_equal(policy_parse_rcpt(rcpt, &r), 0);
	memset(dom, 'a', 256);
	dom[256] = '\0';
	snprintf(rcpt, sizeof(rcpt), "<u@%s>", dom);
	assert_int_equal(policy_parse_rcpt(rcpt, &r), -1);
}

/* --- policy_decide --- */

enum tbl { T_NONE, T_PRESENT, T_ABSENT, T_ERROR }; /* T_NONE: must not ask */

struct decide_case {
	const char *rcpt;
	const char *client; /* NULL: no address */
	const char *auth;
	enum tbl table;
	enum policy_verdict verdict;
	enum policy_reason reason;
	int routed;
};

static const struct decide_case decide_cases[] = {
	/* local recipients, whoever sends */
	{"<u@example.org>", "203.0.113.7", NULL, T_NONE, POLICY_ACCEPT, POLICY_LOCAL_DOMAIN, 0},
	{"<u@Example.NET.>", "203.0.113.7", NULL, T_NONE, POLICY_ACCEPT, POLICY_LOCAL_DOMAIN, 0},
	{"<postmaster>", "203.0.113.7", NULL, T_NONE, POLICY_ACCEPT, POLICY_LOCAL_DOMAIN, 0},
	{"<postmaster>", NULL, NULL, T_NONE, POLICY_ACCEPT, POLICY_LOCAL_DOMAIN, 0},
	{"<u@example.org>", "127.0.0.2", NULL, T_NONE, POLICY_ACCEPT, POLICY_LOCAL_DOMAIN, 0},
	/* subdomains are not the domain */
	{"<u@sub.example.org>", "203.0.113.7", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 0},
	{"<u@xexample.org>", "203.0.113.7", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 0},
	/* trusted networks, checked before the table */
	{"<u@remote.example>", "192.0.2.10", NULL, T_NONE, POLICY_ACCEPT, POLICY_TRUSTED, 0},
	{"<u@remote.example>", "2001:db8:1::9", NULL, T_NONE, POLICY_ACCEPT, POLICY_TRUSTED, 0},
	{"<u@remote.example>", "192.0.3.1", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 0},
	/* SMTP AUTH */
	{"<u@remote.example>", "203.0.113.7", "alice", T_NONE, POLICY_ACCEPT, POLICY_SMTP_AUTH, 0},
	{"<u@remote.example>", NULL, "alice", T_NONE, POLICY_ACCEPT, POLICY_SMTP_AUTH, 0},
	{"<u@remote.example>", "203.0.113.7", "", T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 0},
	/* the relay table */
	{"<u@remote.example>", "127.0.0.2", NULL, T_PRESENT, POLICY_ACCEPT, POLICY_POP_AUTH, 0},
	{"<u@remote.example>", "2001:db8::5", NULL, T_PRESENT, POLICY_ACCEPT, POLICY_POP_AUTH, 0},
	{"<u@remote.example>", "10.1.1.1", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 0},
	{"<u@remote.example>", "10.1.1.1", NULL, T_ERROR, POLICY_TEMPFAIL, POLICY_TABLE_ERROR, 0},
	/* no address: never in the table, never trusted */
	{"<u@remote.example>", NULL, NULL, T_NONE, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 0},
	/* routing through a local domain needs permission */
	{"<u%remote.example@example.org>", "203.0.113.7", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 1},
	{"<remote.example!u@example.org>", "203.0.113.7", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 1},
	{"<\"u@remote.example\"@example.org>", "203.0.113.7", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 1},
	{"<u%remote.example>", "203.0.113.7", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 1},
	{"<u%remote.example@example.org>", "127.0.0.2", NULL, T_PRESENT, POLICY_ACCEPT, POLICY_POP_AUTH, 1},
	{"<u%remote.example@example.org>", "192.0.2.10", NULL, T_NONE, POLICY_ACCEPT, POLICY_TRUSTED, 1},
	/* a routed remote address is just remote */
	{"<u%a.example@remote.example>", "203.0.113.7", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 0},
	/* source routes */
	{"<@remote.example:u@example.org>", "203.0.113.7", NULL, T_NONE, POLICY_ACCEPT, POLICY_LOCAL_DOMAIN, 0},
	{"<@example.org:u@remote.example>", "203.0.113.7", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 0},
	/* malformed recipients are never local */
	{"<>", "203.0.113.7", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 0},
	{"<\"u@example.org>", "203.0.113.7", NULL, T_ABSENT, POLICY_REJECT, POLICY_NOT_AUTHENTICATED, 0},
	{"<\"u@example.org>", "127.0.0.2", NULL, T_ERROR, POLICY_TEMPFAIL, POLICY_TABLE_ERROR, 0},
};

struct fake_table {
	enum tbl answer;
	int calls;
	char asked[ADDR_STRLEN];
	time_t now;
};

#define EXPIRES 2000000000

static int
fake_lookup(void *arg, const struct addr *a, time_t now, time_t *expires,
            char *err, size_t errlen)
{
	struct fake_table *f = arg;

	f->calls++;
	f->now = now;
	addr_format(a, f->asked, sizeof(f->asked));
	switch (f->answer) {
	case T_PRESENT:
		*expires = EXPIRES;
		return 1;
	case T_ABSENT:
		return 0;
	case T_ERROR:
		snprintf(err, errlen, "relay.lmdb: MDB_INVALID");
		return -1;
	case T_NONE:
		break;
	}
	return 0;
}

static int
setup_policy(void **state)
{
	static struct policy p;

	memset(&p, 0, sizeof(p));
	if (policy_add_local_domain(&p, "example.org") != 0 ||
	    policy_add_local_domain(&p, "EXAMPLE.net.") != 0 ||
	    cidr_list_add(&p.trusted, "192.0.2.0/24") != 0 ||
	    cidr_list_add(&p.trusted, "2001:db8:1::/48") != 0)
		return -1;
	*state = &p;
	return 0;
}

static int
teardown_policy(void **state)
{
	policy_free(*state);
	return 0;
}

static void
test_decide(void **state)
{
	const struct policy *p = *state;
	size_t i;

	for (i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
		const struct decide_case *c = &decide_cases[i];
		struct fake_table f = {.answer = c->table};
		struct policy_client cl = {NULL, 0, c->auth};
		struct policy_decision d;
		struct addr a;

		if (c->client != NULL) {
			assert_int_equal(addr_parse(c->client, &a), 0);
			cl.addr = &a;
			cl.trusted = policy_trusted(p, &a);
		}
		policy_decide(p, c->rcpt, &cl, fake_lookup, &f, 1234, &d);
		if (d.verdict != c->verdict || d.reason != c->reason ||
		    d.routed != c->routed || (c->table == T_NONE) != (f.calls == 0))
			print_error("row %zu: %s from %s: verdict %d reason %s routed %d "
			            "table calls %d\n",
			            i, c->rcpt, c->client ? c->client : "(none)",
			            d.verdict, policy_reason_name(d.reason), d.routed,
			            f.calls);
		assert_int_equal(d.verdict, c->verdict);
		assert_int_equal(d.reason, c->reason);
		assert_int_equal(d.routed, c->routed);
		if (c->table == T_NONE) {
			assert_int_equal(f.calls, 0);
			continue;
		}
		assert_int_equal(f.calls, 1);
		assert_string_equal(f.asked, c->client);
		assert_int_equal(f.now, 1234);
		if (c->table == T_PRESENT)
			assert_int_equal(d.expires, EXPIRES);
		if (c->table == T_ERROR)
			assert_string_equal(d.err, "relay.lmdb: MDB_INVALID");
	}
}

static void
test_no_address_never_trusted(void **state)
{
	const struct policy *p = *state;
	struct addr a;

	assert_int_equal(policy_trusted(p, NULL), 0);
	assert_int_equal(addr_parse("192.0.2.255", &a), 0);
	assert_int_equal(policy_trusted(p, &a), 1);
	/* IPv4-mapped parses as IPv4 and so matches the IPv4 network. */
	assert_int_equal(addr_parse("::ffff:192.0.2.1", &a), 0);
	assert_int_equal(policy_trusted(p, &a), 1);
	assert_int_equal(addr_parse("192.0.1.255", &a), 0);
	assert_int_equal(policy_trusted(p, &a), 0);
}

static void
test_local_domains(void **state)
{
	const struct policy *p = *state;

	assert_int_equal(policy_is_local_domain(p, "example.org"), 1);
	assert_int_equal(policy_is_local_domain(p, "example.net"), 1);
	assert_int_equal(policy_is_local_domain(p, "example.com"), 0);
	assert_int_equal(policy_is_local_domain(p, ""), 0);
}

static void
test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(policy_reason_name(POLICY_LOCAL_DOMAIN), "local-domain");
	assert_string_equal(policy_reason_name(POLICY_TRUSTED), "trusted");
	assert_string_equal(policy_reason_name(POLICY_SMTP_AUTH), "smtp-auth");
	assert_string_equal(policy_reason_name(POLICY_POP_AUTH), "pop-auth");
	assert_string_equal(policy_reason_name(POLICY_NOT_AUTHENTICATED),
	                    "not-authenticated");
	assert_string_equal(policy_reason_name(POLICY_TABLE_ERROR), "table-error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rcpt),
		cmocka_unit_test(test_domain_too_long),
		cmocka_unit_test_setup_teardown(test_decide, setup_policy,
		                                teardown_policy),
		cmocka_unit_test_setup_teardown(test_no_address_never_trusted,
		                                setup_policy, teardown_policy),
		cmocka_unit_test_setup_teardown(test_local_domains, setup_policy,
		                                teardown_policy),
		cmocka_unit_test(test_reason_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
