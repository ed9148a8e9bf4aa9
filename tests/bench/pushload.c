/*
 * pushload.c - load driver for relay_push_bench.sh: logins pushed to
 * relayd the way Dovecot pushes them, or appended to a log file, timed to
 * the moment the relay table holds them.
 *
 *   pushload latency KIND TARGET KEY TABLE.lmdb COUNT GAP_MS
 *   pushload rate    KIND TARGET KEY TABLE.lmdb COUNT CONNS
 *
 * KIND: policy (POST /?command=report, the key in X-API-Key, a body like
 * Dovecot 2.3.19's), events (POST /KEY, an auth_request_finished event
 * like Dovecot's exporter sends), or file (a Dovecot login line appended
 * to the log file TARGET; KEY unused).  TARGET for the HTTP kinds is
 * 127.0.0.1:PORT; connections are kept alive, as Dovecot's HTTP client
 * keeps them.
 *
 * latency: COUNT logins one at a time, each from an address never used
 * before; the clock starts just before the request (or the line) is
 * written and stops when a read transaction finds the address in the
 * table (relaystore_check every ~100 us; 2 s: a miss); GAP_MS between
 * logins.  Prints "n=N missed=M p50_ms=X p90_ms=X p99_ms=X max_ms=X".
 *
 * rate: COUNT logins as fast as CONNS connections (or writers) can send
 * them, each connection waiting for the answer before its next request
 * (Dovecot does not pipeline); the clock stops when the last address is
 * in the table.  Prints "n=N secs=S per_sec=R".
 *
 * Exit 0, or 1 on a usage or I/O error.  Built by the benchmark against
 * the build directory's libleafmail.a; not part of the Makefile.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "relaystore.h"
#include "store.h"

#define POLL_NS 100000L
#define MISS_MS 2000.0

enum kind { K_POLICY, K_EVENTS, K_FILE };

static enum kind kind;
static const char *target, *key;
static unsigned base;

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

/* The i-th address of this run: 10.B.x.y, B apart for each run. */
static void
addr_of(long i, char *ip, size_t n)
{
	snprintf(ip, n, "10.%u.%ld.%ld", 20 + base, (i >> 8) & 255, i & 255);
}

