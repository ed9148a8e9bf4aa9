/*
 * main.c - leafmail-deliver: local delivery into per-domain Maildirs
 * (<maildir-base>/<domain>/<user>/), as a Postfix pipe(8) transport, a
 * sendmail local mailer, or LMTP on stdin/stdout.
 *
 *   leafmail-deliver [-c FILE] [-f SENDER] [-a ORIGINAL_RECIPIENT] RECIPIENT...
 *   leafmail-deliver [-c FILE] -l
 *   leafmail-deliver [-c FILE] [-f] [-t] -L
 *   leafmail-deliver -h | -V
 *
 * Pipe mode reads the message from stdin once and writes it to each
 * recipient.  What we print starts with an enhanced status code ("2.0.0",
 * "5.1.1", "4.2.2" ...), one line, which pipe(8) puts in the bounce or
 * defer reason; the exit code (sysexits) tells it to bounce or defer.  So
 * nothing else may reach stdout or stderr first: logging goes to syslog
 * (mail facility) only.  With several recipients one status must speak
 * for all: a temporary failure wins (the MTA retries them all; a
 * duplicate beats a loss), then a permanent one; configure the transport
 * with a recipient limit of 1 so every recipient gets its own.
 *
 * Start-up: options, configuration (as whoever started us: root reads a
 * root-only file), then as root the switch to `user` for good, before any
 * mailbox lookup or Maildir is touched.
 *
 * -L is the long-running LMTP server on deliver.lmtp-socket (lmtpd.c);
 * there -f means "stay in the foreground" (log to stderr too) and -t
 * checks the configuration, as for every leafmail daemon.  Start-up
 * follows lib/daemon.h: configuration, run-dir and the pid file lock, the
 * socket bound (as root if we are root; a unix socket gets
 * lmtp-socket-mode and lmtp-socket-group before it takes its name), then
 * the switch to `user`, detach unless -f, the pid written.
 *
 * Exit codes: 0 delivered, 64 usage, 65 bad address / sender / mail loop,
 * 67 unknown user or domain, 69 over quota (quota-action "bounce"),
 * 75 temporary failure (I/O, disk full, over quota, lookup down),
 * 78 configuration (including a missing user).
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "deliver.h"
#include "headers.h"
#include "lmtp.h"
#include "lmtpd.h"
#include "listenaddr.h"
#include "log.h"
#include "logsafe.h"
#include "mailbox.h"
#include "unixsock.h"

#define PROG "leafmail-deliver"
#define SENDER_MAX 1000

static struct lograte lograte;

static void
usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [-c FILE] [-f SENDER] [-a ORIGINAL_RECIPIENT] "
	           "RECIPIENT...\n"
	           "       " PROG " [-c FILE] -l\n"
	           "       " PROG " [-c FILE] [-f] [-t] -L\n"
	           "  -c FILE  configuration (default " CONF_DEFAULT_PATH ")\n"
	           "  -f ADDR  envelope sender (Return-Path)\n"
	           "  -a ADDR  original recipient (logged)\n"
	           "  -l       speak LMTP on stdin/stdout\n"
	           "  -L       LMTP server on deliver.lmtp-socket\n"
	           "  -f       (-L) stay in the foreground, log to stderr too\n"
	           "  -t       (-L) check the configuration and exit\n"
	           "  -V       print the version\n");
}

/* The one line the MTA reads, then exit. */
static void __attribute__((noreturn, format(printf, 2, 3)))
finish(int ex, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(ex);
}

/* The message on fd, at most max bytes of it: NULL when reading failed or
 * out of memory; *too_big set (and NULL returned) when there was more,
 * which has then been read to its end and dropped, so that the MTA
 * writing it sees no broken pipe. */
