/*
 * policyreq.h - one Postfix SMTPD access policy request, read attribute
 * by attribute (Postfix's SMTPD_POLICY_README: "name=value" lines ending
 * in LF, the request ended by an empty line; the answer "action=..." and
 * an empty line; the connection stays open for the next request).
 *
 *   policyreq_reset(&r)            before each request
 *   policyreq_line(&r, line, len)  one line without its LF (len bytes, a
 *                                  NUL among them makes the request bad);
 *                                  0: more to come, 1: the empty line
 *                                  ended the request
 *   policyreq_bad(&r, why)         mark the request bad (a line too long
 *                                  for the reader, say); the first reason
 *                                  is kept
 *
 * Only what the relay decision needs is kept: request, protocol_state,
 * client_address, recipient, sasl_username; the rest is counted and
 * dropped, so a request costs the fixed size of struct policyreq however
 * long it is.  A request is bad, and must be answered with a temporary
 * failure, never "allowed", when a line has no '=' or an empty name, a
 * value does not fit its field, an attribute we use comes twice, or it
 * has more than POLICYREQ_MAX_ATTRS attributes: Postfix sends none of
 * these, so whoever does is not Postfix, or Postfix is not what we think.
 * Nothing here logs, allocates or does I/O.
 */
#ifndef LEAFMAIL_POLICYREQ_H
#define LEAFMAIL_POLICYREQ_H

#include <stddef.h>

/* Postfix's own lines stay far below: its SMTP command lines, which carry
 * the longest values (recipient, sender, HELO), are limited to
 * line_length_limit, 2048 bytes. */
#define POLICYREQ_LINE_MAX 4096
/* Postfix 3.7 sends about 40 attributes. */
#define POLICYREQ_MAX_ATTRS 128

struct policyreq {
	char request[32];         /* "smtpd_access_policy" */
	char protocol_state[16];  /* "RCPT", ... */
	char client_address[64];  /* as Postfix writes it */
	char recipient[POLICYREQ_LINE_MAX];
	char sasl_username[256];
	unsigned seen;            /* bits: the attributes above given */
	unsigned nattr;
	const char *bad;          /* NULL, or why the request is refused */
};

void policyreq_reset(struct policyreq *r);
int policyreq_line(struct policyreq *r, const char *line, size_t len);
void policyreq_bad(struct policyreq *r, const char *why);

#endif
