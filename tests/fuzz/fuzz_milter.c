/*
 * fuzz_milter.c - libFuzzer target for the milter's parsers of what the
 * SMTP client sends: the RCPT argument (lib/policy.c) and the HELO
 * argument (milter/helo.c).
 *
 * The input, cut at the first NUL as libmilter hands it over, is decided
 * as a recipient for an untrusted client without SMTP AUTH whose address
 * the relay table does not hold, with one local domain, example.org.  The
 * property that makes the milter no open relay: such a recipient may only
 * ever be accepted as local (reason local-domain), and then it must parse
 * to example.org (or to no domain at all) with no routing in its local
 * part.  The same bytes as a HELO must get a verdict in range whose reply
 * text is free of CR, LF and '%'.  A violation aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "helo.h"
#include "policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy pol;
static struct helo_self self;
static struct addr client;

static int
not_in_table(void *arg, const struct addr *a, time_t now, time_t *expires,
             char *err, size_t errlen)
{
	(void)arg;
	(void)a;
	(void)now;
	(void)expires;
	(void)err;
	(void)errlen;
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct addr me;

	(void)argc;
	(void)argv;
	if (policy_add_local_domain(&pol, "example.org") != 0 ||
	    addr_parse("192.0.2.1", &client) != 0 ||
	    addr_parse("198.51.100.1", &me) != 0 ||
	    helo_self_add_addr(&self, &me) != 0)
		abort();
	strcpy(self.name, "mx.example.org");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct policy_client c = {&client, 0, NULL};
	struct policy_decision d;
	struct policy_rcpt pr;
	enum helo_result h;
	const char *text;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	memset(&d, 0, sizeof d);
	policy_decide(&pol, s, &c, not_in_table, NULL, 1795348800, &d);
	if (d.verdict == POLICY_ACCEPT) {
		if (d.reason != POLICY_LOCAL_DOMAIN)
			abort();
		if (policy_parse_rcpt(s, &pr) != 0 || pr.routed ||
		    (pr.has_domain && strcmp(pr.domain, "example.org") != 0))
			abort();
	}

	h = helo_check(s, &client, 0, &pol, &self, "mx.example.org");
	if ((int)h < (int)HELO_OK || (int)h > (int)HELO_CLAIMS_ADDRESS)
		abort();
	text = helo_result_text(h);
	if (text == NULL || strpbrk(text, "\r\n%") != NULL)
		abort();
	free(s);
	return 0;
}
