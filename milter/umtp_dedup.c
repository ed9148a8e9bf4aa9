/*
 * umtp_dedup.c - the receiving side of the milter's UMTP (umtp_dedup.h).
 */
#include "umtp_dedup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "dedupstore.h"
#include "umtp_shadow.h"

long
umtp_dedup_decide(struct store *t, struct umtp_peers *peers,
                  char *const *msgids, size_t nmsgid, char *const *rcpts,
                  size_t n, time_t now, long long ttl, int *del, char *err,
                  size_t errlen)
{
	const char **rec = calloc(n ? n : 1, sizeof *rec);
	size_t nrec = 0;
	long ndel = 0;

	memset(del, 0, n * sizeof *del);
	if (errlen)
		err[0] = '\0';
	if (rec == NULL) {
		snprintf(err, errlen, "out of memory");
		return LMDBFILE_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		int seen = 0;

		if (peers != NULL && umtp_shadow_peer_of(peers, rcpts[i]) != NULL)
			continue;
		for (size_t k = 0; k < nmsgid && !del[i]; k++) {
			struct dedup_record r;
			int rc = dedupstore_check(t, msgids[k], rcpts[i], now, ttl, &r,
			                          err, errlen);
			if (rc == LMDBFILE_ERR) {
				free(rec);
				memset(del, 0, n * sizeof *del);
				return LMDBFILE_ERR;
			}
			if (rc == 1 && r.via == DEDUP_VIA_UMTP) {
				del[i] = 1;
				ndel++;
			}
			seen |= rc == 1;
		}
		if (!seen)
			rec[nrec++] = rcpts[i];
	}
	for (size_t k = 0; k < nmsgid && nrec > 0; k++) {
		if (dedupstore_record(t, msgids[k], rec, nrec, DEDUP_VIA_SMTP, now,
		                      ttl, 0, err, errlen) == LMDBFILE_ERR) {
			/* Deleting still stands: the UMTP copy was delivered.
			 * err says the recording failed. */
			break;
		}
	}
	free(rec);
	return ndel;
}
