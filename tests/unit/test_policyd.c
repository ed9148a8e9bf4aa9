/*
 * test_policyd.c - leafmail-policyd's request parser (policyd/policyreq.c),
 * its answers (policyd/answer.c) and whole connections
 * (policyd/client.c).
 *
 * Table-driven.  The answers are tested with a stand-in relay table
 * (present until a fixed time, absent, unreadable, or "must not be
 * asked"), and once with a real LMDB table through relaystore_check(), as
 * the daemon asks it: an entry allows until its expiry second and not
 * after, whoever deletes it or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../policyd/answer.h"
#include "../../policyd/policyreq.h"
#include "../../policyd/client.h"
#include "relaystore.h"
#include "lmdbfile_testutil.h"
#include "store.h"

/* --- the parser --- */

struct parse_case {
	const char *text; /* lines separated by '\n'; "\\0" for a NUL */
	int complete;     /* the last line ended the request */
	const char *bad;  /* NULL, or the start of the reason */
	const char *rcpt, *client, *sasl;
};

static const struct parse_case parse_cases[] = {
    {"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n"
     "recipient=a@b.example\nsasl_username=\nhelo_name=x\n\n",
     1, NULL, "a@b.example", "192.0.2.1", ""},
    {"recipient=a=b@c\n\n", 1, NULL, "a=b@c", "", ""}, /* '=' in a value */
    {"unknown_attribute=anything at all\n\n", 1, NULL, "", "", ""},
    {"recipient=a@b\n", 0, NULL, "a@b", "", ""},        /* not ended yet */
    {"no equals sign\n\n", 1, "a line that is not", "", "", ""},
    {"=value\n\n", 1, "a line that is not", "", "", ""},
    {"recipient=a@b\nrecipient=c@d\n\n", 1, "an attribute given twice", "a@b", "", ""},
    {"client_address=0123456789012345678901234567890123456789012345678901234567890123\n\n",
     1, "an attribute value too long", "", "", ""},
    {"sasl_username=a\\0b\n\n", 1, "NUL byte", "", "", ""},
    /* after a bad line the rest is read, not kept */
    {"bad\nrecipient=a@b\n\n", 1, "a line that is not", "", "", ""},
};

static void
feed(struct policyreq *r, const char *text, int *complete)
{
	char line[5000];
	const char *p = text, *nl;
	size_t n, i, o;

	*complete = 0;
	while ((nl = strchr(p, '\n')) != NULL) {
		for (i = 0, o = 0; p + i < nl; i++) { /* "\\0" is a NUL byte */
			if (p[i] == '\\' && p[i + 1] == '0') {
				line[o++] = '\0';
				i++;
			} else
				line[o++] = p[i];
		}
		n = o;
		*complete = policyreq_line(r, line, n);
		p = nl + 1;
	}
}

static void
test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct policyreq r;
		int complete;

		policyreq_reset(&r);
		feed(&r, c->text, &complete);
		if (complete != c->complete)
			fail_msg("case %zu: complete %d", i, complete);
		if ((c->bad == NULL) != (r.bad == NULL) ||
		    (c->bad != NULL && strncmp(r.bad, c->bad, strlen(c->bad)) != 0))
			fail_msg("case %zu: bad \"%s\", want \"%s\"", i,
			         r.bad ? r.bad : "(none)", c->bad ? c->bad : "(none)");
		if (strcmp(r.recipient, c->rcpt) != 0 ||
		    strcmp(r.client_address, c->client) != 0 ||
		    strcmp(r.sasl_username, c->sasl) != 0)
			fail_msg("case %zu: fields \"%s\" \"%s\" \"%s\"", i, r.recipient,
			         r.client_address, r.sasl_username);
	}
}

static void
test_too_many_attributes(void **state)
{
	struct policyreq r;
	char line[32];
	int i;

	(void)state;
	policyreq_reset(&r);
	for (i = 0; i < POLICYREQ_MAX_ATTRS; i++) {
		int n = snprintf(line, sizeof(line), "x%d=y", i);
		assert_int_equal(policyreq_line(&r, line, (size_t)n), 0);
	}
	assert_null(r.bad);
	assert_int_equal(policyreq_line(&r, "one=more", 8), 0);
	assert_non_null(r.bad);
	assert_int_equal(policyreq_line(&r, "", 0), 1);
	/* reset clears it all */
	policyreq_reset(&r);
	assert_null(r.bad);
	assert_int_equal(r.nattr, 0);
}

/* --- the answers --- */

enum fake { PRESENT_UNTIL_1000, ABSENT, BROKEN, NOT_ASKED };

struct fake_table {
	enum fake mode;
	int asked;
};

