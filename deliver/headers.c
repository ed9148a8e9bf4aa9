/*
 * headers.c - trace headers and loop detection (see headers.h).
 *
 * Why "top": Postfix pipe(8) with flags DR writes "Return-Path:" and
 * "Delivered-To:" as the first lines of what it pipes to us, and adding a
 * second copy would be noise; a Delivered-To for our recipient further
 * down, below Received lines, means the message went out and came back,
 * the classic forwarding loop, which Postfix's local(8) and virtual(8)
 * also stop with 5.4.6.  A Delivered-To at the very top of a message that
 * did not come from the MTA with flag D is taken as the MTA's: that is the
 * one case a loop could slip by once, and the next pass stops it (the
 * MTA's Received line then sits above it).
 *
 * Header values are compared unfolded, without surrounding white space or
 * angle brackets, ignoring case (domains are case-insensitive and we fold
 * local parts by default).  Line ends may be LF or CRLF.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "headers.h"
#include "mailaddr.h"

/* One logical header field: name and unfolded-value span in the message. */
struct field {
	const char *name;
	size_t namelen;
	const char *val; /* raw value, continuation lines included */
	size_t vallen;
};

/* Parse the field starting at *pos; 0 at the end of the header. */
static int
next_field(const char *msg, size_t len, size_t *pos, struct field *f)
{
	size_t p = *pos, e, colon;

	if (p >= len || msg[p] == '\n' || (msg[p] == '\r' && p + 1 < len &&
	                                   msg[p + 1] == '\n'))
		return 0;
	/* Field name: printable, no space, up to ':' (RFC 5322 ftext). */
	for (colon = p; colon < len && msg[colon] != ':'; colon++)
		if ((unsigned char)msg[colon] <= ' ' || msg[colon] == 0x7f)
			return 0;
	if (colon >= len || colon == p)
		return 0;
	e = colon;
	for (;;) {
		while (e < len && msg[e] != '\n')
			e++;
		if (e >= len)
			break;
		e++;
		if (e < len && (msg[e] == ' ' || msg[e] == '\t'))
			continue; /* folded */
		break;
	}
	f->name = msg + p;
	f->namelen = colon - p;
	f->val = msg + colon + 1;
	f->vallen = e - colon - 1;
	*pos = e;
	return 1;
}

static int
name_is(const struct field *f, const char *name)
{
	return f->namelen == strlen(name) &&
	       strncasecmp(f->name, name, f->namelen) == 0;
}

/* Compare a raw (maybe folded) value with an address. */
static int
value_is(const struct field *f, const char *addr)
{
	char v[1024], bare[1024];
	size_t i, n = 0;

	for (i = 0; i < f->vallen && n < sizeof(v) - 1; i++)
		if (f->val[i] != '\r' && f->val[i] != '\n')
			v[n++] = f->val[i];
	v[n] = '\0';
	return mailaddr_strip(v, bare, sizeof(bare)) >= 0 &&
	       strcasecmp(bare, addr) == 0;
}

void
headers_scan(const char *msg, size_t len, const char *rcpt,
             struct headers_info *hi)
{
	struct field f;
	size_t pos = 0;
	int top = 1;

	memset(hi, 0, sizeof(*hi));
	while (next_field(msg, len, &pos, &f)) {
		int dt = name_is(&f, "Delivered-To");
		if (top && !name_is(&f, "Return-Path") && !dt &&
		    !name_is(&f, "X-Original-To"))
			top = 0;
		if (top && name_is(&f, "Return-Path"))
			hi->has_return_path = 1;
		if (dt && value_is(&f, rcpt)) {
			if (top && !hi->has_delivered_to)
				hi->has_delivered_to = 1;
			else
				hi->loop = 1;
		}
	}
}

int
headers_value_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

ssize_t
headers_prefix(char *out, size_t n, const struct headers_info *hi,
               const char *sender, const char *rcpt)
{
	size_t o = 0;
	int r;

	if (n > 0)
		out[0] = '\0';
	if (!hi->has_return_path) {
		r = snprintf(out, n, "Return-Path: <%s>\n", sender ? sender : "");
		if (r < 0 || (size_t)r >= n)
			return -1;
		o = (size_t)r;
	}
	if (!hi->has_delivered_to) {
		r = snprintf(out + o, n - o, "Delivered-To: %s\n", rcpt);
		if (r < 0 || (size_t)r >= n - o)
			return -1;
		o += (size_t)r;
	}
	return (ssize_t)o;
}
