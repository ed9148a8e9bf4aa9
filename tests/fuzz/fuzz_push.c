/*
 * fuzz_push.c - libFuzzer target for the HTTP request handling of the
 * push sources (relayd/input_push.c and relayd/pushreq.c): the input is
 * everything a client sends on one connection, headers and body, as raw
 * bytes.
 *
 * Two real sources are opened once, a dovecot-policy and a dovecot-events
 * one, each with libmicrohttpd listening on a unix socket in $TMPDIR
 * (fuzz.t points it at its scratch directory), the key below; every input
 * goes to both, through a fresh connection, and the servers run (read())
 * until they have closed it.  The seeds (tests/data/push/) are real
 * requests from Dovecot 2.3.19.1 with this key, so the fuzzer starts past
 * the key check.  Besides the sanitizers it asserts what the rest of
 * relayd relies on: a login reported comes from a request that carried
 * the key and a body naming its address; the servers never stop
 * answering (a connection left open after the input ended is a finding:
 * the loop bound aborts).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "input.h"
#include "intake.h"
#include "log.h"
#include "writer.h"

#define FUZZ_KEY "fuzz0123456789abcdef0123456789ab"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[200], keyfile[256], sock[2][256];
static struct input *in[2];
static struct writer w;
static struct intake sink;
static struct intake_conf ic = {NULL, 1800, 300, 86400};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char spec[300], err[512];
	FILE *f;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof dir, "%s/fuzz_push.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(keyfile, sizeof keyfile, "%s/key", dir);
	if ((f = fopen(keyfile, "w")) == NULL)
		abort();
	fputs(FUZZ_KEY "\n", f);
	fclose(f);
	chmod(keyfile, 0600);
	log_init("fuzz_push", 0, 0); /* to syslog: dropped without one */
	for (int i = 0; i < 2; i++) {
		snprintf(sock[i], sizeof sock[i], "%s/s%d", dir, i);
		snprintf(spec, sizeof spec, "%s:unix:%s",
		         i == 0 ? "dovecot-policy" : "dovecot-events", sock[i]);
		in[i] = input_push_new(spec, keyfile, err, sizeof err);
		if (in[i] == NULL || in[i]->ops->open(in[i], NULL, err,
		                                      sizeof err) < 0) {
			fprintf(stderr, "fuzz_push: %s\n", err);
			abort();
		}
	}
	/* No store: the batch is emptied after every input, long before a
	 * full one would be written. */
	writer_init(&w, NULL);
	intake_init(&sink, &ic, &w, NULL);
	return 0;
}

static void
one(int i, const uint8_t *data, size_t size)
{
	struct sockaddr_un sun;
	char err[512], buf[4096];
	size_t sent = 0;
	int fd, closed = 0, shut = 0;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, sock[i]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		abort();
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 &&
	    errno != EINPROGRESS && errno != EAGAIN)
		abort();
	/* Send, let the server run, read what it answers, until it closes;
	 * 2000 rounds (with 1 ms waits once everything is sent) are far more
	 * than any request needs. */
	for (int round = 0; round < 2000 && !closed; round++) {
		if (sent < size) {
			ssize_t n = send(fd, data + sent, size - sent,
			                 MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = size; /* the server closed on us */
		}
		if (sent == size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		if (in[i]->ops->read(in[i], &sink, err, sizeof err) < 0)
			abort();
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof buf, 0);
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				closed = 1;
				break;
			}
			if (n < 0)
				break;
		}
		if (!closed && sent == size) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			poll(&p, 1, 1);
		}
	}
	close(fd);
	if (!closed)
		abort(); /* a server that neither answers nor closes */
	/* Whatever it let in carried the key. */
	if (w.b.n > 0 &&
	    memmem(data, size, FUZZ_KEY, sizeof FUZZ_KEY - 1) == NULL)
		abort();
	batch_clear(&w.b);
	memset(&w.n, 0, sizeof w.n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	intake_begin(&sink, 1796670000);
	one(0, data, size);
	one(1, data, size);
	return 0;
}
