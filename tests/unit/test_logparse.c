/*
 * test_logparse.c - unit tests for relayd/logparse.c.
 *
 * Table-driven from files: every tests/data/logparse/ *.in file holds one
 * case a line,
 *     FORMAT<TAB>EXPECTED<TAB>[EPOCH<TAB>]LINE
 * FORMAT is a format name, or "custom:GROUP:REGEX"; EXPECTED is "-" (not a
 * login) or the canonical address; EPOCH, when present, the time the line
 * must yield with TZ=UTC and now = 2026-11-22T12:00:00Z.  '#' lines and
 * empty lines are comments.  Real Dovecot lines are among them
 * (dovecot-real.in, from dovecot-2.3.19-real.log).  The data directory is
 * $LEAFMAIL_SRC/tests/data/logparse (tests/run.sh sets LEAFMAIL_SRC), or
 * ./tests/data/logparse.
 *
 * What files can't hold is tested from C: NUL bytes, 1 MB lines (and that
 * they take linear time), the custom format's buffer limits, constructor
 * errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../relayd/logparse.h"

#define NOW ((time_t)1795348800) /* 2026-11-22T12:00:00Z */

static const char *
data_dir(char *buf, size_t n)
{
	const char *src = getenv("LEAFMAIL_SRC");

	snprintf(buf, n, "%s/tests/data/logparse", src && *src ? src : ".");
	return buf;
}

/* A small cache of parsers by FORMAT field, so each is built once. */
struct cached {
	char *key;
	struct logparser *p;
};
static struct cached cache[32];
static size_t ncache;

static struct logparser *
parser_for(const char *key)
{
	char err[256] = "";

	for (size_t i = 0; i < ncache; i++)
		if (strcmp(cache[i].key, key) == 0)
			return cache[i].p;
	struct logparser *p;
	if (strncmp(key, "custom:", 7) == 0) {
		char *end;
		long g = strtol(key + 7, &end, 10);
		assert_true(*end == ':');
		p = logparser_new("custom", end + 1, (int)g, err, sizeof err);
	} else {
		p = logparser_new(key, NULL, 0, err, sizeof err);
	}
	if (p == NULL)
		fail_msg("logparser_new(%s): %s", key, err);
	assert_true(ncache < sizeof cache / sizeof cache[0]);
	cache[ncache].key = strdup(key);
	cache[ncache].p = p;
	ncache++;
	return p;
}

static void
free_cache(void)
{
	for (size_t i = 0; i < ncache; i++) {
		logparser_free(cache[i].p);
		free(cache[i].key);
	}
	ncache = 0;
}

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* One case line; returns 1 when it passes, printing why when it doesn't. */
static int
run_case(const char *file, int lineno, char *l)
{
	char *f[4] = {NULL, NULL, NULL, NULL};
	char *p = l;
	int n = 0;

	/* Split off FORMAT, EXPECTED and maybe EPOCH; the rest is the line. */
	while (n < 3) {
		char *tab = strchr(p, '\t');
		if (tab == NULL)
			break;
		*tab = '\0';
		f[n++] = p;
		p = tab + 1;
	}
	if (n < 2) {
		print_error("%s:%d: malformed case\n", file, lineno);
		return 0;
	}
	const char *line;
	const char *epoch = NULL;
	if (n == 3 && all_digits(f[2])) {
		epoch = f[2];
		line = p;
	} else if (n == 3) {
		/* The third field was part of the line: undo the split. */
		f[2][strlen(f[2])] = '\t';
		line = f[2];
	} else {
		line = p;
	}

	struct logparser *lp = parser_for(f[0]);
	struct addr a;
	time_t when = (time_t)-12345;
	int r = logparser_line(lp, line, strlen(line), NOW, &a, &when);
	const char *want = f[1];

	if (strcmp(want, "-") == 0) {
		if (r != 0) {
			char buf[ADDR_STRLEN];
			print_error("%s:%d: [%s] want no login, got %s: %s\n", file, lineno,
			            f[0], addr_format(&a, buf, sizeof buf), line);
			return 0;
		}
		return 1;
	}
	if (r != 1) {
		print_error("%s:%d: [%s] want %s, got no login: %s\n", file, lineno, f[0],
		            want, line);
		return 0;
	}
	char buf[ADDR_STRLEN];
	addr_format(&a, buf, sizeof buf);
	if (strcmp(buf, want) != 0) {
		print_error("%s:%d: [%s] want %s, got %s: %s\n", file, lineno, f[0], want,
		            buf, line);
		return 0;
	}
	if (epoch != NULL && (long long)when != atoll(epoch)) {
		print_error("%s:%d: want time %s, got %lld: %s\n", file, lineno, epoch,
		            (long long)when, line);
		return 0;
	}
	return 1;
}

