/*
 * test_pushreq.c - relayd/pushreq.c: what Dovecot's pushed requests mean.
 *
 * Table-driven: the keys accepted and refused, the requests let in (the
 * key in the header for the policy client, as the path for the event
 * exporter; POST only), and bodies, real ones from Dovecot 2.3.19.1 first
 * (tests/relayd/push_*.t capture the same traffic live), then every way a
 * body must authorize nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../relayd/pushreq.h"

#define KEY "0123456789abcdef0123456789abcdef"

static void
test_keys(void **state)
{
	static const struct {
		const char *text;
		int ok;
	} cases[] = {
	    {KEY, 1},
	    {KEY "\n", 1},      /* a file ends in a newline */
	    {KEY "\r\n", 1},
	    {"abc._~-ABC012345", 1},
	    {"short", 0},
	    {"0123456789abcde", 0}, /* 15 */
	    {"0123456789 abcdef", 0},
	    {"0123456789abcdef/", 0},
	    {"0123456789abcdef%", 0},
	    {"0123456789abcdef:", 0},
	    {"", 0},
	};
	struct pushreq_key k;
	char err[256], big[PUSHREQ_KEY_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if ((pushreq_key_set(&k, cases[i].text, strlen(cases[i].text),
		                     err, sizeof err) == 0) != cases[i].ok)
			fail_msg("key case %zu (%s)", i, cases[i].text);
	memset(big, 'a', sizeof big);
	assert_int_equal(pushreq_key_set(&k, big, PUSHREQ_KEY_MAX, err,
	                                 sizeof err), 0);
	assert_int_equal(pushreq_key_set(&k, big, PUSHREQ_KEY_MAX + 1, err,
	                                 sizeof err), -1);
}

static void
test_auth(void **state)
{
	static const struct {
		enum pushreq_kind kind;
		const char *method, *path, *header;
		int want;
	} cases[] = {
	    {PUSHREQ_POLICY, "POST", "/", KEY, PUSHREQ_OK},
	    {PUSHREQ_POLICY, "POST", "/anything", KEY, PUSHREQ_OK},
	    {PUSHREQ_POLICY, "POST", "/", NULL, 403},
	    {PUSHREQ_POLICY, "POST", "/", "", 403},
	    {PUSHREQ_POLICY, "POST", "/", KEY "x", 403},
	    {PUSHREQ_POLICY, "POST", "/", "x" KEY, 403},
	    {PUSHREQ_POLICY, "POST", "/" KEY, NULL, 403}, /* not a path */
	    {PUSHREQ_POLICY, "GET", "/", KEY, 405},
	    {PUSHREQ_POLICY, "PUT", "/", KEY, 405},
	    {PUSHREQ_POLICY, NULL, "/", KEY, 405},
	    {PUSHREQ_EVENTS, "POST", "/" KEY, NULL, PUSHREQ_OK},
	    {PUSHREQ_EVENTS, "POST", "/" KEY, "whatever", PUSHREQ_OK},
	    {PUSHREQ_EVENTS, "POST", "/", KEY, 403}, /* not a header */
	    {PUSHREQ_EVENTS, "POST", "/" KEY "/", NULL, 403},
	    {PUSHREQ_EVENTS, "POST", "//" KEY, NULL, 403},
	    {PUSHREQ_EVENTS, "POST", KEY, NULL, 403},
	    {PUSHREQ_EVENTS, "POST", NULL, NULL, 403},
	    {PUSHREQ_EVENTS, "POST", "", NULL, 403},
	    {PUSHREQ_EVENTS, "GET", "/" KEY, NULL, 405},
	};
	struct pushreq_key k;
	char err[256];

	(void)state;
	assert_int_equal(pushreq_key_set(&k, KEY, strlen(KEY), err, sizeof err),
	                 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int got = pushreq_auth(cases[i].kind, &k, cases[i].method,
		                       cases[i].path, cases[i].header);
		if (got != cases[i].want)
			fail_msg("auth case %zu: %d, want %d", i, got,
			         cases[i].want);
	}
}

