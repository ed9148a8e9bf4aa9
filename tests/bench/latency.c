/*
 * latency.c - login-to-table latency driver for relay_latency_bench.sh.
 *
 *   latency LOGFILE TABLE.lmdb COUNT [GAP_MS]
 *
 * COUNT times: append one successful Dovecot login line (log_path layout,
 * time stamp now) with an address never used before (10.222.x.y) to
 * LOGFILE, then poll the relay table with relaystore_check() every
 * ~100 us until the address is there (or 2 s passed: a miss); wait GAP_MS
 * (default 5) and go on.  The clock starts just before write(2) and stops
 * when the read transaction that found the address has returned, so the
 * number covers inotify wake-up, parsing, the synced write transaction
 * and a reader's view of it.
 *
 * Prints one line:
 *   n=N missed=M p50_ms=X p90_ms=X p99_ms=X max_ms=X
 * Exit 0, or 1 on a usage or I/O error (table read error included).
 *
 * Built by relay_latency_bench.sh against the build directory's
 * libleafmail.a; not part of the Makefile.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "relaystore.h"

#define POLL_NS 100000L
#define MISS_MS 2000.0

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
sleep_ns(long ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000L,
	                      .tv_nsec = ns % 1000000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n-1]. */
static double
pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

int
main(int argc, char **argv)
{
	char err[512], ip[32], line[512], stamp[32];
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: latency LOGFILE TABLE.lmdb COUNT [GAP_MS]\n");
		return 1;
	}
	long count = strtol(argv[3], NULL, 10);
	long gap_ms = argc == 5 ? strtol(argv[4], NULL, 10) : 5;
	if (count <= 0 || count > 60000 || gap_ms < 0) {
		fprintf(stderr, "latency: bad COUNT or GAP_MS\n");
		return 1;
	}
	int fd = open(argv[1], O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "latency: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	char spec[4200];
	snprintf(spec, sizeof spec, "lmdb:%s", argv[2]);
	struct store *t = store_open(NULL, spec, STORE_READ, err, sizeof err);
	if (t == NULL) {
		fprintf(stderr, "latency: %s: %s\n", argv[2], err);
		return 1;
	}
	double *lat = calloc((size_t)count, sizeof *lat);
	if (lat == NULL)
		return 1;
	size_t n = 0, missed = 0;
	/* A different range for each run, so a table left by an earlier
	 * run cannot answer for this one. */
	unsigned base = (unsigned)getpid() % 200;

	for (long i = 0; i < count; i++) {
		struct addr a;
		time_t now = time(NULL), exp;
		struct tm tm;
		snprintf(ip, sizeof ip, "10.%u.%ld.%ld", 20 + base,
		         (i >> 8) & 255, i & 255);
		if (addr_parse(ip, &a) < 0) {
			fprintf(stderr, "latency: bad address %s\n", ip);
			return 1;
		}
		localtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
		int len = snprintf(line, sizeof line,
		                   "%s pop3-login: Info: Login: user=<lat%ld>, "
		                   "method=PLAIN, rip=%s, lip=10.0.0.1, "
		                   "mpid=%ld, session=<LaT%013ld>\n",
		                   stamp, i, ip, 1000 + i, i);
		double t0 = now_ms();
		if (write(fd, line, (size_t)len) != len) {
			fprintf(stderr, "latency: write: %s\n", strerror(errno));
			return 1;
		}
		for (;;) {
			int r = relaystore_check(t, &a, time(NULL), &exp, err,
			                         sizeof err);
			double t1 = now_ms();
			if (r == STORE_ERR) {
				fprintf(stderr, "latency: table: %s\n", err);
				return 1;
			}
			if (r == 1) {
				lat[n++] = t1 - t0;
				break;
			}
			if (t1 - t0 > MISS_MS) {
				missed++;
				break;
			}
			sleep_ns(POLL_NS);
		}
		sleep_ns(gap_ms * 1000000L);
	}
	if (n == 0) {
		printf("n=0 missed=%zu\n", missed);
		return 0;
	}
	qsort(lat, n, sizeof *lat, cmp_double);
	printf("n=%zu missed=%zu p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
	       "max_ms=%.3f\n",
	       n, missed, pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99),
	       lat[n - 1]);
	free(lat);
	store_close(t);
	close(fd);
	return 0;
}
