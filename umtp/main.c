/*
 * main.c - umtp(1): `umtp send ...` and `umtp receive ...`, the
 * Unreliable Mail Transfer Protocol (see umtp(1), umtp(5)).
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "daemon.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: umtp send [-c FILE] [-f SENDER] HOST PORT RECIPIENT...\n"
	           "       umtp receive [-c FILE] [-f] [-t] [HOST PORT]\n"
	           "       umtp -V | -h\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return DAEMON_EX_USAGE;
	}
	if (strcmp(argv[1], "send") == 0)
		return send_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "receive") == 0)
		return receive_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "-V") == 0) {
		printf("umtp %s\n", LEAFMAIL_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return DAEMON_EX_USAGE;
}
