/*
 * deliver_lmtpload.c - benchmark client for deliver_bench.sh: deliver N
 * messages over LMTP to `leafmail-deliver -L`, as Postfix's lmtp(8) does
 * with cached connections: CONC sessions in parallel, each LHLO once,
 * then MAIL, RCPT, DATA and the message, waiting for every reply.
 *
 *   deliver_lmtpload SOCKET N CONC RCPT MSGFILE
 *
 * SOCKET is a unix socket path; "%t" in RCPT becomes the session's number
 * (0..CONC-1), so each session can deliver to its own mailbox.  Prints "N ns_total ok_count"; exit 1
 * when any message was not accepted with 250.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *sock_path, *rcpt;
static char *data;     /* the message, CRLF and dot-stuffed, ".\r\n" ended */
static size_t data_len;
static long per_thread;
static long ok_total;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static long long
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Read one complete reply (all its lines); its code, or -1. */
static int
reply(FILE *f)
{
	char line[1024];

	for (;;) {
		if (fgets(line, sizeof(line), f) == NULL)
			return -1;
		if (strlen(line) < 4 || line[3] != '-')
			return atoi(line);
	}
}

static int
sendall(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *
worker(void *arg)
{
	struct sockaddr_un sun;
	char cmd[600], to[400];
	const char *p = strstr(rcpt, "%t");
	long i, ok = 0;
	int fd;
	FILE *f;

	if (p != NULL)
		snprintf(to, sizeof(to), "%.*s%ld%s", (int)(p - rcpt), rcpt,
		         (long)(intptr_t)arg, p + 2);
	else
		snprintf(to, sizeof(to), "%s", rcpt);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror(sock_path);
		return NULL;
	}
	f = fdopen(dup(fd), "r");
	if (f == NULL || reply(f) != 220 || sendall(fd, "LHLO bench\r\n", 12) ||
	    reply(f) != 250)
		goto out;
	for (i = 0; i < per_thread; i++) {
		int n = snprintf(cmd, sizeof(cmd), "MAIL FROM:<s@example.net>\r\n");
		if (sendall(fd, cmd, (size_t)n) || reply(f) != 250)
			break;
		n = snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", to);
		if (sendall(fd, cmd, (size_t)n) || reply(f) != 250)
			break;
		if (sendall(fd, "DATA\r\n", 6) || reply(f) != 354)
			break;
		if (sendall(fd, data, data_len) || reply(f) != 250)
			break;
		ok++;
	}
	(void)sendall(fd, "QUIT\r\n", 6);
	(void)reply(f);
out:
	if (f != NULL)
		fclose(f);
	close(fd);
	pthread_mutex_lock(&mu);
	ok_total += ok;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int
main(int argc, char **argv)
{
	long n, conc, i;
	long long t0, t1;
	pthread_t *t;
	FILE *mf;
	char line[4096];
	size_t cap = 1 << 16;

	if (argc != 6) {
		fprintf(stderr, "usage: deliver_lmtpload SOCKET N CONC RCPT MSGFILE\n");
		return 2;
	}
	sock_path = argv[1];
	n = atol(argv[2]);
	conc = atol(argv[3]);
	rcpt = argv[4];
	if (n < 1 || conc < 1 || (mf = fopen(argv[5], "r")) == NULL) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	data = malloc(cap);
	while (fgets(line, sizeof(line), mf) != NULL) {
		size_t l = strcspn(line, "\r\n");
		if (data_len + l + 4 > cap)
			data = realloc(data, cap *= 2);
		if (line[0] == '.')
			data[data_len++] = '.';
		memcpy(data + data_len, line, l);
		data_len += l;
		memcpy(data + data_len, "\r\n", 2);
		data_len += 2;
	}
	fclose(mf);
	memcpy(data + data_len, ".\r\n", 3);
	data_len += 3;
	per_thread = n / conc;
	n = per_thread * conc;
	t = calloc((size_t)conc, sizeof(*t));
	t0 = now_ns();
	for (i = 0; i < conc; i++)
		pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
	for (i = 0; i < conc; i++)
		pthread_join(t[i], NULL);
	t1 = now_ns();
	printf("%ld %lld %ld\n", n, t1 - t0, ok_total);
	free(t);
	free(data);
	return ok_total == n ? 0 : 1;
}
