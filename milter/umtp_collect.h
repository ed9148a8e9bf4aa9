/*
 * umtp_collect.h - one message as the milter sees it (envelope, headers,
 * body), kept for the UMTP hooks (umtp_hooks.c): the shadow sender needs
 * the whole message, the dedup side the Message-ID and the recipients.
 * No libmilter here, so the unit tests can drive it.
 *
 * Line endings become LF (the MTA hands the milter CRLF; the datagram
 * carries what the seed carried, and the receiver's injector turns LF back
 * into CRLF).  The body is kept only when asked (shadow on) and only up
 * to cap bytes: past that the message cannot fit one datagram anyway, so
 * collecting stops and toobig is set.
 *
 *   umtp_collect_init/free
 *   umtp_collect_sender/rcpt/header/body   the callbacks' data
 *   umtp_collect_message()  header block + optional extra header + body
 */
#ifndef LEAFMAIL_MILTER_UMTP_COLLECT_H
#define LEAFMAIL_MILTER_UMTP_COLLECT_H

#include <stddef.h>

/* Message-ID headers kept: Postfix's cleanup adds its own to mail from
 * local clients that lack one, besides the one the shadow side adds, so
 * the SMTP copy can carry two (umtp_dedup.h). */
#define UMTP_COLLECT_MAXIDS 4

struct umtp_collect {
	char *sender;        /* without <>; "" for the null sender */
	char **rcpts;        /* as the MTA gave them (for smfi_delrcpt) */
	size_t nrcpt, rcap;
	char *hdr;           /* "Name: value\n"..., LF endings */
	size_t hlen, hcap;
	char *body;
	size_t blen, bcap;
	char *msgid;         /* the first Message-ID header's value, or NULL */
	char *msgids[UMTP_COLLECT_MAXIDS]; /* every one (msgids[0] == msgid) */
	size_t nmsgid;
	size_t cap;          /* most bytes of message kept */
	int want_body;
	int body_cr;         /* last body byte seen was a CR not yet written */
	int toobig;          /* more than cap bytes: no message kept */
	int nomem;
};

void umtp_collect_init(struct umtp_collect *c, size_t cap, int want_body);
void umtp_collect_free(struct umtp_collect *c);
/* -1 on no memory (then c->nomem is set and the hooks do nothing). */
int umtp_collect_sender(struct umtp_collect *c, const char *sender);
int umtp_collect_rcpt(struct umtp_collect *c, const char *rcpt);
int umtp_collect_header(struct umtp_collect *c, const char *name,
                        const char *value);
int umtp_collect_body(struct umtp_collect *c, const unsigned char *d,
                      size_t len);
/* The message; extra_name NULL for none.  malloc'd into *out, -1 on no
 * memory or when the body was not kept. */
int umtp_collect_message(const struct umtp_collect *c, const char *extra_name,
                         const char *extra_value, char **out, size_t *outlen);
/* s without surrounding blanks and one pair of <>; -1 when it does not
 * fit outlen. */

#endif