static int
fake_lookup(void *arg, const struct addr *a, time_t now, time_t *expires,
            char *err, size_t errlen)
{
	struct fake_table *t = arg;

	(void)a;
	t->asked++;
	switch (t->mode) {
	case PRESENT_UNTIL_1000:
		*expires = 1000;
		return now < 1000;
	case ABSENT:
		return 0;
	case BROKEN:
		snprintf(err, errlen, "the table is on fire");
		return -1;
	case NOT_ASKED:
		break;
	}
	fail_msg("the table was asked");
	return -1;
}

struct answer_case {
	const char *request; /* the parser's input */
	enum fake table;
	time_t now;
	const char *want;
};

#define RQ(state, client, rcpt, sasl)                                          \
	"request=smtpd_access_policy\nprotocol_state=" state                   \
	"\nclient_address=" client "\nrecipient=" rcpt "\nsasl_username=" sasl \
	"\n\n"

static const struct answer_case answer_cases[] = {
    {RQ("RCPT", "192.0.2.1", "x@remote.example", ""), PRESENT_UNTIL_1000, 999, "OK"},
    /* expired a second ago: no longer allowed, whether or not deleted */
    {RQ("RCPT", "192.0.2.1", "x@remote.example", ""), PRESENT_UNTIL_1000, 1000, "DUNNO"},
    {RQ("RCPT", "192.0.2.1", "x@remote.example", ""), ABSENT, 5, "DUNNO"},
    {RQ("RCPT", "192.0.2.1", "x@remote.example", ""), BROKEN, 5, ANSWER_TEMPFAIL},
    {RQ("RCPT", "192.0.2.1", "x@remote.example", "alice"), NOT_ASKED, 5, "OK"},
    {RQ("RCPT", "10.1.2.3", "x@remote.example", ""), NOT_ASKED, 5, "OK"}, /* trusted */
    {RQ("RCPT", "192.0.2.1", "x@Example.ORG.", ""), NOT_ASKED, 5, "DUNNO"}, /* local */
    /* routed through a local domain: needs permission like any other */
    {RQ("RCPT", "192.0.2.1", "x%evil.example@example.org", ""), ABSENT, 5, "DUNNO"},
    {RQ("RCPT", "192.0.2.1", "x%evil.example@example.org", ""), PRESENT_UNTIL_1000, 5, "OK"},
    {RQ("RCPT", "not-an-address", "x@remote.example", ""), NOT_ASKED, 5, "DUNNO"},
    {RQ("RCPT", "::ffff:192.0.2.1", "x@remote.example", ""), PRESENT_UNTIL_1000, 5, "OK"},
    {RQ("CONNECT", "192.0.2.1", "", ""), NOT_ASKED, 5, "DUNNO"},
    {RQ("DATA", "192.0.2.1", "x@remote.example", ""), NOT_ASKED, 5, "DUNNO"},
    {"request=other\nprotocol_state=RCPT\nclient_address=192.0.2.1\n\n", NOT_ASKED, 5, ANSWER_BADREQ},
    {"protocol_state=RCPT\nclient_address=192.0.2.1\n\n", NOT_ASKED, 5, ANSWER_BADREQ},
    {"request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n"
     "client_address=192.0.2.2\n\n", NOT_ASKED, 5, ANSWER_BADREQ},
};

static struct policy test_policy;
static struct lograte lr;

static void
make_policy(void)
{
	memset(&test_policy, 0, sizeof(test_policy));
	assert_int_equal(policy_add_local_domain(&test_policy, "example.org"), 0);
	assert_int_equal(cidr_list_add(&test_policy.trusted, "10.0.0.0/8"), 0);
	lograte_init(&lr, 0, 1000); /* nothing logged */
}

static void
test_answers(void **state)
{
	(void)state;
	make_policy();
	for (size_t i = 0; i < sizeof(answer_cases) / sizeof(answer_cases[0]); i++) {
		const struct answer_case *c = &answer_cases[i];
		struct fake_table t = {c->table, 0};
		struct answer_ctx ctx = {&test_policy, fake_lookup, &t, &lr, &lr, &lr};
		struct policyreq r;
		const char *got;
		int complete;

		policyreq_reset(&r);
		feed(&r, c->request, &complete);
		assert_true(complete);
		got = answer_request(&ctx, &r, c->now);
		if (strcmp(got, c->want) != 0)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, got, c->want);
	}
	policy_free(&test_policy);
}

/* The real lookup: an LMDB relay table, relaystore_check() at the time
 * of the request. */
static int
store_lookup(void *arg, const struct addr *a, time_t now, time_t *expires,
             char *err, size_t errlen)
{
	return relaystore_check(arg, a, now, expires, err, errlen);
}

