/*
 * main.c - leafmail-relayd: follow POP3/IMAP login logs and keep the relay
 * table of recently authenticated client addresses.
 *
 *   leafmail-relayd [-fhtV] [-c FILE] [-l | -a IP | -d IP]
 *
 *   -t      check the configuration (and compile every source's parser,
 *           so a bad custom regex shows up too); exit 0 or 78
 *   -l      print the unexpired entries, "IP EXPIRES" per line, by IP text
 *   -a IP   add or refresh IP until now + relay.expire (an IP inside
 *           relay.ignore-networks is added, with a warning: asked for)
 *   -d IP   delete IP (absent: a note on stderr, exit 0: the wanted state
 *           holds)
 *   none    run the daemon (in the background unless -f or a source
 *           is stdin, "-", which keeps it in the foreground)
 *
 * Daemon start-up, in this order (lib/daemon.h): options, logging,
 * configuration, the sources and their parsers (so nothing is touched
 * when the config is wrong), the user, state-dir/run-dir and the table's
 * directory, the pid file lock (a second instance stops here), the switch
 * to `user` (a Redis password file read just before it), then as `user`
 * the table opened for writing and created empty if missing (Postfix
 * answers 451 while its table does not exist), saved positions, the
 * sources opened (as they will be reopened after rotation, so an
 * unreadable log fails now and clearly), signals, detach, pid, loop.
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
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "logparse.h"
#include "loop.h"
#include "position.h"
#include "relaystore.h"
#include "relaytable.h"
#include "source.h"
#include "table.h"

#define PROG "leafmail-relayd"

enum mode { MODE_DAEMON, MODE_LIST, MODE_ADD, MODE_DEL };

struct relayd {
	cfg_t *cfg;
	cfg_t *relay;
	char table_file[4096];
	long long expire;
	struct cidr_list ignore;
	struct loop_source *sources;
	size_t nsources;
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

/* Create every source and its parser; errors name the section's line.
 * Returns the number of errors (each printed to stderr). */
static int
build_sources(struct relayd *r)
{
	cfg_t *relayd = cfg_getsec(r->cfg, "relayd");
	size_t n = relayd ? cfg_size(relayd, "source") : 0;
	char err[512];
	int bad = 0;

	r->sources = calloc(n + 1, sizeof *r->sources);
	if (r->sources == NULL)
		log_fatalx(DAEMON_EX_OSERR, "out of memory");
	for (size_t i = 0; i < n; i++) {
		cfg_t *s = cfg_getnsec(relayd, "source", (unsigned)i);
		const char *title = cfg_title(s);
		struct loop_source *ls = &r->sources[r->nsources];

		ls->src = source_new(title, err, sizeof err);
		if (ls->src == NULL) {
			fprintf(stderr, "%s:%d: source \"%s\": %s\n",
			        s->filename ? s->filename : "?", s->line, title,
			        err);
			bad++;
			continue;
		}
		ls->parser = logparser_new(cfg_getstr(s, "format"),
		                           cfg_getstr(s, "regex"),
		                           (int)cfg_getint(s, "ip-group"), err,
		                           sizeof err);
		if (ls->parser == NULL) {
			fprintf(stderr, "%s:%d: source \"%s\": %s\n",
			        s->filename ? s->filename : "?", s->line, title,
			        err);
			source_free(ls->src);
			bad++;
			continue;
		}
		r->nsources++;
	}
	return bad;
}

