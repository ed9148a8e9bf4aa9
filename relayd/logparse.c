/*
 * logparse.c - recognise successful POP3/IMAP logins in log lines.
 *
 * Interface (logparse.h): logparser_new(format, regex, group, err, n),
 * logparser_line(p, line, len, now, &addr, &when), logparser_free(p).
 *
 * Every line has the same outer shape, of which only the message is
 * required:   [TIMESTAMP ][HOST ]PROGRAM[[PID]]: MESSAGE
 * The timestamp is anything logtime_parse() knows.  The message must
 * START with the server's own words: a user name is the one thing a client
 * chooses, and every line here carries one, so a pattern that searches
 * for "Login: ... rip=" anywhere in the line lets a failed login whose
 * user name is "x>: Login: user=<y>, method=PLAIN, rip=6.6.6.6" authorize
 * 6.6.6.6 (poprelayd, CVE-2001-1075, did exactly that).  So:
 *
 *  - the program tag is checked (dovecot, courier's pop3d..., cyrus's
 *    pop3/imap, uw's ipop3d/imapd, qpopper), and the message is anchored
 *    right after it: a line from postfix/smtpd quoting a login never
 *    matches, nor does a failed login ("Disconnected: ...", "badlogin:",
 *    "LOGIN FAILED", "Login failure");
 *  - where the address follows the user name (Dovecot, Courier, UW,
 *    qpopper) it is read from the RIGHT: the server writes its own fields
 *    after the user name, so the last "rip=" of a Dovecot line is the
 *    server's.  We take the last one only and then check that everything
 *    after it is the server's known trailer; if that last one is not a
 *    valid address the line is not a login -- we never fall back to an
 *    earlier "rip=", which could only have come from the user name.
 *    Where the address comes before the user (Cyrus) it is the last of
 *    the client host's "[A]" (the host name is the client's reverse
 *    DNS and may hold brackets of its own).
 *
 * Line shapes, and where they come from:
 *  dovecot  real lines from Dovecot 2.3.19 in tests/data/logparse/
 *           dovecot-2.3.19-real.log (log_path layout, "Info: " after the
 *           service); syslog/journald layouts carry "dovecot[PID]: " and no
 *           "Info: "; Dovecot 1.x wrote rip=::ffff:a.b.c.d and no mpid.
 *           "pop3-login: [Info: ]Login: user=<U>, method=M, rip=A, lip=A
 *            [, mpid=N][, secured|, TLS...][, session=<S>]"
 *  courier  courier-imap imap/pop3dserver.c, imap/imapd.c:
 *           fprintf(stderr, "INFO: LOGIN, user=%s, ip=[%s], port=[%s],
 *           protocol=%s"), through courierlogger; older versions
 *           "courierpop3login: LOGIN, user=U, ip=[::ffff:A]"
 *           (pop-before-smtp-conf.pl: "(?:courier)?(?:pop3|imap)
 *           (?:login|d|d-ssl): LOGIN, user=\S+, ip=\[...\]").
 *  cyrus    cyrus-imapd imap/imapd.c, imap/pop3d.c: syslog(LOG_NOTICE,
 *           "login: %s %s%s %s%s %s", clienthost "name [A]", user, magic,
 *           mech, "+TLS", "User logged in ..."); program "pop3[PID]",
 *           "imap[PID]", "cyrus/imap[PID]"; failures are "badlogin:".
 *  uw-imap  UW imap-2007 ipop3d.c / imapd.c: "Login user=%.80s host=%.80s
 *           [nmsgs=%lu/%lu]", "Auth user=...", "APOP user=...",
 *           "Authenticated user=%.80s host=%.80s mech=%.80s"; host is
 *           tcp_clienthost(): "name [A]" or "[A]"; failures are
 *           "Login failure user=...".
 *  qpopper  qpopper popper/pop_init.c: "(v%0) POP login by user \"%1\" at
 *           (%2) %3", some builds append " [pop_log.c:NNN]"; program
 *           popper, qpopper or in.qpopper (pop-before-smtp-conf.pl).
 *
 * Cost: one pass or two over the line, no allocation, no regex for the
 * built-in formats; a 1 MB line costs a few memchr() calls.  A syslog
 * timestamp is resolved only on lines that are logins (about 0.2 s per
 * million Dovecot lines here, I/O included; an anchored Perl regex takes
 * about 1 s).  "custom"
 * copies the line into a NUL-terminated buffer (on the stack up to 4 KB,
 * else malloc, lines over 64 KB are not matched) for regexec().
 *
 * Limits: a line holding a NUL byte is never a login.  Dovecot is assumed
 * to use the default login_log_format_elements order (the user before
 * rip=); a site that moves %u after %r must use "custom".  UW truncates
 * host to 80 bytes, so a client with a very long reverse name gives no
 * "[A]" and is not recognised.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logparse.h"
#include "logtime.h"

#define CUSTOM_STACK 4096
#define CUSTOM_MAX 65536

enum logformat { LF_DOVECOT, LF_COURIER, LF_CYRUS, LF_UW, LF_QPOPPER, LF_CUSTOM };

struct logparser {
	enum logformat fmt;
	int group;
	int have_re;
	regex_t re;
};

/* A span of the line: [p, e). */
struct span {
	const char *p, *e;
};

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

