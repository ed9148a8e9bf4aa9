/*
 * main.c - leafmail-relayd: follow POP3/IMAP login logs (or take the
 * logins Dovecot pushes) and keep the relay table of recently
 * authenticated client addresses.
 *
 *   leafmail-relayd [-fhtV] [-c FILE] [-l | -a IP | -d IP]
 *
 *   -t      check the configuration (and build every source: a bad custom
 *           regex, a bad push address or API key file shows up too);
 *           exit 0 or 78
 *   -l      print the unexpired entries, "IP EXPIRES" per line, by IP text
 *   -a IP   add or refresh IP until now + relay.expire (an IP inside
 *           relay.ignore-networks is added, with a warning: asked for)
 *   -d IP   delete IP (absent: a note on stderr, exit 0: the wanted state
 *           holds)
 *   none    run the daemon (in the background unless -f or a source
 *           is stdin, "-", which keeps it in the foreground)
 *
 * Daemon start-up, in this order (lib/daemon.h): options, logging,
 * configuration, the sources built (parsers compiled, API keys read as
 * root; nothing is touched when the config is wrong), the user,
 * state-dir/run-dir and the table's directory, the pid file lock (a
 * second instance stops here), the switch to `user` (a Redis password
 * file read just before it), then as `user` the table opened for writing
 * and created empty if missing (Postfix answers 451 while its table does
 * not exist), the sources opened with their saved positions (as they will
 * be reopened after rotation, so an unreadable log or a busy port fails
 * now and clearly), signals, detach, pid, loop.
 * -l, -a and -d switch to `user` too before they open an LMDB table:
 * root never opens it (lib/daemon.c says why); with Redis they run as
 * whoever started them.
 *
 * Exit codes (sysexits): 64 usage, 65 bad IP, 69 a source cannot be read
 * or another instance runs, 71 privilege switch or loop set-up failed,
 * 73 a directory cannot be created, 75 table I/O error, 78 configuration
 * (including a missing user, and a state-dir or run-dir the user could
 * replace).
 */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "daemon.h"
#include "input.h"
#include "log.h"
#include "loop.h"
#include "relaystore.h"

#define PROG "leafmail-relayd"

enum mode { MODE_DAEMON, MODE_LIST, MODE_ADD, MODE_DEL };

struct relayd {
	cfg_t *cfg;
	cfg_t *relay;
	char table_file[4096];
	long long expire;
	struct cidr_list ignore;
	struct input **inputs;
	size_t ninputs;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [-fhtV] [-c FILE] [-l | -a IP | -d IP]\n"
	           "  -c FILE  configuration (default " CONF_DEFAULT_PATH ")\n"
	           "  -f       stay in the foreground, log to stderr too\n"
	           "  -t       check the configuration and exit\n"
	           "  -l       list unexpired relay entries (IP EXPIRES)\n"
	           "  -a IP    add or refresh IP in the relay table\n"
	           "  -d IP    delete IP from the relay table\n"
	           "  -V       print the version\n");
}

/* Create every source (a log and its parser, or a push listener with its
 * key read now, as root); errors name the section's line.  Returns the
 * number of errors (each printed to stderr). */
static int
build_sources(struct relayd *r)
{
	cfg_t *relayd = cfg_getsec(r->cfg, "relayd");
	size_t n = relayd ? cfg_size(relayd, "source") : 0;
	char err[512];
	int bad = 0;

	r->inputs = calloc(n + 1, sizeof *r->inputs);
	if (r->inputs == NULL)
		log_fatalx(DAEMON_EX_OSERR, "out of memory");
	for (size_t i = 0; i < n; i++) {
		cfg_t *s = cfg_getnsec(relayd, "source", (unsigned)i);
		const char *title = cfg_title(s);
		struct input *in;

		if (input_is_push(title))
			in = input_push_new(title, cfg_getstr(s, "api-key-file"),
			                    err, sizeof err);
		else
			in = input_log_new(title, cfg_getstr(s, "format"),
			                   cfg_getstr(s, "regex"),
			                   (int)cfg_getint(s, "ip-group"), err,
			                   sizeof err);
		if (in == NULL) {
			fprintf(stderr, "%s:%d: source \"%s\": %s\n",
			        s->filename ? s->filename : "?", s->line, title,
			        err);
			bad++;
			continue;
		}
		in->id = (unsigned)r->ninputs;
		r->inputs[r->ninputs++] = in;
	}
	return bad;
}

