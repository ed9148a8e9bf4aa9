/*
 * nullmilter.c - the do-nothing libmilter filter that milter_bench.sh
 * measures leafmail-milter against.
 *
 *   nullmilter SOCKET      e.g. nullmilter unix:/tmp/x/null.sock
 *
 * Registers the same callbacks leafmail-milter does (connect, helo,
 * envfrom, envrcpt, eom, abort, close), each returning SMFIS_CONTINUE at
 * once, with the same flags, so libmilter negotiates the same protocol
 * steps and the ratio isolates what leafmail does inside its callbacks
 * (session state, policy, relay table lookup, logging).  Runs in the
 * foreground until SIGTERM/SIGINT (libmilter handles them).  Exit 0, or 1
 * when the socket cannot be opened.
 *
 * Built by milter_bench.sh into $B/bench/nullmilter; not in the Makefile.
 */
#include <stdbool.h>

#include <libmilter/mfapi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static sfsistat
nm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)ctx;
	(void)host;
	(void)sa;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_args(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
nm_ctx(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

int
main(int argc, char **argv)
{
	static char name[] = "nullmilter";
	struct smfiDesc d;

	if (argc != 2) {
		fprintf(stderr, "usage: nullmilter SOCKET\n");
		return 1;
	}
	memset(&d, 0, sizeof d);
	d.xxfi_name = name;
	d.xxfi_version = SMFI_VERSION;
	d.xxfi_connect = nm_connect;
	d.xxfi_helo = nm_helo;
	d.xxfi_envfrom = nm_args;
	d.xxfi_envrcpt = nm_args;
	d.xxfi_eom = nm_ctx;
	d.xxfi_abort = nm_ctx;
	d.xxfi_close = nm_ctx;
	if (smfi_setconn(argv[1]) != MI_SUCCESS ||
	    smfi_register(d) != MI_SUCCESS ||
	    smfi_opensocket(true) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: cannot listen on %s\n", argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
