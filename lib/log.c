/*
 * log.c - logging for leafmail programs, after OpenBSD's log.c.
 *
 * Interface (log.h): log_init(progname, to_stderr, debug) opens syslog as
 * progname with LOG_PID|LOG_NDELAY in facility LOG_MAIL; log_set_stderr(),
 * log_set_debug() change the switches later (after daemonizing, on -f);
 * log_warn() adds ": strerror(errno)", log_warnx() does not; log_info(),
 * log_debug() (only when debug is on); log_fatal(), log_fatalx() log and
 * exit with the given sysexits code - for main() only.
 *
 * Before log_init() messages go to stderr only, as "leafmail: ...", so an
 * error found while parsing options is not lost.
 *
 * Thread safety: the milter logs from libmilter's worker threads.  syslog()
 * is thread-safe in glibc; each stderr line is built in one buffer and
 * written with one write() under a mutex, so lines never interleave.
 * Messages longer than LOG_MAXMSG bytes are truncated (log lines quoting a
 * hostile 1 MB input line must not become 1 MB syslog records).
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define LOG_MAXMSG 2048

static char log_name[64] = "leafmail";
static int log_syslog_open;
static int log_to_stderr = 1;
static int log_debug_on;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_init(const char *progname, int to_stderr, int debug)
{
	const char *base;

	if (progname != NULL && *progname != '\0') {
		base = strrchr(progname, '/');
		base = base != NULL && base[1] != '\0' ? base + 1 : progname;
		snprintf(log_name, sizeof(log_name), "%s", base);
	}
	log_to_stderr = to_stderr;
	log_debug_on = debug;
	/* openlog() keeps the pointer: log_name is static and lives on. */
	openlog(log_name, LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_syslog_open = 1;
}

void
log_set_stderr(int on)
{
	log_to_stderr = on;
}

void
log_set_debug(int on)
{
	log_debug_on = on;
}

const char *
log_progname(void)
{
	return log_name;
}

static void
write_stderr(const char *msg)
{
	char line[LOG_MAXMSG + sizeof(log_name) + 4];
	int n;
	size_t len, off = 0;

	n = snprintf(line, sizeof(line), "%s: %s\n", log_name, msg);
	if (n < 0)
		return;
	len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	if (line[len - 1] != '\n')
		line[len - 1] = '\n';
	pthread_mutex_lock(&log_lock);
	while (off < len) {
		ssize_t w = write(STDERR_FILENO, line + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* nowhere left to complain */
		off += (size_t)w;
	}
	pthread_mutex_unlock(&log_lock);
}

/* Format and emit one message; errnum > 0 appends its strerror text. */
static void
vlog(int prio, int errnum, const char *fmt, va_list ap)
{
	char msg[LOG_MAXMSG];
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unprintable log message)");
	if (errnum > 0) {
		char ebuf[128];
		/* GNU strerror_r (we build with _GNU_SOURCE): it returns the
		 * text, which may or may not be in ebuf. */
		const char *etext = strerror_r(errnum, ebuf, sizeof(ebuf));
		size_t used = strlen(msg);

		snprintf(msg + used, sizeof(msg) - used, ": %s", etext);
	}
	if (log_syslog_open)
		syslog(prio, "%s", msg);
	if (log_to_stderr || !log_syslog_open)
		write_stderr(msg);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_fatal(int ex, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(ex);
}

void
log_fatalx(int ex, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(ex);
}
