/*
 * tablefill.c - fill a relay table for milter_bench.sh.
 *
 *   tablefill TABLE.lmdb EXPIRES < addresses
 *
 * Reads one IP address per line and records each with the Unix time
 * EXPIRES, through lib/relaystore.h, 1000 per write transaction (relayd
 * -a would start one process per address).  Exit 0, or 1 with a message
 * (bad address, table error).
 *
 * Built by milter_bench.sh into $B/bench/tablefill; not in the Makefile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "relaystore.h"

#define BATCH 1000

static struct relay_rec recs[BATCH];

int
main(int argc, char **argv)
{
	char err[512], line[256], spec[4200];
	size_t n = 0;
	long total = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: tablefill TABLE.lmdb EXPIRES < addresses\n");
		return 1;
	}
	time_t exp = (time_t)strtoll(argv[2], NULL, 10);
	snprintf(spec, sizeof spec, "lmdb:%s", argv[1]);
	struct store *t = store_open(NULL, spec, STORE_WRITE, err, sizeof err);
	if (t == NULL || store_probe(t, err, sizeof err) != STORE_OK) {
		fprintf(stderr, "tablefill: %s: %s\n", argv[1], err);
		return 1;
	}
	for (;;) {
		int eof = fgets(line, sizeof line, stdin) == NULL;
		if (!eof) {
			struct addr a;
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] == '\0')
				continue;
			if (addr_parse(line, &a) < 0) {
				fprintf(stderr, "tablefill: bad address \"%s\"\n", line);
				return 1;
			}
			recs[n].a = a;
			recs[n].expires = exp;
			n++;
		}
		if (n > 0 && (eof || n == BATCH)) {
			if (relaystore_write(t, recs, n, 0, err, sizeof err) != STORE_OK) {
				fprintf(stderr, "tablefill: %s\n", err);
				return 1;
			}
			total += (long)n;
			n = 0;
		}
		if (eof)
			break;
	}
	store_close(t);
	printf("%ld\n", total);
	return 0;
}
