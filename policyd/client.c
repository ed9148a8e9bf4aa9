/*
 * client.c - requests and answers on one connection (client.h).
 */
#include "client.h"

#include <time.h>

#include "lineread.h"
#include "policyreq.h"

long
client_run(FILE *in, FILE *out, const struct answer_ctx *ctx)
{
	struct policyreq req;
	char line[POLICYREQ_LINE_MAX + 2]; /* + the CR of a longest line */
	long answered = 0;
	size_t n;
	int r;

	policyreq_reset(&req);
	while ((r = lineread(in, line, sizeof(line), &n)) != LINEREAD_EOF) {
		if (r == LINEREAD_PART || n > POLICYREQ_LINE_MAX) {
			policyreq_bad(&req, "an attribute line too long");
			if (r == LINEREAD_PART && lineread_skip(in) != 0)
				break;
			continue;
		}
		if (policyreq_line(&req, line, n) == 0)
			continue;
		if (fprintf(out, "action=%s\n\n",
		            answer_request(ctx, &req, time(NULL))) < 0 ||
		    fflush(out) != 0)
			return -1;
		answered++;
		policyreq_reset(&req);
	}
	return answered;
}