struct body_case {
	enum pushreq_kind kind;
	const char *body;
	enum pushreq_result want;
	const char *addr;    /* for LOGIN */
	const char *session; /* for LOGIN and END; NULL: none */
};

#define P PUSHREQ_POLICY
#define E PUSHREQ_EVENTS
static const struct body_case bodies[] = {
    /* Dovecot 2.3.19.1, auth policy, the attributes of the README */
    {P, "{\"login\":\"alice\",\"master\":\"\",\"protocol\":\"pop3\",\"remote\":\"127.0.0.2\",\"session_id\":\"hQiBkg9iVIx/AAAC\",\"success\":true,\"policy_reject\":false,\"tls\":false}",
     PUSHREQ_LOGIN, "127.0.0.2", "hQiBkg9iVIx/AAAC"},
    {P, "{\"login\":\"alice\",\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"::1\",\"session_id\":\"SOOgkg9i2usAAAAAAAAAAAAAAAAAAAAB\",\"success\":true,\"policy_reject\":false,\"tls\":false}",
     PUSHREQ_LOGIN, "::1", "SOOgkg9i2usAAAAAAAAAAAAAAAAAAAAB"},
    /* a failed login, a master user's, SMTP AUTH through Dovecot SASL */
    {P, "{\"login\":\"alice\",\"master\":\"\",\"protocol\":\"pop3\",\"remote\":\"127.0.0.4\",\"session_id\":\"icuBkg9ispx/AAAE\",\"success\":false,\"policy_reject\":false,\"tls\":false}",
     PUSHREQ_SKIP, NULL, NULL},
    {P, "{\"login\":\"alice\",\"master\":\"admin\",\"protocol\":\"imap\",\"remote\":\"127.0.0.5\",\"session_id\":\"DZugkg9ikoR/AAAF\",\"success\":true,\"policy_reject\":false,\"tls\":false}",
     PUSHREQ_SKIP, NULL, NULL},
    {P, "{\"login\":\"alice\",\"master\":\"\",\"protocol\":\"smtp\",\"remote\":\"127.0.0.7\",\"session_id\":\"\",\"success\":true,\"policy_reject\":false,\"tls\":false}",
     PUSHREQ_SKIP, NULL, NULL},
    /* Dovecot's default attributes: no "master", so never a login */
    {P, "{\"device_id\":\"\",\"login\":\"alice@example.org\",\"protocol\":\"imap\",\"pwhash\":\"00e4\",\"remote\":\"2001:db8::42\",\"session_id\":\"\",\"success\":true,\"policy_reject\":false,\"tls\":false}",
     PUSHREQ_BAD, NULL, NULL},
    /* canonical forms; an empty or odd session id is no session */
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"::ffff:192.0.2.7\",\"success\":true}",
     PUSHREQ_LOGIN, "192.0.2.7", NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"2001:DB8:0:0:0:0:0:1\",\"session_id\":\"a b\",\"success\":true}",
     PUSHREQ_LOGIN, "2001:db8::1", NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"fe80::1%eth0\",\"success\":true}",
     PUSHREQ_SKIP, NULL, NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"example.org\",\"success\":true}",
     PUSHREQ_SKIP, NULL, NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"192.0.2.1\\u0000x\",\"success\":true}",
     PUSHREQ_SKIP, NULL, NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"192.0.2.1\",\"success\":true,\"policy_reject\":true}",
     PUSHREQ_SKIP, NULL, NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"192.0.2.1\",\"success\":\"true\"}",
     PUSHREQ_BAD, NULL, NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"192.0.2.1\",\"success\":1}",
     PUSHREQ_BAD, NULL, NULL},
    {P, "{\"master\":null,\"protocol\":\"imap\",\"remote\":\"192.0.2.1\",\"success\":true}",
     PUSHREQ_BAD, NULL, NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"success\":true}",
     PUSHREQ_BAD, NULL, NULL},
    {P, "{\"master\":\"\",\"protocol\":\"IMAP\",\"remote\":\"192.0.2.1\",\"success\":true}",
     PUSHREQ_SKIP, NULL, NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"192.0.2.1\",\"success\":true} ",
     PUSHREQ_LOGIN, "192.0.2.1", NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"192.0.2.1\",\"success\":true}{}",
     PUSHREQ_BAD, NULL, NULL},
    {P, "[{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"192.0.2.1\",\"success\":true}]",
     PUSHREQ_BAD, NULL, NULL},
    {P, "{\"master\":\"\",\"protocol\":\"imap\",\"remote\":\"192.0.2.1\",\"success\":tru",
     PUSHREQ_BAD, NULL, NULL},
    {P, "", PUSHREQ_BAD, NULL, NULL},
    {P, "null", PUSHREQ_BAD, NULL, NULL},
    {P, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
     PUSHREQ_BAD, NULL, NULL},
    /* Dovecot 2.3.19.1, event exporter */
    {E, "{\"event\":\"auth_request_finished\",\"hostname\":\"vm\",\"start_time\":\"2026-12-07T18:40:43.598903Z\",\"end_time\":\"2026-12-07T18:40:43.599363Z\",\"categories\":[\"auth\",\"service:auth\"],\"fields\":{\"duration\":223,\"success\":\"yes\",\"policy_result\":\"ok\",\"mechanism\":\"PLAIN\",\"transport\":\"insecure\",\"service\":\"pop3\",\"session\":\"DaQzkA9ijqR/AAAC\",\"local_ip\":\"127.0.0.1\",\"real_local_ip\":\"127.0.0.1\",\"remote_ip\":\"127.0.0.2\",\"real_remote_ip\":\"127.0.0.2\",\"local_port\":52819,\"real_local_port\":52819,\"remote_port\":42126,\"real_remote_port\":42126,\"original_user\":\"alice\",\"user\":\"alice\",\"translated_user\":\"alice\"}}",
     PUSHREQ_LOGIN, "127.0.0.2", "DaQzkA9ijqR/AAAC"},
    {E, "{\"event\":\"mail_user_session_finished\",\"hostname\":\"vm\",\"start_time\":\"2026-12-07T18:40:43.603559Z\",\"end_time\":\"2026-12-07T18:40:43.607128Z\",\"categories\":[\"service:pop3\",\"storage\"],\"fields\":{\"minor_faults\":143,\"rss\":5046272,\"vsz\":6922240,\"user\":\"alice\",\"session\":\"DaQzkA9ijqR/AAAC\",\"duration\":3535}}",
     PUSHREQ_END, NULL, "DaQzkA9ijqR/AAAC"},
    {E, "{\"event\":\"auth_request_finished\",\"hostname\":\"vm\",\"start_time\":\"2026-12-07T18:40:45.155041Z\",\"end_time\":\"2026-12-07T18:40:45.155221Z\",\"categories\":[\"auth\",\"service:auth\"],\"fields\":{\"duration\":155,\"success\":\"yes\",\"policy_result\":\"ok\",\"mechanism\":\"PLAIN\",\"transport\":\"insecure\",\"service\":\"imap\",\"session\":\"uWJLkA9ilMB/AAAF\",\"local_ip\":\"127.0.0.1\",\"real_local_ip\":\"127.0.0.1\",\"remote_ip\":\"127.0.0.5\",\"real_remote_ip\":\"127.0.0.5\",\"local_port\":49753,\"real_local_port\":49753,\"remote_port\":49300,\"real_remote_port\":49300,\"original_user\":\"admin\",\"user\":\"alice\",\"translated_user\":\"alice\",\"login_user\":\"\",\"master_user\":\"admin\"}}",
     PUSHREQ_SKIP, NULL, NULL},
    {E, "{\"event\":\"auth_request_finished\",\"hostname\":\"vm\",\"start_time\":\"2026-12-07T18:40:45.199867Z\",\"end_time\":\"2026-12-07T18:40:45.200034Z\",\"categories\":[\"auth\",\"service:auth\"],\"fields\":{\"duration\":116,\"success\":\"yes\",\"policy_result\":\"ok\",\"mechanism\":\"PLAIN\",\"transport\":\"insecure\",\"service\":\"smtp\",\"remote_ip\":\"127.0.0.7\",\"real_remote_ip\":\"127.0.0.7\",\"original_user\":\"alice\",\"user\":\"alice\",\"translated_user\":\"alice\"}}",
     PUSHREQ_SKIP, NULL, NULL},
    {E, "{\"event\":\"auth_request_finished\",\"fields\":{\"success\":\"no\",\"service\":\"imap\",\"remote_ip\":\"127.0.0.4\"}}",
     PUSHREQ_SKIP, NULL, NULL},
    {E, "{\"event\":\"auth_request_finished\",\"fields\":{\"service\":\"imap\",\"remote_ip\":\"127.0.0.4\"}}",
     PUSHREQ_SKIP, NULL, NULL},
    {E, "{\"event\":\"auth_request_finished\",\"fields\":{\"success\":\"yes\",\"service\":\"imap\",\"master_user\":\"\",\"remote_ip\":\"127.0.0.8\"}}",
     PUSHREQ_LOGIN, "127.0.0.8", NULL},
    {E, "{\"event\":\"auth_request_finished\",\"fields\":{\"success\":\"yes\",\"service\":\"imap\",\"remote_ip\":\"fe80::1%lo\"}}",
     PUSHREQ_SKIP, NULL, NULL},
    {E, "{\"event\":\"imap_command_finished\",\"fields\":{\"remote_ip\":\"127.0.0.9\"}}",
     PUSHREQ_SKIP, NULL, NULL},
    {E, "{\"event\":\"mail_user_session_finished\",\"fields\":{\"user\":\"alice\"}}",
     PUSHREQ_SKIP, NULL, NULL},
    {E, "{\"event\":\"auth_request_finished\"}", PUSHREQ_BAD, NULL, NULL},
    {E, "{\"event\":\"auth_request_finished\",\"fields\":[]}", PUSHREQ_BAD, NULL, NULL},
    {E, "{\"fields\":{}}", PUSHREQ_BAD, NULL, NULL},
    {E, "{\"event\":7}", PUSHREQ_BAD, NULL, NULL},
};
#undef P
#undef E