static char *
read_all(int fd, size_t max, size_t *len, int *too_big)
{
	size_t cap = max < 65536 ? max + 1 : 65536, n = 0;
	char *buf = malloc(cap), *p;
	ssize_t r;

	*too_big = 0;
	if (buf == NULL)
		return NULL;
	for (;;) {
		if (n == cap) {
			if (n > max) { /* one byte past the limit: too big */
				*too_big = 1;
				while ((r = read(fd, buf, cap)) > 0 ||
				       (r < 0 && errno == EINTR))
					;
				free(buf);
				return NULL;
			}
			cap = cap > max / 2 ? max + 1 : cap * 2;
			if ((p = realloc(buf, cap)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = p;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

/* Temporary failures outrank permanent ones, which outrank success. */
static int
rank(int ex)
{
	if (ex == 0)
		return 0;
	return (ex == DAEMON_EX_TEMPFAIL || ex == DAEMON_EX_CONFIG) ? 2 : 1;
}

/* 1 when every argument in the NULL-terminated av is an option. */
static int
only_options(char **av)
{
	for (; *av != NULL; av++)
		if ((*av)[0] != '-')
			return 0;
	return 1;
}

static void
ctx_from_conf(cfg_t *cfg, struct deliver_ctx *ctx)
{
	cfg_t *sec = cfg_getsec(cfg, "deliver");

	ctx->base = cfg_getstr(sec, "maildir-base");
	ctx->mc.spec = cfg_getstr(sec, "mailboxes");
	ctx->mc.domain_query = cfg_getstr(sec, "domain-query");
	ctx->mc.mailbox_query = cfg_getstr(sec, "mailbox-query");
	ctx->delims = cfg_getstr(sec, "recipient-delimiter");
	ctx->fold = cfg_getbool(sec, "fold-case") ? 1 : 0;
	ctx->quota_bounce = strcmp(cfg_getstr(sec, "quota-action"), "bounce") == 0;
	ctx->max_size = (size_t)cfg_getint(sec, "max-message-size");
	/* One for the process: the LMTP server's sessions share it. */
	conf_lograte(cfg, &lograte, "refusals of LMTP client input");
	ctx->lograte = &lograte;
}

/* -L: the LMTP server.  Errors before the loop go to stderr (and syslog),
 * with the sysexits code the BRIEF gives daemons. */
static int
server_main(const char *conffile, int foreground, int test)
{
	struct lmtpd_conf lc;
	struct listenaddr la;
	struct deliver_ctx ctx;
	struct daemon d;
	char err[2048], host[256];
	const char *gname;
	gid_t group = (gid_t)-1;
	mode_t mode = 0;
	cfg_t *cfg, *sec;
	long max;
	int lfd, rc, stale = 0;

	log_init(PROG, 1, 0); /* stderr until we know whether we detach */
	cfg = conf_load(conffile, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		return DAEMON_EX_CONFIG;
	}
	sec = cfg_getsec(cfg, "deliver");
	rc = 0;
	if (daemon_init(&d, PROG, cfg_getstr(cfg, "user")) != 0) {
		fprintf(stderr, "%s: %s\n", conffile, d.err);
		rc = DAEMON_EX_CONFIG;
	}
	if (listenaddr_parse(cfg_getstr(sec, "lmtp-socket"), "lmtp-socket", &la,
	                     err, sizeof(err)) != 0 ||
	    socket_parse_mode(cfg_getstr(sec, "lmtp-socket-mode"),
	                            &mode) != 0) {
		fprintf(stderr, "%s: %s\n", conffile, la.path[0] || la.host[0]
		        ? "deliver: lmtp-socket-mode: not an octal mode <= 0777"
		        : err);
		rc = DAEMON_EX_CONFIG;
	}
	/* "" leaves the socket in the user's own group. */
	gname = cfg_getstr(sec, "lmtp-socket-group");
	if (la.is_unix && socket_parse_group(gname, &group) != 0) {
		fprintf(stderr, "%s: deliver: lmtp-socket-group: no group \"%s\" "
		        "(the one Postfix's lmtp client runs in; \"\" keeps the "
		        "user's own)\n", conffile, gname);
		rc = DAEMON_EX_CONFIG;
	}
	max = cfg_getint(sec, "lmtp-max-sessions");
	if (max < 1 || max > 10000) {
		fprintf(stderr, "%s: deliver: lmtp-max-sessions: %ld is not in "
		        "1..10000\n", conffile, max);
		rc = DAEMON_EX_CONFIG;
	}
	if (rc != 0 || test) {
		if (rc == 0)
			printf("%s: configuration OK\n", conffile);
		conf_free(cfg);
		return rc;
	}
	log_set_stderr(foreground);

	if (daemon_dirs(&d, NULL, cfg_getstr(cfg, "run-dir")) != 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_lock(&d) != 0)
		log_fatalx(d.ex, "%s", d.err);
	/* a unix socket owned by user, so that user can remove it when
	 * stopping */
	if ((lfd = listenaddr_listen(&d, &la, mode, group, &stale)) < 0)
		log_fatalx(d.ex, "%s", d.err);
	if (stale)
		log_info("removed stale socket %s (nothing was listening)",
		         la.path);
	if (daemon_drop(&d) != 0)
		log_fatalx(d.ex, "%s", d.err);
	/* The server's signalfd takes them (lib/serveloop.c); blocked now,
	 * before we say we are ready, a TERM waits for it. */
	if (daemon_block_signals(&d, SIGTERM, SIGINT, SIGHUP, 0) != 0)
		log_fatalx(d.ex, "%s", d.err);
	umask(077);
	if (daemon_detach(&d, foreground) != 0)
		log_fatalx(d.ex, "%s", d.err);
	if (daemon_ready(&d) != 0)
		log_fatalx(d.ex, "%s", d.err);

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	ctx_from_conf(cfg, &ctx);
	lc.lfd = lfd;
	lc.ctx = &ctx;
	lc.myname = host;
	lc.max_sessions = (int)max;
	lc.grace = conf_duration(sec, "lmtp-stop-grace");
	lc.idle = conf_duration(sec, "lmtp-idle-timeout");
	if (lc.idle < 1)
		lc.idle = 1;
	log_info("LMTP server on %s as %s (mailboxes %s, at most %d sessions)",
	         cfg_getstr(sec, "lmtp-socket"), d.u.name, ctx.mc.spec,
	         lc.max_sessions);
	rc = lmtpd_run(&lc);
	if (la.is_unix && unlink(la.path) != 0)
		log_warn("removing %s", la.path);
	daemon_end(&d);
	if (rc > 0) /* sessions still running: they use cfg */
		exit(0);
	log_info("stopped");
	conf_free(cfg);
	return rc == 0 ? 0 : DAEMON_EX_OSERR;
}

int
main(int argc, char **argv)
{
	const char *conffile = CONF_DEFAULT_PATH, *sender = "", *orig = NULL;
	struct deliver_ctx ctx;
	struct deliver_status st, worst = {0, ""};
	struct deliver_rcpt d;
	struct daemon_user u;
	char err[2048], host[256], safe[320];
	cfg_t *cfg;
	size_t len = 0;
	char *msg;
	int ch, lmtp = 0, server = 0, fg = 0, test = 0, too_big, i;

	log_init(PROG, 0, 0);
	opterr = 0; /* our one status line must come first */
	/* -f takes a sender in pipe mode and nothing with -L ("foreground",
	 * as for the other daemons): look for a separate "-L" among the
	 * options first, stepping over the arguments of -c, -a and -f (a
	 * sender "-L" counts as -L when no recipient follows: pipe mode
	 * always has one). */
	for (i = 1; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--"); i++) {
		if (strcmp(argv[i], "-L") == 0)
			server = 1;
		else if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "-a") == 0)
			i++;
		else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc &&
		         !(strcmp(argv[i + 1], "-L") == 0 && only_options(argv + i + 2)))
			i++;
	}
	if (server) {
		while ((ch = getopt(argc, argv, "c:fhLtV")) != -1) {
			switch (ch) {
			case 'c': conffile = optarg; break;
			case 'f': fg = 1; break;
			case 't': test = 1; break;
			case 'L': break;
			case 'h': usage(stdout); return 0;
			case 'V':
				printf(PROG " %s (mailboxes: %s)\n", LEAFMAIL_VERSION,
				       mailbox_backends());
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
		return server_main(conffile, fg, test);
	}
	while ((ch = getopt(argc, argv, "a:c:f:hlV")) != -1) {
		switch (ch) {
		case 'a': orig = optarg; break;
		case 'c': conffile = optarg; break;
		case 'f': sender = optarg; break;
		case 'l': lmtp = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V':
			printf(PROG " %s (mailboxes: %s)\n", LEAFMAIL_VERSION,
			       mailbox_backends());
			return 0;
		default:
			finish(DAEMON_EX_USAGE, "5.3.0 usage: " PROG " [-c FILE] "
			       "[-f SENDER] [-a ORIGINAL_RECIPIENT] RECIPIENT... | -l");
		}
	}
	argc -= optind;
	argv += optind;
	if ((lmtp && argc > 0) || (!lmtp && argc == 0))
		finish(DAEMON_EX_USAGE, "5.3.0 usage: " PROG " [-c FILE] "
		       "[-f SENDER] [-a ORIGINAL_RECIPIENT] RECIPIENT... | -l");
	/* The sender goes into a header line: no line breaks smuggled in. */
	if (strlen(sender) > SENDER_MAX || !headers_value_ok(sender))
		finish(DAEMON_EX_DATAERR, "5.1.7 bad sender address");
	if (orig != NULL && (strlen(orig) > SENDER_MAX || !headers_value_ok(orig)))
		finish(DAEMON_EX_DATAERR, "5.1.3 bad original recipient address");

	cfg = conf_load(conffile, err, sizeof(err));
	if (cfg == NULL) {
		err[strcspn(err, "\n")] = '\0';
		log_warnx("%s", err);
		finish(DAEMON_EX_CONFIG, "4.3.5 configuration error: %s", err);
	}
	/* An ordinary user (the MTA's user=vmail) delivers as itself: no
	 * passwd lookup, which every message would pay for nothing. */
	if (geteuid() == 0 &&
	    daemon_user_lookup(cfg_getstr(cfg, "user"), &u, err, sizeof(err))) {
		log_warnx("%s", err);
		finish(DAEMON_EX_CONFIG, "4.3.5 configuration error: %s", err);
	}
	if (geteuid() == 0 && daemon_drop_privs(&u, err, sizeof(err)) != 0) {
		log_warnx("%s", err);
		finish(DAEMON_EX_TEMPFAIL, "4.3.0 cannot switch user: %s", err);
	}
	umask(077);
	ctx_from_conf(cfg, &ctx);

	if (lmtp) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		i = lmtp_session(stdin, stdout, &ctx, host, NULL);
		lograte_last(ctx.lograte);
		conf_free(cfg);
		return i == 0 ? 0 : DAEMON_EX_TEMPFAIL;
	}

	/* One message per process: its lines are bounded by its recipients. */
	ctx.lograte = NULL;
	msg = read_all(STDIN_FILENO, ctx.max_size, &len, &too_big);
	if (too_big) {
		for (i = 0; i < argc; i++)
			log_info("to=<%s>, status=bounced (message larger than "
			         "max-message-size, %zu bytes)",
			         logsafe_str(argv[i], safe, sizeof(safe)), ctx.max_size);
		finish(DAEMON_EX_UNAVAILABLE, "5.3.4 message too big for system "
		       "(more than %zu bytes)", ctx.max_size);
	}
	if (msg == NULL) {
		log_warn("reading the message");
		finish(DAEMON_EX_TEMPFAIL, "4.3.0 cannot read the message");
	}
	for (i = 0; i < argc; i++) {
		if (deliver_lookup(&ctx, argv[i], strlen(argv[i]), &d, &st) == 0)
			deliver_write(&ctx, &d, sender, msg, len, &st);
		if (orig != NULL)
			log_info("orig_to=<%s>: %s", orig, st.text);
		if (i == 0 || rank(st.ex) > rank(worst.ex))
			worst = st;
	}
	free(msg);
	conf_free(cfg);
	finish(worst.ex, "%s", worst.text);
}
