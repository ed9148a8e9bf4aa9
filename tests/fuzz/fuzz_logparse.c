/*
 * fuzz_logparse.c - libFuzzer target for relayd/logparse.c and
 * relayd/logtime.c.
 *
 * Each input is given whole to every built-in format and to a "custom"
 * parser, and then line by line (split on '\n', as relayd feeds it), and
 * to logtime_parse().  Besides the sanitizers' checks it asserts what
 * must hold for any accepted line: the address has a family, its
 * canonical text parses back to the same address, and a Dovecot login
 * line starts its message with "Login: user=<".
 *
 * The modules come from build-fuzz/lib*.a, built by `make fuzz` with
 * -fsanitize=address,undefined,fuzzer-no-link.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "logparse.h"
#include "logtime.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFMT 7
static struct logparser *parsers[NFMT];
static const time_t now = 1795348800; /* 2026-11-22T12:00:00Z */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char err[256];

	setenv("TZ", "UTC", 1);
	tzset();
	parsers[0] = logparser_new("dovecot", NULL, 0, err, sizeof err);
	parsers[1] = logparser_new("courier", NULL, 0, err, sizeof err);
	parsers[2] = logparser_new("cyrus", NULL, 0, err, sizeof err);
	parsers[3] = logparser_new("uw-imap", NULL, 0, err, sizeof err);
	parsers[4] = logparser_new("qpopper", NULL, 0, err, sizeof err);
	parsers[5] = logparser_new(
	    "custom", "^([A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} )?[^ ]+ [a-z0-9]+(\\[[0-9]+\\])?: "
	              ".*from \\[?([0-9a-fA-F.:]+)\\]?$",
	    3, err, sizeof err);
	parsers[6] = logparser_new("custom", "rip=([^,]*),", 1, err, sizeof err);
	for (int i = 0; i < NFMT; i++)
		if (parsers[i] == NULL)
			abort();
	return 0;
}

static void
check_result(int fmt, const char *line, size_t len, const struct addr *a)
{
	char buf[ADDR_STRLEN];
	struct addr back;

	if (a->family != AF_INET && a->family != AF_INET6)
		abort();
	if (addr_parse(addr_format(a, buf, sizeof buf), &back) != 0 ||
	    !addr_equal(a, &back))
		abort();
	if (fmt == 0 && memmem(line, len, "Login: user=<", 13) == NULL)
		abort();
}

static void
one_line(const char *line, size_t len)
{
	struct addr a;
	time_t when, t;

	for (int i = 0; i < NFMT; i++) {
		struct logparse_event ev;
		memset(&a, 0, sizeof a);
		if (logparser_line(parsers[i], line, len, now, &a, &when) == 1)
			check_result(i, line, len, &a);
		/* Sessions: an id lies inside the line, and only the dovecot
		 * format reports anything but logins. */
		switch (logparser_event(parsers[i], line, len, now, &ev)) {
		case LOGPARSE_LOGIN:
			check_result(i, line, len, &ev.a);
			/* fall through */
		case LOGPARSE_END:
			if (ev.session != NULL &&
			    (ev.session < line || ev.session_len == 0 ||
			     ev.session + ev.session_len > line + len))
				abort();
			if (ev.kind == LOGPARSE_END && (i != 0 || ev.session == NULL))
				abort();
			break;
		case LOGPARSE_RESTART:
			if (i != 0)
				abort();
			break;
		case LOGPARSE_NONE:
			break;
		}
	}
	size_t n = logtime_parse(line, len, now, &t);
	if (n > len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading one byte past the end is caught. */
	char *buf = malloc(size ? size : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);

	one_line(buf, size);
	const char *p = buf, *e = buf + size;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *end = nl ? nl : e;
		one_line(p, (size_t)(end - p));
		p = nl ? nl + 1 : e;
	}
	free(buf);
	return 0;
}
