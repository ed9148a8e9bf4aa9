/*
 * umtp_dedup.c - the receiving side of the milter's UMTP (umtp_dedup.h).
 */
#include "umtp_dedup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "umtp_shadow.h"

#define WAIT_FIRST_MS 5
#define WAIT_MAX_MS 100

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long long ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1)
		;
}

long
umtp_dedup_decide(struct store *s, struct umtp_peers *peers,
                  char *const *msgids, size_t nmsgid, char *const *rcpts,
                  size_t n, long long ttl, long long wait_ms,
                  umtp_dedup_waiting_fn waiting, void *warg,
                  enum claim_verdict *verdict, struct claim *found,
                  size_t *nwait, char *err, size_t errlen)
{
	char **sub = calloc(n ? n : 1, sizeof(*sub));
	size_t *of = calloc(n ? n : 1, sizeof(*of));
	enum claim_verdict *sv = calloc(n ? n : 1, sizeof(*sv));
	struct claim *sf = calloc(n ? n : 1, sizeof(*sf));
	long long end = mono_ms() + wait_ms, pause = WAIT_FIRST_MS;
	long ndrop = 0;
	size_t m = 0, i;
	int told = 0;

	*nwait = 0;
	if (errlen)
		err[0] = '\0';
	for (i = 0; i < n; i++) {
		verdict[i] = CLAIM_KEEP;
		if (found != NULL)
			memset(&found[i], 0, sizeof(found[i]));
	}
	if (sub == NULL || of == NULL || sv == NULL || sf == NULL) {
		snprintf(err, errlen, "out of memory");
		ndrop = STORE_ERR;
		goto out;
	}
	/* The first round asks for every recipient considered, later ones
	 * for those still waiting. */
	for (i = 0; i < n; i++)
		if (peers == NULL || umtp_shadow_peer_of(peers, rcpts[i]) == NULL) {
			of[m] = i;
			sub[m++] = rcpts[i];
		}
	while (m > 0) {
		struct claim first = {0};
		size_t k = 0;
		if (claimstore_smtp(s, msgids, nmsgid, sub, m, claimstore_now_ms(),
		                    ttl, sv, sf, err, errlen) == STORE_ERR) {
			for (i = 0; i < n; i++)
				verdict[i] = CLAIM_KEEP;
			*nwait = 0;
			ndrop = STORE_ERR;
			goto out;
		}
		for (size_t j = 0; j < m; j++) {
			verdict[of[j]] = sv[j];
			if (found != NULL)
				found[of[j]] = sf[j];
			if (sv[j] == CLAIM_WAIT) {
				if (k == 0)
					first = sf[j];
				of[k] = of[j];
				sub[k++] = sub[j];
			}
		}
		m = k;
		long long left = end - mono_ms();
		if (m == 0 || left <= 0)
			break;
		if (!told && waiting != NULL)
			waiting(warg, rcpts[of[0]], &first);
		told = 1;
		sleep_ms(pause < left ? pause : left);
		pause = pause * 2 < WAIT_MAX_MS ? pause * 2 : WAIT_MAX_MS;
	}
	for (i = 0; i < n; i++) {
		ndrop += verdict[i] == CLAIM_DROP;
		*nwait += verdict[i] == CLAIM_WAIT;
	}
out:
	free(sub);
	free(of);
	free(sv);
	free(sf);
	return ndrop;
}
