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
 * nothing is ever printed there.  Run as root (tcpserver without -u), it
 * reads an LMDB table as `user`, in a child (lookup_as_user()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

/* 1 when a may relay by st (closed here); every failure is logged and
 * answers 0. */
static int
lookup(struct store *st, const struct addr *a)
{
	char err[2048], buf[ADDR_STRLEN];
	time_t expires;
	int rc;

	if (st == NULL) {
		log_warnx("relay table: out of memory; running without RELAYCLIENT");
		return 0;
	}
	rc = relaystore_check(st, a, time(NULL), &expires, err, sizeof(err));
	store_close(st);
	addr_format(a, buf, sizeof(buf));
	if (rc == STORE_ERR) {
		log_warnx("relay table: %s; %s runs without RELAYCLIENT", err, buf);
		return 0;
	}
	if (rc == 1)
		log_info("client=%s relay=allowed reason=pop-auth expires=%lld", buf,
		         (long long)expires);
	return rc == 1;
}

/* As root, the LMDB table is read by a child that became `user` for
 * good, and the answer is its exit status: root never opens the table
 * (lib/daemon.c), which the service account owns and could have replaced
 * by a link to a file of root's.  O_NOFOLLOW alone would miss a hard
 * link.  The child and the switch cost about 1 ms per connection
 * (measured: 2.8 -> 4.0 ms for relaylock running /bin/true as root),
 * small beside an SMTP session; run under tcpserver -u, none is needed.
 * The program itself still runs as whoever started us. */
static int
lookup_as_user(const char *user, struct store *st, const struct addr *a)
{
	struct daemon_user u;
	char err[512];
	pid_t pid;
	int status;

	if (daemon_user_lookup(user, &u, err, sizeof(err)) != 0) {
		log_warnx("%s; running without RELAYCLIENT", err);
		store_close(st);
		return 0;
	}
	if ((pid = fork()) < 0) {
		log_warn("fork; running without RELAYCLIENT");
		store_close(st);
		return 0;
	}
	if (pid == 0) {
		if (daemon_drop_privs(&u, err, sizeof(err)) != 0) {
			log_warnx("%s; running without RELAYCLIENT", err);
			_exit(0);
		}
		/* The LMDB file is opened here, on first use, as user. */
		_exit(lookup(st, a));
	}
	store_close(st); /* nothing was opened in this process */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			log_warn("waitpid; running without RELAYCLIENT");
			return 0;
		}
	return WIFEXITED(status) && WEXITSTATUS(status) == 1;
}

/* 1 when ip may relay; every failure is logged and answers 0. */
static int
may_relay(const char *conffile, const char *ip)
{
	char err[2048], user[64];
	struct store *st;
	int lmdb;
	struct addr a;
	cfg_t *cfg;

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
	lmdb = strcmp(cfg_getstr(cfg_getsec(cfg, "relay"), "store"), "lmdb") == 0;
	snprintf(user, sizeof(user), "%s", cfg_getstr(cfg, "user"));
	conf_free(cfg);
	if (st == NULL) {
		log_warnx("relay table: %s; running without RELAYCLIENT", err);
		return 0;
	}
	/* A Redis password file is root's and was read just now; an LMDB
	 * file is opened on its first use, which as root happens in a child
	 * that is `user`. */
	if (lmdb && geteuid() == 0)
		return lookup_as_user(user, st, &a);
	return lookup(st, &a);
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