static void
test_answers_lmdb_expiry(void **state)
{
	char dir[256], path[300], err[256];
	struct relay_rec rec;
	struct store *st;
	char spec[320];
	struct policyreq r;
	int complete;

	(void)state;
	make_policy();
	assert_int_equal(tt_mkdtemp(dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/relay.lmdb", dir);
	snprintf(spec, sizeof(spec), "lmdb:%s", path);
	st = store_open(NULL, spec, STORE_WRITE, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(addr_parse("192.0.2.7", &rec.a), 0);
	rec.expires = 2000000000;
	assert_int_equal(relaystore_write(st, &rec, 1, 0, err, sizeof(err)), STORE_OK);

	struct answer_ctx ctx = {&test_policy, store_lookup, st, &lr, &lr, &lr};
	policyreq_reset(&r);
	feed(&r, RQ("RCPT", "192.0.2.7", "x@remote.example", ""), &complete);
	assert_string_equal(answer_request(&ctx, &r, 1999999999), "OK");
	assert_string_equal(answer_request(&ctx, &r, 2000000000), "DUNNO");
	policyreq_reset(&r);
	feed(&r, RQ("RCPT", "192.0.2.8", "x@remote.example", ""), &complete);
	assert_string_equal(answer_request(&ctx, &r, 1999999999), "DUNNO");
	store_close(st);
	tt_rmtree(dir);
	policy_free(&test_policy);
}

/* --- whole connections --- */

struct session_case {
	const char *in;
	size_t inlen; /* 0: strlen */
	const char *want;
	long answered;
};

static char *long_line_input(size_t *len);

static void
run_session(const char *in, size_t inlen, const char *want, long answered)
{
	struct fake_table t = {PRESENT_UNTIL_1000, 0};
	struct answer_ctx ctx = {&test_policy, fake_lookup, &t, &lr, &lr, &lr};
	FILE *fin = fmemopen((void *)in, inlen, "r"), *fout;
	char *obuf = NULL;
	size_t olen = 0;
	long n;

	assert_non_null(fin);
	fout = open_memstream(&obuf, &olen);
	assert_non_null(fout);
	n = client_run(fin, fout, &ctx);
	fclose(fin);
	fclose(fout);
	if (n != answered || strcmp(obuf, want) != 0)
		fail_msg("answered %ld (want %ld): \"%s\", want \"%s\"", n, answered,
		         obuf, want);
	free(obuf);
}

static void
test_sessions(void **state)
{
	/* time(NULL) is far past 1000: the stand-in table says "expired". */
	static const struct session_case cases[] = {
	    {RQ("RCPT", "192.0.2.1", "a@remote.example", "bob")
	     RQ("RCPT", "192.0.2.1", "a@remote.example", "")
	     RQ("RCPT", "192.0.2.1", "a@example.org", ""),
	     0, "action=OK\n\naction=DUNNO\n\naction=DUNNO\n\n", 3},
	    /* CRLF line ends are taken too */
	    {"request=smtpd_access_policy\r\nprotocol_state=RCPT\r\n"
	     "client_address=10.0.0.1\r\n\r\n", 0, "action=OK\n\n", 1},
	    /* a request cut off by the end of input is not answered */
	    {RQ("RCPT", "10.0.0.1", "a@b", "") "request=smtpd_access_policy\n", 0,
	     "action=OK\n\n", 1},
	    {"garbage\n\n" RQ("RCPT", "10.0.0.1", "a@b", ""), 0,
	     "action=" ANSWER_BADREQ "\n\naction=OK\n\n", 2},
	    {"", 0, "", 0},
	};
	size_t len;
	char *in;

	(void)state;
	make_policy();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_session(cases[i].in, cases[i].inlen ? cases[i].inlen
		                                         : strlen(cases[i].in) + !cases[i].in[0],
		            cases[i].want, cases[i].answered);
	/* A 1 MB line: 451 for its request, the next answered in step. */
	in = long_line_input(&len);
	run_session(in, len, "action=" ANSWER_BADREQ "\n\naction=OK\n\n", 2);
	free(in);
	policy_free(&test_policy);
}

static char *
long_line_input(size_t *len)
{
	static const char tail[] = "\n\n" RQ("RCPT", "10.0.0.1", "a@b", "");
	size_t n = 1 << 20;
	char *in = malloc(n + sizeof(tail));

	assert_non_null(in);
	memcpy(in, "recipient=", 10);
	memset(in + 10, 'x', n - 10);
	memcpy(in + n, tail, sizeof(tail));
	*len = n + sizeof(tail) - 1;
	return in;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_too_many_attributes),
	    cmocka_unit_test(test_answers),
	    cmocka_unit_test(test_answers_lmdb_expiry),
	    cmocka_unit_test(test_sessions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
