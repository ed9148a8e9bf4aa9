/*
 * tablelookup.c - cost of one relay table lookup, for milter_bench.sh's
 * breakdown (information only, no target).
 *
 *   tablelookup TABLE.lmdb IP COUNT
 *
 * Opens the table as the milter does (LMDBFILE_READ_MISSING_OK) and calls
 * relaystore_check() for IP COUNT times in one thread.  Prints
 *   lookups=N found=N us_per_lookup=X
 * Exit 0, or 1 on a usage or table error.
 *
 * Built by milter_bench.sh into $B/bench/tablelookup; not in the Makefile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "addr.h"
#include "relaystore.h"

int
main(int argc, char **argv)
{
	char err[512];
	struct addr a;
	struct timespec t0, t1;
	time_t exp;
	long found = 0;

	if (argc != 4 || addr_parse(argv[2], &a) < 0) {
		fprintf(stderr, "usage: tablelookup TABLE.lmdb IP COUNT\n");
		return 1;
	}
	long n = strtol(argv[3], NULL, 10);
	if (n < 1) {
		fprintf(stderr, "tablelookup: bad COUNT\n");
		return 1;
	}
	char spec[4200];
	snprintf(spec, sizeof spec, "lmdb:%s", argv[1]);
	struct store *t = store_open(NULL, spec, STORE_READ, err, sizeof err);
	if (t == NULL) {
		fprintf(stderr, "tablelookup: %s: %s\n", argv[1], err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		int r = relaystore_check(t, &a, time(NULL), &exp, err, sizeof err);
		if (r == STORE_ERR) {
			fprintf(stderr, "tablelookup: %s\n", err);
			return 1;
		}
		found += r;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	             (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / (double)n;
	printf("lookups=%ld found=%ld us_per_lookup=%.2f\n", n, found, us);
	store_close(t);
	return 0;
}
