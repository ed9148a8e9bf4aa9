/*
 * test_lineread.c - lib/lineread.c: lines handed over whole or in pieces
 * never longer than the buffer, LF and CRLF cut (also a CRLF split
 * between two pieces), a bare CR kept, NUL bytes counted, the last line
 * without LF, and lineread_skip() dropping the rest of a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lineread.h"

/* Input read with a buffer of size bytes; want: the pieces, each "L:" for
 * LINEREAD_LINE or "P:" for LINEREAD_PART then its bytes, '|' between,
 * "E" at end of input.  NUL bytes show as '0'. */
struct rcase {
	const char *in;
	size_t inlen; /* 0: strlen(in) */
	size_t size;
	const char *want;
};

static const struct rcase cases[] = {
    {"abc\ndef\n", 0, 16, "L:abc|L:def|E"},
    {"abc\r\ndef\r\n", 0, 16, "L:abc|L:def|E"},
    {"a\rb\n", 0, 16, "L:a\rb|E"},            /* bare CR stays */
    {"last", 0, 16, "L:last|E"},               /* no LF at the end */
    {"\n\n", 0, 16, "L:|L:|E"},
    {"abcdefgh\n", 0, 5, "P:abcd|L:efgh|E"},   /* exactly full, LF next */
    {"abcdefghi\n", 0, 5, "P:abcd|P:efgh|L:i|E"},
    {"abc\r\n", 0, 5, "L:abc|E"},              /* CR in the buffer, LF next */
    {"abc\r\n", 0, 4, "P:abc|L:|E"},           /* CR after the buffer */
    {"abcd\r\n", 0, 4, "P:abc|L:d|E"},
    {"ab\r\r\n", 0, 5, "L:ab\r|E"},            /* only the CR before LF */
    {"abc\rx\n", 0, 4, "P:abc|L:\rx|E"},       /* CR begins the next piece */
    {"abcd", 0, 5, "L:abcd|E"},                /* full at end of input */
    {"a\0b\n", 4, 16, "L:a0b|E"},
    {"", 0, 16, "E"},
    {"a\r", 0, 16, "L:a\r|E"},               /* CR at the end, no LF */
    {"\r", 0, 16, "L:\r|E"},                 /* not an empty line */
    {"abcd\r", 0, 5, "P:abcd|L:\r|E"},
};

static void
run_case(const struct rcase *c)
{
	size_t inlen = c->inlen ? c->inlen : strlen(c->in), n, i;
	char buf[64], got[256] = "";
	FILE *f = fmemopen((void *)c->in, inlen ? inlen : 1, "r");
	int r;

	assert_non_null(f);
	if (inlen == 0)
		(void)fgetc(f); /* fmemopen needs a size: make it empty */
	assert_true(c->size <= sizeof(buf));
	for (;;) {
		r = lineread(f, buf, c->size, &n);
		if (r == LINEREAD_EOF) {
			strcat(got, "E");
			break;
		}
		assert_true(n < c->size);
		assert_int_equal(buf[n], '\0');
		strcat(got, r == LINEREAD_LINE ? "L:" : "P:");
		for (i = 0; i < n; i++) {
			size_t g = strlen(got);
			got[g] = buf[i] ? buf[i] : '0';
			got[g + 1] = '\0';
		}
		strcat(got, "|");
	}
	fclose(f);
	if (strcmp(got, c->want) != 0)
		fail_msg("input %zu bytes, size %zu: got \"%s\", want \"%s\"",
		         inlen, c->size, got, c->want);
}

static void
test_pieces(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

static void
test_skip(void **state)
{
	static const char in[] = "0123456789abcdef\nnext\ntail";
	FILE *f = fmemopen((void *)in, sizeof(in) - 1, "r");
	char buf[8];
	size_t n;

	(void)state;
	assert_int_equal(lineread(f, buf, sizeof(buf), &n), LINEREAD_PART);
	assert_int_equal(lineread_skip(f), 0);
	assert_int_equal(lineread(f, buf, sizeof(buf), &n), LINEREAD_LINE);
	assert_string_equal(buf, "next");
	assert_int_equal(lineread_skip(f), -1); /* "tail" has no LF */
	assert_int_equal(lineread(f, buf, sizeof(buf), &n), LINEREAD_EOF);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pieces),
	    cmocka_unit_test(test_skip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