static void
free_sources(struct relayd *r)
{
	for (size_t i = 0; i < r->ninputs; i++)
		input_free(r->inputs[i]);
	free(r->inputs);
	r->inputs = NULL;
	r->ninputs = 0;
}

/* Open every source as `user` (files as they will be reopened after
 * rotation, sockets bound), positions restored: an unreadable log or a
 * busy port fails the start, clearly. */
static void
open_sources(struct relayd *r, const char *posfile)
{
	struct input_env env = {.positions_file = posfile};
	char err[1024];

	for (size_t i = 0; i < r->ninputs; i++) {
		struct input *in = r->inputs[i];
		if (in->ops->open(in, &env, err, sizeof err) < 0)
			log_fatalx(DAEMON_EX_UNAVAILABLE, "source %s: %s",
			           in->name, err);
	}
}

/* The loop's settings beyond the store and the files. */
static void
loop_settings(struct relayd *r, struct loop_conf *lc)
{
	lc->inputs = r->inputs;
	lc->ninputs = r->ninputs;
	lc->ignore = &r->ignore;
	lc->expire = r->expire;
	lc->sweep_interval = conf_duration(r->relay, "sweep-interval");
	lc->max_skew = conf_duration(r->relay, "max-clock-skew");
	lc->hold = cfg_getbool(r->relay, "hold-while-connected");
	lc->hold_max = conf_duration(r->relay, "hold-max");
	lc->hold_max_sessions =
	    (size_t)cfg_getint(r->relay, "hold-max-sessions");
}

/* Create the table's directory when it does not exist (for `user`, as
 * root, reached safely: lib/daemon.c).  An existing directory is left
 * alone: it may be shared (/var/lib). */
static void
table_dir(struct daemon *d, const char *file)
{
	char buf[4096];
	struct stat st;

	snprintf(buf, sizeof buf, "%s", file);
	const char *dir = dirname(buf);
	if (stat(dir, &st) == 0)
		return;
	if (daemon_dir(d, dir) < 0)
		log_fatalx(d->ex, "relay table %s", d->err);
}

/* relay.store is "redis": nothing of the service account's on disk. */
static int
uses_redis(const struct relayd *r)
{
	return strcmp(cfg_getstr(r->relay, "store"), "redis") == 0;
}

/* The configured store (relaystore_open()): a Redis password file is
 * read now, so call it as root before the switch; an LMDB file is opened
 * on its first use, which comes after the switch (store_drop()). */
static struct store *
relay_open(struct relayd *r, int write)
{
	char err[512];
	struct store *st = relaystore_open(r->cfg, write ? STORE_WRITE : STORE_READ,
	                                   err, sizeof err);

	if (st == NULL)
		log_fatalx(DAEMON_EX_CONFIG, "relay table: %s", err);
	return st;
}

/* Switch to `user` for good (daemon_init() done) and return the store,
 * opened as lib/daemon.c's rule wants: Redis's password file is read as
 * root before the switch; an LMDB table is opened, or created, only after
 * it, as `user`: a link the service account put in its place leads
 * nowhere root could go.  For writing, an LMDB table is created now:
 * Postfix answers 451 while an access table it was given is missing. */
static struct store *
store_drop(struct relayd *r, struct daemon *d, int write)
{
	struct store *st = relay_open(r, write);
	char err[512];

	if (daemon_drop(d) < 0)
		log_fatalx(d->ex, "%s", d->err);
	if (write && !uses_redis(r) &&
	    store_probe(st, err, sizeof err) != STORE_OK)
		log_fatalx(DAEMON_EX_TEMPFAIL, "relay table: %s", err);
	return st;
}

/* -l, -a, -d: Redis as root as it is (nothing of the service account's
 * on disk); an LMDB table only after the switch to `user`. */