/* s starts with the literal lit; advance past it. */
static int
eat(struct span *s, const char *lit, size_t n)
{
	if ((size_t)(s->e - s->p) < n || memcmp(s->p, lit, n) != 0)
		return 0;
	s->p += n;
	return 1;
}
#define EAT(s, lit) eat((s), (lit), sizeof(lit) - 1)

static int
has_prefix(const char *p, size_t n, const char *lit, size_t ln)
{
	return n >= ln && memcmp(p, lit, ln) == 0;
}
#define PREFIX(p, n, lit) has_prefix((p), (n), (lit), sizeof(lit) - 1)

/* Last occurrence of needle (m >= 1 bytes) in [p, e), or NULL. */
static const char *
rfind(const char *p, const char *e, const char *needle, size_t m)
{
	const char *end = e;

	while ((size_t)(end - p) >= m) {
		/* Look for the needle's last byte, then compare the rest. */
		const char *q = memrchr(p + m - 1, needle[m - 1],
		                        (size_t)(end - (p + m - 1)));
		if (q == NULL)
			return NULL;
		if (memcmp(q - (m - 1), needle, m) == 0)
			return q - (m - 1);
		end = q;
	}
	return NULL;
}

/* An address with an IPv6 zone is refused: see logparse.h. */
static int
parse_addr(const char *p, const char *e, struct addr *a)
{
	return e > p && memchr(p, '%', (size_t)(e - p)) == NULL &&
	       addr_parsen(p, (size_t)(e - p), a) == 0;
}

/* ---- the program tag ---------------------------------------------- */

typedef int prog_fn(const char *p, size_t n);

static int
prog_dovecot(const char *p, size_t n)
{
	return n == 7 && memcmp(p, "dovecot", 7) == 0;
}

/* (?:courier)?(?:pop3|imap)(?:login|d|d-ssl) */
static int
prog_courier(const char *p, size_t n)
{
	if (PREFIX(p, n, "courier"))
		p += 7, n -= 7;
	if (!PREFIX(p, n, "pop3") && !PREFIX(p, n, "imap"))
		return 0;
	p += 4, n -= 4;
	return (n == 5 && memcmp(p, "login", 5) == 0) || (n == 1 && *p == 'd') ||
	       (n == 5 && memcmp(p, "d-ssl", 5) == 0);
}

/* (?:cyrus/)?(?:pop3|imap)[ds]? */
static int
prog_cyrus(const char *p, size_t n)
{
	if (PREFIX(p, n, "cyrus/"))
		p += 6, n -= 6;
	if (!PREFIX(p, n, "pop3") && !PREFIX(p, n, "imap"))
		return 0;
	return n == 4 || (n == 5 && (p[4] == 'd' || p[4] == 's'));
}

/* ipop3s?d|imaps?d */
static int
prog_uw(const char *p, size_t n)
{
	if (PREFIX(p, n, "ipop3"))
		p += 5, n -= 5;
	else if (PREFIX(p, n, "imap"))
		p += 4, n -= 4;
	else
		return 0;
	return (n == 1 && p[0] == 'd') || (n == 2 && p[0] == 's' && p[1] == 'd');
}

