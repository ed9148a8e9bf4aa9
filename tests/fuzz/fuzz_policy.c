/*
 * fuzz_policy.c - libFuzzer target for leafmail-policyd's connections
 * (policyd/client.c, policyreq.c, answer.c): the input is everything a
 * client of the policy socket sends.
 *
 * The relay table is a stand-in that answers from the client address's
 * last byte (present, absent, or unreadable), so every path of the
 * decision is reached without a file.  Besides the sanitizers' checks it
 * asserts what Postfix relies on: the output is a sequence of
 * "action=X\n\n" with X one of the four answers policyd gives, so no
 * input can forge an action or break the framing; and no more answers
 * than empty lines in the input.  A violation aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "log.h"
#include "client.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy pol;
static struct lograte quiet; /* burst 0: no log line at all */

static int
lookup(void *arg, const struct addr *a, time_t now, time_t *expires,
       char *err, size_t errlen)
{
	(void)arg;
	*expires = now + 60;
	switch (a->bytes[a->family == AF_INET ? 3 : 15] % 3) {
	case 0:
		return 0;
	case 1:
		return 1;
	default:
		snprintf(err, errlen, "stand-in table error");
		return -1;
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_policy", 0, 0);
	if (policy_add_local_domain(&pol, "example.org") != 0 ||
	    cidr_list_add(&pol.trusted, "10.0.0.0/8") != 0)
		abort();
	lograte_init(&quiet, 0, 1000);
	return 0;
}

static const char *const answers[] = {"OK", "DUNNO", ANSWER_TEMPFAIL,
                                      ANSWER_BADREQ};

static void
check(const char *out, size_t len, long answered, const uint8_t *in,
      size_t inlen)
{
	size_t i = 0, empty = 0, k;
	long n = 0;

	for (k = 0; k < inlen; k++) /* an upper bound on the requests */
		if (in[k] == '\n' && (k == 0 || in[k - 1] == '\n' ||
		                      (in[k - 1] == '\r' && (k == 1 || in[k - 2] == '\n'))))
			empty++;
	while (i < len) {
		const char *end = memchr(out + i, '\n', len - i);
		size_t a, alen;

		if (end == NULL || (size_t)(end - out) + 1 >= len ||
		    end[1] != '\n' || strncmp(out + i, "action=", 7) != 0)
			abort();
		alen = (size_t)(end - out) - i - 7;
		for (a = 0; a < sizeof(answers) / sizeof(answers[0]); a++)
			if (strlen(answers[a]) == alen &&
			    memcmp(answers[a], out + i + 7, alen) == 0)
				break;
		if (a == sizeof(answers) / sizeof(answers[0]))
			abort();
		i = (size_t)(end - out) + 2;
		n++;
	}
	if (n != answered || (size_t)n > empty)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct answer_ctx ctx = {&pol, lookup, NULL, &quiet, &quiet, &quiet};
	FILE *in, *out;
	char *obuf = NULL;
	size_t olen = 0;
	long n;

	if (size == 0)
		return 0;
	if ((in = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	if ((out = open_memstream(&obuf, &olen)) == NULL) {
		fclose(in);
		return 0;
	}
	n = client_run(in, out, &ctx);
	fclose(in);
	fclose(out);
	check(obuf, olen, n, data, size);
	free(obuf);
	return 0;
}
