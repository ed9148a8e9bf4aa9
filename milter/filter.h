/*
 * filter.h - leafmail-milter's libmilter callbacks.
 *
 *   filter_register()   hand the callbacks to libmilter (smfi_register)
 *
 * The configuration is read once by main() and shared read-only by every
 * worker thread.  The relay table is opened once and shared too (table.h:
 * reads are thread-safe); if it cannot be opened at start, the RCPT check
 * keeps trying and answers 451 4.3.0 meanwhile, never an open relay.
 */
#ifndef LEAFMAIL_MILTER_FILTER_H
#define LEAFMAIL_MILTER_FILTER_H

#include <limits.h>
#include <stddef.h>

#include "policy.h"

struct table;

struct filter_config {
	struct policy policy;      /* local-domains, trusted-networks */
	char table_path[PATH_MAX]; /* "<relay.table>.lmdb" */
	struct table *table;       /* opened by main(), or NULL: retried */
	long long expire;          /* relay.expire, for the 550 text */
};

/* fc must stay valid until smfi_main() returns.  0, or -1 with err. */
int filter_register(struct filter_config *fc, char *err, size_t errlen);

#endif
