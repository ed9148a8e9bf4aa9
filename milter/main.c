/*
 * main.c - leafmail-milter: relay-by-POP-auth policy, velocity limit, HELO
 * and required-header checks and UMTP for Postfix and sendmail, as a
 * libmilter filter.
 *
 *   leafmail-milter [-fhtV] [-c FILE]
 *
 * Start-up, in this order (the order matters):
 *   1. options, logging, configuration: the first snapshot (snapshot.h),
 *      which reads the UMTP keys as root (-t stops here: exit 0 or 78)
 *   2. as root (lib/daemon.h): create run-dir for user, lock
 *      <run-dir>/leafmail-milter.pid (a second copy refuses to start),
 *      open the socket: a unix one gets milter.socket-mode and user as
 *      its owner before it takes the configured name, replacing a stale
 *      socket but never one that answers (lib/unixsock.c)
 *   3. drop privileges for good, detach unless -f, write the pid
 *   4. open the relay table once, as user (it must be readable by user,
 *      who also has to reopen it when relayd replaces it), start the
 *      SIGUSR1 reload thread (reload.h), and serve until libmilter sees
 *      SIGTERM, SIGINT or SIGHUP
 *   5. remove the unix socket if it is still ours; leave the table and
 *      the policy alone, a worker thread may still be reading them
 *
 * Exit codes (sysexits): 64 usage, 78 configuration (missing user too,
 * and a run-dir or socket directory the user could replace), 69 socket
 * in use or unavailable, another copy running, 73 run-dir cannot be
 * created, 71 other operating system errors.  Only main() exits; the callbacks (filter.c)
 * never do.
 */
#include <stdbool.h>

#include <libmilter/mfapi.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "filter.h"
#include "log.h"
#include "store.h"
#include "unixsock.h"
#include "reload.h"
#include "snapshot.h"
#include "stopsig.h"
#include "storeref.h"
#include "umtp_hooks.h"

#define PROGNAME "leafmail-milter"

struct settings {
	char *spec;            /* milter.socket as libmilter wants it */
	int is_unix;           /* spec is a unix socket at path */
	char path[PATH_MAX];
	mode_t mode;           /* milter.socket-mode */
	const char *mode_text;
	const char *user;
	const char *run_dir;
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
	        PROGNAME);
}

/* "FILE:LINE: " prefix for an error about section sec. */
static void
conf_error(cfg_t *sec, const char *file, char *err, size_t errlen,
           const char *msg, const char *what)
{
	snprintf(err, errlen, "%s:%d: %s: %s", sec->filename ? sec->filename : file,
	         sec->line, msg, what);
}

/* What main() binds at start from the parsed configuration (the rest is
 * the snapshot's, snapshot.c); 0, or -1 with a configuration error in
 * err. */
static int
load_settings(cfg_t *cfg, const char *file, struct settings *st, char *err,
              size_t errlen)
{
	cfg_t *msec = cfg_getsec(cfg, "milter");
	int r;

	if (msec == NULL) {
		snprintf(err, errlen, "%s: milter section missing", file);
		return -1;
	}
	st->spec = cfg_getstr(msec, "socket");
	st->mode_text = cfg_getstr(msec, "socket-mode");
	st->user = cfg_getstr(cfg, "user");
	st->run_dir = cfg_getstr(cfg, "run-dir");
	if (st->spec == NULL || st->spec[0] == '\0') {
		conf_error(msec, file, err, errlen, "socket", "empty");
		return -1;
	}
	r = socket_unix_path(st->spec, st->path, sizeof(st->path));
	if (r == -1) {
		conf_error(msec, file, err, errlen, "socket",
		           "unix socket path empty or too long");
		return -1;
	}
	st->is_unix = r;
	if (socket_parse_mode(st->mode_text, &st->mode) == -1) {
		conf_error(msec, file, err, errlen, "socket-mode",
		           "not an octal mode such as \"0660\"");
		return -1;
	}
	return 0;
}