/* (?:in\.)?q?popper */
static int
prog_qpopper(const char *p, size_t n)
{
	if (PREFIX(p, n, "in."))
		p += 3, n -= 3;
	if (n > 0 && *p == 'q')
		p++, n--;
	return n == 6 && memcmp(p, "popper", 6) == 0;
}

/*
 * "PROG: " or "PROG[PID]: " as the whole token at s->p; advances past it.
 */
static int
eat_prog(struct span *s, prog_fn *ok)
{
	const char *sp = memchr(s->p, ' ', (size_t)(s->e - s->p));

	if (sp == NULL || sp - s->p < 2 || sp[-1] != ':')
		return 0;
	const char *end = sp - 1; /* the colon */
	if (end[-1] == ']') {
		const char *d = end - 1;
		while (d > s->p && is_digit(d[-1]))
			d--;
		if (d == end - 1 || d == s->p || d[-1] != '[')
			return 0;
		end = d - 1;
	}
	if (!ok(s->p, (size_t)(end - s->p)))
		return 0;
	s->p = sp + 1;
	return 1;
}

/* "[HOST ]PROG[[PID]]: " */
static int
eat_host_prog(struct span *s, prog_fn *ok)
{
	if (eat_prog(s, ok))
		return 1;
	const char *sp = memchr(s->p, ' ', (size_t)(s->e - s->p));
	if (sp == NULL || sp == s->p)
		return 0;
	struct span t = {sp + 1, s->e};
	if (!eat_prog(&t, ok))
		return 0;
	*s = t;
	return 1;
}

/* ---- Dovecot --------------------------------------------------------- */

/* "pop3-login: " or "imap-login: ", then an optional "Info: " (log_path
 * layout names the level; syslog carries it out of band). */
static int
eat_dovecot_service(struct span *s)
{
	if (!EAT(s, "pop3-login: ") && !EAT(s, "imap-login: "))
		return 0;
	EAT(s, "Info: ");
	return 1;
}

/*
 * One field of the trailer after lip=: "secured", "TLS...", "key=value"
 * or "key=<value>".  The keys that come before rip= in Dovecot's own
 * order (user, method, rip, lip) may not appear again: seeing one means
 * the "rip=" we stand on was part of a user name.
 */
static int
dovecot_field(const char *p, const char *e)
{
	size_t n = (size_t)(e - p);

	if (n == 7 && memcmp(p, "secured", 7) == 0)
		return 1;
	if (PREFIX(p, n, "TLS")) {
		for (const char *q = p; q < e; q++)
			if (*q == '=' || *q == '<' || *q == '>')
				return 0;
		return 1;
	}
	const char *k = p;
	while (k < e && (is_lower(*k) || *k == '_' || *k == '-'))
		k++;
	if (k == p || k == e || *k != '=')
		return 0;
	size_t kl = (size_t)(k - p);
	if ((kl == 4 && memcmp(p, "user", 4) == 0) ||
	    (kl == 6 && memcmp(p, "method", 6) == 0) ||
	    (kl == 3 && memcmp(p, "rip", 3) == 0) ||
	    (kl == 3 && memcmp(p, "lip", 3) == 0))
		return 0;
	const char *v = k + 1;
	int bracketed = v < e && *v == '<';
	if (bracketed) {
		if (e - v < 2 || e[-1] != '>')
			return 0;
		v++;
		e--;
	}
	for (const char *q = v; q < e; q++)
		if (*q == '<' || *q == '>')
			return 0;
	return 1;
}

/* ", key=value" fields up to the end of the line. */
static int
dovecot_trailer(const char *p, const char *e)
{
	while (p < e) {
		if (e - p < 3 || p[0] != ',' || p[1] != ' ')
			return 0;
		p += 2;
		const char *c = memchr(p, ',', (size_t)(e - p));
		const char *fe = c ? c : e;
		if (!dovecot_field(p, fe))
			return 0;
		p = fe;
	}
	return 1;
}

/* The value of ", session=<ID>" in the server's trailer [p, e), if any. */
static void
dovecot_session(const char *p, const char *e, struct logparse_event *ev)
{
	const char *k = rfind(p, e, ", session=<", 11);
	if (k == NULL)
		return;
	const char *v = k + 11;
	const char *close = memchr(v, '>', (size_t)(e - v));
	if (close == NULL || close == v)
		return;
	ev->session = v;
	ev->session_len = (size_t)(close - v);
}

