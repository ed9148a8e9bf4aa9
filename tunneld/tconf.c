/*
 * tconf.c - read and check the tunnel sections (see tconf.h).
 *
 * Why the extra checks: every value here ends up in ssh's argument
 * vector.  There is no shell, but ssh itself parses its arguments, so a
 * destination or remote starting with '-' would be taken as an option;
 * we refuse those.  The identity file is a secret: ssh refuses a key that
 * group or others can access ("UNPROTECTED PRIVATE KEY FILE"), but only
 * when the tunnel first starts, in a log line nobody reads; we say it at
 * -t and at start-up instead.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "tconf.h"

static void say(FILE *errs, const struct tconf *tc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(FILE *errs, const struct tconf *tc, const char *fmt, ...)
{
	va_list ap;

	fprintf(errs, "%s:%d: tunnel \"%s\": ", tc->file, tc->line, tc->name);
	va_start(ap, fmt);
	vfprintf(errs, fmt, ap);
	va_end(ap);
	fputc('\n', errs);
}

/* "421 4.4.2 text": three digits starting 4 or 5, then a space, no CR/LF
 * (we add the CRLF), short enough for one SMTP reply line. */
static int
reply_ok(const char *r)
{
	return r != NULL && (r[0] == '4' || r[0] == '5') &&
	       isdigit((unsigned char)r[1]) && isdigit((unsigned char)r[2]) &&
	       (r[3] == ' ' || r[3] == '\0') && strpbrk(r, "\r\n") == NULL &&
	       strlen(r) <= 500;
}

int
tconf_read(cfg_t *cfg, struct tconf **out, size_t *n, FILE *errs)
{
	static struct lograte refusals;
	size_t count = cfg_size(cfg, "tunnel");
	struct tconf *v = calloc(count + 1, sizeof *v);
	int bad = 0;

	*out = v;
	*n = 0;
	if (v == NULL) {
		fprintf(errs, "out of memory\n");
		return 1;
	}
	conf_lograte(cfg, &refusals, "refused or failed client connections");
	for (size_t i = 0; i < count; i++) {
		cfg_t *s = cfg_getnsec(cfg, "tunnel", (unsigned)i);
		struct tconf *tc = &v[i];

		tc->name = cfg_title(s) ? cfg_title(s) : "";
		tc->file = s->filename ? s->filename : "?";
		tc->line = s->line;
		tc->listen = cfg_getstr(s, "listen");
		tc->dest = cfg_getstr(s, "ssh-destination");
		tc->ssh_port = (int)cfg_getint(s, "ssh-port");
		tc->identity = cfg_getstr(s, "identity-file");
		tc->known_hosts = cfg_getstr(s, "known-hosts-file");
		tc->ssh_config = cfg_getstr(s, "ssh-config");
		tc->ssh_program = cfg_getstr(s, "ssh-program");
		tc->remote = cfg_getstr(s, "remote");
		tc->idle = conf_duration(s, "idle");
		tc->jitter = conf_duration(s, "idle-jitter");
		tc->connect_timeout = conf_duration(s, "connect-timeout");
		tc->failure_reply = cfg_getstr(s, "failure-reply");
		tc->max_clients = cfg_getint(s, "max-clients");
		tc->alive_interval = conf_duration(s, "server-alive-interval");
		tc->alive_count = cfg_getint(s, "server-alive-count-max");
		tc->refusals = &refusals;

		if (tc->dest == NULL || tc->dest[0] == '\0' || tc->dest[0] == '-' ||
		    strpbrk(tc->dest, " \t\r\n") != NULL) {
			say(errs, tc, "ssh-destination must be [user@]host (not "
			    "empty, no spaces, not starting with '-')");
			bad++;
		}
		if (tc->identity == NULL || tc->identity[0] != '/') {
			say(errs, tc, "identity-file is required (an absolute "
			    "path)");
			bad++;
		}
		if (tc->known_hosts == NULL || tc->known_hosts[0] != '/') {
			say(errs, tc, "known-hosts-file is required (an absolute "
			    "path): host keys are checked strictly");
			bad++;
		}
		if (tc->remote == NULL || tc->remote[0] == '-' ||
		    strpbrk(tc->remote, " \t\r\n") != NULL) {
			say(errs, tc, "remote \"%s\" is not HOST:PORT",
			    tc->remote ? tc->remote : "");
			bad++;
		}
		if (tc->ssh_program == NULL || tc->ssh_program[0] != '/') {
			say(errs, tc, "ssh-program must be an absolute path");
			bad++;
		}
		if (tc->ssh_config == NULL || (strcmp(tc->ssh_config, "none") != 0 &&
		                               tc->ssh_config[0] != '/')) {
			say(errs, tc, "ssh-config must be \"none\" or an absolute "
			    "path");
			bad++;
		}
		if (tc->alive_interval < 1 || tc->alive_interval > 86400) {
			say(errs, tc, "server-alive-interval must be between 1s and 1d: "
			    "ssh must notice a dead link");
			bad++;
		}
		if (tc->alive_count < 1 || tc->alive_count > 100) {
			say(errs, tc, "server-alive-count-max must be 1..100");
			bad++;
		}
		if (tc->connect_timeout < 1) {
			say(errs, tc, "connect-timeout must be at least 1s");
			bad++;
		}
		if (!reply_ok(tc->failure_reply)) {
			say(errs, tc, "failure-reply \"%s\" is not an SMTP reply "
			    "line (\"421 4.4.2 text\", 4xx or 5xx, no CR/LF)",
			    tc->failure_reply ? tc->failure_reply : "");
			bad++;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[j].listen, tc->listen) == 0) {
				say(errs, tc, "listen \"%s\" is already used by "
				    "tunnel \"%s\"", tc->listen, v[j].name);
				bad++;
			}
	}
	*n = count;
	return bad;
}

