/*
 * policy.c - may this client send to this recipient?  (policy.h)
 *
 * Order of the checks, first match wins:
 *   1. the recipient is local (no domain, or a domain in local-domains)
 *   2. the client is in trusted-networks
 *   3. the session authenticated with SMTP AUTH ({auth_authen} non-empty)
 *   4. the client is in the relay table and not expired (POP/IMAP login)
 * otherwise 550 5.7.1; a table that cannot be read gives 451 4.3.0,
 * because a relay check that fails open is an open relay.
 *
 * Recipient syntax (RFC 5321 4.1.2): the MTA hands us the RCPT argument as
 * the client sent it, normally in <angle brackets>.  A source route
 * ("@a,@b:user@dom") is ignored, as RFC 5321 appendix C lets receivers do
 * and Postfix does.  The domain follows the last '@' that is not inside a
 * quoted local part ("a@b"@example.org is a mailbox at example.org).
 *
 * Sender-specified routing: an address such as user%evil.example@local,
 * evil.example!user@local or "user@evil.example"@local names a local
 * domain, but the MTA may rewrite it (Postfix's allow_percent_hack and
 * swap_bangpath are on by default, and unquoting "a@b" gives a second '@')
 * and then deliver it elsewhere.  Postfix's reject_unauth_destination
 * refuses such addresses for the same reason (allow_untrusted_routing =
 * no).  We do not treat them as local: they need relay permission like any
 * other remote recipient.  Where the milter is the only relay gate, this
 * is what keeps it from being an open relay.
 */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Copy [s, s+n) lowercased into out, minus one trailing '.'. */
static int
copy_domain(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n >= outlen)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = lower(s[i]);
	out[n] = '\0';
	return 0;
}

int
policy_parse_rcpt(const char *rcpt, struct policy_rcpt *r)
{
	const char *s = rcpt, *end, *p, *at = NULL;
	int quoted = 0, escaped = 0;

	memset(r, 0, sizeof(*r));
	if (s == NULL)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (s < end && *s == '<')
		s++;
	if (end > s && end[-1] == '>')
		end--;
	if (s < end && *s == '@') {
		/* Source route: everything up to the first ':' goes. */
		p = memchr(s, ':', (size_t)(end - s));
		if (p == NULL)
			return -1;
		s = p + 1;
	}
	if (s == end)
		return -1;
	for (p = s; p < end; p++) {
		if (escaped) {
			escaped = 0;
			continue;
		}
		if (*p == '\\')
			escaped = 1;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '@' && !quoted)
			at = p;
	}
	if (quoted || escaped)
		return -1;
	/* The local part is [s, at) (or everything); any routing operator
	 * in it, quoted or not, may send the mail elsewhere. */
	for (p = s; p < (at != NULL ? at : end); p++)
		if (*p == '%' || *p == '!' || *p == '@')
			r->routed = 1;
	if (at == NULL)
		return 0;
	r->has_domain = 1;
	return copy_domain(at + 1, (size_t)(end - at - 1), r->domain,
	                   sizeof(r->domain));
}

int
policy_add_local_domain(struct policy *p, const char *dom)
{
	char buf[POLICY_DOMAIN_MAX], **v, *copy;

	if (copy_domain(dom, strlen(dom), buf, sizeof(buf)) == -1)
		return -1;
	v = realloc(p->local_domains, (p->nlocal + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	p->local_domains = v;
	if ((copy = strdup(buf)) == NULL)
		return -1;
	p->local_domains[p->nlocal++] = copy;
	return 0;
}

int
policy_is_local_domain(const struct policy *p, const char *dom)
{
	size_t i;

	for (i = 0; i < p->nlocal; i++)
		if (strcmp(p->local_domains[i], dom) == 0)
			return 1;
	return 0;
}

int
policy_trusted(const struct policy *p, const struct addr *a)
{
	return a != NULL && cidr_list_match(&p->trusted, a);
}

void
policy_free(struct policy *p)
{
	size_t i;

	for (i = 0; i < p->nlocal; i++)
		free(p->local_domains[i]);
	free(p->local_domains);
	p->local_domains = NULL;
	p->nlocal = 0;
	cidr_list_free(&p->trusted);
}

static void
verdict(struct policy_decision *d, enum policy_verdict v,
        enum policy_reason why)
{
	d->verdict = v;
	d->reason = why;
}

void
policy_decide(const struct policy *p, const char *rcpt,
              const struct policy_client *c, policy_lookup_fn lookup,
              void *lookup_arg, time_t now, struct policy_decision *d)
{
	struct policy_rcpt r;
	int rc;

	memset(d, 0, sizeof(*d));
	if (policy_parse_rcpt(rcpt, &r) == 0) {
		if (!r.routed &&
		    (!r.has_domain || policy_is_local_domain(p, r.domain))) {
			verdict(d, POLICY_ACCEPT, POLICY_LOCAL_DOMAIN);
			return;
		}
		d->routed = r.routed &&
		            (!r.has_domain || policy_is_local_domain(p, r.domain));
	}
	if (c->trusted) {
		verdict(d, POLICY_ACCEPT, POLICY_TRUSTED);
		return;
	}
	if (c->auth_authen != NULL && c->auth_authen[0] != '\0') {
		verdict(d, POLICY_ACCEPT, POLICY_SMTP_AUTH);
		return;
	}
	if (c->addr == NULL) {
		verdict(d, POLICY_REJECT, POLICY_NOT_AUTHENTICATED);
		return;
	}
	rc = lookup(lookup_arg, c->addr, now, &d->expires, d->err,
	            sizeof(d->err));
	if (rc == 1)
		verdict(d, POLICY_ACCEPT, POLICY_POP_AUTH);
	else if (rc == 0)
		verdict(d, POLICY_REJECT, POLICY_NOT_AUTHENTICATED);
	else {
		if (d->err[0] == '\0')
			strcpy(d->err, "unknown error");
		verdict(d, POLICY_TEMPFAIL, POLICY_TABLE_ERROR);
	}
}

const char *
policy_reason_name(enum policy_reason r)
{
	switch (r) {
	case POLICY_LOCAL_DOMAIN:
		return "local-domain";
	case POLICY_TRUSTED:
		return "trusted";
	case POLICY_SMTP_AUTH:
		return "smtp-auth";
	case POLICY_POP_AUTH:
		return "pop-auth";
	case POLICY_NOT_AUTHENTICATED:
		return "not-authenticated";
	case POLICY_TABLE_ERROR:
		return "table-error";
	}
	return "unknown";
}