static int
line_dovecot(struct span s, struct addr *a, struct logparse_event *ev)
{
	/* The service tag comes first in log_path and journald layouts,
	 * after "[HOST ]dovecot[PID]: " in syslog's. */
	if (!eat_dovecot_service(&s) &&
	    !(eat_host_prog(&s, prog_dovecot) && eat_dovecot_service(&s)))
		return 0;
	if (!EAT(&s, "Login: user=<"))
		return 0;
	/* The server's rip= is the last one; see the top of the file. */
	const char *r = rfind(s.p, s.e, ", rip=", 6);
	/* ... and the user name closes before it ("<U>, method=M, rip="). */
	if (r == NULL || rfind(s.p, r, ">, ", 3) == NULL)
		return 0;
	const char *rip = r + 6;
	const char *rend = memchr(rip, ',', (size_t)(s.e - rip));
	if (rend == NULL || !parse_addr(rip, rend, a))
		return 0;
	struct span t = {rend, s.e};
	if (!EAT(&t, ", lip="))
		return 0;
	const char *lend = memchr(t.p, ',', (size_t)(t.e - t.p));
	if (lend == NULL)
		lend = t.e;
	struct addr l;
	if (!parse_addr(t.p, lend, &l) || !dovecot_trailer(lend, t.e))
		return 0;
	if (ev != NULL)
		dovecot_session(lend, t.e, ev);
	return 1;
}

/*
 * The end of a session, written by the mail process with Dovecot's
 * default mail_log_prefix "%s(%u)<%{pid}><%{session}>: ":
 *   "imap(alice)<17645><6fMzkA9irqF/AAAD>: Info: Disconnected: Logged out
 *    in=27 out=556 ...", "... Disconnected: Connection closed (...)",
 *   "... Disconnected: Server shutting down.", "... Disconnected for
 *   inactivity ...", "pop3(alice)<N><ID>: Disconnected: Logged out top=..."
 * (Dovecot 2.3.19, tests/data/logparse/dovecot-2.3.19-real.log); older
 * versions wrote "... Logged out ...".  The user name here is the
 * authenticated one (userdb), so the first ")<DIGITS><" closes it; what
 * follows the prefix may quote a client (IMAP ID), so the message is only
 * looked at from its start.  At worst a forged line ends a session early:
 * its address then relays for expire and no longer, as without holding.
 */
static int
line_dovecot_end(struct span s, struct logparse_event *ev)
{
	if (!EAT(&s, "imap(") && !EAT(&s, "pop3(") &&
	    !(eat_host_prog(&s, prog_dovecot) &&
	      (EAT(&s, "imap(") || EAT(&s, "pop3("))))
		return 0;
	for (const char *q = s.p; (q = memchr(q, ')', (size_t)(s.e - q)));
	     q++) {
		struct span t = {q + 1, s.e};
		if (!EAT(&t, "<"))
			continue;
		const char *d = t.p;
		while (t.p < t.e && is_digit(*t.p))
			t.p++;
		if (t.p == d || !EAT(&t, "><"))
			continue;
		const char *id = t.p;
		const char *close = memchr(id, '>', (size_t)(t.e - id));
		if (close == NULL || close == id)
			return 0;
		t.p = close + 1;
		if (!EAT(&t, ": "))
			return 0;
		EAT(&t, "Info: ");
		if (!EAT(&t, "Disconnected") && !EAT(&t, "Logged out"))
			return 0;
		ev->session = id;
		ev->session_len = (size_t)(close - id);
		return 1;
	}
	return 0;
}

/* "master: [Info: ]Dovecot vX.Y (...) starting up for ...": the server
 * started, so no earlier session of it is open any more. */
static int
line_dovecot_restart(struct span s)
{
	if (!EAT(&s, "master: ") &&
	    !(eat_host_prog(&s, prog_dovecot) && EAT(&s, "master: ")))
		return 0;
	EAT(&s, "Info: ");
	if (!EAT(&s, "Dovecot v"))
		return 0;
	return rfind(s.p, s.e, " starting up", 12) != NULL;
}

