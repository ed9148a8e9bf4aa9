/*
 * lmtp.c - one LMTP session (see lmtp.h).
 *
 * RFC 2033 in short: like ESMTP, but the greeting is answered with LHLO,
 * and after the final "." of DATA the server sends one reply per
 * recipient it accepted, so each recipient gets the status of its own
 * delivery (one mailbox full, the others delivered).  Replies carry
 * enhanced status codes (RFC 2034); PIPELINING is announced because
 * replies are written in command order and nothing here depends on a
 * reply having been read.
 *
 * Input lines may end in CRLF or LF.  Commands are limited to
 * LMTP_LINE_MAX bytes (RFC 5321 says 512; we allow more for long
 * addresses); a longer one is answered 500 and discarded.  Message lines
 * have no limit.  DATA is dot-unstuffed and stored with LF line ends,
 * which is what a Maildir holds.  A NUL byte in a command refuses it.
 * Limits: the message is kept in memory (like pipe mode); there is no
 * size limit of our own (the MTA's message_size_limit applies).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "headers.h"
#include "lmtp.h"
#include "log.h"

#define LMTP_LINE_MAX 2048

struct lmtp {
	FILE *in, *out;
	const struct deliver_ctx *ctx;
	struct lmtp_ctl *ctl; /* NULL for -l */
	char *line;
	size_t cap;
	int helo;
	int has_mail;
	char sender[1024];
	struct deliver_rcpt *rcpt;
	size_t nrcpt, rcap;
};

/* The server wants us gone (SIGTERM): see lmtp.h. */
static int
stopping(const struct lmtp *s)
{
	return s->ctl != NULL && s->ctl->stop != NULL &&
	       atomic_load(s->ctl->stop) != 0;
}

static void
set_txn(struct lmtp *s, int on)
{
	if (s->ctl != NULL)
		s->ctl->in_transaction = on;
}

/* Next line without its line end; its length (NULs included) or -1 at
 * end of input. */
static ssize_t
lmtp_readline(struct lmtp *s)
{
	ssize_t n = getline(&s->line, &s->cap, s->in);

	if (n <= 0)
		return -1;
	if (s->line[n - 1] == '\n')
		s->line[--n] = '\0';
	if (n > 0 && s->line[n - 1] == '\r')
		s->line[--n] = '\0';
	return n;
}

