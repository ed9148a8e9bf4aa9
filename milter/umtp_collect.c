/*
 * umtp_collect.c - keep one message for the UMTP hooks (umtp_collect.h).
 */
#include "umtp_collect.h"
#include "mailaddr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
umtp_collect_init(struct umtp_collect *c, size_t cap, int want_body)
{
	memset(c, 0, sizeof *c);
	c->cap = cap;
	c->want_body = want_body;
}

void
umtp_collect_free(struct umtp_collect *c)
{
	for (size_t i = 0; i < c->nrcpt; i++)
		free(c->rcpts[i]);
	free(c->rcpts);
	free(c->sender);
	free(c->hdr);
	free(c->body);
	for (size_t i = 0; i < c->nmsgid; i++)
		free(c->msgids[i]);
	memset(c, 0, sizeof *c);
}

static int
nomem(struct umtp_collect *c)
{
	c->nomem = 1;
	return -1;
}

int
umtp_collect_sender(struct umtp_collect *c, const char *sender)
{
	size_t n = strlen(sender) + 1;

	free(c->sender);
	if ((c->sender = malloc(n)) == NULL)
		return nomem(c);
	mailaddr_strip(sender, c->sender, n);
	return 0;
}

int
umtp_collect_rcpt(struct umtp_collect *c, const char *rcpt)
{
	if (c->nrcpt == c->rcap) {
		size_t cap = c->rcap ? 2 * c->rcap : 4;
		char **v = realloc(c->rcpts, cap * sizeof *v);
		if (v == NULL)
			return nomem(c);
		c->rcpts = v;
		c->rcap = cap;
	}
	if ((c->rcpts[c->nrcpt] = strdup(rcpt)) == NULL)
		return nomem(c);
	c->nrcpt++;
	return 0;
}

/* Append len bytes to *buf, dropping CR before LF; counts against cap. */
static int
append(struct umtp_collect *c, char **buf, size_t *blen, size_t *bcap,
       const char *d, size_t len)
{
	if (c->toobig)
		return 0;
	if (c->hlen + c->blen + len + 2 > c->cap) {
		c->toobig = 1;
		free(c->body);
		c->body = NULL;
		c->blen = c->bcap = 0;
		return 0;
	}
	if (*blen + len + 2 > *bcap) {
		size_t cap = *bcap ? *bcap : 1024;
		while (cap < *blen + len + 2)
			cap *= 2;
		char *t = realloc(*buf, cap);
		if (t == NULL)
			return nomem(c);
		*buf = t;
		*bcap = cap;
	}
	memcpy(*buf + *blen, d, len);
	*blen += len;
	return 0;
}

static int
append_lf(struct umtp_collect *c, char **buf, size_t *blen, size_t *bcap,
          const char *d, size_t len, int *cr)
{
	size_t i = 0, start = 0;

	if (*cr && len > 0 && d[0] != '\n' && append(c, buf, blen, bcap, "\r", 1) < 0)
		return -1;
	*cr = 0;
	for (i = 0; i < len; i++) {
		if (d[i] != '\r')
			continue;
		if (append(c, buf, blen, bcap, d + start, i - start) < 0)
			return -1;
		start = i + 1;
		if (i + 1 == len)
			*cr = 1;       /* decided by the next chunk */
		else if (d[i + 1] != '\n' &&
		         append(c, buf, blen, bcap, "\r", 1) < 0)
			return -1;
	}
	return append(c, buf, blen, bcap, d + start, len - start);
}

int
umtp_collect_header(struct umtp_collect *c, const char *name,
                    const char *value)
{
	int cr = 0;

	if (c->nmsgid < UMTP_COLLECT_MAXIDS &&
	    strcasecmp(name, "Message-ID") == 0) {
		if ((c->msgids[c->nmsgid] = strdup(value)) == NULL)
			return nomem(c);
		c->msgid = c->msgids[0];
		c->nmsgid++;
	}
	if (!c->want_body)
		return 0; /* the dedup side needs the Message-ID only */
	if (append(c, &c->hdr, &c->hlen, &c->hcap, name, strlen(name)) < 0 ||
	    append(c, &c->hdr, &c->hlen, &c->hcap, ": ", 2) < 0 ||
	    append_lf(c, &c->hdr, &c->hlen, &c->hcap, value, strlen(value), &cr) < 0 ||
	    (cr && append(c, &c->hdr, &c->hlen, &c->hcap, "\r", 1) < 0) ||
	    append(c, &c->hdr, &c->hlen, &c->hcap, "\n", 1) < 0)
		return -1;
	return 0;
}

int
umtp_collect_body(struct umtp_collect *c, const unsigned char *d, size_t len)
{
	if (!c->want_body)
		return 0;
	return append_lf(c, &c->body, &c->blen, &c->bcap, (const char *)d, len,
	                 &c->body_cr);
}

int
umtp_collect_message(const struct umtp_collect *c, const char *extra_name,
                     const char *extra_value, char **out, size_t *outlen)
{
	size_t en = extra_name ? strlen(extra_name) + strlen(extra_value) + 3 : 0;
	size_t n = c->hlen + en + 1 + c->blen + (c->body_cr ? 1 : 0);
	char *m, *p;

	if (!c->want_body || c->toobig || c->nomem || (m = malloc(n + 1)) == NULL)
		return -1;
	p = m;
	if (c->hlen)
		memcpy(p, c->hdr, c->hlen);
	p += c->hlen;
	if (extra_name) {
		p += sprintf(p, "%s: %s\n", extra_name, extra_value);
	}
	*p++ = '\n';
	if (c->blen)
		memcpy(p, c->body, c->blen);
	p += c->blen;
	if (c->body_cr)
		*p++ = '\r';
	*p = '\0';
	*out = m;
	*outlen = (size_t)(p - m);
	return 0;
}