/* ---- Courier --------------------------------------------------------- */

static int
line_courier(struct span s, struct addr *a)
{
	if (!eat_host_prog(&s, prog_courier))
		return 0;
	EAT(&s, "INFO: ");
	if (!EAT(&s, "LOGIN, user="))
		return 0;
	/* The user name comes first; the server's ip=[...] is the last. */
	const char *r = rfind(s.p, s.e, ", ip=[", 6);
	if (r == NULL)
		return 0;
	const char *ip = r + 6;
	const char *close = memchr(ip, ']', (size_t)(s.e - ip));
	if (close == NULL || !parse_addr(ip, close, a))
		return 0;
	/* Then only ", port=[N]", ", protocol=P", ", stls=1" and the like. */
	const char *p = close + 1;
	while (p < s.e) {
		if (s.e - p < 3 || p[0] != ',' || p[1] != ' ')
			return 0;
		p += 2;
		const char *k = p;
		while (k < s.e && is_lower(*k))
			k++;
		if (k == p || k == s.e || *k != '=' ||
		    (k - p == 4 && memcmp(p, "user", 4) == 0) ||
		    (k - p == 2 && memcmp(p, "ip", 2) == 0))
			return 0;
		p = k + 1;
		while (p < s.e && *p != ',')
			p++;
	}
	return 1;
}

/* ---- Cyrus ------------------------------------------------------------ */

/* "[A]" spanning exactly [p, e). */
static int
bracketed(const char *p, const char *e, struct addr *a)
{
	return e - p >= 3 && *p == '[' && e[-1] == ']' &&
	       parse_addr(p + 1, e - 1, a);
}

static int
line_cyrus(struct span s, struct addr *a)
{
	if (!eat_host_prog(&s, prog_cyrus) || !EAT(&s, "login: "))
		return 0;
	/*
	 * clienthost is "[A]", "NAME [A]" or "NAME[A]", then " USER MECH...".
	 * NAME comes from the client's reverse DNS, so it may hold a '[' of
	 * its own ("x[6.6.6.6] [192.0.2.1]"): the address is the one the
	 * server put last, i.e. from the right: a whole second token "[A]"
	 * wins, else the first token's last "[...]".  The limit: an account
	 * whose name is a bracketed address is read as the address.
	 */
	const char *sp1 = memchr(s.p, ' ', (size_t)(s.e - s.p));
	if (sp1 == NULL || sp1 == s.p)
		return 0;
	const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(s.e - (sp1 + 1)));
	const char *p;
	if (sp2 != NULL && bracketed(sp1 + 1, sp2, a)) {
		p = sp2;
	} else {
		const char *open = memrchr(s.p, '[', (size_t)(sp1 - s.p));
		if (open == NULL || sp1[-1] != ']' ||
		    !bracketed(open, sp1, a))
			return 0;
		p = sp1;
	}
	/* " USER MECH ..." must follow. */
	const char *sp = memchr(p + 1, ' ', (size_t)(s.e - (p + 1)));
	return sp != NULL && sp > p + 1 && sp + 1 < s.e && sp[1] != ' ';
}

/* ---- UW-IMAP ---------------------------------------------------------- */

static int
line_uw(struct span s, struct addr *a)
{
	if (!eat_host_prog(&s, prog_uw))
		return 0;
	if (!EAT(&s, "Login user=") && !EAT(&s, "Authenticated user=") &&
	    !EAT(&s, "Auth user=") && !EAT(&s, "APOP user=") &&
	    !EAT(&s, "Preauthenticated user="))
		return 0;
	/* From the right: [A] is the last bracket; after it only
	 * " nmsgs=N/N" (ipop3d) or " mech=M" (imapd). */
	const char *close = memrchr(s.p, ']', (size_t)(s.e - s.p));
	if (close == NULL)
		return 0;
	const char *p = close + 1;
	if (p < s.e) {
		struct span t = {p, s.e};
		if (!EAT(&t, " nmsgs=") && !EAT(&t, " mech="))
			return 0;
		if (t.p == t.e)
			return 0;
		for (const char *q = t.p; q < t.e; q++)
			if (*q == ' ' || *q == '[' || *q == ']')
				return 0;
	}
	const char *open = memrchr(s.p, '[', (size_t)(close - s.p));
	if (open == NULL || !parse_addr(open + 1, close, a))
		return 0;
	/* Before "[A]": "host=" or "host=NAME ". */
	const char *h = open;
	if (h > s.p && h[-1] == ' ') {
		h--;
		while (h > s.p && h[-1] != ' ' && h[-1] != '=')
			h--;
	}
	return h - s.p >= 6 && memcmp(h - 6, " host=", 6) == 0;
}