static int
connect_target(void)
{
	char host[64];
	const char *colon = strrchr(target, ':');
	struct sockaddr_in sin;
	int one = 1;
	if (colon == NULL || (size_t)(colon - target) >= sizeof host)
		return -1;
	memcpy(host, target, (size_t)(colon - target));
	host[colon - target] = '\0';
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* One login into buf: an HTTP request, or a log line.  Its length. */
static int
build(long i, char *buf, size_t n)
{
	char ip[32], body[1024], stamp[32];
	addr_of(i, ip, sizeof ip);
	if (kind == K_FILE) {
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
		return snprintf(buf, n,
		                "%s pop3-login: Info: Login: user=<lat%ld>, "
		                "method=PLAIN, rip=%s, lip=10.0.0.1, "
		                "mpid=%ld, session=<LaT%013ld>\n",
		                stamp, i, ip, 1000 + i, i);
	}
	int blen = kind == K_POLICY
	    ? snprintf(body, sizeof body,
	               "{\"login\":\"lat%ld\",\"master\":\"\",\"protocol\":"
	               "\"imap\",\"remote\":\"%s\",\"session_id\":\"LaT%013ld\","
	               "\"success\":true,\"policy_reject\":false,\"tls\":false}",
	               i, ip, i)
	    : snprintf(body, sizeof body,
	               "{\"event\":\"auth_request_finished\",\"hostname\":\"h\","
	               "\"categories\":[\"auth\",\"service:auth\"],\"fields\":{"
	               "\"success\":\"yes\",\"mechanism\":\"PLAIN\",\"service\":"
	               "\"imap\",\"session\":\"LaT%013ld\",\"local_ip\":"
	               "\"10.0.0.1\",\"remote_ip\":\"%s\",\"real_remote_ip\":"
	               "\"%s\",\"user\":\"lat%ld\"}}",
	               i, ip, ip, i);
	return kind == K_POLICY
	    ? snprintf(buf, n,
	               "POST /?command=report HTTP/1.1\r\nHost: %s\r\n"
	               "User-Agent: dovecot/auth-policy-client\r\n"
	               "Content-Type: application/json\r\nX-API-Key: %s\r\n"
	               "Content-Length: %d\r\n\r\n%s",
	               target, key, blen, body)
	    : snprintf(buf, n,
	               "POST /%s HTTP/1.1\r\nHost: %s\r\n"
	               "Content-Type: application/json\r\n"
	               "Content-Length: %d\r\n\r\n%s",
	               key, target, blen, body);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Read one HTTP response (headers and a Content-Length body): status. */
static int
read_response(int fd)
{
	char buf[4096];
	size_t have = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (end == NULL)
			continue;
		char *cl = strcasestr(buf, "Content-Length:");
		size_t want = (size_t)(end + 4 - buf) +
		              (cl != NULL && cl < end ? strtoul(cl + 15, NULL, 10)
		                                      : 0);
		while (have < want) {
			r = read(fd, buf + have, sizeof buf - 1 - have);
			if (r <= 0)
				return -1;
			have += (size_t)r;
		}
		return atoi(buf + 9);
	}
}

static int
wait_table(struct store *t, long i, double t0, double *lat)
{
	char ip[32], err[512];
	struct addr a;
	time_t exp;
	addr_of(i, ip, sizeof ip);
	if (addr_parse(ip, &a) < 0)
		return -1;
	for (;;) {
		int r = relaystore_check(t, &a, time(NULL), &exp, err, sizeof err);
		double t1 = now_ms();
		if (r == STORE_ERR) {
			fprintf(stderr, "pushload: table: %s\n", err);
			return -1;
		}
		if (r == 1) {
			*lat = t1 - t0;
			return 1;
		}
		if (t1 - t0 > MISS_MS)
			return 0;
		sleep_ns(POLL_NS);
	}
}

static int
run_latency(struct store *t, long count, long gap_ms)
{
	char req[2048];
	int fd = kind == K_FILE ? open(target, O_WRONLY | O_APPEND | O_CLOEXEC)
	                        : connect_target();
	double *lat = calloc((size_t)count, sizeof *lat);
	size_t n = 0, missed = 0;
	if (fd < 0 || lat == NULL) {
		fprintf(stderr, "pushload: %s: %s\n", target, strerror(errno));
		return 1;
	}
	for (long i = 0; i < count; i++) {
		int len = build(i, req, sizeof req);
		double t0 = now_ms(), l;
		if (write_all(fd, req, (size_t)len) < 0) {
			fprintf(stderr, "pushload: write: %s\n", strerror(errno));
			return 1;
		}
		int r = wait_table(t, i, t0, &l);
		if (r < 0)
			return 1;
		if (r == 1)
			lat[n++] = l;
		else
			missed++;
		/* Dovecot reads the answer too, but never waits for it
		 * before the login goes on: it is not part of the figure. */
		if (kind != K_FILE && read_response(fd) != 200) {
			fprintf(stderr, "pushload: request %ld not answered 200\n",
			        i);
			return 1;
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
	return 0;
}

struct worker {
	pthread_t th;
	long from, to;
	int rc;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	char req[2048];
	int fd = kind == K_FILE ? open(target, O_WRONLY | O_APPEND | O_CLOEXEC)
	                        : connect_target();
	w->rc = 1;
	if (fd < 0)
		return NULL;
	for (long i = w->from; i < w->to; i++) {
		int len = build(i, req, sizeof req);
		if (write_all(fd, req, (size_t)len) < 0)
			goto out;
		if (kind != K_FILE && read_response(fd) != 200)
			goto out;
	}
	w->rc = 0;
out:
	close(fd);
	return NULL;
}

static int
run_rate(struct store *t, long count, long conns)
{
	struct worker *w = calloc((size_t)conns, sizeof *w);
	double lat;
	if (w == NULL)
		return 1;
	double t0 = now_ms();
	for (long k = 0; k < conns; k++) {
		w[k].from = count * k / conns;
		w[k].to = count * (k + 1) / conns;
		pthread_create(&w[k].th, NULL, work, &w[k]);
	}
	for (long k = 0; k < conns; k++) {
		pthread_join(w[k].th, NULL);
		if (w[k].rc != 0) {
			fprintf(stderr, "pushload: connection %ld failed\n", k);
			return 1;
		}
	}
	/* Every address of the last requests must be in the table. */
	for (long k = 0; k < conns; k++)
		if (w[k].to > w[k].from &&
		    wait_table(t, w[k].to - 1, t0, &lat) != 1) {
			fprintf(stderr, "pushload: login %ld not in the table\n",
			        w[k].to - 1);
			return 1;
		}
	double secs = (now_ms() - t0) / 1e3;
	printf("n=%ld secs=%.3f per_sec=%.0f\n", count, secs,
	       (double)count / secs);
	return 0;
}

int
main(int argc, char **argv)
{
	char err[512];
	if (argc != 8) {
		fprintf(stderr, "usage: pushload latency|rate policy|events|file "
		                "TARGET KEY TABLE.lmdb COUNT GAP_MS|CONNS\n");
		return 1;
	}
	kind = strcmp(argv[2], "policy") == 0   ? K_POLICY
	       : strcmp(argv[2], "events") == 0 ? K_EVENTS
	                                        : K_FILE;
	target = argv[3];
	key = argv[4];
	long count = strtol(argv[6], NULL, 10), arg = strtol(argv[7], NULL, 10);
	if (count <= 0 || count > 60000 || arg < 0) {
		fprintf(stderr, "pushload: bad COUNT\n");
		return 1;
	}
	char spec[4200];
	snprintf(spec, sizeof spec, "lmdb:%s", argv[5]);
	struct store *t = store_open(NULL, spec, STORE_READ, err, sizeof err);
	if (t == NULL) {
		fprintf(stderr, "pushload: %s: %s\n", argv[5], err);
		return 1;
	}
	base = ((unsigned)getpid() + (unsigned)kind * 67 +
	        (strcmp(argv[1], "rate") == 0 ? 31u : 0u)) % 200;
	int rc = strcmp(argv[1], "rate") == 0 ? run_rate(t, count, arg > 0 ? arg : 1)
	                                      : run_latency(t, count, arg);
	store_close(t);
	return rc;
}