static int
name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void
test_case_files(void **state)
{
	(void)state;
	char dir[4096];
	data_dir(dir, sizeof dir);
	DIR *d = opendir(dir);
	if (d == NULL)
		fail_msg("cannot open %s (set LEAFMAIL_SRC)", dir);

	char *names[64];
	size_t nn = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 3 && strcmp(de->d_name + l - 3, ".in") == 0 &&
		    nn < sizeof names / sizeof names[0])
			names[nn++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof names[0], name_cmp);

	int cases = 0, failed = 0, logins = 0, files = 0;
	for (size_t i = 0; i < nn; i++) {
		char path[8192];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		FILE *fp = fopen(path, "r");
		assert_non_null(fp);
		files++;
		char *l = NULL;
		size_t cap = 0;
		ssize_t len;
		int lineno = 0;
		while ((len = getline(&l, &cap, fp)) >= 0) {
			lineno++;
			if (len > 0 && l[len - 1] == '\n')
				l[--len] = '\0';
			if (len == 0 || l[0] == '#')
				continue;
			cases++;
			if (strstr(l, "\t-\t") == NULL)
				logins++;
			if (!run_case(names[i], lineno, l))
				failed++;
		}
		free(l);
		fclose(fp);
		free(names[i]);
	}
	free_cache();
	print_message("%d cases (%d logins) from %d files, %d failed\n", cases,
	              logins, files, failed);
	/* The files must be there and say something. */
	assert_true(files >= 4);
	assert_true(cases >= 150);
	assert_true(logins >= 50);
	assert_int_equal(failed, 0);
}

/* ---- from C -------------------------------------------------------------- */

static struct logparser *
must_new(const char *fmt, const char *re, int group)
{
	char err[256];
	struct logparser *p = logparser_new(fmt, re, group, err, sizeof err);
	if (p == NULL)
		fail_msg("logparser_new(%s): %s", fmt, err);
	return p;
}

static void
expect_addr(const struct addr *a, const char *want)
{
	char buf[ADDR_STRLEN];
	assert_string_equal(addr_format(a, buf, sizeof buf), want);
}

static void
test_nul_bytes(void **state)
{
	(void)state;
	static const char good[] = "pop3-login: Login: user=<a>, method=PLAIN, "
	                           "rip=192.0.2.1, lip=192.0.2.2, mpid=1, session=<s>";
	struct logparser *p = must_new("dovecot", NULL, 0);
	struct logparser *c = must_new("custom", "rip=([0-9.]+)", 1);
	struct addr a;
	time_t when;
	char buf[sizeof good];

	/* The line as is is a login: the NUL is what makes the difference. */
	assert_int_equal(logparser_line(p, good, sizeof good - 1, NOW, &a, &when), 1);
	expect_addr(&a, "192.0.2.1");
	assert_int_equal(logparser_line(c, good, sizeof good - 1, NOW, &a, &when), 1);
	/* A NUL anywhere, including inside the user name and at either end. */
	size_t at[] = {0, 5, 26, 40, sizeof good - 2};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		memcpy(buf, good, sizeof good);
		buf[at[i]] = '\0';
		assert_int_equal(logparser_line(p, buf, sizeof good - 1, NOW, &a, &when), 0);
		assert_int_equal(logparser_line(c, buf, sizeof good - 1, NOW, &a, &when), 0);
	}
	/* A user name "a\0>, method=..., rip=6.6.6.6": NUL-terminated C string
	 * handling would see a different line; we see no login at all. */
	static const char hostile[] =
	    "pop3-login: Login: user=<a\0, rip=6.6.6.6, lip=1.1.1.1>, method=PLAIN, "
	    "rip=192.0.2.1, lip=192.0.2.2, mpid=1, session=<s>";
	assert_int_equal(
	    logparser_line(p, hostile, sizeof hostile - 1, NOW, &a, &when), 0);
	/* Binary garbage around a valid line's words. */
	static const char bin[] = "\xff\xfe\x01pop3-login: Login: user=<\x80>, "
	                          "rip=192.0.2.1, lip=192.0.2.2";
	assert_int_equal(logparser_line(p, bin, sizeof bin - 1, NOW, &a, &when), 0);
	/* Length 0, and a NULL 'when' is allowed. */
	assert_int_equal(logparser_line(p, "", 0, NOW, &a, &when), 0);
	assert_int_equal(logparser_line(p, good, sizeof good - 1, NOW, &a, NULL), 1);
	/* The length is honoured: a prefix of a login line is not one. */
	assert_int_equal(logparser_line(p, good, sizeof good - 30, NOW, &a, &when), 0);
	logparser_free(p);
	logparser_free(c);
}