/* ---- qpopper ---------------------------------------------------------- */

static int
line_qpopper(struct span s, struct addr *a)
{
	if (!eat_host_prog(&s, prog_qpopper) || !EAT(&s, "(v"))
		return 0;
	const char *v = memchr(s.p, ')', (size_t)(s.e - s.p));
	if (v == NULL)
		return 0;
	for (const char *q = s.p; q < v; q++)
		if (*q == ' ')
			return 0;
	s.p = v + 1;
	if (!EAT(&s, " POP login by user \""))
		return 0;
	/* Some builds append " [pop_log.c:244]". */
	const char *e = s.e;
	if (e > s.p && e[-1] == ']') {
		const char *o = memrchr(s.p, '[', (size_t)(e - s.p));
		if (o == NULL || o == s.p || o[-1] != ' ')
			return 0;
		for (const char *q = o + 1; q < e - 1; q++)
			if (*q == ' ')
				return 0;
		e = o - 1;
	}
	/* The address is the last token, after "\" at (HOST) ". */
	const char *sp = memrchr(s.p, ' ', (size_t)(e - s.p));
	if (sp == NULL || !parse_addr(sp + 1, e, a))
		return 0;
	if (sp == s.p || sp[-1] != ')')
		return 0;
	const char *o = memrchr(s.p, '(', (size_t)(sp - s.p));
	if (o == NULL)
		return 0;
	for (const char *q = o + 1; q < sp - 1; q++)
		if (*q == ' ' || *q == '(' || *q == ')')
			return 0;
	return o - s.p >= 5 && memcmp(o - 5, "\" at ", 5) == 0;
}

/* ---- custom ----------------------------------------------------------- */

static int
line_custom(const struct logparser *p, const char *line, size_t len,
            struct addr *a)
{
	char stackbuf[CUSTOM_STACK];
	char *buf = stackbuf;
	regmatch_t m[10];
	int ok = 0;

	if (len >= CUSTOM_MAX)
		return 0;
	if (len >= sizeof stackbuf && (buf = malloc(len + 1)) == NULL)
		return 0;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (regexec(&p->re, buf, (size_t)p->group + 1, m, 0) == 0 &&
	    m[p->group].rm_so >= 0)
		ok = parse_addr(buf + m[p->group].rm_so, buf + m[p->group].rm_eo, a);
	if (buf != stackbuf)
		free(buf);
	return ok;
}

/* ---- interface -------------------------------------------------------- */

/*
 * Length of a syslog "Mmm dd hh:mm:ss " at s judged by shape alone; every
 * string logtime_parse() accepts as one has this shape and length, so the
 * two agree whenever the timestamp is valid.
 */
static size_t
syslog_time_len(const char *s, size_t len)
{
	if (len < 15 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':')
		return 0;
	if (len > 15 && s[15] != ' ')
		return 0;
	return len > 15 ? 16 : 15;
}

