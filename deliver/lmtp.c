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
 * Input is bounded while it is read (lib/lineread.h): no line, however
 * long, takes more memory than LMTP_LINE_MAX, and a message no more than
 * ctx->max_size (deliver.max-message-size).
 *   Commands: at most LMTP_LINE_MAX bytes (RFC 5321 4.5.3.1.4 says 512;
 *   we allow more for long addresses); a longer one is read to its end,
 *   kept nowhere and answered "500 5.5.2" (RFC 5321 4.2.4; 5.5.6 is RFC
 *   4954's code for an AUTH exchange line, which this is not).  A NUL
 *   byte in a command refuses it.
 *   Message text: lines of any length are accepted, up to the size
 *   limit.  RFC 5321 4.5.3.1.6 allows 1000 octets per line, but our
 *   clients are MTAs relaying what others wrote, and Postfix itself
 *   accepts longer lines; refusing them here would bounce mail the MTA
 *   already took, and a long line costs no more memory than the same
 *   bytes in short lines.
 *   Size: SIZE is announced (RFC 1870) and a MAIL with a larger SIZE=
 *   gets "552 5.3.4" at once.  A message that turns out larger is read
 *   to its final "." and thrown away as it arrives, then every recipient
 *   gets "552 5.3.4": an LMTP client reads no replies during DATA, so
 *   answering early or closing the connection would leave it to take a
 *   dead connection for a temporary failure and send the same message
 *   again and again (RFC 5321 4.5.3.1.10 and 4.2.5); after the 552s the
 *   session goes on in step.  The size counted is the message as
 *   stored, dot-unstuffed with LF line ends and without our trace
 *   headers, which is never more than Postfix counts for its own
 *   message_size_limit, so equal limits agree.
 * DATA is stored with LF line ends, which is what a Maildir holds.  The
 * message is kept in memory (like pipe mode): a session holds at most
 * max-message-size, so the server at most lmtp-max-sessions times that.
 * Lines the client causes (commands refused, recipients refused, a
 * message too big) are logged through ctx->lograte.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "headers.h"
#include "lineread.h"
#include "lmtp.h"
#include "log.h"
#include "logsafe.h"

#define LMTP_LINE_MAX 2048
#define LMTP_FIRST_CHUNK 65536 /* a message buffer's first size */

struct lmtp {
	FILE *in, *out;
	const struct deliver_ctx *ctx;
	struct lmtp_ctl *ctl; /* NULL for -l */
	char line[LMTP_LINE_MAX + 2]; /* + the CR of a longest line */
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

/* The next command into s->line, without its line end: its length
 * (NULs included), -1 at end of input, -2 for a line longer than
 * LMTP_LINE_MAX, whose rest has been read and dropped. */
static ssize_t
read_command(struct lmtp *s)
{
	size_t n;

	switch (lineread(s->in, s->line, sizeof(s->line), &n)) {
	case LINEREAD_LINE:
		return n > LMTP_LINE_MAX ? -2 : (ssize_t)n;
	case LINEREAD_PART:
		return lineread_skip(s->in) == 0 ? -2 : -1;
	default:
		return -1;
	}
}

/* A command the client should not have sent, logged (rate-limited) with
 * its first bytes made safe. */
static void
log_refused(const struct lmtp *s, const char *what, const char *verb,
            size_t vlen)
{
	char v[33], safe[140];

	if (vlen > sizeof(v) - 1)
		vlen = sizeof(v) - 1;
	memcpy(v, verb, vlen);
	v[vlen] = '\0';
	lograte_warnx(s->ctx->lograte, "LMTP: %s \"%s\" refused", what,
	              logsafe_str(v, safe, sizeof(safe)));
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

/* The SIZE=n parameter of MAIL (RFC 1870) after the path in arg: n, or -1
 * when there is none or it is no number (too many digits: LLONG_MAX). */
static long long
size_param(const char *arg)
{
	const char *p = strchr(arg, '>');
	long long v;
	size_t w, i;

	for (p = p != NULL ? p + 1 : ""; *p != '\0'; p += w) {
		while (*p == ' ')
			p++;
		w = strcspn(p, " ");
		if (w <= 5 || strncasecmp(p, "SIZE=", 5) != 0)
			continue;
		for (v = 0, i = 5; i < w; i++) {
			if (p[i] < '0' || p[i] > '9')
				return -1;
			v = v > (LLONG_MAX - 9) / 10 ? LLONG_MAX : v * 10 + (p[i] - '0');
		}
		return v;
	}
	return -1;
}

static int
cmd_mail(struct lmtp *s, const char *arg)
{
	size_t len;
	long long size;

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
	size = size_param(arg);
	if (size >= 0 && (unsigned long long)size > s->ctx->max_size) {
		s->sender[0] = '\0';
		return reply(s, "552 5.3.4 message size exceeds fixed maximum "
		                "message size (%zu bytes)", s->ctx->max_size);
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

/* Room for need bytes in *msg (need <= max): doubling, never past max. */
static int
grow(char **msg, size_t *cap, size_t need, size_t max)
{
	size_t ncap = *cap ? *cap : LMTP_FIRST_CHUNK;
	char *p;

	while (ncap < need && ncap <= max / 2)
		ncap *= 2;
	if (ncap < need || ncap > max)
		ncap = max;
	if (ncap <= *cap)
		return 0;
	if ((p = realloc(*msg, ncap)) == NULL)
		return -1;
	*msg = p;
	*cap = ncap;
	return 0;
}

/* One reply per recipient after DATA: the delivery's, or the reason the
 * message was not kept. */
static int
data_replies(struct lmtp *s, const char *msg, size_t len, int too_big,
             int nomem)
{
	struct deliver_status st;
	const char *rcpt;
	size_t i;
	int rc = 0;

	for (i = 0; i < s->nrcpt && rc == 0; i++) {
		rcpt = s->rcpt[i].r.address;
		if (too_big) {
			lograte_info(s->ctx->lograte, "to=<%s>, status=bounced "
			             "(message larger than max-message-size, %zu "
			             "bytes)", rcpt, s->ctx->max_size);
			rc = reply(s, "552 5.3.4 <%s>: message too big for system "
			              "(more than %zu bytes)", rcpt, s->ctx->max_size);
		} else if (nomem) {
			rc = reply(s, "451 4.3.0 <%s>: out of memory", rcpt);
		} else {
			deliver_write(s->ctx, &s->rcpt[i], s->sender, msg ? msg : "",
			              len, &st);
			rc = reply(s, "%d %s", deliver_reply_code(&st), st.text);
		}
	}
	return rc;
}

static int
cmd_data(struct lmtp *s)
{
	size_t len = 0, cap = 0, n, max = s->ctx->max_size;
	const char *l;
	char *msg = NULL;
	int r, rc, bol = 1, complete = 0, too_big = 0, nomem = 0;

	if (!s->has_mail)
		return reply(s, "503 5.5.1 MAIL first");
	if (s->nrcpt == 0)
		return reply(s, "554 5.5.1 no valid recipients");
	if (reply(s, "354 end data with <CR><LF>.<CR><LF>") != 0)
		return -1;
	/* Line by line, a long line in pieces; bol: this piece begins a
	 * line, so it may be the final "." or dot-stuffed. */
	while ((r = lineread(s->in, s->line, sizeof(s->line), &n)) !=
	       LINEREAD_EOF) {
		l = s->line;
		if (bol && r == LINEREAD_LINE && n == 1 && l[0] == '.') {
			complete = 1;
			break;
		}
		if (bol && n > 0 && l[0] == '.') {
			l++;
			n--;
		}
		bol = r == LINEREAD_LINE;
		if (too_big || nomem)
			continue; /* read to the end, keep nothing */
		if (n + (size_t)bol > max - len) {
			too_big = 1;
		} else if (grow(&msg, &cap, len + n + (size_t)bol, max) != 0) {
			log_warnx("out of memory reading a message");
			nomem = 1;
		} else {
			memcpy(msg + len, l, n);
			len += n;
			if (bol)
				msg[len++] = '\n';
			continue;
		}
		free(msg);
		msg = NULL;
		len = cap = 0;
	}
	if (!complete) {
		free(msg);
		/* Connection lost in DATA, or the server stopping ran out of
		 * patience: nothing delivered, the client retries. */
		if (stopping(s))
			reply(s, "421 4.3.2 shutting down, message not delivered");
		return -1;
	}
	rc = data_replies(s, msg, len, too_big, nomem);
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
		if ((n = read_command(&s)) == -1) {
			if (stopping(&s))
				reply(&s, "421 4.3.2 shutting down");
			break;
		}
		if (n == -2) {
			lograte_warnx(ctx->lograte, "LMTP: a command line longer "
			              "than %d bytes refused", LMTP_LINE_MAX);
			rc = reply(&s, "500 5.5.2 line too long");
			continue;
		}
		verb = s.line;
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
			               "250-ENHANCEDSTATUSCODES\r\n250-SIZE %zu\r\n"
			               "250 8BITMIME",
			           myname, ctx->max_size);
		} else if (memchr(s.line, '\0', (size_t)n) != NULL &&
		           !(vlen == 4 && strncasecmp(verb, "RCPT", 4) == 0)) {
			log_refused(&s, "command with a NUL byte", verb, vlen);
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
			log_refused(&s, "unrecognized command", verb, vlen);
			rc = reply(&s, "500 5.5.2 command not recognized");
		}
	}
	free(s.rcpt);
	return rc;
}
