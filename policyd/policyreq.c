/*
 * policyreq.c - a policy request, attribute by attribute (policyreq.h).
 */
#include "policyreq.h"

#include <string.h>

struct field {
	const char *name;
	size_t off, size;
};

#define FIELD(n, m) {n, offsetof(struct policyreq, m), \
                     sizeof(((struct policyreq *)0)->m)}
static const struct field fields[] = {
	FIELD("request", request),
	FIELD("protocol_state", protocol_state),
	FIELD("client_address", client_address),
	FIELD("recipient", recipient),
	FIELD("sasl_username", sasl_username),
};

void
policyreq_reset(struct policyreq *r)
{
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		((char *)r + fields[i].off)[0] = '\0';
	r->seen = 0;
	r->nattr = 0;
	r->bad = NULL;
}

void
policyreq_bad(struct policyreq *r, const char *why)
{
	if (r->bad == NULL)
		r->bad = why;
}

int
policyreq_line(struct policyreq *r, const char *line, size_t len)
{
	const char *eq;
	size_t i, nlen, vlen;

	if (len == 0)
		return 1;
	if (r->bad != NULL)
		return 0; /* read on to the empty line, keep nothing */
	if (++r->nattr > POLICYREQ_MAX_ATTRS) {
		policyreq_bad(r, "too many attributes");
		return 0;
	}
	if (memchr(line, '\0', len) != NULL) {
		policyreq_bad(r, "NUL byte in an attribute");
		return 0;
	}
	if ((eq = memchr(line, '=', len)) == NULL || eq == line) {
		policyreq_bad(r, "a line that is not name=value");
		return 0;
	}
	nlen = (size_t)(eq - line);
	vlen = len - nlen - 1;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strlen(fields[i].name) != nlen ||
		    memcmp(fields[i].name, line, nlen) != 0)
			continue;
		if (r->seen & (1u << i)) {
			policyreq_bad(r, "an attribute given twice");
		} else if (vlen >= fields[i].size) {
			policyreq_bad(r, "an attribute value too long");
		} else {
			memcpy((char *)r + fields[i].off, eq + 1, vlen);
			((char *)r + fields[i].off)[vlen] = '\0';
			r->seen |= 1u << i;
		}
		break;
	}
	return 0;
}