static struct store *
store_open_cmd(struct relayd *r, int write)
{
	struct daemon d;

	if (uses_redis(r))
		return relay_open(r, write);
	if (daemon_init(&d, PROG, cfg_getstr(r->cfg, "user")) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (write)
		table_dir(&d, r->table_file);
	return store_drop(r, &d, write);
}

static int
list_one(void *arg, const struct addr *a, time_t expires)
{
	time_t now = *(const time_t *)arg;
	char ip[ADDR_STRLEN];

	if (expires > now)
		printf("%s %lld\n", addr_format(a, ip, sizeof ip),
		       (long long)expires);
	return 0;
}

/* -l: sorted by IP text (LMDB keeps keys so; the Redis store sorts). */
static int
cmd_list(struct relayd *r)
{
	char err[512];
	time_t now = time(NULL);
	struct store *st = store_open_cmd(r, 0);

	if (relaystore_foreach(st, list_one, &now, err, sizeof err) == STORE_ERR)
		log_fatalx(DAEMON_EX_TEMPFAIL, "relay table: %s", err);
	store_close(st);
	if (fflush(stdout) != 0 || ferror(stdout))
		log_fatal(DAEMON_EX_TEMPFAIL, "stdout");
	return 0;
}

/* -a / -d */
static int
cmd_change(struct relayd *r, enum mode mode, const char *ip)
{
	struct relay_rec rec;
	char err[512];

	if (addr_parse(ip, &rec.a) < 0)
		log_fatalx(DAEMON_EX_DATAERR, "\"%s\" is not an IP address", ip);
	struct store *st = store_open_cmd(r, 1);
	rec.expires = 0;
	if (mode == MODE_ADD) {
		if (cidr_list_match(&r->ignore, &rec.a))
			log_warnx("%s is in relay.ignore-networks: adding it "
			          "anyway, as asked (relayd itself never records "
			          "such addresses)",
			          ip);
		rec.expires = time(NULL) + (time_t)r->expire;
	}
	if (mode == MODE_DEL) {
		/* "now" 0: any record at all, expired or not. */
		int g = relaystore_check(st, &rec.a, 0, NULL, err, sizeof err);
		if (g == STORE_ERR)
			log_fatalx(DAEMON_EX_TEMPFAIL, "relay table: %s", err);
		if (g == 0) {
			char text[ADDR_STRLEN];
			fprintf(stderr, PROG ": note: %s was not in the relay "
			                "table\n",
			        addr_format(&rec.a, text, sizeof text));
			store_close(st);
			return 0;
		}
	}
	if (relaystore_write(st, &rec, 1, 0, err, sizeof err) != STORE_OK)
		log_fatalx(DAEMON_EX_TEMPFAIL, "relay table: %s", err);
	store_close(st);
	return 0;
}

static int
run_daemon(struct relayd *r, int foreground)
{
	struct daemon d;
	char err[1024], posfile[4096], sessfile[4096];
	const char *state_dir = cfg_getstr(r->cfg, "state-dir");
	const char *run_dir = cfg_getstr(r->cfg, "run-dir");

	if (r->ninputs == 0)
		log_fatalx(DAEMON_EX_CONFIG, "no relayd.source configured: "
		                             "nothing to follow");
	if ((size_t)snprintf(posfile, sizeof posfile, "%s/relayd.positions",
	                     state_dir) >= sizeof posfile ||
	    (size_t)snprintf(sessfile, sizeof sessfile, "%s/relayd.sessions",
	                     state_dir) >= sizeof sessfile)
		log_fatalx(DAEMON_EX_CONFIG, "state-dir too long");
	if (daemon_init(&d, PROG, cfg_getstr(r->cfg, "user")) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_dirs(&d, state_dir, run_dir) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (!uses_redis(r))
		table_dir(&d, r->table_file);
	if (daemon_lock(&d) < 0)
		log_fatalx(d.ex, "%s", d.err);
	struct store *st = store_drop(r, &d, 1);

	open_sources(r, posfile);

	/* Blocked before we detach, so a TERM that arrives early is handled
	 * by the loop's signalfd, not fatal. */
	if (daemon_block_signals(&d, SIGTERM, SIGINT, SIGHUP, 0) < 0)
		log_fatalx(d.ex, "%s", d.err);
	/* Detaching points stdin at /dev/null: a "-" source (journalctl ...
	 * | leafmail-relayd) keeps relayd in the foreground. */
	for (size_t i = 0; i < r->ninputs; i++)
		if (strcmp(r->inputs[i]->name, "-") == 0)
			foreground = 1;
	if (daemon_detach(&d, foreground) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_ready(&d) < 0)
		log_fatalx(d.ex, "%s", d.err);
	log_info("started as %s: %zu source(s), table %s, expire %llds",
	         d.u.name, r->ninputs, store_name(st), r->expire);
	if (store_probe(st, err, sizeof err) != STORE_OK)
		log_warnx("relay table: %s; logins are kept and written once it "
		          "answers",
		          err);

	struct loop_conf lc = {
	    .store = st,
	    .positions_file = posfile,
	    .sessions_file = sessfile,
	};
	loop_settings(r, &lc);
	int rc = loop_run(&lc);
	log_info("exiting (%d)", rc);
	store_close(st);
	daemon_end(&d);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *path = CONF_DEFAULT_PATH, *ip = NULL;
	int foreground = 0, test = 0, ch, nmodes = 0;
	enum mode mode = MODE_DAEMON;
	struct relayd r;
	char err[8192];

	memset(&r, 0, sizeof r);
	while ((ch = getopt(argc, argv, "c:fhtVla:d:")) != -1) {
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
		case 'l':
			mode = MODE_LIST;
			nmodes++;
			break;
		case 'a':
			mode = MODE_ADD;
			ip = optarg;
			nmodes++;
			break;
		case 'd':
			mode = MODE_DEL;
			ip = optarg;
			nmodes++;
			break;
		default:
			usage(stderr);
			return DAEMON_EX_USAGE;
		}
	}
	if (optind != argc || nmodes > 1 || (test && nmodes > 0)) {
		usage(stderr);
		return DAEMON_EX_USAGE;
	}

	/* The table commands and -t talk to a person: stderr, always. */
	log_init(PROG, foreground || test || mode != MODE_DAEMON, 0);

	r.cfg = conf_load(path, err, sizeof err);
	if (r.cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		return DAEMON_EX_CONFIG;
	}
	r.relay = cfg_getsec(r.cfg, "relay");
	r.expire = conf_duration(r.relay, "expire");
	if (conf_cidr_list(r.relay, "ignore-networks", &r.ignore) < 0) {
		fprintf(stderr, "%s: relay.ignore-networks: bad network\n", path);
		return DAEMON_EX_CONFIG;
	}
	if (relaystore_path(cfg_getstr(r.relay, "table"), r.table_file,
	                    sizeof r.table_file) < 0) {
		fprintf(stderr, "%s: relay.table: name too long\n", path);
		return DAEMON_EX_CONFIG;
	}

	int rc;
	if (test || mode == MODE_DAEMON) {
		/* Parsers are compiled for -t too: a bad custom regex is a
		 * configuration error, found before any start. */
		if (build_sources(&r) > 0) {
			rc = DAEMON_EX_CONFIG;
		} else if (test) {
			/* The Redis password file is part of the check. */
			char rerr[512];
			struct store *st = relaystore_open(r.cfg, STORE_READ, rerr,
			                                   sizeof rerr);
			if (st == NULL) {
				fprintf(stderr, "%s: %s\n", path, rerr);
				rc = DAEMON_EX_CONFIG;
			} else {
				printf("%s: configuration OK\n", path);
				rc = 0;
			}
			store_close(st);
		} else {
			rc = run_daemon(&r, foreground);
		}
	} else if (mode == MODE_LIST) {
		rc = cmd_list(&r);
	} else {
		rc = cmd_change(&r, mode, ip);
	}
	free_sources(&r);
	cidr_list_free(&r.ignore);
	conf_free(r.cfg);
	return rc;
}
