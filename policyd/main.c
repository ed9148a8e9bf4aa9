/*
 * main.c - leafmail-policyd: a Postfix SMTPD access policy service
 * (check_policy_service) answering "may this client relay?" from the
 * relay table at the moment Postfix asks, with the milter's decision
 * (lib/policy.h).  Postfix configured with
 * smtpd_policy_service_default_action = 451 4.3.5 fails closed: a stopped
 * policyd means 451, never "allowed", and an entry counts only until it
 * expires, whether or not relayd is running to delete it.
 *
 *   leafmail-policyd [-fhtV] [-c FILE]
 *
 * Start-up (lib/daemon.h), in this order: options, configuration
 * (policyd, relay and redis sections; the Redis password file is read
 * now, as root), the user (-t stops here: exit 0 or 78), run-dir and the
 * pid file lock (a second instance stops here), the socket (inet: bound
 * as root; unix: put in place with its mode by daemon_listen_unix()),
 * the switch to `user`, detach unless -f, the pid written, the relay
 * table probed (an LMDB file is opened on its first use, after the fork,
 * as `user`: an LMDB environment must not cross a fork), serve until
 * SIGTERM.
 *
 * Exit codes (sysexits): 64 usage, 69 the socket cannot be opened, or
 * another instance runs, 71 privilege switch,
 * detach or server set-up failed, 73 run-dir cannot be made,
 * 78 configuration (including a missing user).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "answer.h"
#include "conf.h"
#include "daemon.h"
#include "listenaddr.h"
#include "log.h"
#include "relaystore.h"
#include "server.h"
#include "unixsock.h"

#define PROG "leafmail-policyd"

struct settings {
	struct listenaddr addr;
	mode_t mode;
	gid_t group;  /* policyd.socket-group; (gid_t)-1: user's own */
	struct policy policy;
	struct server_conf server;
	/* relaystore_open(STORE_READ) at start: a Redis password file is
	 * read then, as root; an LMDB file is opened on first use, as user. */
	struct store *store;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [-fhtV] [-c FILE]\n"
	           "  -c FILE  configuration (default " CONF_DEFAULT_PATH ")\n"
	           "  -f       stay in the foreground, log to stderr too\n"
	           "  -t       check the configuration and exit (0 ok, 78 not)\n"
	           "  -V       print the version\n"
	           "  -h       this help\n",
	        PROG);
}

/* The policyd section and where the relay table is; 0, or -1 with err. */
static int
load(cfg_t *cfg, struct settings *st, char *err, size_t errlen)
{
	cfg_t *sec = cfg_getsec(cfg, "policyd");
	unsigned i;

	if (listenaddr_parse(cfg_getstr(sec, "socket"), "policyd.socket", &st->addr,
	                     err, errlen) != 0)
		return -1;
	if (socket_parse_mode(cfg_getstr(sec, "socket-mode"), &st->mode) != 0) {
		snprintf(err, errlen, "policyd.socket-mode: not an octal mode <= 0777");
		return -1;
	}
	if (st->addr.is_unix &&
	    socket_parse_group(cfg_getstr(sec, "socket-group"), &st->group) != 0) {
		snprintf(err, errlen, "policyd.socket-group: no group \"%s\" (the "
		         "one Postfix's smtpd runs in; \"\" keeps the user's own)",
		         cfg_getstr(sec, "socket-group"));
		return -1;
	}
	for (i = 0; i < cfg_size(sec, "local-domains"); i++)
		if (policy_add_local_domain(&st->policy,
		                            cfg_getnstr(sec, "local-domains", i)) != 0) {
			snprintf(err, errlen, "policyd.local-domains: \"%s\" is too long",
			         cfg_getnstr(sec, "local-domains", i));
			return -1;
		}
	if (conf_cidr_list(sec, "trusted-networks", &st->policy.trusted) != 0) {
		snprintf(err, errlen, "policyd.trusted-networks: out of memory");
		return -1;
	}
	st->server.max_conns = (int)cfg_getint(sec, "max-connections");
	st->server.idle = conf_duration(sec, "idle-timeout");
	if (st->server.idle < 1)
		st->server.idle = 1;
	st->store = relaystore_open(cfg, STORE_READ, err, errlen);
	return st->store != NULL ? 0 : -1;
}