static double
seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Fill buf[0..n) with copies of pat. */
static void
fill(char *buf, size_t n, const char *pat)
{
	size_t pl = strlen(pat);
	for (size_t i = 0; i < n; i++)
		buf[i] = pat[i % pl];
}

static void
test_long_lines(void **state)
{
	(void)state;
	const size_t big = 1024 * 1024;
	char *buf = malloc(big + 512);
	assert_non_null(buf);
	struct addr a;
	time_t when;
	const char *fmts[] = {"dovecot", "courier", "cyrus", "uw-imap", "qpopper"};
	struct logparser *ps[5];
	for (int i = 0; i < 5; i++)
		ps[i] = must_new(fmts[i], NULL, 0);
	struct logparser *c = must_new("custom", "rip=([0-9.]+)", 1);

	/* A 1 MB user name made of fake fields, then the real trailer. */
	const char *head = "Nov 22 04:25:18 mail dovecot: pop3-login: Login: user=<";
	const char *tail = ">, method=PLAIN, rip=192.0.2.99, lip=192.0.2.1, mpid=1, "
	                   "session=<s>";
	size_t hl = strlen(head), tl = strlen(tail);
	memcpy(buf, head, hl);
	fill(buf + hl, big, ", rip=6.6.6.6, lip=6.6.6.6");
	memcpy(buf + hl + big, tail, tl);
	size_t len = hl + big + tl;
	double t0 = seconds();
	assert_int_equal(logparser_line(ps[0], buf, len, NOW, &a, &when), 1);
	expect_addr(&a, "192.0.2.99");
	/* Without the real trailer: the last rip= is the user's, followed by
	 * the user's own trailer, then no ">" ... not a login. */
	assert_int_equal(logparser_line(ps[0], buf, hl + big, NOW, &a, &when), 0);

	/* Worst cases for every format: separators everywhere. */
	const char *pats[] = {", rip=", "[1.1.1.1] ", ", ip=[", " host=[", "\" at (",
	                      "a", " ", ">, ", "]"};
	for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
		fill(buf, big, pats[k]);
		for (int i = 0; i < 5; i++)
			assert_int_equal(logparser_line(ps[i], buf, big, NOW, &a, &when), 0);
		assert_int_equal(logparser_line(c, buf, big, NOW, &a, &when), 0);
	}
	/* ... and behind each format's own prefix. */
	const char *prefixes[] = {
	    "pop3-login: Login: user=<", "pop3d: LOGIN, user=", "imap[1]: login: ",
	    "imapd[1]: Login user=", "popper[1]: (v4) POP login by user \""};
	for (int i = 0; i < 5; i++) {
		size_t pl = strlen(prefixes[i]);
		memcpy(buf, prefixes[i], pl);
		for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
			fill(buf + pl, big, pats[k]);
			/* "login: [1.1.1.1] [1.1.1.1] [1.1.1.1] ..." is a Cyrus
			 * login by Cyrus's own grammar (host, user, mechanism). */
			int want = i == 2 && strcmp(pats[k], "[1.1.1.1] ") == 0;
			assert_int_equal(logparser_line(ps[i], buf, pl + big, NOW, &a, &when),
			                 want);
			if (want)
				expect_addr(&a, "1.1.1.1");
		}
	}
	/* Linear: well under a second even under ASan; quadratic would be
	 * hours, which the suite's per-test timeout turns into a failure.
	 * The time is printed, never asserted: a loaded machine is no bug. */
	print_message("1 MB lines: %.3f s\n", seconds() - t0);

	for (int i = 0; i < 5; i++)
		logparser_free(ps[i]);
	logparser_free(c);
	free(buf);
}