struct logparser *
logparser_new(const char *format, const char *regex, int ip_group, char *err,
              size_t errlen)
{
	static const struct {
		const char *name;
		enum logformat fmt;
	} formats[] = {
	    {"dovecot", LF_DOVECOT}, {"courier", LF_COURIER}, {"cyrus", LF_CYRUS},
	    {"uw-imap", LF_UW},      {"qpopper", LF_QPOPPER}, {"custom", LF_CUSTOM},
	};
	struct logparser *p;
	size_t i;

	for (i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (format != NULL && strcmp(format, formats[i].name) == 0)
			break;
	if (i == sizeof formats / sizeof formats[0]) {
		snprintf(err, errlen,
		         "unknown log format \"%s\" (dovecot, courier, cyrus, "
		         "uw-imap, qpopper or custom)",
		         format ? format : "");
		return NULL;
	}
	if ((p = calloc(1, sizeof *p)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->fmt = formats[i].fmt;
	if (p->fmt != LF_CUSTOM)
		return p;

	if (regex == NULL || *regex == '\0') {
		snprintf(err, errlen, "format \"custom\" needs a regular expression");
		free(p);
		return NULL;
	}
	int rc = regcomp(&p->re, regex, REG_EXTENDED);
	if (rc != 0) {
		char msg[128];
		regerror(rc, &p->re, msg, sizeof msg);
		snprintf(err, errlen, "bad regular expression \"%s\": %s", regex, msg);
		free(p);
		return NULL;
	}
	p->have_re = 1;
	/* regmatch_t m[10] in line_custom(): groups 1..9, as in sed. */
	if (ip_group < 1 || (size_t)ip_group > p->re.re_nsub || ip_group > 9) {
		snprintf(err, errlen,
		         "address group %d: the regular expression has %zu group%s "
		         "(1 to 9 usable)",
		         ip_group, p->re.re_nsub, p->re.re_nsub == 1 ? "" : "s");
		logparser_free(p);
		return NULL;
	}
	p->group = ip_group;
	return p;
}

void
logparser_free(struct logparser *p)
{
	if (p == NULL)
		return;
	if (p->have_re)
		regfree(&p->re);
	free(p);
}

enum logparse_kind
logparser_event(const struct logparser *p, const char *line, size_t len,
                time_t now, struct logparse_event *ev)
{
	enum logparse_kind kind = LOGPARSE_NONE;
	time_t t = now;

	ev->kind = LOGPARSE_NONE;
	ev->session = NULL;
	ev->session_len = 0;
	if (len == 0 || memchr(line, '\0', len) != NULL)
		return LOGPARSE_NONE;
	if (line[len - 1] == '\r')
		len--;
	if (p->fmt == LF_CUSTOM) {
		if (line_custom(p, line, len, &ev->a)) {
			kind = LOGPARSE_LOGIN;
			logtime_parse(line, len, now, &t);
		}
	} else {
		struct span s = {line, line + len};
		time_t lt = now;
		/* A syslog timestamp is only skipped by its shape here; it is
		 * resolved (which costs a year lookup) for the lines that
		 * count alone, below. */
		int lazy = !is_digit(line[0]);
		size_t n = lazy ? syslog_time_len(line, len)
		                : logtime_parse(line, len, now, &lt);
		s.p += n;
		int ok = 0;
		switch (p->fmt) {
		case LF_DOVECOT:
			if (line_dovecot(s, &ev->a, ev))
				kind = LOGPARSE_LOGIN;
			else if (line_dovecot_end(s, ev))
				kind = LOGPARSE_END;
			else if (line_dovecot_restart(s))
				kind = LOGPARSE_RESTART;
			break;
		case LF_COURIER:
			ok = line_courier(s, &ev->a);
			break;
		case LF_CYRUS:
			ok = line_cyrus(s, &ev->a);
			break;
		case LF_UW:
			ok = line_uw(s, &ev->a);
			break;
		case LF_QPOPPER:
			ok = line_qpopper(s, &ev->a);
			break;
		case LF_CUSTOM:
			break;
		}
		if (ok)
			kind = LOGPARSE_LOGIN;
		if (kind != LOGPARSE_NONE && lazy && n > 0 &&
		    logtime_parse(line, len, now, &lt) != n)
			kind = LOGPARSE_NONE; /* shaped like a time stamp, but
			                         not a valid one */
		if (n > 0)
			t = lt;
	}
	if (kind == LOGPARSE_NONE) {
		ev->session = NULL;
		ev->session_len = 0;
		return LOGPARSE_NONE;
	}
	ev->kind = kind;
	ev->when = t;
	return kind;
}

int
logparser_line(const struct logparser *p, const char *line, size_t len,
               time_t now, struct addr *a, time_t *when)
{
	struct logparse_event ev;

	if (logparser_event(p, line, len, now, &ev) != LOGPARSE_LOGIN)
		return 0;
	*a = ev.a;
	if (when != NULL)
		*when = ev.when;
	return 1;
}