/* The policy_lookup_fn over the relay store. */
static int
lookup(void *arg, const struct addr *a, time_t now, time_t *expires,
       char *err, size_t errlen)
{
	return relaystore_check(arg, a, now, expires, err, errlen);
}

/* The store, first used now (as user, after the fork): a warning when it
 * does not answer yet; relaying is answered 451 until it does. */
static struct store *
open_store(struct settings *st)
{
	char err[1024];

	if (store_probe(st->store, err, sizeof(err)) != STORE_OK)
		log_warnx("relay table %s: %s; relaying answers 451 until it can be "
		          "read", store_name(st->store), err);
	return st->store;
}

int
main(int argc, char **argv)
{
	static struct lograte denied, failed, bad;
	struct settings st;
	struct answer_ctx ctx;
	struct daemon d;
	struct store *store;
	const char *conffile = CONF_DEFAULT_PATH;
	char err[4096];
	int ch, foreground = 0, test = 0, lfd = -1, rc, stale = 0;
	cfg_t *cfg;

	while ((ch = getopt(argc, argv, "c:fhtV")) != -1) {
		switch (ch) {
		case 'c': conffile = optarg; break;
		case 'f': foreground = 1; break;
		case 't': test = 1; break;
		case 'V': printf("%s %s\n", PROG, LEAFMAIL_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return DAEMON_EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return DAEMON_EX_USAGE;
	}

	log_init(PROG, 1, 0); /* stderr too until we detach */
	memset(&st, 0, sizeof(st));
	rc = (cfg = conf_load(conffile, err, sizeof(err))) == NULL ||
	     load(cfg, &st, err, sizeof(err)) != 0;
	if (rc == 0 && daemon_init(&d, PROG, cfg_getstr(cfg, "user")) != 0) {
		snprintf(err, sizeof(err), "%s", d.err);
		rc = 1;
	}
	if (rc != 0 || test) {
		if (rc != 0)
			fprintf(stderr, "%s: %s\n", conffile, err);
		else
			printf("%s: configuration OK\n", conffile);
		if (st.store != NULL)
			store_close(st.store);
		policy_free(&st.policy);
		conf_free(cfg);
		return rc != 0 ? DAEMON_EX_CONFIG : 0;
	}

	if (daemon_dirs(&d, NULL, cfg_getstr(cfg, "run-dir")) != 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_lock(&d) != 0)
		log_fatalx(d.ex, "%s", d.err);
	if ((lfd = listenaddr_listen(&d, &st.addr, st.mode, st.group, &stale)) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (stale)
		log_info("removed stale socket %s (nothing was listening)",
		         st.addr.path);
	if (daemon_drop(&d) != 0)
		log_fatalx(d.ex, "%s", d.err);
	/* The server's signalfd takes them (lib/serveloop.c); blocked now,
	 * before we say we are ready, a TERM waits for it. */
	if (daemon_block_signals(&d, SIGTERM, SIGINT, SIGHUP, 0) != 0)
		log_fatalx(d.ex, "%s", d.err);
	umask(077);
	if (!foreground)
		log_set_stderr(0);
	if (daemon_detach(&d, foreground) != 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_ready(&d) != 0)
		log_fatalx(d.ex, "%s", d.err);

	store = open_store(&st);
	conf_lograte(cfg, &denied, "relay decisions without permission");
	conf_lograte(cfg, &failed, "failed relay table lookups");
	conf_lograte(cfg, &bad, "bad policy requests");
	ctx = (struct answer_ctx){.policy = &st.policy, .lookup = lookup,
	                          .lookup_arg = store, .denied = &denied,
	                          .failed = &failed, .bad = &bad};
	st.server.lfd = lfd;
	st.server.ctx = &ctx;
	log_info("listening on %s as %s, relay table %s, at most %d connections",
	         cfg_getstr(cfg_getsec(cfg, "policyd"), "socket"), d.u.name,
	         store_name(store), st.server.max_conns);
	rc = server_run(&st.server);

	if (st.addr.is_unix && unlink(st.addr.path) != 0)
		log_warn("removing %s", st.addr.path);
	daemon_end(&d);
	if (rc > 0) /* connections still busy: they use the store */
		exit(0);
	log_info("stopped");
	store_close(store);
	policy_free(&st.policy);
	conf_free(cfg);
	return rc == 0 ? 0 : DAEMON_EX_OSERR;
}
