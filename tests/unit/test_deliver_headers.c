/*
 * test_deliver_headers.c - unit tests for deliver/headers.c: which trace
 * headers are prepended (none when the MTA already put Return-Path and
 * Delivered-To at the top, as Postfix pipe flags DR do), and mail loop
 * detection: a Delivered-To for this recipient below the top, folded,
 * bracketed, in other case, with CRLF line ends; and what is not a loop
 * (another recipient, the same text in the body).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "../../deliver/headers.h"

struct hcase {
	const char *msg;
	int rp, dt, loop;
};

#define R "a@d.org"
static const struct hcase cases[] = {
    {"Subject: x\n\nbody\n", 0, 0, 0},
    {"Return-Path: <s@x>\nDelivered-To: a@d.org\nReceived: by x\n\nb\n", 1, 1, 0},
    {"Return-Path: <s@x>\nX-Original-To: A@d.org\nDelivered-To: a@d.org\n\n", 1, 1, 0},
    {"Delivered-To: a@d.org\nReturn-Path: <s@x>\n\n", 1, 1, 0},
    {"Received: by x\nReturn-Path: <s@x>\n\n", 0, 0, 0},
    /* loops */
    {"Return-Path: <s@x>\nDelivered-To: a@d.org\nReceived: x\nDelivered-To: a@d.org\n\n", 1, 1, 1},
    {"Received: x\nDelivered-To: a@d.org\n\nbody\n", 0, 0, 1},
    {"Received: x\nDelivered-To:   <A@D.ORG>  \n\n", 0, 0, 1},
    {"Received: x\ndelivered-to:\n a@d.org\n\n", 0, 0, 1},
    {"Received: x\r\nDelivered-To: a@d.org\r\n\r\nbody\r\n", 0, 0, 1},
    {"Delivered-To: a@d.org\nDelivered-To: a@d.org\n\n", 0, 1, 1},
    /* not loops */
    {"Received: x\nDelivered-To: b@d.org\n\n", 0, 0, 0},
    {"Received: x\nDelivered-To: a@d.org.evil\n\n", 0, 0, 0},
    {"Subject: x\n\nDelivered-To: a@d.org\n", 0, 0, 0},
    {"Subject: x\r\n\r\nDelivered-To: a@d.org\r\n", 0, 0, 0},
    {"not a header line\nDelivered-To: a@d.org\n\n", 0, 0, 0},
    {"", 0, 0, 0},
    {"Delivered-To: a@d.org", 0, 1, 0}, /* no newline at all */
};

static void
test_scan(void **state)
{
	struct headers_info hi;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hcase *c = &cases[i];
		headers_scan(c->msg, strlen(c->msg), R, &hi);
		if (hi.has_return_path != c->rp || hi.has_delivered_to != c->dt ||
		    hi.loop != c->loop)
			fail_msg("case %zu: rp %d dt %d loop %d, want %d %d %d", i,
			         hi.has_return_path, hi.has_delivered_to, hi.loop,
			         c->rp, c->dt, c->loop);
	}
}

static void
test_prefix(void **state)
{
	struct headers_info hi = {0, 0, 0};
	char out[256];

	(void)state;
	assert_int_equal(headers_prefix(out, sizeof(out), &hi, "s@x", R), 41);
	assert_string_equal(out, "Return-Path: <s@x>\nDelivered-To: a@d.org\n");
	assert_int_equal(headers_prefix(out, sizeof(out), &hi, "", R), 38);
	assert_string_equal(out, "Return-Path: <>\nDelivered-To: a@d.org\n");
	hi.has_return_path = 1;
	headers_prefix(out, sizeof(out), &hi, "s@x", R);
	assert_string_equal(out, "Delivered-To: a@d.org\n");
	hi.has_delivered_to = 1;
	assert_int_equal(headers_prefix(out, sizeof(out), &hi, "s@x", R), 0);
	assert_string_equal(out, "");
	hi.has_return_path = hi.has_delivered_to = 0;
	assert_int_equal(headers_prefix(out, 10, &hi, "s@x", R), -1);
	assert_true(headers_value_ok("s@x.org"));
	assert_false(headers_value_ok("s@x.org\nBcc: victim@y"));
	assert_false(headers_value_ok("s\r"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan),
	    cmocka_unit_test(test_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