static void
test_bodies(void **state)
{
	struct pushreq_event ev;
	char why[256], ip[ADDR_STRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		const struct body_case *c = &bodies[i];
		why[0] = '\0';
		enum pushreq_result r = pushreq_body(c->kind, c->body,
		                                     strlen(c->body), &ev, why,
		                                     sizeof why);
		if (r != c->want)
			fail_msg("body case %zu: %d, want %d (%s)", i, (int)r,
			         (int)c->want, why);
		if (r == PUSHREQ_BAD && why[0] == '\0')
			fail_msg("body case %zu: refused without a reason", i);
		if (r == PUSHREQ_LOGIN)
			assert_string_equal(addr_format(&ev.a, ip, sizeof ip),
			                    c->addr);
		if (r == PUSHREQ_LOGIN || r == PUSHREQ_END) {
			const char *want = c->session ? c->session : "";
			assert_string_equal(ev.session, want);
			assert_int_equal(ev.session_len, strlen(want));
		}
	}
	/* Over the limit: refused before parsing. */
	char *big = malloc(PUSHREQ_MAX_BODY + 2);
	assert_non_null(big);
	memset(big, ' ', PUSHREQ_MAX_BODY + 1);
	big[0] = '{';
	big[PUSHREQ_MAX_BODY] = '}';
	assert_int_equal(pushreq_body(PUSHREQ_POLICY, big, PUSHREQ_MAX_BODY + 1,
	                              &ev, why, sizeof why),
	                 PUSHREQ_BAD);
	free(big);
	/* The policy client's answer is the JSON verdict Dovecot reads. */
	assert_string_equal(pushreq_reply(PUSHREQ_POLICY),
	                    "{\"status\":0,\"msg\":\"\"}");
	assert_string_equal(pushreq_reply(PUSHREQ_EVENTS), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
