/*
 * milterload.c - load driver for milter_bench.sh: speaks the milter
 * protocol (as an MTA does) to a filter on a unix socket and counts RCPT
 * decisions per second.
 *
 *   milterload -s PATH [-c SESSIONS] [-t SECONDS] [-a CLIENT_IP]
 *              [-r RCPTS] [-d DOMAIN]
 *   milterload -m connect -s PATH [-c SESSIONS] [-t SECONDS] [-n ADDRS]
 *              [-l LIMIT]
 *
 *   -s PATH     the filter's unix socket
 *   -c N        concurrent sessions, one thread each (default 50)
 *   -t S        measured duration in seconds (default 5); a warm-up of
 *               0.5 s runs before it and is not counted
 *   -a IP       the client address sent at CONNECT (default 10.9.8.7)
 *   -r N        RCPTs per session: after N, QUIT and reconnect (default 50)
 *   -d DOMAIN   recipient domain (default remote.example)
 *   -m connect  connect-stage decisions instead (velocity_bench.sh): each
 *               session is OPTNEG, CONNECT, QUIT, and the CONNECT answer
 *               is what is counted (continue, or 421 as tempfail); the
 *               client address cycles through -n ADDRS distinct ones
 *               (10.0.0.1 onwards, default 10000)
 *   -l LIMIT    connect mode: stop after LIMIT sessions (or -t, whichever
 *               comes first; no warm-up), e.g. to show the filter a million
 *               distinct addresses once each
 *
 * Wire format (libmilter's mfdef.h): every packet is a 4-byte big-endian
 * length (of what follows), a 1-byte command, the data.  Each session:
 * SMFIC_OPTNEG (version 6, all actions, every protocol step offered but
 * no "no reply" bits, so every RCPT is answered), SMFIC_CONNECT (host
 * name, family '4', port, address), SMFIC_HELO, SMFIC_MAIL, N x
 * SMFIC_RCPT each waiting for its answer, SMFIC_QUIT.
 *
 * Prints one line:
 *   rcpt_per_s=X rcpts=N continue=N reject=N tempfail=N other=N
 *   sessions=N errors=N
 * (in connect mode rcpt_per_s and rcpts count CONNECT decisions).
 * where reject/tempfail count 'r'/'t' and 5xx/4xx 'y' (reply code)
 * answers.  Exit 0; 1 on a usage error or when nothing got through.
 *
 * Built by milter_bench.sh into $B/bench/milterload; not in the Makefile.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* From libmilter/mfdef.h, spelled out so the driver needs no libmilter. */
#define SMFI_PROT_VERSION 6
#define SMFI_CURR_ACTS 0x000001FFu
#define SMFI_CURR_PROT 0x001FFFFFu
#define SMFIP_NR_ALL 0x000FF080u /* NR_HDR, NR_CONN .. NR_BODY */
#define SMFIP_NR_RCPT 0x00008000u

enum { C_CONT, C_REJ, C_TEMP, C_OTHER, C_NKINDS };

static const char *sock_path;
static const char *client_ip = "10.9.8.7";
static const char *rcpt_domain = "remote.example";
static long rcpts_per_session = 50;
static int connect_mode;
static unsigned long n_addrs = 10000, limit;
static atomic_ulong addr_seq;
static atomic_int stop;
static atomic_int counting;
static atomic_long counts[C_NKINDS];
static atomic_long sessions, errors;