static void
test_custom_buffers(void **state)
{
	(void)state;
	struct logparser *c = must_new("custom", "^x+ rip=([0-9.]+)$", 1);
	struct addr a;
	time_t when;
	size_t sizes[] = {15, 4000, 4095, 4096, 4097, 5000, 65000};
	char *buf = malloc(70000);
	assert_non_null(buf);

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		const char *tail = " rip=192.0.2.5";
		size_t tl = strlen(tail), n = sizes[i];
		memset(buf, 'x', n - tl);
		memcpy(buf + n - tl, tail, tl);
		assert_int_equal(logparser_line(c, buf, n, NOW, &a, &when), 1);
		expect_addr(&a, "192.0.2.5");
		assert_int_equal((long long)when, (long long)NOW);
	}
	/* Lines of 64 KB and more are not given to regexec(). */
	memset(buf, 'x', 66000);
	memcpy(buf + 66000 - 14, " rip=192.0.2.5", 14);
	assert_int_equal(logparser_line(c, buf, 66000, NOW, &a, &when), 0);
	free(buf);
	logparser_free(c);

	/* The group must participate in the match. */
	c = must_new("custom", "^(a)|(b) ([0-9.]+)$", 3);
	assert_int_equal(logparser_line(c, "a", 1, NOW, &a, &when), 0);
	assert_int_equal(logparser_line(c, "b 192.0.2.6", 11, NOW, &a, &when), 1);
	expect_addr(&a, "192.0.2.6");
	logparser_free(c);
}

