/*
 * batch.h - the logins read but not yet written: one entry per client
 * address, the latest expiry winning.
 *
 *   batch_add(b, a, expires, when, source)  add, or raise an address's
 *                   expiry; -1 when out of memory (the batch is unchanged)
 *   batch_clear(b)  empty it, keeping the memory for the next one
 *   batch_free(b)
 *
 * Open addressing keyed by the address bytes, so a catch-up over a log
 * with hundreds of thousands of logins costs one hash per line, no
 * allocation once the batch has grown.  `source` is not copied: it names
 * a configured source, which outlives every batch.
 */
#ifndef LEAFMAIL_RELAYD_BATCH_H
#define LEAFMAIL_RELAYD_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"

struct pending {
	struct addr a;
	time_t expires;
	time_t when;        /* the login's own time, for the log line */
	const char *source; /* source name, for the log line */
};

struct batch {
	struct pending *v;
	size_t n, cap;
	uint32_t *slot; /* open addressing: index + 1, 0 = empty */
	size_t nslot;   /* power of two, >= 2 * cap */
};

int batch_add(struct batch *b, const struct addr *a, time_t expires,
              time_t when, const char *source);
void batch_clear(struct batch *b);
void batch_free(struct batch *b);

#endif