static int
writen(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
readn(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
send_cmd(int fd, char cmd, const void *data, size_t len)
{
	char buf[1024];
	uint32_t l = htonl((uint32_t)(len + 1));
	if (len + 5 > sizeof buf)
		return -1;
	memcpy(buf, &l, 4);
	buf[4] = cmd;
	memcpy(buf + 5, data, len);
	return writen(fd, buf, len + 5);
}

/* One reply packet: its command in *cmd, data (NUL-terminated, truncated)
 * in buf.  Progress packets are skipped. */
static int
read_reply(int fd, char *cmd, char *buf, size_t buflen)
{
	for (;;) {
		uint32_t l;
		char tmp[8192];
		if (readn(fd, &l, 4) < 0)
			return -1;
		l = ntohl(l);
		if (l < 1 || l > sizeof tmp)
			return -1;
		if (readn(fd, tmp, l) < 0)
			return -1;
		*cmd = tmp[0];
		size_t dl = l - 1 < buflen - 1 ? l - 1 : buflen - 1;
		memcpy(buf, tmp + 1, dl);
		buf[dl] = '\0';
		if (*cmd != 'p')
			return (int)(l - 1);
	}
}

static int
classify(char cmd, const char *data)
{
	switch (cmd) {
	case 'c':
		return C_CONT;
	case 'r':
		return C_REJ;
	case 't':
		return C_TEMP;
	case 'y':
		return data[0] == '5' ? C_REJ : data[0] == '4' ? C_TEMP : C_OTHER;
	default:
		return C_OTHER;
	}
}

/* Send cmd, expect a reply that lets the session go on. */
static int
step(int fd, char cmd, const void *data, size_t len)
{
	char rc, buf[512];
	if (send_cmd(fd, cmd, data, len) < 0 || read_reply(fd, &rc, buf, sizeof buf) < 0)
		return -1;
	return rc == 'c' ? 0 : -1;
}

static int
session(unsigned id, unsigned long *seq)
{
	struct sockaddr_un sun;
	char buf[512], rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock_path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
		goto fail;

	uint32_t opt[3] = {htonl(SMFI_PROT_VERSION), htonl(SMFI_CURR_ACTS),
	                   htonl(SMFI_CURR_PROT & ~SMFIP_NR_ALL)};
	if (send_cmd(fd, 'O', opt, sizeof opt) < 0 ||
	    read_reply(fd, &rc, buf, sizeof buf) < 12 || rc != 'O')
		goto fail;
	uint32_t pflags;
	memcpy(&pflags, buf + 8, 4);
	if (ntohl(pflags) & SMFIP_NR_RCPT) {
		fprintf(stderr, "milterload: the filter answers no RCPT\n");
		goto fail;
	}

	/* CONNECT: host name, family, port (big-endian), address */
	char cb[256], ip[32];
	const char *addr = client_ip;
	if (connect_mode) {
		unsigned long k = atomic_fetch_add(&addr_seq, 1);
		if (limit > 0 && k >= limit) {
			atomic_store(&stop, 1);
			goto fail;
		}
		k = k % n_addrs + 1;
		snprintf(ip, sizeof ip, "10.%lu.%lu.%lu", (k >> 16) & 255,
		         (k >> 8) & 255, k & 255);
		addr = ip;
	}
	size_t hl = (size_t)snprintf(cb, sizeof cb, "client%u.bench.example", id) + 1;
	cb[hl++] = '4';
	cb[hl++] = (char)(40000 >> 8);
	cb[hl++] = (char)(40000 & 255);
	hl += (size_t)snprintf(cb + hl, sizeof cb - hl, "%s", addr) + 1;
	if (connect_mode) {
		if (send_cmd(fd, 'C', cb, hl) < 0 ||
		    read_reply(fd, &rc, buf, sizeof buf) < 0)
			goto fail;
		if (atomic_load(&counting))
			atomic_fetch_add(&counts[classify(rc, buf)], 1);
		send_cmd(fd, 'Q', "", 0);
		close(fd);
		atomic_fetch_add(&sessions, 1);
		return 0;
	}
	if (step(fd, 'C', cb, hl) < 0)
		goto fail;
	static const char helo[] = "client.bench.example";
	static const char mail[] = "<sender@bench.example>";
	if (step(fd, 'H', helo, sizeof helo) < 0 ||
	    step(fd, 'M', mail, sizeof mail) < 0)
		goto fail;
	for (long k = 0; k < rcpts_per_session && !atomic_load(&stop); k++) {
		char rcpt[256];
		int n = snprintf(rcpt, sizeof rcpt, "<u%u.%lu@%s>", id, (*seq)++,
		                 rcpt_domain);
		if (send_cmd(fd, 'R', rcpt, (size_t)n + 1) < 0 ||
		    read_reply(fd, &rc, buf, sizeof buf) < 0)
			goto fail;
		if (atomic_load(&counting))
			atomic_fetch_add(&counts[classify(rc, buf)], 1);
	}
	send_cmd(fd, 'Q', "", 0);
	close(fd);
	atomic_fetch_add(&sessions, 1);
	return 0;
fail:
	close(fd);
	return -1;
}

static void *
worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	unsigned long seq = 0;
	while (!atomic_load(&stop))
		if (session(id, &seq) < 0 && !atomic_load(&stop)) {
			atomic_fetch_add(&errors, 1);
			usleep(10000);
		}
	return NULL;
}

static double
mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s,
	                      .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
main(int argc, char **argv)
{
	long conc = 50;
	double secs = 5;
	int ch;
	while ((ch = getopt(argc, argv, "s:c:t:a:r:d:m:n:l:")) != -1) {
		switch (ch) {
		case 's': sock_path = optarg; break;
		case 'c': conc = strtol(optarg, NULL, 10); break;
		case 't': secs = strtod(optarg, NULL); break;
		case 'a': client_ip = optarg; break;
		case 'r': rcpts_per_session = strtol(optarg, NULL, 10); break;
		case 'd': rcpt_domain = optarg; break;
		case 'm':
			if (strcmp(optarg, "connect") != 0)
				goto usage;
			connect_mode = 1;
			break;
		case 'n': n_addrs = strtoul(optarg, NULL, 10); break;
		case 'l': limit = strtoul(optarg, NULL, 10); break;
		default: goto usage;
		}
	}
	if (sock_path == NULL || optind != argc || conc < 1 || conc > 1000 ||
	    secs <= 0 || rcpts_per_session < 1 || n_addrs < 1 ||
	    n_addrs > 16777215)
		goto usage;

	pthread_t *th = calloc((size_t)conc, sizeof *th);
	if (th == NULL)
		return 1;
	for (long i = 0; i < conc; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i) != 0) {
			fprintf(stderr, "milterload: pthread_create failed\n");
			return 1;
		}
	double t0, t1;
	if (limit > 0) {
		/* Counted from the start; ends at the limit or after -t. */
		atomic_store(&counting, 1);
		t0 = mono();
		while (!atomic_load(&stop) && mono() - t0 < secs)
			sleep_s(0.02);
		atomic_store(&counting, 0);
		t1 = mono();
	} else {
		sleep_s(0.5);
		t0 = mono();
		atomic_store(&counting, 1);
		sleep_s(secs);
		atomic_store(&counting, 0);
		t1 = mono();
	}
	atomic_store(&stop, 1);
	for (long i = 0; i < conc; i++)
		pthread_join(th[i], NULL);
	free(th);

	long total = 0;
	for (int k = 0; k < C_NKINDS; k++)
		total += atomic_load(&counts[k]);
	printf("rcpt_per_s=%.0f rcpts=%ld continue=%ld reject=%ld tempfail=%ld "
	       "other=%ld sessions=%ld errors=%ld\n",
	       (double)total / (t1 - t0), total, atomic_load(&counts[C_CONT]),
	       atomic_load(&counts[C_REJ]), atomic_load(&counts[C_TEMP]),
	       atomic_load(&counts[C_OTHER]), atomic_load(&sessions),
	       atomic_load(&errors));
	return total > 0 ? 0 : 1;
usage:
	fprintf(stderr, "usage: milterload -s PATH [-c SESSIONS] [-t SECONDS] "
	                "[-a CLIENT_IP] [-r RCPTS] [-d DOMAIN]\n"
	                "       milterload -m connect -s PATH [-c SESSIONS] "
	                "[-t SECONDS] [-n ADDRS] [-l LIMIT]\n");
	return 1;
}
