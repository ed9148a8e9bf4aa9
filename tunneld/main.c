/*
 * main.c - leafmail-tunneld: listen where Postfix's relayhost points, open
 * an SSH tunnel to the real smarthost when the first client connects,
 * proxy, and close the tunnel when mail stops flowing.
 *
 *   leafmail-tunneld [-fhtV] [-c FILE]
 *
 *   -t   check the configuration: keys, each tunnel's files (identity
 *        mode and owner, known_hosts, ssh-program) and the user; print
 *        every problem as FILE:LINE: text; exit 0 or 78
 *   -f   stay in the foreground and log to stderr too
 *
 * Start-up, in this order (lib/daemon.h): options, configuration and
 * file checks (so a bad setup stops here, clearly), the user,
 * state-dir/run-dir, the pid file lock <run-dir>/leafmail-tunneld.pid (a
 * second instance stops here, exit 69), every listener bound (as root
 * when the port needs it; exit 69 when one cannot be), the switch to
 * `user`, a check that `user` can read the identity and known_hosts files
 * (ssh runs as `user`), signals blocked for the loop's signalfd, detach
 * unless -f, pid, loop.  tunneld keeps no files of its own but the pid.
 *
 * Exit codes (sysexits): 0 after SIGTERM, 64 usage, 69 unavailable
 * (another instance, a listen address in use), 71 OS error, 73 a
 * directory cannot be created, 78 configuration (missing user included,
 * and a state-dir or run-dir the user could replace).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "tconf.h"
#include "tunnel.h"

#define PROG "leafmail-tunneld"

static void
usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [-fhtV] [-c FILE]\n"
	           "  -c FILE  configuration (default " CONF_DEFAULT_PATH ")\n"
	           "  -f       stay in the foreground, log to stderr too\n"
	           "  -t       check the configuration and exit\n"
	           "  -V       print the version\n");
}

/* Two sockets per client plus a few: let max-clients be reachable. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	const char *path = CONF_DEFAULT_PATH;
	int foreground = 0, test = 0, ch, bad;
	char err[8192];
	struct daemon d;
	struct tconf *tcs;
	size_t n;

	while ((ch = getopt(argc, argv, "c:fhtV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 't':
			test = 1;
			break;
		case 'V':
			printf(PROG " %s\n", LEAFMAIL_VERSION);
			return 0;
		default:
			usage(stderr);
			return DAEMON_EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return DAEMON_EX_USAGE;
	}
	log_init(PROG, foreground || test, 0);

	cfg_t *cfg = conf_load(path, err, sizeof err);
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		return DAEMON_EX_CONFIG;
	}
	bad = tconf_read(cfg, &tcs, &n, stderr);
	if (n == 0) {
		fprintf(stderr, "%s: no tunnel section: nothing to do\n", path);
		bad++;
	}
	if (daemon_init(&d, PROG, cfg_getstr(cfg, "user")) < 0) {
		fprintf(stderr, "%s: %s\n", path, d.err);
		bad++;
	}
	for (size_t i = 0; i < n; i++)
		bad += tconf_check_files(&tcs[i], d.u.is_root, d.u.uid, d.u.name,
		                         stderr);
	if (bad > 0 || test) {
		if (bad == 0)
			printf("%s: configuration OK (%zu tunnel(s))\n", path, n);
		free(tcs);
		conf_free(cfg);
		return bad > 0 ? DAEMON_EX_CONFIG : 0;
	}

	if (daemon_dirs(&d, cfg_getstr(cfg, "state-dir"),
	                cfg_getstr(cfg, "run-dir")) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_lock(&d) < 0)
		log_fatalx(d.ex, "%s", d.err);
	struct tunnel *tun = calloc(n, sizeof *tun);
	if (tun == NULL)
		log_fatalx(DAEMON_EX_OSERR, "out of memory");
	for (size_t i = 0; i < n; i++) {
		tun[i].tc = &tcs[i];
		tun[i].errfd = -1;
		tun[i].lfd = listener_open(tcs[i].listen, err, sizeof err);
		if (tun[i].lfd < 0)
			log_fatalx(DAEMON_EX_UNAVAILABLE, "tunnel %s: %s",
			           tcs[i].name, err);
	}
	raise_nofile();
	if (daemon_drop(&d) < 0)
		log_fatalx(d.ex, "%s", d.err);
	bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += tconf_check_access(&tcs[i], d.u.name, stderr);
	if (bad > 0)
		log_fatalx(DAEMON_EX_CONFIG, "%d file(s) ssh needs are not "
		                             "readable by %s",
		           bad, d.u.name);
	if (daemon_block_signals(&d, SIGCHLD, SIGTERM, SIGINT, SIGHUP, 0) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_detach(&d, foreground) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_ready(&d) < 0)
		log_fatalx(d.ex, "%s", d.err);
	for (size_t i = 0; i < n; i++)
		log_info("tunnel %s: listening on %s for %s via %s (idle %llds + "
		         "0..%llds)",
		         tcs[i].name, tcs[i].listen, tcs[i].remote, tcs[i].dest,
		         tcs[i].idle, tcs[i].jitter);
	log_info("started as %s, %zu tunnel(s)", d.u.name, n);

	int rc = loop_run(tun, n);
	daemon_end(&d);
	free(tun);
	free(tcs);
	conf_free(cfg);
	return rc;
}
