/*
 * fuzz_lmtp.c - libFuzzer target for deliver/lmtp.c, the LMTP session
 * that `leafmail-deliver -l` runs on stdin and the -L server runs on each
 * connection: the input is everything the client sends.
 *
 * Mailboxes come from a file: map (alice and bob at example.org, bob with
 * a tiny quota) under a scratch maildir-base in $TMPDIR (fuzz.t points it
 * at its own scratch directory), emptied every few thousand runs; the
 * seed delivers to both.  max-message-size is 4096, so that the fuzzer
 * reaches the "too big" path (read to the end, 552 per recipient) with
 * inputs of its usual length.  FUZZ_LMTP_SHOW=1 prints the replies.  Besides the sanitizers' checks it asserts what the MTA
 * on the other side relies on: every reply line is three digits, then a
 * space or '-', then text without a bare CR or LF, ending in CRLF -- no
 * client input can forge or break a reply line.  A violation aborts.
 */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "deliver.h"
#include "lmtp.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], base[300], map[300];
static struct deliver_ctx ctx;
static struct lograte quiet; /* burst 0: no log line at all */
static unsigned long runs;

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(p);
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	FILE *f;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof dir, "%s/fuzz_lmtp.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(base, sizeof base, "%s/base", dir);
	if (mkdir(base, 0700) != 0)
		abort();
	/* Delivery logs go to syslog (dropped when there is none), not to
	 * the fuzzer's output. */
	log_init("fuzz_lmtp", 0, 0);
	snprintf(map, sizeof map, "%s/mailboxes", dir);
	if ((f = fopen(map, "w")) == NULL)
		abort();
	fputs("alice@example.org\nbob@example.org 100S\n", f);
	fclose(f);
	ctx.base = base;
	ctx.mc.spec = NULL;
	ctx.delims = "+";
	ctx.fold = 1;
	ctx.max_size = 4096;
	lograte_init(&quiet, 0, 1000);
	ctx.lograte = &quiet;
	static char spec[320];
	snprintf(spec, sizeof spec, "file:%s", map);
	ctx.mc.spec = spec;
	return 0;
}

static void
check_replies(const char *out, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(out + i, '\n', len - i);
		size_t n;

		if (nl == NULL)
			abort(); /* a reply without its line end */
		n = (size_t)(nl - (out + i)) + 1;
		if (n < 6 || out[i + n - 2] != '\r')
			abort();
		for (int k = 0; k < 3; k++)
			if (out[i + k] < '0' || out[i + k] > '9')
				abort();
		if (out[i + 3] != ' ' && out[i + 3] != '-')
			abort();
		if (memchr(out + i, '\r', n - 2) != NULL)
			abort();
		i += n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *in, *out;
	char *obuf = NULL;
	size_t olen = 0;

	if (size == 0)
		return 0;
	if ((in = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	if ((out = open_memstream(&obuf, &olen)) == NULL) {
		fclose(in);
		return 0;
	}
	(void)lmtp_session(in, out, &ctx, "fuzz.example", NULL);
	fclose(in);
	fclose(out);
	if (getenv("FUZZ_LMTP_SHOW"))
		fwrite(obuf, 1, olen, stderr);
	check_replies(obuf, olen);
	free(obuf);
	if (++runs % 4096 == 0) {
		nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		mkdir(base, 0700);
	}
	return 0;
}
