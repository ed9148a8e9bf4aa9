/*
 * nullmilter.c - the do-nothing libmilter filter that milter_bench.sh
 * measures leafmail-milter against.
 *
 *   nullmilter [-s] SOCKET      e.g. nullmilter -s unix:/tmp/x/null.sock
 *
 * -s puts the filter in a session of its own (setsid(2), without forking,
 * so the caller's PID stays valid), as leafmail-milter is once detached.
 * It matters: with the scheduler's autogroups (Linux,
 * sched_autogroup_enabled=1, the default) each session is a group of its
 * own, and a filter in the load driver's group answers a ping-pong load
 * much faster than the same filter in a group of its own (0.55-0.78 of
 * it, measured on our 2-core test machine).
 *
 * Registers connect, helo, envfrom, envrcpt, eom, abort and close, each
 * returning SMFIS_CONTINUE at once.  leafmail-milter registers more
 * (header, eoh, body, negotiate) but, with the benchmark's configuration
 * (no UMTP, no required headers), negotiates those steps away, so the MTA
 * sends both filters the same packets and the ratio isolates what
 * leafmail does inside its callbacks (session state, policy, relay table
 * lookup, logging).  Runs in the foreground until SIGTERM/SIGINT
 * (libmilter handles them).  Exit 0, or 1 when the socket cannot be
 * opened.
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
	const char *spec;

	if (argc == 3 && strcmp(argv[1], "-s") == 0) {
		if (setsid() == -1) {
			perror("nullmilter: setsid");
			return 1;
		}
		spec = argv[2];
	} else if (argc == 2) {
		spec = argv[1];
	} else {
		fprintf(stderr, "usage: nullmilter [-s] SOCKET\n");
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
	if (smfi_setconn((char *)spec) != MI_SUCCESS ||
	    smfi_register(d) != MI_SUCCESS ||
	    smfi_opensocket(true) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: cannot listen on %s\n", spec);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