static void
free_sources(struct relayd *r)
{
	for (size_t i = 0; i < r->nsources; i++) {
		source_free(r->sources[i].src);
		logparser_free(r->sources[i].parser);
	}
	free(r->sources);
	r->sources = NULL;
	r->nsources = 0;
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

/* Open the table for writing, creating it: as `user` (store_drop()). */
static struct table *
table_open_write(const char *file)
{
	char err[512];
	struct table *t = table_open(file, TABLE_WRITE, err, sizeof err);
	if (t == NULL)
		log_fatalx(DAEMON_EX_TEMPFAIL, "relay table: %s", err);
	return t;
}

/* The configured store: for writing (u set) the LMDB file created, for
 * reading (u NULL) the file as it is, missing or not; or the Redis client
 * (its password file read now).  Called by store_drop(). */
static struct store *
store_open(struct relayd *r, const struct daemon_user *u)
{
	char err[512];
	struct store *st;

	if (relaystore_wants_redis(r->cfg)) {
		struct redis *rd = redis_new(r->cfg, err, sizeof err);
		if (rd == NULL)
			log_fatalx(DAEMON_EX_CONFIG, "relay table: %s", err);
		st = store_redis(rd, RELAYSTORE_NS);
	} else if (u != NULL) {
		st = store_lmdb(table_open_write(r->table_file));
	} else {
		struct table *t = table_open(r->table_file, TABLE_READ_MISSING_OK,
		                             err, sizeof err);
		if (t == NULL)
			log_fatalx(DAEMON_EX_TEMPFAIL, "relay table: %s", err);
		st = store_lmdb(t);
	}
	if (st == NULL)
		log_fatalx(DAEMON_EX_OSERR, "relay table: out of memory");
	return st;
}

/* Switch to `user` for good (daemon_init() done) and return the store,
 * opened as lib/daemon.c's rule wants: Redis's password file is read as
 * root before the switch; an LMDB table is opened, or created, only after
 * it, as `user`: a link the service account put in its place leads
 * nowhere root could go. */
static struct store *
store_drop(struct relayd *r, struct daemon *d, int write)
{
	const struct daemon_user *u = write ? &d->u : NULL;
	struct store *st = NULL;

	if (relaystore_wants_redis(r->cfg))
		st = store_open(r, u);
	if (daemon_drop(d) < 0)
		log_fatalx(d->ex, "%s", d->err);
	return st != NULL ? st : store_open(r, u);
}

/* -l, -a, -d: Redis as root as it is (nothing of the service account's
 * on disk); an LMDB table only after the switch to `user`. */
static struct store *
store_open_cmd(struct relayd *r, int write)
{
	struct daemon d;

	if (relaystore_wants_redis(r->cfg))
		return store_open(r, NULL);
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

	if (relaystore_foreach(st, list_one, &now, err, sizeof err) == TABLE_ERR)
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
		if (g == TABLE_ERR)
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
	if (relaystore_write(st, &rec, 1, 0, err, sizeof err) != TABLE_OK)
		log_fatalx(DAEMON_EX_TEMPFAIL, "relay table: %s", err);
	store_close(st);
	return 0;
}

static int
run_daemon(struct relayd *r, int foreground)
{
	struct daemon d;
	char err[1024], posfile[4096];
	const char *state_dir = cfg_getstr(r->cfg, "state-dir");
	const char *run_dir = cfg_getstr(r->cfg, "run-dir");

	if (r->nsources == 0)
		log_fatalx(DAEMON_EX_CONFIG, "no relayd.source configured: "
		                             "nothing to follow");
	if ((size_t)snprintf(posfile, sizeof posfile, "%s/relayd.positions",
	                     state_dir) >= sizeof posfile)
		log_fatalx(DAEMON_EX_CONFIG, "state-dir too long");
	if (daemon_init(&d, PROG, cfg_getstr(r->cfg, "user")) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_dirs(&d, state_dir, run_dir) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (!relaystore_wants_redis(r->cfg))
		table_dir(&d, r->table_file);
	if (daemon_lock(&d) < 0)
		log_fatalx(d.ex, "%s", d.err);
	struct store *st = store_drop(r, &d, 1);

	int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0)
		log_fatal(DAEMON_EX_OSERR, "inotify_init1");
	for (size_t i = 0; i < r->nsources; i++) {
		struct source *s = r->sources[i].src;
		struct source_pos p;
		if (source_kind(s) == SOURCE_FILE) {
			int lr = position_load(posfile, source_name(s), &p, err,
			                       sizeof err);
			if (lr < 0)
				log_warnx("%s (reading %s from its start)", err,
				          source_name(s));
			else if (lr == 1)
				source_restore(s, &p);
		}
		if (source_open(s, ifd, err, sizeof err) < 0)
			log_fatalx(DAEMON_EX_UNAVAILABLE, "source %s: %s",
			           source_name(s), err);
	}

	/* Blocked before we detach, so a TERM that arrives early is handled
	 * by the loop's signalfd, not fatal. */
	if (daemon_block_signals(&d, SIGTERM, SIGINT, SIGHUP, 0) < 0)
		log_fatalx(d.ex, "%s", d.err);
	/* Detaching points stdin at /dev/null: a "-" source (journalctl ...
	 * | leafmail-relayd) keeps relayd in the foreground. */
	for (size_t i = 0; i < r->nsources; i++)
		if (source_kind(r->sources[i].src) == SOURCE_STDIN)
			foreground = 1;
	if (daemon_detach(&d, foreground) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_ready(&d) < 0)
		log_fatalx(d.ex, "%s", d.err);
	log_info("started as %s: %zu source(s), table %s, expire %llds",
	         d.u.name, r->nsources, store_name(st), r->expire);
	if (store_probe(st, err, sizeof err) != TABLE_OK)
		log_warnx("relay table: %s; logins are kept and written once it "
		          "answers",
		          err);

	struct loop_conf lc = {
	    .sources = r->sources,
	    .nsources = r->nsources,
	    .ifd = ifd,
	    .store = st,
	    .ignore = &r->ignore,
	    .expire = r->expire,
	    .sweep_interval = conf_duration(r->relay, "sweep-interval"),
	    .positions_file = posfile,
	};
	int rc = loop_run(&lc);
	log_info("exiting (%d)", rc);
	store_close(st);
	close(ifd);
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
	if (relaytable_path(cfg_getstr(r.relay, "table"), r.table_file,
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
			struct redis *rd = NULL;
			if (relaystore_wants_redis(r.cfg) &&
			    (rd = redis_new(r.cfg, rerr, sizeof rerr)) == NULL) {
				fprintf(stderr, "%s: %s\n", path, rerr);
				rc = DAEMON_EX_CONFIG;
			} else {
				printf("%s: configuration OK\n", path);
				rc = 0;
			}
			redis_free(rd);
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
