/*
 * relaylock.c - leafmail-relaylock: exec wrapper for ucspi-tcp SMTP daemons.
 *
 *   tcpserver ... leafmail-relaylock [-c FILE] qmail-smtpd [ARGS...]
 *
 * Sets RELAYCLIENT="" when $TCPREMOTEIP is in the relay table and not
 * expired, then execs the program, which is what smtp-poplock's relaylock
 * did.  The wrapper never decides for the program: whatever goes wrong
 * (no TCPREMOTEIP, bad configuration, unreadable table) is logged and the
 * program runs without RELAYCLIENT, so local delivery keeps working and
 * relaying stays closed.  Standard output is the SMTP connection, so
 * nothing is ever printed there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "relaystore.h"

static void
usage(void)
{
	fprintf(stderr, "usage: leafmail-relaylock [-hV] [-c FILE] PROGRAM [ARGS...]\n");
	exit(DAEMON_EX_USAGE);
}

/* 1 when ip may relay; every failure is logged and answers 0. */
static int
may_relay(const char *conffile, const char *ip)
{
	char err[2048], buf[ADDR_STRLEN];
	struct store *st;
	struct addr a;
	time_t expires;
	cfg_t *cfg;
	int rc;

	if (ip == NULL || *ip == '\0') {
		log_warnx("TCPREMOTEIP is not set: not run by tcpserver? running "
		          "without RELAYCLIENT");
		return 0;
	}
	if (addr_parse(ip, &a) != 0) {
		log_warnx("TCPREMOTEIP \"%.64s\" is not an address: running without "
		          "RELAYCLIENT", ip);
		return 0;
	}
	if ((cfg = conf_load(conffile, err, sizeof(err))) == NULL) {
		log_warnx("%s; running without RELAYCLIENT", err);
		return 0;
	}
	st = relaystore_open(cfg, STORE_READ, err, sizeof(err));
	conf_free(cfg);
	if (st == NULL) {
		log_warnx("relay table: %s; running without RELAYCLIENT", err);
		return 0;
	}
	rc = relaystore_check(st, &a, time(NULL), &expires, err, sizeof(err));
	store_close(st);
	addr_format(&a, buf, sizeof(buf));
	if (rc == STORE_ERR) {
		log_warnx("relay table: %s; %s runs without RELAYCLIENT", err, buf);
		return 0;
	}
	if (rc == 1)
		log_info("client=%s relay=allowed reason=pop-auth expires=%lld", buf,
		         (long long)expires);
	return rc == 1;
}

int
main(int argc, char *argv[])
{
	const char *conffile = CONF_DEFAULT_PATH;
	int ch;

	/* '+': options end at PROGRAM, whose own options are its business. */
	while ((ch = getopt(argc, argv, "+c:hV")) != -1) {
		switch (ch) {
		case 'c':
			conffile = optarg;
			break;
		case 'V':
			printf("leafmail-relaylock %s\n", LEAFMAIL_VERSION);
			return 0;
		default:
			usage();
		}
	}
	argv += optind;
	if (argv[0] == NULL)
		usage();
	log_init("leafmail-relaylock", 1, 0);

	/* An inherited RELAYCLIENT (set by tcprules for trusted networks) is
	 * the administrator's decision; leave it alone. */
	if (getenv("RELAYCLIENT") == NULL &&
	    may_relay(conffile, getenv("TCPREMOTEIP")) &&
	    setenv("RELAYCLIENT", "", 1) != 0)
		log_warn("setenv RELAYCLIENT");
	execvp(argv[0], argv);
	log_fatal(DAEMON_EX_OSERR, "cannot run %s", argv[0]);
}