static void
test_new_errors(void **state)
{
	(void)state;
	char err[256];
	struct {
		const char *fmt, *re;
		int group;
		const char *msg; /* a word the message must contain */
	} bad[] = {
	    {"postfix", NULL, 0, "postfix"},
	    {NULL, NULL, 0, "unknown"},
	    {"Dovecot", NULL, 0, "unknown"},
	    {"custom", NULL, 1, "regular"},
	    {"custom", "", 1, "regular"},
	    {"custom", "(unclosed", 1, "bad regular"},
	    {"custom", "a[", 1, "bad regular"},
	    {"custom", "no groups", 1, "0 groups"},
	    {"custom", "(one)", 0, "group 0"},
	    {"custom", "(one)", 2, "group 2"},
	    {"custom", "(one)", -1, "group -1"},
	    {"custom", "(1)(2)(3)(4)(5)(6)(7)(8)(9)(10)", 10, "group 10"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		struct logparser *p =
		    logparser_new(bad[i].fmt, bad[i].re, bad[i].group, err, sizeof err);
		if (p != NULL)
			fail_msg("case %zu accepted", i);
		if (strstr(err, bad[i].msg) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].msg);
	}
	/* Accepted: every built-in name, and a group in range. */
	const char *ok[] = {"dovecot", "courier", "cyrus", "uw-imap", "qpopper"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		logparser_free(must_new(ok[i], NULL, 0));
	logparser_free(must_new("custom", "(1)(2)(3)(4)(5)(6)(7)(8)(9)", 9));
	logparser_free(NULL);
}

/*
 * Sessions (relay.hold-while-connected): logins with their session id,
 * the mail process's end-of-session lines, the master's start-up line.
 * The lines are Dovecot 2.3.19.1's own, from a private instance (IMAP
 * LOGOUT, a client closing, a reset, doveadm kick, a POP3 QUIT), then the
 * same in the syslog layout, then forgeries.
 */
static void
test_events(void **state)
{
	static const struct {
		const char *line;
		enum logparse_kind kind;
		const char *session; /* NULL: none */
	} cases[] = {
	    {"Dec 07 18:41:22 imap-login: Info: Login: user=<bob>, method=PLAIN, rip=127.0.0.3, lip=127.0.0.1, mpid=23322, session=<+HuBkg9iyIB/AAAD>",
	     LOGPARSE_LOGIN, "+HuBkg9iyIB/AAAD"},
	    {"Dec 07 18:41:22 imap(bob)<23322><+HuBkg9iyIB/AAAD>: Info: Disconnected: Logged out in=27 out=556 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
	     LOGPARSE_END, "+HuBkg9iyIB/AAAD"},
	    {"Dec 07 18:41:22 pop3(alice)<23313><hQiBkg9iVIx/AAAC>: Info: Disconnected: Logged out top=0/0, retr=0/0, del=0/0, size=0",
	     LOGPARSE_END, "hQiBkg9iVIx/AAAC"},
	    {"Dec 07 18:41:26 imap(bob)<23888><D2XBkg9iT6t/AAAK>: Info: Disconnected: Connection closed (SELECT finished 0.505 secs ago) in=16 out=711 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
	     LOGPARSE_END, "D2XBkg9iT6t/AAAK"},
	    {"Dec 07 18:41:28 imap(bob)<24057><QO3Ukg9i48Z/AAAM>: Info: Disconnected: Connection closed: read(size=8176) failed: Connection reset by peer (SELECT finished 0.507 secs ago) in=16 out=711 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
	     LOGPARSE_END, "QO3Ukg9i48Z/AAAM"},
	    {"Dec 07 18:41:29 imap(bob)<24193><8tzekg9iCeN/AAAN>: Info: Disconnected: Server shutting down. in=24 out=750 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
	     LOGPARSE_END, "8tzekg9iCeN/AAAN"},
	    {"Dec 07 18:41:24 imap-login: Info: Login: user=<alice>, method=PLAIN, rip=::1, lip=::1, mpid=23531, secured, session=<SOOgkg9i2usAAAAAAAAAAAAAAAAAAAAB>",
	     LOGPARSE_LOGIN, "SOOgkg9i2usAAAAAAAAAAAAAAAAAAAAB"},
	    {"Dec 07 18:40:43 master: Info: Dovecot v2.3.19.1 (9b53102964) starting up for pop3, imap (core dumps disabled)",
	     LOGPARSE_RESTART, NULL},
	    /* syslog layout */
	    {"Dec  7 18:41:22 mail dovecot: imap(bob)<23322><+HuBkg9iyIB/AAAD>: Disconnected: Logged out in=27 out=556",
	     LOGPARSE_END, "+HuBkg9iyIB/AAAD"},
	    {"Dec  7 18:41:22 mail dovecot[812]: imap(bob)<23322><+HuBkg9iyIB/AAAD>: Disconnected for inactivity in=27 out=556",
	     LOGPARSE_END, "+HuBkg9iyIB/AAAD"},
	    {"2026-12-07T18:40:43.000123+00:00 mail dovecot[812]: master: Dovecot v2.3.19.1 (9b53102964) starting up for imap, pop3 (core dumps disabled)",
	     LOGPARSE_RESTART, NULL},
	    /* no session at all: a login all the same */
	    {"Nov 22 04:25:18 mail dovecot: imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.32, lip=192.0.2.1",
	     LOGPARSE_LOGIN, NULL},
	    /* not ends: the login process, other messages, other programs */
	    {"Dec 07 18:40:45 pop3-login: Info: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, rip=127.0.0.4, lip=127.0.0.1, session=<EDA0kA9iHOB/AAAE>",
	     LOGPARSE_NONE, NULL},
	    {"Dec 07 18:41:29 imap(24193): Warning: Killed with signal 15 (by pid=24228 uid=0 code=kill)",
	     LOGPARSE_NONE, NULL},
	    {"Dec 07 18:41:29 imap(bob)<24193><8tzekg9iCeN/AAAN>: Info: ID sent: name=Disconnected",
	     LOGPARSE_NONE, NULL},
	    {"Dec 07 18:41:29 lmtp(bob)<24193><8tzekg9iCeN/AAAN>: Info: Disconnected",
	     LOGPARSE_NONE, NULL},
	    {"Dec 07 18:41:29 postfix/smtpd[1]: imap(bob)<1><8tzekg9iCeN/AAAN>: Disconnected",
	     LOGPARSE_NONE, NULL},
	    {"Dec 07 18:41:29 imap-login: Info: Disconnected: imap(bob)<1><8tzekg9iCeN/AAAN>: Disconnected",
	     LOGPARSE_NONE, NULL},
	    {"Dec 07 18:41:29 auth: Info: master: Dovecot v2.3 starting up",
	     LOGPARSE_NONE, NULL},
	    /* a failed login whose user name is a whole end-of-session line */
	    {"Dec 07 18:41:29 imap-login: Info: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<x imap(bob)<1><8tzekg9iCeN/AAAN>: Disconnected>, method=PLAIN, rip=127.0.0.4, lip=127.0.0.1",
	     LOGPARSE_NONE, NULL},
	};
	struct logparser *p;
	struct logparse_event ev;
	char err[256];

	(void)state;
	p = logparser_new("dovecot", NULL, 0, err, sizeof err);
	assert_non_null(p);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum logparse_kind k = logparser_event(
		    p, cases[i].line, strlen(cases[i].line), NOW, &ev);
		if (k != cases[i].kind)
			fail_msg("case %zu: kind %d, want %d: %s", i, (int)k,
			         (int)cases[i].kind, cases[i].line);
		if (cases[i].session == NULL) {
			if (ev.session != NULL)
				fail_msg("case %zu: session \"%.*s\", want "
				         "none", i, (int)ev.session_len,
				         ev.session);
			continue;
		}
		if (ev.session == NULL ||
		    ev.session_len != strlen(cases[i].session) ||
		    memcmp(ev.session, cases[i].session, ev.session_len) != 0)
			fail_msg("case %zu: session \"%.*s\", want \"%s\"", i,
			         ev.session ? (int)ev.session_len : 0,
			         ev.session ? ev.session : "", cases[i].session);
	}
	logparser_free(p);
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_case_files),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_nul_bytes),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_custom_buffers),
	    cmocka_unit_test(test_new_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