/* A regular file we can stat; "what" names it in messages. */
static int
file_exists(const struct tconf *tc, const char *what, const char *path,
            struct stat *st, FILE *errs)
{
	if (stat(path, st) != 0) {
		say(errs, tc, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		say(errs, tc, "%s %s is not a regular file", what, path);
		return -1;
	}
	return 0;
}

int
tconf_check_files(const struct tconf *tc, int check_owner, uid_t uid,
                  const char *user, FILE *errs)
{
	struct stat st;
	char buf[600];
	int bad = 0;

	if (tc->identity != NULL &&
	    file_exists(tc, "identity-file", tc->identity, &st, errs) == 0) {
		if ((st.st_mode & 077) != 0) {
			snprintf(buf, sizeof buf, "%s is mode %04o: a private key "
			         "must not be accessible by group or others (ssh "
			         "refuses it too); chmod 600 it",
			         tc->identity, (unsigned)(st.st_mode & 07777));
			say(errs, tc, "identity-file %s", buf);
			bad++;
		}
		if (check_owner && st.st_uid != uid) {
			snprintf(buf, sizeof buf, "%s is not owned by %s, the user "
			         "ssh runs as, so ssh cannot read it; chown %s it",
			         tc->identity, user, user);
			say(errs, tc, "identity-file %s", buf);
			bad++;
		}
	} else if (tc->identity != NULL) {
		bad++;
	}
	if (tc->known_hosts != NULL &&
	    file_exists(tc, "known-hosts-file", tc->known_hosts, &st, errs) != 0)
		bad++;
	if (tc->ssh_config != NULL && strcmp(tc->ssh_config, "none") != 0 &&
	    file_exists(tc, "ssh-config", tc->ssh_config, &st, errs) != 0)
		bad++;
	if (tc->ssh_program != NULL && access(tc->ssh_program, X_OK) != 0) {
		say(errs, tc, "ssh-program %s: %s", tc->ssh_program,
		    strerror(errno));
		bad++;
	}
	return bad;
}

int
tconf_check_access(const struct tconf *tc, const char *user, FILE *errs)
{
	int bad = 0;

	if (access(tc->identity, R_OK) != 0) {
		say(errs, tc, "identity-file %s is not readable by user %s "
		    "(chown it to that user, mode 600)", tc->identity, user);
		bad++;
	}
	if (access(tc->known_hosts, R_OK) != 0) {
		say(errs, tc, "known-hosts-file %s is not readable by user %s",
		    tc->known_hosts, user);
		bad++;
	}
	if (strcmp(tc->ssh_config, "none") != 0 &&
	    access(tc->ssh_config, R_OK) != 0) {
		say(errs, tc, "ssh-config %s is not readable by user %s",
		    tc->ssh_config, user);
		bad++;
	}
	return bad;
}