static int
reply(struct lmtp *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
reply(struct lmtp *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(s->out, fmt, ap);
	va_end(ap);
	fputs("\r\n", s->out);
	return fflush(s->out) == 0 ? 0 : -1;
}

static void
reset(struct lmtp *s)
{
	s->has_mail = 0;
	s->sender[0] = '\0';
	s->nrcpt = 0;
	set_txn(s, 0);
}

/* "FROM:<addr> params" or "TO:<addr> params": the address between the
 * brackets into out, with its length.  -1 on bad syntax. */
static int
path_arg(const char *arg, size_t arglen, const char *kw, char *out, size_t n,
         size_t *len)
{
	const char *p, *e, *end = arg + arglen;
	size_t kl = strlen(kw);

	if (arglen < kl || strncasecmp(arg, kw, kl) != 0)
		return -1;
	p = arg + kl;
	while (p < end && *p == ' ')
		p++;
	/* memchr, not strchr: a NUL inside the brackets must reach the
	 * address parser, which refuses it, rather than cut the address. */
	if (p >= end || *p != '<' ||
	    (e = memchr(p, '>', (size_t)(end - p))) == NULL)
		return -1;
	p++;
	if ((size_t)(e - p) >= n)
		return -1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	*len = (size_t)(e - p);
	return 0;
}

static int
cmd_mail(struct lmtp *s, const char *arg)
{
	size_t len;

	if (!s->helo)
		return reply(s, "503 5.5.1 LHLO first");
	if (s->has_mail)
		return reply(s, "503 5.5.1 nested MAIL command");
	if (path_arg(arg, strlen(arg), "FROM:", s->sender, sizeof(s->sender),
	             &len) != 0)
		return reply(s, "501 5.5.4 syntax: MAIL FROM:<address>");
	if (!headers_value_ok(s->sender)) {
		s->sender[0] = '\0';
		return reply(s, "501 5.1.7 bad sender address");
	}
	s->has_mail = 1;
	set_txn(s, 1);
	return reply(s, "250 2.1.0 ok");
}

static int
cmd_rcpt(struct lmtp *s, const char *arg, size_t arglen)
{
	struct deliver_status st;
	char addr[1024];
	size_t len;

	if (!s->has_mail)
		return reply(s, "503 5.5.1 MAIL first");
	if (path_arg(arg, arglen, "TO:", addr, sizeof(addr), &len) != 0)
		return reply(s, "501 5.5.4 syntax: RCPT TO:<address>");
	if (s->nrcpt >= LMTP_MAX_RCPT)
		return reply(s, "452 4.5.3 too many recipients");
	/* Grown as needed: a recipient slot is a few kilobytes, and an LMTP
	 * server runs many sessions at once. */
	if (s->nrcpt == s->rcap) {
		size_t ncap = s->rcap ? s->rcap * 2 : 16;
		struct deliver_rcpt *p;
		if (ncap > LMTP_MAX_RCPT)
			ncap = LMTP_MAX_RCPT;
		p = realloc(s->rcpt, ncap * sizeof(*s->rcpt));
		if (p == NULL)
			return reply(s, "451 4.3.0 out of memory");
		s->rcpt = p;
		s->rcap = ncap;
	}
	if (deliver_lookup(s->ctx, addr, len, &s->rcpt[s->nrcpt], &st) != 0)
		return reply(s, "%d %s", deliver_reply_code(&st), st.text);
	s->nrcpt++;
	return reply(s, "250 2.1.5 ok");
}

static int
cmd_data(struct lmtp *s)
{
	struct deliver_status st;
	char *msg = NULL;
	size_t len = 0, cap = 0, i;
	ssize_t n;
	int rc = 0, complete = 0;

	if (!s->has_mail)
		return reply(s, "503 5.5.1 MAIL first");
	if (s->nrcpt == 0)
		return reply(s, "554 5.5.1 no valid recipients");
	if (reply(s, "354 end data with <CR><LF>.<CR><LF>") != 0)
		return -1;
	while ((n = lmtp_readline(s)) >= 0) {
		const char *l = s->line;
		if (n == 1 && l[0] == '.') {
			complete = 1;
			break;
		}
		if (l[0] == '.') { /* dot-unstuffing */
			l++;
			n--;
		}
		if (len + (size_t)n + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *p;
			while (ncap < len + (size_t)n + 1)
				ncap *= 2;
			p = realloc(msg, ncap);
			if (p == NULL) {
				free(msg);
				log_warnx("out of memory reading a message");
				return -1; /* can't even drain it: end the session */
			}
			msg = p;
			cap = ncap;
		}
		memcpy(msg + len, l, (size_t)n);
		len += (size_t)n;
		msg[len++] = '\n';
	}
	if (!complete) {
		free(msg);
		/* Connection lost in DATA, or the server stopping ran out of
		 * patience: nothing delivered, the client retries. */
		if (stopping(s))
			reply(s, "421 4.3.2 shutting down, message not delivered");
		return -1;
	}
	for (i = 0; i < s->nrcpt && rc == 0; i++) {
		deliver_write(s->ctx, &s->rcpt[i], s->sender, msg ? msg : "", len,
		              &st);
		rc = reply(s, "%d %s", deliver_reply_code(&st), st.text);
	}
	free(msg);
	reset(s);
	return rc;
}

int
lmtp_session(FILE *in, FILE *out, const struct deliver_ctx *ctx,
             const char *myname, struct lmtp_ctl *ctl)
{
	struct lmtp s = {.in = in, .out = out, .ctx = ctx, .ctl = ctl};
	ssize_t n;
	int rc;

	set_txn(&s, 0);
	if (reply(&s, "220 %s LMTP leafmail-deliver ready", myname) != 0)
		return -1;
	for (rc = 0; rc == 0;) {
		char *arg, *verb;
		size_t vlen;

		/* Between transactions a stopping server says goodbye; inside
		 * one it lets the transaction finish first. */
		if (!s.has_mail && stopping(&s)) {
			reply(&s, "421 4.3.2 shutting down");
			break;
		}
		if ((n = lmtp_readline(&s)) < 0) {
			if (stopping(&s))
				reply(&s, "421 4.3.2 shutting down");
			break;
		}
		verb = s.line;
		if ((size_t)n > LMTP_LINE_MAX) {
			rc = reply(&s, "500 5.5.2 line too long");
			continue;
		}
		vlen = strcspn(verb, " ");
		arg = verb + vlen + (verb[vlen] == ' ');
		if (vlen == 4 && strncasecmp(verb, "LHLO", 4) == 0) {
			if (*arg == '\0') {
				rc = reply(&s, "501 5.5.4 syntax: LHLO hostname");
				continue;
			}
			reset(&s);
			s.helo = 1;
			rc = reply(&s, "250-%s\r\n250-PIPELINING\r\n"
			               "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME",
			           myname);
		} else if (memchr(s.line, '\0', (size_t)n) != NULL &&
		           !(vlen == 4 && strncasecmp(verb, "RCPT", 4) == 0)) {
			rc = reply(&s, "500 5.5.2 NUL in command");
		} else if (vlen == 4 && strncasecmp(verb, "MAIL", 4) == 0) {
			rc = cmd_mail(&s, arg);
		} else if (vlen == 4 && strncasecmp(verb, "RCPT", 4) == 0) {
			rc = cmd_rcpt(&s, arg, (size_t)n - (size_t)(arg - s.line));
		} else if (vlen == 4 && strncasecmp(verb, "DATA", 4) == 0) {
			rc = cmd_data(&s);
		} else if (vlen == 4 && strncasecmp(verb, "RSET", 4) == 0) {
			reset(&s);
			rc = reply(&s, "250 2.0.0 ok");
		} else if (vlen == 4 && strncasecmp(verb, "NOOP", 4) == 0) {
			rc = reply(&s, "250 2.0.0 ok");
		} else if (vlen == 4 && strncasecmp(verb, "VRFY", 4) == 0) {
			rc = reply(&s, "252 2.5.2 send some mail, I'll try my best");
		} else if (vlen == 4 && strncasecmp(verb, "QUIT", 4) == 0) {
			reply(&s, "221 2.0.0 bye");
			break;
		} else {
			rc = reply(&s, "500 5.5.2 command not recognized");
		}
	}
	free(s.line);
	free(s.rcpt);
	return rc;
}