/* Log every line of a multi-line message, then exit. */
static void __attribute__((noreturn))
fatal_lines(int ex, char *msg)
{
	char *line, *save = NULL;

	for (line = strtok_r(msg, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		log_warnx("%s", line);
	exit(ex);
}

/* smfi_opensocket() on spec: libmilter keeps the socket (0), or -1. */
static int
milter_listen(char *spec, char *err, size_t errlen)
{
	if (smfi_setconn(spec) != MI_SUCCESS) {
		snprintf(err, errlen, "bad milter.socket");
		return -1;
	}
	errno = 0;
	if (smfi_opensocket(false) != MI_SUCCESS) {
		/* libmilter says why only in syslog; errno is bind()'s, or
		 * that of whatever failed before it. */
		snprintf(err, errlen, "%s",
		         errno != 0 ? strerror(errno) : "libmilter failed (see syslog)");
		return -1;
	}
	return 0;
}

/* socket_bind_fn: libmilter binds the unix socket at the (temporary)
 * path daemon_listen_unix() gives, which then puts it in place with its
 * mode and owner (lib/unixsock.c). */
static int
milter_bind(void *arg, const char *path, char *err, size_t errlen)
{
	char spec[128];

	(void)arg;
	snprintf(spec, sizeof(spec), "unix:%s", path);
	return milter_listen(spec, err, errlen);
}

static void
open_socket(const struct settings *st, struct daemon *d)
{
	char err[512];
	int stale;

	if (!st->is_unix) {
		if (milter_listen(st->spec, err, sizeof(err)) == -1)
			log_fatalx(DAEMON_EX_UNAVAILABLE, "cannot listen on %s: %s",
			           st->spec, err);
		return;
	}
	if (daemon_listen_unix(d, st->path, st->mode, (gid_t)-1, milter_bind,
	                       NULL, &stale) == -1)
		log_fatalx(d->ex, "%s", d->err);
	if (stale)
		log_info("removed stale socket %s (nothing was listening)",
		         st->path);
}

int
main(int argc, char **argv)
{
	/* static: a fatal exit before snapshot_install() leaves it reachable
	 * (LeakSanitizer checks at exit; it is freed by exit anyway). */
	static struct snapshot *snap;
	struct reload_fixed fixed;
	struct store *rs;
	struct settings st;
	struct daemon d;
	struct stat sockst;
	const char *conffile = CONF_DEFAULT_PATH;
	char err[4096];
	int ch, foreground = 0, check_only = 0, rc, have_sockst = 0, bad;
	cfg_t *cfg;

	while ((ch = getopt(argc, argv, "c:fhtV")) != -1) {
		switch (ch) {
		case 'c':
			conffile = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			check_only = 1;
			break;
		case 'V':
			printf("%s %s\n", PROGNAME, LEAFMAIL_VERSION);
			return 0;
		case 'h':
			usage(stdout);
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

	/* Until we detach, errors go to stderr as well as syslog. */
	log_init(PROGNAME, 1, 0);
	memset(&st, 0, sizeof(st));
	/* The snapshot reads the UMTP keys (umtp_hooks_load()): before
	 * dropping privileges.  It owns cfg once loaded. */
	bad = (cfg = conf_load(conffile, err, sizeof(err))) == NULL ||
	      load_settings(cfg, conffile, &st, err, sizeof(err)) == -1 ||
	      (snap = snapshot_load(cfg, conffile, err, sizeof(err))) == NULL;
	if (!bad && daemon_init(&d, PROGNAME, st.user) == -1) {
		snprintf(err, sizeof(err), "%s", d.err);
		bad = 1;
	}
	if (bad || check_only) {
		if (snap != NULL)
			snapshot_release(snap); /* frees cfg too */
		else
			conf_free(cfg);
		if (!bad)
			return 0;
		if (check_only) {
			fprintf(stderr, "%s\n", err);
			return DAEMON_EX_CONFIG;
		}
		fatal_lines(DAEMON_EX_CONFIG, err);
	}

	if (daemon_dirs(&d, NULL, st.run_dir) == -1)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_lock(&d) == -1)
		log_fatalx(d.ex, "%s", d.err);

	fixed.socket = st.spec;
	fixed.socket_mode = st.mode_text;
	fixed.user = st.user;
	fixed.run_dir = st.run_dir;
	if (filter_register(umtp_hooks_flags(snap->hooks), err, sizeof(err)) == -1)
		log_fatalx(DAEMON_EX_SOFTWARE, "%s", err);
	open_socket(&st, &d);
	if (st.is_unix)
		have_sockst = lstat(st.path, &sockst) == 0;

	if (daemon_drop(&d) == -1)
		log_fatalx(d.ex, "%s", d.err);
	/* libmilter takes these with sigwait() once smfi_main() runs; until
	 * then a TERM (a stop right after we said we are ready) waits for
	 * it instead of killing us (and see stopsig.h). */
	if (daemon_block_signals(&d, SIGTERM, SIGINT, SIGHUP, 0) == -1)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_detach(&d, foreground) == -1)
		log_fatalx(d.ex, "%s", d.err);
	if (!foreground)
		log_set_stderr(0);
	if (daemon_ready(&d) == -1)
		log_fatalx(d.ex, "%s", d.err);

	/* After detaching: an LMDB environment must not cross a fork(), nor
	 * may threads (the reload thread). */
	rs = storeref_store(snap->relay);
	if (store_probe(rs, err, sizeof(err)) != STORE_OK)
		log_warnx("relay table: %s; recipients that need relay "
		          "permission get 451 until it can be read",
		          err);
	log_info("started on %s as %s, relay table %s", st.spec, d.u.name,
	         store_name(rs));
	if (reload_start(conffile, &fixed, err, sizeof(err)) == -1)
		log_fatalx(DAEMON_EX_OSERR, "%s", err);
	snapshot_install(snap); /* cfg and st's strings live in it from now */
	rc = smfi_main();

	if (st.is_unix && have_sockst) {
		struct stat now;

		/* libmilter may have removed it already; a new instance's
		 * socket (another inode) is not ours to remove. */
		if (stat(st.path, &now) == 0 && now.st_dev == sockst.st_dev &&
		    now.st_ino == sockst.st_ino && unlink(st.path) == -1)
			log_warn("cannot remove %s", st.path);
	}
	/* The snapshot stays: smfi_main() does not wait for worker threads
	 * still in a callback, and exit frees it anyway. */
	/* A stop that came before libmilter's listener ran makes that fail
	 * (stopsig.h): it is still the stop that was asked for. */
	if (rc != MI_SUCCESS && !stopsig_asked()) {
		log_warnx("smfi_main failed");
		return DAEMON_EX_OSERR;
	}
	log_info("stopped");
	daemon_end(&d);
	return 0;
}
